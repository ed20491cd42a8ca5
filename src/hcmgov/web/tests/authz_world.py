"""The objects and the actors the authorization matrices run over (pages:
``test_authorization_matrix.py`` here; the API: ``tests/api/test_authorization_matrix.py``).

Citizen A submits two dossiers at agency X: the first is received, waits for a supplement and
carries an apology (so every Form 01-04 of it exists); the second was refused (Form 03). A sent
feedback to X and gave a consent. The actors: anonymous, another citizen, an official holding
every role in another agency, an official holding every role in X but only for another procedure
field, A, the right official (every role in X, every field), and a platform administrator."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from hcmgov.core.tests.factories import AgencyFactory
from hcmgov.core.workcalendar import default_calendar
from hcmgov.documents import services as store
from hcmgov.documents.models import Result, SigningCertificate
from hcmgov.dossiers import selectors, services
from hcmgov.dossiers.models import DossierStep
from hcmgov.feedback import services as feedback_services
from hcmgov.identity import services as identity_services
from hcmgov.identity.tests.factories import RoleAssignmentFactory, UserFactory
from hcmgov.payments import services as payment_services

ANONYMOUS = "anonymous"
OTHER_CITIZEN = "other citizen"
OTHER_OFFICIAL = "official of another agency"
OTHER_FIELD = "official of the agency, another field"
APPLICANT = "the applicant"
RIGHT_OFFICIAL = "the right official"
ADMIN = "administrator"
ACTORS = (ANONYMOUS, OTHER_CITIZEN, OTHER_OFFICIAL, OTHER_FIELD, APPLICANT, RIGHT_OFFICIAL, ADMIN)
CITIZENS = {OTHER_CITIZEN, APPLICANT}
OFFICIALS = {OTHER_OFFICIAL, OTHER_FIELD, RIGHT_OFFICIAL}
SIGNED_IN = set(ACTORS) - {ANONYMOUS}
# who a declared rule lets in, before any object is looked at: the pages' rules (view.access) and
# the API's (x-access) share one vocabulary
RULES = {
    "public": set(ACTORS),
    "applicant": CITIZENS,
    "official": OFFICIALS,
    "staff": {ADMIN},
    "authenticated": SIGNED_IN,
    "password-only": SIGNED_IN,
    "applicant-or-official": CITIZENS | OFFICIALS,
    "official-or-staff": OFFICIALS | {ADMIN},
    # the leaders' dashboards: officials holding the leader role (every official here does), administrators
    "leader-or-staff": OFFICIALS | {ADMIN},
}

ROLES = ("receiver", "specialist", "head", "leader", "clerk", "agency_admin")
ANOTHER_FIELD = "Lĩnh vực khác"


@dataclass
class World:
    users: dict[str, Any]  # actor → user (None: anonymous)
    dossier: Any  # awaiting a supplement, with an apology
    refused: Any  # not received (Form 03)
    step_id: int  # the open step of ``dossier``
    procedure_code: str
    feedback_code: str
    feedback_secret: str
    consent_id: int
    official_id: int  # an official of X (the agency administrator's pages)
    order_id: int  # the fee order of ``dossier``, paid in cash at the desk (its receipt)
    component_code: str  # a document of the applicant's data store, digitised at X
    verify_token: str  # the QR code's token of a result X issued for ``dossier``
    document_id: int  # a file of ``dossier``
    open_resource_id: str  # the resource of the open dataset "du-lieu-ma-tran" (the portal's download)
    # the report of X's unit for period REPORT_PERIOD of the demo template (the officials' report pages)
    report_unit: str = ""
    report_id: int = 0  # that report's id (the API's routes)
    # --- helper: office pages ---
    # an outgoing draft and a work record of X (the electronic office's pages, hcmgov.office)
    office_document_id: int = 0
    office_record_id: int = 0
    # --- end helper: office pages ---


def _official(agency: Any, field: str = "") -> Any:
    user = UserFactory(official=True)
    for role in ROLES:
        RoleAssignmentFactory(user=user, agency=agency, role=role, field=field)
    return user


def build_world(*, submit: Any, agency: Any, citizen: Any) -> World:
    right = _official(agency)
    users = {
        ANONYMOUS: None,
        OTHER_CITIZEN: UserFactory(),
        OTHER_OFFICIAL: _official(AgencyFactory()),
        OTHER_FIELD: _official(agency, field=ANOTHER_FIELD),
        APPLICANT: citizen,
        RIGHT_OFFICIAL: right,
        ADMIN: UserFactory(admin=True),
    }
    dossier, _ = submit(idempotency_key="matrix-1")
    services.dossier_receive(dossier=dossier, official=right)
    step = DossierStep.objects.get(dossier=dossier, state="open")
    services.dossier_request_supplement(
        dossier=dossier, official=right, step_id=step.pk, items=[{"document": "Tờ khai", "reason": "Thiếu chữ ký"}]
    )
    calendar = default_calendar()
    dossier.refresh_from_db()
    day = dossier.due_at.astimezone(calendar.tz).date() + dt.timedelta(days=1)
    while not calendar.is_working_day(day):
        day += dt.timedelta(days=1)
    services.dossier_apologize(dossier=dossier, official=right, reason="Cần xác minh thêm", new_date=day)
    refused, _ = submit(idempotency_key="matrix-2")
    services.dossier_refuse(dossier=refused, official=right, reason="Thiếu giấy tờ")
    feedback, _ = feedback_services.feedback_submit(
        author=citizen, agency_code=agency.code, subject="Thủ tục chậm", text="Hồ sơ của tôi bị chậm."
    )
    consent = identity_services.consent_grant(
        subject=citizen, purpose="prefill", recipient="registry", data_categories=["identity"]
    )
    order = payment_services.order_ensure(dossier_id=dossier.pk)
    assert order is not None, "the factory's procedure has a fee"
    payment_services.order_pay_cash(order=order, official=right)
    dossier.refresh_from_db()
    document_id = dossier.documents.first().pk
    document, data = selectors.dossier_document_content(dossier=dossier, document_id=document_id)
    component = store.component_digitise(
        official=right, agency_id=agency.pk, owner=citizen, doc_type="TOKHAI", title="Tờ khai",
        filename=document.filename, data=data, dossier_code=dossier.code,
    )  # fmt: skip
    token = _result(dossier, agency, component)
    from hcmgov.opendata.tests import factories as opendata

    open_dataset = opendata.dataset(name="du-lieu-ma-tran")  # an open dataset (its DCAT-AP and portal pages)
    return World(
        users=users,
        dossier=dossier,
        refused=refused,
        step_id=step.pk,
        procedure_code=dossier.procedure.code,
        feedback_code=feedback.code,
        feedback_secret=feedback.secret,
        consent_id=consent.pk,
        official_id=right.pk,
        order_id=order.pk,
        component_code=component.code,
        verify_token=token,
        document_id=document_id,
        open_resource_id=str(open_dataset.resources.first().pk),
        **_report(agency),
        **_office(agency, right),  # --- helper: office pages --- (see _office)
    )


def _result(dossier: Any, agency: Any, component: Any) -> str:
    """A result row as the documents app records one (its signing is tested there; the pages
    about it only read the row)."""
    now = timezone.now()
    certificate = SigningCertificate.objects.create(
        agency=agency, subject=f"CN={agency.name}", issuer="CN=Test CA", serial="1", fingerprint_sha256="ab" * 32,
        not_before=now - dt.timedelta(days=1), not_after=now + dt.timedelta(days=365), certificate_pem="",
        source="demo", key_ref="none",
    )  # fmt: skip
    Result.objects.create(
        dossier=dossier, dossier_code=dossier.code, component=component, number="1/2026/KQ", title="Kết quả",
        agency=agency, certificate=certificate, signed_sha256="cd" * 32, signed_at=now, verify_token="matrix0token0001",
    )  # fmt: skip
    return "matrix0token0001"


# --- helper: office pages ---
def _office(agency: Any, official: Any) -> dict[str, Any]:
    """A draft outgoing document and a work record of X, made by the services (the right official
    holds every role there); a plain PDF as the draft (it passes the upload checks; nothing signs it)."""
    from hcmgov.documents.tests import crafted
    from hcmgov.office import records as office_records
    from hcmgov.office import services as office

    document = office.document_draft(
        official=official, agency_id=agency.pk, agency_abbreviation="UBND", doc_type="quyet_dinh",
        summary="Về việc thử ma trận phân quyền", data=crafted.pdf(), filename="du-thao.pdf",
    )  # fmt: skip
    record = office_records.record_open(
        official=official, agency_id=agency.pk, code="HS-MATRAN", title="Hồ sơ ma trận", lead=official
    )
    return {"office_document_id": document.pk, "office_record_id": record.pk}


# --- end helper: office pages ---


REPORT_TEMPLATE, REPORT_PERIOD = "TTHC-THANG", "2025-M09"


def _report(agency: Any) -> dict[str, Any]:
    """A period of the demo template opened for X's unit alone (a commune of 2025 with no unit
    above: X's own leaders review it); X's officials keep it. Its unit code and id."""
    from hcmgov.reporting import demo, selectors
    from hcmgov.reporting import services as reporting

    template = demo.demo_template_load()
    period = reporting.period_open(
        template=template, key=REPORT_PERIOD, structure=agency.unit.structure.key, unit_codes=[agency.unit.code]
    )
    report = selectors.report_get(period=period, unit_code=agency.unit.code)
    return {"report_unit": str(agency.unit.code), "report_id": report.pk}
