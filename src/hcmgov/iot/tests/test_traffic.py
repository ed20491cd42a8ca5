"""Traffic state by road segment: HCM 2010 speed-ratio LOS (Exhibit 16-4), occupancy fallback, edges."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hcmgov.iot.traffic import (
    STYLES,
    CongestionLevel,
    Los,
    los_from_occupancy,
    los_from_speed_ratio,
    occupancy_thresholds,
    traffic_state,
)

ORDER = list(CongestionLevel)


@pytest.mark.parametrize(
    ("speed", "los", "level"),
    [
        (45, Los.A, CongestionLevel.FREE_FLOW),  # 45 / 50 = 0.90 > 0.85
        (42.5, Los.B, CongestionLevel.FREE_FLOW),  # 0.85 is not > 0.85
        (40, Los.B, CongestionLevel.FREE_FLOW),  # 0.80
        (33.5, Los.C, CongestionLevel.MODERATE),  # 0.67 is not > 0.67
        (30, Los.C, CongestionLevel.MODERATE),  # 0.60
        (22, Los.D, CongestionLevel.HEAVY),  # 0.44
        (20, Los.E, CongestionLevel.CONGESTED),  # 0.40 is not > 0.40
        (17, Los.E, CongestionLevel.CONGESTED),  # 0.34
        (15, Los.F, CongestionLevel.JAMMED),  # 0.30 is not > 0.30
        (3, Los.F, CongestionLevel.JAMMED),  # 0.06
    ],
)
def test_speed_ratio_on_a_50_kmh_street(speed, los, level):
    state = traffic_state(free_flow_speed_kmh=50, flow_veh_h=900, speed_kmh=speed)
    assert (state.los, state.level, state.basis) == (los, level, "speed")
    assert state.speed_ratio == pytest.approx(speed / 50)


@pytest.mark.parametrize(
    ("ratio", "below", "above"),
    [(0.85, Los.B, Los.A), (0.67, Los.C, Los.B), (0.50, Los.D, Los.C), (0.40, Los.E, Los.D), (0.30, Los.F, Los.E)],
)
def test_every_threshold(ratio, below, above):
    # HCM 2010 Exhibit 16-4 reads "> 85 %", "> 67–85 %"…: the threshold itself belongs to the worse grade.
    assert los_from_speed_ratio(ratio) == below
    assert los_from_speed_ratio(ratio + 1e-9) == above


def test_faster_than_free_flow_is_a():
    assert traffic_state(free_flow_speed_kmh=40, speed_kmh=60).los == Los.A


def test_occupancy_thresholds_from_hcm_density():
    # 11 pc/mi/ln / 1.609344 = 6.835 veh/km × 7 m / 10 = 4.78 %; 45 → 27.96 veh/km → 19.57 %.
    cuts = [round(t, 2) for t, _ in occupancy_thresholds(7.0)]
    assert cuts == [4.78, 7.83, 11.31, 15.22, 19.57]


@pytest.mark.parametrize(
    ("occupancy", "los", "level"),
    [
        (0, Los.A, CongestionLevel.FREE_FLOW),
        (3, Los.A, CongestionLevel.FREE_FLOW),
        (10, Los.C, CongestionLevel.MODERATE),
        (14, Los.D, CongestionLevel.HEAVY),
        (18, Los.E, CongestionLevel.CONGESTED),
        (25, Los.F, CongestionLevel.JAMMED),
        (100, Los.F, CongestionLevel.JAMMED),
    ],
)
def test_occupancy_when_speed_is_missing(occupancy, los, level):
    state = traffic_state(free_flow_speed_kmh=50, flow_veh_h=600, occupancy_pct=occupancy)
    assert (state.los, state.level, state.basis) == (los, level, "occupancy")
    assert state.speed_ratio is None


def test_zero_flow_speed_is_ignored():
    # A standstill queue over the detector: no vehicle passes, speed reads 0, occupancy is high.
    jam = traffic_state(free_flow_speed_kmh=50, flow_veh_h=0, speed_kmh=0, occupancy_pct=60)
    assert jam.level is CongestionLevel.JAMMED
    assert jam.basis == "occupancy"
    assert any("flow 0" in n for n in jam.notes)
    # An empty road: nothing passes and nothing sits on the detector.
    assert traffic_state(free_flow_speed_kmh=50, flow_veh_h=0, speed_kmh=0, occupancy_pct=0).level is (
        CongestionLevel.FREE_FLOW
    )


def test_nothing_usable():
    state = traffic_state(free_flow_speed_kmh=50, flow_veh_h=1200)
    assert state.level is None
    assert state.style is None
    assert "flow alone" in (state.reason or "")


def test_over_capacity_is_f():
    # v/c = 2000 / 1800 = 1.11 > 1: LOS F even at 45/50 = 0.9.
    state = traffic_state(free_flow_speed_kmh=50, flow_veh_h=2000, speed_kmh=45, capacity_veh_h=1800)
    assert state.los == Los.F
    assert state.level is CongestionLevel.JAMMED


@pytest.mark.parametrize("bad", [math.nan, -3, math.inf, "fast", True])
def test_bad_speed_falls_back_to_occupancy(bad):
    state = traffic_state(free_flow_speed_kmh=50, flow_veh_h=600, speed_kmh=bad, occupancy_pct=3)
    assert state.basis == "occupancy"
    assert state.notes


def test_occupancy_above_100_is_ignored():
    state = traffic_state(free_flow_speed_kmh=50, occupancy_pct=140)
    assert state.level is None
    assert state.notes


@pytest.mark.parametrize(
    "kwargs",
    [{"free_flow_speed_kmh": 0}, {"free_flow_speed_kmh": math.nan}, {"free_flow_speed_kmh": 50, "capacity_veh_h": 0}],
)
def test_bad_configuration_raises(kwargs):
    with pytest.raises(ValueError, match="must be"):
        traffic_state(**kwargs)


def test_styles():
    assert set(STYLES) == set(CongestionLevel)
    assert all(s.label_vi and s.label_en and s.hex.startswith("#") for s in STYLES.values())
    assert traffic_state(free_flow_speed_kmh=50, speed_kmh=10, flow_veh_h=100).style == STYLES[CongestionLevel.JAMMED]


speeds = st.floats(min_value=0, max_value=200, allow_nan=False)


@given(st.floats(min_value=5, max_value=120), speeds, speeds)
def test_faster_is_never_worse(ffs, a, b):
    lo, hi = sorted((a, b))
    slow = traffic_state(free_flow_speed_kmh=ffs, flow_veh_h=100, speed_kmh=lo).level
    fast = traffic_state(free_flow_speed_kmh=ffs, flow_veh_h=100, speed_kmh=hi).level
    assert ORDER.index(fast) <= ORDER.index(slow)


@given(st.floats(min_value=0, max_value=100), st.floats(min_value=0, max_value=100))
def test_more_occupied_is_never_better(a, b):
    lo, hi = sorted((a, b))
    assert list(Los).index(los_from_occupancy(lo)) <= list(Los).index(los_from_occupancy(hi))


odd = st.one_of(st.none(), st.floats(), st.integers(min_value=-(10**6), max_value=10**6), st.text(max_size=2))


@given(odd, odd, odd)
def test_odd_measurements_never_crash(flow, speed, occupancy):
    state = traffic_state(free_flow_speed_kmh=50, flow_veh_h=flow, speed_kmh=speed, occupancy_pct=occupancy)
    assert (state.level is None) == (state.reason is not None)
    if state.level is not None:
        assert state.style is STYLES[state.level]
