from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "hcmgov.payments"
    label = "payments"
    verbose_name = "Thanh toán trực tuyến / Online payments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from hcmgov.payments import handlers  # noqa: F401 - subscribes to dossier events
