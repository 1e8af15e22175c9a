"""Seed a fleet-scale data set for benchmarks.

Defaults: 1,000 installers (10 distributors), 100,000 residents and 300,000 devices; the first
installer ("scale-installer-0000") holds 10,000 residents and 30,000 devices.

    manage.py seed_scale [--installers N] [--residents N] [--devices N] [--big-residents N] [--big-devices N]

The rows are what the services write: each resident has a Family SIP number, a personal SIP
account and a portal login (unusable password, as before the welcome e-mail is answered); each
device has a MAC library entry, a device SIP account, a device secret and an MQTT password. SIP
numbers come from the platform counters, reserved in bulk. On PostgreSQL the rows go in with
COPY (ids reserved from the tables' sequences), a few installers per transaction, and the tables
are vacuumed and analysed at the end; elsewhere (SQLite) with bulk_create.
"""
from __future__ import annotations

import datetime
import enum
import secrets
import time

from cryptography.fernet import Fernet
from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX, make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from entryway.accounts.choices import Role
from entryway.accounts.models import Account
from entryway.core.fields import EncryptedTextField
from entryway.devices.models import DeviceModel, IntercomDevice, MacLibraryEntry
from entryway.residents.models import Resident
from entryway.sip.choices import SipKind
from entryway.sip.models import SipAccount
from entryway.sip.services import _next_values, format_number

MODELS = [("R29", "door_phone"), ("IT82", "indoor_monitor"), ("X916", "door_phone"), ("E11", "door_phone")]
FIRST = ["Ryan", "Marie", "Jan", "Hanako", "Lucia", "Omar", "Ana", "Wei", "Sven", "Aylin", "Minh", "Olga"]
LAST = ["Chen", "Dubois", "Kowalski", "Yamada", "Garcia", "Haddad", "Silva", "Zhang", "Berg", "Kaya", "Nguyen"]
# Installers are written a few at a time: one transaction holds about this many residents and devices.
CHUNK_ROWS = 30_000


def _split(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def resident_name(i: int) -> str:
    """The name of an installer's i-th resident (the benchmarks search for it)."""
    return f"{FIRST[i % len(FIRST)]} {LAST[(i // len(FIRST)) % len(LAST)]} {i}"


def device_mac(seq: int) -> str:
    """The MAC of the seq-th device of the whole data set (the benchmarks search for it)."""
    return f"BE{seq:010X}"


class _Table:
    """Rows of one model, given as {attname: value} (plain values; secrets in clear), written in bulk."""

    def __init__(self, model, fernet: Fernet):
        self.model, self.fernet = model, fernet
        self.fields = list(model._meta.concrete_fields)
        self.postgres = connection.vendor == "postgresql"
        self.defaults = {}
        for f in self.fields:
            value = f.get_default()
            self.defaults[f.attname] = value.value if isinstance(value, enum.Enum) else value
        self.encrypted = {f.attname for f in self.fields if isinstance(f, EncryptedTextField)}

    def write(self, rows: list[dict]) -> list[int]:
        """Insert the rows; their ids, in order."""
        if not rows:
            return []
        if not self.postgres:
            objs = self.model.objects.bulk_create([self.model(**row) for row in rows], batch_size=2000)
            return [o.pk for o in objs]
        table = self.model._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                           [table, len(rows)])
            ids = [r[0] for r in cursor.fetchall()]
            columns = ", ".join(connection.ops.quote_name(f.column) for f in self.fields)
            names = [f.attname for f in self.fields]
            defaults, encrypted, encrypt = self.defaults, self.encrypted, self.fernet.encrypt
            with cursor.cursor.copy(f"COPY {connection.ops.quote_name(table)} ({columns}) FROM STDIN") as copy:
                for pk, row in zip(ids, rows):
                    row["id"] = pk
                    for name in encrypted:
                        if row.get(name):
                            row[name] = encrypt(row[name].encode()).decode()
                    copy.write_row([row.get(name, defaults[name]) for name in names])
        return ids


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
        if o["installers"] < 2 or o["distributors"] < 1 or o["big_residents"] > o["residents"] \
                or o["big_devices"] > o["devices"]:
            raise CommandError("Need at least 2 installers, a distributor, and the big installer's share within "
                               "the totals.")
        if o["big_devices"] and not o["big_residents"]:
            raise CommandError("The big installer's devices need an owner: give it residents too.")
        if Account.objects.filter(username="scale-installer-0000").exists():
            raise CommandError("Scale data already seeded (scale-installer-0000 exists).")
        start = time.perf_counter()
        self.fernet = Fernet(settings.FERNET_KEY)
        self.realm = settings.SIP_DOMAIN
        self.now = timezone.now()
        self.tables = {m: _Table(m, self.fernet) for m in (Account, SipAccount, Resident, MacLibraryEntry,
                                                          IntercomDevice)}
        password = make_password(o["password"])
        self.models = [DeviceModel.objects.get_or_create(name=n, defaults={"device_type": t})[0].pk
                       for n, t in MODELS]
        with transaction.atomic():
            distributors = Account.objects.bulk_create([
                Account(username=f"scale-distributor-{i:03d}", role=Role.DISTRIBUTOR, password=password,
                        name=f"Distributor {i}", email=f"scale-distributor-{i:03d}@example.com")
                for i in range(o["distributors"])
            ])
            installers = Account.objects.bulk_create([
                Account(username=f"scale-installer-{i:04d}", role=Role.INSTALLER, password=password,
                        name=f"Installer {i}", parent=distributors[i % len(distributors)],
                        email=f"scale-installer-{i:04d}@example.com", time_zone="UTC")
                for i in range(o["installers"])
            ])
        others = o["installers"] - 1
        resident_counts = [o["big_residents"], *_split(o["residents"] - o["big_residents"], others)]
        device_counts = [o["big_devices"], *_split(o["devices"] - o["big_devices"], others)]
        # An installer without residents cannot hold devices: its share goes to the next one that has some.
        carry = 0
        for index in range(len(installers)):
            device_counts[index] += carry
            carry = 0
            if resident_counts[index] == 0:
                carry, device_counts[index] = device_counts[index], 0
        if carry:
            raise CommandError("More devices than residents can own: give more residents.")
        chunk, chunk_rows, mac_seq, done = [], 0, 0, 0
        for index, installer in enumerate(installers):
            if resident_counts[index] == 0:
                continue
            chunk.append((index, installer, resident_counts[index], device_counts[index]))
            chunk_rows += device_counts[index] + resident_counts[index]
            if chunk_rows >= CHUNK_ROWS or index == len(installers) - 1:
                mac_seq = self._write_chunk(chunk, mac_seq)
                done += len(chunk)
                chunk, chunk_rows = [], 0
                self.stdout.write(f"  {done}/{len(installers)} installers, {time.perf_counter() - start:.1f} s")
        if chunk:
            self._write_chunk(chunk, mac_seq)
        if connection.vendor == "postgresql":
            # What autovacuum does some time after a bulk load, at once: planner statistics, the
            # visibility map, and the trigram indexes' pending entries merged (until then every
            # search reads them all, and the planner, counting them, prefers scanning the rows).
            # VACUUM cannot run in a transaction (a caller's): then the statistics only.
            statement = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"
            with connection.cursor() as cursor:
                for model in self.tables:
                    cursor.execute(f"{statement} {connection.ops.quote_name(model._meta.db_table)}")
        self.stdout.write(self.style.SUCCESS(
            f"Seeded {o['installers']} installers, {o['residents']} residents, {o['devices']} devices "
            f"in {time.perf_counter() - start:.1f} s"
        ))

    def _sip(self, number: str, kind: str, installer_id: int, family: str, name: str) -> dict:
        password = secrets.token_urlsafe(12)
        return {"number": number, "kind": kind, "password": password, "installer_id": installer_id,
                "ha1": SipAccount.compute_ha1(number, password, self.realm), "family_number": family,
                "display_name": name[:128], "created_at": self.now}

    def _write_chunk(self, chunk: list[tuple], mac_seq: int) -> int:
        """Residents, logins, SIP accounts, MAC entries and devices of a few installers, in one transaction."""
        n_res = sum(c[2] for c in chunk)
        n_dev = sum(c[3] for c in chunk)
        now, day = self.now, datetime.timedelta(days=1)
        with transaction.atomic():
            families = iter([format_number(SipKind.FAMILY, v) for v in _next_values("family", n_res)])
            people = iter([format_number(SipKind.PERSONAL, v) for v in _next_values("account", n_res + n_dev)])
            logins, sips, residents = [], [], []
            for index, installer, count, _ in chunk:
                for i in range(count):
                    name, family, personal = resident_name(i), next(families), next(people)
                    email = f"r{index}-{i}@example.com"
                    # Older rows first: the newest resident is the last one (the list shows it first).
                    created = now - datetime.timedelta(seconds=count - i)
                    logins.append({"username": personal, "email": email, "name": name, "role": Role.RESIDENT.value,
                                   "password": UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(30),
                                   "date_joined": created})
                    sips.append(self._sip(personal, SipKind.PERSONAL.value, installer.pk, family, name))
                    residents.append({
                        "installer_id": installer.pk, "name": name, "room_name": f"Room {i}", "email": email,
                        "mobile_number": f"+65{8 * 10**7 + index * 10**4 + i:08d}", "time_zone": "UTC",
                        "language": "en", "family_sip": family, "personal_sip": personal,
                        "activated_at": created if i % 3 else None, "expires_at": now + (i % 400 - 30) * day,
                        "created_at": created, "updated_at": created,
                    })
            for row, account_id in zip(residents, self.tables[Account].write(logins)):
                row["account_id"] = account_id
            resident_ids = self.tables[Resident].write(residents)
            entries, devices, offset = [], [], 0
            for index, installer, count, n in chunk:
                owners = resident_ids[offset:offset + count]
                families = [r["family_sip"] for r in residents[offset:offset + count]]
                offset += count
                for j in range(n):
                    mac = device_mac(mac_seq)
                    mac_seq += 1
                    number = next(people)
                    created = now - datetime.timedelta(seconds=n - j)
                    sips.append(self._sip(number, SipKind.DEVICE.value, installer.pk, families[j % count],
                                          f"Gate {j}"))
                    entries.append({"mac": mac, "installer_id": installer.pk, "distributor_id": installer.parent_id,
                                    "created_at": created})
                    seen = j % 3 != 0
                    devices.append({
                        "installer_id": installer.pk, "owner_id": owners[j % count],
                        "device_model_id": self.models[j % len(self.models)], "mac": mac, "location": f"Gate {j}",
                        "sip_number": number, "device_secret": secrets.token_urlsafe(24),
                        "mqtt_password": secrets.token_urlsafe(24), "firmware_version": "29.30.2.805",
                        "last_seen_at": now - datetime.timedelta(seconds=j % 600) if seen else None,
                        "ip_address": f"10.{index % 256}.{j // 256 % 256}.{j % 256}" if seen else None,
                        "reported_model": MODELS[j % len(MODELS)][0] if seen else "",
                        "uptime_seconds": 3600 + j if seen else None, "created_at": created, "updated_at": created,
                    })
            self.tables[SipAccount].write(sips)
            for row, entry_id in zip(devices, self.tables[MacLibraryEntry].write(entries)):
                row["mac_entry_id"] = entry_id
            self.tables[IntercomDevice].write(devices)
        return mac_seq
