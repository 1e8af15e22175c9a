"""CPU per request of the device hot paths, in one process: no load generator, no other worker.

    python -m bench.run_all bench_hotpath       # PostgreSQL database entryway_hotpath, Redis cache

Seeds BENCH_HOTPATH_DEVICES devices (default 2,000) as ``bench_checkin`` does, calls
``config.wsgi.application`` (the production settings, the device routes' fast path) with a WSGI
environ for each request, and prints, per route, the CPU time of this process and of the Redis
server (read from /proc when it runs on this machine) per request, as the median of
BENCH_HOTPATH_ROUNDS rounds (default 7), each a pass over every device:

- ``GET /healthz``: the bare route (Django's whole portal stack);
- ``POST /device/v1/checkin``: an idle check-in (nothing waiting, the report unchanged);
- ``GET /autop/<MAC>.cfg``: a cached AutoP file;
- the idle check-in again, each one due its Last Connected Time (as every check-in of a fleet polling
  every 60 s is, DEVICE_LAST_SEEN_WRITE_INTERVAL being 30 s): before each such round, every device's
  entry says it was last seen 45 s ago and nothing is queued; a flush has just run, so none starts;
- the idle check-in once more, with the gate's answer to each device's check-in replayed from memory
  (recorded in the last warm-up pass) instead of asked of Redis: what the process spends on a check-in
  besides its one round trip. The difference to the idle check-in is that round trip's own cost to the
  process: packing, the system calls, and the task switches of waiting for the answer.

Every device checks in and fetches its file twice first, so the process knows each of them. The
figures are what ``bench_checkin``'s throughput is made of, without the machine's scheduling noise:
compare them before and after a change of the hot paths. ``BENCH_HOTPATH_PROFILE=checkin`` (or another
route's name) then prints a cProfile of that route, five passes over every device.
"""
from __future__ import annotations

import base64
import os
import statistics
import time

from bench import common
from bench.bench_checkin import BODY, _seed

N_DEVICES = int(os.environ.get("BENCH_HOTPATH_DEVICES", "2000"))
ROUNDS = int(os.environ.get("BENCH_HOTPATH_ROUNDS", "7"))
# BENCH_HOTPATH_PROFILE=checkin (or hello, autop, due): after the rounds, a cProfile of that route.
PROFILE = os.environ.get("BENCH_HOTPATH_PROFILE", "")


def _setup_django() -> None:
    url = common.database_url().rsplit("/", 1)[0] + "/entryway_hotpath"
    common.reset_database(url)
    import sys
    import tempfile

    var_dir = tempfile.mkdtemp(prefix="entryway-bench-hotpath-")
    env = common.server_env(url, var_dir, CACHE_URL=os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/8"),
                            MQTT_URL="", ALLOWED_HOSTS="127.0.0.1,localhost,testserver", AUTOP_RATE_LIMIT=10**9,
                            DEVICE_RATE_LIMIT=10**9)
    os.environ.update(env)
    sys.path.insert(0, str(common.ROOT))
    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    cache.clear()


def _redis_pid() -> int | None:
    from django.core.cache import cache

    try:
        pid = int(cache._cache.get_client(write=True).info("server")["process_id"])
    except Exception:  # noqa: BLE001 (no Redis, or one that does not say)
        return None
    return pid if os.path.exists(f"/proc/{pid}/stat") else None


def main() -> None:
    _setup_django()
    from config.wsgi import application

    by_mac = _seed(N_DEVICES)
    auths = {mac: "Basic " + base64.b64encode(f"{mac}:{secret}".encode()).decode() for mac, secret in by_mac.items()}
    body = BODY.encode()
    statuses: dict[int, int] = {}

    def call(method: str, path: str, auth: str = "", data: bytes = b"") -> None:
        code, _answer = common.call_wsgi(application, method, path, auth=auth, body=data)
        statuses[code] = statuses.get(code, 0) + 1

    routes = {
        "hello": lambda mac: call("GET", "/healthz"),
        "checkin": lambda mac: call("POST", "/device/v1/checkin", auths[mac], body),
        "autop": lambda mac: call("GET", f"/autop/{mac}.cfg", auths[mac]),
        "due": lambda mac: call("POST", "/device/v1/checkin", auths[mac], body),
    }

    def all_due() -> None:
        from django.core.cache import cache

        from entryway.deviceapi import devicecache

        stale = time.time() - 45
        entries = cache.get_many([devicecache.entry_key(mac) for mac in auths])
        cache.set_many({key: entry._replace(last_seen=stale) for key, entry in entries.items()}, devicecache.ENTRY_TTL)
        cache.delete_many([devicecache.seen_marker_key(mac) for mac in auths] + [devicecache.SEEN_KEY])
        cache.set(devicecache.SEEN_FLUSH_LOCK, 1, 3600)

    # "replayed": the gate's script answered from what Redis answered each device's check-in in the last
    # warm-up pass (not its AutoP request, whose answer carries the file and no Last Connected Time); any
    # other script (a Last Connected Time queued by the check-in itself) still goes to Redis.
    from django.core.cache import caches

    from entryway.deviceapi import gate

    client = caches["default"]._cache
    asked, answers = client.run_script, {}

    def recorded(source, keys, args):
        answer = asked(source, keys, args)
        if source == gate._SCRIPT and not keys[2]:  # KEYS[3]: the AutoP counter, "" for a check-in
            answers[keys[3]] = answer  # KEYS[4]: the device's entry
        return answer

    def replayed(source, keys, args):
        return answers[keys[3]] if source == gate._SCRIPT else asked(source, keys, args)

    routes["replayed"] = routes["checkin"]
    prepare = {"due": all_due, "replayed": lambda: setattr(client, "run_script", replayed)}
    finish = {"replayed": lambda: vars(client).pop("run_script", None)}
    for warm_pass in range(2):
        if warm_pass == 1:
            client.run_script = recorded
        for mac in auths:
            routes["checkin"](mac)
            routes["autop"](mac)
    vars(client).pop("run_script", None)
    statuses.clear()
    redis = _redis_pid()
    own: dict[str, list[float]] = {name: [] for name in routes}
    server: dict[str, list[float]] = {name: [] for name in routes}
    for _round in range(ROUNDS):
        for name, route in routes.items():
            if name in prepare:
                prepare[name]()
            c, r = time.process_time(), common.process_cpu(redis)
            for mac in auths:
                route(mac)
            own[name].append((time.process_time() - c) / len(auths))
            server[name].append((common.process_cpu(redis) - r) / len(auths))
            if name in finish:
                finish[name]()
    print(f"machine: {common.machine()}; {len(auths)} devices, {ROUNDS} rounds; load {os.getloadavg()[0]:.1f}")
    print(f"{'route':<8} {'CPU us/request':>15} {'Redis us/request':>17}   (median of rounds; range)")
    for name in routes:
        mine, theirs = sorted(own[name]), sorted(server[name])
        print(f"{name:<8} {1e6 * statistics.median(mine):15.1f} {1e6 * statistics.median(theirs):17.1f}"
              f"   ({1e6 * mine[0]:.1f}-{1e6 * mine[-1]:.1f})")
    print("answers: " + ", ".join(f"{count} x {code}" for code, count in sorted(statuses.items())))
    if set(statuses) != {200}:
        raise SystemExit("not every answer was 200")
    if PROFILE in routes:
        _profile(routes[PROFILE], prepare.get(PROFILE), finish.get(PROFILE), list(auths))


def _profile(route, prepare, finish, macs: list[str], passes: int = 5) -> None:
    """cProfile of one route over every device, ``passes`` times: the functions with the most own time."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    for _ in range(passes):
        if prepare:
            prepare()
        profiler.enable()
        for mac in macs:
            route(mac)
        profiler.disable()
        if finish:
            finish()
    print(f"\nprofile of {PROFILE!r}, {passes * len(macs)} requests, by own time:")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
