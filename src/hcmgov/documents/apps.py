from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "hcmgov.documents"
    label = "documents"
    verbose_name = "Tài liệu số / Documents"
