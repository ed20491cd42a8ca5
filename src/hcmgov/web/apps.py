from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "hcmgov.web"
    label = "web"
    verbose_name = "Cổng dịch vụ công / Portal"
