from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "hcmgov.reporting"
    label = "reporting"
    verbose_name = "Báo cáo và chỉ tiêu / Reporting and targets"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from hcmgov.reporting import handlers  # noqa: F401 - approved city reports queued for the national system
