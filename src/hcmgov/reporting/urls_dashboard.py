"""Pages of the reporting app: dashboard (filled in by the pages' work)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
