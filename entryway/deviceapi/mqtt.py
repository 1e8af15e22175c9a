"""Device push over MQTT and per-device broker credentials (Mosquitto dynamic security).

- ``publish_checkin(macs, pushed)``: one QoS 1 message on each device's ``entryway/device/<MAC>/cmd``:
  ``{"type": "actions", "at": …, "actions": […]}`` with the new actions the push may carry itself
  (``deviceapi.services.PUSHED_KINDS``), else ``{"type": "checkin"}``. Registered as the pusher of
  ``deviceapi.services``; it runs after commit, never raises and never blocks a request on the
  broker: one long-lived client per process sends in its own network thread. A broker that is
  down only means devices learn about new actions at their next check-in.
- ``dynsec_device_provision(mac, password)`` / ``dynsec_device_revoke(mac)``: the broker client
  and role of one device, created and deleted through ``$CONTROL/dynamic-security/v1``.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from django.conf import settings

from entryway.deviceapi import devicecache

logger = logging.getLogger(__name__)

CHECKIN_PAYLOAD = json.dumps({"type": "checkin"}).encode()
DYNSEC_TOPIC = "$CONTROL/dynamic-security/v1"
DYNSEC_RESPONSE_TOPIC = "$CONTROL/dynamic-security/v1/response"
MAX_QUEUED = 20000


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool


def parse_url(url: str) -> Broker:
    parts = urlsplit(url)
    tls = parts.scheme in ("mqtts", "ssl")
    return Broker(host=parts.hostname or "127.0.0.1", port=parts.port or (8883 if tls else 1883),
                  username=unquote(parts.username) if parts.username else None,
                  password=unquote(parts.password) if parts.password else None, tls=tls)


def command_topic(mac: str) -> str:
    return f"entryway/device/{mac}/cmd"


def status_topic(mac: str) -> str:
    """Where the device may publish: its action results (``entryway.deviceapi.reports``)."""
    return f"entryway/device/{mac}/status"


# Every device's status topic: what the platform's report consumer subscribes to.
STATUS_TOPICS = "entryway/device/+/status"


def device_role(mac: str) -> str:
    return f"device-{mac}"


def make_client(broker: Broker, client_id: str | None = None):
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or f"entryway-{uuid.uuid4().hex[:12]}")
    if broker.username is not None:
        client.username_pw_set(broker.username, broker.password)
    if broker.tls:
        client.tls_set()
    return client


class Publisher:
    """One connected client per process (re-made after a fork), sending from paho's own thread."""

    def __init__(self):
        self._lock = threading.Lock()
        self._client = None
        self._url = None
        self._pid = None

    def _get(self):
        """The process's client and whether it was made just now."""
        url = settings.MQTT_URL
        with self._lock:
            if self._client is not None and self._url == url and self._pid == os.getpid():
                return self._client, False
            self._close_locked()
            broker = parse_url(url)
            client = make_client(broker)
            client.reconnect_delay_set(min_delay=1, max_delay=30)
            # While the broker is away, keep a bounded backlog (sent on reconnection); polling covers the rest.
            client.max_queued_messages_set(MAX_QUEUED)
            client.connect_async(broker.host, broker.port, keepalive=60)
            client.loop_start()
            self._client, self._url, self._pid = client, url, os.getpid()
            return client, True

    def _close_locked(self):
        if self._client is not None and self._pid == os.getpid():
            try:
                self._client.disconnect()
                self._client.loop_stop()
            except Exception:  # noqa: BLE001 - closing a broken client must not fail the caller
                logger.debug("closing the MQTT client failed", exc_info=True)
        self._client = None

    def close(self):
        with self._lock:
            self._close_locked()

    def wait_connected(self, timeout: float) -> bool:
        client, _fresh = self._get()
        deadline = time.monotonic() + timeout
        while not client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.01)
        return client.is_connected()

    def publish(self, macs, pushed: dict[str, list[dict]] | None = None) -> int:
        """Queue one QoS 1 message per device (its actions from ``pushed``, else a check-in call); returns
        how many were handed to the client."""
        if not settings.MQTT_URL or not macs:
            return 0
        try:
            client, fresh = self._get()
            if fresh and not client.is_connected():
                # Give a new connection a moment, once per process; later, a broker that is down costs nothing.
                self.wait_connected(min(settings.MQTT_TIMEOUT, 0.5))
            pushed = pushed or {}
            at = time.strftime(devicecache.TIME_FORMAT, time.gmtime())  # as a check-in's server_time
            sent = 0
            for mac in dict.fromkeys(macs):
                actions = pushed.get(mac)
                payload = actions_payload(actions, at) if actions else CHECKIN_PAYLOAD
                info = client.publish(command_topic(mac), payload, qos=1)
                sent += info.rc == 0
            return sent
        except Exception:
            logger.warning("MQTT push to %d device(s) failed", len(macs), exc_info=True)
            return 0


publisher = Publisher()


def actions_payload(actions: list[dict], at: str) -> bytes:
    """The push that carries a device's new actions, as its check-in would answer them. ``at`` (UTC) lets a
    device that receives it late (the broker kept it while the device was away) check in instead."""
    return json.dumps({"type": "actions", "at": at, "actions": actions}, separators=(",", ":")).encode()


def publish_checkin(macs, pushed: dict[str, list[dict]] | None = None) -> None:
    """The pusher registered with ``deviceapi.services``."""
    publisher.publish(list(macs), pushed)


# ---------------------------------------------------------------------------------------------
# Dynamic security


class DynsecError(RuntimeError):
    pass


def dynsec_commands(commands: list[dict], *, url: str | None = None, timeout: float | None = None) -> list[dict]:
    """Send commands to the broker's dynamic-security plugin and return its responses, in order."""

    broker = parse_url(url or settings.MQTT_URL)
    timeout = timeout or settings.MQTT_TIMEOUT
    done = threading.Event()
    subscribed = threading.Event()
    result: dict = {}

    client = make_client(broker)

    def on_connect(client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            result["error"] = f"broker refused the connection: {reason_code}"
            done.set()
            subscribed.set()
            return
        client.subscribe(DYNSEC_RESPONSE_TOPIC, qos=1)

    def on_subscribe(client, userdata, mid, reason_code_list, properties):
        if any(rc.is_failure for rc in reason_code_list):
            result["error"] = "not allowed to read dynamic-security responses"
            done.set()
        subscribed.set()

    def on_message(client, userdata, message):
        try:
            result["responses"] = json.loads(message.payload).get("responses", [])
        except ValueError:
            result["error"] = "unreadable dynamic-security response"
        done.set()

    client.on_connect, client.on_subscribe, client.on_message = on_connect, on_subscribe, on_message
    try:
        client.connect(broker.host, broker.port, keepalive=30)
    except OSError as exc:
        raise DynsecError(f"broker unreachable: {exc}") from exc
    client.loop_start()
    try:
        if not subscribed.wait(timeout):
            raise DynsecError("no answer from the broker")
        if "error" not in result:
            client.publish(DYNSEC_TOPIC, json.dumps({"commands": commands}), qos=1)
            if not done.wait(timeout):
                raise DynsecError("no answer from the dynamic-security plugin")
    finally:
        client.disconnect()
        client.loop_stop()
    if "error" in result:
        raise DynsecError(result["error"])
    return result["responses"]


def _device_acls(mac: str) -> list[dict]:
    own = f"entryway/device/{mac}/#"
    return [
        {"acltype": "subscribePattern", "topic": own, "allow": True},
        {"acltype": "publishClientReceive", "topic": own, "allow": True},
        {"acltype": "publishClientSend", "topic": status_topic(mac), "allow": True},
    ]


PLATFORM_ROLE = "entryway-platform"


def platform_setup_commands(username: str | None) -> list[dict]:
    """The platform's own client may publish on every device's command topic and read every device's status
    topic (the results devices publish there). Repeating it is harmless (the broker answers "already exists"
    for what is there)."""
    if not username:
        return []
    return [
        {"command": "createRole", "rolename": PLATFORM_ROLE, "textname": "entryway platform (device push)"},
        {"command": "addRoleACL", "rolename": PLATFORM_ROLE, "acltype": "publishClientSend",
         "topic": "entryway/device/+/cmd", "allow": True},
        {"command": "addRoleACL", "rolename": PLATFORM_ROLE, "acltype": "subscribePattern",
         "topic": STATUS_TOPICS, "allow": True},
        {"command": "addClientRole", "username": username, "rolename": PLATFORM_ROLE},
    ]


def dynsec_device_provision(mac: str, password: str, *, url: str | None = None) -> None:
    """Create (or re-create) the device's broker client and role: its own topics only. Idempotent."""
    role = device_role(mac)
    setup = platform_setup_commands(parse_url(url or settings.MQTT_URL).username)
    commands = [
        *setup,
        {"command": "deleteClient", "username": mac},
        {"command": "deleteRole", "rolename": role},
        {"command": "createRole", "rolename": role, "textname": f"entryway device {mac}"},
        *({"command": "addRoleACL", "rolename": role, **acl} for acl in _device_acls(mac)),
        {"command": "createClient", "username": mac, "password": password, "textname": f"entryway device {mac}",
         "roles": [{"rolename": role}]},
    ]
    responses = dynsec_commands(commands, url=url)
    # The platform set-up may already exist and the two deletions may say "not found" on a first
    # provisioning; the device's role, ACLs and client must succeed.
    failures = [r for r in responses[len(setup) + 2:] if r.get("error")]
    if failures:
        raise DynsecError("; ".join(f"{r.get('command')}: {r.get('error')}" for r in failures))


def dynsec_device_revoke(mac: str, *, url: str | None = None) -> None:
    """Delete the device's broker client and role (a missing one is not an error). Idempotent."""
    dynsec_commands([
        {"command": "deleteClient", "username": mac},
        {"command": "deleteRole", "rolename": device_role(mac)},
    ], url=url)
