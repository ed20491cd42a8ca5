"""The IoT dashboard's pages: the map of sensors (``iot/ban-do/``), a sensor's page
(``iot/cam-bien/<code>/``) and the areas (``iot/khu-vuc/``).

Public: air quality and traffic conditions are information the city publishes to everyone (Law on
Access to Information 2016, art. 17; Law on Environmental Protection 2020, its provisions on publishing
environmental quality), and a sensor's position and values say nothing about a person.

No script and no outside asset: the map is an SVG drawn here (sensors placed by longitude and
latitude over the city's bounding box or over the sensors' own extent), each marker a link to the
sensor's page, and the same sensors follow in a table — the map's text alternative. Charts are
``hcmgov.common.svgchart`` with a table beside each. A map with tiles (Leaflet) would need a
vendored package and a tile server of the city's; see docs/iot/dashboard.md.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from hcmgov.common.access import public
from hcmgov.common.svgchart import draw
from hcmgov.iot import dashboard, selectors
from hcmgov.iot.models import DeviceKind

KINDS = {"khong-khi": DeviceKind.AIR_QUALITY, "giao-thong": DeviceKind.TRAFFIC}
MAP_WIDTH = 640
MIN_SPAN = 0.04  # degrees: the sensors' view never zooms closer than about 4 km
PAD = 0.15  # share of the span added around the sensors


@dataclass(frozen=True)
class Bounds:
    west: float
    south: float
    east: float
    north: float

    def contains(self, lon: float, lat: float) -> bool:
        return self.west <= lon <= self.east and self.south <= lat <= self.north


def city_bounds() -> Bounds:
    west, south, east, north = (float(v) for v in str(settings.IOT_MAP_BOUNDS).split(","))
    return Bounds(west, south, east, north)


def sensors_bounds(states: list[dashboard.SensorState]) -> Bounds:
    """The sensors' extent, padded, at least ``MIN_SPAN`` wide and high; the city's when none is in it."""
    city = city_bounds()
    points = [(s.device.longitude, s.device.latitude) for s in states]
    points = [p for p in points if city.contains(*p)]
    if not points:
        return city
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    span_lon = max(max(lons) - min(lons), MIN_SPAN) * (1 + 2 * PAD)
    span_lat = max(max(lats) - min(lats), MIN_SPAN) * (1 + 2 * PAD)
    mid_lon, mid_lat = (max(lons) + min(lons)) / 2, (max(lats) + min(lats)) / 2
    return Bounds(mid_lon - span_lon / 2, mid_lat - span_lat / 2, mid_lon + span_lon / 2, mid_lat + span_lat / 2)


@dataclass(frozen=True)
class Marker:
    state: dashboard.SensorState
    x: float
    y: float


@dataclass(frozen=True)
class MapView:
    """The SVG's geometry: an equirectangular projection with the longitude scaled by cos(latitude)
    (at 10.8° N the error across the city is far below a marker's size)."""

    bounds: Bounds
    width: int
    height: int
    markers: list[Marker]
    outside: int  # sensors outside the bounds (listed in the table only)
    grid_x: list[tuple[float, str]]
    grid_y: list[tuple[float, str]]


def _ticks(low: float, high: float) -> list[float]:
    step = next(s for s in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0) if (high - low) / s <= 8)
    first = math.ceil(low / step) * step
    return [round(first + i * step, 4) for i in range(int((high - first) / step) + 1)]


def map_view(states: list[dashboard.SensorState], bounds: Bounds) -> MapView:
    scale_lon = math.cos(math.radians((bounds.north + bounds.south) / 2))
    ratio = (bounds.north - bounds.south) / ((bounds.east - bounds.west) * scale_lon)
    width, height = MAP_WIDTH, max(160, round(MAP_WIDTH * ratio))

    def x_of(lon: float) -> float:
        return round((lon - bounds.west) / (bounds.east - bounds.west) * width, 1)

    def y_of(lat: float) -> float:
        return round((bounds.north - lat) / (bounds.north - bounds.south) * height, 1)

    markers = [
        Marker(s, x_of(s.device.longitude), y_of(s.device.latitude))
        for s in states
        if bounds.contains(s.device.longitude, s.device.latitude)
    ]
    return MapView(
        bounds=bounds,
        width=width,
        height=height,
        markers=markers,
        outside=len(states) - len(markers),
        grid_x=[(x_of(v), f"{v:g}°E") for v in _ticks(bounds.west, bounds.east)],
        grid_y=[(y_of(v), f"{v:g}°N") for v in _ticks(bounds.south, bounds.north)],
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@public  # air quality and traffic: information published to everyone (module docstring)
def map_page(request: HttpRequest) -> HttpResponse:
    kind_param = request.GET.get("loai", "")
    kind = KINDS.get(kind_param)
    whole_city = request.GET.get("vung") == "thanh-pho"
    states = dashboard.sensors_state(now=_now(), kind=kind)
    bounds = city_bounds() if whole_city else sensors_bounds(states)
    shades = []
    if kind != DeviceKind.TRAFFIC:
        shades.append(("air", dashboard.AQI_SHADES))
    if kind != DeviceKind.AIR_QUALITY:
        shades.append(("traffic", dashboard.TRAFFIC_SHADES))
    context = {
        "states": states,
        "view": map_view(states, bounds),
        "kind": kind_param if kind else "",
        "whole_city": whole_city,
        "shades": shades,
        "no_data": dashboard.NO_DATA,
        "stale_minutes": settings.IOT_DASHBOARD_STALE_MINUTES,
    }
    return render(request, "iot/map.html", context)


@public  # a sensor's values: public like the map
def sensor_page(request: HttpRequest, device_id: str) -> HttpResponse:
    device = selectors.device_get(code=device_id)
    if device is None:
        raise Http404("no such sensor")
    detail = dashboard.sensor_detail(device=device, now=_now())
    charts = []
    for series in detail.series:
        rows = [(label, mean) for _, label, mean, *_ in series.hours]
        chart = draw(rows, kind="line", x_field="giờ / hour", y_field=f"{series.attribute} ({series.unit})")
        charts.append((series, chart))
    aqi_chart, aqi_colours = None, {}
    if detail.aqi_hours:
        rows = [(label, float(result.value or 0)) for _, label, result in detail.aqi_hours]
        aqi_chart = draw(rows, kind="bar", x_field="giờ / hour", y_field="VN_AQI", high=100)
        # each hour's bar in its level's official colour (Decision 1459, Table 1)
        aqi_colours = {label: result.level.hex for _, label, result in detail.aqi_hours if result.level}
    context = {
        "device": device,
        "detail": detail,
        "charts": charts,
        "aqi_chart": aqi_chart,
        "aqi_colours": aqi_colours,
    }
    return render(request, "iot/sensor.html", context)


@public  # aggregates of public figures
def areas_page(request: HttpRequest) -> HttpResponse:
    return render(request, "iot/areas.html", {"areas": dashboard.areas_summary(now=_now())})
