from django.apps import AppConfig


class OfficeConfig(AppConfig):
    name = "hcmgov.office"
    label = "office"
    verbose_name = "Văn phòng điện tử / Electronic office"
    default_auto_field = "django.db.models.BigAutoField"
