"""Provisioning mailboxes for officials: addresses by the convention, unique case-insensitively,
idempotent, suspended when the official leaves; and the share of officials with one, by level."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction

from hcmgov.audit.models import AuditEvent
from hcmgov.citymail import selectors, services
from hcmgov.citymail.models import Mailbox, MailboxState
from hcmgov.citymail.tests.conftest import official
from hcmgov.common.errors import DomainError
from hcmgov.identity.tests.factories import RoleAssignmentFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_provisioning_gives_each_active_official_one_address_and_is_idempotent(town, capsys):
    first = official("Nguyễn Văn Đức", town.department, role="clerk")
    second = official("Ngô Văn Đức", town.ward)
    official("Trần Thị Ngọc Ánh", town.district, is_active=False)  # inactive: none
    UserFactory(full_name="Nguyễn Văn Dân")  # a citizen: none
    call_command("citymail", "provision")
    assert "opened: 2" in capsys.readouterr().out
    boxes = {m.owner_id: m for m in Mailbox.objects.all()}
    assert boxes[first.pk].address == "ducnv@tphcm.gov.vn"
    assert boxes[second.pk].address == "ducnv2@tphcm.gov.vn"
    assert boxes[first.pk].agency == town.department
    assert boxes[first.pk].title == "Văn thư trả kết quả"
    assert boxes[first.pk].search_name == "nguyen van duc"
    assert len(boxes) == 2
    audits = AuditEvent.objects.filter(action="citymail.mailbox_open").count()

    call_command("citymail", "provision")  # again: nothing new, nothing audited
    out = capsys.readouterr().out
    assert "opened: 0" in out
    assert "unchanged: 2" in out
    assert Mailbox.objects.count() == 2
    assert AuditEvent.objects.filter(action="citymail.mailbox_open").count() == audits

    first.full_name = "Nguyễn Văn Đức Anh"  # a new name: the address people write to stays
    first.save()
    result = services.mailboxes_provision()
    assert (result.opened, result.updated, result.kept) == ([], 1, 1)
    mailbox = Mailbox.objects.get(owner=first)
    assert (mailbox.address, mailbox.display_name) == ("ducnv@tphcm.gov.vn", "Nguyễn Văn Đức Anh")


def test_a_departed_official_is_suspended_and_the_address_is_never_reused(town, settings):
    settings.CITYMAIL_DOMAIN = "TPHCM.gov.vn"  # the domain is kept lower-case
    leaving = official("Lê Minh Khoa", town.ward)
    services.mailboxes_provision()
    leaving.is_active = False
    leaving.save()
    result = services.mailboxes_provision()
    assert result.suspended == ["khoalm@tphcm.gov.vn"]
    mailbox = Mailbox.objects.get(owner=leaving)
    assert mailbox.state == MailboxState.SUSPENDED
    assert mailbox.suspended_at is not None
    closed = services.mailbox_state_set(mailbox=mailbox, state=MailboxState.CLOSED)
    assert closed.closed_at is not None
    with pytest.raises(DomainError):
        services.mailbox_state_set(mailbox=closed, state=MailboxState.ACTIVE)
    newcomer = official("Lê Minh Khoa", town.department)
    services.mailboxes_provision()
    assert Mailbox.objects.get(owner=newcomer).address == "khoalm2@tphcm.gov.vn"  # the closed one stays reserved


def test_addresses_are_unique_case_insensitively_and_kinds_are_checked(town):
    services.mailbox_open_functional(agency=town.department, local_part="VanThu.STN", name="Văn thư Sở Thử nghiệm")
    assert Mailbox.objects.get().address == "vanthu.stn@tphcm.gov.vn"
    with pytest.raises(DomainError) as taken:
        services.mailbox_open_functional(agency=town.department, local_part="vanthu.stn", name="again")
    assert taken.value.code == "address_taken"
    with pytest.raises(DomainError) as invalid:
        services.mailbox_open_functional(agency=town.department, local_part="văn thư", name="x")
    assert invalid.value.code == "address_invalid"
    with pytest.raises(IntegrityError), transaction.atomic():  # the database's own guard
        Mailbox.objects.create(address="VANTHU.STN@tphcm.gov.vn", kind="functional", display_name="x",
                               created_at=Mailbox.objects.get().created_at)  # fmt: skip
    with pytest.raises(DomainError) as citizen:
        services.mailbox_open_for_official(official=UserFactory())
    assert citizen.value.code == "not_an_official"


def test_the_share_of_officials_with_an_active_mailbox_by_level(town):
    before = selectors.mailbox_coverage_by_level()
    a = official("Phạm Thanh Hương", town.department)
    official("Hồ Quốc Dũng", town.district)
    c = official("Võ Thị Yến", town.ward)
    RoleAssignmentFactory(user=a, agency=town.ward, role="head")  # city and commune: counts at both
    official("Bùi Xuân Đạt", town.ward, is_active=False)  # an inactive account: not counted
    services.mailbox_open_for_official(official=a, agency=town.department)
    services.mailbox_open_for_official(official=c, agency=town.ward)
    d = official("Đỗ Công Tuấn", town.district)
    services.mailbox_state_set(mailbox=services.mailbox_open_for_official(official=d), state=MailboxState.SUSPENDED)
    after = selectors.mailbox_coverage_by_level()

    def delta(level):
        return (after[level]["with_mailbox"] - before[level]["with_mailbox"],
                after[level]["officials"] - before[level]["officials"])  # fmt: skip

    assert delta("city") == (1, 1)
    assert delta("district") == (0, 2)  # the suspended mailbox does not count
    assert delta("commune") == (2, 2)
    assert delta("all") == (2, 4)  # each official once


def test_namesakes_take_the_next_numbers(town):
    services.mailbox_open_functional(agency=town.ward, local_part="ducnvx", name="a look-alike")
    namesakes = [official("Nguyễn Văn Đức", town.ward) for _ in range(12)]
    services.mailboxes_provision()
    got = {m.owner_id: m.address for m in Mailbox.objects.filter(kind="personal")}
    assert [got[u.pk] for u in namesakes] == [
        "ducnv@tphcm.gov.vn",
        *(f"ducnv{n}@tphcm.gov.vn" for n in range(2, 13)),
    ]
