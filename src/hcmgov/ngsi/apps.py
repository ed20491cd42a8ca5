from django.apps import AppConfig


class NgsiConfig(AppConfig):
    name = "hcmgov.ngsi"
    label = "ngsi"
    verbose_name = "NGSI-LD: ngữ cảnh IoT / NGSI-LD context broker"
    default_auto_field = "django.db.models.BigAutoField"
