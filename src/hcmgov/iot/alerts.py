"""Alerts of the IoT platform: a rule (:class:`~hcmgov.iot.models.AlertRule`) that holds at a device
for its number of consecutive closed intervals opens an alert; the first interval measured where
it does not hold closes it. Opening and closing each notify the operators (e-mail, queued in the
same transaction; the notifications worker sends) and publish an outbox event, ``iot.alert_opened``
or ``iot.alert_closed``, that the exchange platform puts on the channels carrying it.

Evaluated by the periodic task ``iot.observe`` (every minute), interval by interval from where the
rule's cursor stopped, never beyond the last closed interval (``IOT_OBSERVE_GRACE_SECONDS`` after
its end) nor further back than ``IOT_ALERTS_LOOKBACK_HOURS``. The rule's cursor row is locked for
the evaluation and moved in the same transaction as the alerts, streaks, notifications and events:
a retried or concurrent run finds the intervals done and writes nothing, so an episode has one
alert, one opening and one closing. A database constraint allows one open alert per rule and device
besides.

An interval where a device measured nothing (no index, no level) neither opens nor closes: a
station that falls silent during an episode keeps its alert open until it measures again; its
streak starts again from zero (the intervals must be consecutive).

- ``aqi``: the hourly VN_AQI (Decision 1459/QĐ-TCMT §2.2.1) of each closed hour above
  ``threshold`` — 150 by default, the top of level 3 "Kém": 151 and above is level 4 "Xấu", the
  level at which the decision advises everyone to reduce outdoor activity (Table 5).
- ``congestion``: the level of :func:`hcmgov.iot.traffic.traffic_state` of each closed 5-minute
  interval at ``level`` or worse.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction

from hcmgov.core.services import event_publish
from hcmgov.identity import selectors as identity
from hcmgov.iot import mirror, traffic
from hcmgov.iot.models import Alert, AlertKind, AlertRule, AlertWatch, Device, DeviceKind
from hcmgov.notifications.services import notification_queue

TOPIC_OPENED = "iot.alert_opened"
TOPIC_CLOSED = "iot.alert_closed"
LEVELS = list(traffic.CongestionLevel)  # in order, free flow first
OPERATOR_ROLES = {"agency_admin"}


@dataclass(frozen=True)
class Measure:
    """What a device measured in one interval, against a rule."""

    met: bool
    value: float
    detail: dict[str, Any] = field(default_factory=dict)


def period_of(rule: AlertRule) -> int:
    return 3600 if rule.kind == AlertKind.AQI else 300


def _measure_aqi(rule: AlertRule, devices: dict[int, Device], end: dt.datetime) -> dict[int, Measure]:
    results = mirror.hourly_aqi_at(device_ids=list(devices), hour_end=end)
    out = {}
    for device_id, result in results.items():
        # hourly_aqi_at keeps the results with an index
        assert result.value is not None
        assert result.level is not None
        detail = {"aqi": result.value, "level": result.level.number, "dominant": [p.value for p in result.dominant]}
        out[device_id] = Measure(result.value > rule.threshold, float(result.value), detail)
    return out


def _measure_congestion(rule: AlertRule, devices: dict[int, Device], end: dt.datetime) -> dict[int, Measure]:
    start = end - dt.timedelta(seconds=300)
    intervals = mirror.segment_intervals(devices=devices, since=start, until=end).get(start, {})
    floor = LEVELS.index(traffic.CongestionLevel(rule.level or traffic.CongestionLevel.CONGESTED))
    out = {}
    for device_id, interval in intervals.items():
        state = interval.state
        if state.level is None or state.los is None:
            continue
        rank = LEVELS.index(state.level)
        detail = {
            "level": state.level.value,
            "los": state.los.value,
            "basis": state.basis,
            **{k: round(v, 2) for k, v in interval.means.items()},
        }
        out[device_id] = Measure(rank >= floor, float(rank), detail)
    return out


def _operators(device: Device) -> list[Any]:
    """Who is told: the active administrators, and the agency administrators of the agency that
    owns the device."""
    people = {u.pk: u for u in identity.users_of_kind(kind="admin") if u.is_active}
    if device.agency_id:
        people.update({u.pk: u for u in identity.users_with_role(agency_id=device.agency_id, roles=OPERATOR_ROLES)})
    return [people[k] for k in sorted(people)]


def _payload(alert: Alert, state: str) -> dict[str, Any]:
    rule, device = alert.rule, alert.device
    return {
        "alert_id": alert.pk,
        "state": state,
        "rule": rule.code,
        "kind": rule.kind,
        "threshold": rule.threshold if rule.kind == AlertKind.AQI else None,
        "level": rule.level if rule.kind == AlertKind.CONGESTION else None,
        "intervals": rule.intervals,
        "device": device.code,
        "entity_id": device.entity_id,
        "name": device.name,
        "name_en": device.name_en,
        "latitude": device.latitude,
        "longitude": device.longitude,
        "ward_code": device.ward_code,
        "started_at": alert.started_at.isoformat(),
        "opened_at": alert.opened_at.isoformat(),
        "closed_at": alert.closed_at.isoformat() if alert.closed_at else None,
        "value": alert.value,
        "peak": alert.peak,
        "detail": alert.detail,
    }


def _local(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone(dt.timedelta(hours=7))).strftime("%H:%M %d/%m/%Y")


def _message(alert: Alert, state: str) -> tuple[str, str]:
    rule, device = alert.rule, alert.device
    if rule.kind == AlertKind.AQI:
        what_vi = f"VN_AQI {alert.value:.0f} (cao nhất {alert.peak:.0f})"
        what_en = f"VN_AQI {alert.value:.0f} (peak {alert.peak:.0f})"
    else:
        level = alert.detail.get("level", "")
        what_vi, what_en = f"mức ùn tắc «{level}»", f"congestion level {level!r}"
    if state == "opened":
        subject = f"[IoT] Cảnh báo: {rule.name} tại {device.name} / Alert: {rule.name_en} at {device.name_en}"
        body = (
            f"Cảnh báo «{rule.name}» tại {device.name} ({device.code}) từ {_local(alert.started_at)}: {what_vi}.\n"
            f"Vị trí: {device.latitude}, {device.longitude}; phường {device.ward_code or '-'}.\n\n"
            f"Alert {rule.name_en!r} at {device.name_en} ({device.code}) since {_local(alert.started_at)} "
            f"(Vietnam time): {what_en}.\n"
        )
    else:
        subject = f"[IoT] Hết cảnh báo: {rule.name} tại {device.name} / Alert over: {rule.name_en} at {device.name_en}"
        assert alert.closed_at is not None
        body = (
            f"Cảnh báo «{rule.name}» tại {device.name} ({device.code}) đã kết thúc lúc {_local(alert.closed_at)} "
            f"(bắt đầu {_local(alert.started_at)}; {what_vi}).\n\n"
            f"Alert {rule.name_en!r} at {device.name_en} ({device.code}) ended at {_local(alert.closed_at)} "
            f"(started {_local(alert.started_at)}; {what_en}).\n"
        )
    return subject, body


def _announce(alert: Alert, state: str) -> None:
    """Notify the operators and publish the event, in the caller's transaction (each notification's
    dedupe key names the alert and the state: a second call queues nothing more)."""
    subject, body = _message(alert, state)
    for user in _operators(alert.device):
        notification_queue(
            recipient=user, subject=subject, body=body, dedupe_key=f"iot.alert:{alert.pk}:{state}:{user.pk}"
        )
    event_publish(
        topic=TOPIC_OPENED if state == "opened" else TOPIC_CLOSED,
        key=f"iot-alert:{alert.pk}",
        payload=_payload(alert, state),
    )


@dataclass
class Outcome:
    intervals: int = 0
    opened: list[int] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)


def _step(rule: AlertRule, devices: dict[int, Device], end: dt.datetime, outcome: Outcome) -> None:
    period = dt.timedelta(seconds=period_of(rule))
    measure = _measure_aqi if rule.kind == AlertKind.AQI else _measure_congestion
    measured = measure(rule, devices, end)
    if not measured:
        return
    watches = {w.device_id: w for w in AlertWatch.objects.filter(rule=rule, device_id__in=list(measured))}
    open_alerts = {
        a.device_id: a for a in Alert.objects.filter(rule=rule, device_id__in=list(measured), closed_at__isnull=True)
    }
    new: list[AlertWatch] = []
    for device_id, m in sorted(measured.items()):
        watch = watches.get(device_id)
        if watch is None:
            watch = AlertWatch(rule=rule, device_id=device_id)
            new.append(watch)
        alert = open_alerts.get(device_id)
        if m.met:
            going_on = watch.streak and watch.last_end == end - period
            watch.streak = (watch.streak if going_on else 0) + 1
            watch.peak = max(watch.peak, m.value) if going_on else m.value
            if alert is not None:
                if m.value > alert.peak:
                    alert.peak = m.value
                    alert.save(update_fields=["peak"])
            elif watch.streak >= rule.intervals:
                alert = Alert.objects.create(
                    rule=rule,
                    device=devices[device_id],
                    started_at=end - rule.intervals * period,
                    opened_at=end,
                    value=m.value,
                    peak=watch.peak,
                    detail=m.detail,
                )
                _announce(alert, "opened")
                outcome.opened.append(alert.pk)
        else:
            watch.streak = 0
            if alert is not None:
                alert.closed_at = end
                alert.save(update_fields=["closed_at"])
                _announce(alert, "closed")
                outcome.closed.append(alert.pk)
        watch.last_end = end
    # one statement each for the watches updated and those made (a step may measure thousands)
    AlertWatch.objects.bulk_update(list(watches.values()), ["streak", "peak", "last_end"])
    AlertWatch.objects.bulk_create(new)


def rule_evaluate(*, rule: AlertRule, now: dt.datetime) -> Outcome:
    """Evaluate ``rule`` over the intervals closed since its last evaluation (see the module)."""
    period = period_of(rule)
    latest = mirror.closed_end(now=now, period=period)
    oldest = latest - dt.timedelta(hours=settings.IOT_ALERTS_LOOKBACK_HOURS)
    outcome = Outcome()
    with transaction.atomic():
        cursor = mirror.cursor_lock(name=f"alerts:{rule.code}", default=oldest)
        end = max(cursor.position, oldest)
        if end >= latest:
            return outcome
        kind = DeviceKind.AIR_QUALITY if rule.kind == AlertKind.AQI else DeviceKind.TRAFFIC
        devices = {d.pk: d for d in Device.objects.filter(kind=kind).exclude(status="retired")}
        step = dt.timedelta(seconds=period)
        while end < latest:
            end += step
            _step(rule, devices, end, outcome)
            outcome.intervals += 1
        cursor.position = latest
        cursor.save(update_fields=["position"])
    return outcome


def alerts_evaluate(*, now: dt.datetime) -> dict[str, int]:
    """Evaluate every active rule; each in its own transaction. Returns alerts opened and closed."""
    opened = closed = 0
    for rule in AlertRule.objects.filter(active=True):
        outcome = rule_evaluate(rule=rule, now=now)
        opened += len(outcome.opened)
        closed += len(outcome.closed)
    return {"opened": opened, "closed": closed}


def alerts_open(*, kind: str | None = None) -> list[Alert]:
    """The open alerts, newest first (for the dashboard)."""
    alerts = Alert.objects.filter(closed_at__isnull=True).select_related("rule", "device")
    if kind:
        alerts = alerts.filter(rule__kind=kind)
    return list(alerts)
