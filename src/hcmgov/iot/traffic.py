"""Traffic state of a road segment from flow, mean speed and occupancy.

Pure functions, no database. The congestion level comes from the ratio of the measured mean speed
to the segment's free-flow speed, graded by the urban-street level-of-service table of the Highway
Capacity Manual 2010 (HCM 2010, Exhibit 16-4, auto mode: travel speed as a percentage of base
free-flow speed, with LOS F also when the volume-to-capacity ratio exceeds 1.0):

    LOS A  > 85 %    B  > 67–85 %    C  > 50–67 %    D  > 40–50 %    E  > 30–40 %    F  ≤ 30 %

Why HCM 2010 and not the Vietnamese standards: TCVN 4054:2005 (rural roads) and TCXDVN 104:2007
(urban streets) grade service levels for *design*, by the volume-to-capacity ratio Z = N/P, which
needs a capacity per segment that the sensors do not measure; the speed ratio uses what the detectors
report and what every segment has (its free-flow speed, measured off-peak or posted). Where a
capacity is configured, v/c > 1 still forces LOS F as HCM 2010 does.

When speed is missing (or meaningless: no vehicle passed), occupancy is used instead. The cut points
are the HCM 2010 basic-freeway density thresholds (Exhibit 11-5: 11, 18, 26, 35, 45 pc/mi/ln),
converted to occupancy with an effective vehicle length (vehicle + detector zone, default 7 m):
occupancy % = density (veh/km/lane) × L_eff (m) / 10. This is an indicative fallback, marked as
such in the result (`basis="occupancy"`); HCM gives no occupancy table and HCMC's motorcycle-heavy
traffic makes the conversion rough.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class Los(StrEnum):
    A = "A"
    B = "B"
    C = "C"
    D = "D"
    E = "E"
    F = "F"


class CongestionLevel(StrEnum):
    FREE_FLOW = "free_flow"
    MODERATE = "moderate"
    HEAVY = "heavy"
    CONGESTED = "congested"
    JAMMED = "jammed"


@dataclass(frozen=True)
class LevelStyle:
    """How a congestion level is shown: labels and map colour (the platform's choice)."""

    level: CongestionLevel
    label_vi: str
    label_en: str
    rgb: tuple[int, int, int]

    @property
    def hex(self) -> str:
        return "#{:02x}{:02x}{:02x}".format(*self.rgb)


STYLES: dict[CongestionLevel, LevelStyle] = {
    s.level: s
    for s in (
        LevelStyle(CongestionLevel.FREE_FLOW, "Thông thoáng", "Free flow", (0, 170, 0)),
        LevelStyle(CongestionLevel.MODERATE, "Đông xe", "Moderate", (255, 215, 0)),
        LevelStyle(CongestionLevel.HEAVY, "Đông đúc, chậm", "Heavy", (255, 140, 0)),
        LevelStyle(CongestionLevel.CONGESTED, "Ùn tắc", "Congested", (230, 0, 0)),
        LevelStyle(CongestionLevel.JAMMED, "Kẹt xe nghiêm trọng", "Jammed", (128, 0, 0)),
    )
}

#: HCM 2010 Exhibit 16-4: LOS by travel speed / base free-flow speed, "greater than" each threshold.
SPEED_RATIO_LOS: tuple[tuple[float, Los], ...] = (
    (0.85, Los.A),
    (0.67, Los.B),
    (0.50, Los.C),
    (0.40, Los.D),
    (0.30, Los.E),
)

#: HCM 2010 Exhibit 11-5 density thresholds (pc/mi/ln), "less than or equal to" each.
DENSITY_LOS_PC_MI_LN: tuple[tuple[float, Los], ...] = ((11, Los.A), (18, Los.B), (26, Los.C), (35, Los.D), (45, Los.E))
KM_PER_MILE = 1.609344

#: Five levels from six LOS grades: A and B are both unimpeded flow on a city street.
LOS_LEVEL: dict[Los, CongestionLevel] = {
    Los.A: CongestionLevel.FREE_FLOW,
    Los.B: CongestionLevel.FREE_FLOW,
    Los.C: CongestionLevel.MODERATE,
    Los.D: CongestionLevel.HEAVY,
    Los.E: CongestionLevel.CONGESTED,
    Los.F: CongestionLevel.JAMMED,
}


@dataclass(frozen=True)
class TrafficState:
    """The state of one segment: LOS, congestion level and what it was derived from.

    `level` is None when nothing usable was measured; `reason` then says why. `notes` lists inputs
    that were ignored (NaN, negative, speed with zero flow).
    """

    level: CongestionLevel | None
    los: Los | None
    basis: str | None
    speed_ratio: float | None = None
    flow_veh_h: float | None = None
    reason: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def style(self) -> LevelStyle | None:
        return STYLES[self.level] if self.level is not None else None


def _clean(name: str, value: object, notes: list[str]) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        notes.append(f"{name} ignored: not a finite number ≥ 0 ({value!r})")
        return None
    return float(value)


def los_from_speed_ratio(ratio: float) -> Los:
    """HCM 2010 Exhibit 16-4 grade of a speed ratio (measured speed / free-flow speed)."""
    for threshold, los in SPEED_RATIO_LOS:
        if ratio > threshold:
            return los
    return Los.F


def occupancy_thresholds(effective_vehicle_length_m: float = 7.0) -> tuple[tuple[float, Los], ...]:
    """Occupancy % cut points from the HCM density thresholds: k (veh/km/ln) × L_eff (m) / 10."""
    return tuple((d / KM_PER_MILE * effective_vehicle_length_m / 10, los) for d, los in DENSITY_LOS_PC_MI_LN)


def los_from_occupancy(occupancy_pct: float, effective_vehicle_length_m: float = 7.0) -> Los:
    """Indicative LOS from detector occupancy (percent of time the detector is occupied)."""
    for threshold, los in occupancy_thresholds(effective_vehicle_length_m):
        if occupancy_pct <= threshold:
            return los
    return Los.F


def traffic_state(
    *,
    free_flow_speed_kmh: float,
    flow_veh_h: object = None,
    speed_kmh: object = None,
    occupancy_pct: object = None,
    capacity_veh_h: float | None = None,
    effective_vehicle_length_m: float = 7.0,
) -> TrafficState:
    """Congestion level of a segment for one interval.

    Speed ratio first (HCM 2010 Exhibit 16-4); occupancy when speed is missing; v/c > 1 forces LOS F
    when a capacity is given. A speed reported with zero flow is ignored (detectors report 0 km/h
    when no vehicle passed). Invalid measurements are ignored and listed in `notes`; an invalid
    segment configuration (free-flow speed or capacity not > 0) raises ValueError.
    """
    if not _positive(free_flow_speed_kmh):
        raise ValueError(f"free_flow_speed_kmh must be a positive number, got {free_flow_speed_kmh!r}")
    if capacity_veh_h is not None and not _positive(capacity_veh_h):
        raise ValueError(f"capacity_veh_h must be a positive number, got {capacity_veh_h!r}")
    if not _positive(effective_vehicle_length_m):
        raise ValueError(f"effective_vehicle_length_m must be positive, got {effective_vehicle_length_m!r}")

    notes: list[str] = []
    flow = _clean("flow_veh_h", flow_veh_h, notes)
    speed = _clean("speed_kmh", speed_kmh, notes)
    occupancy = _clean("occupancy_pct", occupancy_pct, notes)
    if occupancy is not None and occupancy > 100:
        notes.append(f"occupancy_pct ignored: above 100 ({occupancy})")
        occupancy = None
    if speed is not None and flow == 0:
        notes.append("speed ignored: no vehicle passed (flow 0)")
        speed = None

    ratio = None
    if speed is not None:
        ratio = speed / free_flow_speed_kmh
        los, basis = los_from_speed_ratio(ratio), "speed"
    elif occupancy is not None:
        los, basis = los_from_occupancy(occupancy, effective_vehicle_length_m), "occupancy"
    else:
        reason = "no usable speed or occupancy" + (" (flow alone cannot tell free flow from a queue)" if flow else "")
        return TrafficState(None, None, None, flow_veh_h=flow, reason=reason, notes=tuple(notes))

    if capacity_veh_h is not None and flow is not None and flow / capacity_veh_h > 1.0:
        los = Los.F  # HCM 2010 Exhibit 16-4: LOS F whenever v/c > 1.0
        notes.append(f"v/c = {flow / capacity_veh_h:.2f} > 1: LOS F")
    return TrafficState(LOS_LEVEL[los], los, basis, speed_ratio=ratio, flow_veh_h=flow, notes=tuple(notes))


def _positive(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value) and value > 0
