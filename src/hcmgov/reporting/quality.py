"""The service-quality index of Decision 766/QĐ-TTg (23 Jun 2022): 100 points in five groups, each
indicator's formula, threshold and points, per agency (or administrative unit) per month or quarter,
and the dossiers behind a figure.

**How sure we are.** The five group totals (18, 20, 22, 22, 18) are the Decision's. The split of each
group into indicators and their points is a third party's reconstruction from the national
portal's formula workbook (DOMAIN.md, "Service-quality index"); every indicator carries its
``confidence`` so that pages and exports can say so. Where the Decision's threshold was not read,
points are pro rata to 100 % (a threshold of 1.0), never a guessed threshold.

**Where the figures come from.** Dossier-based indicators are counted by DuckDB over the warehouse's
Parquet files (``warehouse.selectors``), ratings from the warehouse's ``ratings`` table, feedback
through ``feedback.selectors``. An indicator the platform holds no data for is returned with
``measurable=False`` and the reason, never with a number; a dossier whose fact is unknown (NULL in
the warehouse: recorded only since a date, or not extracted yet) is left out of its figure.
Docs: ``docs/reporting/index-766.md``.

**Speed.** The dossier counts are additive over dossiers, and every dossier lives in one partition
file (its month of submission), so each partition's counts are cached under the file's signature
(path, size, modification time) and the index is their sum: a refresh that rewrites one partition
recomputes that partition only. The finished index is cached under the signature of every file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from django.core.cache import cache
from django.utils import timezone

from hcmgov.feedback import selectors as feedback
from hcmgov.reporting import quality_catalogue as catalogue
from hcmgov.reporting.quality_certification import certification_parts
from hcmgov.warehouse import selectors as warehouse

Period = Literal["month", "quarter"]
By = Literal["agency", "unit"]
GROUP_COLUMNS: dict[str, str] = {"agency": "agency_code", "unit": "unit_code"}
STEP_MONTHS: dict[str, int] = {"month": 1, "quarter": 3}
CITY_TZ = "Asia/Ho_Chi_Minh"
CITY_OFFSET_US = 7 * 3600 * 1_000_000  # UTC+7, no daylight saving since 1975
CACHE_SECONDS = 24 * 3600
OFFICIAL, RECONSTRUCTED = "official", "reconstructed"


@dataclass(frozen=True)
class IndexIndicator:
    """One indicator of the index: what it measures, how, for how many points, and from what."""

    key: str
    group: int
    name: str
    name_vi: str
    points: float
    formula: str
    threshold: float = 1.0  # the rate earning full points; pro rata below (1.0: pro rata to 100 %)
    source: str = ""
    confidence: str = RECONSTRUCTED
    reason: str = ""  # why it is not measurable ("" : measurable)
    formula_vi: str = ""  # the formula, the reason and the source in Vietnamese (VI, SOURCE_VI), shown first
    reason_vi: str = ""
    source_vi: str = ""

    @property
    def measurable(self) -> bool:
        return not self.reason


GROUPS: dict[int, tuple[str, str, float]] = {  # official group totals (Decision 766/QĐ-TTg)
    1: ("Publicity and transparency", "Công khai, minh bạch", 18),
    2: ("Processing progress", "Tiến độ giải quyết", 20),
    3: ("Online service and payment", "Dịch vụ công trực tuyến và thanh toán trực tuyến", 22),
    4: ("Digitisation", "Mức độ số hoá hồ sơ", 22),
    5: ("Satisfaction", "Mức độ hài lòng", 18),
}

INDICATORS: tuple[IndexIndicator, ...] = (
    IndexIndicator("1.1", 1, "Procedures published on time", "Công bố TTHC đúng hạn", 6,
                   "publication decisions signed within 5 working days of the ministry's decision ÷ decisions, "
                   "by month signed", source="catalog: publications (from the national database of procedures)"),
    IndexIndicator("1.2", 1, "Procedures updated on the national database on time",
                   "Cập nhật TTHC lên CSDL quốc gia đúng hạn", 4,
                   "procedures put on the national database within 5 working days of their publication decision "
                   "÷ procedures put there, by month put there",
                   source="catalog: publications (from the national database of procedures)"),
    IndexIndicator("1.3", 1, "All parts of each procedure published", "Công khai đầy đủ các nội dung TTHC", 2,
                   "procedures whose version in force holds every part and is the one posted at the one-stop desk "
                   "÷ procedures with a recorded desk posting, at the period's end",
                   source="catalog: versions (texts from the national database of procedures) and desk postings"),
    IndexIndicator("1.4", 1, "Dossiers synchronised to the National Public Service Portal",
                   "Đồng bộ hồ sơ lên Cổng DVC quốc gia", 6,
                   "dossiers the portal holds (a status change delivered) ÷ dossiers received, by month submitted",
                   source="warehouse: dossiers (portal_synced, from exchange)"),
    IndexIndicator("2.1", 2, "Dossiers finished or in progress within the due date", "Hồ sơ xử lý đúng hạn", 20,
                   "(dossiers finished early or on time + dossiers in progress not yet due) ÷ (dossiers finished "
                   "+ dossiers in progress) in the period; time waiting for a supplement not counted; more than one "
                   "supplement request counts as late", source="warehouse: dossiers"),
    IndexIndicator("3.1", 3, "Full-process online dossiers", "Hồ sơ trực tuyến toàn trình", 12,
                   "dossiers submitted online ÷ dossiers of procedures offered as a full-process online service",
                   source="warehouse: dossiers"),
    IndexIndicator("3.2", 3, "Fee procedures integrated for online payment", "TTHC có phí tích hợp thanh toán", 2,
                   "fee procedures of an agency with a beneficiary account (the national payment platform's bill "
                   "can be made) ÷ fee procedures, at the period's end",
                   source="catalog: versions; payments: beneficiary accounts on record by the period's end"),
    IndexIndicator("3.3", 3, "Fee procedures with an online payment", "TTHC có phát sinh thanh toán trực tuyến", 2,
                   "fee procedures with at least one dossier paid online ÷ fee procedures with dossiers",
                   source="warehouse: dossiers"),
    IndexIndicator("3.4", 3, "Dossiers paid online", "Hồ sơ thanh toán trực tuyến", 6,
                   "dossiers paid online ÷ dossiers of fee procedures", source="warehouse: dossiers"),
    IndexIndicator("4.1", 4, "Electronic results", "Kết quả điện tử", 6,
                   "dossiers with an electronic result in force ÷ dossiers finished (status 9, 10), by month finished",
                   source="warehouse: dossiers (result_electronic, from documents)"),
    IndexIndicator("4.2", 4, "Digitised dossier components", "Số hoá thành phần hồ sơ", 4,
                   "dossiers received whose every component (required document handed in) is held electronically "
                   "— uploaded, reused from the data store, or scanned at the desk — ÷ dossiers received, by month "
                   "submitted", source="warehouse: dossiers (components_digitised, from documents)"),
    IndexIndicator("4.3", 4, "Electronic certified copies", "Chứng thực bản sao điện tử", 2,
                   "copies certified electronically from the original ÷ copies certified (entries of the "
                   "certification book), by month certified", source="documents: certification book (database)"),
    IndexIndicator("4.4", 4, "Reuse of digitised data", "Tái sử dụng dữ liệu số hoá", 2,
                   "dossiers reusing a component of the data store ÷ dossiers submitted", source="warehouse: dossiers"),
    IndexIndicator("4.5", 4, "Link with the personal data store", "Kết nối kho dữ liệu cá nhân", 4,
                   "finished dossiers whose electronic result is in the applicant's data store ÷ finished dossiers "
                   "with an electronic result, by month finished",
                   source="warehouse: dossiers (result_in_store, from documents)"),
    IndexIndicator("4.6", 4, "Use of the national population database", "Khai thác CSDL quốc gia về dân cư", 2,
                   "dossiers with a fact checked against the population database ÷ dossiers submitted, by month "
                   "submitted", source="warehouse: dossiers (population_checked, from registry)"),
    IndexIndicator("4.7", 4, "Use of the e-ID", "Sử dụng định danh điện tử", 2,
                   "dossiers submitted online after an e-ID login ÷ dossiers submitted online whose login is "
                   "known, by month submitted", source="warehouse: dossiers (submitted_auth)"),
    IndexIndicator("5.2", 5, "Feedback handled on time", "Phản ánh, kiến nghị xử lý đúng hạn", 6,
                   "feedback closed on time ÷ feedback closed, by month received", source="feedback (database)"),
    IndexIndicator("5.3", 5, "Satisfaction with the handling of feedback", "Hài lòng về xử lý phản ánh", 6,
                   "answers not rated \"not satisfied\" ÷ answers rated", source="feedback (database)"),
    IndexIndicator("5.4", 5, "Satisfaction with procedures", "Hài lòng về giải quyết TTHC", 6,
                   "ratings not \"not satisfied\" (score 3–5) ÷ ratings, by month rated", source="warehouse: ratings"),
)  # fmt: skip
# key → (formula, reason when not measurable) in Vietnamese, as the pages show them first
VI: dict[str, tuple[str, str]] = {
    "1.1": ("quyết định công bố ký trong 5 ngày làm việc kể từ quyết định của Bộ ÷ quyết định công bố, theo tháng "
            "ký", ""),
    "1.2": ("TTHC đưa lên CSDL quốc gia trong 5 ngày làm việc kể từ quyết định công bố ÷ TTHC đã đưa lên, theo "
            "tháng đưa lên", ""),
    "1.3": ("TTHC có phiên bản đang áp dụng đủ các nội dung và là bản niêm yết tại bộ phận một cửa ÷ TTHC có ghi "
            "nhận niêm yết, tại cuối kỳ", ""),
    "1.4": ("hồ sơ Cổng DVC quốc gia đã có (đã gửi được một thay đổi trạng thái) ÷ hồ sơ đã tiếp nhận, theo "
            "tháng nộp", ""),
    "2.1": ("(hồ sơ giải quyết trước hạn hoặc đúng hạn + hồ sơ đang giải quyết chưa đến hạn) ÷ (hồ sơ đã giải "
            "quyết + hồ sơ đang giải quyết) trong kỳ; không tính thời gian chờ bổ sung; yêu cầu bổ sung quá một "
            "lần tính là trễ hạn", ""),
    "3.1": ("hồ sơ nộp trực tuyến ÷ hồ sơ của các TTHC cung cấp DVCTT toàn trình", ""),
    "3.2": ("TTHC có phí của cơ quan đã khai báo tài khoản thụ hưởng (lập được hoá đơn Nền tảng thanh toán quốc "
            "gia) ÷ TTHC có phí, tại cuối kỳ", ""),
    "3.3": ("TTHC có phí có ít nhất một hồ sơ thanh toán trực tuyến ÷ TTHC có phí có hồ sơ", ""),
    "3.4": ("hồ sơ thanh toán trực tuyến ÷ hồ sơ của TTHC có phí", ""),
    "4.1": ("hồ sơ có kết quả điện tử còn hiệu lực ÷ hồ sơ đã giải quyết xong (trạng thái 9, 10), theo tháng "
            "giải quyết xong", ""),
    "4.2": ("hồ sơ đã tiếp nhận có mọi thành phần (giấy tờ phải nộp) ở dạng điện tử — nộp trực tuyến, dùng lại "
            "từ kho dữ liệu hoặc số hoá tại bộ phận một cửa — ÷ hồ sơ đã tiếp nhận, theo tháng nộp", ""),
    "4.3": ("lượt chứng thực bản sao điện tử từ bản chính ÷ lượt chứng thực bản sao từ bản chính (sổ chứng thực), "
            "theo tháng chứng thực", ""),
    "4.4": ("hồ sơ dùng lại thành phần trong kho dữ liệu ÷ hồ sơ nộp", ""),
    "4.5": ("hồ sơ đã giải quyết có kết quả điện tử trong kho dữ liệu của người nộp ÷ hồ sơ đã giải quyết có kết "
            "quả điện tử, theo tháng giải quyết xong", ""),
    "4.6": ("hồ sơ có thông tin được đối chiếu với CSDL quốc gia về dân cư ÷ hồ sơ nộp, theo tháng nộp", ""),
    "4.7": ("hồ sơ nộp trực tuyến sau khi đăng nhập bằng định danh điện tử ÷ hồ sơ nộp trực tuyến biết cách đăng "
            "nhập, theo tháng nộp", ""),
    "5.2": ("phản ánh, kiến nghị xử lý xong đúng hạn ÷ phản ánh, kiến nghị đã xử lý xong, theo tháng tiếp nhận", ""),
    "5.3": ("trả lời không bị đánh giá \"không hài lòng\" ÷ trả lời được đánh giá", ""),
    "5.4": ("đánh giá không \"không hài lòng\" (3–5 điểm) ÷ lượt đánh giá, theo tháng đánh giá", ""),
}  # fmt: skip
_PUB = "danh mục TTHC: quyết định công bố (từ CSDL quốc gia về TTHC)"
_WH = "kho dữ liệu: hồ sơ"
# key → the source in Vietnamese (the English is ``IndexIndicator.source``)
SOURCE_VI: dict[str, str] = {
    "1.1": _PUB, "1.2": _PUB,
    "1.3": "danh mục TTHC: phiên bản (nội dung từ CSDL quốc gia về TTHC) và niêm yết tại bộ phận một cửa",
    "1.4": "kho dữ liệu: hồ sơ (đồng bộ Cổng DVC quốc gia, từ trục liên thông)", "2.1": _WH, "3.1": _WH,
    "3.2": "danh mục TTHC: phiên bản; thanh toán: tài khoản thụ hưởng (không có ngày: trạng thái hôm nay)",
    "3.3": _WH, "3.4": _WH, "4.1": "kho dữ liệu: hồ sơ (kết quả điện tử, từ quản lý văn bản)",
    "4.2": "kho dữ liệu: hồ sơ (thành phần đã số hoá, từ quản lý văn bản)",
    "4.3": "sổ chứng thực (cơ sở dữ liệu)", "4.4": _WH,
    "4.5": "kho dữ liệu: hồ sơ (kết quả trong kho dữ liệu cá nhân)",
    "4.6": "kho dữ liệu: hồ sơ (đối chiếu CSDL quốc gia về dân cư)",
    "4.7": "kho dữ liệu: hồ sơ (cách đăng nhập khi nộp)", "5.2": "phản ánh, kiến nghị (cơ sở dữ liệu)",
    "5.3": "phản ánh, kiến nghị (cơ sở dữ liệu)", "5.4": "kho dữ liệu: đánh giá",
}  # fmt: skip
INDICATORS = tuple(
    replace(i, formula_vi=VI[i.key][0], reason_vi=VI[i.key][1], source_vi=SOURCE_VI[i.key]) for i in INDICATORS
)
BY_KEY = {i.key: i for i in INDICATORS}
UNIT_FEEDBACK = ("feedback is addressed to agencies, not units",
                 "phản ánh, kiến nghị gửi đến cơ quan, không theo đơn vị hành chính")  # fmt: skip
# by administrative unit: the indicators that do not apply, and why (the others are counted by unit)
UNIT_NOT_APPLICABLE: dict[str, tuple[str, str]] = {
    "5.2": UNIT_FEEDBACK, "5.3": UNIT_FEEDBACK, **dict.fromkeys(catalogue.KEYS, catalogue.UNIT_PROCEDURES),
}  # fmt: skip


@dataclass
class Figure:
    """One indicator for one agency (or unit) and period: the counts, the rate, the points."""

    key: str
    numerator: int = 0
    denominator: int = 0
    measurable: bool = True
    reason: str = ""
    reason_vi: str = ""

    @property
    def rate(self) -> float | None:
        return self.numerator / self.denominator if self.measurable and self.denominator else None

    @property
    def points(self) -> float | None:
        rate = self.rate
        if rate is None:
            return None
        ind = BY_KEY[self.key]
        return round(ind.points * min(1.0, rate / ind.threshold), 4)


@dataclass
class IndexRow:
    """The whole index of one agency (or unit) for one period."""

    period: str
    key: str  # agency code or unit code
    figures: dict[str, Figure] = field(default_factory=dict)

    def group_points(self, group: int) -> tuple[float, float]:
        """(points earned, points measurable) of a group: indicators without data are left out of both."""
        got = [(f.points, BY_KEY[f.key].points) for f in self.figures.values() if BY_KEY[f.key].group == group]
        earned = [(p, most) for p, most in got if p is not None]
        return round(sum(p for p, _ in earned), 4), sum(most for _, most in earned)

    @property
    def total(self) -> tuple[float, float]:
        pairs = [self.group_points(g) for g in GROUPS]
        return round(sum(p[0] for p in pairs), 4), sum(p[1] for p in pairs)


# --- the dossier counts (DuckDB) -------------------------------------------------------------------
# One place for each indicator's rule: the figure and the drill-down read the same predicates.

_COLUMNS = (
    "code", "agency_code", "unit_code", "procedure_code", "channel", "status", "fee_required", "fee_paid_online",
    "online_level", "components_reused", "supplement_count", "on_time", "timeliness",
    "submitted_auth", "portal_synced", "result_electronic", "result_in_store", "population_checked",
    "components_digitised",
)  # fmt: skip
_TIMES = ("submitted_at", "received_at", "due_at", "finished_at", "suspended_at")


def _base(src: str, grp: str, present: set[str] | None, chunk: str = "0") -> str:
    """The dossiers with city-local times (a file written before a column existed reads it as NULL)."""
    cols = [c if present is None or c in present else f"NULL AS {c}" for c in _COLUMNS]
    # city time by a fixed shift, integer arithmetic: Asia/Ho_Chi_Minh has been UTC+7 with no
    # daylight saving since 1975, and DuckDB's time-zone conversion costs ~0.3 s per column per 5 M rows
    times = [
        f"make_timestamp(epoch_us({c}) + {CITY_OFFSET_US}) AS {c[:-3]}"
        if present is None or c in present
        else f"CAST(NULL AS TIMESTAMP) AS {c[:-3]}"
        for c in _TIMES
    ]
    return f"SELECT {', '.join(cols)}, {', '.join(times)}, coalesce({grp}, '') AS grp, {chunk} AS chunk FROM {src}"  # noqa: S608


# In progress at the end E of a period: late when more than one supplement was requested, or when E
# is past the due moment — unless a supplement is awaited since before E, when the clock stood still
# at that moment (late only if it was already past due then). ``due`` is already moved by every
# answered supplement (dossiers.services.supplements), so suspended time is never counted.
_LATE_AT_E = (
    "(supplement_count > 1 OR CASE WHEN suspended IS NOT NULL AND suspended < e THEN suspended > due ELSE e > due END)"
)


def _progress(unit: str, step: int, *, code: bool = True) -> str:
    """2.1's rows: (code, grp, p, ok) for each dossier finished in p, and for each p at whose end a
    received dossier was still in progress. A dossier finished is classed once, at its finish, by
    ``dossiers.clock.timeliness`` (``on_time``); withdrawn and stopped dossiers (7, 8) leave.
    ``code=False``: without the code (the counts do not need it; reading it costs)."""
    return f"{_progress_finished(unit, code=code)}\nUNION ALL\n{_progress_open(unit, step, code=code)}"


def _progress_finished(unit: str, *, code: bool = True) -> str:
    """2.1's rows of the dossiers finished, in the period they finished in."""
    c = "code, " if code else ""
    return f"""
    SELECT {c}chunk, grp, date_trunc('{unit}', finished) AS p, on_time AS ok
    FROM d WHERE finished IS NOT NULL AND timeliness IS NOT NULL"""  # noqa: S608 - unit from STEP_MONTHS


# the dossiers that may be in progress at the end of some period (at any moment judged at): received,
# and not finished, or finished in a later month than received (``_progress_open`` keeps those
# received before the moment judged at, and for quarters those finished in a later quarter)
_MAYBE_OPEN = """received IS NOT NULL AND ((finished IS NULL AND status NOT IN (3, 7, 8))
    OR (timeliness IS NOT NULL AND date_trunc('month', finished) > date_trunc('month', received)))"""


def _progress_open(unit: str, step: int, *, code: bool = True) -> str:
    """2.1's rows of the dossiers in progress at the end of each period (or at ``$as_of``)."""
    c = "code, " if code else ""
    return f"""
    SELECT {c}chunk, grp, p, NOT {_LATE_AT_E} AS ok FROM (
        SELECT {c}chunk, grp, p, supplement_count, due, suspended, least(p + to_months({step}), $as_of) AS e FROM (
            SELECT {c}chunk, grp, supplement_count, due, suspended, unnest(generate_series(
                date_trunc('{unit}', received),
                CASE WHEN finished IS NULL THEN date_trunc('{unit}', $as_of)
                     ELSE date_trunc('{unit}', finished) - to_months({step}) END,
                to_months({step}))) AS p
            FROM d
            WHERE received IS NOT NULL AND received < $as_of
              AND ((finished IS NULL AND status NOT IN (3, 7, 8))
                   OR (timeliness IS NOT NULL AND date_trunc('{unit}', finished) > date_trunc('{unit}', received)))
        )
    )"""  # noqa: S608 - unit and step come from STEP_MONTHS, never from input


# indicator → (the dossiers counted, those meeting it), by the period the dossier was submitted in.
# A fact that is NULL is unknown (a file older than its column, a dossier submitted before the login
# method was recorded, an app whose facts are not extracted yet): the dossier is left out of the
# figure, which has no number while nothing is known — never a zero.
_SUBMITTED_RULES: dict[str, tuple[str, str]] = {
    "1.4": ("received IS NOT NULL AND portal_synced IS NOT NULL", "portal_synced"),
    "3.1": ("online_level = 'full'", "channel = 2"),
    "3.4": ("fee_required", "fee_paid_online"),
    "4.2": ("received IS NOT NULL AND components_digitised IS NOT NULL", "components_digitised"),
    "4.4": ("TRUE", "coalesce(components_reused, 0) > 0"),
    "4.6": ("population_checked IS NOT NULL", "population_checked"),
    "4.7": ("channel = 2 AND coalesce(submitted_auth, '') <> ''", "submitted_auth = 'eid'"),
}
# … by the period the dossier's processing finished in (9 finished, 10 result returned)
_FINISHED_RULES: dict[str, tuple[str, str]] = {
    "4.1": ("status IN (9, 10) AND result_electronic IS NOT NULL", "result_electronic"),
    "4.5": ("status IN (9, 10) AND coalesce(result_electronic, FALSE)", "coalesce(result_in_store, FALSE)"),
}
# the figures ``index_dossiers`` lists the dossiers of
DRILLABLE: tuple[str, ...] = tuple(sorted(("2.1", "3.3", *_SUBMITTED_RULES, *_FINISHED_RULES)))


def _rule_counts(rules: dict[str, tuple[str, str]]) -> str:
    return ",\n".join(
        f"count(*) FILTER (WHERE {den}) AS n{i}, count(*) FILTER (WHERE ({den}) AND ({num})) AS ok{i}"
        for i, (den, num) in enumerate(rules.values())
    )


def _rule_rows(rules: dict[str, tuple[str, str]], source: str) -> str:
    return "\n".join(
        f"UNION ALL SELECT '{k}', chunk, p, grp, n{i}, ok{i} FROM {source}"  # noqa: S608 - keys of the rules
        for i, k in enumerate(rules)
    )


def _additive_sql(unit: str) -> str:
    """The counts that add up over months (a quarter's are its months'): the rules by the period
    submitted and finished, and 2.1's dossiers finished. Reads relation ``d`` (``_base``)."""
    return f"""
    WITH sub AS (SELECT chunk, date_trunc('{unit}', submitted) AS p, grp, {_rule_counts(_SUBMITTED_RULES)}
            FROM d GROUP BY ALL),
    fin AS (SELECT chunk, date_trunc('{unit}', finished) AS p, grp, {_rule_counts(_FINISHED_RULES)},
            count(*) FILTER (WHERE timeliness IS NOT NULL) AS nf, count(*) FILTER (WHERE timeliness IS NOT NULL
            AND on_time) AS okf FROM d WHERE finished IS NOT NULL GROUP BY ALL)
    SELECT '2.1' AS k, chunk, p, grp, nf AS n, okf AS ok FROM fin WHERE nf > 0
    {_rule_rows(_SUBMITTED_RULES, "sub")}
    {_rule_rows(_FINISHED_RULES, "fin")}"""  # noqa: S608 - unit from STEP_MONTHS


def _fee_pairs_sql(unit: str) -> str:
    """3.3's (period submitted, key, fee procedure) with whether any of its dossiers was paid online."""
    return f"""SELECT chunk, date_trunc('{unit}', submitted) AS p, grp, procedure_code,
    bool_or(fee_paid_online) AS paid_online FROM d WHERE fee_required GROUP BY ALL"""  # noqa: S608


def _fee_counts_sql(pairs: str) -> str:
    return f"""SELECT '3.3' AS k, chunk, p, grp, count(*) AS n, count(*) FILTER (WHERE paid_online) AS ok
    FROM ({pairs}) GROUP BY ALL"""  # noqa: S608 - the SQL of _fee_pairs_sql


def _open_counts_sql(unit: str, step: int) -> str:
    return f"""SELECT '2.1' AS k, chunk, p, grp, count(*) AS n, count(*) FILTER (WHERE ok) AS ok
    FROM ({_progress_open(unit, step, code=False)}) GROUP BY ALL"""  # noqa: S608


def _counts_sql(unit: str, step: int, base: str) -> str:
    """The counts of one chunk of dossiers in long form: (indicator, period start, key, counted,
    meeting). 2.1 has two rows a cell (the dossiers finished, those in progress): they are summed."""
    return f"""
    WITH d AS NOT MATERIALIZED ({base})
    SELECT * FROM ({_additive_sql(unit)})
    UNION ALL {_fee_counts_sql(_fee_pairs_sql(unit))}
    UNION ALL {_open_counts_sql(unit, step)}
    """  # noqa: S608


def _label_sql(period: str, column: str) -> str:
    if period == "month":
        return f"strftime({column}, '%Y-%m')"
    return f"CAST(year({column}) AS VARCHAR) || '-Q' || CAST(quarter({column}) AS VARCHAR)"


def _partial(con: duckdb.DuckDBPyConnection, src: str, present: set[str] | None, period: str, by: str,
             as_of: dt.datetime, chunk: str = "0") -> pa.Table:  # fmt: skip
    """The counts of ``src`` in long form, with the chunk (period of files) each row belongs to."""
    sql = _counts_sql(period, STEP_MONTHS[period], _base(src, GROUP_COLUMNS[by], present, chunk))
    return con.sql(sql, params={"as_of": as_of}).to_arrow_table()


PARTS_SCHEMA = pa.schema([
    ("k", pa.string()), ("p", pa.timestamp("us")), ("grp", pa.string()), ("n", pa.int64()), ("ok", pa.int64()),
])  # fmt: skip


_CHUNK_PARTS = pa.schema([*PARTS_SCHEMA, pa.field("chunk", pa.int64())])


def _to_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def _from_bytes(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(data).read_all()


def _signature(paths: Iterable[tuple[str, str]]) -> str:
    return hashlib.sha256("\n".join(f"{p}:{s}" for p, s in sorted(paths)).encode()).hexdigest()[:32]


_PARTITION = re.compile(r"year=(\d+)/month=(\d+)/")


def _chunks(files: list[tuple[str, str]], period: str) -> dict[int, list[tuple[str, str]]]:
    """The partition files grouped by the period their month of submission falls in (one file a
    month, up to three a quarter): the unit of caching. The id is ``_chunk_sql``'s."""
    groups: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for path, signature in files:
        found = _PARTITION.search(path)
        year, month = (int(found.group(1)), int(found.group(2))) if found else (0, 1)
        groups[year * 100 + (month - 1) // STEP_MONTHS[period]].append((path, signature))
    return dict(sorted(groups.items()))


def _chunk_sql(period: str) -> str:
    return f"(year * 100 + (month - 1) // {STEP_MONTHS[period]})"


def dossier_counts(
    *, period: Period = "month", by: By = "agency", as_of: dt.datetime | None = None,
    con: duckdb.DuckDBPyConnection | None = None, use_cache: bool = True, use_rollups: bool = True,
) -> pa.Table:  # fmt: skip
    """The dossier-based counts of the index for every period and agency (or unit), as rows
    (indicator ``k``, period start ``p``, key ``grp``, counted ``n``, meeting ``ok``) to be summed:
    one set of rows per chunk of files (a period's months). Each chunk's rows are cached under its
    files' signatures and ``as_of``: only the periods whose files a refresh rewrote are counted
    again. Every count is additive over chunks, as a chunk holds every dossier submitted in its
    period (3.3 counts distinct procedures per period of submission, so within one chunk). A chunk
    not cached is summed from its partitions' rollups (``quality_rollup``) when they are current,
    else counted from its files; ``use_rollups=False``: always from the files."""
    as_of_local = _as_of_local(as_of)
    con = con or warehouse.warehouse_connect()
    files = warehouse.warehouse_partition_files(table="dossiers")
    if files is None:  # object storage: one pass over the table's view
        return _partial(con, "dossiers", None, period, by, as_of_local).drop_columns(["chunk"]).cast(PARTS_SCHEMA)
    parts = [PARTS_SCHEMA.empty_table()]
    missing: dict[int, list[tuple[str, str]]] = {}
    for chunk_id, chunk in _chunks(files, period).items():
        found = cache.get(_chunk_key(chunk, period, by, as_of_local)) if use_cache else None
        if found is None:
            missing[chunk_id] = chunk
        else:
            parts.append(_from_bytes(found))
    todo, counted = dict(missing), []
    if missing and use_rollups:  # summed from the partitions' rollups where current (``quality_rollup``)
        from hcmgov.reporting import quality_rollup  # it imports this module

        found, stale = quality_rollup.rollups(missing, by=by, period=period, as_of=as_of_local)
        if found:
            counted.append(quality_rollup.counts_from_rollups(list(found.values()), period=period, as_of=as_of_local))
        missing = {chunk_id: missing[chunk_id] for chunk_id in sorted(stale)}
    if missing:  # every other chunk not cached, counted from its files in one query
        paths = [path for chunk in missing.values() for path, _ in chunk]
        present = set.union(*(warehouse.warehouse_file_columns(path=path) for path in paths))
        files_sql = ", ".join(_quote(path) for path in paths)
        src = f"read_parquet([{files_sql}], hive_partitioning = true, union_by_name = true)"
        counted.append(_partial(con, src, present, period, by, as_of_local, _chunk_sql(period)))
    if counted:
        table = pa.concat_tables([t.select(_CHUNK_PARTS.names).cast(_CHUNK_PARTS) for t in counted])
        ids = table.column("chunk")
        for chunk_id, chunk in todo.items():
            rows = table.filter(pc.equal(ids, chunk_id)).drop_columns(["chunk"]).cast(PARTS_SCHEMA)
            if use_cache:
                cache.set(_chunk_key(chunk, period, by, as_of_local), _to_bytes(rows), CACHE_SECONDS)
            parts.append(rows)
    return pa.concat_tables(parts)


def _chunk_key(chunk: list[tuple[str, str]], period: str, by: str, as_of: dt.datetime) -> str:
    return f"q766:p:{_signature(chunk)}:{period}:{by}:{as_of.isoformat()}"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _as_of_local(as_of: dt.datetime | None) -> dt.datetime:
    """The moment dossiers still in progress are judged at, as a naive city time (DuckDB's local
    timestamps). Default: the start of the current hour, so that the cache holds for an hour."""
    moment = as_of or timezone.now().replace(minute=0, second=0, microsecond=0)
    return timezone.localtime(moment, timezone.get_default_timezone()).replace(tzinfo=None)


# --- ratings and feedback --------------------------------------------------------------------------


def _ratings(con: duckdb.DuckDBPyConnection, period: str, by: str) -> pa.Table:
    grp = "r.agency_code" if by == "agency" else "coalesce(d.unit_code, '')"
    join = "" if by == "agency" else "LEFT JOIN dossiers d ON d.code = r.dossier_code"
    sql = f"""SELECT '5.4' AS k, date_trunc('{period}', r.rated_at AT TIME ZONE '{CITY_TZ}') AS p, {grp} AS grp,
              count(*) AS n, count(*) FILTER (WHERE r.score >= 3) AS ok FROM ratings r {join} GROUP BY ALL"""  # noqa: S608
    return con.sql(sql).to_arrow_table().cast(PARTS_SCHEMA)


def _feedback() -> pa.Table:
    """5.2 and 5.3 per month received and agency (the period is applied with the other parts)."""
    rows: dict[str, list[Any]] = {name: [] for name in PARTS_SCHEMA.names}
    for row in feedback.feedback_figures_by_agency_month():
        year, month = (int(x) for x in row["month"].split("-"))
        for k, n, ok in (("5.2", row["closed"], row["on_time"]),
                         ("5.3", row["rated"], row["rated"] - row["dissatisfied"])):  # fmt: skip
            rows["k"].append(k)
            rows["p"].append(dt.datetime(year, month, 1))  # noqa: DTZ001 - a city month, as DuckDB's local times
            rows["grp"].append(row["agency_code"])
            rows["n"].append(n)
            rows["ok"].append(ok)
    return pa.table(rows, schema=PARTS_SCHEMA)


# --- the index -------------------------------------------------------------------------------------

INDEX_SCHEMA = pa.schema([
    ("period", pa.string()), ("key", pa.string()), ("indicator", pa.string()), ("group", pa.int8()),
    ("denominator", pa.int64()), ("numerator", pa.int64()), ("rate", pa.float64()), ("points", pa.float64()),
    ("max_points", pa.float64()),
])  # fmt: skip


def _indicators_table(by: str) -> pa.Table:
    measured = [i for i in INDICATORS if i.measurable and (by == "agency" or i.key not in UNIT_NOT_APPLICABLE)]
    return pa.table({
        "indicator": [i.key for i in measured], "group": pa.array([i.group for i in measured], pa.int8()),
        "max_points": [float(i.points) for i in measured], "threshold": [i.threshold for i in measured],
    })  # fmt: skip


def service_index_table(
    *, period: Period = "month", by: By = "agency", as_of: dt.datetime | None = None,
    con: duckdb.DuckDBPyConnection | None = None, use_cache: bool = True,
) -> pa.Table:  # fmt: skip
    """The measurable figures of the index, one row per period (city month or quarter), agency
    (or administrative unit: the code of the unit that received the dossier) and indicator, with
    its counts, rate and points (rate and points null when nothing was counted). Indicators without
    data are not in the rows: ``INDICATORS`` lists them with the reason (``IndexIndicator.reason``).
    By unit, the feedback indicators are left out too (feedback is addressed to an agency)."""
    if period not in STEP_MONTHS or by not in GROUP_COLUMNS:
        raise ValueError(f"period must be month or quarter and by agency or unit, not {period!r}, {by!r}")
    con = con or warehouse.warehouse_connect()
    parts = [
        dossier_counts(period=period, by=by, as_of=as_of, con=con, use_cache=use_cache),
        _ratings(con, period, by),
    ]
    if by == "agency":
        parts.append(_feedback())
    parts.append(certification_parts(by=by))  # 4.3: the certification book, not dossiers
    # the procedure-level figures (1.1–1.3, 3.2), 1.3 and 3.2 read for the periods the others cover
    parts.append(catalogue.catalogue_parts(period=period, by=by, as_of=as_of, seen=pa.concat_tables(parts)))
    local = duckdb.connect(":memory:")  # the sums over Arrow tables in memory: no file is read
    local.register("parts", pa.concat_tables(parts))
    local.register("ind", _indicators_table(by))
    label = _label_sql(period, "date_trunc('" + period + "', p)")
    sql = f"""
    WITH agg AS (SELECT k, {label} AS period, grp, sum(n) AS n, sum(ok) AS ok FROM parts GROUP BY ALL),
    cells AS (SELECT DISTINCT period, grp FROM agg)
    SELECT c.period, c.grp AS key, i.indicator, i."group", coalesce(a.n, 0) AS denominator,
           coalesce(a.ok, 0) AS numerator, CASE WHEN a.n > 0 THEN a.ok / a.n END AS rate,
           CASE WHEN a.n > 0 THEN round(i.max_points * least(1.0, a.ok / a.n / i.threshold), 4) END AS points,
           i.max_points
    FROM cells c CROSS JOIN ind i LEFT JOIN agg a ON a.period = c.period AND a.grp = c.grp AND a.k = i.indicator
    ORDER BY c.period, c.grp, i.indicator
    """  # noqa: S608 - period from STEP_MONTHS
    return local.sql(sql).to_arrow_table().cast(INDEX_SCHEMA)


def service_index(
    *, period: Period = "month", by: By = "agency", as_of: dt.datetime | None = None,
    con: duckdb.DuckDBPyConnection | None = None, use_cache: bool = True,
) -> list[IndexRow]:  # fmt: skip
    """The index as rows of figures per period and agency (or unit), every indicator present: the
    measurable with their counts, the others with ``measurable=False`` and the reason."""
    table = service_index_table(period=period, by=by, as_of=as_of, con=con, use_cache=use_cache)
    rows: dict[tuple[str, str], IndexRow] = {}
    for r in table.to_pylist():
        row = rows.setdefault((r["period"], r["key"]), IndexRow(period=r["period"], key=r["key"]))
        row.figures[r["indicator"]] = Figure(r["indicator"], numerator=r["numerator"], denominator=r["denominator"])
    for row in rows.values():
        for ind in INDICATORS:
            if ind.key not in row.figures:
                reason, reason_vi = (
                    (ind.reason, ind.reason_vi) if ind.reason else UNIT_NOT_APPLICABLE.get(ind.key, UNIT_FEEDBACK)
                )
                row.figures[ind.key] = Figure(ind.key, measurable=False, reason=reason, reason_vi=reason_vi)
        row.figures = {i.key: row.figures[i.key] for i in INDICATORS}
    return [rows[k] for k in sorted(rows)]


FEEDBACK_LAG_SECONDS = 300


def service_index_cached(*, period: Period = "month", by: By = "agency", as_of: dt.datetime | None = None) -> pa.Table:
    """``service_index_table`` from the cache while no partition file of the dossiers or ratings
    changed (and within the hour of ``as_of``). Feedback is read from the database with it, so a
    cached index may lag new feedback by up to ``FEEDBACK_LAG_SECONDS``. Cached as Arrow IPC bytes:
    read back without building a Python object per figure."""
    files = warehouse.warehouse_partition_files(table="dossiers") or []
    ratings = warehouse.warehouse_partition_files(table="ratings") or []
    stamp = _signature([*files, *ratings])
    bucket = int(timezone.now().timestamp() // FEEDBACK_LAG_SECONDS)
    key = f"q766:index:{stamp}:{period}:{by}:{_as_of_local(as_of).isoformat()}:{bucket}"
    found: bytes | None = cache.get(key)
    if found is not None:
        return _from_bytes(found)
    table = service_index_table(period=period, by=by, as_of=as_of)
    cache.set(key, _to_bytes(table), CACHE_SECONDS)
    return table


# --- drill-down ------------------------------------------------------------------------------------


def index_dossiers(
    *, indicator: str, key: str, period_start: dt.date, period: Period = "month", by: By = "agency",
    meeting: bool = False, as_of: dt.datetime | None = None, con: duckdb.DuckDBPyConnection | None = None,
) -> list[str]:  # fmt: skip
    """The codes of the dossiers behind a dossier-based figure of one agency (or unit) and period
    (``period_start``: its first day): by default those that miss it (the late dossiers of 2.1,
    the dossiers not submitted online of 3.1, …); ``meeting=True``: those that meet it. Together
    they are the figure's denominator. For 3.3 (counted in procedures) the dossiers of the fee
    procedures without (or with) an online payment."""
    if indicator not in DRILLABLE or period not in STEP_MONTHS or by not in GROUP_COLUMNS:
        raise ValueError(f"no dossier drill-down for indicator {indicator!r}")
    con = con or warehouse.warehouse_connect()
    unit, step = period, STEP_MONTHS[period]
    present = {name for (name, *_rest) in con.execute("DESCRIBE dossiers").fetchall()}  # files may lack a column
    base = _base("dossiers", GROUP_COLUMNS[by], present)
    start = dt.datetime.combine(period_start, dt.time())
    params: dict[str, Any] = {"g": key, "p": start, "m": meeting}
    if indicator == "2.1":
        params["as_of"] = _as_of_local(as_of)
        rows = _progress(unit, step)
        sql = f"WITH d AS NOT MATERIALIZED ({base}) SELECT code FROM ({rows}) WHERE grp = $g AND p = $p AND ok = $m"  # noqa: S608
    elif indicator == "3.3":
        sql = f"""WITH d AS NOT MATERIALIZED ({base}), f AS (SELECT * FROM d WHERE fee_required AND grp = $g
                  AND date_trunc('{unit}', submitted) = $p),
                  procs AS (SELECT procedure_code, bool_or(fee_paid_online) AS ok FROM f GROUP BY ALL)
                  SELECT code FROM f JOIN procs USING (procedure_code) WHERE procs.ok = $m"""  # noqa: S608
    else:
        moment = "submitted" if indicator in _SUBMITTED_RULES else "finished"
        den, num = {**_SUBMITTED_RULES, **_FINISHED_RULES}[indicator]
        sql = f"""WITH d AS NOT MATERIALIZED ({base}) SELECT code FROM d
                  WHERE grp = $g AND date_trunc('{unit}', {moment}) = $p
                  AND ({den}) AND coalesce(({num}), FALSE) = $m"""  # noqa: S608
    return sorted(code for (code,) in con.execute(sql + " ORDER BY code", params).fetchall())
