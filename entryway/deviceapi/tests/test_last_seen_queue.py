"""Idle check-ins due a Last Connected Time queue it in Redis; one batch writes the queue (devicecache)."""
from __future__ import annotations

import datetime
import time

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from entryway.deviceapi import devicecache
from entryway.deviceapi.tests.test_protocol import REPORT, checkin
from entryway.devices.models import IntercomDevice

pytestmark = pytest.mark.django_db


def _age(device, seconds):
    """The device's Last Connected Time ``seconds`` ago, in the database and in its cache entry."""
    seen = timezone.now() - datetime.timedelta(seconds=seconds)
    IntercomDevice.objects.filter(pk=device.pk).update(last_seen_at=seen)
    entry, _generation, _version = devicecache.lookup(device.mac)
    cache.set(devicecache.entry_key(device.mac), entry._replace(last_seen=seen.timestamp()), devicecache.ENTRY_TTL)
    cache.delete(devicecache.seen_marker_key(device.mac))  # a time queued that long ago no longer counts
    return seen


def test_due_idle_checkin_is_queued_without_a_query_and_written_by_the_flush(redis_cache, client, device,
                                                                           device_headers):
    assert checkin(client, device_headers).status_code == 200  # first contact: database path, entry cached
    old = _age(device, 45)
    with CaptureQueriesContext(connection) as queries:
        before = time.time()
        answer = checkin(client, device_headers, {**REPORT, "uptime": 7200})
    assert answer.status_code == 200 and answer.json()["actions"] == []
    assert len(queries) == 0, [q["sql"] for q in queries]
    row = IntercomDevice.objects.get(pk=device.pk)
    assert row.last_seen_at == old  # not written yet: queued
    entry, _generation, _version = devicecache.lookup(device.mac)
    assert entry.last_seen >= before  # the entry knows the queued time: the next check-ins are fresh

    assert devicecache.flush_seen() == 1
    row.refresh_from_db()
    assert row.last_seen_at.timestamp() >= before and row.uptime_seconds == 7200
    assert devicecache.flush_seen() == 0  # the queue is empty


def test_the_first_checkin_after_the_interval_flushes_the_queue(redis_cache, settings, client, device,
                                                                 device_headers):
    settings.LAST_SEEN_FLUSH_INTERVAL = 10
    checkin(client, device_headers)
    cache.delete(devicecache.SEEN_FLUSH_LOCK)
    _age(device, 45)
    before = time.time()
    assert checkin(client, device_headers).status_code == 200
    # The lock was free: that check-in had the queue written (the task runs at once in the tests), and
    # holds the lock for the interval.
    assert IntercomDevice.objects.get(pk=device.pk).last_seen_at.timestamp() >= before
    assert cache.get(devicecache.SEEN_FLUSH_LOCK) is not None


def test_flush_never_moves_a_time_back_nor_sets_a_cleared_one(redis_cache, client, make_device, installer,
                                                             device, device_headers):
    other = make_device(installer, location="Back gate")
    checkin(client, device_headers)
    _age(device, 45)
    checkin(client, device_headers)  # queued
    newer = timezone.now() + datetime.timedelta(seconds=5)
    IntercomDevice.objects.filter(pk=device.pk).update(last_seen_at=newer)  # written meanwhile, later
    entry = devicecache.lookup(device.mac)[0]
    devicecache.note_seen(other.mac, entry._replace(id=other.pk), None)
    IntercomDevice.objects.filter(pk=other.pk).update(last_seen_at=None)  # cleared meanwhile
    devicecache.flush_seen()
    assert IntercomDevice.objects.get(pk=device.pk).last_seen_at == newer
    assert IntercomDevice.objects.get(pk=other.pk).last_seen_at is None


def test_a_failed_write_gives_the_times_back(redis_cache, client, device, device_headers, monkeypatch):
    checkin(client, device_headers)
    _age(device, 45)
    checkin(client, device_headers)

    def broken(pending):
        raise RuntimeError("database gone")

    monkeypatch.setattr(devicecache, "_write_seen", broken)
    with pytest.raises(RuntimeError):
        devicecache.flush_seen()
    monkeypatch.undo()
    assert devicecache.flush_seen() == 1


def test_without_a_script_cache_the_checkin_writes_the_row(client, device, device_headers, settings):
    # The embedded default (file or local-memory cache) keeps writing the row on the database path.
    settings.DEVICE_LAST_SEEN_WRITE_INTERVAL = 30
    checkin(client, device_headers)
    IntercomDevice.objects.filter(pk=device.pk).update(last_seen_at=timezone.now() - datetime.timedelta(seconds=45))
    entry = devicecache.lookup(device.mac)[0]
    cache.set(devicecache.entry_key(device.mac), entry._replace(last_seen=time.time() - 45), devicecache.ENTRY_TTL)
    before = time.time()
    checkin(client, device_headers)
    assert IntercomDevice.objects.get(pk=device.pk).last_seen_at.timestamp() >= before - 1


def test_the_checkin_leaves_the_write_to_the_task_queue(redis_cache, settings, client, device, device_headers):
    from huey.contrib.djhuey import HUEY

    settings.LAST_SEEN_FLUSH_INTERVAL = 10
    checkin(client, device_headers)
    old = _age(device, 45)
    cache.delete(devicecache.SEEN_FLUSH_LOCK)
    HUEY.immediate = False  # a real queue: the consumer, not the request, writes the times
    try:
        HUEY.flush()
        with CaptureQueriesContext(connection) as queries:
            assert checkin(client, device_headers).status_code == 200
        assert len(queries) == 0, [q["sql"] for q in queries]
        assert IntercomDevice.objects.get(pk=device.pk).last_seen_at == old
        (task,) = HUEY.pending()
        assert task.name.endswith("last_seen_flush_now_task")
        assert devicecache.flush_seen() == 1  # what the task runs in the consumer
    finally:
        HUEY.flush()
        HUEY.immediate = True
    assert IntercomDevice.objects.get(pk=device.pk).last_seen_at > old


def test_batch_writes_are_heap_only_updates_on_postgresql(make_device, installer):
    """No index covers the columns the batch writes, so PostgreSQL updates the rows in place and touches
    none of the table's indexes (devices migration 0007); an index on last_seen_at made every row cost a
    new entry in each of them.

    A heap-only update also needs room on the row's page: the fill factor keeps 15 % of each page free
    on insert, room for one new version of a row. Within the test's transaction no old version can be
    pruned, so the row measured is inserted once (bulk_create, with its Last Connected Time) and then
    written by the batch alone."""
    import os

    from entryway.devices.models import MacLibraryEntry

    if connection.vendor != "postgresql" and not os.environ.get("CI"):
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    table = IntercomDevice._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s", [table])
        definitions = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = %s", [table])
        options = cursor.fetchone()[0] or []
    assert definitions and not [d for d in definitions if "last_seen_at" in d or "uptime_seconds" in d]
    assert "fillfactor=85" in options

    sibling = make_device(installer, location="Gate 0")
    seen = timezone.now() - datetime.timedelta(minutes=5)
    entry = MacLibraryEntry.objects.create(mac="0C11051EE7A1", installer=installer)
    (device,) = IntercomDevice.objects.bulk_create([IntercomDevice(
        installer=installer, owner=sibling.owner, device_model=sibling.device_model, mac=entry.mac, mac_entry=entry,
        location="Gate 1", sip_number="80000001", device_secret="s" * 24, mqtt_password="m" * 24,
        last_seen_at=seen)])

    def counts():
        with connection.cursor() as cursor:
            cursor.execute("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = %s",
                           [table])
            return cursor.fetchone()

    updated, hot = counts()
    now = time.time()
    assert devicecache._write_seen({device.pk: (now, 600)}) == 1
    after_updated, after_hot = counts()
    assert after_updated - updated == 1
    assert after_hot - hot == 1
    row = IntercomDevice.objects.get(pk=device.pk)
    assert row.last_seen_at.timestamp() == pytest.approx(now, abs=0.001) and row.uptime_seconds == 600
