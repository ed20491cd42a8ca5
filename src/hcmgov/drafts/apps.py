from django.apps import AppConfig


class DraftsConfig(AppConfig):
    name = "hcmgov.drafts"
    label = "drafts"
    verbose_name = "Bản nháp hồ sơ / Application drafts"
