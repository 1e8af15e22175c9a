"""The device routes' cache reads answered from the process's own copy, kept fresh by Redis itself.

An idle check-in needs a few values that change rarely (the device's entry, its action generation,
its config version, the refused credentials of its address) and two writes that nobody reads at
once (the device's request counter, and every so often its Last Connected Time). The gate
(entryway.deviceapi.gate) used to do all of it in one round trip to Redis per request; on a busy
worker that round trip costs the process more than the rest of the check-in (bench/RESULTS.md,
"Eleventh round").

Here each worker process keeps the values it read, and Redis tells it when any of them changes:

- **Reads** that are not in the copy are made with ``MGET`` on a connection with ``CLIENT TRACKING``
  on, whose invalidations Redis sends to a second connection of the process, subscribed to
  ``__redis__:invalidate`` (Redis's server-assisted client-side caching, in its RESP2 form). Every
  change of a key the process has read (a write, a delete, an expiry, a flush of the database) sends
  the key's name there; an invalidation of everything (``FLUSHDB``) or a broken connection empties
  the copy. Before every use the process reads what has arrived on that connection, without waiting,
  so a value changed before the request came is never used.
- **Counters** (the device's requests per minute, an address's AutoP files per minute) are counted
  here and added to Redis every ``DEVICE_NEAR_FLUSH_INTERVAL`` seconds with ``INCRBY``, which gives
  back the totals of every process. A request is refused when the last total plus what this process
  counted since goes over the limit: exact within one process, and at most one interval behind the
  other processes' hits.
- **Last Connected Times** due at a check-in are queued here and written to the queue of
  entryway.deviceapi.devicecache in the same batch, with the same marker (one per write interval),
  the same refresh of the entry's lifetime and the same flush lock as the gate's own script.

A daemon thread of the process sends the batch; ``flush()`` sends it at once. A batch that fails is
dropped: its counts are lost (a limit counts a little low for one interval) and its devices queue
their Last Connected Time again at their next check-in.

Without Redis (the embedded file cache), with ``DEVICE_NEAR_CACHE`` off, or when Redis refuses
``CLIENT TRACKING`` (before Redis 6), the gate keeps its round trip.
"""
from __future__ import annotations

import logging
import os
import ssl
import threading
import time
import weakref

import hiredis
from django.conf import settings
from redis.exceptions import RedisError, ResponseError

logger = logging.getLogger(__name__)

INVALIDATIONS = "__redis__:invalidate"
PRUNE_EVERY = 120  # seconds: longer than any counter's window
_MISS = object()

# KEYS: the counters, then for each queued Last Connected Time its marker and its entry, then the queue and
# the flush lock. ARGV: the number of counters, of times; each counter's delta and lifetime; each time's
# device id and "<time> <uptime>"; the write interval, the entry's lifetime and the flush interval.
# Answer: the counters' totals, then 1 when this batch took the flush lock.
# As the gate's script: a time is queued only while the device's marker is not set (another process may have
# queued it), and its entry's lifetime renewed; here only once a third of it is left, since a change of the
# lifetime is a change of the key, which every process holding the entry is told of.
_BATCH = """
local n, m = tonumber(ARGV[1]), tonumber(ARGV[2])
local out = {}
for i = 1, n do
  local delta = tonumber(ARGV[1 + 2 * i])
  local total = redis.call('INCRBY', KEYS[i], delta)
  if total == delta then redis.call('EXPIRE', KEYS[i], ARGV[2 + 2 * i]) end
  out[i] = total
end
local a = 2 + 2 * n
local interval, lifetime, flush_every = ARGV[a + 2 * m + 1], tonumber(ARGV[a + 2 * m + 2]), ARGV[a + 2 * m + 3]
local queued = 0
for j = 1, m do
  if redis.call('SET', KEYS[n + 2 * j - 1], '1', 'NX', 'EX', interval) then
    redis.call('HSET', KEYS[n + 2 * m + 1], ARGV[a + 2 * j - 1], ARGV[a + 2 * j])
    local ttl = redis.call('TTL', KEYS[n + 2 * j])
    if ttl >= 0 and ttl < lifetime / 3 then redis.call('EXPIRE', KEYS[n + 2 * j], lifetime) end
    queued = queued + 1
  end
end
local flush = 0
if queued > 0 and redis.call('SET', KEYS[n + 2 * m + 2], '1', 'NX', 'EX', flush_every) then flush = 1 end
out[n + 1] = flush
return out
"""


class Unavailable(Exception):
    """The copy cannot be used now (Redis unreachable, or tracking refused): the caller asks Redis itself."""


class NearCache:
    """One process's copy of tracked cache values, and its counters and queued times (see the module).

    ``client`` is the cache's ``entryway.core.cache.RedisCacheClient``, ``make_key`` the cache's own (for the
    queue and the flush lock of entryway.deviceapi.devicecache); every other key given here is made already.
    """

    def __init__(self, client, make_key, max_keys: int):
        self._client, self._make_key, self.max_keys = client, make_key, max_keys
        self.pid = os.getpid()
        # Lock order: _flush_lock, then _lock; _io_lock is never held together with _lock.
        self._lock = threading.Lock()  # the copy, the counters, the queued times, the invalidations' connection
        self._io_lock = threading.Lock()  # the tracked connection
        self._flush_lock = threading.Lock()
        self._data: dict[str, object] = {}
        self._filling: dict[str, object] = {}
        self._listener = None  # the connection that receives the invalidations
        self._listener_id = None  # its client id in Redis
        self._socket = self._reader = None  # its socket (not blocking) and the parser of what it receives
        self._tracked = None  # the connection whose reads are tracked
        self._tracked_for = None  # the listener's id it sends its invalidations to
        self._pending: dict[str, list] = {}  # counter key -> [hits not yet sent, lifetime]
        self._sent: dict[str, int] = {}  # counter key -> hits sent, not yet answered
        self._totals: dict[str, tuple[int, float]] = {}  # counter key -> (last total, when)
        self._seen: list[tuple[str, str, str, int, str]] = []  # (MAC, marker key, entry key, device id, value)
        self._marked: dict[str, float] = {}  # MAC -> when this process queued its time
        self._pruned = time.monotonic()
        self.refused = False  # Redis refused tracking: the copy is never used
        self.hits = self.misses = 0

    # -- reads -------------------------------------------------------------------------------------------

    def read(self, keys: list[str]) -> list:
        """The raw values of ``keys`` (made cache keys; "" reads as None), from the copy where it has them
        and in one tracked ``MGET`` for the rest. Raises ``Unavailable``."""
        with self._lock:
            self._drain()
            data = self._data
            values = [data.get(key, _MISS) if key else None for key in keys]
            missing = [key for key, value in zip(keys, values, strict=True) if value is _MISS]
            if not missing:
                self.hits += 1
                return values
            self.misses += 1
            token = object()
            for key in missing:
                self._filling[key] = token
        try:
            with self._io_lock:
                connection = self._tracked_connection()
                connection.send_packed_command([hiredis.pack_command(("MGET", *missing))], check_health=False)
                got = connection.read_response()
        except (RedisError, OSError) as error:
            self.reset()
            raise Unavailable(str(error)) from error
        found = dict(zip(missing, got, strict=True))
        with self._lock:
            self._drain()  # a value changed while the answer travelled is not kept
            for key, value in found.items():
                if self._filling.get(key) is token:
                    del self._filling[key]
                    if len(data) < self.max_keys:
                        data[key] = value
        return [found[key] if value is _MISS else value for key, value in zip(keys, values, strict=True)]

    def _drain(self) -> None:
        """Apply every invalidation Redis has sent so far (under ``_lock``); raises ``Unavailable``.

        The listener's socket is read without waiting (one system call when nothing came) and its
        messages parsed by hiredis here: redis-py's ``can_read`` costs a poll object and a peek per call."""
        if self.refused:
            raise Unavailable("Redis refused client tracking")
        sock = self._socket
        if sock is None:
            self._listen()
            return
        reader = self._reader
        try:
            while True:
                try:
                    chunk = sock.recv(65536)
                except (BlockingIOError, ssl.SSLWantReadError):
                    return
                if not chunk:
                    raise ConnectionError("Redis closed the invalidations' connection")
                reader.feed(chunk)
                message = reader.gets()
                while message is not False:
                    self._invalidate(message)
                    message = reader.gets()
        except (RedisError, OSError, hiredis.ProtocolError) as error:
            self._drop_listener()
            raise Unavailable(str(error)) from error

    def _invalidate(self, message) -> None:
        if not isinstance(message, list) or len(message) != 3 or message[0] != b"message":
            return
        keys = message[2]
        if keys is None:  # the database was flushed
            self._data.clear()
            self._filling.clear()
            return
        data, filling = self._data, self._filling
        for key in keys if isinstance(keys, list) else [keys]:
            name = key.decode() if isinstance(key, bytes) else key
            data.pop(name, None)
            filling.pop(name, None)

    def _listen(self) -> None:
        """Open the invalidations' connection (under ``_lock``). The copy starts empty, and the next read
        opens a new tracked connection that sends its invalidations here."""
        pool = self._client._get_connection_pool(True)
        # RESP2: the invalidations arrive as messages of the subscribed channel (with RESP3 they would be
        # pushes, which redis-py hands to a handler instead of read_response).
        listener = pool.connection_class(**{**pool.connection_kwargs, "socket_timeout": None, "protocol": 2})
        try:
            listener.connect()
            listener.send_command("CLIENT", "ID")
            client_id = int(listener.read_response())
            listener.send_command("SUBSCRIBE", INVALIDATIONS)
            listener.read_response()
            # Nothing else can have arrived: no read is tracked for this connection yet.
            sock = listener._sock
            sock.setblocking(False)
        except (RedisError, OSError, ValueError) as error:
            listener.disconnect()
            raise Unavailable(str(error)) from error
        self._data.clear()
        self._filling.clear()
        self._listener, self._listener_id = listener, client_id
        self._socket, self._reader = sock, hiredis.Reader()

    def _tracked_connection(self):
        """The connection whose reads Redis tracks, sending the invalidations to the current listener (under
        ``_io_lock``)."""
        listener_id = self._listener_id
        if listener_id is None:
            raise Unavailable("no invalidations' connection")
        if self._tracked is not None and self._tracked_for == listener_id:
            return self._tracked
        if self._tracked is not None:
            self._tracked.disconnect()
            self._tracked = None
        pool = self._client._get_connection_pool(True)
        connection = pool.connection_class(**{**pool.connection_kwargs, "protocol": 2})
        connection.connect()
        connection.send_command("CLIENT", "TRACKING", "ON", "REDIRECT", listener_id)
        try:
            connection.read_response()
        except ResponseError:
            self.refused = True  # a server without client tracking: the gate keeps its round trip
            connection.disconnect()
            raise
        self._tracked, self._tracked_for = connection, listener_id
        return connection

    def _drop_listener(self) -> None:
        """Close the invalidations' connection and empty the copy (under ``_lock``): nothing read so far can be
        trusted."""
        self._data.clear()
        self._filling.clear()
        if self._listener is not None:
            self._listener.disconnect()
        self._listener = self._listener_id = self._socket = self._reader = None

    def reset(self) -> None:
        """Empty the copy and close the connections; the next read opens them again."""
        with self._lock:
            self._drop_listener()
        with self._io_lock:
            if self._tracked is not None:
                self._tracked.disconnect()
            self._tracked = self._tracked_for = None

    # -- counters and queued times ----------------------------------------------------------------------

    def count(self, key: str, lifetime: int) -> int:
        """Count one hit of the counter ``key`` (a made cache key that lives ``lifetime`` seconds from its
        first hit); the count it now has, as far as this process knows."""
        with self._lock:
            pending = self._pending.get(key)
            if pending is None:
                pending = self._pending[key] = [0, lifetime]
            pending[0] += 1
            total = self._totals.get(key)
            return (total[0] if total else 0) + self._sent.get(key, 0) + pending[0]

    def recently_queued(self, mac: str, now: float) -> bool:
        """True when this process queued the device's Last Connected Time less than the write interval ago."""
        when = self._marked.get(mac)
        return when is not None and now - when < settings.DEVICE_LAST_SEEN_WRITE_INTERVAL

    def queue_seen(self, mac: str, marker_key: str, entry_key: str, device_id: int, value: str, now: float) -> None:
        """Queue a Last Connected Time for the next batch (made keys of the device's marker and entry)."""
        with self._lock:
            self._marked[mac] = now
            self._seen.append((mac, marker_key, entry_key, device_id, value))

    def busy(self) -> bool:
        return bool(self._pending or self._seen)

    def flush(self) -> None:
        """Send the counted hits and the queued times in one batch, now."""
        with self._flush_lock:
            with self._lock:
                pending, self._pending = self._pending, {}
                seen, self._seen = self._seen, []
                for key, (hits, _lifetime) in pending.items():
                    self._sent[key] = self._sent.get(key, 0) + hits
            if not pending and not seen:
                return
            answer = self._send(pending, seen)
            now = time.monotonic()
            with self._lock:
                for key, (hits, _lifetime) in pending.items():
                    left = self._sent.get(key, 0) - hits
                    if left > 0:
                        self._sent[key] = left
                    else:
                        self._sent.pop(key, None)
                if answer is None:
                    for mac, *_rest in seen:
                        self._marked.pop(mac, None)
                    return
                for key, total in zip(pending, answer, strict=False):
                    self._totals[key] = (int(total), now)
                if now - self._pruned > PRUNE_EVERY:  # counters of past windows
                    self._pruned = now
                    for key in [key for key, (_total, when) in self._totals.items() if now - when > PRUNE_EVERY]:
                        del self._totals[key]
                if len(self._marked) > 4 * self.max_keys:
                    self._marked.clear()
            if answer[len(pending)]:
                from django.db import connections

                from entryway.deviceapi import devicecache

                devicecache.flush_now()
                connections.close_all()  # this thread's, had the task queue run the task here (tests)

    def _send(self, pending: dict, seen: list):
        """The batch's script run; its answer, or None when it failed (logged)."""
        from entryway.deviceapi import devicecache

        keys = [*pending, *(key for _mac, marker, entry, _id, _value in seen for key in (marker, entry)),
                self._make_key(devicecache.SEEN_KEY), self._make_key(devicecache.SEEN_FLUSH_LOCK)]
        args = [len(pending), len(seen)]
        for hits, lifetime in pending.values():
            args += [hits, lifetime]
        for _mac, _marker, _entry, device_id, value in seen:
            args += [device_id, value]
        args += [max(1, int(settings.DEVICE_LAST_SEEN_WRITE_INTERVAL)), devicecache.ENTRY_TTL,
                 max(1, int(settings.LAST_SEEN_FLUSH_INTERVAL))]
        try:
            return self._client.run_script(_BATCH, keys, args)
        except Exception:  # noqa: BLE001 - the batch is dropped (see the module); the requests go on
            logger.warning("sending %d counter(s) and %d Last Connected Time(s) failed", len(pending), len(seen),
                           exc_info=True)
            return None


class _Flusher:
    """The process's daemon thread that sends every near cache's batch each DEVICE_NEAR_FLUSH_INTERVAL."""

    def __init__(self):
        self._caches: weakref.WeakSet[NearCache] = weakref.WeakSet()
        self._thread: threading.Thread | None = None
        self._pid = None
        self._lock = threading.Lock()

    def add(self, near: NearCache) -> None:
        with self._lock:
            self._caches.add(near)
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="entryway-near-cache", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(float(settings.DEVICE_NEAR_FLUSH_INTERVAL))
            for near in list(self._caches):
                if near.busy():
                    near.flush()


_flusher = _Flusher()


def for_store(store) -> NearCache | None:
    """The near cache of ``store`` (Django's default cache) in this process, or None when there is none:
    not the Redis backend, DEVICE_NEAR_CACHE off (or DEVICE_NEAR_CACHE_KEYS 0), or Redis refused tracking."""
    if not settings.DEVICE_NEAR_CACHE:
        return None
    client = getattr(store, "_cache", None)
    near = getattr(client, "_near_cache", None)
    if near is not None and near.pid == os.getpid():
        return None if near.refused else near
    if not hasattr(client, "run_script"):
        return None
    max_keys = int(settings.DEVICE_NEAR_CACHE_KEYS)
    if max_keys <= 0:
        return None
    near = client._near_cache = NearCache(client, store.make_key, max_keys)
    _flusher.add(near)
    return near
