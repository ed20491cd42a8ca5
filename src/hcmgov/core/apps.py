from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "hcmgov.core"
    label = "core"
    verbose_name = "Đơn vị hành chính, cơ quan / Units and agencies"

    def ready(self) -> None:
        from hcmgov.core import deploy_checks, scale  # noqa: F401 - register the city-scale and deploy checks
