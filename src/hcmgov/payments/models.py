"""Fees owed for dossiers, their payment through gateways or at the counter, refunds, receipts and
the reconciliation of the gateway's daily statement (thanh toán trực tuyến, biên lai).

The books: a :class:`PaymentOrder` is what one dossier owes at one stage; each attempt to pay it
through a gateway is a :class:`GatewayTransaction` with its own reference (VNPay's ``vnp_TxnRef``:
a failed or abandoned attempt is never reused). An order is paid exactly once — by the first
transaction the gateway confirms, or by cash at the counter — and any further confirmed
transaction for it is an overpayment, refunded. Every callback the gateway sends is kept
(:class:`GatewayCallback`) whatever its fate, so the books can be rebuilt from what arrived.
Money is an integer number of đồng.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Stage(models.TextChoices):
    """When the fee is due: before processing (the dossier waits in status 6 until paid) or when
    the result is handed over (the result is held in status 6 until paid)."""

    SUBMISSION = "submission", "Khi nộp hồ sơ"
    RESULT = "result", "Khi nhận kết quả"


class OrderState(models.TextChoices):
    DUE = "due", "Chưa thanh toán"
    PAID = "paid", "Đã thanh toán"
    CANCELLED = "cancelled", "Đã hủy"
    REFUNDED = "refunded", "Đã hoàn tiền"


class Method(models.TextChoices):
    VNPAY = "vnpay", "Cổng thanh toán (VNPay)"
    NATIONAL = "national", "Nền tảng thanh toán của Cổng DVCQG"
    CASH = "cash", "Tiền mặt tại bộ phận một cửa"


ONLINE_METHODS = (Method.VNPAY, Method.NATIONAL)


class PaymentOrder(models.Model):
    """What one dossier owes at one stage: the fee lines (as computed by ``payments.fees``, kept
    as they were shown to the applicant) and their total. At most one live (not cancelled) order
    per dossier and stage."""

    dossier = models.ForeignKey("dossiers.Dossier", on_delete=models.PROTECT, related_name="+")
    dossier_code = models.CharField(max_length=48)
    procedure_code = models.CharField(max_length=16)
    agency = models.ForeignKey("core.Agency", on_delete=models.PROTECT, related_name="+")
    payer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    payer_name = models.CharField(max_length=150)
    stage = models.CharField(max_length=10, choices=Stage.choices)
    lines = models.JSONField(help_text="Fee lines: code, name, name_en, kind, unit_amount, quantity, amount, basis.")
    amount = models.PositiveBigIntegerField(help_text="Total in đồng.")
    state = models.CharField(max_length=10, choices=OrderState.choices, default=OrderState.DUE)
    method = models.CharField(max_length=10, choices=Method.choices, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    paid_transaction = models.OneToOneField(
        "GatewayTransaction", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cashier_label = models.CharField(max_length=150, blank=True, help_text="Official who took cash at the counter.")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["dossier", "stage"], condition=~Q(state="cancelled"), name="payment_order_live_unique"
            ),
            # an order is paid exactly once: a paid order names how and when, an unpaid one neither
            models.CheckConstraint(
                condition=Q(state="due", paid_at__isnull=True) | ~Q(state="due"), name="payment_order_due_unpaid"
            ),
        ]
        indexes = [models.Index(fields=["dossier"]), models.Index(fields=["state", "created_at"])]

    def __str__(self) -> str:
        return f"{self.dossier_code}/{self.stage} {self.amount}đ {self.state}"


class TxnState(models.TextChoices):
    PENDING = "pending", "Đang chờ thanh toán"
    SUCCEEDED = "succeeded", "Thành công"
    FAILED = "failed", "Không thành công"
    EXPIRED = "expired", "Hết hạn"


class GatewayTransaction(models.Model):
    """One attempt to pay an order through a gateway, under its own reference (``ref``: VNPay's
    ``vnp_TxnRef``). Confirmed once, by the first valid callback or query that reports it; what the
    gateway said is kept."""

    order = models.ForeignKey(PaymentOrder, on_delete=models.PROTECT, related_name="transactions")
    gateway = models.CharField(max_length=10, choices=Method.choices)
    ref = models.CharField(max_length=40, unique=True)
    amount = models.PositiveBigIntegerField(help_text="Đồng, as sent to the gateway.")
    state = models.CharField(max_length=10, choices=TxnState.choices, default=TxnState.PENDING)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    settled_at = models.DateTimeField(null=True, blank=True)
    settled_via = models.CharField(max_length=10, blank=True, help_text="ipn, return or query.")
    response_code = models.CharField(max_length=4, blank=True)
    gateway_txn_no = models.CharField(max_length=40, blank=True)
    bank_code = models.CharField(max_length=20, blank=True)
    bank_txn_no = models.CharField(max_length=60, blank=True)
    card_type = models.CharField(max_length=20, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True, help_text="The gateway's payment time.")
    overpaid = models.BooleanField(default=False, help_text="Confirmed after the order was already paid: refunded.")
    client_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "expires_at"]), models.Index(fields=["paid_at"])]

    def __str__(self) -> str:
        return f"{self.gateway}:{self.ref} {self.state}"


class GatewayCallback(models.Model):
    """Every IPN or return call that reached us, valid or not, with our answer: the raw record the
    books can be checked against."""

    gateway = models.CharField(max_length=10, choices=Method.choices)
    kind = models.CharField(max_length=10, help_text="ipn or return.")
    ref = models.CharField(max_length=40, blank=True, db_index=True)
    params = models.JSONField()
    signature_ok = models.BooleanField()
    answer = models.CharField(max_length=4, help_text="Our RspCode (IPN), or the outcome (return).")
    received_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.kind} {self.ref} → {self.answer}"


class RefundState(models.TextChoices):
    REQUESTED = "requested", "Đã yêu cầu hoàn tiền"
    DONE = "done", "Đã hoàn tiền"
    FAILED = "failed", "Hoàn tiền không thành công"


class Refund(models.Model):
    """Money given back: a refused or stopped dossier that was paid, or an overpayment. One per
    transaction (refunds are full here: the fee is given back whole)."""

    transaction = models.OneToOneField(GatewayTransaction, on_delete=models.PROTECT, related_name="refund")
    amount = models.PositiveBigIntegerField()
    reason = models.CharField(max_length=300)
    state = models.CharField(max_length=10, choices=RefundState.choices, default=RefundState.REQUESTED)
    request_id = models.CharField(max_length=40, unique=True, help_text="vnp_RequestId of the refund call.")
    response_code = models.CharField(max_length=4, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    requested_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return f"refund {self.transaction.ref} {self.state}"


class Receipt(models.Model):
    """The electronic receipt for fees and charges (biên lai thu phí, lệ phí điện tử), numbered per
    series without gaps (the number is drawn in the transaction that records the payment).
    Its content follows Decree 123/2020/NĐ-CP, Art. 32 (receipts for fees and charges); see
    ``payments.receipts``."""

    order = models.OneToOneField(PaymentOrder, on_delete=models.PROTECT, related_name="receipt")
    series = models.CharField(max_length=40, help_text="Ký hiệu biên lai: agency code and year.")
    number = models.PositiveIntegerField()
    issued_at = models.DateTimeField()
    collector_name = models.CharField(max_length=200)
    payer_name = models.CharField(max_length=150)
    lines = models.JSONField()
    amount = models.PositiveBigIntegerField()
    method = models.CharField(max_length=10, choices=Method.choices)
    cancelled_at = models.DateTimeField(null=True, blank=True, help_text="Set when the fee was refunded.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["series", "number"], name="receipt_number_unique")]

    def __str__(self) -> str:
        return f"{self.series} {self.number:07d}"


class ReconciliationRun(models.Model):
    """One comparison of a gateway's daily statement with our transactions."""

    gateway = models.CharField(max_length=10, choices=Method.choices)
    day = models.DateField()
    statement_sha256 = models.CharField(max_length=64)
    statement_rows = models.PositiveIntegerField()
    matched = models.PositiveIntegerField()
    mismatched = models.PositiveIntegerField()
    ran_at = models.DateTimeField()

    class Meta:
        ordering = ["-day", "-ran_at"]

    def __str__(self) -> str:
        return f"{self.gateway} {self.day}: {self.mismatched} mismatches"


class Mismatch(models.Model):
    """A difference between the statement and our books, for the finance officer to resolve."""

    KINDS = {
        "missing_here": ("Giao dịch có trên sao kê nhưng không có trong sổ", "On the statement, not in our books"),
        "missing_there": (
            "Giao dịch thành công trong sổ nhưng không có trên sao kê",
            "In our books, not on the statement",
        ),
        "amount": ("Số tiền khác nhau", "Amounts differ"),
        "status": ("Trạng thái khác nhau", "States differ"),
    }

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="mismatches")
    kind = models.CharField(max_length=16)
    ref = models.CharField(max_length=40)
    ours = models.JSONField(null=True)
    theirs = models.JSONField(null=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.kind} {self.ref}"


class Beneficiary(models.Model):
    """Where an agency's fees go: the account the national payment platform's bill names (the
    state treasury account of the collecting agency), with the budget classification of the
    revenue. Kept by the finance officers (admin); without it no national bill is made."""

    agency = models.OneToOneField("core.Agency", on_delete=models.PROTECT, related_name="+")
    account_number = models.CharField(max_length=40)
    account_name = models.CharField(max_length=200)
    bank_code = models.CharField(max_length=20)
    bank_name = models.CharField(max_length=200)
    treasury_code = models.CharField(max_length=20, help_text="Mã Kho bạc Nhà nước.")
    treasury_name = models.CharField(max_length=200)
    revenue_chapter = models.CharField(max_length=10, blank=True, help_text="Chương (mục lục ngân sách).")
    revenue_item = models.CharField(max_length=10, blank=True, help_text="Tiểu mục (mục lục ngân sách).")
    valid_from = models.DateField(
        default=timezone.localdate,
        help_text="Ngày tài khoản bắt đầu nhận tiền / the day the account takes payments from: the agency's fee "
        "procedures count as paid online through the national platform from then (Decision 766, indicator 3.2).",
    )

    def __str__(self) -> str:
        return f"{self.agency_id}: {self.account_number} ({self.bank_code})"
