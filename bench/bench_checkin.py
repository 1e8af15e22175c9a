"""The device check-in hot path: requests/s and latency of idle check-ins from a large fleet.

    python -m bench.bench_checkin              # PostgreSQL database entryway_checkin, Redis cache

Seeds one installer with BENCH_CHECKIN_DEVICES devices (default 2,000) that checked in a moment
ago (config versions cached in Redis), serves the production settings with granian (2 workers),
then drives ``POST /device/v1/checkin`` with wrk, every request from
another device (its own MAC and secret), and prints requests/s, p50/p99 latency, non-2xx answers
and how many device rows were written during the measured run (coalesced last-seen updates:
at most one per device per DEVICE_LAST_SEEN_WRITE_INTERVAL).
"""
from __future__ import annotations

import base64
import json
import os
import secrets
import sys
import tempfile

from bench import common

N_DEVICES = int(os.environ.get("BENCH_CHECKIN_DEVICES", "2000"))
SECONDS = int(os.environ.get("BENCH_CHECKIN_SECONDS", "15"))
CONNECTIONS = int(os.environ.get("BENCH_CHECKIN_CONNECTIONS", "32"))


def _setup_django() -> tuple[str, str]:
    url = os.environ.get("BENCH_CHECKIN_DATABASE_URL") or common.database_url().rsplit("/", 1)[0] + "/entryway_checkin"
    common.reset_database(url)
    var_dir = tempfile.mkdtemp(prefix="entryway-bench-checkin-")
    env = common.server_env(url, var_dir, CACHE_URL=os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/6"),
                            MQTT_URL="", ALLOWED_HOSTS="127.0.0.1,localhost,testserver")
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
    from entryway.deviceapi.autop import config_version
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
                       last_seen_at=now, reported_model="R29", firmware_version="29.30.2.805",
                       ip_address="192.168.1.20", uptime_seconds=3600)
        for i, e in enumerate(entries)], batch_size=5000)
    # Their config versions are cached (Redis), as after each device's first check-in.
    for pk in IntercomDevice.objects.filter(installer=installer).values_list("pk", flat=True):
        config_version(pk)
    return by_mac


def _script(by_mac: dict[str, str], directory: str) -> str:
    body = json.dumps({"model": "R29", "firmware": "29.30.2.805", "ip": "192.168.1.20", "uptime": 3600})
    auths = ",\n".join('"Basic ' + base64.b64encode(f"{mac}:{secret}".encode()).decode() + '"'
                       for mac, secret in by_mac.items())
    path = os.path.join(directory, "checkin.lua")
    with open(path, "w") as fh:
        fh.write(f"""
local auths = {{
{auths}
}}
local body = '{body}'
local i = math.random(#auths)
request = function()
  i = i % #auths + 1
  return wrk.format("POST", "/device/v1/checkin",
    {{["Authorization"] = auths[i], ["Content-Type"] = "application/json"}}, body)
end
""")
    return path


def _written_since(mark) -> int:
    from entryway.devices.models import IntercomDevice

    return IntercomDevice.objects.filter(last_seen_at__gt=mark).count()


def main() -> None:
    _url, var_dir = _setup_django()
    from django.db import connection
    from django.utils import timezone

    by_mac = _seed(N_DEVICES)
    script = _script(by_mac, var_dir)
    connection.close()
    with common.Server(dict(os.environ), workers=2) as server:
        common.wrk(server.url + "/device/v1/checkin", script=script, connections=CONNECTIONS, seconds=3)  # warm-up
        mark = timezone.now()
        result = common.wrk(server.url + "/device/v1/checkin", script=script, connections=CONNECTIONS,
                            seconds=SECONDS)
        rss = server.worker_rss_mb()
    written = _written_since(mark)
    print(f"machine: {common.machine()}")
    print(f"devices: {N_DEVICES}, connections: {CONNECTIONS}, {SECONDS} s measured")
    print(f"check-ins: {result['requests']} ({result['rps']:.0f}/s), p50 {result['p50_ms']:.1f} ms, "
          f"p99 {result['p99_ms']:.1f} ms, non-2xx {result['non2xx']}, socket errors {result['errors']}")
    print(f"device rows written during the measured run: {written} of {N_DEVICES} devices for "
          f"{result['requests']} check-ins ({result['requests'] / N_DEVICES:.1f} per device; at most one "
          f"last-seen write per device per DEVICE_LAST_SEEN_WRITE_INTERVAL)")
    print(f"load average during the run: {os.getloadavg()[0]:.1f}")
    print("worker memory: " + ", ".join(f"{mb:.0f} MB" for mb in rss))


if __name__ == "__main__":
    main()
