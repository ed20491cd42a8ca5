"""The map of units: a schematic SVG of the city's administrative units, each coloured by a chosen
figure, drawn on the server (no script, no map library, no outside asset), with its legend and the
same figures in a table (the map's text alternative).

**Why a schematic.** The platform holds no boundary polygons (none was available offline), so the
map is a tile cartogram: each of the 22 district-level units of the 2021 structure (Res.
1111/NQ-UBTVQH14) is one square tile placed on a grid by its approximate position in the city
(``TILES``: our layout, from the districts' relative positions, north up; not to scale), and each
commune-level unit is a small cell inside the tile of the district it belongs to — a ward of 2021
inside its district; a commune of the two-tier structure of 1 Jul 2025 inside the former district
of its predecessors (the core crosswalk, primary links; the district most of them belonged to); the
communes of the former Bình Dương and Bà Rịa – Vũng Tàu provinces (no predecessor in the city) in
a tile of their own, told apart by the statistics office's code ranges (Bình Dương's below 26200).
A unit the map cannot place (a code the core does not know) is listed in the table only.

Colours: five classes of a share (0–100 %), ColorBrewer's YlGnBu (safe for colour-blind readers);
each cell also carries its class number, so colour is never the only carrier, and the legend
names each class in words.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone

from hcmgov.core import selectors as core

# district-level unit of 2021 (statistics code) → (column, row) on the tile grid; north up
TILES: dict[str, tuple[int, int]] = {
    "783": (1, 0),  # Củ Chi
    "784": (2, 1), "761": (3, 1),  # Hóc Môn, Quận 12
    "777": (1, 2), "767": (2, 2), "766": (3, 2), "764": (4, 2), "769": (6, 2),  # Bình Tân … Thủ Đức
    "785": (0, 3), "772": (2, 3), "771": (3, 3), "768": (4, 3), "765": (5, 3),  # Bình Chánh … Bình Thạnh
    "775": (1, 4), "774": (2, 4), "770": (4, 4), "760": (5, 4),  # Quận 6, 5, 3, 1
    "776": (2, 5), "773": (5, 5),  # Quận 8, 4
    "778": (4, 6),  # Quận 7
    "786": (4, 7), "787": (6, 7),  # Nhà Bè, Cần Giờ
}  # fmt: skip
# the provinces merged into the city on 1 Jul 2025 (Res. 202/2025/QH15): one tile each
FORMER_PROVINCES: dict[str, tuple[tuple[int, int], str, str]] = {
    "binh-duong": ((4, 0), "Bình Dương (cũ)", "former Bình Dương"),
    "ba-ria-vung-tau": ((6, 5), "Bà Rịa – Vũng Tàu (cũ)", "former Bà Rịa – Vũng Tàu"),
}
# commune codes (NSO list): Bình Dương 25747–25987, Bà Rịa – Vũng Tàu 26506–26732; the city's own from 26734
BINH_DUONG_BELOW = 26200
FORMER_RANGE = (25700, 26733)
TILE, GAP, MARGIN = 104, 6, 4
COLUMNS, ROWS = 7, 8
# (upper bound of the class in %, fill, text colour, label vi, label en)
CLASSES: tuple[tuple[float, str, str], ...] = (
    (20, "#ffffcc", "#000000"), (40, "#a1dab4", "#000000"), (60, "#41b6c4", "#000000"),
    (80, "#2c7fb8", "#ffffff"), (100.0001, "#253494", "#ffffff"),
)  # fmt: skip
NO_DATA = "#e0e0e0"


def shade(rate: float | None) -> tuple[int, str, str]:
    """(class number 1–5, fill, text colour) of a share; (0, grey, black) when there is none."""
    if rate is None:
        return 0, NO_DATA, "#000000"
    pct = rate * 100
    for number, (high, fill, ink) in enumerate(CLASSES, start=1):
        if pct < high:
            return number, fill, ink
    return len(CLASSES), CLASSES[-1][1], CLASSES[-1][2]


def legend() -> list[dict[str, object]]:
    low = 0
    out: list[dict[str, object]] = []
    for number, (high, fill, ink) in enumerate(CLASSES, start=1):
        top = min(int(high), 100)
        label = f"{low}–{top} %" if number == len(CLASSES) else f"{low} – dưới {top} %"
        label_en = f"{low}–{top} %" if number == len(CLASSES) else f"{low} to under {top} %"
        out.append({"number": number, "fill": fill, "ink": ink, "vi": label, "en": label_en})
        low = top
    out.append({"number": 0, "fill": NO_DATA, "ink": "#000000", "vi": "Chưa có số liệu", "en": "No figures"})
    return out


@dataclass
class Place:
    """Where a unit is drawn: its tile and, for a commune-level unit, it is one cell in that tile."""

    tile: str  # a district code of 2021, or a key of FORMER_PROVINCES
    whole: bool  # the unit is the tile itself (a district-level unit)


@dataclass
class Layout:
    """Each unit code's place and name, and each tile's name."""

    places: dict[str, Place] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    levels: dict[str, str] = field(default_factory=dict)  # code → district / commune
    tiles: dict[str, tuple[str, str]] = field(default_factory=dict)  # tile → (name vi, name en)


def layout(*, day: dt.date | None = None) -> Layout:
    """Every unit of both structures, placed; a code the two structures share is read in the one
    in force on ``day`` (today)."""
    out = Layout()
    units = list(core.unit_list())
    try:
        in_force = core.structure_at(day=day or timezone.localdate()).key
    except ObjectDoesNotExist:  # no structure loaded: nothing to prefer
        in_force = ""
    by_id = {u.pk: u for u in units}
    for u in units:
        if u.structure.key == "2021" and u.code in TILES:
            out.tiles[u.code] = (u.name, u.name_en)
    for key, (_pos, vi, en) in FORMER_PROVINCES.items():
        out.tiles[key] = (vi, en)
    mapping = core.unit_successor_map(from_structure="2021", to_structure="2025") if units else {}
    predecessors: dict[int, list[int]] = defaultdict(list)
    for old, new in mapping.items():
        if old != new:
            predecessors[new].append(old)
    # the structure in force wins a shared code: sort it last
    for u in sorted(units, key=lambda u: u.structure.key == in_force):
        place = _place(u, by_id, predecessors)
        if place is not None:
            out.places[u.code] = place
        out.names[u.code] = u.name
        out.levels[u.code] = u.level
    return out


def _place(u: Any, by_id: dict[int, Any], predecessors: dict[int, list[int]]) -> Place | None:
    code, level, structure = u.code, u.level, u.structure.key
    if structure == "2021":
        if code in TILES:
            return Place(code, True)
        parent = u.parent
        return Place(parent.code, False) if parent is not None and parent.code in TILES else None
    if level != "commune":
        return None
    parents = Counter(by_id[old].parent.code for old in predecessors.get(u.pk, []) if by_id[old].parent is not None)
    if parents:
        return Place(sorted(parents.items(), key=lambda kv: (-kv[1], kv[0]))[0][0], False)
    number = int(code) if code.isdigit() else 0
    if FORMER_RANGE[0] <= number < BINH_DUONG_BELOW:
        return Place("binh-duong", False)
    if BINH_DUONG_BELOW <= number <= FORMER_RANGE[1]:
        return Place("ba-ria-vung-tau", False)
    return None


@dataclass(frozen=True)
class Cell:
    code: str
    name: str
    x: float
    y: float
    size: float
    number: int
    fill: str
    ink: str
    value: str
    href: str

    @property
    def tx(self) -> float:  # the class number's place: the cell's centre
        return round(self.x + self.size / 2, 1)

    @property
    def ty(self) -> float:
        return round(self.y + self.size * 0.72, 1)

    @property
    def font(self) -> float:
        return round(min(self.size * 0.62, 22), 1)


@dataclass(frozen=True)
class TileView:
    key: str
    name: str
    name_en: str
    x: float
    y: float
    size: float
    cells: list[Cell]
    whole: Cell | None  # the tile is a unit with a value


@dataclass(frozen=True)
class MapView:
    width: int
    height: int
    tiles: list[TileView]
    placed: int
    unplaced: list[str]


def tile_xy(col: int, row: int) -> tuple[int, int]:
    return MARGIN + col * (TILE + GAP), MARGIN + row * (TILE + GAP)


def draw_map(values: dict[str, tuple[float | None, str, str]], place_of: Layout) -> MapView:
    """The map of the units in ``values`` (code → (share or None, the value as text, a link)).
    Tiles of the grid are drawn even when empty, so the city's shape stays readable."""
    members: dict[str, list[str]] = defaultdict(list)
    wholes: dict[str, str] = {}
    unplaced = []
    for code in sorted(values):
        place = place_of.places.get(code)
        if place is None:
            unplaced.append(code)
        elif place.whole:
            wholes[place.tile] = code
        else:
            members[place.tile].append(code)
    positions = {**TILES, **{k: pos for k, (pos, _vi, _en) in FORMER_PROVINCES.items()}}
    tiles = []
    label_h = 16  # the tile's name on top
    for key, (col, row) in positions.items():
        x, y = tile_xy(col, row)
        name, name_en = place_of.tiles.get(key, (key, key))
        whole = None
        if key in wholes:  # below the tile's name
            whole = _cell(wholes[key], values, place_of, x + 2, y + label_h, TILE - 4 - label_h + 2)
        codes = members.get(key, [])
        cells = []
        if codes:
            per_row = math.ceil(math.sqrt(len(codes)))
            size = (TILE - 4) / per_row
            size = min(size, (TILE - label_h - 2) / math.ceil(len(codes) / per_row))
            for i, code in enumerate(codes):
                cx = x + 2 + (i % per_row) * size
                cy = y + label_h + (i // per_row) * size
                cells.append(_cell(code, values, place_of, round(cx, 1), round(cy, 1), round(size - 1, 1)))
        tiles.append(TileView(key, name, name_en, x, y, TILE, cells, whole))
    width, height = tile_xy(COLUMNS, ROWS)
    placed = sum(len(t.cells) + (t.whole is not None) for t in tiles)
    return MapView(width=width, height=height, tiles=tiles, placed=placed, unplaced=unplaced)


def _cell(code: str, values: dict[str, tuple[float | None, str, str]], place_of: Layout, x: float, y: float,
          size: float) -> Cell:  # fmt: skip
    rate, text, href = values[code]
    number, fill, ink = shade(rate)
    return Cell(code, place_of.names.get(code, code), x, y, size, number, fill, ink, text, href)
