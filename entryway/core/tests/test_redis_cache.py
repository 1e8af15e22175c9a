"""The Redis cache backend's script runner (entryway.core.cache), on the machine's Redis (REDIS_URL)."""
from __future__ import annotations

import os
import pathlib
import secrets
import shutil
import subprocess
import sys
import threading
import time

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


def _settings_in_a_process(shown: str = "settings.CACHES['default']['BACKEND'], settings.HUEY['huey_class']",
                           **env: str | None) -> subprocess.CompletedProcess:
    """What config.settings.production makes of these variables (None: not set), in a process of its own:
    it prints ``shown``."""
    code = f"import django; django.setup(); from django.conf import settings; print({shown})"
    full = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.production", "SECRET_KEY": "x" * 50,
            "CACHE_URL": "", "HUEY_URL": "", **env}
    full = {name: value for name, value in full.items() if value is not None}
    return subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, timeout=60,
                          cwd=pathlib.Path(__file__).resolve().parents[3])


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/2", "rediss://cache.example.net:6380/2",
                                 "unix:///run/redis/redis.sock?db=2"])
def test_every_redis_url_scheme_selects_redis(url):
    """A socket or TLS URL once left the platform on the file cache and the SQLite queue, each machine
    with its own, without a word."""
    done = _settings_in_a_process(CACHE_URL=url, HUEY_URL=url)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["entryway.core.cache.RedisCache", "huey.RedisHuey"]


def test_empty_urls_keep_the_embedded_cache_and_queue():
    done = _settings_in_a_process()
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["django.core.cache.backends.filebased.FileBasedCache", "huey.SqliteHuey"]


@pytest.mark.parametrize("name", ["CACHE_URL", "HUEY_URL"])
def test_an_unknown_scheme_is_refused_at_start(name):
    done = _settings_in_a_process(**{name: "memcache://user:secret@127.0.0.1:11211"})
    assert done.returncode != 0
    assert f"{name} must start with redis://, rediss:// or unix://" in done.stderr
    assert "secret" not in done.stderr  # the URL's password is not repeated


def test_scripts_run_over_a_unix_socket(tmp_path, settings):
    """The script runner's own connection (``_lane``) is made from the URL's connection class."""
    server = shutil.which("redis-server")
    if server is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is required in CI")
        pytest.skip("no redis-server on this machine")
    sock = tmp_path / "redis.sock"
    proc = subprocess.Popen([server, "--port", "0", "--unixsocket", str(sock), "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not sock.exists():
            assert time.monotonic() < deadline and proc.poll() is None, "redis-server did not start"
            time.sleep(0.05)
        settings.CACHES = {"default": {"BACKEND": "entryway.core.cache.RedisCache",
                                       "LOCATION": f"unix://{sock}?db=0", "KEY_PREFIX": "unix"}}
        cache = caches["default"]
        assert cache.run_script(ECHO, ["counter", ""], [3])[2:] == [b"3", 1]
        assert cache.run_script(ECHO, ["counter", ""], [3])[3] == 2
        assert cache.get("counter") == 2
        assert redis.Redis(unix_socket_path=str(sock)).get(cache.make_key("counter")) == b"2"
    finally:
        proc.terminate()
        proc.wait(10)


def _prepare_threshold_in_a_process(value: str | None) -> subprocess.CompletedProcess:
    return _settings_in_a_process("settings.DATABASES['default'].get('OPTIONS', {}).get('prepare_threshold', 'unset')",
                                  DATABASE_URL="postgres://entryway@127.0.0.1:5432/entryway",
                                  DB_PREPARE_THRESHOLD=value)


@pytest.mark.parametrize("value,expected", [(None, "2"), ("5", "5"), ("0", "0"), ("off", "None"), ("", "None")])
def test_the_prepare_threshold_comes_from_the_environment(value, expected):
    """DB_PREPARE_THRESHOLD: how often a hot path's statement runs before it is prepared; off for a pooler
    that cannot keep prepared statements."""
    done = _prepare_threshold_in_a_process(value)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [expected]


def test_a_bad_prepare_threshold_is_refused_at_start():
    done = _prepare_threshold_in_a_process("sometimes")
    assert done.returncode != 0
    assert "ImproperlyConfigured: DB_PREPARE_THRESHOLD must be a number of uses (0 or more) or off" in done.stderr


def test_get_set_and_delete_over_the_thread_connection_mean_what_djangos_client_means(store):
    assert store.get("missing", "default") == "default"
    store.set("number", 5, 60)
    store.set("object", {"a": [1, 2]}, None)
    store.set_many({"m1": 1, "m2": b"bytes", "m3": "text"}, 30)
    server = _server()
    assert store.get("number") == 5 and store.get("object") == {"a": [1, 2]}
    assert store.get_many(["m1", "m2", "m3", "missing"]) == {"m1": 1, "m2": b"bytes", "m3": "text"}
    assert 0 < server.ttl(store.make_key("number")) <= 60
    assert server.ttl(store.make_key("object")) == -1  # None: no expiry
    assert all(0 < server.ttl(store.make_key(key)) <= 30 for key in ("m1", "m2", "m3"))
    store.set_many({"m4": 4}, None)
    assert server.ttl(store.make_key("m4")) == -1
    store.set("number", 6, 0)  # a timeout of 0 deletes, as in Django
    assert store.get("number") is None
    assert store.delete("object") is True and store.delete("object") is False
    store.delete_many(["m1", "m2"])
    assert store.get_many(["m1", "m2", "m3"]) == {"m3": "text"}
    store.delete_many([])
    assert store.get_many([]) == {}


def test_an_error_reply_is_raised_and_the_next_call_works(store):
    server = _server()
    server.lpush(store.make_key("a-list"), "x")
    store.set("plain", 1, 60)
    with pytest.raises(redis.ResponseError):
        store._cache._over_lane([("INCR", store.make_key("a-list")), ("GET", store.make_key("plain"))])
    assert store.get("plain") == 1  # the unread reply was dropped with its connection


def test_the_thread_connection_killed_by_the_server_falls_back_and_reconnects(store):
    store.set("k", 1, 60)
    assert _server().client_kill_filter(_id=_client_id(store)) == 1
    store.set_many({"k": 2, "j": 3}, 60)  # answered by Django's client
    assert store.get_many(["k", "j"]) == {"k": 2, "j": 3}
    assert store.get("k") == 2
