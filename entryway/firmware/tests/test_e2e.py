"""End to end: 100 simulated devices (entryway.sim) upgrade themselves over the real device protocol."""
from __future__ import annotations

import time

import pytest

from entryway.devices.models import IntercomDevice
from entryway.firmware import services
from entryway.firmware.choices import StrategyStatus, TargetState
from entryway.firmware.models import UpdateStrategy, UpgradeTarget

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

N = 100


@pytest.fixture
def fleet_devices(installer, make_device):
    return [make_device(installer, version="29.30.2.800", location=f"Door {i}") for i in range(N)]


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_hundred_simulated_devices_upgrade_with_failures(live_server, settings, installer, make_firmware,
                                                         fleet_devices, client):
    from entryway.sim import DeviceSpec, Fleet, FleetThread

    settings.PUBLIC_BASE_URL = live_server.url
    fw = make_firmware("29.30.2.805", content=b"\x7fFW" + bytes(range(256)) * 200)
    specs = [DeviceSpec(mac=d.mac, secret=d.device_secret, model="R29", firmware="29.30.2.800")
             for d in fleet_devices]
    fleet = Fleet(live_server.url, specs, poll_interval=1, fail_rate=0.2, seed=5, mqtt=False,
                  install_seconds=0.05, reboot_seconds=0.2, ramp=0.5)
    with FleetThread(fleet) as runner:
        runner.wait_until(lambda f: sum(d.online for d in f.devices.values()) == N, timeout=30)
        strategy = services.strategy_create(acting_user=installer, firmware=fw,
                                            device_ids=[d.pk for d in fleet_devices], upgrade_right_now=True)
        # "Upgrade Right Now" starts after the commit (the task runs inline in tests)
        _wait(lambda: UpdateStrategy.objects.get(pk=strategy.pk).status != StrategyStatus.PENDING, 10, "the start")
        # about 10 s on an idle machine; the margin is for a busy one
        _wait(lambda: UpdateStrategy.objects.get(pk=strategy.pk).status == StrategyStatus.EXECUTED, 90,
              "every device to report")
        device_results = {
            d.mac: next((r.status for r in reversed(d.results) if r.kind == "upgrade" and r.status != "proceeding"),
                        None)
            for d in fleet.devices.values()
        }
        runner.wait_until(lambda f: all(d.firmware == "29.30.2.805" for d in f.devices.values()
                                        if device_results[d.mac] == "success"), timeout=5)

    counts = services.strategy_counts(strategy)
    failed_macs = {mac for mac, status in device_results.items() if status == "failure"}
    assert counts["total"] == counts["final"] == N
    assert counts["succeeded"] == N - len(failed_macs) and counts["failed"] == len(failed_macs)
    assert 5 <= len(failed_macs) <= 40  # the simulator's 20 % fail rate
    assert set(UpgradeTarget.objects.filter(state=TargetState.FAILED).values_list("mac", flat=True)) == failed_macs
    assert set(UpgradeTarget.objects.filter(state=TargetState.FAILED).values_list("detail", flat=True)) == {
        "installation failed: flash write error"}
    # every device went through downloading and installing before its result
    for device in list(fleet.devices.values())[:10]:
        stages = [r.stage for r in device.results if r.kind == "upgrade" and r.status == "proceeding"]
        assert stages[:2] == ["downloading", "installing"], stages

    # The Device list (the installer's devices) shows the new versions; failed ones keep the old.
    versions = dict(IntercomDevice.objects.visible_to(installer).values_list("mac", "firmware_version"))
    assert {mac for mac, v in versions.items() if v == "29.30.2.805"} == set(versions) - failed_macs
    assert {versions[mac] for mac in failed_macs} <= {"29.30.2.800"}
    client.force_login(installer)
    detail = client.get(f"/updates/{strategy.pk}/").content.decode()
    assert "Executed" in detail and f"{N} of {N} devices done" in detail


def test_file_changed_after_upload_fails_with_sha256_mismatch(live_server, settings, installer, make_firmware,
                                                              fleet_devices, media_root):
    from entryway.sim import DeviceSpec, Fleet, FleetThread

    settings.PUBLIC_BASE_URL = live_server.url
    fw = make_firmware("29.30.2.806", content=b"good image " * 1000)
    # the stored file no longer matches what was uploaded (same size, other bytes)
    (media_root / fw.file.name).write_bytes(b"evil image " * 1000)
    device = fleet_devices[0]
    fleet = Fleet(live_server.url, [DeviceSpec(mac=device.mac, secret=device.device_secret, firmware="29.30.2.800")],
                  poll_interval=0.5,
                  mqtt=False, install_seconds=0.05, reboot_seconds=0.2)
    with FleetThread(fleet):
        strategy = services.strategy_create(acting_user=installer, firmware=fw, device_ids=[device.pk],
                                            upgrade_right_now=True)
        _wait(lambda: UpdateStrategy.objects.get(pk=strategy.pk).status == StrategyStatus.EXECUTED, 45,
              "the device to report")
    target = UpgradeTarget.objects.get(strategy=strategy)
    assert target.state == TargetState.FAILED and target.detail == "sha256 mismatch"
    device.refresh_from_db()
    assert device.firmware_version == "29.30.2.800"
