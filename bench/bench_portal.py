"""The portal at fleet scale: seeding time, and the busiest installer's list pages.

    python -m bench.bench_portal               # PostgreSQL database entryway_portal
    BENCH_PORTAL_REUSE=1 python -m bench.bench_portal    # measure an already seeded database again

Re-creates the database and times ``manage.py seed_scale`` at full size: 1,000 installers,
100,000 residents and 300,000 devices, the first installer holding 10,000 residents and 30,000
devices (BENCH_PORTAL_INSTALLERS, _RESIDENTS, _DEVICES, _BIG_RESIDENTS, _BIG_DEVICES). Then, logged
in as that installer, it asks a granian server (production settings, 2 workers) for four pages,
BENCH_PORTAL_REQUESTS times each (default 200, one request at a time, the pages in turn, each
search for another resident or device):

- ``GET /users/``: the User list's first page;
- ``GET /users/?q=<personal SIP number>``: the User list searched by SIP number;
- ``GET /users/?q=<name>``: the User list searched by name;
- ``GET /devices/?q=<MAC>``: the Device list searched by MAC.

The same pages are also rendered in-process with the Django test client, for the big installer
and for a small one (91 residents, 271 devices), counting their SQL queries. Targets
(issue 10): seeding < 5 minutes; each page p95 <= 50 ms, and its query count the same for both
installers (it does not grow with the data).
"""
from __future__ import annotations

import http.client
import os
import sys
import tempfile
import time

from bench import common

INSTALLERS = int(os.environ.get("BENCH_PORTAL_INSTALLERS", "1000"))
RESIDENTS = int(os.environ.get("BENCH_PORTAL_RESIDENTS", "100000"))
DEVICES = int(os.environ.get("BENCH_PORTAL_DEVICES", "300000"))
BIG_RESIDENTS = int(os.environ.get("BENCH_PORTAL_BIG_RESIDENTS", "10000"))
BIG_DEVICES = int(os.environ.get("BENCH_PORTAL_BIG_DEVICES", "30000"))
REQUESTS = int(os.environ.get("BENCH_PORTAL_REQUESTS", "200"))
REUSE = os.environ.get("BENCH_PORTAL_REUSE", "") not in ("", "0")
TARGET_SEED_S, TARGET_P95_MS = 300.0, 50.0
PAGES = ("user list", "user search by SIP", "user search by name", "device search by MAC")


def _setup() -> dict:
    url = os.environ.get("BENCH_PORTAL_DATABASE_URL") or common.database_url().rsplit("/", 1)[0] + "/entryway_portal"
    if not REUSE:
        common.reset_database(url)
    var_dir = tempfile.mkdtemp(prefix="entryway-bench-portal-")
    env = common.server_env(url, var_dir, CACHE_URL=os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/8"),
                            MQTT_URL="", ALLOWED_HOSTS="127.0.0.1,localhost,testserver")
    os.environ.update(env)
    sys.path.insert(0, str(common.ROOT))
    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    cache.clear()
    return env


def _seed(env: dict) -> float | None:
    if REUSE:
        return None
    start = time.perf_counter()
    out = common.manage(env, "seed_scale", f"--installers={INSTALLERS}", f"--residents={RESIDENTS}",
                        f"--devices={DEVICES}", f"--big-residents={BIG_RESIDENTS}", f"--big-devices={BIG_DEVICES}")
    seconds = time.perf_counter() - start
    print(out.stdout.strip().splitlines()[-1], flush=True)
    return seconds


def _targets(username: str, n: int) -> dict[str, list[str]]:
    """For each page, the paths asked for: every search for another resident or device of the installer."""
    from entryway.devices.models import IntercomDevice
    from entryway.residents.models import Resident

    residents = list(Resident.objects.filter(installer__username=username).order_by("id")
                     .values_list("name", "personal_sip"))
    macs = list(IntercomDevice.objects.filter(installer__username=username).order_by("id")
                .values_list("mac", flat=True))
    step_r, step_d = max(1, len(residents) // n), max(1, len(macs) // n)
    picked_r = [residents[(i * step_r) % len(residents)] for i in range(n)]
    picked_d = [macs[(i * step_d) % len(macs)] for i in range(n)]
    from urllib.parse import quote

    return {
        "user list": ["/users/"] * n,
        "user search by SIP": [f"/users/?q={sip}" for _name, sip in picked_r],
        "user search by name": [f"/users/?q={quote(name)}" for name, _sip in picked_r],
        "device search by MAC": [f"/devices/?q={mac}" for mac in picked_d],
    }


def _session_cookie(username: str) -> str:
    from django.test import Client

    from entryway.accounts.models import Account

    client = Client()
    client.force_login(Account.objects.get(username=username))
    return client.cookies["sessionid"].value


def _query_counts(username: str, targets: dict[str, list[str]]) -> dict[str, int]:
    """SQL queries of each page rendered in-process (the first target of each page)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from entryway.accounts.models import Account

    client = Client()
    client.force_login(Account.objects.get(username=username))
    counts = {}
    for page in PAGES:
        client.get(targets[page][0])  # anything loaded once per process is not counted
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(targets[page][1])
        if response.status_code != 200:
            raise RuntimeError(f"{page}: HTTP {response.status_code} for {targets[page][1]}")
        counts[page] = len(ctx.captured_queries)
    return counts


def _measure(server, cookie: str, targets: dict[str, list[str]]) -> dict[str, list[float]]:
    """Every page once in turn, one request at a time on a kept-alive connection; latencies in ms."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    headers = {"Cookie": f"sessionid={cookie}"}
    times: dict[str, list[float]] = {page: [] for page in PAGES}

    def get(path: str) -> float:
        start = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - start) * 1000
        if response.status != 200 or b"<table" not in body:
            raise RuntimeError(f"GET {path}: HTTP {response.status}")
        return elapsed

    for page in PAGES:  # warm-up: both workers' first requests load templates and translations
        for path in targets[page][-10:]:
            get(path)
    for i in range(REQUESTS):
        for page in PAGES:
            times[page].append(get(targets[page][i]))
    conn.close()
    return times


def main() -> None:
    env = _setup()
    load_before = os.getloadavg()
    seed_seconds = _seed(env)
    from django.db import connection

    big, small = "scale-installer-0000", "scale-installer-0001"
    big_targets, small_targets = _targets(big, REQUESTS), _targets(small, REQUESTS)
    counts = {big: _query_counts(big, big_targets), small: _query_counts(small, small_targets)}
    cookie = _session_cookie(big)
    connection.close()
    with common.Server(dict(os.environ), workers=2) as server:
        times = _measure(server, cookie, big_targets)
    load_after = os.getloadavg()
    print(f"machine: {common.machine()}; granian {server.workers} workers x {server.threads or 'default'} threads; "
          f"load average before {load_before[0]:.1f} {load_before[1]:.1f} {load_before[2]:.1f}, "
          f"after {load_after[0]:.1f} {load_after[1]:.1f} {load_after[2]:.1f}")
    if seed_seconds is not None:
        print(f"seed_scale {INSTALLERS} installers, {RESIDENTS} residents, {DEVICES} devices "
              f"(big installer {BIG_RESIDENTS} residents, {BIG_DEVICES} devices): {seed_seconds:.1f} s "
              f"(target < {TARGET_SEED_S:.0f} s: {'met' if seed_seconds < TARGET_SEED_S else 'NOT met'})")
    all_met = True
    for page in PAGES:
        p50, p95 = common.percentile(times[page], 50), common.percentile(times[page], 95)
        flat = counts[big][page] == counts[small][page]
        ok = p95 <= TARGET_P95_MS and flat
        all_met &= ok
        print(f"{page:<21} p50 {p50:5.1f} ms, p95 {p95:5.1f} ms, max {max(times[page]):5.1f} ms over "
              f"{len(times[page])} requests; {counts[big][page]} queries ({counts[small][page]} for the small "
              f"installer): {'met' if ok else 'NOT met'}")
    print(f"portal at scale: target p95 <= {TARGET_P95_MS:.0f} ms, query count flat: "
          f"{'met' if all_met else 'NOT met'}")


if __name__ == "__main__":
    main()
