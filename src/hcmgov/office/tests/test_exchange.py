"""Documents between agencies over the exchange's event channel, over real HTTP: the acceptance
scenario of issue 12 — a document drafted, signed, issued, sent to two agencies, acknowledged by
one, delivered to the other after it comes back; the figures count it — and the acknowledgement
rules, a recipient that never acknowledges shown overdue, confidential documents kept off the
channel."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
import time_machine
from django.db.models import Max
from django.utils import timezone

from hcmgov.common.errors import DomainError
from hcmgov.core import services as core
from hcmgov.documents import services as documents
from hcmgov.exchange import events
from hcmgov.exchange.models import Delivery, DeliveryState
from hcmgov.exchange.tests.factories import AccessRightFactory, ChannelFactory, InformationSystemFactory
from hcmgov.office import dispatches, records, selectors
from hcmgov.office.models import DispatchState, IncomingDocument
from hcmgov.office.tests.test_documents import approved, issued

pytestmark = pytest.mark.django_db


def subscribe(channel, agency, url: str):
    """The recipient agency's document system, holding a right to the channel, subscribed to the
    documents addressed to its agency."""
    system = InformationSystemFactory(code=f"qlvb-{agency.pk}")
    AccessRightFactory(service=channel.service, consumer=system)
    return events.subscription_register(
        subscriber=system, channel=channel, callback_url=url, filters={"recipient": agency.code}
    )


def next_round(traveller) -> int:
    due = Delivery.objects.filter(state=DeliveryState.PENDING).aggregate(at=Max("next_at"))["at"]
    traveller.move_to(max(due or timezone.now(), timezone.now()) + dt.timedelta(seconds=1))
    return events.deliveries_send()


@pytest.fixture
def channel(db):
    """The exchange's channel of official documents (liên thông văn bản)."""
    return ChannelFactory(topics=[dispatches.TOPIC])


def test_acceptance_drafted_signed_issued_sent_to_two_one_acknowledges_the_other_gets_it_when_back(
    city, ward, district, certificate, no_tsa, signable_pdf, channel, subscribers
):
    ward_hook, district_hook = subscribers
    subscribe(channel, ward.agency, ward_hook.url)
    subscribe(channel, district.agency, district_hook.url)
    record = records.record_open(
        official=city.drafter, agency_id=city.agency.pk, code="01.NV", title="Quy chế làm việc", lead=city.drafter
    )
    document = issued(city, signable_pdf, record=record)
    assert document.number_symbol == "01/QĐ-SNV"
    records.record_attach(record=record, official=city.drafter, outgoing=document)
    core.outbox_deliver()  # the issue's own event (office.document_issued): no channel carries it

    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        sent = dispatches.document_send(
            document=document, clerk=city.clerk, recipient_ids=[ward.agency.pk, district.agency.pk]
        )
        assert {d.state for d in sent} == {DispatchState.SENT}
        district_hook.stop()  # the district's system is down
        assert core.outbox_deliver() == 2  # the request wrote the events; the worker publishes them
        assert Delivery.objects.count() == 2  # one per recipient: each subscription filters its own
        assert events.deliveries_send() == 1  # the ward's; the district's waits for its retry
        [got] = ward_hook.events
        assert got["type"] == "vn.gov.hochiminhcity.office.document_sent"
        assert got["data"]["recipient"] == ward.agency.code
        assert got["data"]["number_symbol"] == "01/QĐ-SNV"
        # the issued file travels (the number on it, signed at issue), not the leader-signed draft
        document.refresh_from_db()
        assert got["data"]["signed_sha256"] == document.issued_sha256 != document.signatures.get().signed_sha256

        # the ward registers it as incoming (its arrival number), which acknowledges it, then processes it
        ward_dispatch = next(d for d in sent if d.pk == got["data"]["dispatch_id"])
        incoming = dispatches.incoming_from_dispatch(dispatch=ward_dispatch, clerk=ward.clerk)
        assert (incoming.arrival_number, incoming.number_symbol) == (1, "01/QĐ-SNV")
        signed = documents.platform_file_read(key=incoming.file_key)  # the signed file, as issued
        assert hashlib.sha256(signed).hexdigest() == incoming.signed_sha256 == got["data"]["signed_sha256"]
        dispatches.dispatch_acknowledge(dispatch=ward_dispatch, state=DispatchState.PROCESSED)

        # a day on, the district has not acknowledged: shown overdue
        traveller.move_to(start + dt.timedelta(hours=25))
        overdue = selectors.dispatches_overdue()
        assert [(d.recipient_id, d.state) for d in overdue] == [(district.agency.pk, DispatchState.SENT)]
        assert next_round(traveller) == 0  # still down; nothing is lost, it waits

        district_hook.start()  # back, on the same address
        assert next_round(traveller) == 1
        [late] = district_hook.events
        assert late["data"]["recipient"] == district.agency.code
        district_dispatch = next(d for d in sent if d.pk == late["data"]["dispatch_id"])
        dispatches.incoming_from_dispatch(dispatch=district_dispatch, clerk=district.clerk)
        assert selectors.dispatches_overdue() == []

    states = {d.recipient_id: d for d in selectors.dispatches_of(document=document)}
    assert states[ward.agency.pk].state == DispatchState.PROCESSED
    assert states[ward.agency.pk].received_at == start
    assert states[ward.agency.pk].processed_at == start
    assert states[district.agency.pk].state == DispatchState.RECEIVED
    assert states[district.agency.pk].received_at > start + dt.timedelta(hours=25)
    assert len(ward_hook.events) == 1  # each delivered once

    # the figures: the two exchanged in the month, the city's record handled online
    local = timezone.localtime(start)
    assert selectors.documents_exchanged_by_month(year=local.year) == {local.month: 2}
    records.record_close(record=record, official=city.drafter)
    assert selectors.records_online_by_level(year=local.year) == {"city": {"total": 1, "online": 1, "percent": 100}}


def test_acknowledgements_move_forward_only_and_a_return_needs_a_reason(city, ward, certificate, no_tsa, signable_pdf):
    document = issued(city, signable_pdf)
    [dispatch] = dispatches.document_send(document=document, clerk=city.clerk, recipient_ids=[ward.agency.pk])
    with pytest.raises(DomainError) as refused:
        dispatches.dispatch_acknowledge(dispatch=dispatch, state=DispatchState.RETURNED)
    assert refused.value.code == "reason_required"
    returned = dispatches.dispatch_acknowledge(
        dispatch=dispatch, state=DispatchState.RETURNED, reason="Gửi nhầm cơ quan / sent to the wrong agency"
    )
    assert returned.returned_at is not None
    assert returned.return_reason.startswith("Gửi nhầm")
    with pytest.raises(DomainError):
        dispatches.dispatch_acknowledge(dispatch=dispatch, state=DispatchState.RECEIVED)
    # sending again to the same agency adds nothing
    again = dispatches.document_send(document=document, clerk=city.clerk, recipient_ids=[ward.agency.pk])
    assert [d.pk for d in again] == [dispatch.pk]
    assert not IncomingDocument.objects.exists()


def test_a_late_received_after_processed_changes_nothing(city, ward, certificate, no_tsa, signable_pdf):
    document = issued(city, signable_pdf)
    [dispatch] = dispatches.document_send(document=document, clerk=city.clerk, recipient_ids=[ward.agency.pk])
    dispatches.dispatch_acknowledge(dispatch=dispatch, state=DispatchState.PROCESSED)
    after = dispatches.dispatch_acknowledge(dispatch=dispatch, state=DispatchState.RECEIVED)
    assert after.state == DispatchState.PROCESSED


def test_only_issued_and_not_confidential_documents_are_sent(city, ward, certificate, no_tsa, signable_pdf):
    draft = approved(city, signable_pdf)
    with pytest.raises(DomainError) as refused:
        dispatches.document_send(document=draft, clerk=city.clerk, recipient_ids=[ward.agency.pk])
    assert refused.value.code == "not_issued"
    secret = issued(city, signable_pdf, confidentiality="secret")
    with pytest.raises(DomainError) as refused:
        dispatches.document_send(document=secret, clerk=city.clerk, recipient_ids=[ward.agency.pk])
    assert refused.value.code == "confidential_not_sent"
    with pytest.raises(DomainError) as refused:
        dispatches.document_send(document=issued(city, signable_pdf), clerk=city.clerk, recipient_ids=[])
    assert refused.value.code == "recipient_unknown"
