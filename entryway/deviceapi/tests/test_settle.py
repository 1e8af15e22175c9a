"""A device's cache entry made again once its action goes final (entryway.deviceapi.devicecache.settle): the
check-in after the result, the one after an upgrade's restart, reads no table; a change made meanwhile
still reaches the device."""
from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from entryway.deviceapi import devicecache
from entryway.deviceapi.reports import Report, record_reports
from entryway.deviceapi.services import action_create
from entryway.deviceapi.tests.test_fastpath import _checkin, _result, _served_fast, app  # noqa: F401 - fixture
from entryway.deviceapi.tests.test_protocol import REPORT
from entryway.devices.models import IntercomDevice

pytestmark = pytest.mark.django_db

NEW_FIRMWARE = "29.30.2.900"


def _delivered(app, device):  # noqa: F811 - the fixture
    """Check in until the device's entry is cached and its open actions handed out; their ids."""
    answer = _checkin(app, device)
    assert answer["status"] == 200
    return [a["id"] for a in json.loads(answer["body"])["actions"]]


def _entry(mac):
    return devicecache.cache.get(devicecache.entry_key(mac))


def test_the_check_in_after_a_final_result_reads_no_table(app, device, installer, monkeypatch):  # noqa: F811
    seen = _served_fast(monkeypatch)
    _checkin(app, device)
    reboot = action_create(device=device, kind="reboot", acting_user=installer)
    assert _delivered(app, device) == [reboot.pk]
    assert _entry(device.mac).quiet is False
    assert _result(app, device, reboot.pk, {"status": "success", "detail": "rebooting"})["status"] == 200
    entry = _entry(device.mac)
    assert entry.quiet is True and entry.id == device.pk
    with CaptureQueriesContext(connection) as queries:
        answer = _checkin(app, device, {**REPORT, "uptime": 5})  # restarted
    assert answer["status"] == 200 and seen[-1] is True
    assert json.loads(answer["body"])["actions"] == [] and len(queries) == 0


def test_a_report_over_mqtt_settles_the_entry_with_the_firmware_the_database_now_has(
        app, device, installer, django_capture_on_commit_callbacks):  # noqa: F811
    _checkin(app, device)
    upgrade = action_create(device=device, kind="upgrade", acting_user=installer,
                            payload={"url": "/firmware/files/x/R29.rom", "version": NEW_FIRMWARE})
    assert _delivered(app, device) == [upgrade.pk]
    # What a final upgrade's handler writes in the report's transaction (entryway.firmware.services).
    IntercomDevice.objects.filter(pk=device.pk).update(firmware_version=NEW_FIRMWARE)
    payload = json.dumps({"type": "result", "action": upgrade.pk, "status": "success"}).encode()
    with django_capture_on_commit_callbacks(execute=True):  # the file without the upgrade, cached after commit
        assert record_reports([Report(mid=1, session=1, mac=device.mac, payload=payload)])["recorded"] == 1
    entry = _entry(device.mac)
    assert entry.quiet is True and entry.firmware == NEW_FIRMWARE
    with CaptureQueriesContext(connection) as queries:
        answer = _checkin(app, device, {**REPORT, "firmware": NEW_FIRMWARE, "uptime": 3})
    assert answer["status"] == 200 and len(queries) == 0


def test_another_open_action_keeps_the_entry_from_being_quiet(app, device, installer):  # noqa: F811
    _checkin(app, device)
    first = action_create(device=device, kind="reboot", acting_user=installer)
    second = action_create(device=device, kind="message", acting_user=installer, payload={"title": "Hi"})
    assert _delivered(app, device) == [first.pk, second.pk]
    assert _result(app, device, first.pk, {"status": "success"})["status"] == 200
    assert _entry(device.mac).quiet is False
    assert _delivered(app, device) == [second.pk]


def _while_replacing(monkeypatch, meanwhile):
    """Runs ``meanwhile()`` after settle has read the entries and the database, before it writes."""
    store = devicecache.cache
    original = store.run_script

    def run_script(source, keys, args, version=None):
        if source == devicecache._REPLACE_UNCHANGED:
            meanwhile()
        return original(source, keys, args, version=version)

    monkeypatch.setattr(store, "run_script", run_script)


def test_an_action_given_while_settling_still_reaches_the_device(app, device, installer, monkeypatch):  # noqa: F811
    _checkin(app, device)
    reboot = action_create(device=device, kind="reboot", acting_user=installer)
    assert _delivered(app, device) == [reboot.pk]
    given = []
    _while_replacing(monkeypatch, lambda: given.append(action_create(device=device, kind="reboot")))
    assert _result(app, device, reboot.pk, {"status": "success"})["status"] == 200
    assert len(given) == 1
    # The entry was written quiet, with the generation read before the new action: it no longer counts.
    assert _delivered(app, device) == [given[0].pk]


def test_an_entry_dropped_while_settling_stays_dropped(app, device, installer, monkeypatch):  # noqa: F811
    _checkin(app, device)
    reboot = action_create(device=device, kind="reboot", acting_user=installer)
    assert _delivered(app, device) == [reboot.pk]
    # A new secret (or a deleted device) drops the entry: settle must not bring the old digest back.
    _while_replacing(monkeypatch, lambda: devicecache.forget([device.mac]))
    assert _result(app, device, reboot.pk, {"status": "success"})["status"] == 200
    assert _entry(device.mac) is None


def test_settling_without_an_entry_or_a_script_cache_does_nothing(device, redis_cache, monkeypatch):
    assert devicecache.settle({device.pk: device.mac}) == 0
    assert _entry(device.mac) is None
    monkeypatch.setattr(devicecache, "cache", object())  # a cache without scripts (the embedded default's)
    assert devicecache.settle({device.pk: device.mac}) == 0


def test_a_failure_while_settling_is_logged_not_raised(app, device, installer, monkeypatch, caplog):  # noqa: F811
    _checkin(app, device)
    reboot = action_create(device=device, kind="reboot", acting_user=installer)
    assert _delivered(app, device) == [reboot.pk]

    def broken():
        raise ConnectionError("Redis went away")

    _while_replacing(monkeypatch, broken)
    assert _result(app, device, reboot.pk, {"status": "success"})["status"] == 200
    assert "refreshing the cache entries of 1 device(s) failed" in caplog.text
    assert _delivered(app, device) == []  # the database path, as before
