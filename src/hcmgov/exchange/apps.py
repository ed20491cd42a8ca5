from django.apps import AppConfig


class ExchangeConfig(AppConfig):
    name = "hcmgov.exchange"
    label = "exchange"
    verbose_name = "Nền tảng tích hợp, chia sẻ dữ liệu (LGSP) / Data integration and sharing platform"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from hcmgov.exchange import handlers  # noqa: F401 - platform events published on channels
