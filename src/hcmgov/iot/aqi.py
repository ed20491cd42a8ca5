"""Vietnam air quality index (VN_AQI), Decision 1459/QĐ-TCMT of 12 Nov 2019.

Pure functions, no database. The decision ("Hướng dẫn kỹ thuật tính toán và công bố chỉ số chất lượng
không khí Việt Nam", Vietnam Environment Administration) is cited by section: §1.4 levels (Table 1),
§2.2.1 hourly AQI with NowCast, §2.2.2 daily AQI, Table 2 breakpoints, Tables 4–5 health advice.
See docs/iot/aqi.md for the formulas, the sources checked and what the platform does at the edges.

Hours are labelled by the datetime at which the 1-hour mean *ends*, as the decision does: the day
runs "from 01:00 to 00:00 of the next day" (§2.2.2.a), so the hour 00:00–01:00 is labelled 01:00.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

ICT = timezone(timedelta(hours=7), "ICT")
HOUR = timedelta(hours=1)

#: A series of 1-hour means: hour-end datetime → µg/m³ (None or an invalid value is a missing hour).
HourlySeries = Mapping[datetime, object] | Iterable[tuple[datetime, object]]


class AqiError(ValueError):
    """Base of the errors raised by this module."""


class InvalidConcentrationError(AqiError):
    """The concentration is not a finite number ≥ 0 (None, NaN, ±inf, negative, not a number)."""


class NotApplicableError(AqiError):
    """The table does not apply: an O3 8-hour mean above 400 µg/m³ (§2.2.2.b)."""


class Pollutant(StrEnum):
    PM25 = "pm25"
    PM10 = "pm10"
    O3 = "o3"
    CO = "co"
    SO2 = "so2"
    NO2 = "no2"


class Scale(StrEnum):
    """A column of Table 2: the pollutant and, for O3, the averaging time."""

    O3_1H = "o3_1h"
    O3_8H = "o3_8h"
    CO = "co"
    SO2 = "so2"
    NO2 = "no2"
    PM10 = "pm10"
    PM25 = "pm25"

    @property
    def pollutant(self) -> Pollutant:
        return Pollutant.O3 if self in (Scale.O3_1H, Scale.O3_8H) else Pollutant(self.value)


def as_pollutant(key: object) -> Pollutant:
    """`key` as a Pollutant ("pm25", Pollutant.PM25…), or AqiError naming the unknown key."""
    try:
        if isinstance(key, str):
            return Pollutant(key)
    except ValueError:
        pass
    raise AqiError(f"unknown pollutant: {key!r}; expected one of {[p.value for p in Pollutant]}")


#: Table 2 (§2.2.1.b), the index values I_i of each row.
INDEX_BREAKPOINTS: tuple[int, ...] = (0, 50, 100, 150, 200, 300, 400, 500)

#: Table 2, concentrations BP_i in µg/m³. Checked cell by cell against a transcription of the signed
#: PDF (see docs/iot/aqi.md); it matches DOMAIN.md. The last row is printed "≥" in the decision
#: (≥1200, ≥150000, …): any concentration at or above it is index 500. O3 8h stops at 400 (I = 300).
BREAKPOINTS: Mapping[Scale, tuple[Decimal, ...]] = {
    scale: tuple(Decimal(v) for v in values)
    for scale, values in {
        Scale.O3_1H: (0, 160, 200, 300, 400, 800, 1000, 1200),
        Scale.O3_8H: (0, 100, 120, 170, 210, 400),
        Scale.CO: (0, 10000, 30000, 45000, 60000, 90000, 120000, 150000),
        Scale.SO2: (0, 125, 350, 550, 800, 1600, 2100, 2630),
        Scale.NO2: (0, 100, 200, 700, 1200, 2350, 3100, 3850),
        Scale.PM10: (0, 50, 150, 250, 350, 420, 500, 600),
        Scale.PM25: (0, 25, 50, 80, 150, 250, 350, 500),
    }.items()
}

MAX_AQI = 500
O3_8H_LIMIT = Decimal(400)


def clean_concentration(value: object) -> Decimal | None:
    """The value as an exact Decimal, or None if it is not a finite number ≥ 0.

    Floats go through their shortest repr, so 118.7 is exactly 118.7 and hand-computed halves
    (109.5) round as on paper instead of by binary accident.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    else:
        return None
    if not number.is_finite() or number < 0:
        return None
    return number


def round_aqi(value: Decimal) -> int:
    """Round half up: "được làm tròn thành số nguyên" (§2.2.1.c, §2.2.2.c) in the usual school sense."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class SubIndex:
    """The AQI of one pollutant (AQIx): its scale, the concentration used and on what basis."""

    scale: Scale
    concentration: float
    exact: float
    value: int
    above_scale: bool = False
    basis: str = ""

    @property
    def pollutant(self) -> Pollutant:
        return self.scale.pollutant


def sub_index(scale: Scale, concentration: object, *, basis: str = "") -> SubIndex:
    """AQIx by Formula 1/2 (§2.2.1.b): I_i + (I_{i+1} − I_i)/(BP_{i+1} − BP_i) · (C − BP_i), rounded.

    At or above the top breakpoint the index is 500 and `above_scale` is set: the decision prints
    the last row as "≥" and its scale ends at 500 (Table 1), it gives no formula beyond.
    Raises InvalidConcentrationError for None/NaN/negative input, NotApplicableError for an O3
    8-hour mean above 400 µg/m³.
    """
    c = clean_concentration(concentration)
    if c is None:
        raise InvalidConcentrationError(f"{scale}: not a finite concentration ≥ 0: {concentration!r}")
    bps = BREAKPOINTS[scale]
    if scale is Scale.O3_8H and c > O3_8H_LIMIT:
        raise NotApplicableError(f"O3 8-hour mean {c} µg/m³ is above 400: use the 1-hour value (§2.2.2.b)")
    if c >= bps[-1]:
        top = Decimal(INDEX_BREAKPOINTS[len(bps) - 1])
        return SubIndex(scale, float(c), float(top), int(top), above_scale=c > bps[-1], basis=basis)
    for i in range(len(bps) - 1):
        lo, hi = bps[i], bps[i + 1]
        if lo <= c <= hi:
            i_lo, i_hi = INDEX_BREAKPOINTS[i], INDEX_BREAKPOINTS[i + 1]
            exact = Decimal(i_hi - i_lo) / (hi - lo) * (c - lo) + i_lo
            return SubIndex(scale, float(c), float(exact), round_aqi(exact), basis=basis)
    raise AssertionError("unreachable: the table starts at 0 and c ≥ 0")  # pragma: no cover


@dataclass(frozen=True)
class Level:
    """One of the six levels of Table 1, with the health effects (Table 4) and advice (Table 5).

    Vietnamese texts are the decision's; the English ones are the platform's translation.
    """

    number: int
    low: int
    high: int
    name_vi: str
    name_en: str
    colour_vi: str
    colour_en: str
    rgb: tuple[int, int, int]
    health_vi: str
    health_en: str
    advice_general_vi: str
    advice_general_en: str
    advice_sensitive_vi: str
    advice_sensitive_en: str

    @property
    def hex(self) -> str:
        return "#{:02x}{:02x}{:02x}".format(*self.rgb)


_STAY_IN_VI = (
    "Mọi người nên ở trong nhà, đóng cửa ra vào và cửa sổ. Nếu cần thiết phải ra ngoài, hãy đeo khẩu trang đạt "
    "tiêu chuẩn."
)
_STAY_IN_EN = "Everyone should stay indoors with doors and windows closed; if you must go out, wear a standard mask."

LEVELS: tuple[Level, ...] = (
    Level(
        1, 0, 50, "Tốt", "Good", "Xanh", "Green", (0, 228, 0),
        "Chất lượng không khí tốt, không ảnh hưởng tới sức khỏe",
        "Air quality is good and does not affect health.",
        "Tự do thực hiện các hoạt động ngoài trời", "Free to do outdoor activities.",
        "Tự do thực hiện các hoạt động ngoài trời", "Free to do outdoor activities.",
    ),
    Level(
        2, 51, 100, "Trung bình", "Moderate", "Vàng", "Yellow", (255, 255, 0),
        "Chất lượng không khí ở mức chấp nhận được. Tuy nhiên, đối với những người nhạy cảm (người già, trẻ em, "
        "người mắc các bệnh hô hấp, tim mạch…) có thể chịu những tác động nhất định tới sức khỏe.",
        "Air quality is acceptable; sensitive people (the elderly, children, people with respiratory or heart "
        "disease…) may feel some effects on their health.",
        "Tự do thực hiện các hoạt động ngoài trời", "Free to do outdoor activities.",
        "Nên theo dõi các triệu chứng như ho hoặc khó thở, nhưng vẫn có thể hoạt động bên ngoài.",
        "Watch for symptoms such as coughing or shortness of breath, but outdoor activity is still possible.",
    ),
    Level(
        3, 101, 150, "Kém", "Poor", "Da cam", "Orange", (255, 126, 0),
        "Những người nhạy cảm gặp phải các vấn đề về sức khỏe, những người bình thường ít ảnh hưởng.",
        "Sensitive people have health problems; the general public is little affected.",
        "Những người thấy có triệu chứng đau mắt, ho hoặc đau họng… nên cân nhắc giảm các hoạt động ngoài trời. "
        "Đối với học sinh, có thể hoạt động bên ngoài, nhưng nên giảm bớt việc tập thể dục kéo dài.",
        "People with sore eyes, a cough or a sore throat should consider doing less outdoors; pupils may go "
        "outside but should cut down on prolonged exercise.",
        "Nên giảm các hoạt động mạnh và giảm thời gian hoạt động ngoài trời. Những người mắc bệnh hen suyễn có thể "
        "cần sử dụng thuốc thường xuyên hơn.",
        "Reduce strenuous activity and time outdoors; people with asthma may need their medicine more often.",
    ),
    Level(
        4, 151, 200, "Xấu", "Bad", "Đỏ", "Red", (255, 0, 0),
        "Những người bình thường bắt đầu có các ảnh hưởng tới sức khỏe, nhóm người nhạy cảm có thể gặp những vấn "
        "đề sức khỏe nghiêm trọng hơn.",
        "The general public begins to feel health effects; sensitive people may have more serious problems.",
        "Mọi người nên giảm các hoạt động mạnh khi ở ngoài trời, tránh tập thể dục kéo dài và nghỉ ngơi nhiều "
        "hơn trong nhà.",
        "Everyone should reduce strenuous activity outdoors, avoid prolonged exercise and rest more indoors.",
        "Nên ở trong nhà và giảm hoạt động mạnh. Nếu cần thiết phải ra ngoài, hãy đeo khẩu trang đạt tiêu chuẩn.",
        "Stay indoors and reduce strenuous activity; if you must go out, wear a standard mask.",
    ),
    Level(
        5, 201, 300, "Rất xấu", "Very bad", "Tím", "Purple", (143, 63, 151),
        "Cảnh báo hưởng tới sức khỏe: mọi người bị ảnh hưởng tới sức khỏe nghiêm trọng hơn.",
        "Health warning: everyone suffers more serious health effects.",
        "Mọi người hạn chế tối đa các hoạt động ngoài trời và chuyển tất cả các hoạt động vào trong nhà. Nếu cần "
        "thiết phải ra ngoài, hãy đeo khẩu trang đạt tiêu chuẩn.",
        "Everyone should keep outdoor activity to a minimum and move all activities indoors; if you must go "
        "out, wear a standard mask.",
        "Nên ở trong nhà và giảm hoạt động mạnh.",
        "Stay indoors and reduce strenuous activity.",
    ),
    Level(
        6, 301, 500, "Nguy hại", "Hazardous", "Nâu", "Brown", (126, 0, 35),
        "Cảnh báo khẩn cấp về sức khỏe: Toàn bộ dân số bị ảnh hưởng tới sức khỏe tới mức nghiêm trọng.",
        "Health emergency: the whole population is seriously affected.",
        _STAY_IN_VI, _STAY_IN_EN,
        _STAY_IN_VI, _STAY_IN_EN,
    ),
)  # fmt: skip


def level_for(aqi: int) -> Level:
    """The level of an integer AQI (Table 1). Raises AqiError below 0; above 500 is still hazardous."""
    if isinstance(aqi, bool) or not isinstance(aqi, int) or aqi < 0:
        raise AqiError(f"not an AQI value: {aqi!r}")
    for level in LEVELS:
        if aqi <= level.high:
            return level
    return LEVELS[-1]


# --- series -------------------------------------------------------------------------------------------


def normalize_series(series: HourlySeries) -> dict[datetime, Decimal | None]:
    """A series as {hour-end datetime: concentration or None}.

    Accepts a mapping or (datetime, value) pairs. Keys that are not datetimes on the hour are
    dropped; invalid values (NaN, negative, not a number) become None; a later pair for the same
    hour replaces an earlier one.
    """
    pairs: Iterable[object] = series.items() if isinstance(series, Mapping) else series
    out: dict[datetime, Decimal | None] = {}
    for pair in pairs:
        if not isinstance(pair, tuple) or len(pair) != 2:
            continue
        key, value = pair
        if not isinstance(key, datetime) or (key.minute, key.second, key.microsecond) != (0, 0, 0):
            continue
        out[key] = clean_concentration(value)
    return out


@dataclass(frozen=True)
class NowCast:
    """A NowCast value (§2.2.1.a), or None with the reason it could not be computed."""

    value: float | None
    weight: float | None = None
    hours_used: int = 0
    reason: str | None = None


def nowcast(values: Sequence[object]) -> NowCast:
    """NowCast of up to 12 hourly means, c1 (the current hour) first (§2.2.1.a).

    w* = c_min / c_max over the present values, w = max(w*, ½),
    NowCast = Σ w^(i−1)·c_i / Σ w^(i−1) over the present values (a missing c_i has weight 0).
    Needs at least 2 of c1, c2, c3. For w = ½ the decision prints Σ (½)^i·c_i without the divisor;
    that equals the normalised form to 0.03 % when all 12 hours are present and halves the result
    when c1 is missing, so the normalised form is used for both cases (see docs/iot/aqi.md).
    """
    cleaned = [clean_concentration(v) for v in list(values)[:12]]
    if sum(c is not None for c in cleaned[:3]) < 2:
        return NowCast(None, reason="fewer than 2 of the 3 latest hourly values present (§2.2.1.a)")
    present = [(i, float(c)) for i, c in enumerate(cleaned) if c is not None]
    c_max = max(c for _, c in present)
    c_min = min(c for _, c in present)
    w = 1.0 if c_max == 0 else max(c_min / c_max, 0.5)
    num = sum(w**i * c for i, c in present)
    den = sum(w**i for i, _ in present)
    return NowCast(num / den, weight=w, hours_used=len(present))


def nowcast_at(series: HourlySeries, at: datetime) -> NowCast:
    """NowCast for the hour ending at `at`, from the 12 hours ending at `at`."""
    data = normalize_series(series)
    return nowcast([data.get(at - k * HOUR) for k in range(12)])


# --- combining ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AqiResult:
    """An hourly or daily AQI: the largest sub-index, the pollutant(s) deciding it, what was missing.

    `value` is None when neither PM10 nor PM2.5 has a sub-index (§2.1.b); `reason` then says why.
    """

    value: int | None
    level: Level | None
    dominant: tuple[Pollutant, ...]
    sub_indices: Mapping[Pollutant, SubIndex] = field(default_factory=dict)
    missing: Mapping[Pollutant, str] = field(default_factory=dict)
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.value is not None


def combine(sub_indices: Iterable[SubIndex], missing: Mapping[Pollutant, str] | None = None) -> AqiResult:
    """AQI = max(AQIx) (§2.2.1.c, §2.2.2.c); requires PM10 or PM2.5 (§2.1.b)."""
    by_pollutant = {s.pollutant: s for s in sub_indices}
    missing = dict(missing or {})
    if Pollutant.PM25 not in by_pollutant and Pollutant.PM10 not in by_pollutant:
        return AqiResult(None, None, (), by_pollutant, missing, reason="PM10 or PM2.5 is required (§2.1.b)")
    top = max(s.value for s in by_pollutant.values())
    dominant = tuple(p for p in Pollutant if p in by_pollutant and by_pollutant[p].value == top)
    return AqiResult(top, level_for(top), dominant, by_pollutant, missing)


def _try(scale: Scale, value: object, basis: str, missing: dict[Pollutant, str]) -> SubIndex | None:
    try:
        return sub_index(scale, value, basis=basis)
    except AqiError as exc:
        missing[scale.pollutant] = str(exc)
        return None


_HOURLY_SCALES = {
    Pollutant.PM25: Scale.PM25,
    Pollutant.PM10: Scale.PM10,
    Pollutant.O3: Scale.O3_1H,
    Pollutant.CO: Scale.CO,
    Pollutant.SO2: Scale.SO2,
    Pollutant.NO2: Scale.NO2,
}


def hourly_aqi_from_values(values: Mapping[Pollutant, object]) -> AqiResult:
    """Hourly AQI from one value per pollutant: 1-hour means for gases, NowCast values for PM."""
    missing: dict[Pollutant, str] = {}
    subs = []
    for key, value in values.items():
        pollutant = as_pollutant(key)
        if value is None:
            missing[pollutant] = "no value"
            continue
        basis = "nowcast" if pollutant in (Pollutant.PM25, Pollutant.PM10) else "1h"
        if (s := _try(_HOURLY_SCALES[pollutant], value, basis, missing)) is not None:
            subs.append(s)
    return combine(subs, missing)


def hourly_aqi(*, at: datetime, series: Mapping[Pollutant, HourlySeries]) -> AqiResult:
    """Hourly AQI for the hour ending at `at` (§2.2.1): SO2, CO, NO2, O3 from that hour's mean,
    PM2.5 and PM10 from the NowCast of the 12 hours ending at `at`."""
    values: dict[Pollutant, object] = {}
    missing: dict[Pollutant, str] = {}
    for key, raw in series.items():
        pollutant = as_pollutant(key)
        if pollutant in (Pollutant.PM25, Pollutant.PM10):
            nc = nowcast_at(raw, at)
            if nc.value is None:
                missing[pollutant] = nc.reason or "no NowCast"
            else:
                values[pollutant] = nc.value
        else:
            value = normalize_series(raw).get(at)
            if value is None:
                missing[pollutant] = f"no valid 1-hour mean for the hour ending {at.isoformat()}"
            else:
                values[pollutant] = value
    result = hourly_aqi_from_values(values)
    return AqiResult(
        result.value, result.level, result.dominant, result.sub_indices, {**missing, **result.missing}, result.reason
    )


# --- daily -------------------------------------------------------------------------------------------


def day_hours(day: date, tz: tzinfo | None = ICT) -> list[datetime]:
    """The 24 hour-end labels of a day: 01:00 to 00:00 of the next day (§2.2.2.a)."""
    start = datetime.combine(day, time(1), tzinfo=tz)
    return [start + k * HOUR for k in range(24)]


def eight_hour_means(
    series: HourlySeries, day: date, *, tz: tzinfo | None = ICT, min_hours: int = 6
) -> dict[datetime, float | None]:
    """The 24 running 8-hour means of a day, each ending at one of the day's hours (§2.2.2.a).

    The 8-hour mean ending at 01:00 uses 18:00 of the day before to 01:00, as in the decision's
    example. A window with fewer than `min_hours` valid hours (platform rule: 6 of 8) is None.
    """
    data = normalize_series(series)
    out: dict[datetime, float | None] = {}
    for end in day_hours(day, tz):
        window = [data.get(end - k * HOUR) for k in range(8)]
        present = [v for v in window if v is not None]
        out[end] = float(sum(present) / len(present)) if len(present) >= min_hours else None
    return out


@dataclass(frozen=True)
class DailyInputs:
    """The daily concentrations of §2.2.2: 24-hour means for PM, daily maxima for the gases."""

    pm25_24h: object = None
    pm10_24h: object = None
    o3_1h_max: object = None
    o3_8h_max: object = None
    no2_1h_max: object = None
    so2_1h_max: object = None
    co_1h_max: object = None


def daily_aqi_from_values(inputs: DailyInputs) -> AqiResult:
    """Daily AQI (§2.2.2.b–c). O3 is the larger of the 1-hour-max and 8-hour-max sub-indices; the
    8-hour one is left out above 400 µg/m³ (the decision then uses the 1-hour value alone)."""
    missing: dict[Pollutant, str] = {}
    subs: list[SubIndex] = []
    plain = (
        (Scale.PM25, inputs.pm25_24h, "24h mean"),
        (Scale.PM10, inputs.pm10_24h, "24h mean"),
        (Scale.NO2, inputs.no2_1h_max, "1h max"),
        (Scale.SO2, inputs.so2_1h_max, "1h max"),
        (Scale.CO, inputs.co_1h_max, "1h max"),
    )
    for scale, value, basis in plain:
        if value is None:
            missing[scale.pollutant] = "no value"
        elif (s := _try(scale, value, basis, missing)) is not None:
            subs.append(s)
    o3: list[SubIndex] = []
    notes: list[str] = []
    for scale, value, basis in ((Scale.O3_1H, inputs.o3_1h_max, "1h max"), (Scale.O3_8H, inputs.o3_8h_max, "8h max")):
        if value is None:
            continue
        try:
            o3.append(sub_index(scale, value, basis=basis))
        except AqiError as exc:
            notes.append(str(exc))
    if o3:
        subs.append(max(o3, key=lambda s: s.value))
    elif inputs.o3_1h_max is not None or inputs.o3_8h_max is not None:
        missing[Pollutant.O3] = "; ".join(notes) or "no value"
    return combine(subs, missing)


def daily_aqi(
    *, day: date, series: Mapping[Pollutant, HourlySeries], tz: tzinfo | None = ICT, min_hours: int = 18
) -> AqiResult:
    """Daily AQI of `day` from hourly series (§2.2.2).

    The day's hours are 01:00 to 00:00 next day in `tz` (None for naive datetimes). A pollutant with
    fewer than `min_hours` valid hours that day is reported missing — the decision sets no minimum;
    18 of 24 (75 %) is the platform's rule, the usual completeness criterion for a 24-hour mean.
    """
    hours = day_hours(day, tz)
    kwargs: dict[str, object] = {}
    missing: dict[Pollutant, str] = {}
    names = {
        Pollutant.PM25: ("pm25_24h", "mean"),
        Pollutant.PM10: ("pm10_24h", "mean"),
        Pollutant.NO2: ("no2_1h_max", "max"),
        Pollutant.SO2: ("so2_1h_max", "max"),
        Pollutant.CO: ("co_1h_max", "max"),
        Pollutant.O3: ("o3_1h_max", "max"),
    }
    for key, raw in series.items():
        pollutant = as_pollutant(key)
        data = normalize_series(raw)
        present = [v for h in hours if (v := data.get(h)) is not None]
        if len(present) < min_hours:
            missing[pollutant] = f"{len(present)} of 24 hourly values, fewer than {min_hours}"
            continue
        name, how = names[pollutant]
        kwargs[name] = sum(present) / len(present) if how == "mean" else max(present)
        if pollutant is Pollutant.O3:
            means = [m for m in eight_hour_means(data.items(), day, tz=tz).values() if m is not None]
            if means:
                kwargs["o3_8h_max"] = max(means)
    result = daily_aqi_from_values(DailyInputs(**kwargs))
    reported = {p: r for p, r in result.missing.items() if r != "no value"}
    return AqiResult(
        result.value, result.level, result.dominant, result.sub_indices, {**missing, **reported}, result.reason
    )
