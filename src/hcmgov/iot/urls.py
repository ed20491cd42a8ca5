"""The IoT platform's pages (the live map of sensors, charts)."""

from django.urls import path  # noqa: F401 - routes follow

app_name = "iot"
urlpatterns: list = []
