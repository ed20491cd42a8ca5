from django.apps import AppConfig


class ExchangeConfig(AppConfig):
    name = "hcmgov.exchange"
    label = "exchange"
    verbose_name = "Nền tảng tích hợp, chia sẻ dữ liệu (LGSP) / Data integration and sharing platform"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from hcmgov.exchange import (
            handlers,  # noqa: F401 - platform events published on channels
            portal_handlers,  # noqa: F401 - status changes queued for the national portal
        )
        from hcmgov.exchange.events import channels_forget
        from hcmgov.exchange.models import Channel, Service

        for model in (Channel, Service):  # a cache's invalidation, not business logic
            post_save.connect(channels_forget, sender=model, dispatch_uid=f"exchange-channels-{model.__name__}")
            post_delete.connect(channels_forget, sender=model, dispatch_uid=f"exchange-channels-{model.__name__}-d")
