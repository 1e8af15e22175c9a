"""Remote Control with a broker: the push makes the device connect at once, not at its next check-in,
and a page of the device then comes through the platform."""
from __future__ import annotations

import time

import pytest

from entryway.sim.tests.test_mqtt import broker_url  # noqa: F401 - the broker, or a skip (a failure in CI)

pytestmark = [pytest.mark.e2e, pytest.mark.mqtt, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("e2e_settings")]


def test_remote_control_over_mqtt_connects_within_seconds(add_device, fleet_for, installer, client, settings,
                                                          broker_url):  # noqa: F811
    from entryway.remote.models import RemoteSession
    from entryway.sim.tunnel import tunnel_open

    settings.MQTT_URL = broker_url
    settings.DEVICE_POLL_INTERVAL = 60

    device = add_device("Lobby")
    runner = fleet_for([device], poll_interval=None, mqtt=True)
    assert runner.wait_until(lambda f: f.device(device.mac).online and f.device(device.mac).mqtt is not None
                             and f.device(device.mac).mqtt.subscribed, timeout=20)
    time.sleep(0.5)

    client.force_login(installer)
    start = time.monotonic()
    client.post(f"/devices/{device.pk}/remote-control/")
    session = RemoteSession.objects.get(device=device)
    assert runner.wait_until(lambda f: tunnel_open(f.device(device.mac)), timeout=10)
    page = client.get(f"/remote/{session.token}/login")
    assert page.status_code == 200 and b"R29 login" in page.content
    assert time.monotonic() - start < 10  # a poll interval is 60 s
    session.refresh_from_db()
    assert session.connected_at is not None and session.request_count == 1
    client.post(f"/remote-control/{session.token}/close/")
    assert runner.wait_until(lambda f: not tunnel_open(f.device(device.mac)), timeout=10)
