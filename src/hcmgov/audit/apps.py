from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "hcmgov.audit"
    label = "audit"
    verbose_name = "Nhật ký / Audit"
