from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "hcmgov.identity"
    label = "identity"
    verbose_name = "Định danh / Identity"
