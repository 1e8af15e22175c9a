"""What an idle check-in needs, kept in the shared cache (Redis in production) so that it reads no table.

A fleet polls all the time and almost every check-in changes nothing: same model, firmware and
address, no action waiting, Last Connected Time written less than DEVICE_LAST_SEEN_WRITE_INTERVAL
ago. For such a check-in the platform only has to know that the credentials are right, that
nothing is waiting and which config version to hand out. The slow path (the database) runs when
anything else is true, and leaves behind a fresh entry:

``deviceapi:dev:<MAC>``
    (device id, installer id, digest of the device secret, Last Connected Time as written,
    reported model, firmware, IP address, action generation seen, quiet). *quiet* means the
    check-in found no pending or sent action; once an action goes final, ``settle`` makes the entry
    again as the database then has the device, so the next check-in need not read it.
``deviceapi:actgen:<MAC>``
    the device's action generation: a new value is written after each commit that gives the
    device an action or changes its settings (``actions_changed``). An entry made before that
    carries the old value and no longer counts, whatever the order of the two writes: the entry
    stores the generation read *before* its database query.
``deviceapi:cfgver:<id>`` (entryway.deviceapi.autop)
    the config version. Every change of the device row, its relays or its household deletes it
    (``forget_versions``), and the fast path requires it: a deleted device, a device given a
    new MAC or new secret falls back to the database at its next check-in.
``deviceapi:seen``
    Last Connected Times (and uptimes) waiting to be written: a hash of device id to
    ``"<unix time> <uptime>"``. A fleet polling every 60 s is due a Last Connected Time at every
    check-in (DEVICE_LAST_SEEN_WRITE_INTERVAL is shorter than the poll), which would make every
    check-in an UPDATE of its row. A check-in instead records the time here: on the fast path the
    gate's own script does, in the check-in's one round trip, when the device's entry proves the
    presented secret (entryway.deviceapi.gate); otherwise an idle check-in does, and in its entry
    (``note_seen``, a second round trip). Either sets ``deviceapi:seenmark:<MAC>`` for the write
    interval, which the gate reads as "recorded recently". The first check-in after
    LAST_SEEN_FLUSH_INTERVAL seconds has the task queue's consumer write all of them in one batch
    (``flush_later``, ``flush_seen``); a periodic task does the same for a fleet gone quiet. The
    Last Connected Time in the database is then at most a few seconds older than the device's last
    check-in, far within DEVICE_OFFLINE_AFTER.
    A flush only moves a Last Connected Time forward, and never sets one that was cleared
    meanwhile (a device reset or moved).

Device secrets are random tokens of 144 bits or more, so the cache keeps a keyed SHA-256 digest
(HMAC with a key derived from SECRET_KEY) rather than the secret: a fast hash is enough where the
input cannot be guessed, and a slow password hash (PBKDF2, Argon2) would cost milliseconds on
every check-in for no gain. The digests are compared in constant time.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from typing import NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)

ENTRY_TTL = 300
SEEN_KEY = "deviceapi:seen"
SEEN_FLUSH_LOCK = "deviceapi:seen-flush"
# An action generation must outlive every entry that was made before it was written.
GENERATION_TTL = 2 * ENTRY_TTL


class Entry(NamedTuple):
    id: int
    installer_id: int
    digest: bytes
    last_seen: float | None  # Unix time of the Last Connected Time in the database
    model: str
    firmware: str
    ip: str | None
    generation: int | None
    quiet: bool


def entry_key(mac: str) -> str:
    return f"deviceapi:dev:{mac}"


def generation_key(mac: str) -> str:
    return f"deviceapi:actgen:{mac}"


def seen_marker_key(mac: str) -> str:
    """Present for DEVICE_LAST_SEEN_WRITE_INTERVAL seconds after the device's Last Connected Time was queued."""
    return f"deviceapi:seenmark:{mac}"


@functools.lru_cache(maxsize=4)
def _digest_key(secret_key: str) -> bytes:
    return hashlib.sha256(b"entryway.deviceapi.device-secret:" + secret_key.encode()).digest()


def secret_digest(secret: str) -> bytes:
    return hmac.new(_digest_key(settings.SECRET_KEY), secret.encode(), hashlib.sha256).digest()


# MAC -> device id, as last seen by this process: lets ``lookup`` read the config version in the same
# round trip. A MAC bound to another device since is harmless: the old id's config version was deleted
# with the old device (forget_versions) and the entry names the new id, so the ids disagree and the
# version is read again. Bounded: cleared when it grows past MAX_KNOWN_IDS.
_known_ids: dict[str, int] = {}
MAX_KNOWN_IDS = 200_000


def known_id(mac: str) -> int | None:
    """The MAC's device id, when this process knows it."""
    return _known_ids.get(mac)


def known_key(mac: str, key_for: Callable[[int], str]) -> str | None:
    """``key_for(device id)`` when this process knows the MAC's device id, else None."""
    known = _known_ids.get(mac)
    return None if known is None else key_for(known)


def credential_mac(request) -> str | None:
    """The normalised MAC of the request's HTTP Basic user name, or None (the secret is not looked at)."""
    from entryway.deviceapi.protocol import _basic_credentials, _mac_or_none

    credentials = _basic_credentials(request)
    return _mac_or_none(credentials[0]) if credentials else None


def lookup(mac: str, *, extra: Callable[[int], str] | None = None, prefetch=None):
    """(the device's entry, its action generation, the value at ``extra(device id)``).

    The entry is None when absent or unreadable. ``extra`` names a further key by device id (the
    config version, the cached AutoP file). What the gate already read (``prefetch``,
    entryway.deviceapi.gate) costs nothing; otherwise one round trip, and a second one for ``extra``
    the first time this process sees the MAC.
    """
    ek, gk = entry_key(mac), generation_key(mac)
    if prefetch is not None and prefetch.mac == mac:
        entry, generation, extra_key, value = prefetch.entry, prefetch.generation, prefetch.extra_key, prefetch.extra
    else:
        extra_key = known_key(mac, extra) if extra else None
        keys = [ek, gk] if extra_key is None else [ek, gk, extra_key]
        values = cache.get_many(keys)
        entry, generation, value = values.get(ek), values.get(gk), values.get(extra_key)
    if not isinstance(entry, Entry):
        return None, generation, None
    if extra is None:
        return entry, generation, None
    if extra_key != extra(entry.id):
        remember_id(mac, entry.id)
        value = cache.get(extra(entry.id))
    return entry, generation, value


def remember_id(mac: str, device_id: int) -> None:
    """This process now knows the MAC's device id (``known_key``)."""
    if len(_known_ids) >= MAX_KNOWN_IDS:
        _known_ids.clear()
    _known_ids[mac] = device_id


def store(mac: str, device, *, generation: int | None, quiet: bool, digest: bytes | None = None) -> None:
    """Remember the device as the database has it now (after the check-in's own writes).

    ``digest``: the secret's digest when ``device`` came from an entry (``device_from``), which has no secret.
    """
    last_seen = device.last_seen_at.timestamp() if device.last_seen_at else None
    cache.set(entry_key(mac), Entry(
        id=device.pk, installer_id=device.installer_id, digest=digest or secret_digest(device.device_secret),
        last_seen=last_seen, model=device.reported_model, firmware=device.firmware_version,
        ip=device.ip_address, generation=generation, quiet=quiet,
    ), ENTRY_TTL)


def device_from(entry: Entry, mac: str):
    """The device row's check-in fields as the entry holds them (an unsaved instance; no secret)."""
    import datetime

    from entryway.devices.models import IntercomDevice

    last_seen = (datetime.datetime.fromtimestamp(entry.last_seen, tz=datetime.UTC)
                 if entry.last_seen is not None else None)
    known = {"id": entry.id, "installer_id": entry.installer_id, "mac": mac, "last_seen_at": last_seen,
             "reported_model": entry.model, "firmware_version": entry.firmware, "ip_address": entry.ip}
    names = [f.attname for f in IntercomDevice._meta.concrete_fields if f.attname in known]
    return IntercomDevice.from_db("default", names, [known[name] for name in names])


def forget(macs) -> None:
    """The MACs' entries no longer prove anything (the device was deleted, or given a new MAC or secret).

    Dropped now and once more after commit, in case a check-in stored one meanwhile. A queued Last
    Connected Time never brings an entry back (``note_seen`` only refreshes an entry that exists).
    """
    keys = [entry_key(mac) for mac in macs if mac]
    if keys:
        cache.delete_many(keys)
        transaction.on_commit(lambda: cache.delete_many(keys))


def unchanged(entry: Entry, report: dict) -> bool:
    """True when the report repeats what the database holds (nothing to write)."""
    return ((report.get("model") is None or report["model"] == entry.model)
            and (report.get("firmware") is None or report["firmware"] == entry.firmware)
            and (report.get("ip") is None or report["ip"] == entry.ip))


def fresh(entry: Entry, now: float | None = None) -> bool:
    """The Last Connected Time in the database is recent enough not to be written again."""
    if entry.last_seen is None:
        return False
    return (now or time.time()) - entry.last_seen < settings.DEVICE_LAST_SEEN_WRITE_INTERVAL


def idle(entry: Entry, generation, report: dict, mac: str, flush: Callable[[], object] | None = None,
         seen: bool = False) -> bool:
    """True when the check-in can be answered from the cache: nothing waiting, nothing to write.

    Nothing waiting: the last database check-in found no open action and no action or settings change
    came since (the generation). Nothing to write: the report repeats the database's, and the Last
    Connected Time is fresh or, when due, queued for the next batch write (``note_seen``). ``seen``: the
    gate has queued it already, now or less than DEVICE_LAST_SEEN_WRITE_INTERVAL ago
    (entryway.deviceapi.gate).
    """
    return (entry.quiet and entry.generation == generation and unchanged(entry, report)
            and (seen or fresh(entry) or note_seen(mac, entry, report.get("uptime"), flush=flush)))


# The device protocol's times (a check-in's server_time, the push's at, a Remote Control session's
# expires_at): UTC, to the second, as strftime formats them.
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def idle_answer(version) -> dict:
    """The answer to an idle check-in: no action, the config version the device should have."""
    return {
        "poll_interval": settings.DEVICE_POLL_INTERVAL,
        "server_time": time.strftime(TIME_FORMAT, time.gmtime()),
        "config_version": version,
        "actions": [],
    }


def actions_changed(macs) -> None:
    """The devices have new actions or settings: their entries stop counting (now and after commit)."""
    macs = [mac for mac in macs if mac]
    if not macs:
        return

    def bump():
        value = time.time_ns()
        cache.set_many({generation_key(mac): value for mac in macs}, GENERATION_TTL)

    bump()
    transaction.on_commit(bump)


# KEYS: the entries; ARGV: for each, the value it must still hold and the value to write, then the lifetime.
# An entry changed or dropped meanwhile (a check-in stored a newer one, ``forget`` dropped it) is left alone.
_REPLACE_UNCHANGED = """
local n = 0
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[2 * i - 1] then
    redis.call('SET', KEYS[i], ARGV[2 * i], 'EX', ARGV[#ARGV])
    n = n + 1
  end
end
return n
"""
_READ = "return redis.call('MGET', unpack(KEYS))"
SETTLE_CHUNK = 500


def settle(devices: dict[int, str], now=None) -> int:
    """Devices whose actions went final (after the commit that recorded it): {device id: MAC}. Returns how
    many entries now let the next check-in be answered from the cache.

    The check-in that handed out an action left an entry that is not quiet, so the device's next check-in
    (after an upgrade, the one that follows the restart) would read the database for nothing. Here each
    entry is made again as the database has the device now: its reported model, firmware (a final upgrade
    writes the new version) and address, and quiet when no action is pending or sent. As in a check-in,
    the action generation is read before the database, so an action given meanwhile outdates the entry;
    and an entry is replaced only while it holds what was read (``_REPLACE_UNCHANGED``), so one dropped
    meanwhile (a new secret, a deleted device) stays dropped. Nothing happens without a cache that runs
    scripts, or for a device without an entry; a failure is logged, never raised (the results are
    recorded, and the next check-ins read the database as before).
    """
    run_script = getattr(cache, "run_script", None)
    if run_script is None or not devices:
        return 0
    items = list(devices.items())
    settled = 0
    try:
        for start in range(0, len(items), SETTLE_CHUNK):
            settled += _settle(dict(items[start:start + SETTLE_CHUNK]), run_script, now)
    except Exception:  # noqa: BLE001 - the results are recorded; the next check-ins read the database instead
        logger.warning("refreshing the cache entries of %d device(s) failed", len(items), exc_info=True)
    return settled


def _settle(devices: dict[int, str], run_script, now) -> int:
    from django.db import connection
    from django.utils import timezone

    from entryway.core import rawsql
    from entryway.deviceapi.choices import ActionStatus
    from entryway.deviceapi.models import DeviceAction
    from entryway.devices.models import IntercomDevice

    macs = list(devices.values())
    raw = run_script(_READ, [*map(entry_key, macs), *map(generation_key, macs)], [])
    entries = {mac: (value, cache.decode(value)) for mac, value in zip(macs, raw[:len(macs)], strict=True)
               if value is not None}
    generations = {mac: cache.decode(value) for mac, value in zip(macs, raw[len(macs):], strict=True)}
    ids = [pk for pk, mac in devices.items() if isinstance(entries.get(mac, (None, None))[1], Entry)
           and entries[mac][1].id == pk]
    if not ids:
        return 0
    stamp = connection.ops.adapt_datetimefield_value(now or timezone.now())
    device_names = ("id", "reported_model", "firmware_version", "ip_address")
    marks = ", ".join(["%s"] * len(ids))
    with rawsql.cursor() as cursor:
        cursor.execute(
            f"SELECT {rawsql.columns(IntercomDevice, device_names, alias='d')}, EXISTS (SELECT 1 FROM"
            f" {rawsql.table(DeviceAction)} a WHERE a.device_id = d.id AND a.status IN (%s, %s)"
            " AND (a.expires_at IS NULL OR a.expires_at > %s))"
            f" FROM {rawsql.table(IntercomDevice)} d WHERE d.id IN ({marks})",
            [ActionStatus.PENDING, ActionStatus.SENT, stamp, *ids])
        rows = cursor.fetchall()
    width = len(device_names)
    found = rawsql.instances(IntercomDevice, device_names, [row[:width] for row in rows])
    keys, args = [], []
    for device, row in zip(found, rows, strict=True):
        mac = devices[device.pk]
        old_raw, old = entries[mac]
        new = old._replace(model=device.reported_model, firmware=device.firmware_version, ip=device.ip_address,
                           generation=generations.get(mac), quiet=not row[width])
        if new != old:
            keys.append(entry_key(mac))
            args += [old_raw, cache.encode(new)]
    if not keys:
        return 0
    return run_script(_REPLACE_UNCHANGED, keys, [*args, ENTRY_TTL])


# KEYS: the pending hash, the device's entry, the flush lock, the device's marker. ARGV: device id,
# "<time> <uptime>", the entry (encoded), its lifetime, the flush interval, the write interval. Answer: 1
# when this check-in should flush. The entry is refreshed only while it exists (XX): one dropped
# meanwhile (``forget``) stays dropped. The marker tells the gate that the time is queued.
_NOTE_SEEN = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[4], 'XX')
redis.call('SET', KEYS[4], '1', 'EX', ARGV[6])
if redis.call('SET', KEYS[3], '1', 'NX', 'EX', ARGV[5]) then return 1 end
return 0
"""
# Takes every pending time at once (the hash is emptied in the same step).
_TAKE_SEEN = """
local pending = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
return pending
"""
# Gives back times whose write failed, unless a newer one came meanwhile.
_GIVE_BACK = """
for i = 1, #ARGV, 2 do redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 0
"""


def note_seen(mac: str, entry: Entry, uptime: int | None, now: float | None = None,
              flush: Callable[[], object] | None = None) -> bool:
    """Record an idle check-in's Last Connected Time for the next batch write, in one round trip.

    False when the cache cannot run scripts (the caller writes the row itself). Has the pending times
    written (``flush``, by default ``flush_later``) when LAST_SEEN_FLUSH_INTERVAL has passed since the
    last flush.
    """
    run_script = getattr(cache, "run_script", None)
    if run_script is None:
        return False
    now = now or time.time()
    interval = max(1, int(settings.LAST_SEEN_FLUSH_INTERVAL))
    due = run_script(_NOTE_SEEN, [SEEN_KEY, entry_key(mac), SEEN_FLUSH_LOCK, seen_marker_key(mac)], [
        entry.id, f"{now:.6f} {'' if uptime is None else int(uptime)}",
        cache.encode(entry._replace(last_seen=now)), ENTRY_TTL, interval,
        max(1, int(settings.DEVICE_LAST_SEEN_WRITE_INTERVAL)),
    ])
    if due:
        flush_now(flush)
    return True


_DROP_SEEN = "return redis.call('HDEL', KEYS[1], ARGV[1])"


def seen_moved(mac: str, stale_id: int, entry: Entry, uptime: int | None) -> None:
    """The gate queued the check-in's time under ``stale_id``, the id this process knew for the MAC, but the
    entry names another device (the MAC was given to it since): the time goes to the entry's device.

    The stale id's queued time goes too; if it was that device's own, its next due check-in queues it again.
    Only the gate queues under a stale id, so the cache runs scripts.
    """
    cache.run_script(_DROP_SEEN, [SEEN_KEY], [stale_id])
    note_seen(mac, entry, uptime)


def flush_now(flush: Callable[[], object] | None = None) -> None:
    """Have the queued times written (``flush``, by default ``flush_later``): this check-in took the flush lock."""
    try:
        (flush or flush_later)()
    except Exception:  # the times stay queued (given back) for the next flush; the check-in is answered
        logger.warning("writing the queued Last Connected Times failed", exc_info=True)


def flush_later() -> None:
    """Have the task queue's consumer write the pending times (``flush_seen``), not the request that found
    them due: the write takes as long as the batch is large, and a request waiting for it holds up every
    request queued behind it on its worker."""
    from entryway.deviceapi.tasks import last_seen_flush_now_task

    last_seen_flush_now_task()


def flush_seen() -> int:
    """Write every pending Last Connected Time in one batch; returns how many devices had one."""
    run_script = getattr(cache, "run_script", None)
    if run_script is None:
        return 0
    raw = run_script(_TAKE_SEEN, [SEEN_KEY], [])
    if not raw:
        return 0
    pending = {}
    for key, value in zip(raw[::2], raw[1::2], strict=True):
        stamp, _sep, uptime = (value.decode() if isinstance(value, bytes) else value).partition(" ")
        pending[int(key)] = (float(stamp), int(uptime) if uptime else None)
    try:
        return _write_seen(pending)
    except Exception:
        run_script(_GIVE_BACK, [SEEN_KEY], [x for device_id, (stamp, uptime) in pending.items()
                                             for x in (device_id, f"{stamp:.6f} {'' if uptime is None else uptime}")])
        raise


def _write_seen(pending: dict[int, tuple[float, int | None]]) -> int:
    import datetime

    from django.db import connection

    from entryway.devices.models import IntercomDevice

    table = connection.ops.quote_name(IntercomDevice._meta.db_table)
    ids = sorted(pending)  # one lock order for every writer
    stamps = [datetime.datetime.fromtimestamp(pending[i][0], tz=datetime.UTC) for i in ids]
    uptimes = [pending[i][1] for i in ids]
    # Only forward, and never where the time was cleared since (NULL); an unknown uptime stays as it is.
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # the whole batch in one statement
            # Times lost in a server crash do no harm (the next check-in brings them again): the commit
            # does not wait for the write-ahead log to reach the disk.
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
            cursor.execute(
                f"UPDATE {table} AS d SET last_seen_at = v.seen, uptime_seconds = COALESCE(v.up, d.uptime_seconds) "
                "FROM unnest(%s::bigint[], %s::timestamptz[], %s::bigint[]) AS v(id, seen, up) "
                "WHERE d.id = v.id AND d.last_seen_at IS NOT NULL AND d.last_seen_at < v.seen",
                [ids, stamps, uptimes])
        else:
            adapt = connection.ops.adapt_datetimefield_value
            cursor.executemany(
                f"UPDATE {table} SET last_seen_at = %s, uptime_seconds = COALESCE(%s, uptime_seconds) "
                "WHERE id = %s AND last_seen_at IS NOT NULL AND last_seen_at < %s",
                [(adapt(seen), up, i, adapt(seen)) for i, seen, up in zip(ids, stamps, uptimes, strict=True)])
    return len(pending)
