from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "hcmgov.notifications"
    label = "notifications"
    verbose_name = "Thông báo / Notifications"

    def ready(self) -> None:
        from hcmgov.notifications import handlers  # noqa: F401 - subscribes to dossier events
