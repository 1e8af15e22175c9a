"""MAC Library import at scale: 100,000 rows from a .csv and from an .xlsx made with openpyxl.

    python -m bench.bench_mac_import                   # a fresh PostgreSQL database entryway_mac_import
    DATABASE_URL=sqlite:////tmp/macs.sqlite3 python -m bench.bench_mac_import

Prints, for each file kind: the size of the file, the time of the request-side check (content kind
and MAC header, what the upload request does before answering) and the time of the import itself
(reading every row, checking duplicates against the library, inserting in batches), with rows/s.
A second run of the same file then reports every row as a duplicate.
"""
from __future__ import annotations

import io
import os
import secrets
import sys
import tempfile
import time

from bench import common

N_ROWS = int(os.environ.get("BENCH_MAC_ROWS", "100000"))


def _setup_django() -> str:
    url = os.environ.get("DATABASE_URL") or os.environ.get("BENCH_MAC_DATABASE_URL")
    if not url:
        url = common.database_url().rsplit("/", 1)[0] + "/entryway_mac_import"
        common.reset_database(url)
    var_dir = tempfile.mkdtemp(prefix="entryway-bench-macs-")
    os.environ.update(common.server_env(url, var_dir))
    sys.path.insert(0, str(common.ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return url


def _csv(prefix: str, n: int) -> bytes:
    return ("MAC\n" + "".join(f"{prefix}{i:08X}\n" for i in range(n))).encode()


def _xlsx(prefix: str, n: int) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("MAC")
    sheet.append(["MAC"])
    for i in range(n):
        # Every form the guide accepts
        mac = f"{prefix}{i:08X}"
        if i % 3 == 1:
            mac = ":".join(mac[j:j + 2] for j in range(0, 12, 2))
        elif i % 3 == 2:
            mac = "-".join(mac[j:j + 2] for j in range(0, 12, 2)).lower()
        sheet.append([mac])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _run(installer, kind: str, data: bytes) -> None:
    from entryway.devices import services

    started = time.perf_counter()
    job = services.mac_import_start(acting_user=installer, data=data, file_name=f"bench.{kind}")
    checked = time.perf_counter() - started
    started = time.perf_counter()
    job = services.mac_import_run(import_id=job.pk)
    elapsed = time.perf_counter() - started
    print(f"{kind:>4}: {len(data) / 1e6:5.2f} MB, check {checked * 1000:6.0f} ms, import {elapsed:6.2f} s "
          f"({job.total / elapsed:8.0f} rows/s): added {job.added}, duplicates {job.duplicates}, "
          f"invalid {job.invalid}", flush=True)


def main() -> None:
    url = _setup_django()
    from django.contrib.auth.hashers import make_password

    from entryway.accounts.models import Account

    tag = secrets.token_hex(2).upper()
    installer = Account.objects.create(username=f"bench-macs-{tag}", role="installer", time_zone="UTC",
                                       password=make_password(None), email=f"macs-{tag}@example.com")
    print(f"database: {url.split('@')[-1]}, rows per file: {N_ROWS}")
    csv_data = _csv(f"C{tag[:3]}", N_ROWS)
    _run(installer, "csv", csv_data)
    _run(installer, "csv", csv_data)  # again: every row a duplicate
    _run(installer, "xlsx", _xlsx(f"D{tag[:3]}", N_ROWS))


if __name__ == "__main__":
    main()
