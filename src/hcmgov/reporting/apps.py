from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "hcmgov.reporting"
    label = "reporting"
    verbose_name = "Báo cáo và chỉ tiêu / Reporting and targets"
    default_auto_field = "django.db.models.BigAutoField"
