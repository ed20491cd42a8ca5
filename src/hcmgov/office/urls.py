"""The electronic office's pages for officials (/office/van-ban/, /office/ho-so-cong-viec/)."""

from django.urls import path  # noqa: F401 - routes follow

app_name = "eoffice"
urlpatterns: list = []
