"""Rollouts at fleet scale: create an update strategy for 10,000 devices, then upgrade them.

    DATABASE_URL=postgres://root@127.0.0.1:5432/entryway_rollout python -m bench.bench_rollout

Sets up Django on the database in DATABASE_URL (default: a fresh PostgreSQL database
``entryway_rollout``), migrates it, seeds one installer with 10,000 connected R29 devices and a
firmware file, and prints:

1. the time of the one API request that creates the strategy for all 10,000 devices (target ≤ 2 s),
   and the time to start it (10,000 upgrade actions in bulk);
2. with the fleet simulator (``entryway.sim``) polling a granian server every 60 s: the fleet boots and
   runs first (every device provisioned and checked in once), then the strategy starts, and the time from
   the start until all 10,000 simulated devices have reported a final state (target: 2 poll intervals);
   with ``BENCH_ROLLOUT_MQTT=1`` (a Mosquitto of its own, with the deployment's limits) or ``=mqtt://...`` the
   devices also listen for the platform's push and publish their results on their status topic, which the
   report consumer (``manage.py mqtt_reports``) records (target 30 s; ``BENCH_ROLLOUT_MQTT_RESULTS=0``: results
   by HTTP; ``BENCH_ROLLOUT_PUSHED_ACTIONS=0``: devices that check in on every push instead of carrying out the
   upgrade it brings); ``bench_rollout_mqtt`` runs it so;
   with ``BENCH_ROLLOUT_COLD=1`` the strategy starts first and the whole fleet boots at once, timed from
   the boot (each device's first request is then an AutoP fetch with nothing cached).
"""
from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import time

from bench import common

N_DEVICES = int(os.environ.get("BENCH_ROLLOUT_DEVICES", "10000"))
POLL_INTERVAL = int(os.environ.get("BENCH_ROLLOUT_POLL", "60"))
FIRMWARE_SIZE = 16 * 1024
# Concurrent HTTP connections of the simulated fleet: enough to keep 2 workers busy without
# exhausting PostgreSQL's connection slots (each server thread holds one).
FLEET_CONNECTIONS = int(os.environ.get("BENCH_ROLLOUT_CONNECTIONS", "32"))
# With MQTT push (BENCH_ROLLOUT_MQTT=1 for a broker of the benchmark's own, or a broker's URL): the platform
# publishes a wake-up to each device as its action is created, and the simulated devices listen (target: all
# final within 30 s). With MQTT results (the default then), the devices publish their results on their status
# topic and the report consumer records them in batches, instead of one HTTP request each.
MQTT_URL = os.environ.get("BENCH_ROLLOUT_MQTT", "")
MQTT_RESULTS = bool(MQTT_URL) and os.environ.get("BENCH_ROLLOUT_MQTT_RESULTS", "1") not in ("", "0")
# With MQTT push, the devices carry out the upgrade the push brings without checking in for it; =0: they check
# in on every push, as devices older than the push with actions do.
PUSHED_ACTIONS = os.environ.get("BENCH_ROLLOUT_PUSHED_ACTIONS", "1") not in ("", "0")
# How long the benchmark waits for the whole fleet to report (seconds): 3 poll intervals + 120 s unless set,
# longer to measure a fleet that needs longer.
TIMEOUT = int(os.environ.get("BENCH_ROLLOUT_TIMEOUT") or 0) or POLL_INTERVAL * 3 + 120
# By default the fleet runs before the strategy starts (as in production) and the time counts from the start;
# BENCH_ROLLOUT_COLD=1 starts the strategy first and boots the whole fleet at once, timed from the boot.
COLD = os.environ.get("BENCH_ROLLOUT_COLD", "") not in ("", "0")


def _setup_django() -> tuple[str, str, int]:
    """Configure and start Django in this process; returns (database URL, var dir, server port)."""
    url = os.environ.get("DATABASE_URL") or os.environ.get("BENCH_ROLLOUT_DATABASE_URL")
    if not url:
        url = common.database_url().rsplit("/", 1)[0] + "/entryway_rollout"
        common.reset_database(url)
    var_dir = tempfile.mkdtemp(prefix="entryway-bench-rollout-")
    port = int(os.environ.get("BENCH_ROLLOUT_PORT") or 0) or common.free_port()
    # All simulated devices come from 127.0.0.1: the per-address AutoP limit stands for one device's
    # address, so it is lifted here; the rate-limit counters live in Redis as in production.
    env = common.server_env(url, var_dir, PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
                            ALLOWED_HOSTS="127.0.0.1,localhost,testserver", DEVICE_POLL_INTERVAL=POLL_INTERVAL,
                            AUTOP_RATE_LIMIT=10**9, MQTT_URL=MQTT_URL, MQTT_RESULTS=str(MQTT_RESULTS).lower(),
                            CACHE_URL=os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/5"))
    os.environ.update(env)
    sys.path.insert(0, str(common.ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.core.cache import cache

    cache.clear()  # its own Redis database: nothing cached for the previous run's rows, whose ids repeat
    return url, var_dir, port


def _seed(n: int):
    """One installer, one household and n connected R29 devices on an older version (bulk inserts).

    Each device has its secrets already (as devices that have been provisioned before)."""
    from django.contrib.auth.hashers import make_password
    from django.core.files.base import ContentFile
    from django.utils import timezone

    from entryway.accounts.models import Account
    from entryway.accounts.services import api_token_create
    from entryway.devices.models import DeviceModel, IntercomDevice, MacLibraryEntry
    from entryway.firmware.models import Firmware
    from entryway.firmware.services import firmware_upload
    from entryway.residents.services import resident_create

    tag = secrets.token_hex(3).upper()
    admin = Account.objects.filter(role="admin").first() or Account.objects.create_superuser(
        f"bench-admin-{tag}", f"bench-admin-{tag}@example.com", secrets.token_urlsafe(12))
    installer = Account.objects.create(username=f"bench-rollout-{tag}", role="installer", time_zone="UTC",
                                       password=make_password(None), email=f"rollout-{tag}@example.com")
    owner = resident_create(acting_user=installer, installer=installer, name="Fleet owner", time_zone="UTC")
    model, _ = DeviceModel.objects.get_or_create(name="R29", defaults={"device_type": "door_phone"})
    now = timezone.now()
    entries = MacLibraryEntry.objects.bulk_create(
        [MacLibraryEntry(mac=f"B{tag[:3]}{i:08X}", installer=installer) for i in range(n)], batch_size=5000)
    secrets_by_mac = {e.mac: secrets.token_urlsafe(18) for e in entries}
    IntercomDevice.objects.bulk_create([
        IntercomDevice(installer=installer, owner=owner, device_model=model, mac=e.mac, mac_entry=e,
                       location=f"Gate {i}", sip_number=f"8{tag[:3]}{i:07d}", device_secret=secrets_by_mac[e.mac],
                       mqtt_password=secrets.token_urlsafe(18),
                       firmware_version="29.30.2.800", reported_model="R29", last_seen_at=now)
        for i, e in enumerate(entries)
    ], batch_size=5000)
    version = f"29.30.{int(tag[:2], 16)}.{int(tag[2:], 16) % 1000}"
    while Firmware.objects.filter(version=version).exists():
        version = version.rsplit(".", 1)[0] + f".{secrets.randbelow(999999)}"
    image = secrets.token_bytes(FIRMWARE_SIZE)
    firmware = firmware_upload(acting_user=admin, file=ContentFile(image, name=f"R29_{version}.rom"),
                               version=version, device_models=[model], version_log="benchmark")
    _token, raw = api_token_create(acting_user=installer, name="bench")
    device_ids = list(IntercomDevice.objects.filter(installer=installer).values_list("pk", flat=True))
    return installer, firmware, raw, device_ids, secrets_by_mac


def _create_and_start(firmware, token: str, device_ids: list[int], *, start_now: bool = True
                      ) -> tuple[int, float, float]:
    from django.db import connection
    from django.test import Client

    from entryway.firmware.services import strategy_start

    client = Client()
    # A server that takes this request has served others before: the first request of a process pays for
    # imports, URL resolution and the API's schemas (0.6-0.7 s here), so one list request goes first.
    headers = {"Authorization": f"Bearer {token}"}
    if client.get("/api/v1/update-strategies", headers=headers).status_code != 200:
        raise RuntimeError("the strategy list did not answer")
    start = time.perf_counter()
    response = client.post("/api/v1/update-strategies",
                           data={"firmware_id": firmware.pk, "device_ids": device_ids,
                                 "scheduled_at": "2100-01-01T00:00:00Z"},
                           content_type="application/json", headers=headers)
    created = time.perf_counter() - start
    if response.status_code != 201:
        raise RuntimeError(f"creation failed: {response.status_code} {response.content[:500]!r}")
    strategy_id = response.json()["id"]
    if not start_now:
        connection.close()
        return strategy_id, created, 0.0
    # Start it now, as the periodic task does at the Upgrade Time.
    from django.utils import timezone

    from entryway.firmware.models import UpdateStrategy

    UpdateStrategy.objects.filter(pk=strategy_id).update(scheduled_at=timezone.now())
    start = time.perf_counter()
    strategy_start(strategy_id=strategy_id)
    started = time.perf_counter() - start
    connection.close()
    return strategy_id, created, started


def _run_fleet(strategy_id: int, var_dir: str, port: int, secrets_by_mac: dict[str, str]) -> dict:
    """Serve the platform with granian and let the simulated fleet upgrade itself."""
    from entryway.firmware import services
    from entryway.firmware.models import UpdateStrategy
    from entryway.sim import fleet_upgrade_run

    env = dict(os.environ)
    with common.Server(env, workers=2, port=port, role="devices") as server, common.Consumer(env):
        start = time.perf_counter()
        report = fleet_upgrade_run(base_url=server.url, devices=secrets_by_mac, poll_interval=POLL_INTERVAL,
                                   timeout=TIMEOUT, connection_limit=FLEET_CONNECTIONS, seed=1,
                                   mqtt=bool(MQTT_URL))
        reported = time.perf_counter() - start
    services.strategies_run_due()
    strategy = UpdateStrategy.objects.get(pk=strategy_id)
    return {"seconds": reported, "report": report, "status": strategy.status,
            "counts": services.strategy_counts(strategy)}


def _run_running_fleet(strategy_id: int, port: int, secrets_by_mac: dict[str, str]) -> dict:
    """The fleet boots and runs first (every device provisioned, checked in once and, with MQTT push,
    subscribed), then the strategy starts; timed from the start.

    As in production, where the fleet is connected long before an update strategy starts: by polling,
    each device finds its action at its next check-in, within one poll interval of the start; with MQTT
    push at once. The push reaches only devices already subscribed (a broker keeps messages for known
    sessions only).
    """
    from entryway.firmware import services
    from entryway.firmware.models import UpdateStrategy
    from entryway.sim import DeviceSpec, Fleet, FleetThread

    specs = [DeviceSpec(mac=mac, secret=secret) for mac, secret in secrets_by_mac.items()]
    env = dict(os.environ)
    mqtt = bool(MQTT_URL)
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(common.Server(env, workers=2, port=port, role="devices"))
        stack.enter_context(common.Consumer(env))
        if MQTT_RESULTS:
            stack.enter_context(common.Reports(env))
        # Polling devices spread over one interval, as a running fleet's are.
        fleet = Fleet(server.url, specs, poll_interval=POLL_INTERVAL, reboot_seconds=1.0, install_seconds=0.5,
                      ramp=min(POLL_INTERVAL, 30) if mqtt else POLL_INTERVAL, connection_limit=FLEET_CONNECTIONS,
                      seed=1, mqtt=mqtt, mqtt_url=MQTT_URL, pushed_actions=PUSHED_ACTIONS)

        def running(d) -> bool:
            return d.online and (not mqtt or (d.mqtt is not None and d.mqtt.subscribed))

        with FleetThread(fleet) as runner:
            t = time.perf_counter()
            ready = runner.wait_until(lambda f: all(running(d) for d in f.devices.values()),
                                      timeout=POLL_INTERVAL * 3 + 120, interval=0.5)
            boot = time.perf_counter() - t
            ready_count = sum(1 for d in fleet.devices.values() if running(d))
            print(f"fleet booted{' and subscribed' if mqtt else ' and checked in'}: {ready_count} of {len(specs)} "
                  f"devices in {boot:.1f} s{'' if ready else ' (not all)'}", flush=True)
            # The strategy starts in a process of its own, as the periodic task would: the platform's MQTT
            # publisher must not share this process's GIL with the fleet's busy thread (it did not even
            # connect in time when it did).
            UpdateStrategy.objects.filter(pk=strategy_id).update(scheduled_at=timezone_now())
            before, cpu, machine_cpu = dict(fleet.counters), time.process_time(), common.cpu_by_process(server)
            starter = subprocess.Popen([sys.executable, "-c", _STARTER, str(strategy_id), "1" if mqtt else ""],
                                       env=env, cwd=common.ROOT, stdout=subprocess.PIPE, text=True)
            start_line = starter.stdout.readline().split()
            start_wall, started = float(start_line[0]), float(start_line[1])
            # Checked every 0.2 s in this thread, which shares the GIL with the fleet's: the fleet keeps the
            # devices whose final result the platform has, so that the check walks no device's results.
            upgrades = fleet.finished["upgrade"]
            runner.wait_until(lambda f: len(upgrades) >= len(specs), timeout=TIMEOUT - 60, interval=0.2)
            delivered = time.time() - start_wall
            # A result published over MQTT is the device's once the broker has it; it counts when the report
            # consumer has recorded it: the platform's own count of final actions says when all are.
            strategy = UpdateStrategy.objects.get(pk=strategy_id)
            deadline = time.monotonic() + max(0.0, TIMEOUT - 60 - delivered)
            while services.strategy_counts(strategy)["final"] < len(specs) and time.monotonic() < deadline:
                time.sleep(0.2)
            reported = time.time() - start_wall
            cpu = time.process_time() - cpu
            machine_cpu = common.cpu_line(machine_cpu, common.cpu_by_process(server), reported, len(specs), "upgrade")
            starter.wait(60)
            finals = [mac in upgrades for mac in fleet.devices]
            # When the pushes arrived and the final reports were made, in seconds after the start.
            final_at = sorted(r.at - start_wall for r in upgrades.values())
            recorded_at = sorted(r.delivered_at - start_wall for r in upgrades.values())
            push_at = sorted(d.last_push_at - start_wall for d in fleet.devices.values()
                             if d.last_push_at is not None and d.last_push_at >= start_wall)
            counters = {k: fleet.counters[k] - before.get(k, 0)
                        for k in ("requests", "checkins", "errors", "pushes", "mqtt_results")}
    strategy = UpdateStrategy.objects.get(pk=strategy_id)
    return {"seconds": reported, "started": started, "finished": sum(finals), "devices": len(finals),
            "counters": counters, "status": strategy.status, "counts": services.strategy_counts(strategy),
            "simulator_cpu_seconds": cpu, "machine_cpu": machine_cpu, "final_at": final_at, "push_at": push_at,
            "recorded_at": recorded_at, "delivered": delivered}


def _spread(times: list[float]) -> str:
    """'10 % by 3.1 s, 50 % by 20.4 s, 90 % by 60.2 s, all by 77.0 s' of sorted times."""
    if not times:
        return "none"
    marks = [f"{pct} % by {times[min(len(times) - 1, len(times) * pct // 100)]:.1f} s" for pct in (10, 50, 90)]
    return ", ".join(marks) + f", all {len(times)} by {times[-1]:.1f} s"


# Starts the strategy (with MQTT, its pushes go out after commit) and prints "<wall clock at the start>
# <seconds>"; with MQTT, then waits until the publisher has handed every message to the broker.
_STARTER = """
import sys, time
import django
django.setup()
from entryway.deviceapi.mqtt import publisher
from entryway.firmware.services import strategy_start
mqtt = len(sys.argv) > 2 and sys.argv[2] == "1"
if mqtt:
    publisher.wait_connected(10)
wall, t = time.time(), time.perf_counter()
strategy_start(strategy_id=int(sys.argv[1]))
print(wall, round(time.perf_counter() - t, 3), flush=True)
if mqtt:
    client = publisher._get()[0]
    deadline = time.monotonic() + 120
    while getattr(client, "_out_messages", None) and time.monotonic() < deadline:
        time.sleep(0.05)
"""


def timezone_now():
    from django.utils import timezone

    return timezone.now()


def main() -> None:
    global MQTT_URL
    with contextlib.ExitStack() as stack:
        if MQTT_URL and "://" not in MQTT_URL:
            broker = stack.enter_context(common.Broker())
            MQTT_URL = broker.url
            print(f"broker: mosquitto on {broker.url} ({', '.join(f'{k} {v}' for k, v in broker.deployed_limits().items())})",
                  flush=True)
        _main()


def _main() -> None:
    url, var_dir, port = _setup_django()
    print(f"machine: {common.machine()}; database: {url.rsplit('@', 1)[-1]}; devices: {N_DEVICES}", flush=True)
    t = time.perf_counter()
    _installer, firmware, token, device_ids, secrets_by_mac = _seed(N_DEVICES)
    print(f"seeded {len(device_ids)} devices in {time.perf_counter() - t:.1f} s", flush=True)
    strategy_id, created, started = _create_and_start(firmware, token, device_ids, start_now=COLD and not MQTT_URL)
    print(f"strategy creation (one API request, {len(device_ids)} devices): {created:.3f} s (target <= 2 s)")
    if COLD and not MQTT_URL:
        print(f"strategy start ({len(device_ids)} upgrade actions in bulk): {started:.3f} s", flush=True)
    try:
        import entryway.sim  # noqa: F401
    except ImportError:
        print("fleet: entryway.sim is not installed; the fleet part is skipped")
        return
    if MQTT_URL or not COLD:
        fleet = _run_running_fleet(strategy_id, port, secrets_by_mac)
        counts, c = fleet["counts"], fleet["counters"]
        verdict = "all" if fleet["finished"] == fleet["devices"] else f"only {fleet['finished']} of"
        pushed = "actions in the push" if PUSHED_ACTIONS else "a check-in on each push"
        how, target = (f"MQTT push, {pushed}, results {'over MQTT' if MQTT_RESULTS else 'by HTTP'}", "30 s") if MQTT_URL else (f"polling every {POLL_INTERVAL} s", f"{2 * POLL_INTERVAL} s")
        print(f"strategy start ({len(device_ids)} upgrade actions in bulk{', MQTT push after commit' if MQTT_URL else ''}): "
              f"{fleet['started']:.3f} s")
        print(f"fleet ({how}): {verdict} {fleet['devices']} simulated devices reported a final state "
              f"{fleet['seconds']:.1f} s after the start (target <= {target}; {c['pushes']} pushes received, "
              f"{c['requests']} requests ({c['requests'] / max(1, fleet['devices']):.1f} per device), "
              f"{c['mqtt_results']} results published, "
              f"{c['checkins']} check-ins, {c['errors']} errors; simulator CPU {fleet['simulator_cpu_seconds']:.1f} s)")
        if MQTT_RESULTS:
            print(f"devices had the broker's acknowledgement of every final result {fleet['delivered']:.1f} s after "
                  f"the start; the platform had recorded them all {fleet['seconds']:.1f} s after it")
        print(f"platform: strategy {fleet['status']}; succeeded {counts['succeeded']}, failed {counts['failed']}, "
              f"still open {counts['total'] - counts['final']}")
        if MQTT_URL:
            print(f"pushes received after the start: {_spread(fleet['push_at'])}")
        print(f"final reports sent after the start: {_spread(fleet['final_at'])}")
        print(f"final reports answered after the start: {_spread(fleet['recorded_at'])}")
        print(f"CPU from the start to the last final report: {fleet['machine_cpu']}")
        return
    # BENCH_ROLLOUT_COLD=1: the strategy starts first and the whole fleet boots at once (every device's first
    # request an AutoP fetch with nothing cached), timed from the boot.
    fleet = _run_fleet(strategy_id, var_dir, port, secrets_by_mac)
    counts, report = fleet["counts"], fleet["report"]
    finished = report["succeeded"] + report["failed"]
    verdict = "all" if report["unfinished"] == 0 else f"only {finished} of"
    print(f"fleet (booting at the start): {verdict} {report['devices']} simulated devices reported a final state in "
          f"{fleet['seconds']:.1f} s (poll interval {POLL_INTERVAL} s, target <= {2 * POLL_INTERVAL} s; "
          f"{report['checkins']} check-ins, {report['errors']} errors)")
    print(f"requests: {report['requests']} ({report['requests'] / max(1, report['devices']):.1f} per device); "
          f"simulator CPU {report['simulator_cpu_seconds']:.1f} s "
          f"({100 * report['simulator_cpu_seconds'] / max(fleet['seconds'], 0.001):.0f}% of one core)")
    print(f"platform: strategy {fleet['status']}; succeeded {counts['succeeded']}, failed {counts['failed']}, "
          f"not reached {counts['not_reached']}, still open {counts['total'] - counts['final']}")


if __name__ == "__main__":
    main()
