"""Django's Redis cache backend, with the per-operation overhead that the device hot path cannot afford removed.

- Django's client builds a new ``redis.Redis`` object (several hundred dictionary writes) for every
  cache operation; here each connection pool has one client, made once. ``redis.Redis`` is thread-safe.
- Django's ``incr`` is two round trips (``EXISTS`` then ``INCRBY``); here it is one atomic script with
  the same meaning: a missing key raises ``ValueError``, an existing one is incremented.
- ``incr_window(key, timeout)``: a counter that starts at 1 on its first hit and expires ``timeout``
  seconds later, in one round trip (rate limits: ``entryway.core.ratelimit.hit``).
- ``run_script(source, keys, args)``: a Lua script on cache keys (named as for ``get``), for the few
  places that need several reads and writes in one round trip (``entryway.deviceapi.gate``). It is
  the one cache call of an idle device request, so it skips the client's generic machinery: each
  thread keeps one connection of its own (redis-py's ``Connection``, with the pool's settings), the
  command is packed by hiredis in one call and sent, and the reply read; no pool lock, liveness
  probe, retry wrapper or per-argument encoding. A connection error falls back to the client's own
  path, with its retries.
- ``get``, ``set``, ``delete``, ``get_many``, ``set_many`` and ``delete_many`` go over that same connection,
  each call in one write, with the commands and meaning of Django's client (``set_many`` is MSET and the
  keys' lifetimes in one MULTI/EXEC); a connection error falls back to Django's client. About half the CPU
  of a call through redis-py's client (bench/RESULTS.md, "Twelfth round").

``decode(raw)`` turns a value a script read back into what ``get`` would have returned, and
``encode(value)`` a value into what ``set`` would have stored.

Settings: ``CACHES["default"]["BACKEND"] = "entryway.core.cache.RedisCache"`` (what ``CACHE_URL=redis://``
selects).
"""
from __future__ import annotations

import hashlib
import os
import threading

import hiredis
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

_INCR_EXISTING = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('INCRBY', KEYS[1], ARGV[1])
end
return false
"""
_INCR_WINDOW = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return n
"""


class RedisCacheClient(DjangoRedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}
        self._lock = threading.Lock()
        self._incr_script = None
        self._window_script = None
        self._scripts: dict[str, object] = {}
        self._shas: dict[str, str] = {}
        self._lanes = threading.local()

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            with self._lock:
                client = self._clients.get(index)
                if client is None:
                    client = self._client(connection_pool=self._get_connection_pool(write))
                    self._clients[index] = client
        return client

    def incr(self, key, delta):
        client = self.get_client(key, write=True)
        if self._incr_script is None:
            self._incr_script = client.register_script(_INCR_EXISTING)
        value = self._incr_script(keys=[key], args=[delta], client=client)
        if value is None:
            raise ValueError(f"Key '{key}' not found.")
        return value

    def incr_window(self, key, timeout):
        client = self.get_client(key, write=True)
        if self._window_script is None:
            self._window_script = client.register_script(_INCR_WINDOW)
        return int(self._window_script(keys=[key], args=[max(1, int(timeout))], client=client))


    def run_script(self, source, keys, args):
        sha = self._shas.get(source)
        if sha is None:
            sha = self._shas[source] = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()
        try:
            replies = self._over_lane([("EVALSHA", sha, len(keys), *keys, *args)])
        except NoScriptError:  # a new or flushed server: the script itself, which loads it
            replies = self._over_lane([("EVAL", source, len(keys), *keys, *args)])
        if replies is not None:
            return replies[0]
        return self._client_script(source, keys, args)

    # The operations of the hot paths besides the gate (a device's report closing its upgrade, say, makes a dozen
    # of them) go over the thread's own connection too, each in one write: redis-py's client costs each call
    # its pool's lock, a retry wrapper and per-argument encoding, more than the round trip itself. The same
    # commands as Django's client, with the same meaning; a connection error falls back to Django's client.

    def get(self, key, default):
        replies = self._over_lane([("GET", key)])
        if replies is None:
            return super().get(key, default)
        return default if replies[0] is None else self._serializer.loads(replies[0])

    def set(self, key, value, timeout):
        if timeout == 0:
            self.delete(key)
            return
        command = ("SET", key, self._serializer.dumps(value)) + (("EX", timeout) if timeout is not None else ())
        if self._over_lane([command]) is None:
            super().set(key, value, timeout)

    def delete(self, key):
        replies = self._over_lane([("DEL", key)])
        return super().delete(key) if replies is None else bool(replies[0])

    def get_many(self, keys):
        keys = list(keys)
        if not keys:
            return {}
        replies = self._over_lane([("MGET", *keys)])
        if replies is None:
            return super().get_many(keys)
        loads = self._serializer.loads
        return {key: loads(value) for key, value in zip(keys, replies[0], strict=True) if value is not None}

    def set_many(self, data, timeout):
        if not data:
            return
        dumps = self._serializer.dumps
        # As Django's client: MSET, then each key's lifetime, in one transaction.
        commands = [("MULTI",), ("MSET", *(item for key, value in data.items() for item in (key, dumps(value))))]
        if timeout is not None:
            commands += [("EXPIRE", key, timeout) for key in data]
        commands.append(("EXEC",))
        replies = self._over_lane(commands)
        if replies is None:
            super().set_many(data, timeout)
            return
        for reply in replies[-1] or ():
            if isinstance(reply, Exception):
                raise reply

    def delete_many(self, keys):
        keys = list(keys)
        if keys and self._over_lane([("DEL", *keys)]) is None:
            super().delete_many(keys)

    def _over_lane(self, commands: list[tuple]) -> list | None:
        """The replies to ``commands``, sent in one write over this thread's connection; None when the
        connection failed (the caller then asks the client, which retries). An error reply is raised; when
        replies of later commands are still unread, the connection is dropped with them."""
        connection = self._lane()
        replies = []
        try:
            # One buffer: redis-py sends each item of a list with a system call of its own.
            connection.send_packed_command([b"".join([hiredis.pack_command(command) for command in commands])],
                                           check_health=False)
            for _command in commands:
                replies.append(connection.read_response())
            return replies
        except (RedisConnectionError, RedisTimeoutError, OSError):
            connection.disconnect()
            return None
        except Exception:
            if len(replies) + 1 < len(commands):
                connection.disconnect()
            raise

    def _lane(self):
        """This thread's own connection to the write server (made again in a forked process)."""
        lanes = self._lanes
        connection = getattr(lanes, "connection", None)
        if connection is None or lanes.pid != os.getpid():
            pool = self._get_connection_pool(True)
            connection = lanes.connection = pool.connection_class(**pool.connection_kwargs)
            lanes.pid = os.getpid()
        return connection

    def _client_script(self, source, keys, args):
        """The script through redis-py's client: its pool and its retries on connection errors."""
        client = self.get_client(keys[0] if keys else None, write=True)
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = client.register_script(source)
        return script(keys=keys, args=args, client=client)

    def decode(self, raw):
        return None if raw is None else self._serializer.loads(raw)

    def encode(self, value):
        return self._serializer.dumps(value)


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient

    def incr_window(self, key, timeout, version=None) -> int:
        """Add one to a counter that lives ``timeout`` seconds from its first hit; return the new count."""
        key = self.make_and_validate_key(key, version=version)
        return self._cache.incr_window(key, timeout)

    def run_script(self, source: str, keys: list[str], args: list, version=None):
        """Run a Lua script; ``keys`` are cache keys as ``get`` takes them (an empty string stays empty).

        The keys are made as ``get`` makes them but not checked for memcached's limits (length, spaces),
        which only warn and do not apply to Redis."""
        make_key = self.make_key
        made = [make_key(key, version=version) if key else "" for key in keys]
        return self._cache.run_script(source, made, args)

    def decode(self, raw):
        return self._cache.decode(raw)

    def encode(self, value):
        """``value`` as ``set`` stores it, for a script to write."""
        return self._cache.encode(value)
