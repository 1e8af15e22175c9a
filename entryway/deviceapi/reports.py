"""Action results that devices publish over MQTT, recorded in batches (docs/device-protocol.md, section 5).

With ``MQTT_RESULTS`` on, the AutoP file gives a device its status topic (``entryway/device/<MAC>/status``)
and a device connected to the broker publishes each action result there (QoS 1) instead of POSTing it::

    {"type": "result", "action": 44, "status": "proceeding", "stage": "downloading", "detail": "12%"}

The broker lets only the device itself publish on its topic (its dynamic-security role), so the topic
names the device, as its credentials do over HTTP. ``ReportConsumer`` (``manage.py mqtt_reports``) holds
one persistent session (clean session off, a fixed client id): while it is away the broker keeps the
reports for it. It records what arrived together in one transaction, by the HTTP report's rules
(``actions_report``: ``action_report`` for many reports, with its handlers and strategy evaluation, in a
few statements for the whole batch), and acknowledges each report only
after that transaction has committed, so a report is lost neither by a crash nor by a database that is
down (the batch is tried again until it commits; unacknowledged reports come again after a reconnection,
and a report recorded twice changes nothing).

What the HTTP report would refuse (a bad body, an action that is not this device's, one already final)
is acknowledged and dropped with a log line, as the device would drop the 4xx answer.
"""
from __future__ import annotations

import json
import logging
import queue
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import (DatabaseError, InterfaceError, OperationalError, close_old_connections, connection,
                       transaction)

from entryway.core.metrics import ACTIONS
from entryway.deviceapi import devicecache, mqtt
from entryway.deviceapi.choices import FINAL_STATUSES
from entryway.deviceapi.protocol import parse_result

logger = logging.getLogger(__name__)

CLIENT_ID = "entryway-reports"
BATCH_MAX = 500  # reports recorded in one transaction at most
BATCH_WAIT = 0.02  # seconds a batch waits for more reports after its first
RETRY_MAX = 30.0  # seconds between attempts while the database is down, at most
MAX_ACTION_ID = 2**63 - 1


@dataclass
class Report:
    """One message as received: its packet id on the connection it came on, the device's MAC, the body."""

    mid: int
    session: int  # which connection of the consumer it came on (an ack only counts on that one)
    mac: str
    payload: bytes


@dataclass
class Parsed:
    mac: str
    action_id: int
    status: str
    stage: str
    detail: str


def mac_of(topic: str) -> str | None:
    """The MAC of ``entryway/device/<MAC>/status``, or None for any other topic."""
    parts = topic.split("/")
    if len(parts) == 4 and parts[0] == "entryway" and parts[1] == "device" and parts[3] == "status" and parts[2]:
        return parts[2]
    return None


def parse_report(mac: str, payload: bytes) -> Parsed | str:
    """The report's fields, or why it is refused (the HTTP report's 400 reasons, plus the action id)."""
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return "the message is not JSON"
    if not isinstance(data, dict):
        return "the message must be a JSON object"
    if data.get("type") != "result":
        return "'type' must be 'result'"
    action_id = data.get("action")
    if not isinstance(action_id, int) or isinstance(action_id, bool) or not 0 < action_id <= MAX_ACTION_ID:
        return "'action' must be an action id"
    status, stage, detail, errors = parse_result(data)
    if errors:
        return " ".join(errors)
    return Parsed(mac, action_id, status, stage, detail)


# MAC -> device id, as last read: a MAC names one device, so a batch needs no query for the devices it has seen
# before. A report that is not recorded looks its MAC up again (the device may have been deleted and added
# again under a new id), so a stale entry costs one query and loses nothing.
_KNOWN_DEVICES: dict[str, int] = {}
KNOWN_DEVICES_MAX = 200_000


def _device_ids(macs: set[str], *, fresh: bool = False) -> dict[str, int]:
    from entryway.devices.models import IntercomDevice

    wanted = macs if fresh else {mac for mac in macs if mac not in _KNOWN_DEVICES}
    for mac in wanted:
        _KNOWN_DEVICES.pop(mac, None)
    if wanted:
        if len(_KNOWN_DEVICES) > KNOWN_DEVICES_MAX:
            _KNOWN_DEVICES.clear()
        _KNOWN_DEVICES.update(IntercomDevice.objects.order_by().filter(mac__in=sorted(wanted))
                              .values_list("mac", "pk"))
    return {mac: _KNOWN_DEVICES[mac] for mac in macs if mac in _KNOWN_DEVICES}


def _record(parsed: list[Parsed], ids: dict[str, int]):
    from entryway.deviceapi.services import Report as ActionReport
    from entryway.deviceapi.services import actions_report

    known = [p for p in parsed if p.mac in ids]
    actions, counted = actions_report([
        ActionReport(action_id=p.action_id, device_id=ids[p.mac], status=p.status, stage=p.stage, detail=p.detail)
        for p in known])
    return known, actions, counted


def record_reports(reports: list[Report]) -> dict[str, int]:
    """Record a batch of received reports in one transaction; counts by outcome (recorded, refused, ignored).

    Raises ``DatabaseError`` when the batch could not be committed: nothing of it is recorded then, and the
    caller tries it again. Everything else about a report (a bad body, an unknown device or action, an
    action already final) is decided here, once and for good. The batch is written by ``actions_report``:
    a few statements for all of it, whatever its size.
    """
    counts = {"recorded": 0, "refused": 0, "ignored": 0}
    parsed: list[Parsed] = []
    for report in reports:
        result = parse_report(report.mac, report.payload)
        if isinstance(result, str):
            counts["refused"] += 1
            logger.info("MQTT report from %s refused: %s", report.mac, result)
        else:
            parsed.append(result)
    if not parsed:
        return counts
    macs = {p.mac for p in parsed}
    remembered = {mac for mac in macs if mac in _KNOWN_DEVICES}
    ids = _device_ids(macs)
    with transaction.atomic():
        known, actions, counted = _record(parsed, ids)
        # Not recorded under a remembered id: look the MAC up again, and record under the new id if it changed.
        doubtful = {p.mac for p, ok in zip(known, counted, strict=True) if not ok and p.mac in remembered}
        if doubtful:
            again = _device_ids(doubtful, fresh=True)
            moved = {mac for mac in doubtful if again.get(mac) != ids[mac]}
            if moved:
                retried = [p for p, ok in zip(known, counted, strict=True) if not ok and p.mac in moved]
                more_known, more_actions, more_counted = _record(retried, again)
                actions += more_actions
                recorded_again = {id(p) for p, ok in zip(more_known, more_counted, strict=True) if ok}
                counted = [ok or id(p) in recorded_again for p, ok in zip(known, counted, strict=True)]
    # Committed: the next check-in of a device whose action went final is answered from the cache.
    macs_by_id = {pk: mac for mac, pk in ids.items()}
    if doubtful:
        macs_by_id.update({pk: mac for mac, pk in again.items()})
    devicecache.settle({a.device_id: macs_by_id[a.device_id] for a in actions
                        if a.status in FINAL_STATUSES and a.device_id in macs_by_id})
    for p, ok in zip(known, counted, strict=True):
        if not ok:
            # Not its action, or final already (HTTP: 404 or 409).
            logger.info("MQTT report from %s on action %s ignored: no such open action of the device",
                        p.mac, p.action_id)
    for p in parsed:
        if p.mac not in ids:
            logger.info("MQTT report from %s ignored: not a device of the platform", p.mac)
    for action in actions:
        ACTIONS.labels(action.kind, action.status).inc()
    counts["recorded"] = sum(counted)
    counts["ignored"] = len(parsed) - counts["recorded"]
    return counts


class ReportConsumer:
    """Receives the devices' reports (paho's network thread) and records them in batches (``run``'s thread).

    ``stop()`` ends ``run`` after the batch in hand; what was received and not recorded is not acknowledged,
    so the broker sends it again to the next consumer of the session.
    """

    def __init__(self, url: str | None = None, *, client_id: str = CLIENT_ID, batch_max: int = BATCH_MAX,
                 batch_wait: float = BATCH_WAIT):
        import paho.mqtt.client as paho

        self.broker = mqtt.parse_url(url or settings.MQTT_URL)
        self.batch_max, self.batch_wait = batch_max, batch_wait
        self.received: queue.Queue[Report] = queue.Queue()
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.totals = {"recorded": 0, "refused": 0, "ignored": 0, "batches": 0, "retries": 0}
        self._session = 0
        self._stop = threading.Event()
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False,
                             protocol=paho.MQTTv311, manual_ack=True)
        if self.broker.username is not None:
            client.username_pw_set(self.broker.username, self.broker.password)
        if self.broker.tls:
            client.tls_set()
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect, client.on_disconnect = self._on_connect, self._on_disconnect
        client.on_subscribe, client.on_message = self._on_subscribe, self._on_message
        self.client = client

    # -- paho's thread ---------------------------------------------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            logger.error("the broker refused the report consumer: %s", reason_code)
            return
        self._session += 1
        self.connected.set()
        client.subscribe(mqtt.STATUS_TOPICS, qos=1)

    def _on_subscribe(self, client, userdata, mid, reason_code_list, properties):
        if any(rc.is_failure for rc in reason_code_list):
            logger.error("the broker refused the subscription to %s (the platform's role must allow it: "
                         "run `manage.py mqtt_provision` once with MQTT_DYNSEC)", mqtt.STATUS_TOPICS)
            return
        self.subscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self.connected.clear()
        self.subscribed.clear()
        if not self._stop.is_set():
            logger.warning("report consumer disconnected from the broker (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, message):
        mac = mac_of(message.topic)
        if mac is None:  # not a status topic (the subscription admits none): nothing to keep
            client.ack(message.mid, message.qos)
            return
        self.received.put(Report(message.mid, self._session, mac, message.payload))

    # -- the recording thread --------------------------------------------------------------------------

    def start(self) -> ReportConsumer:
        if settings.MQTT_DYNSEC:
            try:
                mqtt.dynsec_commands(mqtt.platform_setup_commands(self.broker.username))
            except mqtt.DynsecError as exc:
                logger.warning("could not check the platform's broker role: %s", exc)
        self.client.connect_async(self.broker.host, self.broker.port, keepalive=60)
        self.client.loop_start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self._stop.set()
        self.client.disconnect()
        self.client.loop_stop()

    def _batch(self) -> list[Report]:
        try:
            first = self.received.get(timeout=0.5)
        except queue.Empty:
            return []
        batch, deadline = [first], time.monotonic() + self.batch_wait
        while len(batch) < self.batch_max:
            try:
                batch.append(self.received.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        return batch

    def _ack(self, batch: list[Report]) -> None:
        for report in batch:
            # A report from an earlier connection comes again on this one (the broker resends what was not
            # acknowledged): its old packet id means nothing now.
            if report.session == self._session:
                self.client.ack(report.mid, 1)

    def record(self, batch: list[Report]) -> None:
        """Record a batch, trying again (with back-off) while the database is down; then acknowledge it."""
        delay = 0.5
        while True:
            if not connection.in_atomic_block:  # (a test's transaction holds the connection it has)
                close_old_connections()
            try:
                counts = record_reports(batch)
                break
            except (OperationalError, InterfaceError) as exc:
                if self._stop.is_set():
                    return  # not acknowledged: the broker sends it again
                self.totals["retries"] += 1
                logger.warning("recording %d MQTT report(s) failed (%s); trying again in %.1f s", len(batch), exc,
                               delay)
                self._stop.wait(delay)
                delay = min(delay * 2, RETRY_MAX)
            except DatabaseError:
                # Not the database being away: one report breaks the batch. Each alone, so the others count.
                logger.exception("recording a batch of %d MQTT report(s) failed; recording them one by one",
                                 len(batch))
                counts = {"recorded": 0, "refused": 0, "ignored": 0}
                for report in batch:
                    try:
                        for key, value in record_reports([report]).items():
                            counts[key] += value
                    except DatabaseError:
                        counts["refused"] += 1
                        logger.exception("MQTT report from %s could not be recorded: dropped", report.mac)
                break
        for key, value in counts.items():
            self.totals[key] += value
        self.totals["batches"] += 1
        self._ack(batch)

    def run(self, *, until=None) -> None:
        """Record batches until ``stop()`` (or ``until()`` is true between batches)."""
        while not self._stop.is_set() and not (until and until()):
            batch = self._batch()
            if batch:
                self.record(batch)
