"""VN_AQI (Decision 1459/QĐ-TCMT, 2019): worked examples, hand-computed cases, edges, properties.

The worked examples are §2.2.2.a (O3 8-hour means) and §2.3 (NowCast, hourly and daily AQI) of the
decision, read from a transcription of the signed PDF published by the Vietnam Environment
Administration (https://vea.mae.gov.vn/Data/files/QD%201459%20TCMT%20ngay%2012_11_2019%20AQI(1).pdf,
transcribed in github.com/qnguyenle075/hcmc-air-quality, data/processed/qd_1459_vn_aqi.md).
"""

import math
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hcmgov.iot.aqi import (
    BREAKPOINTS,
    ICT,
    INDEX_BREAKPOINTS,
    LEVELS,
    AqiError,
    DailyInputs,
    InvalidConcentrationError,
    NotApplicableError,
    Pollutant,
    Scale,
    daily_aqi,
    daily_aqi_from_values,
    eight_hour_means,
    hourly_aqi,
    hourly_aqi_from_values,
    level_for,
    normalize_series,
    nowcast,
    nowcast_at,
    sub_index,
)

H = timedelta(hours=1)


# --- the decision's worked examples (§2.3) ------------------------------------------------------------

# §2.3.a: PM2.5 1-hour means from 09:00 to 20:00; c1 is 20:00.
EXAMPLE_PM25 = [26.9, 24.7, 20.5, 23.5, 19.5, 16.5, 19.0, 16.5, 20.3, 22.4, 19.6, 20.6]


def test_example_nowcast_is_20_3():
    # w* = 16.5 / 26.9 = 0.613 (the decision prints 0.61) > 0.5, so w = w*; NowCast = 20.27 → "20,3".
    result = nowcast(list(reversed(EXAMPLE_PM25)))
    assert result.weight == pytest.approx(16.5 / 26.9)
    assert round(result.value or 0, 1) == 20.3
    assert result.hours_used == 12


def test_example_hourly_aqi():
    # §2.3.b: O3 50/160 × 136.1 = 42.53 → 43; PM2.5 50/25 × 20.3 = 40.6 → 41 (both as printed).
    # NO2 50 + 50/100 × (118.7 − 100) = 59.35 → 59. The decision prints 60, and AQI^h = 60. No rounding
    # rule gives 60 here and 65 for the daily NO2 below (130.8 → 65.4, ceiling would be 66), so we
    # read the printed 60 as a slip in the example and follow the decision's formula and rounding note.
    result = hourly_aqi_from_values({Pollutant.O3: 136.1, Pollutant.NO2: 118.7, Pollutant.PM25: 20.3})
    assert result.sub_indices[Pollutant.O3].value == 43
    assert result.sub_indices[Pollutant.PM25].value == 41
    assert result.sub_indices[Pollutant.NO2].exact == pytest.approx(59.35)
    assert result.sub_indices[Pollutant.NO2].value == 59
    assert result.value == 59
    assert result.dominant == (Pollutant.NO2,)
    assert result.level is LEVELS[1]


def test_example_hourly_aqi_from_the_series():
    # The same hour computed from raw series: NowCast 20.27 → 40.53 → 41, unchanged.
    at = datetime(2019, 11, 12, 20, tzinfo=ICT)
    pm25 = {at - k * H: c for k, c in enumerate(reversed(EXAMPLE_PM25))}
    result = hourly_aqi(at=at, series={Pollutant.PM25: pm25, Pollutant.O3: {at: 136.1}, Pollutant.NO2: [(at, 118.7)]})
    assert result.sub_indices[Pollutant.PM25].value == 41
    assert result.value == 59


def test_example_daily_aqi_is_110():
    # §2.3.c: O3 8h 50/100 × 89.3 = 44.65 → 45; O3 1h 50/160 × 114.6 = 35.81 → 36;
    # NO2 50 + 0.5 × 30.8 = 65.4 → 65; PM2.5 100 + 50/30 × 5.7 = 109.5 → 110 (half up). AQI^d = 110.
    result = daily_aqi_from_values(DailyInputs(o3_8h_max=89.3, o3_1h_max=114.6, no2_1h_max=130.8, pm25_24h=55.7))
    assert result.sub_indices[Pollutant.O3].value == 45
    assert result.sub_indices[Pollutant.O3].scale is Scale.O3_8H
    assert result.sub_indices[Pollutant.NO2].value == 65
    assert result.sub_indices[Pollutant.PM25].value == 110
    assert result.value == 110
    assert result.dominant == (Pollutant.PM25,)
    assert result.level is LEVELS[2]


# §2.2.2.a: O3 1-hour means from 18:00 of the day before to 00:00 after the day (31 values) and the
# 24 printed 8-hour means ending 01:00 … 00:00. Two printed cells are off by 0.05–0.06 from the plain
# mean: 21.25 printed 21.2 and 44.6375 printed 44.7; the others match to one decimal.
EXAMPLE_O3 = [15.7, 14.2, 17.7, 18.9, 19.3, 15.7, 19.7, 22.6, 27.1, 29.0, 31.9, 25.3, 34.7, 35.2, 41.6, 45.7]
EXAMPLE_O3 += [49.2, 55.8, 69.6, 78.3, 91.5, 97.7, 81.2, 71.8, 43.5, 34.3, 21.5, 20.5, 19.4, 20.4, 21.3]
EXAMPLE_O3_8H = [18.0, 19.4, 21.2, 23.0, 23.8, 25.8, 28.2, 30.9, 33.8, 36.6, 39.9, 44.7, 51.3, 58.4, 66.2]
EXAMPLE_O3_8H += [71.1, 74.4, 73.7, 71.0, 65.0, 57.8, 48.7, 39.1, 31.6]
DAY = date(2019, 11, 12)
FIRST = datetime(2019, 11, 11, 18, tzinfo=ICT)


def test_example_eight_hour_means():
    series = [(FIRST + k * H, c) for k, c in enumerate(EXAMPLE_O3)]
    means = eight_hour_means(series, DAY)
    assert list(means) == [datetime(2019, 11, 12, 1, tzinfo=ICT) + k * H for k in range(24)]
    assert means[datetime(2019, 11, 12, 1, tzinfo=ICT)] == pytest.approx(17.975)  # 143.8 / 8
    for got, printed in zip(means.values(), EXAMPLE_O3_8H, strict=True):
        assert got == pytest.approx(printed, abs=0.07)
    assert round(max(v for v in means.values() if v is not None), 1) == 74.4


# --- Table 2 and the sub-index -------------------------------------------------------------------------


def test_table_matches_domain_md():
    assert [int(v) for v in BREAKPOINTS[Scale.PM25]] == [0, 25, 50, 80, 150, 250, 350, 500]
    assert [int(v) for v in BREAKPOINTS[Scale.PM10]] == [0, 50, 150, 250, 350, 420, 500, 600]
    assert [int(v) for v in BREAKPOINTS[Scale.NO2]] == [0, 100, 200, 700, 1200, 2350, 3100, 3850]
    assert [int(v) for v in BREAKPOINTS[Scale.SO2]] == [0, 125, 350, 550, 800, 1600, 2100, 2630]
    assert [int(v) for v in BREAKPOINTS[Scale.CO]] == [0, 10000, 30000, 45000, 60000, 90000, 120000, 150000]
    assert [int(v) for v in BREAKPOINTS[Scale.O3_1H]] == [0, 160, 200, 300, 400, 800, 1000, 1200]
    assert [int(v) for v in BREAKPOINTS[Scale.O3_8H]] == [0, 100, 120, 170, 210, 400]


BOUNDARIES = [
    (scale, float(bp), INDEX_BREAKPOINTS[i]) for scale, bps in BREAKPOINTS.items() for i, bp in enumerate(bps)
]


@pytest.mark.parametrize(("scale", "concentration", "index"), BOUNDARIES)
def test_every_breakpoint_gives_its_index(scale, concentration, index):
    assert sub_index(scale, concentration).value == index


@pytest.mark.parametrize(("scale", "concentration", "index"), [b for b in BOUNDARIES if b[1] > 0])
def test_just_below_and_above_every_breakpoint(scale, concentration, index):
    # Continuity: a hair either side of a breakpoint rounds to the breakpoint's index.
    assert sub_index(scale, concentration - 1e-6).value == index
    if not (scale is Scale.O3_8H and concentration == 400):
        assert sub_index(scale, concentration + 1e-6).value == index


@pytest.mark.parametrize(
    ("scale", "concentration", "expected"),
    [
        (Scale.PM25, 35, 70),  # 50 + 50/25 × (35 − 25) = 50 + 20
        (Scale.PM10, 200, 125),  # 100 + 50/100 × (200 − 150) = 100 + 25
        (Scale.CO, 20000, 75),  # 50 + 50/20000 × 10000 = 50 + 25
        (Scale.SO2, 700, 180),  # 150 + 50/250 × (700 − 550) = 150 + 30
        (Scale.NO2, 1775, 250),  # 200 + 100/1150 × (1775 − 1200) = 200 + 50
        (Scale.O3_1H, 900, 350),  # 300 + 100/200 × (900 − 800) = 300 + 50
        (Scale.O3_8H, 145, 125),  # 100 + 50/50 × (145 − 120) = 100 + 25
        (Scale.PM25, 425, 450),  # 400 + 100/150 × (425 − 350) = 400 + 50
        (Scale.PM25, 20.25, 41),  # 50/25 × 20.25 = 40.5 → 41: half up, not half to even (40)
        (Scale.PM25, 12.7, 25),  # 50/25 × 12.7 = 25.4 → 25
        (Scale.PM10, 385, 250),  # 200 + 100/70 × (385 − 350) = 200 + 50
    ],
)
def test_hand_computed_sub_indices(scale, concentration, expected):
    assert sub_index(scale, concentration).value == expected


def test_level_edges_via_concentration():
    # PM2.5 25.2 → 50.4 → 50 (good); 25.3 → 50.6 → 51 (moderate).
    assert level_for(sub_index(Scale.PM25, 25.2).value).name_en == "Good"
    assert level_for(sub_index(Scale.PM25, 25.3).value).name_en == "Moderate"


def test_above_the_table_is_500_and_flagged():
    # The decision prints the top row as "≥ 500 µg/m³" etc. and its scale ends at 500 (Table 1).
    top = sub_index(Scale.PM25, 500)
    assert (top.value, top.above_scale) == (500, False)
    beyond = sub_index(Scale.PM25, 900)
    assert (beyond.value, beyond.above_scale) == (500, True)
    assert sub_index(Scale.CO, 1e9).value == 500


def test_o3_8h_above_400_is_not_applicable():
    assert sub_index(Scale.O3_8H, 400).value == 300
    with pytest.raises(NotApplicableError):
        sub_index(Scale.O3_8H, 400.1)


@pytest.mark.parametrize("bad", [None, math.nan, math.inf, -math.inf, -0.1, "12", True, object()])
def test_bad_concentrations_raise_a_clear_error(bad):
    with pytest.raises(InvalidConcentrationError):
        sub_index(Scale.PM25, bad)


# --- levels --------------------------------------------------------------------------------------------


LEVEL_EDGES = [(0, 1), (50, 1), (51, 2), (100, 2), (101, 3), (150, 3), (151, 4), (200, 4), (201, 5), (300, 5)]
LEVEL_EDGES += [(301, 6), (500, 6), (501, 6)]


@pytest.mark.parametrize(("aqi", "number"), LEVEL_EDGES)
def test_level_edges(aqi, number):
    assert level_for(aqi).number == number


def test_levels_table_1():
    assert [(lv.low, lv.high, lv.rgb) for lv in LEVELS] == [
        (0, 50, (0, 228, 0)),
        (51, 100, (255, 255, 0)),
        (101, 150, (255, 126, 0)),
        (151, 200, (255, 0, 0)),
        (201, 300, (143, 63, 151)),
        (301, 500, (126, 0, 35)),
    ]
    assert [lv.name_vi for lv in LEVELS] == ["Tốt", "Trung bình", "Kém", "Xấu", "Rất xấu", "Nguy hại"]
    assert LEVELS[5].hex == "#7e0023"
    assert all(lv.health_vi and lv.health_en and lv.advice_sensitive_vi and lv.advice_general_en for lv in LEVELS)


@pytest.mark.parametrize("bad", [-1, 1.5, None, True])
def test_level_for_rejects_non_aqi(bad):
    with pytest.raises(AqiError):
        level_for(bad)


# --- NowCast -------------------------------------------------------------------------------------------


def test_nowcast_with_a_gap():
    # c1 = 40, c2 missing, c3 = 20: w* = 20/40 = 0.5 → w = 0.5; (40 + 0.25 × 20) / (1 + 0.25) = 45 / 1.25 = 36.
    result = nowcast([40, None, 20])
    assert result.value == pytest.approx(36.0)
    assert result.hours_used == 2


def test_nowcast_three_values_w_above_half():
    # c = 30, 20, 30: w = 2/3; (30 + 2/3·20 + 4/9·30) / (1 + 2/3 + 4/9) = (170/3) / (19/9) = 510/19 = 26.842.
    assert nowcast([30, 20, 30]).value == pytest.approx(510 / 19)


def test_nowcast_low_weight_clamped_to_half():
    # c1 = 100, c2…c12 = 10: w* = 0.1 → w = 0.5.
    # Normalised: (100 + 10 × (1 − 0.5¹¹)) / (2 − 0.5¹¹) = 109.9951 / 1.99951 = 55.011.
    # The decision's printed w = ½ form Σ (½)^i c_i = 50 + 10 × (0.5 − 0.5¹²) = 54.998: same AQI, 108.
    result = nowcast([100] + [10] * 11)
    assert result.weight == 0.5
    assert result.value == pytest.approx(55.011, abs=1e-3)
    printed = sum(0.5 ** (i + 1) * c for i, c in enumerate([100] + [10] * 11))
    assert sub_index(Scale.PM25, result.value).value == sub_index(Scale.PM25, printed).value == 108


@pytest.mark.parametrize(
    "values",
    [[None, None, 30, 30], [math.nan, -5, 10, 10], [], [12], [None, 7]],
)
def test_nowcast_needs_two_of_the_three_latest_hours(values):
    result = nowcast(values)
    assert result.value is None
    assert "2 of the 3" in (result.reason or "")


def test_nowcast_c1_missing_is_allowed():
    assert nowcast([None, 10, 10, 10]).value == pytest.approx(10)


def test_nowcast_all_zero():
    result = nowcast([0] * 12)
    assert result.value == 0
    assert sub_index(Scale.PM25, result.value).value == 0


def test_nowcast_ignores_values_past_twelve_hours():
    assert nowcast([10] * 12 + [1000]).value == pytest.approx(10)


def test_nowcast_at_uses_the_twelve_hours_ending_at():
    at = datetime(2024, 3, 1, 9, tzinfo=ICT)
    series = {at - k * H: 10.0 for k in range(12)} | {at - 12 * H: 1000.0, at + H: 1000.0}
    assert nowcast_at(series, at).value == pytest.approx(10)


def test_hourly_aqi_reports_why_pm_is_missing():
    at = datetime(2024, 3, 1, 9, tzinfo=ICT)
    result = hourly_aqi(at=at, series={Pollutant.PM25: {at - 2 * H: 30.0}, Pollutant.NO2: {at: 150.0}})
    assert result.value is None
    assert not result.ok
    assert "PM10 or PM2.5" in (result.reason or "")
    assert "2 of the 3" in result.missing[Pollutant.PM25]
    assert result.sub_indices[Pollutant.NO2].value == 75  # 50 + 0.5 × 50


def test_hourly_aqi_gas_missing_at_the_hour():
    at = datetime(2024, 3, 1, 9, tzinfo=ICT)
    series = {Pollutant.PM10: {at: 50.0, at - H: 50.0}, "so2": {at - H: 100.0}}
    result = hourly_aqi(at=at, series=series)
    assert result.value == 50
    assert Pollutant.SO2 in result.missing


def test_ties_name_every_dominant_pollutant():
    # PM2.5 25 → 50 and PM10 50 → 50.
    result = hourly_aqi_from_values({"pm25": 25, "pm10": 50, "co": 0})
    assert result.value == 50
    assert result.dominant == (Pollutant.PM25, Pollutant.PM10)


def test_unknown_pollutant_is_a_clear_error():
    with pytest.raises(AqiError, match="unknown pollutant"):
        hourly_aqi_from_values({"pm1": 10})


def test_normalize_series_drops_junk():
    t = datetime(2024, 1, 1, 5, tzinfo=ICT)
    junk = [(t, 1.0), ("x", 2.0), (t.replace(minute=30), 3.0), (t + H, math.nan), (t + 2 * H, -1), 5, (t, 4.0)]
    assert normalize_series(junk) == {t: 4, t + H: None, t + 2 * H: None}


# --- daily ---------------------------------------------------------------------------------------------


def _day(values):
    """Series for DAY: 24 values labelled 01:00 … 00:00 next day (ICT)."""
    start = datetime(2019, 11, 12, 1, tzinfo=ICT)
    return {start + k * H: v for k, v in enumerate(values)}


def test_daily_pm_is_the_24_hour_mean():
    # 12 × 20 and 12 × 40: mean 30 → 50 + 50/25 × 5 = 60.
    result = daily_aqi(day=DAY, series={Pollutant.PM25: _day([20.0] * 12 + [40.0] * 12)})
    assert result.value == 60
    assert result.sub_indices[Pollutant.PM25].basis == "24h mean"


def test_daily_gases_use_the_days_maximum():
    # SO2 max 700 → 180 (see the hand case above). 00:00 of the day itself belongs to the day before.
    series = _day([50.0] * 23 + [700.0]) | {datetime(2019, 11, 12, 0, tzinfo=ICT): 2000.0}
    result = daily_aqi(day=DAY, series={Pollutant.SO2: series, Pollutant.PM10: _day([10.0] * 24)})
    assert result.sub_indices[Pollutant.SO2].value == 180
    assert result.value == 180
    assert result.dominant == (Pollutant.SO2,)


def test_daily_o3_from_the_example_series():
    # 1h max 97.7 → 50/160 × 97.7 = 30.53 → 31; 8h max 74.39 → 50/100 × 74.39 = 37.19 → 37. O3 = 37.
    o3 = [(FIRST + k * H, c) for k, c in enumerate(EXAMPLE_O3)]
    result = daily_aqi(day=DAY, series={Pollutant.O3: o3, Pollutant.PM25: _day([5.0] * 24)})
    assert result.sub_indices[Pollutant.O3].value == 37
    assert result.sub_indices[Pollutant.O3].scale is Scale.O3_8H
    assert result.value == 37


def test_daily_o3_8h_above_400_falls_back_to_1h():
    # All hours 450: 8h max 450 > 400 is not used; 1h: 200 + 100/400 × 50 = 212.5 → 213.
    o3 = {datetime(2019, 11, 11, 18, tzinfo=ICT) + k * H: 450.0 for k, _ in enumerate(EXAMPLE_O3)}
    result = daily_aqi(day=DAY, series={Pollutant.O3: o3, Pollutant.PM25: _day([5.0] * 24)})
    assert result.sub_indices[Pollutant.O3].scale is Scale.O3_1H
    assert result.sub_indices[Pollutant.O3].value == 213
    assert result.value == 213


def test_daily_incomplete_day_is_reported():
    values = [30.0] * 17 + [None] * 7
    result = daily_aqi(day=DAY, series={Pollutant.PM25: _day(values)})
    assert result.value is None
    assert "17 of 24" in result.missing[Pollutant.PM25]
    assert daily_aqi(day=DAY, series={Pollutant.PM25: _day(values)}, min_hours=17).value == 60


def test_daily_with_naive_datetimes():
    start = datetime(2019, 11, 12, 1)
    series = {start + k * H: 50.0 for k in range(24)}
    assert daily_aqi(day=DAY, series={Pollutant.PM10: series}, tz=None).value == 50
    # Naive keys never match aware hours: reported missing, no crash.
    assert daily_aqi(day=DAY, series={Pollutant.PM10: series}).value is None


# --- properties ----------------------------------------------------------------------------------------

concentrations = st.floats(min_value=0, max_value=2e5, allow_nan=False)
scales = st.sampled_from([s for s in Scale if s is not Scale.O3_8H])


@given(scales, concentrations, concentrations)
def test_monotonic_in_concentration(scale, a, b):
    lo, hi = sorted((a, b))
    assert sub_index(scale, lo).value <= sub_index(scale, hi).value


@given(st.floats(min_value=0, max_value=400, allow_nan=False), st.floats(min_value=0, max_value=400, allow_nan=False))
def test_o3_8h_monotonic(a, b):
    lo, hi = sorted((a, b))
    assert sub_index(Scale.O3_8H, lo).value <= sub_index(Scale.O3_8H, hi).value <= 300


@given(scales, concentrations)
def test_bounds_and_level_consistency(scale, c):
    s = sub_index(scale, c)
    assert 0 <= s.value <= 500
    assert abs(s.value - s.exact) <= 0.5 + 1e-9
    level = level_for(s.value)
    assert level.low <= s.value <= level.high


odd = st.one_of(st.none(), st.floats(), st.integers(min_value=-(10**6), max_value=10**9), st.text(max_size=3))


@given(st.dictionaries(st.sampled_from(list(Pollutant)), odd))
def test_odd_input_never_crashes(values):
    result = hourly_aqi_from_values(values)
    if result.value is not None:
        assert result.level is level_for(result.value)
        assert result.value == max(s.value for s in result.sub_indices.values())
        assert set(result.dominant) <= set(result.sub_indices)
    else:
        assert result.reason


@given(st.lists(st.one_of(st.none(), st.floats(min_value=0, max_value=1000)), max_size=14))
def test_nowcast_within_present_values(values):
    result = nowcast(values)
    present = [v for v in values[:12] if v is not None]
    if result.value is not None:
        assert min(present) - 1e-9 <= result.value <= max(present) + 1e-9
    else:
        assert sum(v is not None for v in values[:3]) < 2
