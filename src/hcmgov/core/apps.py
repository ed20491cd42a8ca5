from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "hcmgov.core"
    label = "core"
    verbose_name = "Đơn vị hành chính, cơ quan / Units and agencies"
