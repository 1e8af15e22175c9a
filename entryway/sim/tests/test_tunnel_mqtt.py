"""Remote Control with a broker: the push makes the device connect at once, not at its next check-in,
and a page of the device then comes through the platform."""
from __future__ import annotations

import os
import socket
import time

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.mqtt, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("e2e_settings")]


def test_remote_control_over_mqtt_connects_within_seconds(add_device, fleet_for, installer, client, settings):
    from entryway.remote.models import RemoteSession
    from entryway.sim.mqtt import broker_address
    from entryway.sim.tunnel import tunnel_open

    url = os.environ.get("TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
    host, port, _tls = broker_address(url)
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        if os.environ.get("CI"):
            pytest.fail(f"the MQTT broker {url} is required in CI")
        pytest.skip(f"no MQTT broker at {url}")
    settings.MQTT_URL = url
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
