"""Push over a real Mosquitto broker: a message on the device's topic makes it check in at once."""
from __future__ import annotations

import asyncio
import os
import socket
import time

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from entryway.sim import Fleet, run_sync
from entryway.sim.mqtt import broker_address
from entryway.sim.tests.platform import FakePlatform

pytestmark = pytest.mark.mqtt

MAC = "0C110512BD01"


@pytest.fixture
def broker_url():
    url = os.environ.get("TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
    host, port, _tls = broker_address(url)
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        if os.environ.get("CI"):
            pytest.fail(f"the MQTT broker {url} is required in CI")
        pytest.skip(f"no MQTT broker at {url}")
    return url


def publish(url: str, topic: str, payload: str) -> None:
    host, port, _tls = broker_address(url)
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"entryway-test-{time.monotonic_ns()}")
    client.connect(host, port, 10)
    client.loop_start()
    client.publish(topic, payload, qos=1).wait_for_publish(5)
    client.loop_stop()
    client.disconnect()


def test_push_wakes_the_device_long_before_its_poll_interval(broker_url):
    async def body():
        platform = await FakePlatform(poll_interval=60).start()
        platform.mqtt_url = broker_url
        platform.add_device(MAC)
        fleet = Fleet(platform.url, [MAC], autop_user="ap-test", autop_password="pw-test", seed=1)
        task = asyncio.create_task(fleet.run(duration=20))
        try:
            deadline = time.monotonic() + 10
            while not (fleet.devices and fleet.device(MAC).mqtt and fleet.device(MAC).mqtt.subscribed
                       and fleet.device(MAC).checkins >= 1):
                assert time.monotonic() < deadline, fleet.devices and fleet.device(MAC).last_error
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)  # settled: waiting for its next check-in, a minute away
            device = fleet.device(MAC)
            assert device.mqtt.topic == f"entryway/device/{MAC}/cmd"
            before = device.checkins
            action = platform.add_action(MAC, "message", {"title": "Pushed", "body": "now"})
            start = time.monotonic()
            await asyncio.to_thread(publish, broker_url, f"entryway/device/{MAC}/cmd", '{"type": "checkin"}')
            while device.final.get(action) != "success":
                assert time.monotonic() - start < 5, "the push did not make the device check in"
                await asyncio.sleep(0.02)
            assert device.checkins == before + 1
            assert fleet.counters["pushes"] == 1 and device.mqtt.messages == 1
        finally:
            fleet.stop()
            await task
            await platform.stop()
        assert fleet.device(MAC).mqtt is None  # disconnected on stop

    run_sync(body())


def test_a_push_with_its_actions_is_carried_out_without_a_checkin_unless_it_is_late(broker_url):
    """docs/device-protocol.md, section 5: the actions a push brings are carried out at once, with no check-in;
    a push sent more than a poll interval ago, or one the device cannot read, calls for a check-in instead,
    and so does every push for a device that does not read them (``pushed_actions=False``)."""
    import datetime
    import json

    def pushed(action_id: int, payload: dict, age: float = 0.0) -> str:
        at = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=age)
        return json.dumps({"type": "actions", "at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                           "actions": [{"id": action_id, "kind": "message", "payload": payload}]})

    async def settled(platform, fleet):
        deadline = time.monotonic() + 10
        while not (fleet.devices and fleet.device(MAC).mqtt and fleet.device(MAC).mqtt.subscribed
                   and fleet.device(MAC).checkins >= 1):
            assert time.monotonic() < deadline, fleet.devices and fleet.device(MAC).last_error
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # waiting for its next check-in, a minute away
        return fleet.device(MAC)

    async def carried_out(device, action_id: int) -> None:
        start = time.monotonic()
        while device.final.get(action_id) != "success":
            assert time.monotonic() - start < 5, "the pushed action was not carried out"
            await asyncio.sleep(0.02)

    async def body(pushed_actions: bool) -> list[tuple[int, int]]:
        platform = await FakePlatform(poll_interval=60).start()
        platform.mqtt_url = broker_url
        platform.add_device(MAC)
        fleet = Fleet(platform.url, [MAC], autop_user="ap-test", autop_password="pw-test", seed=1,
                      pushed_actions=pushed_actions)
        task = asyncio.create_task(fleet.run(duration=30))
        checkins = []
        try:
            device = await settled(platform, fleet)
            topic = f"entryway/device/{MAC}/cmd"
            for age, text in ((0, None), (120, None), (0, '{"type": "actions", "at": "yesterday", "actions": []}')):
                before = device.checkins
                payload = {"title": f"Pushed {age}", "body": "now", "message_id": before}
                action = platform.add_action(MAC, "message", payload)
                await asyncio.to_thread(publish, broker_url, topic, text or pushed(action, payload, age))
                await carried_out(device, action)
                await asyncio.sleep(0.2)
                checkins.append((device.checkins - before, len(platform.results_for(action))))
            assert [m["title"] for m in device.messages] == ["Pushed 0", "Pushed 120", "Pushed 0"]
        finally:
            fleet.stop()
            await task
            await platform.stop()
        return checkins

    # (check-ins it took, results reported) for: a fresh push, a late one, an unreadable one
    assert run_sync(body(True)) == [(0, 1), (1, 1), (1, 1)]
    assert run_sync(body(False)) == [(1, 1), (1, 1), (1, 1)]


def test_broker_override_and_disabled_push(broker_url):
    async def body():
        platform = await FakePlatform(poll_interval=60).start()
        platform.add_device(MAC)  # the file names no broker
        fleet = Fleet(platform.url, [MAC], autop_user="ap-test", autop_password="pw-test", mqtt_url=broker_url)
        off = Fleet(platform.url, [MAC], autop_user="ap-test", autop_password="pw-test", mqtt=False)
        task = asyncio.create_task(fleet.run(duration=10, until=lambda f: bool(
            f.device(MAC).mqtt and f.device(MAC).mqtt.subscribed)))
        await task
        assert fleet.device(MAC).checkins >= 1
        platform.mqtt_url = broker_url
        await off.run(duration=5, until=lambda f: f.device(MAC).checkins >= 1)
        assert off.device(MAC).mqtt is None and off.device(MAC).mqtt_settings() is None
        await platform.stop()

    run_sync(body())


def test_keepalive_pings_keep_the_connection_and_stop_with_it(broker_url, monkeypatch):
    """The keep-alive timer sends pings (the broker drops a client silent for 1.5 x keep-alive) and is
    gone once the listener stops."""
    from entryway.sim import mqtt as sim_mqtt

    monkeypatch.setattr(sim_mqtt, "KEEPALIVE", 1)
    monkeypatch.setattr(sim_mqtt, "MISC_INTERVAL", 0.1)

    async def body():
        listener = sim_mqtt.MqttListener(url=broker_url, username="", password="", topic=f"entryway/device/{MAC}/cmd",
                                         client_id=f"entryway-test-ka-{time.monotonic_ns()}",
                                         on_message=lambda topic, payload: None)
        listener.start()
        assert await listener.wait_subscribed(5), listener.last_error
        pings = []
        send_pingreq = listener.client._send_pingreq
        listener.client._send_pingreq = lambda: (pings.append(time.monotonic()), send_pingreq())[1]
        await asyncio.sleep(3.5)  # past the broker's 1.5 s for a silent client
        assert listener.connected and listener.subscribed, listener.last_error
        assert len(pings) >= 2
        assert listener._misc is not None
        listener.stop()
        assert listener._misc is None and not listener.connected
        await asyncio.sleep(0.3)
        assert len(pings) <= 4

    run_sync(body())


def test_published_results_are_sent_inline_and_the_socket_watched_only_when_the_kernel_is_full(broker_url):
    """A small message goes out on the loop's next turn without watching the socket for writability; a burst
    larger than the socket's buffer is watched until it is all sent, and every message is acknowledged."""
    from entryway.sim import mqtt as sim_mqtt

    async def body():
        listener = sim_mqtt.MqttListener(url=broker_url, username="", password="", topic=f"entryway/device/{MAC}/cmd",
                                         client_id=f"entryway-test-pub-{time.monotonic_ns()}",
                                         on_message=lambda topic, payload: None)
        loop = asyncio.get_running_loop()
        watched = []
        add_writer = loop.add_writer
        loop.add_writer = lambda fd, callback, *args: (watched.append(fd), add_writer(fd, callback, *args))[1]
        try:
            listener.start()
            assert await listener.wait_subscribed(5), listener.last_error
            watched.clear()
            topic = f"entryway/device/{MAC}/status"
            assert await listener.publish(topic, b'{"type": "result"}', 5)
            assert watched == []

            # A send buffer of a few kilobytes: 64 KB messages cannot go out in one turn of the loop.
            listener.client.socket().setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
            burst = await asyncio.gather(*(listener.publish(topic, bytes(64 * 1024), 20) for _ in range(50)))
            assert all(burst)
            assert watched, "a burst larger than the send buffer must be watched until it is sent"
            assert not listener._watching_write and not listener.client.want_write()
            assert not loop._selector.get_key(listener.client.socket()).events & 2  # EVENT_WRITE no longer watched
        finally:
            loop.add_writer = add_writer
            listener.stop()

    run_sync(body())
