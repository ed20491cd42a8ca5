"""GeoJSON geometries and the geo-queries of NGSI-LD (clause 4.10): ``near`` (maxDistance,
minDistance, metres, great-circle), ``within``, ``contains``, ``intersects``, ``disjoint``,
``equals`` and ``overlaps`` for Point, MultiPoint, LineString, MultiLineString, Polygon and
MultiPolygon. Plain planar geometry on longitude/latitude (as PostGIS's ``geometry`` type does),
without shapely or PostGIS; distances are haversine metres to the nearest vertex or segment."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

from hcmgov.ngsi.errors import BadRequestData

GEOMETRY_TYPES = {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"}
GEORELS = {"near", "within", "contains", "intersects", "disjoint", "equals", "overlaps"}
EARTH = 6_371_008.8  # mean radius, metres
Pt = tuple[float, float]


def _bad(name: str) -> BadRequestData:
    return BadRequestData(f"{name}: hình học GeoJSON không hợp lệ", f"{name}: invalid GeoJSON geometry")


def _position(p: Any, name: str) -> Pt:
    if (
        not isinstance(p, list)
        or len(p) < 2
        or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in p)
        or not (-180 <= p[0] <= 180 and -90 <= p[1] <= 90)
    ):
        raise _bad(name)
    return float(p[0]), float(p[1])


def check_geometry(value: Any, name: str = "geometry") -> dict[str, Any]:
    """Validate a GeoJSON geometry; returns it unchanged."""
    if not isinstance(value, dict) or value.get("type") not in GEOMETRY_TYPES:
        raise _bad(name)
    parts(value, name)
    return value


def parts(geom: dict[str, Any], name: str = "geometry") -> tuple[list[Pt], list[list[Pt]], list[list[list[Pt]]]]:
    """(points, lines, polygons as rings) of a geometry."""
    kind, coords = geom.get("type"), geom.get("coordinates")
    if not isinstance(coords, list):
        raise _bad(name)

    def line(c: Any, closed: bool = False) -> list[Pt]:
        if not isinstance(c, list) or len(c) < (4 if closed else 2):
            raise _bad(name)
        pts = [_position(p, name) for p in c]
        if closed and pts[0] != pts[-1]:
            raise _bad(name)
        return pts

    def polygon(c: Any) -> list[list[Pt]]:
        if not isinstance(c, list) or not c:
            raise _bad(name)
        return [line(ring, closed=True) for ring in c]

    if kind == "Point":
        return [_position(coords, name)], [], []
    if kind == "MultiPoint":
        return [_position(p, name) for p in coords], [], []
    if kind == "LineString":
        return [], [line(coords)], []
    if kind == "MultiLineString":
        return [], [line(c) for c in coords], []
    if kind == "Polygon":
        return [], [], [polygon(coords)]
    if kind == "MultiPolygon":
        return [], [], [polygon(c) for c in coords]
    raise _bad(name)


def vertices(geom: dict[str, Any]) -> list[Pt]:
    points, lines, polys = parts(geom)
    return points + [p for line in lines for p in line] + [p for poly in polys for ring in poly for p in ring]


def bbox(geom: dict[str, Any]) -> tuple[float, float, float, float]:
    """(min_lon, min_lat, max_lon, max_lat)."""
    pts = vertices(geom)
    return min(p[0] for p in pts), min(p[1] for p in pts), max(p[0] for p in pts), max(p[1] for p in pts)


def haversine(a: Pt, b: Pt) -> float:
    lon1, lat1, lon2, lat2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH * math.asin(min(1.0, math.sqrt(h)))


def _segments(geom: dict[str, Any]) -> list[tuple[Pt, Pt]]:
    _, lines, polys = parts(geom)
    rings = lines + [ring for poly in polys for ring in poly]
    return [(ring[i], ring[i + 1]) for ring in rings for i in range(len(ring) - 1)]


def _in_ring(p: Pt, ring: list[Pt]) -> bool:
    inside = False
    for (x1, y1), (x2, y2) in itertools.pairwise(ring):
        if (y1 > p[1]) != (y2 > p[1]) and p[0] < (x2 - x1) * (p[1] - y1) / (y2 - y1) + x1:
            inside = not inside
    return inside


def _in_polygon(p: Pt, poly: list[list[Pt]]) -> bool:
    return _in_ring(p, poly[0]) and not any(_in_ring(p, hole) for hole in poly[1:])


def _cross(o: Pt, a: Pt, b: Pt) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _on_segment(p: Pt, a: Pt, b: Pt) -> bool:
    return (
        abs(_cross(a, b, p)) < 1e-12
        and min(a[0], b[0]) <= p[0] <= max(a[0], b[0])
        and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])
    )


def _seg_intersect(a: Pt, b: Pt, c: Pt, d: Pt) -> bool:
    d1, d2, d3, d4 = _cross(c, d, a), _cross(c, d, b), _cross(a, b, c), _cross(a, b, d)
    if ((d1 > 0) != (d2 > 0)) and ((d3 > 0) != (d4 > 0)) and d1 and d2 and d3 and d4:
        return True
    return _on_segment(a, c, d) or _on_segment(b, c, d) or _on_segment(c, a, b) or _on_segment(d, a, b)


def _covers_point(geom: dict[str, Any], p: Pt) -> bool:
    points, _lines, polys = parts(geom)
    if p in points:
        return True
    if any(_on_segment(p, a, b) for a, b in _segments(geom)):
        return True
    return any(_in_polygon(p, poly) for poly in polys)


def intersects(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if any(_covers_point(b, p) for p in vertices(a)) or any(_covers_point(a, p) for p in vertices(b)):
        return True
    return any(_seg_intersect(p, q, r, s) for p, q in _segments(a) for r, s in _segments(b))


def within(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Every vertex of ``a`` is in ``b`` and no edge of ``a`` crosses out of ``b`` (approximate for
    concave ``b``: edges are checked by their vertices and midpoints)."""
    if not all(_covers_point(b, p) for p in vertices(a)):
        return False
    return all(_covers_point(b, ((p[0] + q[0]) / 2, (p[1] + q[1]) / 2)) for p, q in _segments(a))


def _point_segment_metres(p: Pt, a: Pt, b: Pt) -> float:
    # project in a local equirectangular plane around p: exact enough at city scale
    k = math.cos(math.radians(p[1]))
    ax, ay, bx, by = (a[0] - p[0]) * k, a[1] - p[1], (b[0] - p[0]) * k, b[1] - p[1]
    dx, dy = bx - ax, by - ay
    length = dx * dx + dy * dy
    t = 0.0 if length == 0 else max(0.0, min(1.0, -(ax * dx + ay * dy) / length))
    nearest = (p[0] + (ax + t * dx) / k if k else a[0], p[1] + ay + t * dy)
    return haversine(p, nearest)


def distance(geom: dict[str, Any], p: Pt) -> float:
    """Metres from ``p`` to ``geom`` (0 inside a polygon)."""
    if _covers_point(geom, p):
        return 0.0
    best = min((haversine(p, v) for v in vertices(geom)), default=math.inf)
    for a, b in _segments(geom):
        best = min(best, _point_segment_metres(p, a, b))
    return best


@dataclass(frozen=True)
class GeoQuery:
    """A parsed geo-query: ``georel`` (with its distances), ``geometry`` and the attribute."""

    rel: str
    geometry: dict[str, Any]
    attr: str = "location"  # a term; the caller expands it
    max_distance: float | None = None
    min_distance: float | None = None

    def bounds(self) -> tuple[float, float, float, float] | None:
        """A box the matching entities' bounding boxes must meet (None: no narrowing, ``disjoint``)."""
        if self.rel == "disjoint" or (self.rel == "near" and self.max_distance is None):
            return None
        lo_lon, lo_lat, hi_lon, hi_lat = bbox(self.geometry)
        if self.rel == "near" and self.max_distance is not None:
            dlat = self.max_distance / 111_000.0
            dlon = dlat / max(0.01, math.cos(math.radians(max(abs(lo_lat), abs(hi_lat)))))
            return lo_lon - dlon, lo_lat - dlat, hi_lon + dlon, hi_lat + dlat
        return lo_lon, lo_lat, hi_lon, hi_lat

    def matches(self, geom: dict[str, Any]) -> bool:
        rel = self.rel
        if rel == "near":
            points = vertices(self.geometry)
            d = min(distance(geom, p) for p in points)
            if self.max_distance is not None and d > self.max_distance:
                return False
            return not (self.min_distance is not None and d < self.min_distance)
        if rel == "within":
            return within(geom, self.geometry)
        if rel == "contains":
            return within(self.geometry, geom)
        if rel == "intersects":
            return intersects(geom, self.geometry)
        if rel == "disjoint":
            return not intersects(geom, self.geometry)
        if rel == "equals":
            return sorted(vertices(geom)) == sorted(vertices(self.geometry))
        # overlaps: they share some space, neither within the other
        return intersects(geom, self.geometry) and not within(geom, self.geometry) and not within(self.geometry, geom)


def geo_query(georel: Any, geometry: Any, coordinates: Any, geoproperty: Any = None) -> GeoQuery:
    """Parse the geo-query parameters (clause 4.10; ``coordinates`` a JSON text or a list)."""
    import json

    if not isinstance(georel, str) or not georel:
        raise BadRequestData("Thiếu georel", "georel is missing")
    rel, *modifiers = georel.split(";")
    if rel not in GEORELS:
        raise BadRequestData(f"georel không hỗ trợ: {rel[:40]}", f"Unsupported georel: {rel[:40]}")
    max_d = min_d = None
    for mod in modifiers:
        key, _, value = mod.partition("==")
        try:
            number = float(value)
        except ValueError:
            raise BadRequestData("Khoảng cách không hợp lệ", f"Invalid distance in georel: {mod[:40]}") from None
        if key == "maxDistance" and rel == "near" and number >= 0:
            max_d = number
        elif key == "minDistance" and rel == "near" and number >= 0:
            min_d = number
        else:
            raise BadRequestData("georel không hợp lệ", f"Invalid georel modifier: {mod[:40]}")
    if rel == "near" and max_d is None and min_d is None:
        raise BadRequestData("near cần maxDistance hoặc minDistance", "near needs maxDistance or minDistance")
    if isinstance(coordinates, str):
        try:
            coordinates = json.loads(coordinates)
        except ValueError:
            raise BadRequestData("coordinates không phải JSON", "coordinates is not valid JSON") from None
    geom = check_geometry({"type": geometry, "coordinates": coordinates}, "geometry")
    attr = geoproperty if isinstance(geoproperty, str) and geoproperty else "location"
    return GeoQuery(rel=rel, geometry=geom, attr=attr, max_distance=max_d, min_distance=min_d)
