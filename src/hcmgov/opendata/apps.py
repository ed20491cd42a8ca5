from django.apps import AppConfig


class OpendataConfig(AppConfig):
    name = "hcmgov.opendata"
    label = "opendata"
    verbose_name = "Dữ liệu mở / Open data"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from hcmgov.opendata.services import licenses_sync

        post_migrate.connect(lambda **kw: licenses_sync(), sender=self, dispatch_uid="opendata-licenses", weak=False)
