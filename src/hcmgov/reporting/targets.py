"""The targets of the city's 2021–2025 plan for IT in state agencies, digital government and
information security: each target, its 2025 value, and its live value from the platform's data,
by agency and level and, where the data has a history, per month.

A target the platform holds no data for is returned with ``measurable=False`` and the reason,
never with a number. Docs: ``docs/reporting/plan-targets.md``.

Sources: dossiers from the warehouse (``warehouse.selectors``); the procedure catalogue, accounts,
officials and connected systems from their apps' selectors (counts only, never a person's data).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import duckdb
from django.conf import settings
from django.utils import timezone

from hcmgov.catalog import selectors as catalog
from hcmgov.exchange import selectors as exchange
from hcmgov.identity import selectors as identity
from hcmgov.office import selectors as office
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
               reason="the catalogue does not record which full-process services are integrated with the national "
               "portal"),
    PlanTarget("authenticated", "Transactions authenticated electronically", "Giao dịch được xác thực điện tử", 1.0,
               reason="no record of the transactions on the city's systems and how each was authenticated"),
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
               0.8, reason="needs the register of the city's periodic reporting regimes, those kept outside "
               "the platform included: the platform knows only the templates it runs"),
    PlanTarget("city_email", "Officials using the city e-mail", "Cán bộ sử dụng thư điện tử công vụ", 1.0,
               source="identity: officials with an address on the city's e-mail domains ÷ officials (current)"),
)  # fmt: skip
REASONS_VI = {
    "online_integrated": "danh mục không ghi nhận DVCTT toàn trình nào đã tích hợp Cổng DVC quốc gia",
    "authenticated": "không có ghi nhận các giao dịch trên hệ thống của Thành phố và cách xác thực từng giao dịch",
    "reports_online": "cần danh mục các chế độ báo cáo định kỳ của Thành phố, kể cả các báo cáo ngoài nền tảng: "
                      "nền tảng chỉ biết các mẫu báo cáo nó vận hành",
}  # fmt: skip
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
    for r in warehouse.dossiers_online_by_month(con=con):
        key = {"city": "", "agency": r["agency_code"], "level": r["procedure_level"] or ""}[r["scope"]]
        out.append(TargetValue("dossiers_online", r["scope"], key, r["month"], r["online"], r["dossiers"]))
    return out


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
    """Officials (holding a role in an agency) with an address on the city's e-mail domains
    (setting ``CITY_EMAIL_DOMAINS``) ÷ officials, per agency and for the city (an official is
    counted once per agency they hold a role in)."""
    domains = list(getattr(settings, "CITY_EMAIL_DOMAINS", []) or [])
    if not domains:
        raise NotMeasurableError(
            "the city's e-mail domains are not configured (setting CITY_EMAIL_DOMAINS)",
            "chưa khai báo tên miền thư điện tử công vụ của Thành phố (HCMGOV_CITY_EMAIL_DOMAINS)",
        )
    rows = identity.official_email_counts(domains=domains)
    values = [TargetValue("city_email", "agency", r["agency_code"], "", r["city_email"], r["officials"]) for r in rows]
    return [
        TargetValue("city_email", "city", "", "", sum(v.numerator for v in values), sum(v.denominator for v in values)),
        *values,
    ]


def periodic_reports_on_system() -> list[TargetValue]:
    """Periodic reports made on the reporting system ÷ periodic reports the city's units must make,
    per agency and period. The reporting cycle (``reporting.services``) runs the templates it holds,
    but the denominator is every reporting regime of the city, most of them still on paper or in
    other systems: not measurable until that register exists (issue note)."""
    raise NotMeasurableError(BY_KEY["reports_online"].reason, BY_KEY["reports_online"].reason_vi)


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
            values = compute(con=con) if compute is dossiers_online else compute()
        except NotMeasurableError as exc:
            reports.append(TargetReport(target, reason=str(exc), reason_vi=exc.vi))
            continue
        reports.append(TargetReport(target, values=values))
    return reports
