"""Push over MQTT against real Mosquitto: the plain broker on 127.0.0.1:1883 (TEST_MQTT_URL), and a
second broker started here with the dynamic-security plugin for per-device credentials."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import in_ci
from entryway.deviceapi import mqtt
from entryway.deviceapi.services import action_create

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.mqtt]

DYNSEC_PLUGIN_PATHS = ["/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
                       "/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so",
                       "/usr/lib/mosquitto_dynamic_security.so"]


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _need(condition: bool, reason: str) -> None:
    if condition:
        return
    if in_ci():
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def plain_broker_url():
    url = os.environ.get("TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
    broker = mqtt.parse_url(url)
    _need(_reachable(broker.host, broker.port), f"no MQTT broker at {url}")
    return url


class Listener:
    """A device-side client: connects, subscribes, records messages and SUBACK codes."""

    def __init__(self, url: str, username: str | None = None, password: str | None = None):
        broker = mqtt.parse_url(url)
        self.broker = mqtt.Broker(broker.host, broker.port, username, password, broker.tls) if username else broker
        self.client = mqtt.make_client(self.broker)
        self.messages: list[tuple[str, bytes]] = []
        self.connected = threading.Event()
        self.connect_code = None
        self.subacks: dict[int, list] = {}
        self._sub_events: dict[int, threading.Event] = {}
        self._got = threading.Condition()
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self.connect_code = reason_code
        self.connected.set()

    def _on_subscribe(self, client, userdata, mid, reason_code_list, properties):
        self.subacks[mid] = reason_code_list
        self._sub_events.setdefault(mid, threading.Event()).set()

    def _on_message(self, client, userdata, message):
        with self._got:
            self.messages.append((message.topic, message.payload))
            self._got.notify_all()

    def start(self) -> Listener:
        self.client.connect(self.broker.host, self.broker.port, keepalive=30)
        self.client.loop_start()
        assert self.connected.wait(5), "no CONNACK"
        return self

    def subscribe(self, topic: str) -> bool:
        """True when the broker granted the subscription."""
        _rc, mid = self.client.subscribe(topic, qos=1)
        event = self._sub_events.setdefault(mid, threading.Event())
        assert event.wait(5), "no SUBACK"
        return not any(code.is_failure for code in self.subacks[mid])

    def wait_message(self, count: int = 1, timeout: float = 5.0) -> list[tuple[str, bytes]]:
        deadline = time.monotonic() + timeout
        with self._got:
            while len(self.messages) < count and time.monotonic() < deadline:
                self._got.wait(0.1)
        return list(self.messages)

    def stop(self):
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture(autouse=True)
def fresh_publisher():
    mqtt.publisher.close()
    yield
    mqtt.publisher.close()


def test_new_action_is_pushed_on_the_devices_topic(plain_broker_url, settings, device,
                                                   django_capture_on_commit_callbacks):
    settings.MQTT_URL = plain_broker_url
    listener = Listener(plain_broker_url).start()
    try:
        assert listener.subscribe(f"entryway/device/{device.mac}/cmd")
        with django_capture_on_commit_callbacks(execute=True):
            action_create(device=device, kind="reboot")
        messages = listener.wait_message()
        assert messages == [(f"entryway/device/{device.mac}/cmd", b'{"type": "checkin"}')]
    finally:
        listener.stop()


def test_batch_of_actions_pushes_each_device_once(plain_broker_url, settings, make_device, installer,
                                                  django_capture_on_commit_callbacks):
    from entryway.deviceapi.services import actions_bulk_create

    settings.MQTT_URL = plain_broker_url
    devices = [make_device(installer) for _ in range(3)]
    listener = Listener(plain_broker_url).start()
    try:
        assert listener.subscribe("entryway/device/+/cmd")
        with django_capture_on_commit_callbacks(execute=True):
            actions_bulk_create(devices=devices, kind="reboot")
        messages = listener.wait_message(3)
        assert sorted(topic for topic, _ in messages) == sorted(f"entryway/device/{d.mac}/cmd" for d in devices)
    finally:
        listener.stop()


def test_a_new_upgrade_is_pushed_with_its_action_as_a_checkin_answers_it(plain_broker_url, settings, make_device,
                                                                           installer, client,
                                                                           django_capture_on_commit_callbacks):
    """docs/device-protocol.md, section 5: an upgrade rides in the push (each device its own action), with the
    time it was sent; the device's check-in answers the very same action, and kinds that carry secrets or
    residents' words (here a One Time AutoP and a message) still push a bare call to check in."""
    import datetime
    import json

    from entryway.deviceapi.services import actions_bulk_create
    from entryway.deviceapi.tests.conftest import basic

    settings.MQTT_URL = plain_broker_url
    devices = [make_device(installer) for _ in range(2)]
    payload = {"version": "29.30.2.806", "url": "http://testserver/firmware/files/t/f.bin", "sha256": "ab" * 32,
               "size": 123}
    listener = Listener(plain_broker_url).start()
    try:
        assert listener.subscribe("entryway/device/+/cmd")
        before = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        with django_capture_on_commit_callbacks(execute=True):
            created = actions_bulk_create(devices=devices, kind="upgrade", payload_for=payload)
        messages = dict(listener.wait_message(2))
        assert len(messages) == 2
        for device, action in zip(devices, created, strict=True):
            message = json.loads(messages[f"entryway/device/{device.mac}/cmd"])
            at = datetime.datetime.strptime(message.pop("at"), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
            assert before <= at <= datetime.datetime.now(datetime.UTC)
            assert message == {"type": "actions", "actions": [{"id": action.pk, "kind": "upgrade", "payload": payload}]}
        device = devices[0]
        device.refresh_from_db()
        answer = client.post("/device/v1/checkin", "{}", content_type="application/json",
                             headers=basic(device.mac, device.device_secret)).json()
        pushed = json.loads(messages[f"entryway/device/{device.mac}/cmd"])["actions"]
        assert answer["actions"] == pushed

        listener.messages.clear()
        with django_capture_on_commit_callbacks(execute=True):
            action_create(device=devices[1], kind="autop", payload={"lines": ["Config.Settings.X.Y = 1"]})
            action_create(device=devices[1], kind="message", payload={"title": "t", "body": "b", "message_id": 1})
        assert listener.wait_message(2) == [(f"entryway/device/{devices[1].mac}/cmd", b'{"type": "checkin"}')] * 2
    finally:
        listener.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_broker_down_costs_nothing(settings, device, django_capture_on_commit_callbacks):
    settings.MQTT_URL = f"mqtt://127.0.0.1:{_free_port()}"
    settings.MQTT_TIMEOUT = 3
    started = time.perf_counter()
    with django_capture_on_commit_callbacks(execute=True):
        action = action_create(device=device, kind="reboot")
    assert time.perf_counter() - started < 1.5
    assert action.pk  # polling still delivers it
    # later pushes do not wait for the missing broker at all
    started = time.perf_counter()
    with django_capture_on_commit_callbacks(execute=True):
        action_create(device=device, kind="reboot")
    assert time.perf_counter() - started < 0.45


# --- dynamic security -----------------------------------------------------------------------------

@pytest.fixture
def dynsec_broker(tmp_path: Path):
    mosquitto = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    ctrl = shutil.which("mosquitto_ctrl")
    plugin = next((p for p in DYNSEC_PLUGIN_PATHS if Path(p).exists()), None)
    _need(bool(mosquitto and ctrl and plugin), "mosquitto with the dynamic-security plugin is not installed")
    admin_password = "admin-" + os.urandom(6).hex()
    config_file = tmp_path / "dynsec.json"
    subprocess.run([ctrl, "dynsec", "init", str(config_file), "admin", admin_password], check=True,
                   capture_output=True, timeout=30)
    port = _free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(
        f"user root\nlistener {port} 127.0.0.1\nallow_anonymous false\npersistence false\n"
        f"plugin {plugin}\nplugin_opt_config_file {config_file}\nlog_dest stderr\n")
    # Its log to a file: a pipe nobody reads fills up after enough connections, and then Mosquitto stops serving.
    log = tmp_path / "mosquitto.log"
    with log.open("wb") as out:
        process = subprocess.Popen([mosquitto, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=out)
    try:
        deadline = time.monotonic() + 10
        while not _reachable("127.0.0.1", port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("mosquitto did not start: " + log.read_text(errors="replace"))
            time.sleep(0.05)
        yield f"mqtt://admin:{admin_password}@127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()


def test_each_device_has_its_own_credentials_for_its_own_topics(dynsec_broker, settings, make_device, installer,
                                                                 django_capture_on_commit_callbacks):
    settings.MQTT_URL = dynsec_broker
    settings.MQTT_DYNSEC = True
    device_url = "mqtt://" + dynsec_broker.rsplit("@", 1)[1]
    with django_capture_on_commit_callbacks(execute=True):
        alice = make_device(installer)
        bob = make_device(installer)
    alice.refresh_from_db()
    bob.refresh_from_db()

    # a wrong password is refused
    intruder = Listener(device_url, alice.mac, "wrong")
    intruder.client.connect(intruder.broker.host, intruder.broker.port)
    intruder.client.loop_start()
    assert intruder.connected.wait(5) and intruder.connect_code.is_failure
    intruder.stop()

    device = Listener(device_url, alice.mac, alice.mqtt_password).start()
    try:
        assert not device.connect_code.is_failure
        assert device.subscribe(f"entryway/device/{alice.mac}/cmd")
        # another device's topic, or everything, is refused
        assert not device.subscribe(f"entryway/device/{bob.mac}/cmd")
        assert not device.subscribe("entryway/device/#")
        # the platform's push reaches the device on its own topic
        with django_capture_on_commit_callbacks(execute=True):
            action_create(device=alice, kind="reboot")
        assert device.wait_message() == [(f"entryway/device/{alice.mac}/cmd", b'{"type": "checkin"}')]
    finally:
        device.stop()

    # a deleted device's credentials stop working
    with django_capture_on_commit_callbacks(execute=True):
        bob_mac, bob_password = bob.mac, bob.mqtt_password
        bob.delete()
    gone = Listener(device_url, bob_mac, bob_password)
    gone.client.connect(gone.broker.host, gone.broker.port)
    gone.client.loop_start()
    assert gone.connected.wait(5) and gone.connect_code.is_failure
    gone.stop()


def test_provisioning_is_idempotent(dynsec_broker, settings, device):
    settings.MQTT_URL = dynsec_broker
    settings.MQTT_DYNSEC = True
    from entryway.deviceapi.services import mqtt_device_provision

    assert mqtt_device_provision(device_id=device.pk)
    assert mqtt_device_provision(device_id=device.pk)
    from django.core.management import call_command

    call_command("mqtt_provision", device.mac)
    device_url = "mqtt://" + dynsec_broker.rsplit("@", 1)[1]
    listener = Listener(device_url, device.mac, device.mqtt_password).start()
    try:
        assert not listener.connect_code.is_failure
    finally:
        listener.stop()
