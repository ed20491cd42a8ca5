"""The CKAN Action API, at both of CKAN's addresses (answered in place, without a redirect), and the
catalogue as DCAT-AP at ckanext-dcat's addresses (``opendata.views``)."""

from django.urls import path

from hcmgov.opendata import views
from hcmgov.opendata.ckan import action_view, load_actions

load_actions()

urlpatterns = [
    path("api/3/action/<str:name>", action_view, name="ckan_action"),
    path("api/action/<str:name>", action_view, name="ckan_action_unversioned"),
]

urlpatterns += [
    path("catalog", views.catalog_view, name="dcat_catalog"),
    *(
        path(f"catalog.{fmt}", views.catalog_view, {"fmt": fmt}, name=f"dcat_catalog_{fmt}")
        for fmt in ("ttl", "jsonld", "rdf")
    ),
    *(
        path(f"dataset/<slug:name>.{fmt}", views.dataset_view, {"fmt": fmt}, name=f"dcat_dataset_{fmt}")
        for fmt in ("ttl", "jsonld", "rdf")
    ),
]
