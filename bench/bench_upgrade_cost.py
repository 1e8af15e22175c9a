"""What one firmware upgrade costs the web process, request by request.

    python -m bench.run_all bench_upgrade_cost        # PostgreSQL database entryway_upgrade_cost

Seeds BENCH_UPGRADE_DEVICES devices (default 10,000) as ``bench_rollout`` does, starts an update
strategy for all of them, then walks BENCH_UPGRADE_WALK of them (500) through the requests a simulated device makes
(entryway.sim's ``do_upgrade``), in this process, through ``config.wsgi``'s dispatcher with the
production settings: the AutoP fetch at boot while the action is open, the check-in that delivers
the action, the two progress reports, the download, the final report, the AutoP fetch after the
restart and the check-in with the new firmware. It prints, per request, the mean CPU time of this
process, of its PostgreSQL backend (read from /proc when the server runs on this machine) and the
queries, and the sums for one upgrade. The rollout target of issue 10 (10,000 devices, all final within 2 poll intervals of 60 s
on 2 cores shared with PostgreSQL and the fleet) needs roughly 8 ms or less per upgrade.
"""
from __future__ import annotations

import base64
import json
import os
import time
from collections import defaultdict
from urllib.parse import urlsplit

from bench import common

N_DEVICES = int(os.environ.get("BENCH_UPGRADE_DEVICES", "10000"))
# Devices walked through their upgrade (the others are the rest of the fleet, as in bench_rollout).
WALK = int(os.environ.get("BENCH_UPGRADE_WALK", "500"))
DATABASE_URL = common.database_url().rsplit("/", 1)[0] + "/entryway_upgrade_cost"

STEPS = [
    ("AutoP fetch at boot (action open)", "boot"),
    ("check-in that delivers the action", "checkin"),
    ("result proceeding / downloading", "downloading"),
    ("firmware download", "download"),
    ("result proceeding / installing", "installing"),
    ("result success (final)", "success"),
    ("AutoP fetch after the restart", "autop"),
    ("check-in with the new firmware", "checkin2"),
    ("idle check-in (for comparison)", "idle"),
]


def main() -> None:
    from bench import bench_rollout

    common.reset_database(DATABASE_URL)
    os.environ["BENCH_ROLLOUT_DATABASE_URL"] = DATABASE_URL
    os.environ.setdefault("BENCH_CACHE_URL", "redis://127.0.0.1:6379/7")
    _url, _var_dir, _port = bench_rollout._setup_django()
    from django.db import connection

    from config.wsgi import application
    from entryway.firmware.models import UpdateStrategy

    t = time.perf_counter()
    _installer, firmware, token, device_ids, secrets_by_mac = bench_rollout._seed(N_DEVICES)
    print(f"machine: {common.machine()}; devices: {len(device_ids)} (seeded in {time.perf_counter() - t:.1f} s)")
    strategy_id, _created, started = bench_rollout._create_and_start(firmware, token, device_ids)
    print(f"strategy started: {started:.3f} s")

    cpu: dict[str, float] = defaultdict(float)
    pg_cpu: dict[str, float] = defaultdict(float)
    queries: dict[str, int] = defaultdict(int)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    step_name = [""]

    show_sql = bool(os.environ.get("BENCH_UPGRADE_SQL"))  # print the first device's queries, step by step

    def counter(execute, sql, params, many, context):
        queries[step_name[0]] += 1
        if show_sql and walked[0] == 0:
            print(f"  [{step_name[0]}] {sql[:400]}")
        return execute(sql, params, many, context)

    def step(name: str, method: str, path: str, auth: str, body: dict | None = None, expect=(200,)):
        step_name[0] = name
        raw = json.dumps(body).encode() if body is not None else b""
        profiled = profile is not None and profile_step in ("", name)
        if profiled:
            profile.enable()
        c, p = time.process_time(), common.process_cpu(backend)
        status, data = common.call_wsgi(application, method, path, auth=auth, body=raw)
        cpu[name] += time.process_time() - c
        if profiled:
            profile.disable()
        pg_cpu[name] += common.process_cpu(backend) - p
        if status not in expect:
            raise RuntimeError(f"{name}: HTTP {status} {data[:300]!r}")
        return data

    failures = 0
    walked = [0]
    profile = None
    # A cProfile of the walk's requests (of one step's only with BENCH_UPGRADE_PROFILE_STEP=checkin, say),
    # written to the file BENCH_UPGRADE_PROFILE names.
    profile_step = os.environ.get("BENCH_UPGRADE_PROFILE_STEP", "")
    if os.environ.get("BENCH_UPGRADE_PROFILE"):
        import cProfile

        profile = cProfile.Profile(time.process_time)  # CPU time: waits on the database are not counted
    with connection.execute_wrapper(counter):
        for mac, secret in list(secrets_by_mac.items())[:WALK]:
            auth = "Basic " + base64.b64encode(f"{mac}:{secret}".encode()).decode()
            report = {"model": "R29", "firmware": "29.30.2.800", "ip": "192.168.1.20", "uptime": 100}
            step("boot", "GET", f"/autop/{mac}.cfg", auth)
            answer = json.loads(step("checkin", "POST", "/device/v1/checkin", auth, report))
            actions = [a for a in answer["actions"] if a["kind"] == "upgrade"]
            if not actions:
                failures += 1
                continue
            action = actions[0]
            result = f"/device/v1/actions/{action['id']}/result"
            step("downloading", "POST", result, auth, {"status": "proceeding", "stage": "downloading"})
            step("download", "GET", urlsplit(action["payload"]["url"]).path, auth)
            step("installing", "POST", result, auth, {"status": "proceeding", "stage": "installing"})
            step("success", "POST", result, auth, {"status": "success", "detail": "upgraded"})
            step("autop", "GET", f"/autop/{mac}.cfg", auth)
            report.update(firmware=action["payload"]["version"], uptime=5)
            step("checkin2", "POST", "/device/v1/checkin", auth, report)
            report["uptime"] = 65
            step("idle", "POST", "/device/v1/checkin", auth, report)
            walked[0] += 1

    if profile is not None:
        profile.dump_stats(os.environ["BENCH_UPGRADE_PROFILE"])
    n = min(WALK, len(secrets_by_mac)) - failures
    print(f"{'request':<40} {'CPU ms':>8} {'PG ms':>8} {'queries':>8}")
    totals = [0.0, 0.0, 0.0]
    for label, name in STEPS:
        row = (1000 * cpu[name] / max(n, 1), 1000 * pg_cpu[name] / max(n, 1), queries[name] / max(n, 1))
        print(f"{label:<40} {row[0]:8.2f} {row[1]:8.2f} {row[2]:8.1f}")
        if name not in ("boot", "idle"):
            totals = [t + x for t, x in zip(totals, row, strict=True)]
    print(f"{'one upgrade (check-in to new firmware)':<40} {totals[0]:8.2f} {totals[1]:8.2f} {totals[2]:8.1f}")
    boot = (1000 * cpu["boot"] / max(n, 1), 1000 * pg_cpu["boot"] / max(n, 1), queries["boot"] / max(n, 1))
    print(f"{'  with the AutoP fetch at boot':<40} {totals[0] + boot[0]:8.2f} {totals[1] + boot[1]:8.2f} "
          f"{totals[2] + boot[2]:8.1f}")
    strategy = UpdateStrategy.objects.get(pk=strategy_id)
    print(f"devices walked: {n}; without an upgrade action: {failures}; strategy {strategy.status}")


if __name__ == "__main__":
    main()
