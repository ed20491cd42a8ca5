"""The rules of a procedure's publicity (công khai TTHC) that the service-quality index of Decision
766/QĐ-TTg reads (indicators 1.1, 1.2, 1.3): the publication deadline, the national database's
update deadline, and the parts a procedure must publish. Pure functions over plain values: the
counting is ``reporting.quality_catalogue``'s; the facts are the catalogue's (``Publication``,
``DeskPosting``, the versions). Docs: ``docs/reporting/index-766-publicity.md``.

**Deadlines, in working days** (the civil-service calendar, ``core.workcalendar``: weekends,
public holidays and declared swaps are not counted; day 1 is the working day after the start).

* ``PUBLISH_WORKING_DAYS`` (setting ``CATALOG_PUBLISH_WORKING_DAYS``, default **5**): the Chairman
  of the City People's Committee publishes a procedure within 5 working days of the day the
  ministry's publication decision it implements was issued — Decree 63/2010/NĐ-CP Art. 15 as
  amended by Decree 92/2017/NĐ-CP, detailed by Circular 02/2017/TT-VPCP. **Confidence: medium-low.**
  The texts were not read here; secondary sources quote both "within 5 working days of the
  ministry's decision" and "no later than 5 (or 20) working days before the legal text takes
  effect". We count from the ministry's decision (the reference date the national database
  records), which is the rule for procedures a ministry publishes for the provinces to apply.
* ``NATIONAL_DB_WORKING_DAYS`` (setting ``CATALOG_NATIONAL_DB_WORKING_DAYS``, default **5**): the
  published procedure is put (or updated) on the national database within 5 working days of the
  publication decision — Decree 63/2010/NĐ-CP Art. 24 as amended by Decree 92/2017/NĐ-CP.
  **Confidence: medium-low** (the number is quoted as 5 by secondary sources; not read in the text).

Both are settings so that a confirmed reading changes a number, not the code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings

from hcmgov.core.workcalendar import WorkCalendar, add_working_days

# The parts of a procedure the city must publish (Decree 63/2010/NĐ-CP Art. 8 as amended by
# Decree 48/2013/NĐ-CP; Circular 02/2017/TT-VPCP): key → (Vietnamese, English)
PARTS: dict[str, tuple[str, str]] = {
    "name": ("Tên thủ tục", "Name"),
    "steps": ("Trình tự thực hiện", "Order of steps"),
    "submission": ("Cách thức thực hiện", "Way of submission"),
    "documents": ("Thành phần, số lượng hồ sơ", "Required documents"),
    "time": ("Thời hạn giải quyết", "Processing time"),
    "fees": ("Phí, lệ phí", "Fees"),
    "result": ("Kết quả thực hiện", "Result"),
    "legal_basis": ("Căn cứ pháp lý", "Legal basis"),
    "forms": ("Mẫu đơn, tờ khai", "Forms"),
    "applicants": ("Đối tượng thực hiện", "Who may apply"),
}


def publish_working_days() -> int:
    return int(getattr(settings, "CATALOG_PUBLISH_WORKING_DAYS", 5))


def national_db_working_days() -> int:
    return int(getattr(settings, "CATALOG_NATIONAL_DB_WORKING_DAYS", 5))


def publication_deadline(reference_date: dt.date, *, calendar: WorkCalendar | None = None) -> dt.date:
    """The last day the Chairman may sign the publication decision (1.1)."""
    return add_working_days(reference_date, publish_working_days(), calendar=calendar)


def national_update_deadline(decision_date: dt.date, *, calendar: WorkCalendar | None = None) -> dt.date:
    """The last day the procedure may be put or updated on the national database (1.2)."""
    return add_working_days(decision_date, national_db_working_days(), calendar=calendar)


def published_on_time(
    *, decision_date: dt.date, reference_date: dt.date | None, calendar: WorkCalendar | None = None
) -> bool | None:
    """Whether the decision was signed by the deadline; None when the reference date is unknown
    (the publication is then left out of 1.1, never counted late)."""
    if reference_date is None:
        return None
    return decision_date <= publication_deadline(reference_date, calendar=calendar)


def updated_on_time(
    *, decision_date: dt.date, national_updated_on: dt.date | None, calendar: WorkCalendar | None = None
) -> bool | None:
    """Whether the national database was updated by the deadline; None while it is not updated."""
    if national_updated_on is None:
        return None
    return national_updated_on <= national_update_deadline(decision_date, calendar=calendar)


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _fees_published(fees: Any) -> bool:
    """Fees are published when every line names the fee and says its amount (0: exempt; None:
    "as set by the City People's Council", which is a published rule too); no line at all is the
    published fact "no fee"."""
    if not isinstance(fees, list):
        return False
    return all(isinstance(f, Mapping) and _text(f.get("name")) and "amount" in f for f in fees)


def _forms_published(form_schema: Any, documents: Any) -> bool:
    """The declaration is published as the online form (a schema with fields), or as a document's
    prescribed template."""
    if isinstance(form_schema, Mapping) and form_schema.get("properties"):
        return True
    return isinstance(documents, list) and any(isinstance(d, Mapping) and d.get("template") for d in documents)


def parts_held(
    *, name: str, online_level: str, statutory_days: int | None, fees: Any, required_documents: Any,
    legal_basis: Any, result: str, form_schema: Any, steps: Any, applicants: Any,
) -> dict[str, bool]:  # fmt: skip
    """Which of ``PARTS`` a version holds (non-empty): the portal's procedure page renders the
    version in force, so a part held is a part the portal publishes."""
    return {
        "name": _text(name),
        "steps": isinstance(steps, Sequence) and not isinstance(steps, str) and any(_text(s) for s in steps),
        "submission": online_level in ("full", "partial"),
        "documents": isinstance(required_documents, list) and bool(required_documents),
        "time": statutory_days is not None,
        "fees": _fees_published(fees),
        "result": _text(result),
        "legal_basis": isinstance(legal_basis, list) and any(_text(b) for b in legal_basis),
        "forms": _forms_published(form_schema, required_documents),
        "applicants": isinstance(applicants, list) and any(_text(a) for a in applicants),
    }


def has_positive_fee(fees: Any) -> bool:
    """A fee procedure: a fee line with an amount above zero (``Procedure.has_fee``'s rule, read on
    a version so that a past period sees the fees then in force)."""
    return isinstance(fees, list) and any(isinstance(f, Mapping) and (f.get("amount") or 0) > 0 for f in fees)
