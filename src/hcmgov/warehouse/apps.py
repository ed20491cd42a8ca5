from django.apps import AppConfig


class WarehouseConfig(AppConfig):
    name = "hcmgov.warehouse"
    label = "warehouse"
    verbose_name = "Kho dữ liệu phân tích / Analytics warehouse"
    default_auto_field = "django.db.models.BigAutoField"
