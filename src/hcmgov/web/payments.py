"""The applicant's payment pages: pay a dossier's fees through the gateway, come back from it, and
the receipt. Thin: parse, call the payments app, render or redirect."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from hcmgov.common.access import applicant_required, login_required, public
from hcmgov.common.errors import DomainError, Message
from hcmgov.dossiers import selectors as dossiers
from hcmgov.payments import receipts, selectors, services
from hcmgov.payments.adapters import vnpay
from hcmgov.web.responses import pdf_response, visible_dossier
from hcmgov.web.templatetags.bilingual import msg


@applicant_required
@require_POST
def pay(request: HttpRequest, code: str) -> HttpResponse:
    """Start paying the dossier's due fees: off to the gateway's page."""
    dossier = visible_dossier(request, code)
    try:
        started = services.dossier_pay_start(
            dossier_id=dossier.pk,
            user=request.user,
            ip=str(request.META.get("REMOTE_ADDR") or "127.0.0.1"),
            locale=getattr(request, "LANGUAGE_CODE", "vi") or "vi",
        )
    except DomainError as exc:
        messages.error(request, msg(exc.message))
        return redirect(reverse("web:dossier", args=[dossier.code]) + "#phi-le-phi")
    return redirect(started.redirect_url)


_OUTCOMES = {
    "97": Message(
        "Kết quả thanh toán không hợp lệ (sai chữ ký) nên không được ghi nhận. Nếu tài khoản đã bị trừ tiền, "
        "hệ thống sẽ đối soát với cổng thanh toán.",
        "The payment result is not valid (bad signature) and was not recorded. If your account was charged, "
        "the platform will reconcile it with the gateway.",
    ),
    "01": Message("Không tìm thấy giao dịch thanh toán này.", "This payment transaction is unknown."),
    "04": Message(
        "Số tiền thanh toán không khớp với số phải nộp; giao dịch không được ghi nhận.",
        "The amount paid does not match what is due; the transaction was not recorded.",
    ),
    "99": Message(
        "Có lỗi khi ghi nhận kết quả; vui lòng thử lại sau.",
        "The result could not be recorded; please try again later.",
    ),
}


@public
@require_http_methods(["GET"])
def payment_return(request: HttpRequest) -> HttpResponse:
    """Where the gateway sends the applicant's browser back, with the payment's signed result."""
    params = {k: str(v) for k, v in request.GET.items() if k.startswith("vnp_")}
    outcome = services.callback_handle(kind="return", params=params)
    txn = selectors.transaction_by_ref(ref=outcome.ref) if outcome.ref else None
    state, message = "error", _OUTCOMES.get(outcome.code, _OUTCOMES["99"])
    if txn is not None and outcome.code in {"00", "02"}:
        if txn.state == "succeeded" and txn.overpaid:
            state = "overpaid"
            message = Message(
                "Thanh toán thành công, nhưng phí của hồ sơ đã được nộp trước đó: khoản này sẽ được hoàn lại.",
                "The payment went through, but the fees had already been paid: this amount will be refunded.",
            )
        elif txn.state == "succeeded":
            state, message = "paid", Message("Thanh toán thành công. Cảm ơn bạn!", "Payment received. Thank you!")
        elif txn.state == "failed":
            state = "failed"
            message = vnpay.RESPONSE_TEXTS.get(txn.response_code, vnpay.RESPONSE_TEXTS["99"])
        else:
            state = "pending"
            message = Message("Đang chờ cổng thanh toán xác nhận.", "Waiting for the gateway's confirmation.")
    dossier = None
    if txn is not None and request.user.is_authenticated:
        try:
            dossier = dossiers.dossier_visible_to(user=request.user, code=txn.order.dossier_code)
        except DomainError:
            dossier = None
    return render(
        request,
        "web/payment_return.html",
        {"state": state, "message": message, "txn": txn, "dossier": dossier},
        status=400 if state == "error" and outcome.code in {"97", "04"} else 200,
    )


@login_required
@require_http_methods(["GET"])
def receipt_pdf(request: HttpRequest, code: str, order_id: int) -> HttpResponse:
    """The electronic receipt of a paid order of the dossier."""
    dossier = visible_dossier(request, code)
    receipt = selectors.receipt_for(order_id=order_id)
    if receipt is None or receipt.order.dossier_id != dossier.pk:
        raise Http404(str(order_id))
    return pdf_response(receipts.receipt_pdf(receipt), f"bien-lai-{receipt.series}-{receipt.number:07d}.pdf")
