"""Mail the platform sends an official goes to their city mailbox (issue 12: officials carry their
city mailbox address), through the notifications queue; others keep their account's address."""

from __future__ import annotations

from hcmgov.citymail import services
from hcmgov.citymail.models import MailboxState
from hcmgov.citymail.tests.conftest import official
from hcmgov.identity.tests.factories import UserFactory
from hcmgov.notifications.services import Outgoing, notification_queue, notification_queue_many


def test_an_officials_mail_goes_to_the_city_mailbox_and_a_citizens_to_their_address(town):
    with_box = official("Nguyễn Văn Đức", town.ward, email="duc@gmail.example")
    without = official("Trần Thị Bình", town.ward, email="binh@yahoo.example")
    citizen = UserFactory(email="an@example.vn")
    box = services.mailbox_open_for_official(official=with_box)
    assert box.address.endswith("@tphcm.gov.vn")

    one = notification_queue(recipient=with_box, subject="Văn bản đến", body="…", dedupe_key="k1")
    assert one is not None
    assert one.address == box.address
    assert notification_queue(recipient=without, subject="s", body="b", dedupe_key="k2").address == "binh@yahoo.example"
    assert notification_queue(recipient=citizen, subject="s", body="b", dedupe_key="k3").address == "an@example.vn"

    services.mailbox_state_set(mailbox=box, state=MailboxState.SUSPENDED)  # a suspended box takes no mail
    again = notification_queue(recipient=with_box, subject="s", body="b", dedupe_key="k4")
    assert again.address == "duc@gmail.example"


def test_the_batch_path_routes_the_same_way(town):
    with_box = official("Lê Văn Cường", town.district, email="cuong@gmail.example")
    citizen = UserFactory(email="an2@example.vn")
    box = services.mailbox_open_for_official(official=with_box)
    notification_queue_many(
        messages=[
            Outgoing(recipient=with_box, subject="s", body="b", dedupe_key="m1"),
            Outgoing(recipient=citizen, subject="s", body="b", dedupe_key="m2"),
        ]
    )
    from hcmgov.notifications.models import Notification

    assert dict(Notification.objects.values_list("dedupe_key", "address")) == {
        "m1": box.address,
        "m2": "an2@example.vn",
    }
