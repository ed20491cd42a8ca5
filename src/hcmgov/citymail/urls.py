"""The city e-mail's pages: the directory of agencies and officials."""

from django.urls import path

from hcmgov.citymail import views

app_name = "citymail"
urlpatterns = [
    path("office/danh-ba/", views.directory, name="directory"),
]
