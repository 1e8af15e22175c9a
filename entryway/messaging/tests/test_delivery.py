"""Messages reaching indoor monitors over the device protocol (docs/device-protocol.md).

Monitors here are driven exactly as real devices are: HTTP Basic with MAC and device secret,
check-in to fetch actions, a result report once the message is on the screen.
"""
from __future__ import annotations

import base64
import datetime

import pytest
import time_machine
from django.utils import timezone

from entryway.deviceapi.services import actions_expire
from entryway.messaging.choices import DeliveryStatus, ReceiverType
from entryway.messaging.services import message_create

pytestmark = pytest.mark.django_db


class Monitor:
    """A minimal indoor monitor speaking the device protocol through the Django test client."""

    def __init__(self, client, device):
        self.client = client
        self.device = device
        self.displayed: list[dict] = []
        token = base64.b64encode(f"{device.mac}:{device.device_secret}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}"}

    def check_in(self) -> list[dict]:
        response = self.client.post("/device/v1/checkin", {"model": "C315", "firmware": "315.30.1.1",
                                                           "ip": "192.168.1.30", "uptime": 60},
                                    content_type="application/json", headers=self.headers)
        assert response.status_code == 200, response.content
        shown = []
        for action in response.json()["actions"]:
            if action["kind"] != "message":
                continue
            payload = action["payload"]
            self.displayed.append(payload)
            shown.append(payload)
            result = self.client.post(f"/device/v1/actions/{action['id']}/result",
                                      {"status": "success", "detail": "displayed"},
                                      content_type="application/json", headers=self.headers)
            assert result.status_code == 200, result.content
        return shown


def test_online_monitor_displays_it_and_offline_one_gets_it_when_back(client, installer, household):
    kitchen, hall = Monitor(client, household["kitchen"]), Monitor(client, household["hall"])
    message = message_create(acting_user=installer, title="Water off", body="Monday 9-12",
                             receiver_type=ReceiverType.BOTH, receivers=[household["resident"]])
    # the kitchen monitor is online: its next check-in shows the message
    [shown] = kitchen.check_in()
    assert shown == {"title": "Water off", "body": "Monday 9-12", "message_id": message.pk}
    statuses = dict(message.deliveries.values_list("location", "status"))
    assert statuses == {"Kitchen": DeliveryStatus.DELIVERED, "Hall": DeliveryStatus.PENDING}
    # shown once only
    assert kitchen.check_in() == []
    # the hall monitor was offline; it comes back two days later, within the delivery window
    with time_machine.travel(timezone.now() + datetime.timedelta(days=2)):
        actions_expire()
        [shown] = hall.check_in()
    assert shown["message_id"] == message.pk
    assert set(message.deliveries.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED}
    # the door phone never gets a message
    door = Monitor(client, household["door"])
    assert door.check_in() == []


def test_monitor_back_after_the_window_never_shows_it(client, installer, household, settings):
    settings.MESSAGE_DEVICE_EXPIRY_SECONDS = 3600
    hall = Monitor(client, household["hall"])
    message = message_create(acting_user=installer, title="Short notice", body="Today only",
                             receiver_type=ReceiverType.INDOOR_MONITOR, receivers=[household["resident"]])
    actions_expire(now=timezone.now() + datetime.timedelta(hours=2))
    assert hall.check_in() == []
    assert message.deliveries.get(location="Hall").status == DeliveryStatus.EXPIRED


def test_details_page_follows_the_monitors(client, installer, household):
    kitchen = Monitor(client, household["kitchen"])
    message = message_create(acting_user=installer, title="Water off", body="Monday 9-12",
                             receiver_type=ReceiverType.INDOOR_MONITOR, receivers=[household["resident"]])
    kitchen.check_in()
    client.force_login(installer)
    html = client.get(f"/messages/{message.pk}/").content.decode()
    assert "1 of 2 delivered" in html and "1 pending" in html
