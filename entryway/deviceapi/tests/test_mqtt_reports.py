"""Action results published by devices over MQTT, recorded by the report consumer (entryway.deviceapi.reports):
the batch recorder on the database alone, then the consumer against real Mosquitto (the plain broker on
TEST_MQTT_URL and one with dynamic security)."""
from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
from django.db import OperationalError

from entryway.deviceapi import mqtt, reports
from entryway.deviceapi.models import DeviceAction
from entryway.deviceapi.reports import Report, ReportConsumer, record_reports
from entryway.deviceapi.services import action_create
from entryway.deviceapi.tests.test_mqtt import Listener, dynsec_broker, plain_broker_url  # noqa: F401 - fixtures


def _message(action_id, status, **extra) -> bytes:
    return json.dumps({"type": "result", "action": action_id, "status": status, **extra}).encode()


def _report(mac, payload: bytes, mid=1) -> Report:
    return Report(mid=mid, session=1, mac=mac, payload=payload)


# -- the batch recorder ---------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_a_batch_records_progress_and_final_results_as_the_http_report_does(make_device, installer):
    first, second = make_device(installer), make_device(installer)
    a = action_create(device=first, kind="reboot")
    b = action_create(device=second, kind="autop", payload={"lines": ["Config.X.Y = 1"]})
    counts = record_reports([
        _report(first.mac, _message(a.pk, "proceeding", stage="rebooting", detail="now")),
        _report(second.mac, _message(b.pk, "failure", detail="line 1: Config.X.Y = 1")),
        _report(first.mac, _message(a.pk, "success", detail="rebooted"), mid=2),
    ])
    assert counts == {"recorded": 3, "refused": 0, "ignored": 0}
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.status, a.stage, a.detail) == ("success", "", "rebooted")
    assert a.finished_at is not None
    assert (b.status, b.detail) == ("failure", "line 1: Config.X.Y = 1")


@pytest.mark.django_db
def test_an_action_the_push_brought_counts_as_sent_from_its_first_result(make_device, installer):
    """A pushed upgrade is never fetched by a check-in: its first result, over HTTP or MQTT, records when the
    device had it; an action a check-in sent keeps that time."""
    import datetime

    from entryway.deviceapi.services import action_report

    first, second, third = make_device(installer), make_device(installer), make_device(installer)
    payload = {"version": "2", "url": "http://x/f.bin", "sha256": "", "size": 1}
    by_http, by_mqtt, fetched = (action_create(device=d, kind="upgrade", payload=payload)
                                 for d in (first, second, third))
    earlier = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    DeviceAction.objects.filter(pk=fetched.pk).update(status="sent", sent_at=earlier)
    before = datetime.datetime.now(datetime.UTC)
    action_report(action_id=by_http.pk, device_id=first.pk, status="proceeding", stage="downloading")
    counts = record_reports([_report(second.mac, _message(by_mqtt.pk, "success", detail="upgraded")),
                             _report(third.mac, _message(fetched.pk, "proceeding", stage="downloading"), mid=2)])
    assert counts == {"recorded": 2, "refused": 0, "ignored": 0}
    for action in (by_http, by_mqtt, fetched):
        action.refresh_from_db()
    assert by_http.status == "proceeding" and before <= by_http.sent_at <= by_http.updated_at
    assert by_mqtt.status == "success" and before <= by_mqtt.sent_at <= by_mqtt.finished_at
    assert fetched.status == "proceeding" and fetched.sent_at == earlier


@pytest.mark.django_db
def test_what_the_http_report_refuses_is_dropped_and_changes_nothing(make_device, installer):
    device, other = make_device(installer), make_device(installer)
    mine = action_create(device=device, kind="reboot")
    theirs = action_create(device=other, kind="reboot")
    done = action_create(device=device, kind="reboot")
    record_reports([_report(device.mac, _message(done.pk, "success"))])
    counts = record_reports([
        _report(device.mac, b"not json"),
        _report(device.mac, b"[1, 2]"),
        _report(device.mac, json.dumps({"type": "hello", "action": mine.pk, "status": "success"}).encode()),
        _report(device.mac, json.dumps({"type": "result", "action": "7", "status": "success"}).encode()),
        _report(device.mac, _message(mine.pk, "finished")),
        _report(device.mac, _message(mine.pk, "success", stage="x" * 33)),
        # another device's action, an unknown device, an action already final
        _report(device.mac, _message(theirs.pk, "success")),
        _report("0C1105FFFFFF", _message(mine.pk, "success")),
        _report(device.mac, _message(done.pk, "failure", detail="late")),
    ])
    assert counts == {"recorded": 0, "refused": 6, "ignored": 3}
    for action in (mine, theirs):
        action.refresh_from_db()
        assert action.status == "pending"
    done.refresh_from_db()
    assert (done.status, done.detail) == ("success", "")


@pytest.mark.django_db
def test_a_report_that_breaks_its_batch_does_not_lose_the_others(make_device, installer, monkeypatch):
    from entryway.deviceapi import services

    device = make_device(installer)
    good, bad = action_create(device=device, kind="reboot"), action_create(device=device, kind="reboot")
    real = services.actions_report

    def report(reports):
        if any(r.action_id == bad.pk for r in reports):
            from django.db import IntegrityError

            raise IntegrityError("a broken row")
        return real(reports)

    monkeypatch.setattr(services, "actions_report", report)
    consumer = ReportConsumer("mqtt://127.0.0.1:1")
    consumer.client.ack = lambda mid, qos: None
    consumer._session = 1
    consumer.record([_report(device.mac, _message(bad.pk, "success")), _report(device.mac, _message(good.pk, "success"))])
    good.refresh_from_db()
    bad.refresh_from_db()
    assert good.status == "success" and bad.status == "pending"
    assert consumer.totals["recorded"] == 1 and consumer.totals["refused"] == 1


@pytest.mark.django_db
def test_a_batch_is_tried_again_while_the_database_is_down_and_acknowledged_only_once_recorded(
        make_device, installer, monkeypatch):
    device = make_device(installer)
    action = action_create(device=device, kind="reboot")
    real, failures, acked = reports.record_reports, [2], []

    def flaky(batch):
        assert acked == []  # nothing is acknowledged before the batch is recorded
        if failures[0]:
            failures[0] -= 1
            raise OperationalError("the database is unavailable")
        return real(batch)

    monkeypatch.setattr(reports, "record_reports", flaky)
    consumer = ReportConsumer("mqtt://127.0.0.1:1")
    consumer.client.ack = lambda mid, qos: acked.append(mid)
    consumer._session = 3
    monkeypatch.setattr(consumer._stop, "wait", lambda delay: None)  # no real back-off in the test
    batch = [Report(mid=7, session=3, mac=device.mac, payload=_message(action.pk, "success")),
             Report(mid=5, session=2, mac=device.mac, payload=_message(action.pk, "success"))]
    consumer.record(batch)
    action.refresh_from_db()
    assert action.status == "success"
    assert consumer.totals["retries"] == 2 and consumer.totals["recorded"] == 1 and consumer.totals["ignored"] == 1
    # Only the report of the current connection is acknowledged: the other one's packet id is not this
    # connection's (the broker sends it again, and it changes nothing then).
    assert acked == [7]


def test_the_status_topic_names_the_device():
    assert reports.mac_of("entryway/device/0C110512BC97/status") == "0C110512BC97"
    for topic in ("entryway/device/0C110512BC97/cmd", "entryway/device//status", "entryway/device/a/b/status",
                  "other/device/0C110512BC97/status"):
        assert reports.mac_of(topic) is None


# -- against the broker ---------------------------------------------------------------------------------------

class Running:
    """A consumer recording in a thread of its own, as ``manage.py mqtt_reports`` does."""

    def __init__(self, url: str, client_id: str):
        self.consumer = ReportConsumer(url, client_id=client_id, batch_wait=0.01)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        from django.db import connection

        try:
            self.consumer.run()
        finally:
            connection.close()

    def __enter__(self) -> ReportConsumer:
        self.consumer.start()
        assert self.consumer.subscribed.wait(5), "the consumer did not subscribe"
        self.thread.start()
        return self.consumer

    def __exit__(self, *exc):
        self.consumer.stop()
        self.thread.join(10)
        self.consumer.close()


def _publish(listener: Listener, topic: str, payload: bytes) -> None:
    info = listener.client.publish(topic, payload, qos=1)
    info.wait_for_publish(5)
    assert info.is_published()


def _wait(predicate, timeout=8.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _status(action) -> str:
    return DeviceAction.objects.get(pk=action.pk).status


@pytest.mark.mqtt
@pytest.mark.django_db(transaction=True)
def test_reports_published_on_the_status_topic_are_recorded(plain_broker_url, make_device, installer):  # noqa: F811
    device = make_device(installer)
    action = action_create(device=device, kind="reboot")
    client_id = f"entryway-reports-test-{uuid.uuid4().hex[:8]}"
    publisher = Listener(plain_broker_url).start()
    try:
        with Running(plain_broker_url, client_id) as consumer:
            _publish(publisher, mqtt.status_topic(device.mac), _message(action.pk, "proceeding", stage="rebooting"))
            assert _wait(lambda: _status(action) == "proceeding")
            _publish(publisher, mqtt.status_topic(device.mac), _message(action.pk, "success", detail="rebooted"))
            assert _wait(lambda: _status(action) == "success")
            assert _wait(lambda: consumer.totals["recorded"] == 2)
        # Everything was acknowledged: the session holds nothing to send again.
        with Running(plain_broker_url, client_id) as again:
            time.sleep(0.5)
            assert again.totals["batches"] == 0
    finally:
        publisher.stop()
        _forget_session(plain_broker_url, client_id)


@pytest.mark.mqtt
@pytest.mark.django_db(transaction=True)
def test_the_broker_keeps_reports_while_the_consumer_is_away_or_failed_to_record(
        plain_broker_url, make_device, installer, monkeypatch):  # noqa: F811
    devices = [make_device(installer) for _ in range(3)]
    actions = [action_create(device=d, kind="reboot") for d in devices]
    client_id = f"entryway-reports-test-{uuid.uuid4().hex[:8]}"
    publisher = Listener(plain_broker_url).start()
    try:
        with Running(plain_broker_url, client_id):
            pass  # the session exists on the broker from now on
        # Away: the broker keeps what the devices publish for the session.
        for device, action in zip(devices[:2], actions[:2], strict=True):
            _publish(publisher, mqtt.status_topic(device.mac), _message(action.pk, "success"))
        # Received, but the database fails: not acknowledged, so the broker sends it again later.
        failing = [0]

        def down(batch):
            failing[0] += len(batch)
            raise OperationalError("the database is unavailable")

        monkeypatch.setattr(reports, "record_reports", down)
        with Running(plain_broker_url, client_id):
            _publish(publisher, mqtt.status_topic(devices[2].mac), _message(actions[2].pk, "success"))
            assert _wait(lambda: failing[0] >= 3)
        assert [_status(a) for a in actions] == ["pending"] * 3
        monkeypatch.undo()
        with Running(plain_broker_url, client_id) as consumer:
            assert _wait(lambda: [_status(a) for a in actions] == ["success"] * 3)
            assert _wait(lambda: consumer.totals["recorded"] == 3)
    finally:
        publisher.stop()
        _forget_session(plain_broker_url, client_id)


def _forget_session(url: str, client_id: str) -> None:
    """End the test's persistent session on the shared broker (a clean-session connection with its id)."""
    import paho.mqtt.client as paho

    broker = mqtt.parse_url(url)
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    client.connect(broker.host, broker.port, 10)
    client.disconnect()


@pytest.mark.mqtt
@pytest.mark.django_db(transaction=True)
def test_with_dynamic_security_a_device_reports_only_as_itself(dynsec_broker, settings, make_device, installer,  # noqa: F811
                                                               django_capture_on_commit_callbacks):
    settings.MQTT_URL = dynsec_broker
    settings.MQTT_DYNSEC = True
    with django_capture_on_commit_callbacks(execute=True):
        alice, bob = make_device(installer), make_device(installer)
    alice.refresh_from_db()
    mine, bobs = action_create(device=alice, kind="reboot"), action_create(device=bob, kind="reboot")
    device_url = "mqtt://" + dynsec_broker.rsplit("@", 1)[1]
    device = Listener(device_url, alice.mac, alice.mqtt_password).start()
    try:
        # The platform's own client is allowed to read every status topic (its role, set up at start).
        with Running(dynsec_broker, reports.CLIENT_ID) as consumer:
            # On bob's topic the broker drops alice's message; on her own it is recorded.
            _publish(device, mqtt.status_topic(bob.mac), _message(bobs.pk, "success"))
            _publish(device, mqtt.status_topic(alice.mac), _message(mine.pk, "success"))
            assert _wait(lambda: _status(mine) == "success")
            time.sleep(0.3)
            assert _status(bobs) == "pending"
            assert consumer.totals == {**consumer.totals, "recorded": 1, "ignored": 0, "refused": 0}
    finally:
        device.stop()


@pytest.mark.django_db
def test_the_autop_file_names_the_status_topic_only_with_mqtt_results(settings, device):
    from entryway.deviceapi.autop import render_autop

    settings.MQTT_URL = "mqtt://127.0.0.1:1883"
    settings.MQTT_RESULTS = False
    assert "ResultTopic" not in render_autop(device)
    settings.MQTT_RESULTS = True
    assert f"Config.Entryway.MQTT.ResultTopic = entryway/device/{device.mac}/status" in render_autop(device)
    settings.MQTT_URL = ""  # no broker, no push and no results over it
    assert "Entryway.MQTT" not in render_autop(device)


@pytest.mark.django_db
def test_a_device_id_remembered_for_a_mac_is_looked_up_again_when_its_report_is_not_recorded(
        make_device, installer, monkeypatch):
    device, other = make_device(installer), make_device(installer)
    first, second = action_create(device=device, kind="reboot"), action_create(device=device, kind="reboot")
    assert record_reports([_report(device.mac, _message(first.pk, "proceeding"))])["recorded"] == 1
    assert reports._KNOWN_DEVICES[device.mac] == device.pk
    # Known now: the next batch reads no device, it only writes the action.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert record_reports([_report(device.mac, _message(first.pk, "success"))])["recorded"] == 1
    statements = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    assert len(statements) == 1 and "deviceapi_deviceaction" in statements[0]
    # As if the MAC had been deleted and added again as another device: the stale id is corrected.
    monkeypatch.setitem(reports._KNOWN_DEVICES, device.mac, other.pk)
    assert record_reports([_report(device.mac, _message(second.pk, "success"))]) == {
        "recorded": 1, "refused": 0, "ignored": 0}
    assert reports._KNOWN_DEVICES[device.mac] == device.pk
    second.refresh_from_db()
    assert second.status == "success"
