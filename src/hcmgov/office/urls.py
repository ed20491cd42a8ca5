"""The electronic office's pages for officials (/office/van-ban/, /office/ho-so-cong-viec/)."""

from django.urls import path

from hcmgov.office import views, views_records

app_name = "eoffice"
urlpatterns: list = [
    # --- helper: office pages ---
    path("office/van-ban/", views.document_list, name="document_list"),
    path("office/van-ban/moi/", views.document_new, name="document_new"),
    path("office/van-ban/<int:pk>/", views.document_detail, name="document"),
    path("office/van-ban/<int:pk>/tep.pdf", views.document_file, name="document_file"),
    path("office/van-ban-den/", views_records.incoming_list, name="incoming_list"),
    path("office/van-ban-den/moi/", views_records.incoming_new, name="incoming_new"),
    path("office/ho-so-cong-viec/", views_records.record_list, name="record_list"),
    path("office/ho-so-cong-viec/moi/", views_records.record_new, name="record_new"),
    path("office/ho-so-cong-viec/<int:pk>/", views_records.record_detail, name="record"),
    # --- end helper: office pages ---
    # --- helper: office directory and mail ---
    # --- end helper: office directory and mail ---
]
