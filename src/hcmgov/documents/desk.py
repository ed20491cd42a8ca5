"""Digitisation at the one-stop-shop desk (số hoá hồ sơ, thành phần hồ sơ tại bộ phận một cửa):
the paper components of a dossier received in person or by post are scanned against the procedure's
required documents, so that every component of every dossier is held electronically (Decree
107/2021/NĐ-CP amending Decree 61/2018/NĐ-CP; Circular 01/2023/TT-VPCP; read from secondary
sources, not checked against the texts here).

**"Every component digitised"** (Decision 766/QĐ-TTg, indicator 4.2, as the platform measures it):
a dossier's *components* are the required documents of its procedure version that are handed in —
``required`` (the default) and not ``kind: present`` (shown at the desk or read from the population
database: nothing is handed in to digitise). A component is *held electronically* when the dossier
has a file for it (uploaded online, or reused from the data store: ``DossierDocument``) or the desk
scanned it for this dossier (a :class:`Component` with the dossier's code as
``source_dossier_code`` and the requirement as ``doc_type``, not revoked). A dossier whose
procedure asks for no component has nothing on paper: it counts as digitised.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from hcmgov.common.errors import DomainError, Message
from hcmgov.documents.models import Component, ComponentKind, ComponentState
from hcmgov.documents.services import component_digitise
from hcmgov.dossiers import selectors as dossiers

CLOSED_STATUSES = {3, 7}  # not received (its paper went back), withdrawn: nothing left to digitise


def components_of(required_documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The components of a procedure version's ``required_documents``: handed in, so digitised."""
    return [d for d in required_documents if d.get("required", True) and d.get("kind") != "present"]


def all_digitised(required_documents: list[dict[str, Any]], held: set[str]) -> bool:
    return all(d["code"] in held for d in components_of(required_documents))


@dataclass(frozen=True)
class DeskRow:
    """One required document of a dossier as the desk sees it."""

    code: str
    name: str
    name_en: str
    component: bool  # handed in (to be digitised), not only shown
    how: str  # "uploaded", "reused", "scanned" or "" (not held electronically)
    component_code: str = ""


def dossier_desk_rows(*, dossier: Any) -> list[DeskRow]:
    """Each required document of ``dossier`` and how it is held electronically, if it is."""
    files = {d.requirement: d for d in dossier.documents.all()}
    scanned = {
        c.doc_type: c
        for c in Component.objects.filter(source_dossier_code=dossier.code, kind=ComponentKind.COMPONENT)
        .exclude(state=ComponentState.REVOKED)
        .order_by("created_at", "id")
    }
    wanted = {d["code"] for d in components_of(dossier.procedure_version.required_documents)}
    rows = []
    for doc in dossier.procedure_version.required_documents:
        code = doc["code"]
        file, scan = files.get(code), scanned.get(code)
        if file is not None:
            how, component_code = ("reused" if file.component_code else "uploaded"), file.component_code
        elif scan is not None:
            how, component_code = "scanned", scan.code
        else:
            how, component_code = "", ""
        rows.append(DeskRow(code, doc.get("name", code), doc.get("name_en", ""), code in wanted, how, component_code))
    return rows


def desk_component_scan(
    *, official: Any, dossier: Any, requirement: str, filename: str, data: bytes, now: dt.datetime | None = None
) -> Component:
    """Record the scan of a paper component of ``dossier`` for its required document
    ``requirement``: a component of the applicant's data store with the dossier's code, ``pending``
    until an official confirms it matches the paper (``services.component_digitise``: the file is
    checked and scanned for malware first, the official's role at the dossier's agency too)."""
    doc = next((d for d in dossier.procedure_version.required_documents if d["code"] == requirement), None)
    if doc is None or doc not in components_of(dossier.procedure_version.required_documents):
        raise DomainError(
            "unknown_document",
            Message(
                f"«{requirement}» không phải thành phần hồ sơ cần số hoá của thủ tục này.",
                f"“{requirement}” is not a component of this procedure's dossier to digitise.",
            ),
            422,
        )
    if dossier.status in CLOSED_STATUSES:
        raise DomainError(
            "dossier_closed",
            Message(
                "Hồ sơ không được tiếp nhận hoặc đã rút: không số hoá.",
                "The dossier was not received or was withdrawn.",
            ),
            409,
        )
    if any(row.code == requirement and row.how for row in dossier_desk_rows(dossier=dossier)):
        raise DomainError(
            "already_digitised",
            Message(
                "Thành phần này đã có bản điện tử. Thu hồi bản sai trước khi quét lại.",
                "This component is held electronically already. Revoke a wrong scan before scanning again.",
            ),
            409,
        )
    return component_digitise(
        official=official,
        agency_id=dossier.agency_id,
        owner=dossier.applicant,
        doc_type=requirement,
        title=doc.get("name") or requirement,
        title_en=doc.get("name_en") or "",
        filename=filename,
        data=data,
        dossier_code=dossier.code,
        now=now,
    )


# --- the analytics warehouse (Decision 766/QĐ-TTg, 4.2) --------------------------------------------


def warehouse_components_digitised(*, codes: list[str]) -> dict[str, bool]:
    """For each of the dossiers ``codes``: every component held electronically (see the module's
    definition). Three queries for the whole chunk; a code that is no dossier is left out (NULL)."""
    versions, files = dossiers.required_and_files(codes=codes)
    held: dict[str, set[str]] = {code: set(found) for code, found in files.items()}
    scans = (
        Component.objects.filter(source_dossier_code__in=codes, kind=ComponentKind.COMPONENT)
        .exclude(state=ComponentState.REVOKED)
        .values_list("source_dossier_code", "doc_type")
    )
    for code, doc_type in scans:
        held.setdefault(code, set()).add(doc_type)
    return {code: all_digitised(required, held.get(code, set())) for code, required in versions.items()}


def warehouse_digitised_changed(*, since: dt.datetime) -> set[str]:
    """Dossiers a desk scan of which was made, confirmed or revoked at or after ``since`` (a file
    added to the dossier itself moves the dossier's own row, which the dossiers app reports)."""
    return set(
        Component.objects.filter(updated_at__gte=since, kind=ComponentKind.COMPONENT)
        .exclude(source_dossier_code="")
        .values_list("source_dossier_code", flat=True)
        .distinct()
    )
