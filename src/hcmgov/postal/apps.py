from django.apps import AppConfig


class PostalConfig(AppConfig):
    name = "hcmgov.postal"
    label = "postal"
    verbose_name = "Bưu chính công ích / Public postal service"

    def ready(self) -> None:
        from hcmgov.postal.adapters import vnpost  # noqa: F401 - declares the HCMGOV_POST_* settings
