from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "hcmgov.registry"
    label = "registry"
    verbose_name = "Kho dữ liệu dùng chung / Shared data store"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from hcmgov.registry import handlers  # noqa: F401 - declared facts recorded from submitted dossiers
        from hcmgov.registry.services import registries_sync

        post_migrate.connect(lambda **kw: registries_sync(), sender=self, dispatch_uid="registry-sync", weak=False)
