"""The CKAN Action API, at both of CKAN's addresses (answered in place, without a redirect)."""

from django.urls import path

from hcmgov.opendata.ckan import action_view, load_actions

load_actions()

urlpatterns = [
    path("api/3/action/<str:name>", action_view, name="ckan_action"),
    path("api/action/<str:name>", action_view, name="ckan_action_unversioned"),
]
