"""A Huey consumer killed (SIGKILL) in the middle of a firmware rollout, then restarted as the
scheduler is run in production, finishes the rollout with exactly one upgrade action per device."""
from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys
import time

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.utils import timezone

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
DEVICES = 12

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def rollout(installer, make_resident, admin_account):
    """A due strategy for DEVICES connected devices, not started yet (the scheduler's tick starts it)."""
    from entryway.devices.models import IntercomDevice
    from entryway.devices.services import device_create, mac_add
    from entryway.firmware.models import UpdateStrategy
    from entryway.firmware.services import firmware_upload, strategy_create

    owner = make_resident(installer, name="Ryan")
    devices = []
    for n in range(DEVICES):
        mac = f"0C1105EE{n:04X}"
        mac_add(acting_user=installer, mac=mac)
        devices.append(device_create(acting_user=installer, owner=owner, device_model="R29", mac=mac,
                                     location=f"Gate {n}"))
    IntercomDevice.objects.filter(pk__in=[d.pk for d in devices]).update(
        last_seen_at=timezone.now(), firmware_version="29.30.1.1")
    from entryway.devices.models import DeviceModel

    firmware = firmware_upload(acting_user=admin_account, file=ContentFile(b"ENTRYWAY-FW\x00" + b"\x02" * 4096,
                                                                            name="R29.rom"),
                               version="29.30.9.950", device_models=[DeviceModel.objects.get(name="R29")])
    strategy = strategy_create(acting_user=installer, firmware=firmware, device_ids=[d.pk for d in devices],
                               scheduled_at=timezone.now() + datetime.timedelta(hours=1))
    UpdateStrategy.objects.filter(pk=strategy.pk).update(scheduled_at=timezone.now() - datetime.timedelta(seconds=1))
    return strategy, devices


def _env(tmp_path) -> dict:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "entryway.core.tests.consumer_settings",
           "ENTRYWAY_FAULT_DB_NAME": str(connection.settings_dict["NAME"]),
           "ENTRYWAY_FAULT_QUEUE": str(tmp_path / "queue.sqlite3"),
           "ENTRYWAY_FAULT_PAUSE_FILE": str(tmp_path / "paused")}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return env


def _wait(predicate, timeout: float, what: str, proc=None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the consumer exited ({proc.returncode}) before {what}: {proc.stdout.read()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _upgrade_actions(devices) -> dict[int, int]:
    from django.db.models import Count

    from entryway.deviceapi.models import DeviceAction

    rows = (DeviceAction.objects.filter(device__in=[d.pk for d in devices], kind="upgrade")
            .values("device_id").annotate(n=Count("pk")))
    return {row["device_id"]: row["n"] for row in rows}


def kill_when_paused(module: str, env: dict, tmp_path, timeout: float, what: str) -> None:
    """Run ``module`` as a consumer process and SIGKILL it once it has written ``tmp_path/paused``."""
    first = subprocess.Popen([sys.executable, "-m", module], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait((tmp_path / "paused").exists, timeout, what, first)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()


def test_consumer_killed_mid_rollout_restarts_and_sends_each_device_one_upgrade(rollout, tmp_path):
    from entryway.firmware.choices import StrategyStatus
    from entryway.firmware.models import UpdateStrategy, UpgradeTarget

    strategy, devices = rollout
    env = _env(tmp_path)
    kill_when_paused("entryway.core.tests.fault_consumer", env, tmp_path, 90, "the rollout's first wave")
    # Killed inside the transaction: nothing of the start survived.
    assert _upgrade_actions(devices) == {}
    assert UpdateStrategy.objects.get(pk=strategy.pk).status == StrategyStatus.PENDING

    env.pop("ENTRYWAY_FAULT_PAUSE_FILE")
    # The scheduler as deployed (docs/operations.md): its tick's lock, left by the killed process, is flushed.
    second = subprocess.Popen([sys.executable, "manage.py", "run_huey", "--workers", "1", "--flush-locks"], cwd=ROOT,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait(lambda: not UpgradeTarget.objects.filter(strategy=strategy, action__isnull=True).exists(), 120,
              "the restarted consumer to send the first wave", second)
        time.sleep(1.5)  # and a little more: a second tick must not send anything again
    finally:
        second.terminate()
        try:
            second.wait(15)
        except subprocess.TimeoutExpired:
            second.kill()
    assert UpdateStrategy.objects.get(pk=strategy.pk).status == StrategyStatus.PROCESSING
    assert _upgrade_actions(devices) == {d.pk: 1 for d in devices}
