"""The IoT platform's HTTP endpoints: batch ingestion for devices, and the public dashboard's pages
(``views_dashboard``)."""

from django.urls import path

from hcmgov.iot import views, views_dashboard

app_name = "iot"
urlpatterns = [
    path("iot/v1/readings", views.readings_batch, name="readings-batch"),
    path("iot/ban-do/", views_dashboard.map_page, name="map"),
    path("iot/cam-bien/<str:device_id>/", views_dashboard.sensor_page, name="sensor"),
    path("iot/khu-vuc/", views_dashboard.areas_page, name="areas"),
]
