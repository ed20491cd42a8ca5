"""The CKAN Action API, at both of CKAN's addresses (answered in place, without a redirect), the
catalogue as DCAT-AP at ckanext-dcat's addresses (``opendata.views``), and the portal's pages for
people under ``/du-lieu-mo/`` (``opendata.portal``, ``opendata.portal_downloads``)."""

from django.urls import path

from hcmgov.opendata import portal, portal_downloads, views
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

# the portal for people (``opendata.portal``): the two lists first, so that they are not read as
# datasets named "to-chuc" or "chu-de" (names the portal keeps for itself)
urlpatterns += [
    path("du-lieu-mo/", portal.search_page, name="opendata_search"),
    path("du-lieu-mo/to-chuc/", portal.organization_list, name="opendata_organizations"),
    path("du-lieu-mo/chu-de/", portal.group_list, name="opendata_groups"),
    path("du-lieu-mo/<slug:name>/", portal.dataset_page, name="opendata_dataset"),
    path(
        "du-lieu-mo/<slug:name>/tai-nguyen/<uuid:resource_id>.<str:fmt>",
        portal_downloads.download,
        name="opendata_download",
    ),
]
