"""Alerts from hand-built readings: an hour at VN_AQI 151+ opens one alert, the next hour's drop
closes it, retries and a second run duplicate nothing; a congested segment for N intervals; the
operators are notified and a subscriber of the exchange's channel receives the events."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import IntegrityError, transaction

from hcmgov.core.models import OutboxEvent
from hcmgov.core.services import outbox_deliver
from hcmgov.exchange import events
from hcmgov.exchange.tests.factories import AccessRightFactory, ChannelFactory, InformationSystemFactory
from hcmgov.exchange.tests.subscriber_support import Subscriber
from hcmgov.identity.tests.factories import RoleAssignmentFactory, UserFactory
from hcmgov.iot import alerts, storage, tasks
from hcmgov.iot.models import Alert, AlertRule, AlertWatch
from hcmgov.iot.tests.factories import DeviceFactory
from hcmgov.notifications.models import Notification

pytestmark = pytest.mark.django_db

UTC = dt.UTC
B = dt.datetime(2026, 11, 28, 0, 0, tzinfo=UTC)  # 07:00 in Ho Chi Minh City
H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)
GRACE = dt.timedelta(seconds=61)

# PM2.5 hourly means (one reading at half past each hour), and the hourly VN_AQI computed by hand
# (NowCast §2.2.1.a, w = max(c_min/c_max, ½) = ½ here; Table 2 PM2.5 breakpoints):
#   hour ending 01:00: one hour only, fewer than 2 of the 3 latest → no index
#   02:00: 20, 20                → NowCast 20                        → 50/25·20            = 40
#   03:00: 100, 20, 20           → 115 / 1.75 = 65.71                → 100 + 50/30·15.71   = 126
#   04:00: 100, 100, 20, 20      → 157.5 / 1.875 = 84.0              → 150 + 50/70·4       = 153 (> 150: opens)
#   05:00: 20, 100, 100, 20, 20  → 98.75 / 1.9375 = 50.97            → 100 + 50/30·0.97    = 102 (closes)
PM25 = [20.0, 20.0, 100.0, 100.0, 20.0]


def _write(device, values):
    received = dt.datetime.now(UTC)
    storage.readings_write([(device.pk, attr, when, value, received) for attr, when, value in values])


@pytest.fixture
def rule():
    return AlertRule.objects.get(code="aqi-above-150-1h")  # made by the data migration


@pytest.fixture
def station():
    device = DeviceFactory(code="hcm-aq-0200")
    _write(device, [("pm25", B + n * H + 30 * M, v) for n, v in enumerate(PM25)])
    return device


@pytest.fixture
def operators(station):
    admin = UserFactory(admin=True)
    agency_admin = RoleAssignmentFactory(role="agency_admin", agency=station.agency).user
    RoleAssignmentFactory(role="receiver", agency=station.agency)  # not an operator
    return [admin, agency_admin]


def _events(topic: str) -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(topic=topic).order_by("id"))


def test_the_defaults_are_made_by_the_data_migration():
    rules = {r.code: (r.kind, r.threshold, r.level, r.intervals) for r in AlertRule.objects.all()}
    assert rules == {
        "aqi-above-150-1h": ("aqi", 150.0, "", 1),
        "congested-15min": ("congestion", 0.0, "congested", 3),
    }


def test_an_hour_above_150_opens_one_alert_a_drop_closes_it_and_retries_duplicate_nothing(rule, station, operators):
    outcome = alerts.rule_evaluate(rule=rule, now=B + 4 * H + GRACE)
    [alert] = Alert.objects.all()
    assert outcome.opened == [alert.pk]
    assert (alert.started_at, alert.opened_at, alert.closed_at) == (B + 3 * H, B + 4 * H, None)
    assert (alert.value, alert.peak, alert.detail["dominant"]) == (153.0, 153.0, ["pm25"])
    assert AlertWatch.objects.get(rule=rule, device=station).streak == 1
    # the same run again (a retried task), and a run before the next hour closed: nothing more
    for now in (B + 4 * H + GRACE, B + 4 * H + 30 * M, B + 5 * H + 30 * dt.timedelta(seconds=1)):
        again = alerts.rule_evaluate(rule=rule, now=now)
        assert (again.opened, again.closed) == ([], [])
    assert Alert.objects.count() == 1
    assert len(_events(alerts.TOPIC_OPENED)) == 1

    outcome = alerts.rule_evaluate(rule=rule, now=B + 5 * H + GRACE)
    alert.refresh_from_db()
    assert outcome.closed == [alert.pk]
    assert alert.closed_at == B + 5 * H
    assert alerts.rule_evaluate(rule=rule, now=B + 5 * H + GRACE).closed == []
    assert alerts.alerts_open() == []

    [opened] = _events(alerts.TOPIC_OPENED)
    [closed] = _events(alerts.TOPIC_CLOSED)
    assert opened.key == closed.key == f"iot-alert:{alert.pk}"
    assert opened.payload["device"] == "hcm-aq-0200"
    assert (opened.payload["value"], opened.payload["threshold"], opened.payload["closed_at"]) == (153.0, 150.0, None)
    assert closed.payload["closed_at"] == (B + 5 * H).isoformat()
    # each operator told once of the opening and once of the closing
    sent = Notification.objects.order_by("recipient_id", "id")
    assert sorted((n.recipient_id, n.dedupe_key.split(":")[2]) for n in sent) == sorted(
        (u.pk, state) for u in operators for state in ("opened", "closed")
    )
    first = sent.first()
    assert first is not None
    assert "VN_AQI 153" in first.body
    assert first.subject.startswith("[IoT] Cảnh báo: VN_AQI trên 150")


def test_one_run_over_the_whole_episode_gives_the_same_single_alert(rule, station):
    outcome = alerts.rule_evaluate(rule=rule, now=B + 8 * H)
    assert outcome.intervals == 24  # the look-back: 24 hours up to 07:00 (08:00 is within its grace)
    [alert] = Alert.objects.all()
    assert (outcome.opened, outcome.closed) == ([alert.pk], [alert.pk])
    assert (alert.opened_at, alert.closed_at) == (B + 4 * H, B + 5 * H)
    assert alerts.rule_evaluate(rule=rule, now=B + 8 * H).intervals == 0
    assert len(_events(alerts.TOPIC_OPENED)) == len(_events(alerts.TOPIC_CLOSED)) == 1


def test_two_hours_needed_means_no_alert_for_one(rule, station):
    rule.intervals = 2
    rule.save()
    alerts.rule_evaluate(rule=rule, now=B + 8 * H)
    assert not Alert.objects.exists()


def test_the_database_allows_one_open_alert_per_rule_and_device(rule, station):
    alerts.rule_evaluate(rule=rule, now=B + 4 * H + GRACE)
    alert = Alert.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(
            rule=rule, device=station, started_at=alert.started_at, opened_at=alert.opened_at, value=1, peak=1
        )


def test_a_segment_congested_for_three_intervals_opens_and_a_free_interval_closes():
    rule = AlertRule.objects.get(code="congested-15min")
    segment = DeviceFactory(traffic=True)
    # free flow 40 km/h: 36 → ratio 0.9, free flow; 14 → 0.35, LOS E, congested; 8 → 0.2, LOS F, jammed
    speeds = [36.0, 14.0, 14.0, 36.0, 14.0, 8.0, 14.0, 14.0, 36.0]
    _write(segment, [("speed", B + n * 5 * M + M, v) for n, v in enumerate(speeds)]
           + [("flow", B + n * 5 * M + M, 900.0) for n in range(len(speeds))])  # fmt: skip
    outcome = alerts.rule_evaluate(rule=rule, now=B + 45 * M + GRACE)
    # two congested intervals (05–15) are not enough; 20–40 are four in a row: opened at the end of
    # the third (35), closed by the free interval 40–45
    [alert] = Alert.objects.all()
    assert (outcome.opened, outcome.closed) == ([alert.pk], [alert.pk])
    assert (alert.started_at, alert.opened_at, alert.closed_at) == (B + 20 * M, B + 35 * M, B + 45 * M)
    assert alert.detail["level"] == "congested"
    assert alert.peak == 4.0  # jammed (25–30), the worst of the episode
    assert alerts.rule_evaluate(rule=rule, now=B + 45 * M + GRACE).intervals == 0


@pytest.fixture
def hook():
    made = Subscriber(path="/iot-alerts", status=200)
    yield made
    made.stop()


def test_a_subscriber_of_the_exchange_channel_receives_the_events(rule, station, hook, settings):
    settings.EXCHANGE_CALLBACK_ALLOWED = ["127.0.0.0/8"]
    channel = ChannelFactory(topics=["iot.alert_*"])
    system = InformationSystemFactory(code="so-tnmt-moi-truong")
    AccessRightFactory(service=channel.service, consumer=system)
    events.subscription_register(subscriber=system, channel=channel, callback_url=hook.url, filters={})

    alerts.rule_evaluate(rule=rule, now=B + 5 * H + GRACE)
    assert outbox_deliver() >= 2
    assert outbox_deliver() == 0
    assert events.deliveries_send() == 2
    opened, closed = hook.events
    assert opened["type"] == "vn.gov.hochiminhcity.iot.alert_opened"
    assert closed["type"] == "vn.gov.hochiminhcity.iot.alert_closed"
    assert opened["data"]["device"] == closed["data"]["device"] == "hcm-aq-0200"
    assert (opened["data"]["value"], closed["data"]["closed_at"]) == (153.0, (B + 5 * H).isoformat())
    # a retried evaluation publishes nothing more
    alerts.rule_evaluate(rule=rule, now=B + 5 * H + GRACE)
    outbox_deliver()
    assert events.deliveries_send() == 0
    assert len(hook.events) == 2


def test_the_periodic_task_mirrors_and_evaluates(station, settings):
    assert settings.CELERY_BEAT_SCHEDULE["iot-observe"]["task"] == tasks.observe.name == "iot.observe"
    with time_machine.travel(B + 4 * H + GRACE, tick=False):
        done = tasks.observe()
        assert done == {"devices": 1, "observations": 0, "opened": 1, "closed": 0}
        assert tasks.observe() == {"devices": 0, "observations": 0, "opened": 0, "closed": 0}
