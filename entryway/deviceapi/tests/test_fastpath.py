"""Idle check-ins answered at the WSGI layer (entryway.deviceapi.fastpath), and everything it hands on to Django."""
from __future__ import annotations

import json
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from entryway.core import metrics
from entryway.deviceapi import fastpath
from entryway.deviceapi.services import action_create
from entryway.deviceapi.tests.conftest import basic
from entryway.deviceapi.tests.test_checkin_cache import _call
from entryway.deviceapi.tests.test_protocol import REPORT
from entryway.devices.models import IntercomDevice

pytestmark = pytest.mark.django_db

# Headers that differ between any two answers (the fast path also names the length).
VARYING = {"X-Request-ID", "Content-Length"}


@pytest.fixture
def app(redis_cache, settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    from config.wsgi import application

    return application


def _checkin(app, device, body=REPORT, secret=None):
    return _call(app, "POST", "/device/v1/checkin", auth=f"{device.mac}:{secret or device.device_secret}",
                 body=json.dumps(body).encode())


def _served_fast(monkeypatch):
    """Records whether each check-in was answered by the fast path."""
    seen = []
    original = fastpath.checkin

    def spy(environ):
        answer = original(environ)
        seen.append(answer is not None)
        return answer

    monkeypatch.setattr(fastpath, "checkin", spy)
    return seen


def test_idle_checkin_is_answered_before_django_like_django_does(app, device, monkeypatch):
    first = _checkin(app, device)  # first contact: the database path, which caches the device
    assert first["status"] == 200
    second = _checkin(app, device)  # this process now knows the device's id: one round trip, no query
    with CaptureQueriesContext(connection) as queries:
        third = _checkin(app, device)
    assert len(queries) == 0
    for answer in (second, third):
        assert answer["status"] == 200
        body, reference = json.loads(answer["body"]), json.loads(first["body"])
        assert body["actions"] == [] and body["config_version"] == reference["config_version"]
        assert body["poll_interval"] == reference["poll_interval"]
        assert set(answer["headers"]) - {"Content-Length"} == set(first["headers"]) - {"Content-Length"}
        assert {k: v for k, v in answer["headers"].items() if k not in VARYING} == {
            k: v for k, v in first["headers"].items() if k not in VARYING}


def test_fast_answers_are_counted_in_the_metrics(app, device):
    _checkin(app, device)
    _checkin(app, device)
    before = metrics.CHECKINS.labels("ok")._value.get()
    requests = metrics.REQUESTS.labels("POST", metrics.CHECKIN_ROUTE, "200")._value.get()
    assert _checkin(app, device)["status"] == 200
    assert metrics.CHECKINS.labels("ok")._value.get() == before + 1
    assert metrics.REQUESTS.labels("POST", metrics.CHECKIN_ROUTE, "200")._value.get() == requests + 1


def test_a_waiting_action_is_delivered_before_django(app, device, installer, monkeypatch):
    from entryway.deviceapi.models import DeviceAction

    seen = _served_fast(monkeypatch)
    _checkin(app, device)  # first contact: the database path, before Django too
    reboot = action_create(device=device, kind="reboot", acting_user=installer)
    answer = _checkin(app, device)
    assert answer["status"] == 200 and seen == [True, True]
    assert [a["id"] for a in json.loads(answer["body"])["actions"]] == [reboot.pk]
    assert DeviceAction.objects.get(pk=reboot.pk).status == "sent"
    again = _checkin(app, device)  # sent, not yet done: given again
    assert [a["id"] for a in json.loads(again["body"])["actions"]] == [reboot.pk] and seen[-1] is True
    assert _result(app, device, reboot.pk, {"status": "success"})["status"] == 200
    assert json.loads(_checkin(app, device)["body"])["actions"] == []
    with CaptureQueriesContext(connection) as queries:  # nothing waiting any more: the cache alone
        idle = _checkin(app, device)
    assert json.loads(idle["body"])["actions"] == [] and len(queries) == 0


def test_a_changed_report_reaches_the_database_with_its_body(app, device):
    _checkin(app, device)
    _checkin(app, device)
    answer = _checkin(app, device, {**REPORT, "ip": "192.168.1.99"})
    assert answer["status"] == 200
    assert IntercomDevice.objects.get(pk=device.pk).ip_address == "192.168.1.99"


def test_a_wrong_secret_gets_django_s_401_and_counts_as_a_refusal(app, device, redis_cache):
    _checkin(app, device)
    _checkin(app, device)
    answer = _checkin(app, device, secret="not-the-secret")
    assert answer["status"] == 401 and "WWW-Authenticate" in answer["headers"]
    assert redis_cache.get("rl:device-401:127.0.0.1") == 1


def test_a_bad_report_gets_django_s_400(app, device):
    _checkin(app, device)
    _checkin(app, device)
    answer = _checkin(app, device, {**REPORT, "uptime": -5})
    assert answer["status"] == 400 and b"uptime" in answer["body"]
    answer = _checkin(app, device, {**REPORT, "model": "R2\x009"})
    assert answer["status"] == 400


def test_each_request_is_counted_once_against_the_device_limit(app, device, settings, monkeypatch):
    settings.DEVICE_RATE_LIMIT = 4
    seen = _served_fast(monkeypatch)
    statuses = [_checkin(app, device, {**REPORT, "ip": f"192.168.1.{30 + i % 2}"})["status"] for i in range(2)]
    statuses += [_checkin(app, device)["status"] for _ in range(3)]
    # Two changed reports (Django), then idle ones: the 5th request of the minute is over the limit of 4,
    # whichever path served the ones before.
    assert statuses == [200, 200, 200, 200, 429]
    assert seen[-2] is True  # the 4th was answered by the fast path


def test_a_device_s_own_limit_answer_is_django_s(app, device, settings):
    settings.DEVICE_RATE_LIMIT = 1
    _checkin(app, device)
    answer = _checkin(app, device)
    assert answer["status"] == 429 and "Retry-After" in answer["headers"]
    assert json.loads(answer["body"])["error"].startswith("Too many requests from this device")


def test_without_a_script_cache_nothing_is_answered_here(device, settings):
    # The embedded default (file or local-memory cache): every check-in is Django's.
    environ = {"REQUEST_METHOD": "POST", "CONTENT_LENGTH": "2", "HTTP_AUTHORIZATION": basic(
        device.mac, device.device_secret)["Authorization"]}
    assert fastpath.checkin(environ) is None


# --- AutoP files -------------------------------------------------------------------------------------


def _autop(app, device, secret=None, mac=None):
    return _call(app, "GET", f"/autop/{mac or device.mac}.cfg", auth=f"{device.mac}:{secret or device.device_secret}")


def test_cached_autop_file_is_answered_before_django_like_django_does(app, device, monkeypatch):
    calls, django_only = [], [True]
    original = fastpath.cached_autop

    def spy(environ, path):
        calls.append(None if django_only[0] else original(environ, path))
        return calls[-1]

    monkeypatch.setattr(fastpath, "cached_autop", spy)
    _checkin(app, device)  # caches the device's entry
    by_django = _autop(app, device)  # the view renders and caches the file
    django_only[0] = False
    with CaptureQueriesContext(connection) as queries:
        second = _autop(app, device)
    assert len(queries) == 0 and calls[-1] is not None and calls[0] is None
    assert second["status"] == 200 and second["body"] == by_django["body"] and b"Config." in second["body"]
    assert {k: v for k, v in second["headers"].items() if k not in VARYING} == {
        k: v for k, v in by_django["headers"].items() if k not in VARYING}


def test_an_autop_file_not_cached_is_made_before_django(app, device, installer, monkeypatch):
    from entryway.deviceapi.autop import render_autop

    calls = []
    original = fastpath.cached_autop
    monkeypatch.setattr(fastpath, "cached_autop",
                        lambda environ, path: calls.append(original(environ, path)) or calls[-1])
    first = _autop(app, device)  # nothing cached: the device from the database, the file rendered
    assert first["status"] == 200 and calls[-1] is not None
    assert first["body"].decode() == render_autop(IntercomDevice.objects.get(pk=device.pk))
    _checkin(app, device)
    action_create(device=device, kind="autop", acting_user=installer, payload={"lines": ["Config.A.B.C = 1"]})
    with CaptureQueriesContext(connection) as queries:  # the file changed, its base did not: one query
        second = _autop(app, device)
    assert len(queries) == 1 and calls[-1] is not None and b"Config.A.B.C = 1" in second["body"]
    assert _autop(app, device, secret="not-the-secret")["status"] == 401 and calls[-1] is None


def test_autop_with_a_wrong_secret_or_for_another_device_goes_to_django(app, device, make_device, installer):
    other = make_device(installer, location="Back gate")
    _checkin(app, device)
    _autop(app, device)
    assert _autop(app, device, secret="not-the-secret")["status"] == 401
    assert _autop(app, device, mac=other.mac)["status"] == 404


def test_autop_after_a_settings_change_is_rendered_again(app, device):
    _checkin(app, device)
    _autop(app, device)
    device.location = "Main entrance"
    device.save()  # drops the cached file with the config version
    answer = _autop(app, device)
    assert answer["status"] == 200 and b"Main entrance" in answer["body"]


def test_the_per_address_autop_limit_holds_on_the_fast_path(app, device, settings):
    settings.AUTOP_RATE_LIMIT = 3
    _checkin(app, device)
    statuses = [_autop(app, device)["status"] for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def _due(device, redis_cache, seconds=45):
    """The device's Last Connected Time ``seconds`` old in the database and its entry, nothing queued since."""
    import datetime

    from django.utils import timezone

    from entryway.deviceapi import devicecache

    old = timezone.now() - datetime.timedelta(seconds=seconds)
    IntercomDevice.objects.filter(pk=device.pk).update(last_seen_at=old)
    entry = devicecache.lookup(device.mac)[0]
    redis_cache.set(devicecache.entry_key(device.mac), entry._replace(last_seen=old.timestamp()), 60)
    redis_cache.delete_many([devicecache.seen_marker_key(device.mac), devicecache.SEEN_KEY])
    return old


def _scripts(monkeypatch):
    """The Lua scripts run on the cache (one round trip each), by their first line."""
    from entryway.core.cache import RedisCacheClient

    ran = []
    original = RedisCacheClient.run_script

    def spy(self, source, keys, args):
        ran.append(source.strip().splitlines()[0])
        return original(self, source, keys, args)

    monkeypatch.setattr(RedisCacheClient, "run_script", spy)
    return ran


def _queued(redis_cache) -> dict:
    from entryway.deviceapi import devicecache

    raw = redis_cache._cache.get_client(write=True).hgetall(redis_cache.make_key(devicecache.SEEN_KEY))
    return {int(k): v.decode() for k, v in raw.items()}


def test_a_due_checkin_queues_its_time_in_the_gates_one_round_trip(app, device, redis_cache, monkeypatch):
    from entryway.deviceapi import devicecache, gate

    fast = _served_fast(monkeypatch)
    _checkin(app, device)  # first contact: the database path
    _checkin(app, device)  # this process knows the device's id from now on
    _due(device, redis_cache)
    scripts = _scripts(monkeypatch)
    before = time.time()
    with CaptureQueriesContext(connection) as queries:
        answer = _checkin(app, device, body={**REPORT, "uptime": 7321})
    assert answer["status"] == 200 and fast[-1] is True and json.loads(answer["body"])["actions"] == []
    assert len(queries) == 0
    assert scripts == [gate._SCRIPT.strip().splitlines()[0]]  # the gate's script only: no second round trip
    stamp, uptime = _queued(redis_cache)[device.pk].split(" ")
    assert float(stamp) >= before and uptime == "7321"
    assert redis_cache.get(devicecache.seen_marker_key(device.mac)) is not None
    # The entry lives on (its lifetime renewed, as note_seen renews it).
    ttl = redis_cache._cache.get_client(write=True).ttl(redis_cache.make_key(devicecache.entry_key(device.mac)))
    assert ttl > 60

    # Within the write interval the next check-ins queue nothing more, in the same one round trip.
    redis_cache.delete(devicecache.SEEN_KEY)
    assert _checkin(app, device)["status"] == 200 and fast[-1] is True
    assert _queued(redis_cache) == {} and len(scripts) == 2
    # Once it has passed, the flush is due too: that check-in has the queue written.
    redis_cache.delete_many([devicecache.seen_marker_key(device.mac), devicecache.SEEN_FLUSH_LOCK])
    later = time.time()
    assert _checkin(app, device)["status"] == 200 and fast[-1] is True
    assert IntercomDevice.objects.get(pk=device.pk).last_seen_at.timestamp() >= later


def test_a_time_queued_under_an_id_the_mac_no_longer_names_goes_to_the_device(app, device, redis_cache):
    # The process knew the MAC as another device's (the MAC was given to this one since): the gate queued
    # the time under that id; the check-in moves it to the device its entry names.
    from entryway.deviceapi import devicecache

    _checkin(app, device)
    _checkin(app, device)
    _due(device, redis_cache)
    devicecache.remember_id(device.mac, device.pk + 1000)
    assert _checkin(app, device, body={**REPORT, "uptime": 99})["status"] == 200
    queued = _queued(redis_cache)
    assert device.pk + 1000 not in queued and queued[device.pk].endswith(" 99")
    assert devicecache.known_id(device.mac) == device.pk


def test_a_wrong_secret_queues_no_time(app, device, redis_cache, monkeypatch):
    from entryway.deviceapi import devicecache

    _checkin(app, device)
    _checkin(app, device)
    old = _due(device, redis_cache)
    assert _checkin(app, device, secret="not-the-secret-of-this-device")["status"] == 401
    assert _queued(redis_cache) == {}
    assert redis_cache.get(devicecache.seen_marker_key(device.mac)) is None
    assert IntercomDevice.objects.get(pk=device.pk).last_seen_at == old
    # The device itself, right after: queued as usual.
    assert _checkin(app, device)["status"] == 200
    assert device.pk in _queued(redis_cache)


@pytest.mark.parametrize("bad", [{"uptime": -5}, {"model": "R" * 33}, {"ip": "not an address"}])
def test_a_report_the_view_refuses_queues_no_time(app, device, redis_cache, bad):
    _checkin(app, device)
    _checkin(app, device)
    _due(device, redis_cache)
    assert _checkin(app, device, body={**REPORT, **bad})["status"] == 400
    assert _queued(redis_cache) == {}


def test_a_due_last_connected_time_is_queued_and_flushed_by_the_fast_path(app, device, redis_cache, monkeypatch):
    import datetime
    import time

    from django.utils import timezone

    from entryway.deviceapi import devicecache

    seen = _served_fast(monkeypatch)
    _checkin(app, device)
    _checkin(app, device)
    old = timezone.now() - datetime.timedelta(seconds=45)
    IntercomDevice.objects.filter(pk=device.pk).update(last_seen_at=old)
    entry = devicecache.lookup(device.mac)[0]
    redis_cache.set(devicecache.entry_key(device.mac), entry._replace(last_seen=old.timestamp()), devicecache.ENTRY_TTL)
    # 45 s on: the time the second check-in queued (its marker) and the last flush are past their intervals.
    redis_cache.delete_many([devicecache.seen_marker_key(device.mac), devicecache.SEEN_FLUSH_LOCK])
    before = time.time()
    assert _checkin(app, device)["status"] == 200 and seen[-1] is True
    assert IntercomDevice.objects.get(pk=device.pk).last_seen_at.timestamp() >= before


def test_old_hardware_is_refused_once_the_device_has_a_new_mac(app, device, installer):
    # The installer swaps the hardware: a new MAC gets new secrets. The old unit, still polling with the
    # old MAC and secret, must not be answered from its cache entry, let alone be given the new file.
    from entryway.devices.models import MacLibraryEntry
    from entryway.devices.services import device_update

    old = IntercomDevice.objects.get(pk=device.pk)
    assert _checkin(app, old)["status"] == 200
    assert _checkin(app, old)["status"] == 200  # idle: answered from the entry
    assert _autop(app, old)["status"] == 200
    new_mac = "0C11DAFFEE01"
    MacLibraryEntry.objects.create(mac=new_mac, installer=installer)
    device_update(acting_user=installer, device=device, mac=new_mac)
    new = IntercomDevice.objects.get(pk=device.pk)
    assert new.device_secret != old.device_secret
    assert _checkin(app, new)["status"] == 200  # the new unit: its version and file are cached again
    assert _autop(app, new)["status"] == 200
    assert _checkin(app, new)["status"] == 200
    assert _checkin(app, old)["status"] == 401
    leaked = _autop(app, old)
    assert leaked["status"] in (401, 404) and new.device_secret.encode() not in leaked["body"]


def _result(app, device, action_id, body, secret=None):
    return _call(app, "POST", f"/device/v1/actions/{action_id}/result",
                 auth=f"{device.mac}:{secret or device.device_secret}", body=json.dumps(body).encode())


def _served_results(monkeypatch):
    seen = []
    original = fastpath.action_result

    def spy(environ, path, action_id):
        answer = original(environ, path, action_id)
        seen.append(answer is not None)
        return answer

    monkeypatch.setattr(fastpath, "action_result", spy)
    return seen


def test_a_known_device_s_result_is_recorded_before_django_like_django_does(app, device, installer, monkeypatch,
                                                                          settings):
    from entryway.deviceapi.models import DeviceAction

    seen = _served_results(monkeypatch)
    first = action_create(device=device, kind="reboot", acting_user=installer)
    second = action_create(device=device, kind="reboot", acting_user=installer)
    by_django = _result(app, device, first.pk, {"status": "success", "detail": "rebooting"})  # no entry yet
    assert seen == [False] and by_django["status"] == 200
    _checkin(app, device)  # caches the device's entry
    with CaptureQueriesContext(connection) as queries:
        fast = _result(app, device, second.pk, {"status": "proceeding", "stage": "installing", "detail": "50%"})
    assert seen == [False, True] and fast["status"] == 200
    assert json.loads(fast["body"]) == {"id": second.pk, "kind": "reboot", "status": "proceeding", "stage": "installing"}
    assert {k: v for k, v in fast["headers"].items() if k not in VARYING} == {
        k: v for k, v in by_django["headers"].items() if k not in VARYING}
    assert not any(q["sql"].lstrip().upper().startswith("SELECT") for q in queries.captured_queries)
    second.refresh_from_db()
    assert (second.status, second.stage, second.detail) == ("proceeding", "installing", "50%")
    before = metrics.REQUESTS.labels("POST", fastpath.RESULT_ROUTE, "200")._value.get()
    assert _result(app, device, second.pk, {"status": "failure", "detail": "no"})["status"] == 200
    assert metrics.REQUESTS.labels("POST", fastpath.RESULT_ROUTE, "200")._value.get() == before + 1
    assert DeviceAction.objects.get(pk=second.pk).status == "failure"


def test_results_the_fast_path_cannot_take_get_django_s_answer(app, device, installer, make_device, monkeypatch):
    seen = _served_results(monkeypatch)
    other = make_device(installer, location="Back gate")
    mine = action_create(device=device, kind="reboot", acting_user=installer)
    theirs = action_create(device=other, kind="reboot", acting_user=installer)
    _checkin(app, device)
    assert _result(app, device, mine.pk, {"status": "success"})["status"] == 200
    again = _result(app, device, mine.pk, {"status": "failure"})  # already final
    assert again["status"] == 409 and json.loads(again["body"])["status"] == "success"
    assert _result(app, device, theirs.pk, {"status": "success"})["status"] == 404  # another device's action
    assert _result(app, device, 2**63, {"status": "success"})["status"] == 404
    assert _result(app, device, theirs.pk, {"status": "done"})["status"] == 400
    assert _result(app, device, theirs.pk, {"status": "success"}, secret="wrong")["status"] == 401
    assert seen == [True, False, False, False, False, False]
    theirs.refresh_from_db()
    assert theirs.status == "pending"


def test_after_an_upgrade_s_success_the_file_is_cached_for_the_restart(app, device, installer, redis_cache,
                                                                        django_capture_on_commit_callbacks):
    from entryway.deviceapi.autop import cached_file, render_autop

    _checkin(app, device)
    assert _autop(app, device)["status"] == 200  # caches the file's base
    upgrade = action_create(device=device, kind="upgrade", acting_user=installer,
                            payload={"url": "https://cloud.example.com/f/x.rom", "version": "29.30.9.1"})
    with django_capture_on_commit_callbacks(execute=True):  # the file is made once the report commits
        assert _result(app, device, upgrade.pk, {"status": "success"})["status"] == 200
    assert cached_file(device.pk) == render_autop(IntercomDevice.objects.get(pk=device.pk))
    assert "Firmware.Url" not in cached_file(device.pk)


def test_a_device_not_in_the_cache_is_checked_against_the_database_before_django(app, device, redis_cache,
                                                                              monkeypatch):
    seen = _served_fast(monkeypatch)
    wrong = _checkin(app, device, secret="not-the-secret")  # nothing cached: refused by the database
    assert wrong["status"] == 401 and seen == [False]
    assert redis_cache.get("rl:device-401:127.0.0.1") == 1
    right = _checkin(app, device)
    assert right["status"] == 200 and seen == [False, True]
    assert IntercomDevice.objects.get(pk=device.pk).last_seen_at is not None
    unknown = _call(app, "POST", "/device/v1/checkin", auth=f"0C11DAFFFF99:{device.device_secret}",
                    body=json.dumps(REPORT).encode())
    assert unknown["status"] == 401 and seen[-1] is False
