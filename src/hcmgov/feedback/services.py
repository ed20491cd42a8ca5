"""Writes of the feedback app: the applicant's rating of a settled dossier, and feedback and
recommendations (phản ánh, kiến nghị — PAKN): submission, handling, answer or rejection, and the
author's rating of the answer.

Every input is checked before anything is written; a refusal is a ``DomainError`` with a message
in Vietnamese and English and changes nothing. Each change writes its audit event (``@audited``)
and, where something must happen elsewhere (an e-mail to the author), an outbox event in the same
transaction; ``handlers`` reacts to those events.

**Handling deadline.** Decree 20/2008/NĐ-CP on receiving and handling feedback and
recommendations of individuals and organisations on administrative regulations (amended by
Decrees 48/2013/NĐ-CP and 92/2017/NĐ-CP; guided by Circular 02/2017/TT-VPCP) sets the time limits
for handling feedback; the brief for this app cites its Art. 17 for 10 to 15 working days. This
platform uses 15 working days from receipt (``HANDLING_WORKING_DAYS``). Not confirmed against the
Decree's text: the article and its wording — in the consolidated code of law (Pháp điển, đề mục
44.12) Art. 14 is "the handling procedure of state administrative agencies" and Art. 17 "the
responsibility of the Minister–Chairman of the Government Office", so the limit may sit in Art. 14
or in the Circular; and whether a shorter limit applies to some feedback. The 15 working days are
corroborated by the published methodology of indicator 5.2 of Decision 766/QĐ-TTg ("feedback
handled on time": handled within 15 working days of being sent) and by provincial procedure
listings ("no more than 15 working days from receipt"), both secondary sources.

As for dossiers (``WorkCalendar.appointment_date``), feedback received outside office hours counts
as received at the next opening, the day of receipt is not counted, and the deadline is the close of
business of the last day — the same assumptions, equally unconfirmed for feedback.

**Rejections.** The same methodology counts a refusal to handle as on time when made within 2
working days (``REJECT_WORKING_DAYS``); that is what ``timeliness`` records for a rejection. Not
confirmed in the Decision's own text.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError
from django.utils import timezone

from hcmgov.audit.services import audited
from hcmgov.common.errors import DomainError, FieldError, Message, NotFound
from hcmgov.core import selectors as core
from hcmgov.core import services as core_services
from hcmgov.core.workcalendar import default_calendar
from hcmgov.dossiers import selectors as dossiers
from hcmgov.feedback.models import (
    HANDLER_ROLES,
    OPEN_STATES,
    Category,
    Feedback,
    Rating,
    RejectReason,
    Score,
    State,
    Timeliness,
)
from hcmgov.identity import selectors as identity

HANDLING_WORKING_DAYS = 15  # Decree 20/2008/NĐ-CP (see the module docstring: article not confirmed)
REJECT_WORKING_DAYS = 2  # Decision 766/QĐ-TTg indicator 5.2, per its published methodology
APPLICANT_KINDS = frozenset({"citizen", "business"})
LOCAL_TZ = dt.timezone(dt.timedelta(hours=7))  # Asia/Ho_Chi_Minh has no DST

SUBJECT_MAX = 200
TEXT_MAX = 5000
NAME_MAX = 150
EMAIL_MAX = 254
COMMENT_MAX = 1000
NOTE_MAX = 2000
AUDIT_FIELDS = ("state", "handler", "closed_at", "timeliness", "reject_reason", "answer_score")

_SECRET_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # noqa: S105 - an alphabet: no 0/O, 1/I, read off paper
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab, line feed and carriage return are text
_PHONE = re.compile(r"(?:\+84|0)[0-9]{9,10}", re.ASCII)
_KEY = re.compile(r"[\x21-\x7e]{1,80}")


def _label(user: Any) -> str:
    return (getattr(user, "full_name", "") or user.get_username())[:150]


def _refuse(code: str, vi: str, en: str, status: int = 409) -> DomainError:
    return DomainError(code, Message(vi, en), status)


def _invalid(errors: list[FieldError]) -> DomainError:
    return DomainError(
        "invalid_input",
        Message(
            "Thông tin gửi lên chưa hợp lệ, vui lòng kiểm tra các mục được đánh dấu.",
            "What you sent is not valid yet: please check the marked items.",
        ),
        422,
        errors,
    )


def _text(
    value: Any,
    *,
    field: str,
    name: tuple[str, str],
    max_length: int,
    errors: list[FieldError],
    required: bool = True,
    multiline: bool = True,
) -> str:
    """``value`` stripped, or "" with a field error added: missing, too long, or with a character
    no text holds (NUL and other control characters, which PostgreSQL refuses, or lone surrogates,
    which cannot be stored as UTF-8)."""
    vi, en = name
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        if required:
            errors.append(FieldError(field, "required", Message(f"Vui lòng nhập {vi}.", f"Please enter {en}.")))
        return ""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        bad = True
    else:
        bad = bool(_CONTROL.search(text)) or (not multiline and ("\n" in text or "\r" in text))
    if bad:
        errors.append(
            FieldError(
                field,
                "invalid_character",
                Message(
                    f"{vi.capitalize()} có ký tự không hợp lệ.", f"{en[0].upper()}{en[1:]} has an invalid character."
                ),
            )
        )
        return ""
    if len(text) > max_length:
        errors.append(
            FieldError(
                field,
                "too_long",
                Message(
                    f"{vi.capitalize()} dài quá {max_length} ký tự (hiện có {len(text)}).",
                    f"{en[0].upper()}{en[1:]} is longer than {max_length} characters ({len(text)}).",
                ),
            )
        )
        return ""
    return text


def _plain(value: Any, max_length: int) -> str | None:
    """A short code-like input stripped, or None when it cannot be one (too long, a control
    character, not storable as UTF-8): such a value matches nothing, and must not reach the database."""
    text = value.strip() if isinstance(value, str) else ""
    if len(text) > max_length or _CONTROL.search(text):
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return text


def _score(value: Any, *, field: str, errors: list[FieldError], required: bool = True) -> int | None:
    if value is None or value == "":
        if required:
            errors.append(
                FieldError(
                    field,
                    "required",
                    Message("Vui lòng chọn mức độ hài lòng (1–5).", "Please choose how satisfied you are (1–5)."),
                )
            )
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number not in Score.values or isinstance(value, bool):
        errors.append(
            FieldError(
                field,
                "invalid_choice",
                Message("Mức độ hài lòng phải từ 1 đến 5.", "The satisfaction score must be from 1 to 5."),
            )
        )
        return None
    return number


def _new_secret() -> str:
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(8))


# --- the deadline ----------------------------------------------------------------------------------


def feedback_due(*, received_at: dt.datetime) -> dt.datetime:
    """The handling deadline of feedback received at ``received_at``: close of business of the
    15th working day after the (effective) day of receipt (see the module docstring)."""
    calendar = default_calendar()
    received = calendar.effective_receipt(received_at)
    return calendar.close_of_business(calendar.add_working_days(received.date(), HANDLING_WORKING_DAYS))


def feedback_reject_due(*, received_at: dt.datetime) -> dt.datetime:
    """By when a refusal to handle counts as on time (2 working days, see the module docstring)."""
    calendar = default_calendar()
    received = calendar.effective_receipt(received_at)
    return calendar.close_of_business(calendar.add_working_days(received.date(), REJECT_WORKING_DAYS))


# --- feedback: submission --------------------------------------------------------------------------


def feedback_fingerprint(
    *,
    agency_code: str,
    subject: str,
    text: str,
    category: str,
    dossier_code: str,
    name: str,
    email: str,
    phone: str,
) -> str:
    """What makes two submissions the same (a retry, a resubmitted page)."""
    canonical = json.dumps(
        [s.strip() if isinstance(s, str) else s for s in (agency_code, subject, text, category, dossier_code)]
        + [s.strip() if isinstance(s, str) else s for s in (name, email, phone)],
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def feedback_submit(
    *,
    author: Any | None,
    agency_code: str,
    subject: str,
    text: str,
    category: str = Category.REGULATION,
    dossier_code: str = "",
    dossier_secret: str = "",
    name: str = "",
    email: str = "",
    phone: str = "",
    idempotency_key: str | None = None,
    language: str = "vi",
    now: dt.datetime | None = None,
) -> tuple[Feedback, bool]:
    """Receive feedback; returns ``(feedback, created)``.

    ``author`` is the signed-in citizen or business (their account's name and contacts are used,
    and a dossier named must be theirs), or None: then a name and an e-mail address or a phone
    number are required, and a dossier can be named only with its lookup secret (the code alone
    proves nothing). Officials do not send feedback with their official account.

    A repeat with the same ``idempotency_key`` (scoped to the author, or to anonymous senders) and
    the same content returns the first feedback and writes nothing; the same key with other
    content is refused (422), so a key guessed by someone else does not open another's feedback.
    """
    if author is not None and getattr(author, "kind", None) not in APPLICANT_KINDS:
        raise _refuse(
            "forbidden",
            "Cán bộ, công chức không gửi phản ánh, kiến nghị bằng tài khoản công vụ.",
            "Officials do not send feedback with their official account.",
            403,
        )
    if author is not None:
        name = author.full_name or author.get_username()
        email, phone = author.email or "", author.phone or ""
    fingerprint = feedback_fingerprint(
        agency_code=agency_code,
        subject=subject,
        text=text,
        category=category,
        dossier_code=dossier_code,
        name=name,
        email=email,
        phone=phone,
    )
    if idempotency_key and not _KEY.fullmatch(idempotency_key):
        raise _invalid(
            [
                FieldError(
                    "Idempotency-Key",
                    "invalid_key",
                    Message(
                        "Khóa Idempotency-Key chỉ gồm tối đa 80 ký tự ASCII in được.",
                        "An Idempotency-Key is at most 80 printable ASCII characters.",
                    ),
                )
            ]
        )
    scope = f"u{author.pk}" if author is not None else "anon"
    key = f"{scope}:{idempotency_key}" if idempotency_key else None
    if key:
        existing = _repeat(key, fingerprint)
        if existing is not None:
            return existing, False

    now = now or timezone.now()
    day = now.astimezone(LOCAL_TZ).date()
    errors: list[FieldError] = []
    agency = None
    code = _plain(agency_code, 32)
    if code == "":
        errors.append(
            FieldError(
                "agency",
                "required",
                Message("Vui lòng chọn cơ quan nhận phản ánh.", "Please choose the agency the feedback is for."),
            )
        )
    else:
        agency = core.agency_list(day=day).filter(code=code).first() if code else None
        if agency is None:
            errors.append(
                FieldError(
                    "agency",
                    "unknown_agency",
                    Message(
                        "Không có cơ quan với mã này (đang hoạt động).", "There is no agency (in force) with this code."
                    ),
                )
            )
    clean_subject = _text(
        subject,
        field="subject",
        name=("tiêu đề", "the subject"),
        max_length=SUBJECT_MAX,
        errors=errors,
        multiline=False,
    )
    clean_text = _text(text, field="text", name=("nội dung phản ánh", "the text"), max_length=TEXT_MAX, errors=errors)
    if category not in Category.values:
        errors.append(
            FieldError(
                "category",
                "invalid_choice",
                Message(
                    "Vui lòng chọn phản ánh về quy định, thủ tục hay về cán bộ, công chức.",
                    "Please choose whether it is about regulations and procedures or about officials.",
                ),
            )
        )
    clean_name, clean_email, clean_phone = _contacts(name, email, phone, errors, signed_in=author is not None)
    dossier = _dossier(author, dossier_code, dossier_secret, errors)
    if errors:
        raise _invalid(errors)
    assert agency is not None
    try:
        feedback = _create(
            agency=agency,
            author=author,
            name=clean_name,
            email=clean_email,
            phone=clean_phone,
            category=category,
            subject=clean_subject,
            text=clean_text,
            dossier_code=dossier,
            language="en" if str(language).startswith("en") else "vi",
            key=key,
            fingerprint=fingerprint,
            now=now,
            day=day,
        )
    except IntegrityError:
        if key:  # a concurrent retry with the same key won the race: answer with its feedback
            existing = _repeat(key, fingerprint)
            if existing is not None:
                return existing, False
        raise
    return feedback, True


def _repeat(key: str, fingerprint: str) -> Feedback | None:
    existing = Feedback.objects.select_related("agency").filter(idempotency_key=key).first()
    if existing is None:
        return None
    if not hmac.compare_digest(existing.fingerprint, fingerprint):
        raise _refuse(
            "idempotency_key_reused",
            "Khóa Idempotency-Key này đã được dùng cho một phản ánh khác.",
            "This Idempotency-Key was already used for other feedback.",
            422,
        )
    return existing


def _contacts(name: Any, email: Any, phone: Any, errors: list[FieldError], *, signed_in: bool) -> tuple[str, str, str]:
    if signed_in:  # the account's own details; not checked again (an account may lack a phone)
        return str(name)[:NAME_MAX], str(email)[:EMAIL_MAX], str(phone)[:20]
    clean_name = _text(
        name, field="name", name=("họ và tên", "your name"), max_length=NAME_MAX, errors=errors, multiline=False
    )
    clean_email = _text(
        email,
        field="email",
        name=("thư điện tử", "the e-mail address"),
        max_length=EMAIL_MAX,
        errors=errors,
        required=False,
        multiline=False,
    )
    if clean_email:
        try:
            validate_email(clean_email)
        except ValidationError:
            errors.append(
                FieldError(
                    "email",
                    "invalid_email",
                    Message("Địa chỉ thư điện tử không hợp lệ.", "The e-mail address is not valid."),
                )
            )
            clean_email = ""
    raw_phone = phone.strip() if isinstance(phone, str) else ""
    clean_phone = re.sub(r"[\s.\-()]", "", raw_phone)
    if raw_phone and not _PHONE.fullmatch(clean_phone):
        errors.append(
            FieldError(
                "phone",
                "invalid_phone",
                Message(
                    "Số điện thoại không hợp lệ (ví dụ 0912345678 hoặc +84912345678).",
                    "The phone number is not valid (e.g. 0912345678 or +84912345678).",
                ),
            )
        )
        clean_phone = ""
    if not raw_phone and not (isinstance(email, str) and email.strip()):
        errors.append(
            FieldError(
                "email",
                "contact_required",
                Message(
                    "Vui lòng để lại thư điện tử hoặc số điện thoại để cơ quan liên hệ khi cần.",
                    "Please leave an e-mail address or a phone number, so that the agency can reach you.",
                ),
            )
        )
    return clean_name, clean_email, clean_phone


def _dossier(author: Any | None, code: Any, secret: Any, errors: list[FieldError]) -> str:
    """The canonical code of the dossier the feedback is about ("" if none), checked: the author's
    own when signed in, or proven by its lookup secret when not."""
    if not isinstance(code, str) or not code.strip():
        return ""
    not_found = FieldError(
        "dossier",
        "unknown_dossier",
        Message("Không tìm thấy hồ sơ có mã này trong hồ sơ của bạn.", "No dossier of yours has this code."),
    )
    code = _plain(code, 48)
    if not code:
        errors.append(not_found)
        return ""
    if author is not None:
        try:
            dossier = dossiers.dossier_visible_to(user=author, code=code)
        except NotFound:
            dossier = None
        if dossier is None or not identity.user_acts_for(user=author, applicant_id=dossier.applicant_id):
            errors.append(not_found)
            return ""
        return dossier.code
    given = _plain(secret, 16)
    if given == "":
        errors.append(
            FieldError(
                "dossier_secret",
                "required",
                Message(
                    "Để gắn phản ánh với hồ sơ, vui lòng nhập mã tra cứu in trên giấy hẹn (hoặc đăng nhập).",
                    "To link the feedback to a dossier, enter the lookup secret printed on the receipt (or log in).",
                ),
            )
        )
        return ""
    tracked = None
    if given is not None:  # None: not a secret any receipt carries
        try:
            tracked = dossiers.dossier_track(code=code, secret=given)
        except NotFound:
            tracked = None
    if tracked is None:
        errors.append(
            FieldError(
                "dossier",
                "unknown_dossier",
                Message("Mã hồ sơ và mã tra cứu không khớp.", "The dossier code and the lookup secret do not match."),
            )
        )
        return ""
    return tracked.code


@audited("feedback.submit")
def _create(
    *,
    agency: Any,
    author: Any | None,
    name: str,
    email: str,
    phone: str,
    category: str,
    subject: str,
    text: str,
    dossier_code: str,
    language: str,
    key: str | None,
    fingerprint: str,
    now: dt.datetime,
    day: dt.date,
) -> Feedback:
    sequence = core_services.sequence_next(scope="PAKN", day=day)
    feedback = Feedback.objects.create(
        code=f"PAKN-{day:%y%m%d}-{sequence:04d}",
        secret=_new_secret(),
        agency=agency,
        dossier_code=dossier_code,
        category=category,
        subject=subject,
        text=text,
        language=language,
        author=author,
        author_name=name,
        author_email=email,
        author_phone=phone,
        state=State.RECEIVED,
        received_at=now,
        due_at=feedback_due(received_at=now),
        idempotency_key=key,
        fingerprint=fingerprint,
    )
    core_services.event_publish(topic="feedback.received", key=feedback.code, payload={"feedback_id": feedback.pk})
    return feedback


# --- feedback: handling ----------------------------------------------------------------------------


def _require_handler(official: Any, feedback: Feedback) -> None:
    if getattr(official, "kind", None) != "official" or not identity.user_has_role(
        user=official, agency_id=feedback.agency_id, roles=set(HANDLER_ROLES)
    ):
        raise _refuse(
            "forbidden",
            "Chỉ cán bộ của cơ quan nhận phản ánh mới được xử lý phản ánh này.",
            "Only officials of the agency the feedback was sent to may handle it.",
            403,
        )


def _lock(feedback: Feedback) -> Feedback:
    return Feedback.objects.select_for_update().select_related("agency").get(pk=feedback.pk)


def _require_open(feedback: Feedback) -> None:
    if feedback.state not in OPEN_STATES:
        raise _refuse(
            "already_closed",
            f"Phản ánh {feedback.code} đã được xử lý xong ({feedback.get_state_display()}).",
            f"Feedback {feedback.code} is already closed.",
        )


@audited("feedback.start", target="feedback", fields=AUDIT_FIELDS)
def feedback_start(*, feedback: Feedback, official: Any, now: dt.datetime | None = None) -> Feedback:
    """An official of the agency takes the feedback up: received → being handled."""
    _require_handler(official, feedback)
    locked = _lock(feedback)
    _require_open(locked)
    if locked.state != State.RECEIVED:
        raise _refuse(
            "already_handling",
            f"Phản ánh đang được {locked.handler_label or 'cán bộ khác'} xử lý.",
            f"The feedback is already being handled by {locked.handler_label or 'another official'}.",
        )
    locked.state = State.HANDLING
    locked.handling_started_at = now or timezone.now()
    locked.handler = official
    locked.handler_label = _label(official)
    locked.save(update_fields=["state", "handling_started_at", "handler", "handler_label"])
    return locked


@audited("feedback.answer", target="feedback", fields=AUDIT_FIELDS)
def feedback_answer(*, feedback: Feedback, official: Any, answer: str, now: dt.datetime | None = None) -> Feedback:
    """Answer the feedback (from received or being handled) and close it; records whether it was
    answered by the deadline, and tells the author (``feedback.answered``)."""
    _require_handler(official, feedback)
    errors: list[FieldError] = []
    text = _text(answer, field="answer", name=("nội dung trả lời", "the answer"), max_length=TEXT_MAX, errors=errors)
    if errors:
        raise _invalid(errors)
    locked = _lock(feedback)
    _require_open(locked)
    now = now or timezone.now()
    locked.state = State.ANSWERED
    locked.answer = text
    locked.handling_started_at = locked.handling_started_at or now
    locked.handler = official
    locked.handler_label = _label(official)
    locked.closed_at = now
    locked.timeliness = Timeliness.ON_TIME if now <= locked.due_at else Timeliness.LATE
    locked.save()
    core_services.event_publish(topic="feedback.answered", key=locked.code, payload={"feedback_id": locked.pk})
    return locked


@audited("feedback.reject", target="feedback", fields=AUDIT_FIELDS)
def feedback_reject(
    *, feedback: Feedback, official: Any, reason: str, note: str = "", now: dt.datetime | None = None
) -> Feedback:
    """Decline to handle the feedback, for one of ``RejectReason`` (out of scope, duplicate,
    abusive), with an optional note (for a duplicate: the code of the first). Tells the author."""
    _require_handler(official, feedback)
    errors: list[FieldError] = []
    if reason not in RejectReason.values:
        errors.append(
            FieldError(
                "reason",
                "invalid_choice",
                Message(
                    "Vui lòng chọn lý do: không thuộc phạm vi, trùng lặp, hoặc nội dung không phù hợp.",
                    "Please choose a reason: out of scope, duplicate, or abusive.",
                ),
            )
        )
    clean_note = _text(
        note, field="note", name=("ghi chú", "the note"), max_length=NOTE_MAX, errors=errors, required=False
    )
    if errors:
        raise _invalid(errors)
    locked = _lock(feedback)
    _require_open(locked)
    now = now or timezone.now()
    locked.state = State.REJECTED
    locked.reject_reason = reason
    locked.reject_note = clean_note
    locked.handler = official
    locked.handler_label = _label(official)
    locked.closed_at = now
    on_time = now <= feedback_reject_due(received_at=locked.received_at)
    locked.timeliness = Timeliness.ON_TIME if on_time else Timeliness.LATE
    locked.save()
    core_services.event_publish(topic="feedback.rejected", key=locked.code, payload={"feedback_id": locked.pk})
    return locked


@audited("feedback.rate_answer", target="feedback", fields=AUDIT_FIELDS)
def feedback_rate_answer(
    *, feedback: Feedback, score: Any, comment: str = "", now: dt.datetime | None = None
) -> Feedback:
    """The author's satisfaction with how the feedback was handled (1–5), once it was answered or
    declined; given once (the same rating again changes nothing). The caller has proven to be the
    author (code and secret: ``selectors.feedback_lookup``)."""
    errors: list[FieldError] = []
    value = _score(score, field="score", errors=errors)
    clean = _text(comment, field="comment", name=("nhận xét", "the comment"), max_length=COMMENT_MAX, errors=errors,
                  required=False)  # fmt: skip
    locked = _lock(feedback)
    if locked.state in OPEN_STATES:
        raise _refuse(
            "not_answered",
            "Phản ánh chưa được trả lời nên chưa thể đánh giá.",
            "The feedback has not been answered yet, so it cannot be rated.",
        )
    if errors:
        raise _invalid(errors)
    if locked.answer_score is not None:
        if locked.answer_score == value and locked.answer_comment == clean:
            locked._audit_skip = True  # type: ignore[attr-defined] # nothing changed: nothing to record
            return locked
        raise _refuse(
            "already_rated",
            "Bạn đã đánh giá việc trả lời phản ánh này.",
            "You have already rated the answer to this feedback.",
        )
    locked.answer_score = value
    locked.answer_comment = clean
    locked.answer_rated_at = now or timezone.now()
    locked.save(update_fields=["answer_score", "answer_comment", "answer_rated_at"])
    return locked


# --- ratings of dossiers ---------------------------------------------------------------------------


def rating_submit(
    *,
    applicant: Any,
    dossier_code: str,
    score: Any,
    comment: str = "",
    contacts: Any = None,
    publicity: Any = None,
    attitude: Any = None,
    online: Any = None,
    now: dt.datetime | None = None,
) -> tuple[Rating, bool]:
    """Rate the settlement of one's own dossier once its result was returned (status 10); returns
    ``(rating, created)``.

    One rating per dossier, never changed: the figures of Decision 766/QĐ-TTg are reported per
    period, and a rating that could change afterwards would change figures already reported. An
    applicant who wants to say more sends feedback about the dossier, which those figures also
    count. Sending the same rating again (a double click, a retried request) returns the first
    (``created`` False); a different one is refused (409)."""
    if getattr(applicant, "kind", None) not in APPLICANT_KINDS:
        raise _refuse(
            "forbidden",
            "Chỉ người nộp hồ sơ được đánh giá việc giải quyết hồ sơ.",
            "Only the applicant rates the settlement of a dossier.",
            403,
        )
    dossier = dossiers.dossier_visible_to(user=applicant, code=str(dossier_code).strip()[:48])  # 404 otherwise
    if not identity.user_acts_for(user=applicant, applicant_id=dossier.applicant_id):  # or its representative
        raise _refuse(
            "forbidden",
            "Chỉ người nộp hồ sơ được đánh giá việc giải quyết hồ sơ.",
            "Only the applicant rates the settlement of a dossier.",
            403,
        )
    if dossier.status != dossiers.Status.RETURNED:
        raise _refuse(
            "not_returned",
            "Hồ sơ chưa trả kết quả nên chưa thể đánh giá.",
            "The result has not been returned yet, so the dossier cannot be rated.",
        )
    errors: list[FieldError] = []
    values = {
        "score": _score(score, field="score", errors=errors),
        "publicity": _score(publicity, field="publicity", errors=errors, required=False),
        "attitude": _score(attitude, field="attitude", errors=errors, required=False),
        "online": _score(online, field="online", errors=errors, required=False),
        "contacts": _contacts_count(contacts, errors),
        "comment": _text(comment, field="comment", name=("nhận xét", "the comment"), max_length=COMMENT_MAX,
                         errors=errors, required=False),
    }  # fmt: skip
    if errors:
        raise _invalid(errors)
    existing = _same_rating(dossier.pk, values)
    if existing is not None:
        return existing, False
    try:
        rating = _rating_create(dossier=dossier, applicant=applicant, values=values, now=now or timezone.now())
    except IntegrityError:  # a concurrent identical request won the race
        existing = _same_rating(dossier.pk, values)
        if existing is not None:
            return existing, False
        raise
    return rating, True


def _contacts_count(value: Any, errors: list[FieldError]) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if number not in (0, 1, 2) or isinstance(value, bool):
        errors.append(
            FieldError(
                "contacts",
                "invalid_choice",
                Message(
                    "Số lần liên hệ phải là 0, 1 hoặc 2 (2 lần trở lên).", "Contacts must be 0, 1 or 2 (2 or more)."
                ),
            )
        )
        return None
    return number


def _same_rating(dossier_id: int, values: dict[str, Any]) -> Rating | None:
    existing = Rating.objects.filter(dossier_id=dossier_id).first()
    if existing is None:
        return None
    if all(getattr(existing, k) == v for k, v in values.items()):
        return existing
    at = timezone.localtime(existing.rated_at)
    raise _refuse(
        "already_rated",
        f"Hồ sơ này đã được đánh giá lúc {at:%H:%M %d/%m/%Y}; đánh giá không sửa được.",
        f"This dossier was already rated on {at:%Y-%m-%d %H:%M}; a rating cannot be changed.",
    )


@audited("rating.submit")
def _rating_create(*, dossier: Any, applicant: Any, values: dict[str, Any], now: dt.datetime) -> Rating:
    rating = Rating.objects.create(
        dossier_id=dossier.pk,
        dossier_code=dossier.code,
        applicant=applicant,
        agency_id=dossier.agency_id,
        procedure_id=dossier.procedure_id,
        rated_at=now,
        **values,
    )
    core_services.event_publish(topic="rating.submitted", key=dossier.code, payload={"rating_id": rating.pk})
    return rating
