"""The application form's steps and drafts (issue 14, item 1): the progress shown above the form
("Bước 2/4"), which step holds an error, and saving, resuming and discarding a draft. The form stays
one page that submits everything in one POST (no JavaScript, and the browser carries the files): the
steps are its sections, and the indicator links to them and marks those that need fixing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from hcmgov.common import jsonform
from hcmgov.drafts import selectors as drafts_read
from hcmgov.drafts import services as drafts
from hcmgov.web.templatetags.bilingual import t


@dataclass(frozen=True)
class Step:
    number: int
    anchor: str
    vi: str
    en: str
    done: bool = False
    has_error: bool = False


STEPS = (
    ("chon-thu-tuc", "Chọn thủ tục", "Choose the procedure"),
    ("buoc-to-khai", "Cơ quan tiếp nhận và tờ khai", "Agency and declaration"),
    ("buoc-giay-to", "Giấy tờ kèm theo", "Attached documents"),
    ("buoc-nop", "Kiểm tra và nộp", "Check and submit"),
)


def steps(*, version: Any, errors: list[Any]) -> list[Step]:
    """The four steps of applying, the first done (the applicant chose the procedure to get here),
    each of the others marked when an error of the submission falls in it."""
    doc_codes = {doc["code"] for doc in version.required_documents}
    in_docs = any(e.field in doc_codes for e in errors)
    in_form = any(e.field not in doc_codes for e in errors)
    flags = (False, in_form, in_docs, False)
    return [
        Step(n, anchor, vi, en, done=n == 1, has_error=flags[n - 1])
        for n, (anchor, vi, en) in enumerate(STEPS, start=1)
    ]


def reuse_posted(request: HttpRequest, version: Any) -> dict[str, str]:
    return {
        doc["code"]: request.POST.get(f"reuse-{doc['code']}", "")
        for doc in version.required_documents
        if f"reuse-{doc['code']}" in request.POST
    }


def draft_action(request: HttpRequest, *, procedure: Any, version: Any) -> HttpResponse | None:
    """Handle the form's "save as draft" and "discard the draft" buttons (``action``); None for a
    submission. A draft keeps what was typed, unchecked; the files are chosen again on submission."""
    action = request.POST.get("action", "")
    user: Any = request.user
    if action == "draft":
        drafts.draft_save(
            user=user,
            procedure_code=procedure.code,
            agency_code=request.POST.get("agency", "").replace("\x00", ""),
            form_data=jsonform.coerce(version.form_schema, request.POST),
            reuse=reuse_posted(request, version),
        )
        messages.success(
            request,
            t(
                "Đã lưu bản nháp. Bạn có thể tiếp tục bất cứ lúc nào từ trang “Hồ sơ của tôi”.",
                "Draft saved. You can go on at any time from “My dossiers”.",
            ),
        )
        return redirect("web:dossier_new", code=procedure.code)
    if action == "discard":
        drafts.draft_discard(user=user, procedure_code=procedure.code)
        messages.success(request, t("Đã xoá bản nháp.", "The draft was deleted."))
        if request.POST.get("back") == "list":
            return redirect("web:my_dossiers")
        return redirect("web:dossier_new", code=procedure.code)
    return None


def resumed(*, user: Any, procedure: Any, prefill: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The saved draft, if any, and the form's values: what the city prefills, overlaid by what the
    applicant typed into the draft (their own words win)."""
    draft = drafts_read.draft_get(user=user, procedure_code=procedure.code)
    if draft is None:
        return None, prefill["data"]
    return draft, _overlay(prefill["data"], draft.form_data or {})


def _overlay(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        out[key] = _overlay(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def submitted(*, user: Any, procedure: Any) -> None:
    """The dossier is in: its draft has served (a draft of another procedure stays)."""
    drafts.draft_discard(user=user, procedure_code=procedure.code)


def drafts_of(*, user: Any) -> list[Any]:
    """The applicant's drafts, for "Hồ sơ của tôi"."""
    return list(drafts_read.draft_list(user=user))
