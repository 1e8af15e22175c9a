"""End to end: simulated indoor monitors (entryway.sim) receive a message over the real device protocol;
one is switched off while it is sent and shows it when it comes back."""
from __future__ import annotations

import time

import pytest

from entryway.messaging.choices import DeliveryStatus, ReceiverType
from entryway.messaging.models import MonitorDelivery
from entryway.messaging.services import message_create

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _statuses(message) -> dict[str, str]:
    return dict(MonitorDelivery.objects.filter(message=message).values_list("location", "status"))


def test_simulated_monitors_one_offline_then_back(live_server, settings, installer, household, client):
    from entryway.sim import DeviceSpec, Fleet, FleetThread

    settings.PUBLIC_BASE_URL = live_server.url
    kitchen, hall, door = household["kitchen"], household["hall"], household["door"]
    specs = [DeviceSpec(mac=kitchen.mac, secret=kitchen.device_secret, model="C315"),
             DeviceSpec(mac=hall.mac, secret=hall.device_secret, model="C315"),
             DeviceSpec(mac=door.mac, secret=door.device_secret, model="R29")]
    fleet = Fleet(live_server.url, specs, poll_interval=0.5, mqtt=False, reboot_seconds=0.2)
    with FleetThread(fleet) as runner:
        assert runner.wait_until(lambda f: all(d.online for d in f.devices.values()), timeout=15)
        runner.power_off(hall.mac)
        assert runner.wait_until(lambda f: not f.device(hall.mac).powered, timeout=5)

        message = message_create(acting_user=installer, title="Water off", body="Monday from 9:00 to 12:00.",
                                 receiver_type=ReceiverType.BOTH, receivers=[household["resident"]])
        _wait(lambda: _statuses(message)["Kitchen"] == DeliveryStatus.DELIVERED, 10, "the kitchen monitor")
        [shown] = fleet.device(kitchen.mac).messages
        assert (shown["message_id"], shown["title"], shown["body"]) == (message.pk, "Water off",
                                                                      "Monday from 9:00 to 12:00.")
        # the hall monitor is off: nothing shown, still pending
        time.sleep(1.0)
        assert fleet.device(hall.mac).messages == []
        assert _statuses(message)["Hall"] == DeliveryStatus.PENDING

        runner.power_on(hall.mac)
        _wait(lambda: _statuses(message)["Hall"] == DeliveryStatus.DELIVERED, 10, "the hall monitor to come back")
        assert [m["message_id"] for m in fleet.device(hall.mac).messages] == [message.pk]
        # shown once each, and never on the door phone
        time.sleep(1.0)
        assert len(fleet.device(kitchen.mac).messages) == 1 and len(fleet.device(hall.mac).messages) == 1
        assert fleet.device(door.mac).messages == []

    client.force_login(installer)
    html = client.get(f"/messages/{message.pk}/").content.decode()
    assert "2 of 2 delivered" in html and "Delivered" in html


@pytest.mark.browser
def test_details_page_after_simulated_delivery(live_server, settings, installer, household, login_page):
    from entryway.sim import DeviceSpec, Fleet, FleetThread
    from entryway.testing.browser import screenshot

    settings.PUBLIC_BASE_URL = live_server.url
    kitchen = household["kitchen"]
    fleet = Fleet(live_server.url, [DeviceSpec(mac=kitchen.mac, secret=kitchen.device_secret, model="C315")],
                  poll_interval=0.5, mqtt=False)
    with FleetThread(fleet) as runner:
        assert runner.wait_until(lambda f: f.device(kitchen.mac).online, timeout=15)
        message = message_create(acting_user=installer, title="Lift maintenance", body="The lift stops on Friday.",
                                 receiver_type=ReceiverType.BOTH, receivers=[household["resident"]])
        _wait(lambda: _statuses(message)["Kitchen"] == DeliveryStatus.DELIVERED, 10, "the kitchen monitor")
    page = login_page(installer)
    page.goto(f"{live_server.url}/messages/{message.pk}/")
    text = page.locator("table.delivery-table").inner_text()
    assert "Delivered" in text and "Pending" in text  # the hall monitor never checked in
    screenshot(page, "message-delivered")
