"""Writes of the dossiers app: submission (``submission``) and processing through the flow
(``processing``). Other apps import from here."""

from hcmgov.dossiers.services.processing import (
    dossier_act,
    dossier_apologize,
    dossier_comment,
    dossier_receive,
    dossier_refuse,
    dossier_request_supplement,
    dossier_send_back,
    dossier_stop,
    dossier_supplement,
    dossier_withdraw,
    flow_start,
    step_assign,
    step_timers_run,
)
from hcmgov.dossiers.services.submission import (
    LOCAL_TZ,
    dossier_code,
    dossier_submit,
    new_tracking_secret,
    submission_fingerprint,
)

__all__ = [
    "LOCAL_TZ",
    "dossier_act",
    "dossier_apologize",
    "dossier_code",
    "dossier_comment",
    "dossier_receive",
    "dossier_refuse",
    "dossier_request_supplement",
    "dossier_send_back",
    "dossier_stop",
    "dossier_submit",
    "dossier_supplement",
    "dossier_withdraw",
    "flow_start",
    "new_tracking_secret",
    "step_assign",
    "step_timers_run",
    "submission_fingerprint",
]
