"""The device routes' cache reads from the process's own copy (entryway.deviceapi.nearcache), against Redis."""
from __future__ import annotations

import json
import time

import pytest

from entryway.deviceapi import devicecache, nearcache
from entryway.deviceapi.services import action_create
from entryway.deviceapi.tests.test_checkin_cache import _call
from entryway.deviceapi.tests.test_protocol import REPORT

pytestmark = pytest.mark.django_db


@pytest.fixture
def app(redis_cache, settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.DEVICE_NEAR_CACHE = True
    from config.wsgi import application

    return application


@pytest.fixture
def near(app, redis_cache):
    near = nearcache.for_store(redis_cache)
    assert near is not None
    yield near
    near.reset()


def _checkin(app, device, body=REPORT, secret=None):
    return _call(app, "POST", "/device/v1/checkin", auth=f"{device.mac}:{secret or device.device_secret}",
                 body=json.dumps(body).encode())


def _commands(redis_cache) -> int:
    """Commands Redis has processed so far (every client's), less the INFO that asks."""
    client = redis_cache._cache.get_client(write=True)
    return int(client.info("stats")["total_commands_processed"])


def _known(app, device):
    """The device checked in until this process holds its values: the database path, then the first read."""
    for _ in range(3):
        assert _checkin(app, device)["status"] == 200


def test_an_idle_checkin_is_answered_without_asking_redis(app, near, device, redis_cache):
    _known(app, device)
    near.flush()
    hits = near.hits
    before = _commands(redis_cache)
    answer = _checkin(app, device)
    after = _commands(redis_cache)
    assert answer["status"] == 200 and json.loads(answer["body"])["actions"] == []
    assert near.hits == hits + 1
    assert after - before == 1  # the INFO itself: the check-in sent nothing


def test_an_action_given_after_the_copy_was_read_reaches_the_next_checkin(app, near, device, installer):
    _known(app, device)
    reboot = action_create(device=device, kind="reboot", acting_user=installer)
    answer = json.loads(_checkin(app, device)["body"])
    assert [action["id"] for action in answer["actions"]] == [reboot.pk]


def test_a_dropped_entry_is_not_used(app, near, device):
    _known(app, device)
    devicecache.forget([device.mac])  # a new secret, or the device deleted
    assert _checkin(app, device, secret=device.device_secret + "x")["status"] == 401
    assert _checkin(app, device)["status"] == 200  # the database path, which caches it again


def test_a_flushed_database_empties_the_copy(app, near, device, redis_cache):
    _known(app, device)
    redis_cache.clear()
    misses = near.misses
    assert _checkin(app, device)["status"] == 200
    assert near.misses > misses


def test_a_lost_invalidations_connection_empties_the_copy_and_is_made_again(app, near, device, installer,
                                                                          redis_cache):
    _known(app, device)
    client = redis_cache._cache.get_client(write=True)
    client.execute_command("CLIENT", "KILL", "ID", near._listener_id)
    # Changed while nobody listened: the copy must not answer from what it held.
    reboot = action_create(device=device, kind="reboot", acting_user=installer)
    answer = json.loads(_checkin(app, device)["body"])
    assert [action["id"] for action in answer["actions"]] == [reboot.pk]
    assert _checkin(app, device)["status"] == 200
    assert near._listener_id is not None


def test_the_device_rate_limit_counts_in_the_process_and_reaches_redis(app, near, device, settings, redis_cache):
    settings.DEVICE_RATE_LIMIT = 5
    statuses = [_checkin(app, device)["status"] for _ in range(7)]
    assert statuses == [200] * 5 + [429, 429]
    near.flush()
    bucket = f"rl:device:{device.mac}:{int(time.time()) // 60}"
    assert redis_cache.get(bucket) in (7, None) or int(time.time()) % 60 < 2  # a window may have just begun
    assert int(redis_cache.get(bucket) or 7) == 7


def test_another_process_hits_count_after_a_flush(app, near, device, settings, redis_cache):
    settings.DEVICE_RATE_LIMIT = 5
    _known(app, device)  # 3 hits
    near.flush()
    bucket = f"rl:device:{device.mac}:{int(time.time()) // 60}"
    redis_cache.incr(bucket, 10)  # another process counted 10 meanwhile
    assert _checkin(app, device)["status"] == 200  # this process has not heard of them yet
    near.flush()
    assert _checkin(app, device)["status"] == 429


def test_a_due_last_connected_time_is_queued_and_written(app, near, device, redis_cache):
    _known(app, device)
    near.flush()
    entry, _generation, _version = devicecache.lookup(device.mac)
    redis_cache.set(devicecache.entry_key(device.mac), entry._replace(last_seen=time.time() - 45), devicecache.ENTRY_TTL)
    redis_cache.delete(devicecache.seen_marker_key(device.mac))
    near._marked.clear()
    _checkin(app, device)  # the entry is read again (it changed) and the time is due
    assert _checkin(app, device)["status"] == 200  # queued already: answered from the copy
    near.flush()
    pending = redis_cache._cache.get_client(write=True).hgetall(redis_cache.make_key(devicecache.SEEN_KEY))
    assert list(pending) == [str(device.pk).encode()]
    assert redis_cache.get(devicecache.seen_marker_key(device.mac)) is not None
    assert devicecache.flush_seen() == 1
    device.refresh_from_db()
    assert device.last_seen_at.timestamp() > time.time() - 10


def test_refused_credentials_of_the_address_are_seen_at_once(app, near, device, settings):
    settings.DEVICE_AUTH_FAILURE_LIMIT = 2
    _known(app, device)
    for _ in range(2):
        assert _checkin(app, device, secret="wrong")["status"] == 401
    answer = _checkin(app, device)
    assert answer["status"] == 429 and b"refused" in answer["body"]


def test_without_the_setting_the_gate_asks_redis(app, device, settings, redis_cache):
    settings.DEVICE_NEAR_CACHE = False
    assert nearcache.for_store(redis_cache) is None
    _known(app, device)
    before = _commands(redis_cache)
    assert _checkin(app, device)["status"] == 200
    assert _commands(redis_cache) - before >= 2


def _due(near, device, redis_cache):
    """The device's Last Connected Time is due again, and nothing is queued for it."""
    near.flush()
    entry, _generation, _version = devicecache.lookup(device.mac)
    redis_cache.set(devicecache.entry_key(device.mac), entry._replace(last_seen=time.time() - 45), devicecache.ENTRY_TTL)
    redis_cache.delete_many([devicecache.seen_marker_key(device.mac), devicecache.SEEN_KEY])
    near._marked.clear()


def _queued(redis_cache) -> dict:
    raw = redis_cache._cache.get_client(write=True).hgetall(redis_cache.make_key(devicecache.SEEN_KEY))
    return {int(k): v.decode() for k, v in raw.items()}


def test_a_wrong_secret_queues_no_time(app, near, device, redis_cache):
    _known(app, device)
    _due(near, device, redis_cache)
    assert _checkin(app, device, secret="not-the-secret-of-this-device")["status"] == 401
    near.flush()
    assert _queued(redis_cache) == {}
    assert _checkin(app, device)["status"] == 200
    near.flush()
    assert device.pk in _queued(redis_cache)


def test_a_time_due_under_an_id_the_mac_no_longer_names_goes_to_the_device(app, near, device, redis_cache):
    _known(app, device)
    _due(near, device, redis_cache)
    devicecache.remember_id(device.mac, device.pk + 1000)
    assert _checkin(app, device, body={**REPORT, "uptime": 99})["status"] == 200
    near.flush()
    queued = _queued(redis_cache)
    assert device.pk + 1000 not in queued and queued[device.pk].endswith(" 99")
