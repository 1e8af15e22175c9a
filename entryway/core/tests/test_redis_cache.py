"""The Redis cache backend's script runner (entryway.core.cache), on the machine's Redis (REDIS_URL)."""
from __future__ import annotations

import os
import secrets
import threading

import pytest
import redis
from django.core.cache import caches

ECHO = "return {KEYS[1], KEYS[2], ARGV[1], redis.call('INCR', KEYS[1])}"


@pytest.fixture
def store(settings):
    prefix = f"test-script-{secrets.token_hex(4)}"
    settings.CACHES = {"default": {
        "BACKEND": "entryway.core.cache.RedisCache",
        "LOCATION": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "KEY_PREFIX": prefix,
    }}
    cache = caches["default"]
    assert hasattr(cache, "run_script"), "the Redis cache backend is in use"
    yield cache
    cache.clear()


def _server() -> redis.Redis:
    return redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))


def test_a_script_reads_and_writes_cache_keys(store):
    answer = store.run_script(ECHO, ["counter", ""], [7])
    assert answer[0] == store.make_key("counter").encode() and answer[1] == b""
    assert answer[2:] == [b"7", 1]
    assert store.run_script(ECHO, ["counter", ""], [7])[3] == 2
    assert store.get("counter") == 2  # the key get() reads


def test_a_script_the_server_does_not_know_is_loaded(store):
    store.run_script(ECHO, ["counter", ""], [1])
    _server().script_flush()
    assert store.run_script(ECHO, ["counter", ""], [1])[3] == 2


def test_a_connection_the_server_closed_is_replaced(store):
    store.run_script(ECHO, ["counter", ""], [1])
    killed = _server().client_kill_filter(_id=_client_id(store))
    assert killed == 1
    # The write fails or the reply never comes: the client's own path answers, the next call reconnects.
    assert store.run_script(ECHO, ["counter", ""], [1])[3] == 2
    assert store.run_script(ECHO, ["counter", ""], [1])[3] == 3


def _client_id(store) -> int:
    """The server's id of this thread's script connection."""
    lane = store._cache._lane()
    lane.send_command("CLIENT", "ID")
    return lane.read_response()


def test_each_thread_and_each_forked_process_has_its_own_connection(store, monkeypatch):
    mine = store._cache._lane()
    assert store._cache._lane() is mine
    theirs = []
    thread = threading.Thread(target=lambda: theirs.append(store._cache._lane()))
    thread.start()
    thread.join()
    assert theirs[0] is not mine
    monkeypatch.setattr("entryway.core.cache.os.getpid", lambda: -1)
    assert store._cache._lane() is not mine
    assert store.run_script(ECHO, ["counter", ""], [1])[3] == 1


def test_script_errors_reach_the_caller_and_the_connection_stays_usable(store):
    with pytest.raises(redis.ResponseError):
        store.run_script("return redis.call('NO-SUCH-COMMAND')", ["counter"], [])
    assert store.run_script(ECHO, ["counter", ""], [1])[3] == 1
