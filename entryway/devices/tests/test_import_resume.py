"""A Huey consumer killed (SIGKILL) in the middle of a 100,000-row MAC import, then restarted as in
production (`run_huey --flush-locks`), finishes the import: no MAC is added twice, the rows the killed
run committed count as added by this import, and the import's counts and row-by-row report are those
of one uninterrupted run.

Run as ``python -m entryway.devices.tests.test_import_resume`` this module is the consumer that is
killed: it queues the import, and on the fourth batch it writes the batch's rows, then, before that
batch commits, writes ENTRYWAY_FAULT_PAUSE_FILE and sleeps, so that the test kills it exactly there."""
from __future__ import annotations

import datetime
import os
import subprocess
import sys
import time

import pytest

from entryway.core.tests.test_consumer_faults import _env as consumer_env
from entryway.core.tests.test_consumer_faults import _wait, kill_when_paused

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROWS = 100_000
PAUSE_AT_BATCH = 4

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _file(other_library_macs: list[str]) -> tuple[bytes, dict]:
    """A CSV of ROWS rows: new MACs, every 97th row invalid, every 89th a repeat of an earlier row,
    and every 1,000th a MAC already in another library. Returns it with the counts it must give."""
    lines, expected = ["MAC"], {"added": 0, "duplicates": 0, "invalid": 0}
    for n in range(ROWS):
        if n % 97 == 5:
            lines.append(f"not-a-mac-{n}")
            expected["invalid"] += 1
        elif n % 89 == 7:
            lines.append(f"0C11{0:08X}")  # the first row's MAC
            expected["duplicates"] += 1
        elif n % 1000 == 500:
            lines.append(other_library_macs[n // 1000])
            expected["duplicates"] += 1
        else:
            lines.append(f"0C11{n:08X}")
            expected["added"] += 1
    return ("\n".join(lines) + "\n").encode(), expected


def _env(tmp_path, import_id: int) -> dict:
    # the rollout fault test's consumer environment (its database, a queue file, a pause file), and the import
    return {**consumer_env(tmp_path), "ENTRYWAY_FAULT_IMPORT": str(import_id)}


def test_consumer_killed_mid_import_resumes_and_reports_as_one_run(installer, make_account, tmp_path):
    from entryway.devices import services
    from entryway.devices.choices import ImportStatus
    from entryway.devices.models import MacImport, MacLibraryEntry
    from entryway.devices.tasks import mac_import_task

    other = make_account("installer", parent=installer.parent, username="inst-other")
    other_macs = [f"0C12{n:08X}" for n in range(ROWS // 1000)]
    for mac in other_macs:
        services.mac_add(acting_user=other, mac=mac)
    data, expected = _file(other_macs)
    job = services.mac_import_start(acting_user=installer, data=data, file_name="100k.csv")

    env = _env(tmp_path, job.pk)
    kill_when_paused("entryway.devices.tests.test_import_resume", env, tmp_path, 120, "the import's fourth batch")
    # Killed half-way: three batches committed with their progress, the fourth rolled back.
    job.refresh_from_db()
    assert job.status == ImportStatus.RUNNING
    assert 0 < job.processed < ROWS and 0 < job.next_row < ROWS
    committed = MacLibraryEntry.objects.filter(installer=installer).count()
    assert committed == job.added > 0

    # Five minutes later its lease is stale; the restarted consumer takes the import over at start.
    MacImport.objects.filter(pk=job.pk).update(heartbeat_at=job.heartbeat_at - datetime.timedelta(minutes=5))
    env.pop("ENTRYWAY_FAULT_PAUSE_FILE")
    second = subprocess.Popen([sys.executable, "manage.py", "run_huey", "--workers", "1", "--flush-locks"], cwd=ROOT,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait(lambda: MacImport.objects.get(pk=job.pk).is_finished, 300, "the restarted consumer to finish", second)
        time.sleep(1.5)  # and a little more: nothing runs it a second time
    finally:
        second.terminate()
        try:
            second.wait(15)
        except subprocess.TimeoutExpired:
            second.kill()
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE, job.error
    assert (job.total, job.processed) == (ROWS, ROWS)
    assert {"added": job.added, "duplicates": job.duplicates, "invalid": job.invalid} == expected
    assert MacLibraryEntry.objects.filter(installer=installer).count() == expected["added"]
    assert MacLibraryEntry.objects.filter(installer=other).count() == len(other_macs)
    assert MacLibraryEntry.objects.count() == expected["added"] + len(other_macs)
    assert len(job.report) == ROWS and job.percent == 100

    # The same file imported by one uninterrupted run (into an emptied library) reports the same.
    MacLibraryEntry.objects.filter(installer=installer).delete()
    again = services.mac_import_start(acting_user=installer, data=data, file_name="100k.csv")
    mac_import_task(again.pk)
    again.refresh_from_db()
    assert again.status == ImportStatus.DONE
    assert (again.added, again.duplicates, again.invalid) == (job.added, job.duplicates, job.invalid)
    assert again.report == job.report


if __name__ == "__main__":
    import pathlib

    import django

    django.setup()

    from entryway.devices import services

    _original = services._insert_batch
    _calls = {"n": 0}

    def _pause_before_commit(*args, **kwargs):
        result = _original(*args, **kwargs)
        _calls["n"] += 1
        if _calls["n"] == PAUSE_AT_BATCH:
            pathlib.Path(os.environ["ENTRYWAY_FAULT_PAUSE_FILE"]).write_text("batch written, not committed")
            time.sleep(600)
        return result

    services._insert_batch = _pause_before_commit

    from django.utils.module_loading import autodiscover_modules
    from huey.contrib.djhuey import HUEY

    autodiscover_modules("tasks")  # as run_huey does
    from entryway.devices.tasks import mac_import_task

    mac_import_task(int(os.environ["ENTRYWAY_FAULT_IMPORT"]))
    HUEY.create_consumer(workers=1, periodic=True, check_worker_health=False).run()
