"""The applicant's postal choices on a dossier: receive the result by post, or send the paper
dossier by post (a postman collects it). Two steps without JavaScript: the address is sent, the
carrier's fee is shown, the applicant confirms. Thin: parse, call, render."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from hcmgov.common.access import applicant_required
from hcmgov.common.errors import DomainError, Message
from hcmgov.core import selectors as core
from hcmgov.dossiers import services
from hcmgov.web.responses import visible_dossier
from hcmgov.web.templatetags.bilingual import msg

KINDS = {"ket-qua": "result", "nop-ho-so": "pickup"}
_CHANGED = Message(
    "Cước phí đã thay đổi theo địa chỉ mới; vui lòng xem lại và xác nhận.",
    "The postage changed with the new address: please check it and confirm.",
)


def wards() -> list[Any]:
    """The city's wards, communes and special zone in force today, by name."""
    structure = core.structure_at(day=timezone.localdate())
    return sorted(core.unit_list(structure=structure.key, level="commune"), key=lambda u: u.name)


def _address(request: HttpRequest, user: Any) -> dict[str, str]:
    post = request.POST
    return {
        "name": post.get("name", user.full_name or "")[:150],
        "phone": post.get("phone", user.phone or "")[:20],
        "address": post.get("address", "")[:300],
        "ward_code": post.get("ward_code", "")[:8],
    }


@applicant_required
@require_http_methods(["GET", "POST"])
def by_post(request: HttpRequest, code: str, kind: str) -> HttpResponse:
    """GET: the address form. POST ``step=quote``: the fee for that address; ``step=confirm``: done."""
    if kind not in KINDS:
        raise Http404(kind)
    dossier = visible_dossier(request, code)
    what = KINDS[kind]
    user: Any = request.user
    to = {"name": user.full_name or "", "phone": getattr(user, "phone", "") or "", "address": "", "ward_code": ""}
    quote, error = None, None
    if request.method == "POST":
        to = _address(request, user)
        try:
            quote = services.delivery_quote_for(dossier=dossier, to=to, kind=what)
            shown = request.POST.get("quoted_fee", "")
            confirmed = request.POST.get("step") == "confirm"
            if confirmed and shown.isdigit() and int(shown) == quote.fee:
                return _confirm(request, dossier, what, to)
            if confirmed:  # the address changed after the fee was shown: show the new fee first
                messages.warning(request, msg(_CHANGED))
        except DomainError as exc:
            error = exc
    return render(
        request,
        "web/postal.html",
        {"dossier": dossier, "kind": kind, "what": what, "to": to, "quote": quote, "error": error, "wards": wards()},
        status=422 if error is not None and error.status in {400, 422} else 200,
    )


def _confirm(request: HttpRequest, dossier: Any, what: str, to: dict[str, str]) -> HttpResponse:
    if what == "result":
        services.dossier_choose_post(dossier=dossier, applicant=request.user, to=to)
        done = Message("Đã đăng ký nhận kết quả qua bưu chính.", "The result will come by post.")
    else:
        order = services.dossier_send_by_post(dossier=dossier, applicant=request.user, sender=to)
        done = Message(
            f"Đã đặt bưu tá đến nhận hồ sơ giấy. Số hiệu bưu gửi: {order.tracking_number}.",
            f"A postman will collect the paper dossier. Tracking number: {order.tracking_number}.",
        )
    messages.success(request, msg(done))
    return redirect(reverse("web:dossier", args=[dossier.code]) + "#buu-chinh")
