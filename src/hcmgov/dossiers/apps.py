from django.apps import AppConfig


class DossiersConfig(AppConfig):
    name = "hcmgov.dossiers"
    label = "dossiers"
    verbose_name = "Hồ sơ / Dossiers"
