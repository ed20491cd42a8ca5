"""Writes of the dossiers app: submission (``submission``), processing through the flow
(``processing``), supplements, early ends and apologies (``lifecycle``), step timers (``timers``).
Other apps import from here."""

from hcmgov.dossiers.services.lifecycle import dossier_apologize, dossier_comment, dossier_stop, dossier_withdraw
from hcmgov.dossiers.services.payments import dossier_payment_request, dossier_payment_settle
from hcmgov.dossiers.services.post import (
    delivery_quote_for,
    dossier_choose_post,
    dossier_decide,
    dossier_post_tracking,
    dossier_return_by_post,
    dossier_send_by_post,
)
from hcmgov.dossiers.services.processing import (
    dossier_act,
    dossier_receive,
    dossier_refuse,
    dossier_send_back,
    flow_open,
    flow_start,
    step_assign,
)
from hcmgov.dossiers.services.submission import (
    LOCAL_TZ,
    dossier_code,
    dossier_submit,
    new_tracking_secret,
    submission_fingerprint,
)
from hcmgov.dossiers.services.supplements import dossier_request_supplement, dossier_supplement
from hcmgov.dossiers.services.timers import processing_stats_compact, step_timers_run

__all__ = [
    "LOCAL_TZ",
    "delivery_quote_for",
    "dossier_act",
    "dossier_apologize",
    "dossier_choose_post",
    "dossier_code",
    "dossier_comment",
    "dossier_decide",
    "dossier_payment_request",
    "dossier_payment_settle",
    "dossier_post_tracking",
    "dossier_receive",
    "dossier_refuse",
    "dossier_request_supplement",
    "dossier_return_by_post",
    "dossier_send_back",
    "dossier_send_by_post",
    "dossier_stop",
    "dossier_submit",
    "dossier_supplement",
    "dossier_withdraw",
    "flow_open",
    "flow_start",
    "new_tracking_secret",
    "processing_stats_compact",
    "step_assign",
    "step_timers_run",
    "submission_fingerprint",
]
