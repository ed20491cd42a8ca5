from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "hcmgov.identity"
    label = "identity"
    verbose_name = "Định danh / Identity"

    def ready(self) -> None:
        # Framework hooks, not business logic: Django's login signals are the one place every login
        # path (password form, test client, e-ID) passes. "axes" comes before this app in
        # INSTALLED_APPS, so axes' receiver has counted a failure before ``record_login_failure`` runs.
        from django.contrib.auth.signals import user_logged_in, user_login_failed

        from hcmgov.identity.logins import login_recorded
        from hcmgov.identity.middleware import session_started
        from hcmgov.identity.security import record_login_failure

        user_login_failed.connect(record_login_failure, dispatch_uid="hcmgov.identity.record_login_failure")
        user_logged_in.connect(session_started, dispatch_uid="hcmgov.identity.session_started")
        user_logged_in.connect(login_recorded, dispatch_uid="hcmgov.identity.login_recorded")
