from django.apps import AppConfig


class NgsiConfig(AppConfig):
    name = "hcmgov.ngsi"
    label = "ngsi"
    verbose_name = "NGSI-LD: ngữ cảnh IoT / NGSI-LD context broker"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from hcmgov.ngsi import handlers  # noqa: F401 - matches changed entities to subscriptions
