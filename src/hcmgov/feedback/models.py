"""Applicants' satisfaction ratings of settled dossiers, and feedback and recommendations
(phản ánh, kiến nghị — PAKN) with their handling deadline, answer and the author's rating of it.

Where the rules come from (and what was not confirmed) is written next to each model and in
``services``; the working-day arithmetic is ``hcmgov.core.workcalendar``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Score(models.IntegerChoices):
    """The five-step scale of public-service satisfaction surveys, worst first.

    The labels are those of the surveys on the public service portals (e.g. the survey of the
    Ministry of Information and Communications at dichvucong.mic.gov.vn: Rất hài lòng … Rất không
    hài lòng). The satisfaction indicators of Decision 766/QĐ-TTg count answers that are "not
    satisfied" (on the National Public Service Portal: a dislike); that these are scores 1 and 2
    here (``DISSATISFIED_SCORES``) is this platform's reading, not a rule found in the Decision."""

    VERY_DISSATISFIED = 1, "Rất không hài lòng"
    DISSATISFIED = 2, "Không hài lòng"
    NEUTRAL = 3, "Bình thường"
    SATISFIED = 4, "Hài lòng"
    VERY_SATISFIED = 5, "Rất hài lòng"


SCORE_EN = {
    Score.VERY_DISSATISFIED: "Very dissatisfied",
    Score.DISSATISFIED: "Dissatisfied",
    Score.NEUTRAL: "Neither satisfied nor dissatisfied",
    Score.SATISFIED: "Satisfied",
    Score.VERY_SATISFIED: "Very satisfied",
}
DISSATISFIED_SCORES = (Score.VERY_DISSATISFIED, Score.DISSATISFIED)


class Contacts(models.IntegerChoices):
    """How many times the applicant had to contact the desk to complete the dossier (online too)."""

    NONE = 0, "0 lần"
    ONCE = 1, "1 lần"
    TWICE_OR_MORE = 2, "2 lần trở lên"


CONTACTS_EN = {Contacts.NONE: "Never", Contacts.ONCE: "Once", Contacts.TWICE_OR_MORE: "Twice or more"}


class Rating(models.Model):
    """The applicant's satisfaction with the settlement of one dossier, given once the result was
    returned (status 10), once per dossier (see ``services.rating_submit`` for why once).

    ``score`` is the overall satisfaction that the service-quality index of Decision 766/QĐ-TTg
    asks about ("satisfaction in receiving and settling administrative procedures"; per the
    published methodology of its indicator 5.4, computed from late dossiers and dossiers with
    feedback or a "not satisfied" answer — the Decision's own text was not read).

    The optional aspects follow the indicators of the evaluation of the settlement of procedures
    (Decree 61/2018/NĐ-CP on the one-stop-shop mechanism, its part on evaluation, and Circular
    01/2018/TT-VPCP), as listed in a published evaluation table implementing them — the nine
    indicators were not read in the Circular's own text. Asked here are those only the applicant
    can answer: 3 — how many times the applicant had to contact the desk to complete the dossier,
    online included (``contacts``); 6 — publicity of the procedure (``publicity``); 7 — the
    officials' attitude when guiding, receiving and settling it (``attitude``); 9 — progress and
    quality of the online public service (``online``). Indicators the platform measures itself
    (1 and 2: the total time and each agency's time against the statutory time) are not asked;
    indicator 8 (how feedback is received and explained) is the author's rating of a feedback's
    answer (``Feedback.answer_score``).
    """

    dossier = models.OneToOneField("dossiers.Dossier", on_delete=models.PROTECT, related_name="+")
    dossier_code = models.CharField(max_length=48)
    applicant = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # copied from the dossier for the statistics by agency and procedure
    agency = models.ForeignKey("core.Agency", on_delete=models.PROTECT, related_name="+")
    procedure = models.ForeignKey("catalog.Procedure", on_delete=models.PROTECT, related_name="+")
    score = models.PositiveSmallIntegerField(choices=Score.choices)
    comment = models.TextField(blank=True)
    contacts = models.PositiveSmallIntegerField(choices=Contacts.choices, null=True, blank=True)
    publicity = models.PositiveSmallIntegerField(choices=Score.choices, null=True, blank=True)
    attitude = models.PositiveSmallIntegerField(choices=Score.choices, null=True, blank=True)
    online = models.PositiveSmallIntegerField(choices=Score.choices, null=True, blank=True)
    rated_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["agency", "rated_at"])]
        constraints = [models.CheckConstraint(condition=models.Q(score__gte=1, score__lte=5), name="rating_score_1_5")]

    def __str__(self) -> str:
        return f"{self.dossier_id}: {self.score}"


class Category(models.TextChoices):
    """What the feedback is about — the classification Decision 766/QĐ-TTg counts (per the
    published methodology of its indicators): regulations and procedures, or officials' conduct."""

    REGULATION = "regulation", "Quy định, chính sách, thủ tục hành chính"
    CONDUCT = "conduct", "Hành vi, thái độ của cán bộ, công chức"


CATEGORY_EN = {
    Category.REGULATION: "Regulations, policies, administrative procedures",
    Category.CONDUCT: "Conduct of officials",
}


class State(models.TextChoices):
    RECEIVED = "received", "Đã tiếp nhận"
    HANDLING = "handling", "Đang xử lý"
    ANSWERED = "answered", "Đã trả lời"
    REJECTED = "rejected", "Không xử lý"


STATE_EN = {
    State.RECEIVED: "Received",
    State.HANDLING: "Being handled",
    State.ANSWERED: "Answered",
    State.REJECTED: "Not handled",
}
OPEN_STATES = (State.RECEIVED, State.HANDLING)
# Officials who may see and handle an agency's feedback: those who receive and settle its dossiers
# and its administrators; the clerk, who only hands out results, does not.
HANDLER_ROLES = frozenset({"receiver", "specialist", "head", "leader", "agency_admin"})


class RejectReason(models.TextChoices):
    OUT_OF_SCOPE = "out_of_scope", "Không thuộc phạm vi, thẩm quyền xử lý"
    DUPLICATE = "duplicate", "Trùng với phản ánh, kiến nghị đã gửi"
    ABUSIVE = "abusive", "Nội dung xúc phạm, không phù hợp"


REJECT_REASON_EN = {
    RejectReason.OUT_OF_SCOPE: "Outside the agency's scope or competence",
    RejectReason.DUPLICATE: "Duplicates feedback already sent",
    RejectReason.ABUSIVE: "Abusive or improper content",
}


class Timeliness(models.TextChoices):
    ON_TIME = "on_time", "Đúng hạn"
    LATE = "late", "Quá hạn"


class Feedback(models.Model):
    """Feedback or a recommendation (phản ánh, kiến nghị) to an agency, by a signed-in applicant or
    anyone who leaves a name and an e-mail address or phone number; optionally about a dossier.

    ``code`` and ``secret`` let the author look it up without an account (like dossier tracking).
    ``due_at`` is the handling deadline fixed at receipt; ``timeliness`` is recorded when it is
    closed (answered or rejected), for the indicator "feedback handled on time" of Decision
    766/QĐ-TTg. See ``services`` for the legal basis of the deadline.
    """

    code = models.CharField(max_length=32, unique=True)
    secret = models.CharField(max_length=16, help_text="Shown once at submission; with the code it opens the lookup.")
    agency = models.ForeignKey("core.Agency", on_delete=models.PROTECT, related_name="+")
    dossier_code = models.CharField(max_length=48, blank=True, help_text="The dossier it is about, if any.")
    category = models.CharField(max_length=12, choices=Category.choices, default=Category.REGULATION)
    subject = models.CharField(max_length=200)
    text = models.TextField()
    language = models.CharField(max_length=5, default="vi")
    # the author: an account, or the contact details an anonymous author left
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    author_name = models.CharField(max_length=150)
    author_email = models.EmailField(blank=True)
    author_phone = models.CharField(max_length=20, blank=True)
    # handling
    state = models.CharField(max_length=10, choices=State.choices, default=State.RECEIVED)
    received_at = models.DateTimeField()
    due_at = models.DateTimeField()
    handling_started_at = models.DateTimeField(null=True, blank=True)
    handler = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    handler_label = models.CharField(max_length=150, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    answer = models.TextField(blank=True)
    reject_reason = models.CharField(max_length=12, choices=RejectReason.choices, blank=True)
    reject_note = models.TextField(blank=True)
    timeliness = models.CharField(max_length=8, choices=Timeliness.choices, blank=True)
    # the author's satisfaction with the handling
    answer_score = models.PositiveSmallIntegerField(choices=Score.choices, null=True, blank=True)
    answer_comment = models.TextField(blank=True)
    answer_rated_at = models.DateTimeField(null=True, blank=True)
    # a repeated submission (same Idempotency-Key, same content) returns the first
    idempotency_key = models.CharField(max_length=100, null=True, blank=True, unique=True)
    fingerprint = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["agency", "state", "due_at"]),
            models.Index(fields=["agency", "received_at"]),
            models.Index(fields=["author", "-received_at"]),
            models.Index(fields=["dossier_code"]),
        ]

    def __str__(self) -> str:
        return self.code
