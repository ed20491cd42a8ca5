"""The targets of the city's 2021–2025 plan for IT in state agencies, digital government and
information security: each target, its 2025 value, and its live value from the platform's data,
by agency and level and, where the data has a history, per month.

A target the platform holds no data for is returned with ``measurable=False`` and the reason,
never with a number. Docs: ``docs/reporting/plan-targets.md``.

Sources: dossiers from the warehouse (``warehouse.selectors``); the procedure catalogue, accounts,
officials and connected systems from their apps' selectors (counts only, never a person's data).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

import duckdb
from django.utils import timezone

from hcmgov.audit import selectors as audit
from hcmgov.catalog import selectors as catalog
from hcmgov.citymail import selectors as citymail
from hcmgov.exchange import selectors as exchange
from hcmgov.identity import selectors as identity
from hcmgov.office import selectors as office
from hcmgov.reporting import plan_rollup, regimes
from hcmgov.warehouse import selectors as warehouse


@dataclass(frozen=True)
class PlanTarget:
    """One target of the plan: its 2025 value (a share; per level where the plan sets one per level)."""

    key: str
    name: str
    name_vi: str
    target: float
    by_level: dict[str, float] = field(default_factory=dict)
    at_least: bool = False  # "≥ 50 %": the plan's wording
    source: str = ""
    reason: str = ""  # why it is not measurable ("": measurable)
    reason_vi: str = ""  # the same in Vietnamese (REASONS_VI), shown first

    @property
    def measurable(self) -> bool:
        return not self.reason


TARGETS: tuple[PlanTarget, ...] = (
    PlanTarget("online_integrated", "Full-process online services integrated with the National Public Service Portal",
               "DVCTT toàn trình tích hợp Cổng DVC quốc gia", 1.0,
               source="warehouse: full-process procedures with a dossier the national portal holds ÷ full-process "
               "procedures with dossiers, per month"),
    PlanTarget("authenticated", "Transactions authenticated electronically", "Giao dịch được xác thực điện tử", 1.0,
               source="audit: transactions whose actor authenticated electronically ÷ transactions, per month"),
    PlanTarget("eid_login", "People and businesses logging in with the national e-ID",
               "Người dân, doanh nghiệp đăng nhập bằng định danh điện tử", 0.4,
               source="identity: accounts with an e-ID login ÷ citizen and business accounts (current; no history)"),
    PlanTarget("dossiers_online", "Dossiers handled online", "Hồ sơ giải quyết trực tuyến", 0.5, at_least=True,
               source="warehouse: dossiers submitted online ÷ dossiers submitted, per month"),
    PlanTarget("procedures_online", "Procedures offered online", "TTHC cung cấp trực tuyến", 0.8,
               source="catalog: procedures offered full-process or partly online ÷ procedures (current)"),
    PlanTarget("systems_connected", "Information systems connected to the data-sharing platform",
               "Hệ thống thông tin kết nối nền tảng chia sẻ", 0.6,
               source="exchange: systems connected ÷ systems registered (current)"),
    PlanTarget("work_records_online", "Work records handled online", "Hồ sơ công việc xử lý trên môi trường mạng",
               0.9, by_level={"city": 0.9, "district": 0.8, "commune": 0.6},
               source="office: work records closed this year handled online ÷ those closed, per level"),
    PlanTarget("reports_online", "Periodic reports made on the reporting system", "Báo cáo định kỳ trên hệ thống",
               0.8, source="reporting: regimes in force made on the reporting system ÷ regimes in force, from the "
               "register of periodic reporting regimes (admin), per level (current; no history)"),
    PlanTarget("city_email", "Officials using the city e-mail", "Cán bộ sử dụng thư điện tử công vụ", 1.0,
               source="citymail: active officials with an active city mailbox ÷ active officials, per level "
               "(current; no history)"),
)  # fmt: skip
REASONS_VI: dict[str, str] = {}  # key → the reason a target is not measurable, in Vietnamese
TARGETS = tuple(replace(t, reason_vi=REASONS_VI.get(t.key, "")) for t in TARGETS)
BY_KEY = {t.key: t for t in TARGETS}


@dataclass(frozen=True)
class TargetValue:
    """A target's live value for one scope: the city, an agency, a level or a kind of account, in a
    month ("" : now, for data without a history)."""

    target: str
    scope: str  # city / agency / level / kind
    key: str  # "" for the city, else the agency code, level or kind
    month: str
    numerator: int
    denominator: int

    @property
    def rate(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None

    @property
    def goal(self) -> float:
        t = BY_KEY[self.target]
        return t.by_level.get(self.key, t.target) if self.scope == "level" else t.target

    @property
    def met(self) -> bool | None:
        rate = self.rate
        return None if rate is None else rate >= self.goal


@dataclass
class TargetReport:
    """One target with its values, or why it has none."""

    target: PlanTarget
    values: list[TargetValue] = field(default_factory=list)
    reason: str = ""
    reason_vi: str = ""

    @property
    def measurable(self) -> bool:
        return not self.reason


class NotMeasurableError(Exception):
    """A target's source is not in place yet; the message says why (``vi``: in Vietnamese)."""

    def __init__(self, reason: str, vi: str = "") -> None:
        super().__init__(reason)
        self.vi = vi


# --- one function per target -----------------------------------------------------------------------


def dossiers_online(*, con: duckdb.DuckDBPyConnection | None = None) -> list[TargetValue]:
    """Per month: dossiers submitted online ÷ dossiers submitted, for the city, per agency and per
    level of the procedure (Decree 42/2022/NĐ-CP: an online dossier is filed through the portal)."""
    out = []
    for r in warehouse.dossiers_online_by_month(con=con, grain=plan_rollup.rolled_up("online", con=con)):
        key = {"city": "", "agency": r["agency_code"], "level": r["procedure_level"] or ""}[r["scope"]]
        out.append(TargetValue("dossiers_online", r["scope"], key, r["month"], r["online"], r["dossiers"]))
    return out


def online_integrated(*, con: duckdb.DuckDBPyConnection | None = None) -> list[TargetValue]:
    """Per month: procedures offered full-process online (Decree 42/2022/NĐ-CP) that had dossiers,
    and those of them integrated with the National Public Service Portal — read as: at least one of
    their dossiers of the month is held by the portal (``exchange``'s pushes, extracted per dossier
    into the warehouse) — for the city and per agency. A procedure with no dossier in the month is
    not counted: the catalogue holds no integration state of its own."""
    values = [
        TargetValue("online_integrated", r["scope"], r["agency_code"], r["month"], r["on_portal"], r["procedures"])
        for r in warehouse.full_process_on_portal_by_month(con=con, figures=plan_rollup.rolled_up("portal", con=con))
    ]
    if not values:
        raise NotMeasurableError(
            "the warehouse holds no dossier whose synchronisation with the national portal is known yet",
            "kho dữ liệu phân tích chưa có hồ sơ nào biết trạng thái đồng bộ với Cổng DVC quốc gia",
        )
    return values


MONTHS_BACK = 12


def authenticated_transactions(*, today: dt.date | None = None, months: int = MONTHS_BACK) -> list[TargetValue]:
    """Per city month, the last ``months`` months up to ``today``: the platform's transactions
    (``audit.selectors.TRANSACTION_ACTIONS``: dossiers submitted, supplemented, withdrawn and acted
    on) whose actor authenticated electronically (assurance level 1 or more, recorded on each audit
    event from the login) ÷ transactions; a month without a transaction is left out. City only: the
    audit trail's reading is one query per period and set of agencies."""
    today = today or timezone.localdate()
    year, month = today.year, today.month
    starts = []
    for _ in range(months):
        starts.append(dt.date(year, month, 1))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    values = []
    for start in reversed(starts):
        following = dt.date(start.year + start.month // 12, start.month % 12 + 1, 1)
        share = audit.authenticated_transactions(start=start, end=min(today, following - dt.timedelta(days=1)))
        if share.transactions:
            values.append(TargetValue("authenticated", "city", "", f"{start:%Y-%m}", share.authenticated,
                                      share.transactions))  # fmt: skip
    return values


def procedures_online() -> list[TargetValue]:
    """Procedures of the catalogue offered online (full-process or partly) ÷ procedures, per level and for the city."""
    rows = catalog.procedure_online_counts()
    values = [
        TargetValue("procedures_online", "level", r["level"], "", r["full"] + r["partial"], r["total"]) for r in rows
    ]
    online, total = sum(v.numerator for v in values), sum(v.denominator for v in values)
    return [TargetValue("procedures_online", "city", "", "", online, total), *values]


def eid_login() -> list[TargetValue]:
    """Citizen and business accounts that have logged in with the national e-ID ÷ accounts."""
    counts = identity.eid_account_counts()
    values = [TargetValue("eid_login", "kind", str(kind), "", c["eid"], c["accounts"]) for kind, c in counts.items()]
    eid, accounts = sum(v.numerator for v in values), sum(v.denominator for v in values)
    return [TargetValue("eid_login", "city", "", "", eid, accounts), *values]


def systems_connected() -> list[TargetValue]:
    """Information systems connected to the city's data-sharing platform ÷ systems registered."""
    counts = exchange.systems_count()
    return [TargetValue("systems_connected", "city", "", "", counts.get("connected", 0), sum(counts.values()))]


def city_email() -> list[TargetValue]:
    """Active officials (holding a role in force) with an active city mailbox ÷ active officials,
    per level of their agencies (an official with roles at two levels counts at each) and for the
    city (each official once), from the city e-mail's provisioning (``citymail.selectors``). A
    mailbox provisioned is what the platform knows: whether it is read is the city mail system's."""
    figures = citymail.mailbox_coverage_by_level()
    values = [
        TargetValue("city_email", "level", level, "", f["with_mailbox"], f["officials"])
        for level, f in figures.items()
        if level != "all" and f["officials"]
    ]
    total = figures["all"]
    return [TargetValue("city_email", "city", "", "", total["with_mailbox"], total["officials"]), *values]


def periodic_reports_on_system(*, day: dt.date | None = None) -> list[TargetValue]:
    """Periodic reporting regimes in force made on the reporting system ÷ regimes in force, for the
    city and per level that reports under them, from the register of the city's regimes
    (``reporting.regimes``: a regime is made on the system when a template the platform runs is
    linked to it; the others are kept on paper, by e-mail or in a ministry's system). Current, no
    history. Not measurable while the register holds no regime in force."""
    shares = regimes.regime_shares(day=day)
    if not shares or not shares[0].in_force:
        raise NotMeasurableError(
            "the register of periodic reporting regimes holds no regime in force",
            "danh mục chế độ báo cáo định kỳ chưa có chế độ nào đang có hiệu lực",
        )
    return [TargetValue("reports_online", s.scope, s.key, "", s.on_system, s.in_force) for s in shares]


def work_records_online(*, year: int | None = None) -> list[TargetValue]:
    """Work records of the year closed or archived (their handling over) that were handled online ÷
    those records, per level of their agency (city 90 %, district 80 %, commune 60 %) and for the
    city, from the electronic office (``office.selectors.records_online_by_level``: online when
    every document of the record is electronic and handled on the platform)."""
    figures = office.records_online_by_level(year=year or timezone.localdate().year)
    values = [
        TargetValue("work_records_online", "level", level, "", f["online"], f["total"])
        for level, f in sorted(figures.items())
    ]
    online, total = sum(v.numerator for v in values), sum(v.denominator for v in values)
    return [TargetValue("work_records_online", "city", "", "", online, total), *values]


_COMPUTE: dict[str, Any] = {
    "online_integrated": online_integrated,
    "authenticated": authenticated_transactions,
    "eid_login": eid_login,
    "dossiers_online": dossiers_online,
    "procedures_online": procedures_online,
    "systems_connected": systems_connected,
    "city_email": city_email,
    "reports_online": periodic_reports_on_system,
    "work_records_online": work_records_online,
}


def plan_targets(*, con: duckdb.DuckDBPyConnection | None = None) -> list[TargetReport]:
    """Every target of the plan with its live values, or the reason it has none."""
    reports = []
    for target in TARGETS:
        compute = _COMPUTE.get(target.key)
        if compute is None:
            reports.append(TargetReport(target, reason=target.reason, reason_vi=target.reason_vi))
            continue
        try:
            values = compute(con=con) if compute in (dossiers_online, online_integrated) else compute()
        except NotMeasurableError as exc:
            reports.append(TargetReport(target, reason=str(exc), reason_vi=exc.vi))
            continue
        reports.append(TargetReport(target, values=values))
    return reports
