from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "hcmgov.documents"
    label = "documents"
    verbose_name = "Tài liệu số / Documents"

    def ready(self) -> None:
        from hcmgov.documents import handlers  # noqa: F401 - subscribes to its events
