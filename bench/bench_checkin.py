"""The device hot paths against a bare route, in the same run: check-ins and AutoP files from a large fleet.

    python -m bench.bench_checkin              # PostgreSQL database entryway_checkin, Redis cache
    BENCH_SOAK_SECONDS=300 python -m bench.bench_checkin    # and a 5-minute memory soak

Seeds one installer with BENCH_CHECKIN_DEVICES devices (default 10,000), serves the production
settings with granian (WSGI, 2 workers) and drives it with wrk at 64 connections, every request
from another device (its own MAC and secret, rotated by a Lua script):

- ``GET /healthz``: the bare route (the portal's whole middleware stack, a JSON answer, no query);
- ``POST /device/v1/checkin``: an idle check-in (same model, firmware and address, nothing waiting);
- ``GET /autop/<MAC>.cfg`` with the device's own credentials.

Each round's line gives how the 64 connections were split between the workers halfway through: they
share one listening socket, and the worker that took more of them answers each more slowly.

The three runs alternate for BENCH_CHECKIN_ROUNDS rounds, so that a neighbour's load hits all of
them alike; the figures are the sums over the rounds. Targets (issue 10): check-in and AutoP
throughput >= 0.6 x the bare route's, p99 <= 20 ms, no error; each web worker <= 150 MB after
the runs and flat (+-10 %) over the soak.
"""
from __future__ import annotations

import base64
import json
import os
import secrets
import sys
import tempfile
import time

from bench import common

N_DEVICES = int(os.environ.get("BENCH_CHECKIN_DEVICES", "10000"))
SECONDS = int(os.environ.get("BENCH_CHECKIN_SECONDS", "10"))
ROUNDS = int(os.environ.get("BENCH_CHECKIN_ROUNDS", "3"))
CONNECTIONS = int(os.environ.get("BENCH_CHECKIN_CONNECTIONS", "64"))
WRK_THREADS = int(os.environ.get("BENCH_WRK_THREADS", "2"))
SOAK_SECONDS = int(os.environ.get("BENCH_SOAK_SECONDS", "0"))
# Warm-up passes over the fleet, each on new connections. A worker process that has not met a device yet
# answers its first idle check-in with a second Redis round trip (it learns the device's id); one pass
# meets each device in one of the two workers only. A platform that has run for a few poll intervals has
# met every device in every worker; 1 measures a freshly started one.
WARM_PASSES = int(os.environ.get("BENCH_WARMUP_PASSES", "3"))
TARGET_RATIO, TARGET_P99_MS, TARGET_RSS_MB = 0.6, 20.0, 150.0
BODY = json.dumps({"model": "R29", "firmware": "29.30.2.805", "ip": "192.168.1.20", "uptime": 3600})


def _setup_django() -> tuple[str, str]:
    url = os.environ.get("BENCH_CHECKIN_DATABASE_URL") or common.database_url().rsplit("/", 1)[0] + "/entryway_checkin"
    common.reset_database(url)
    var_dir = tempfile.mkdtemp(prefix="entryway-bench-checkin-")
    # All requests come from 127.0.0.1: the per-address AutoP limit stands for one device's address.
    env = common.server_env(url, var_dir, CACHE_URL=os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/6"),
                            MQTT_URL="", ALLOWED_HOSTS="127.0.0.1,localhost,testserver", AUTOP_RATE_LIMIT=10**9)
    os.environ.update(env)
    sys.path.insert(0, str(common.ROOT))
    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    cache.clear()
    return url, var_dir


def _seed(n: int) -> dict[str, str]:
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from entryway.accounts.models import Account
    from entryway.devices.models import DeviceModel, IntercomDevice, MacLibraryEntry
    from entryway.residents.services import resident_create

    installer = Account.objects.create(username="bench-checkin", role="installer", time_zone="UTC",
                                       password=make_password(None), email="checkin@example.com")
    owner = resident_create(acting_user=installer, installer=installer, name="Fleet owner", time_zone="UTC")
    model, _ = DeviceModel.objects.get_or_create(name="R29", defaults={"device_type": "door_phone"})
    entries = MacLibraryEntry.objects.bulk_create(
        [MacLibraryEntry(mac=f"C0FFEE{i:06X}", installer=installer) for i in range(n)], batch_size=5000)
    by_mac = {e.mac: secrets.token_urlsafe(18) for e in entries}
    now = timezone.now()
    # Devices that already checked in a moment ago with what they report below (the steady state).
    IntercomDevice.objects.bulk_create([
        IntercomDevice(installer=installer, owner=owner, device_model=model, mac=e.mac, mac_entry=e,
                       location=f"Gate {i}", sip_number=f"77{i:08d}", device_secret=by_mac[e.mac],
                       mqtt_password=secrets.token_urlsafe(18), last_seen_at=now, reported_model="R29",
                       firmware_version="29.30.2.805", ip_address="192.168.1.20", uptime_seconds=3600)
        for i, e in enumerate(entries)], batch_size=5000)
    return by_mac


def _auths(by_mac: dict[str, str]) -> str:
    return ",\n".join('{"' + mac + '", "Basic ' + base64.b64encode(f"{mac}:{secret}".encode()).decode() + '"}'
                      for mac, secret in by_mac.items())


_SCRIPT_HEAD = """
local devices = {{
{auths}
}}
local body = '{body}'
local function make(d)
  return {make}
end
"""

# Each request from the next device; each wrk thread starts at a random one. The requests are formatted
# once per thread, before the run, so that the load generator spends its share of the two cores on
# sending and receiving rather than on building each request again.
_ROTATE = """
local i = 0
local requests = {}
init = function(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
  for k = 1, #devices do requests[k] = make(devices[k]) end
  i = math.random(#devices)
end
request = function()
  i = i % #devices + 1
  return requests[i]
end
"""

def _script(by_mac: dict[str, str], directory: str, kind: str) -> str:
    """A wrk script sending check-ins or AutoP requests, each from another device."""
    make = ('wrk.format("POST", "/device/v1/checkin", {["Authorization"] = d[2], '
            '["Content-Type"] = "application/json"}, body)') if kind == "checkin" else (
        'wrk.format("GET", "/autop/" .. d[1] .. ".cfg", {["Authorization"] = d[2]})')
    path = os.path.join(directory, f"{kind}.lua")
    with open(path, "w") as fh:
        fh.write(_SCRIPT_HEAD.format(auths=_auths(by_mac), body=BODY, make=make) + _ROTATE)
    return path


def _warm(server, by_mac: dict[str, str], passes: int = 1) -> None:
    """Every device checks in and fetches its file ``passes`` times: first contact computes and caches its
    entries, and each pass's new connections reach the workers anew."""
    for _pass in range(max(1, passes)):
        _warm_pass(server, by_mac)


def _warm_pass(server, by_mac: dict[str, str]) -> None:
    import concurrent.futures
    import http.client
    import threading

    local = threading.local()

    def one(item):
        mac, secret = item
        conn = getattr(local, "conn", None) or http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        local.conn = conn
        auth = {"Authorization": "Basic " + base64.b64encode(f"{mac}:{secret}".encode()).decode()}
        conn.request("POST", "/device/v1/checkin", BODY, {**auth, "Content-Type": "application/json"})
        conn.getresponse().read()
        conn.request("GET", f"/autop/{mac}.cfg", headers=auth)
        conn.getresponse().read()

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(one, by_mac.items()))


def _written_since(mark) -> int:
    from entryway.devices.models import IntercomDevice

    return IntercomDevice.objects.filter(last_seen_at__gt=mark).count()


def _total(results: list[dict]) -> dict:
    requests = sum(r["requests"] for r in results)
    seconds = sum(r["requests"] / r["rps"] for r in results if r["rps"])
    return {"requests": requests, "rps": requests / seconds if seconds else 0.0,
            "p50_ms": max(r["p50_ms"] for r in results), "p99_ms": max(r["p99_ms"] for r in results),
            "errors": sum(r["errors"] for r in results), "non2xx": sum(r["non2xx"] for r in results)}


def _line(name: str, r: dict, hello: dict | None = None) -> str:
    ratio = f", {r['rps'] / hello['rps']:.2f} x hello" if hello else ""
    return (f"{name:<8} {r['rps']:7.0f} req/s{ratio}; p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms (worst round); "
            f"{r['requests']} requests, non-2xx {r['non2xx']}, socket errors {r['errors']}")


def soak(server, script: str, seconds: int) -> list[float]:
    """Check-ins for ``seconds``; the workers' total resident memory sampled every 30 s."""
    samples = [sum(server.worker_rss_mb())]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        step = int(min(30, end - time.monotonic()))
        if step < 1:
            break
        common.wrk(server.url + "/device/v1/checkin", script=script, connections=CONNECTIONS, seconds=step,
                   threads=WRK_THREADS)
        samples.append(sum(server.worker_rss_mb()))
    return samples


def main() -> None:
    _url, var_dir = _setup_django()
    from django.db import connection
    from django.utils import timezone

    t = time.perf_counter()
    by_mac = _seed(N_DEVICES)
    print(f"seeded {N_DEVICES} devices in {time.perf_counter() - t:.1f} s", flush=True)
    scripts = {kind: _script(by_mac, var_dir, kind) for kind in ("checkin", "autop")}
    connection.close()
    runs = {"hello": [], "checkin": [], "autop": []}
    with common.Server(dict(os.environ), workers=2, role="devices") as server, common.Consumer(dict(os.environ)):
        # Warm-up: every device checks in and fetches its file once (first contact computes and caches them).
        t = time.perf_counter()
        _warm(server, by_mac, WARM_PASSES)
        common.wrk(server.url + "/healthz", connections=CONNECTIONS, seconds=2)
        print(f"warm-up (every device checks in and fetches its file, {WARM_PASSES} passes) "
              f"{time.perf_counter() - t:.1f} s", flush=True)
        mark = timezone.now()
        loads = []
        for _round in range(ROUNDS):
            split = server.connection_split
            runs["hello"].append(common.wrk(server.url + "/healthz", connections=CONNECTIONS, seconds=SECONDS,
                                            threads=WRK_THREADS, midway=split))
            runs["checkin"].append(common.wrk(server.url + "/", script=scripts["checkin"], connections=CONNECTIONS,
                                              seconds=SECONDS, threads=WRK_THREADS, midway=split))
            runs["autop"].append(common.wrk(server.url + "/", script=scripts["autop"], connections=CONNECTIONS,
                                            seconds=SECONDS, threads=WRK_THREADS, midway=split))
            loads.append(os.getloadavg()[0])
        rss = server.worker_rss_mb()
        samples = soak(server, scripts["checkin"], SOAK_SECONDS) if SOAK_SECONDS else []
    written = _written_since(mark)
    hello, checkin, autop = (_total(runs[k]) for k in ("hello", "checkin", "autop"))
    print(f"machine: {common.machine()}; granian ({server.role} server) {server.workers} workers x {server.threads or 'default'} threads; "
          f"{N_DEVICES} devices; wrk {WRK_THREADS} threads, {CONNECTIONS} connections, {ROUNDS} rounds x {SECONDS} s each")
    print(f"load average (1 min) after each round: {', '.join(f'{x:.1f}' for x in loads)}")
    print(_line("hello", hello))
    print(_line("checkin", checkin, hello))
    print(_line("autop", autop, hello))
    for name in ("hello", "checkin", "autop"):
        print(f"{name:<8} by round: " + "; ".join(f"{r['rps']:.0f} req/s, p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms"
                                                + (f" ({' + '.join(map(str, r['midway']))} connections)"
                                                   if r.get("midway") else "")
                                                for r in runs[name]))
    for name, r in (("checkin", checkin), ("autop", autop)):
        ok = (r["rps"] >= TARGET_RATIO * hello["rps"] and r["p99_ms"] <= TARGET_P99_MS
              and r["errors"] == 0 and r["non2xx"] == 0)
        print(f"{name}: target >= {TARGET_RATIO} x hello, p99 <= {TARGET_P99_MS:.0f} ms, no error: "
              f"{'met' if ok else 'NOT met'}")
    print(f"Last Connected Times written during the measured runs: {written} of {N_DEVICES} devices for "
          f"{checkin['requests']} check-ins (at most once per device per DEVICE_LAST_SEEN_WRITE_INTERVAL, "
          f"queued in Redis and written in batches)")
    print("worker memory after the runs: " + ", ".join(f"{mb:.0f} MB" for mb in rss)
          + f" (target <= {TARGET_RSS_MB:.0f} MB each: {'met' if rss and max(rss) <= TARGET_RSS_MB else 'NOT met'})")
    if samples:
        low, high = min(samples[1:] or samples), max(samples[1:] or samples)
        flat = high <= 1.1 * low
        print(f"soak {SOAK_SECONDS} s: workers' total memory every 30 s: "
              + ", ".join(f"{mb:.0f}" for mb in samples) + f" MB; spread after the first sample "
              f"{(high / low - 1) * 100:.1f} % ({'flat' if flat else 'NOT flat'}, target +-10 %)")


if __name__ == "__main__":
    main()
