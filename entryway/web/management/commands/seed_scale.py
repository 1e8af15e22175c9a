"""Seed a fleet-scale data set for benchmarks.

Defaults: 1,000 installers (10 distributors), 100,000 residents and 300,000 devices; the first
installer ("scale-installer-0000") holds 10,000 residents and 30,000 devices. Bulk inserts only.

    manage.py seed_scale [--installers N] [--residents N] [--devices N] [--big-residents N] [--big-devices N]
"""
from __future__ import annotations

import secrets
import time

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from entryway.accounts.models import Account
from entryway.devices.models import DeviceModel, IntercomDevice, MacLibraryEntry
from entryway.residents.models import Resident
from entryway.sip.choices import SipKind
from entryway.sip.models import SipAccount
from entryway.sip.services import _next_values, format_number

MODELS = [("R29", "door_phone"), ("IT82", "indoor_monitor"), ("X916", "door_phone"), ("E11", "door_phone")]
FIRST = ["Ryan", "Marie", "Jan", "Hanako", "Lucia", "Omar", "Ana", "Wei", "Sven", "Aylin", "Minh", "Olga"]
LAST = ["Chen", "Dubois", "Kowalski", "Yamada", "Garcia", "Haddad", "Silva", "Zhang", "Berg", "Kaya", "Nguyen"]


def _split(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


class Command(BaseCommand):
    help = "Seed installers, residents and devices at fleet scale (benchmarks)."

    def add_arguments(self, parser):
        parser.add_argument("--installers", type=int, default=1000)
        parser.add_argument("--distributors", type=int, default=10)
        parser.add_argument("--residents", type=int, default=100_000)
        parser.add_argument("--devices", type=int, default=300_000)
        parser.add_argument("--big-residents", type=int, default=10_000)
        parser.add_argument("--big-devices", type=int, default=30_000)
        parser.add_argument("--password", default="entryway-bench")

    def handle(self, *args, **o):
        if o["installers"] < 2 or o["big_residents"] > o["residents"] or o["big_devices"] > o["devices"]:
            raise CommandError("Need at least 2 installers, and the big installer's share within the totals.")
        if Account.objects.filter(username="scale-installer-0000").exists():
            raise CommandError("Scale data already seeded (scale-installer-0000 exists).")
        start = time.perf_counter()
        password = make_password(o["password"])
        models = [DeviceModel.objects.get_or_create(name=n, defaults={"device_type": t})[0] for n, t in MODELS]
        with transaction.atomic():
            distributors = Account.objects.bulk_create([
                Account(username=f"scale-distributor-{i:03d}", role="distributor", password=password,
                        name=f"Distributor {i}", email=f"scale-distributor-{i:03d}@example.com")
                for i in range(o["distributors"])
            ])
            installers = Account.objects.bulk_create([
                Account(username=f"scale-installer-{i:04d}", role="installer", password=password,
                        name=f"Installer {i}", parent=distributors[i % len(distributors)],
                        email=f"scale-installer-{i:04d}@example.com", time_zone="UTC")
                for i in range(o["installers"])
            ])
        others = o["installers"] - 1
        resident_counts = [o["big_residents"], *_split(o["residents"] - o["big_residents"], others)]
        device_counts = [o["big_devices"], *_split(o["devices"] - o["big_devices"], others)]
        mac_seq = 0
        now = timezone.now()
        for index, installer in enumerate(installers):
            n_res, n_dev = resident_counts[index], device_counts[index]
            if n_res == 0:
                continue
            with transaction.atomic():
                families = [format_number(SipKind.FAMILY, v) for v in _next_values("family", n_res)]
                people = [format_number(SipKind.PERSONAL, v) for v in _next_values("account", n_res + n_dev)]
                accounts, residents = [], []
                for i in range(n_res):
                    name = f"{FIRST[i % len(FIRST)]} {LAST[(i // len(FIRST)) % len(LAST)]} {i}"
                    sip_password = secrets.token_urlsafe(12)
                    accounts.append(SipAccount(number=people[i], kind=SipKind.PERSONAL, password=sip_password,
                                               ha1=SipAccount.compute_ha1(people[i], sip_password),
                                               installer=installer, family_number=families[i], display_name=name))
                    residents.append(Resident(
                        installer=installer, name=name, room_name=f"Room {i}", email=f"r{index}-{i}@example.com",
                        mobile_number=f"+6581{index:03d}{i:04d}"[:12], time_zone="UTC", language="en",
                        family_sip=families[i], personal_sip=people[i],
                        activated_at=now if i % 3 else None, expires_at=now + timezone.timedelta(days=i % 400 - 30),
                    ))
                residents = Resident.objects.bulk_create(residents, batch_size=2000)
                entries, devices = [], []
                for j in range(n_dev):
                    owner = residents[j % n_res]
                    mac = f"BE{mac_seq:010X}"
                    mac_seq += 1
                    number = people[n_res + j]
                    sip_password = secrets.token_urlsafe(12)
                    accounts.append(SipAccount(number=number, kind=SipKind.DEVICE, password=sip_password,
                                               ha1=SipAccount.compute_ha1(number, sip_password), installer=installer,
                                               family_number=owner.family_sip, display_name=f"Gate {j}"))
                    entries.append(MacLibraryEntry(mac=mac, installer=installer, distributor_id=installer.parent_id))
                SipAccount.objects.bulk_create(accounts, batch_size=5000)
                entries = MacLibraryEntry.objects.bulk_create(entries, batch_size=5000)
                for j, entry in enumerate(entries):
                    devices.append(IntercomDevice(
                        installer=installer, owner=residents[j % n_res], device_model=models[j % len(models)],
                        mac=entry.mac, mac_entry=entry, location=f"Gate {j}", sip_number=people[n_res + j],
                        device_secret=secrets.token_urlsafe(18), firmware_version="29.30.2.805",
                    ))
                IntercomDevice.objects.bulk_create(devices, batch_size=5000)
            if index % 100 == 0:
                self.stdout.write(f"  {index + 1}/{len(installers)} installers, {time.perf_counter() - start:.1f} s")
        self.stdout.write(self.style.SUCCESS(
            f"Seeded {o['installers']} installers, {o['residents']} residents, {o['devices']} devices "
            f"in {time.perf_counter() - start:.1f} s"
        ))
