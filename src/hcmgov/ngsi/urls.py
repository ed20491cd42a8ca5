"""/ngsi-ld/v1: the NGSI-LD API."""

from django.urls import path  # noqa: F401 - routes follow

app_name = "ngsi"
urlpatterns: list = []
