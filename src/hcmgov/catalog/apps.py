from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "hcmgov.catalog"
    label = "catalog"
    verbose_name = "Thủ tục hành chính / Procedures"
