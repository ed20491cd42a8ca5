from django.apps import AppConfig


class CitymailConfig(AppConfig):
    """The city's e-mail for officials: mailbox addresses, the directory, mail through the relay."""

    name = "hcmgov.citymail"
    label = "citymail"
    verbose_name = "Thư điện tử công vụ / City e-mail"

    def ready(self) -> None:
        from hcmgov.citymail import handlers  # noqa: F401 - arrival mails on office.document_sent
