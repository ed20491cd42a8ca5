"""The IoT platform's HTTP endpoints: batch ingestion for devices (pages follow)."""

from django.urls import path

from hcmgov.iot import views

app_name = "iot"
urlpatterns = [
    path("iot/v1/readings", views.readings_batch, name="readings-batch"),
]
