from typing import Any

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

        # A token revoked or deleted is dropped from the cache of valid tokens: where that cache is
        # shared (city scale, hcmgov.common.tokencache), it is then refused at once on every node.
        from django.db.models.signals import post_delete, post_save
        from oauth2_provider.models import get_access_token_model

        from hcmgov.identity.models import ApiToken
        from hcmgov.identity.provider.services import oauth_tokens
        from hcmgov.identity.services import api_tokens

        def api_token_changed(sender: Any, instance: ApiToken, **kwargs: Any) -> None:
            if kwargs.get("signal") is post_delete or instance.revoked:
                api_tokens.drop(instance.digest)

        def oauth_token_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
            if instance.token_checksum:
                oauth_tokens.drop(instance.token_checksum)

        post_save.connect(
            api_token_changed, sender=ApiToken, weak=False, dispatch_uid="hcmgov.identity.api_token_saved"
        )
        post_delete.connect(
            api_token_changed, sender=ApiToken, weak=False, dispatch_uid="hcmgov.identity.api_token_deleted"
        )
        post_delete.connect(
            oauth_token_deleted,
            sender=get_access_token_model(),
            weak=False,  # defined here: nothing else holds them
            dispatch_uid="hcmgov.identity.oauth_token_deleted",
        )
