from django.apps import AppConfig


class DossiersConfig(AppConfig):
    name = "hcmgov.dossiers"
    label = "dossiers"
    verbose_name = "Hồ sơ / Dossiers"

    def ready(self) -> None:
        from hcmgov.dossiers import handlers  # noqa: F401 - subscribes to payment events
