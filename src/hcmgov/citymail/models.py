"""The city e-mail's records (mailboxes of officials and agencies).

The city's mail system itself (storage, webmail, spam filtering) is the city's, not ours
(docs/decisions/0028-city-email.md): a :class:`Mailbox` is the platform's record of an address it
provisioned on the city's domain, whom it belongs to, and its state — what the directory shows,
where arrival mails go, and what the plan's target "officials using the city e-mail" counts.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower


class MailboxKind(models.TextChoices):
    PERSONAL = "personal", "Hộp thư cá nhân"
    FUNCTIONAL = "functional", "Hộp thư chức năng của cơ quan"


class MailboxState(models.TextChoices):
    ACTIVE = "active", "Đang hoạt động"
    SUSPENDED = "suspended", "Tạm khóa"
    CLOSED = "closed", "Đã đóng"


class Mailbox(models.Model):
    """A city mailbox: an official's own (``owner``; one open at most per official) or an agency's
    functional one (``owner`` empty: the clerical office's, the agency's general address).

    ``address`` is unique case-insensitively (RFC 5321 § 2.4: the domain is case-insensitive and
    mail systems treat local parts so in practice), stored lower-case. A closed mailbox keeps its
    address: it is never given to another person (mail meant for the first would reach the second).
    ``agency`` is the official's agency when provisioned (the first of their roles by agency code),
    or the agency a functional mailbox serves; ``display_name`` and ``title`` are the directory's
    copy of the name and roles at the last provisioning run."""

    address = models.EmailField(max_length=254)
    kind = models.CharField(max_length=12, choices=MailboxKind.choices, default=MailboxKind.PERSONAL)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="city_mailboxes"
    )
    agency = models.ForeignKey("core.Agency", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    display_name = models.CharField(max_length=200)
    search_name = models.CharField(max_length=200, blank=True, help_text="The name without diacritics, lower-case.")
    title = models.CharField(max_length=300, blank=True)
    state = models.CharField(max_length=10, choices=MailboxState.choices, default=MailboxState.ACTIVE)
    created_at = models.DateTimeField()
    suspended_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("address"), name="citymail_address_unique_ci"),
            models.UniqueConstraint(
                fields=["owner"],
                condition=~models.Q(state="closed") & models.Q(owner__isnull=False),
                name="citymail_one_open_mailbox_per_official",
            ),
            models.CheckConstraint(
                condition=(models.Q(kind="personal", owner__isnull=False) | models.Q(kind="functional", owner=None)),
                name="citymail_owner_matches_kind",
            ),
        ]
        indexes = [models.Index(fields=["agency", "state"], name="citymail_agency_state")]
        verbose_name_plural = "mailboxes"

    def __str__(self) -> str:
        return self.address
