"""A device's MQTT subscription, driven by the simulator's asyncio loop (no thread per device).

paho-mqtt 2.x does the protocol; its socket is watched with ``loop.add_reader``/``add_writer``, so
thousands of devices share one event loop. The device subscribes to its own command topic with QoS 1,
clean session off and keep-alive 60 s, reconnects with back-off, and calls ``on_message`` for every
message (the platform's ``{"type": "checkin"}``: check in now, or ``{"type": "actions", …}``: these actions, which
``SimDevice`` reads). ``publish`` sends a QoS 1 message (a device's
action result on its status topic) and waits for the broker's acknowledgement.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

log = logging.getLogger("entryway.sim.mqtt")

KEEPALIVE = 60
BACKOFF_MAX = 30.0
# How often paho's keep-alive bookkeeping runs (``loop_misc``): a ping goes out at most this late,
# well inside the 1.5 x KEEPALIVE a broker waits. Once a second per device cost a fleet of 10,000
# about a third of the simulator's CPU in timer wake-ups.
MISC_INTERVAL = 5.0


def broker_address(url: str) -> tuple[str, int, bool]:
    """``mqtt://host:port`` or ``mqtts://host:port`` as (host, port, tls)."""
    parts = urlsplit(url if "://" in url else f"mqtt://{url}")
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise ValueError(f"not an MQTT URL: {url!r}")
    tls = parts.scheme in ("mqtts", "ssl")
    return parts.hostname or "127.0.0.1", parts.port or (8883 if tls else 1883), tls


class MqttListener:
    """One device's connection to the broker."""

    def __init__(self, *, url: str, username: str, password: str, topic: str, client_id: str,
                 on_message: Callable[[str, bytes], None], connect_timeout: float = 5.0):
        self.host, self.port, tls = broker_address(url)
        self.topic = topic
        self.on_message = on_message
        self.connected = False
        self.subscribed = False
        self.refused = False  # the broker refused the subscription (SUBACK failure) or the login
        self.messages = 0
        self.last_error = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._misc: asyncio.TimerHandle | None = None
        self._retry: asyncio.TimerHandle | None = None
        self._backoff = 1.0
        self._stopping = False
        self._subscribed_event: asyncio.Event | None = None
        self._acks: dict[int, asyncio.Future] = {}  # packet id -> the publish waiting for its PUBACK
        self._watching_write = False  # the socket is watched for writability (a write would have blocked)
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False,
                             protocol=paho.MQTTv311)
        client.connect_timeout = connect_timeout
        if username:
            client.username_pw_set(username, password or None)
        if tls:
            client.tls_set()
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write
        self.client = client

    # -- life cycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Connect (the TCP connect itself is short and done on the loop), subscribe once connected."""
        self._loop = asyncio.get_running_loop()
        self._subscribed_event = asyncio.Event()
        self._stopping = False
        self.client.connect_async(self.host, self.port, KEEPALIVE)
        self._connect()

    async def wait_subscribed(self, timeout: float) -> bool:
        if self._subscribed_event is None:
            return False
        try:
            await asyncio.wait_for(self._subscribed_event.wait(), timeout)
        except TimeoutError:
            return False
        return self.subscribed

    async def publish(self, topic: str, payload: bytes, timeout: float) -> bool:
        """Send one QoS 1 message; True once the broker has acknowledged it (it then holds it), False when
        not connected or no acknowledgement came within ``timeout`` seconds."""
        if not self.connected or self._loop is None:
            return False
        info = self.client.publish(topic, payload, qos=1)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            return False
        # The PUBACK is read on this loop, so it cannot have arrived before the future is registered. A timer
        # that answers False, rather than wait_for's task and callbacks: three results per upgrade.
        acked = self._acks[info.mid] = self._loop.create_future()
        timer = self._loop.call_later(timeout, _answer, acked, False)
        try:
            return await acked
        finally:
            timer.cancel()
            self._acks.pop(info.mid, None)

    def stop(self) -> None:
        """Disconnect and stop reconnecting (a device switched off or rebooting)."""
        self._stopping = True
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if self.client.socket() is not None:
            try:
                self.client.disconnect()
                self.client.loop_write()  # sends DISCONNECT; paho then closes the socket
            except Exception as exc:  # noqa: BLE001 - the connection was already gone
                log.debug("disconnect: %s", exc)
            sock = self.client.socket()
            if sock is not None:
                self._forget_socket(sock)
                sock.close()
        self._stop_misc()
        self.connected = False

    def _connect(self) -> None:
        self._retry = None
        if self._stopping:
            return
        try:
            self.client.reconnect()
        except (OSError, ValueError) as exc:
            self.last_error = f"connect failed: {exc}"
            log.debug("%s: %s", self.client._client_id, self.last_error)
            self._schedule_retry()

    def _schedule_retry(self) -> None:
        if self._stopping or self._loop is None or self._retry is not None:
            return
        delay = self._backoff
        self._backoff = min(self._backoff * 2, BACKOFF_MAX)
        self._retry = self._loop.call_later(delay, self._connect)

    # -- paho callbacks (all run on the event loop's thread) ------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.refused = True
            self.last_error = f"connection refused: {reason_code}"
            return
        self.connected = True
        self._backoff = 1.0
        client.subscribe(self.topic, qos=1)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        failed = [rc for rc in reason_codes if rc.is_failure]
        self.subscribed = not failed
        self.refused = bool(failed)
        if failed:
            self.last_error = f"subscription refused: {failed[0]}"
        if self._subscribed_event is not None:
            self._subscribed_event.set()

    def _on_message(self, client, userdata, message) -> None:
        self.messages += 1
        self.on_message(message.topic, message.payload)

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        acked = self._acks.get(mid)
        if acked is not None:
            _answer(acked, not reason_code.is_failure)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected = False
        self.subscribed = False
        for acked in self._acks.values():  # not acknowledged on this connection: the sender decides what next
            if not acked.done():
                acked.set_result(False)
        if not self._stopping:
            self.last_error = f"disconnected: {reason_code}"
            self._schedule_retry()

    def _on_socket_open(self, client, userdata, sock) -> None:
        self._loop.add_reader(sock, self._read)
        self._stop_misc()
        self._misc = self._loop.call_later(MISC_INTERVAL, self._misc_tick)

    def _on_socket_close(self, client, userdata, sock) -> None:
        self._forget_socket(sock)
        self._stop_misc()

    def _on_register_write(self, client, userdata, sock) -> None:
        """paho has packets to send: send them on the loop's next turn, and watch the socket only when the
        kernel would not take them all. Watching every packet's socket cost two ``epoll_ctl`` calls and a
        loop turn per packet, a tenth of a 10,000-device fleet's CPU."""
        self._loop.call_soon(self._flush)

    def _on_unregister_write(self, client, userdata, sock) -> None:
        if self._watching_write:
            self._watching_write = False
            self._loop.remove_writer(sock)

    def _forget_socket(self, sock) -> None:
        self._watching_write = False
        try:
            self._loop.remove_reader(sock)
            self._loop.remove_writer(sock)
        except (ValueError, OSError):
            pass

    def _read(self) -> None:
        self.client.loop_read()

    def _flush(self) -> None:
        self.client.loop_write()
        sock = self.client.socket()
        if sock is not None and self.client.want_write() and not self._watching_write:
            self._watching_write = True
            self._loop.add_writer(sock, self._write)

    def _write(self) -> None:
        self.client.loop_write()

    def _stop_misc(self) -> None:
        if self._misc is not None:
            self._misc.cancel()
            self._misc = None

    def _misc_tick(self) -> None:
        """Keep-alive pings (a timer, not a task: no coroutine per device); stops when the connection closes."""
        self._misc = None
        if self.client.loop_misc() == paho.MQTT_ERR_SUCCESS:
            if self._misc is None and self.client.socket() is not None:
                self._misc = self._loop.call_later(MISC_INTERVAL, self._misc_tick)
        elif not self._stopping:
            self._schedule_retry()


def _answer(future: asyncio.Future, value: bool) -> None:
    if not future.done():
        future.set_result(value)
