"""Batch AutoP to 500 devices (User module -> Intercom Devices -> AutoP), both modes, through the portal's service.

    python -m bench.bench_autop_batch            # a fresh PostgreSQL database entryway_autop_batch

Seeds one installer with 500 devices, then times ``autop_batch_apply`` for Regular AutoP (one UPDATE,
versions forgotten, devices notified) and One Time AutoP (500 actions in one insert). Target (issue 10):
each <= 1 s.
"""
from __future__ import annotations

import os
import secrets
import sys
import tempfile
import time

from bench import common

N_DEVICES = int(os.environ.get("BENCH_AUTOP_DEVICES", "500"))
TARGET_S = 1.0


def _setup_django() -> str:
    url = os.environ.get("DATABASE_URL") or common.database_url().rsplit("/", 1)[0] + "/entryway_autop_batch"
    if not os.environ.get("DATABASE_URL"):
        common.reset_database(url)
    os.environ.update(common.server_env(url, tempfile.mkdtemp(prefix="entryway-bench-autop-"),
                                        CACHE_URL=os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/7")))
    sys.path.insert(0, str(common.ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return url


def main() -> None:
    url = _setup_django()
    from django.contrib.auth.hashers import make_password

    from entryway.accounts.models import Account
    from entryway.deviceapi.services import ONE_TIME, REGULAR, autop_batch_apply
    from entryway.devices.models import DeviceModel, IntercomDevice, MacLibraryEntry
    from entryway.residents.services import resident_create

    tag = secrets.token_hex(3).upper()
    installer = Account.objects.create(username=f"bench-autop-{tag}", role="installer", time_zone="UTC",
                                       password=make_password(None), email=f"autop-{tag}@example.com")
    owner = resident_create(acting_user=installer, installer=installer, name="Fleet owner", time_zone="UTC")
    model, _ = DeviceModel.objects.get_or_create(name="R29", defaults={"device_type": "door_phone"})
    entries = MacLibraryEntry.objects.bulk_create(
        [MacLibraryEntry(mac=f"A{tag[:3]}{i:08X}", installer=installer) for i in range(N_DEVICES)])
    IntercomDevice.objects.bulk_create([
        IntercomDevice(installer=installer, owner=owner, device_model=model, mac=e.mac, mac_entry=e,
                       location=f"Gate {i}", sip_number=f"9{tag[:3]}{i:07d}", device_secret=secrets.token_urlsafe(18))
        for i, e in enumerate(entries)])
    ids = list(IntercomDevice.objects.filter(installer=installer).values_list("pk", flat=True))
    print(f"database: {url.split('@')[-1]}; devices: {len(ids)}")
    for mode in (REGULAR, ONE_TIME):
        start = time.perf_counter()
        count = autop_batch_apply(acting_user=installer, mode=mode, device_ids=ids,
                                  commands="Config.Settings.GENERAL.Bench = 1\nConfig.DoorSetting.RELAY.NameA = Door")
        elapsed = time.perf_counter() - start
        print(f"batch AutoP ({mode}) to {count} devices: {elapsed:.3f} s (target <= {TARGET_S:.0f} s: "
              f"{'met' if elapsed <= TARGET_S else 'NOT met'}); load average {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
