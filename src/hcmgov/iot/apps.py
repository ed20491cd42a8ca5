from django.apps import AppConfig


class IotConfig(AppConfig):
    name = "hcmgov.iot"
    label = "iot"
    verbose_name = "Nền tảng IoT / IoT platform"
    default_auto_field = "django.db.models.BigAutoField"
