from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    name = "hcmgov.feedback"
    label = "feedback"
    verbose_name = "Đánh giá, phản ánh kiến nghị / Ratings and feedback"

    def ready(self) -> None:
        from hcmgov.feedback import handlers  # noqa: F401 - subscribes to feedback events
