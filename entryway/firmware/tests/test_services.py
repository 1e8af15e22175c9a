"""The rollout engine: scheduling with a controlled clock, state transitions, thresholds, bad input."""
from __future__ import annotations

import datetime
import hashlib

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.utils import timezone

from entryway.deviceapi.choices import ActionStatus
from entryway.deviceapi.models import DeviceAction
from entryway.deviceapi.services import action_record_result
from entryway.devices.models import IntercomDevice
from entryway.firmware import services
from entryway.firmware.choices import StrategyStatus, TargetState
from entryway.firmware.models import Firmware, UpdateStrategy, UpgradeTarget

pytestmark = pytest.mark.django_db


def report(target, *steps):
    """What a device does with its upgrade action: the protocol's result reports, in order."""
    target.refresh_from_db()
    action = target.action
    assert action is not None, "the device has no upgrade action"
    for step in steps:
        status, _, stage = step.partition(":")
        action_record_result(action=action, status=status, stage=stage,
                             detail="sha256 mismatch" if status == "failure" else "")
    target.refresh_from_db()
    return target


def upgrade_ok(target):
    return report(target, "proceeding:downloading", "proceeding:installing", "success")


# --------------------------------------------------------------------------- catalog

def test_upload_stores_file_with_size_and_sha256(make_firmware, media_root):
    content = b"\x7fELF" + b"x" * 70_000
    fw = make_firmware("29.30.2.805", content=content)
    assert fw.size == len(content) and fw.sha256 == hashlib.sha256(content).hexdigest()
    stored = media_root / fw.file.name
    assert stored.read_bytes() == content
    assert [m.name for m in fw.device_models.all()] == ["R29"]


@pytest.mark.parametrize("version", ["29.30", "v29.30.2.805", "29.30.2.805.1.2", "", "29..30.2"])
def test_upload_refuses_bad_versions(make_firmware, version):
    with pytest.raises(ValidationError) as exc:
        make_firmware(version)
    assert "version" in exc.value.message_dict


def test_upload_refuses_duplicates_empty_files_and_non_admins(make_firmware, installer, device_model, media_root):
    make_firmware("29.30.2.805")
    with pytest.raises(ValidationError) as exc:
        make_firmware("29.30.2.805")
    assert "already in the catalog" in exc.value.message_dict["version"][0]
    with pytest.raises(ValidationError) as exc:
        make_firmware("29.30.2.806", content=b"")
    assert "file" in exc.value.message_dict
    with pytest.raises(PermissionDenied):
        services.firmware_upload(acting_user=installer, file=ContentFile(b"x", name="a.bin"), version="29.30.2.807",
                                 device_models=[device_model()])
    # nothing of the refused uploads is left on disk
    assert len(list((media_root / "firmware").iterdir())) == 1


def test_firmware_in_use_cannot_be_deleted(make_firmware, make_device, installer, admin_account, later):
    fw = make_firmware()
    device = make_device(installer)
    services.strategy_create(acting_user=installer, firmware=fw, device_ids=[device.pk], scheduled_at=later)
    with pytest.raises(ValidationError, match="used by 1 update strategy"):
        services.firmware_delete(acting_user=admin_account, firmware=fw)
    unused = make_firmware("29.30.2.806")
    services.firmware_delete(acting_user=admin_account, firmware=unused)
    assert not Firmware.objects.filter(pk=unused.pk).exists()


def test_download_token_round_trip_and_tamper():
    assert services.firmware_from_token("nonsense") is None
    fw = Firmware(pk=42)
    assert services.firmware_from_token(services.firmware_file_token(fw)) == 42
    assert services.firmware_from_token(services.firmware_file_token(fw) + "x") is None


# --------------------------------------------------------------------------- creation and bad input

def test_create_makes_one_target_per_device_in_waves(make_firmware, make_device, installer, later):
    fw = make_firmware()
    devices = [make_device(installer) for _ in range(10)]
    strategy = services.strategy_create(acting_user=installer, firmware=fw, device_ids=[d.pk for d in devices],
                                        scheduled_at=later, waves="10, 50", success_threshold=100)
    assert strategy.status == StrategyStatus.PENDING and strategy.device_count == 10
    assert strategy.waves == [10, 50, 100]
    assert strategy.device_model.name == "R29" and strategy.version == "29.30.2.805"
    waves = list(UpgradeTarget.objects.filter(strategy=strategy).order_by("device_id").values_list("wave", flat=True))
    assert waves == [0, 1, 1, 1, 1, 2, 2, 2, 2, 2]
    assert not DeviceAction.objects.exists()  # nothing reaches a device before the Upgrade Time


def test_bad_input_is_refused_with_reasons(make_firmware, make_device, installer, other_installer, later,
                                           device_model):
    fw = make_firmware("29.30.2.805", models=("R29",))
    it82_fw = make_firmware("82.30.2.622", models=("IT82",))
    r29 = make_device(installer, model="R29")
    it82 = make_device(installer, model="IT82")
    theirs = make_device(other_installer, model="R29")
    never = make_device(installer, model="R29", seen=False)

    def refused(field, **kwargs):
        args = {"acting_user": installer, "firmware": fw, "device_ids": [r29.pk], "scheduled_at": later} | kwargs
        with pytest.raises(ValidationError) as exc:
            services.strategy_create(**args)
        assert field in exc.value.message_dict, exc.value.message_dict
        return " ".join(exc.value.message_dict[field])

    assert "not a firmware for the R29" in refused("firmware", firmware=it82_fw, device_model="R29")
    assert "Not a R29" in refused("device_ids", device_ids=[r29.pk, it82.pk])
    assert "not your devices" in refused("device_ids", device_ids=[r29.pk, theirs.pk]) or \
        "not one of your devices" in refused("device_ids", device_ids=[r29.pk, theirs.pk])
    assert "Never connected" in refused("device_ids", device_ids=[never.pk])
    assert "past" in refused("scheduled_at", scheduled_at=timezone.now() - datetime.timedelta(minutes=1))
    assert "Upgrade Time" in refused("scheduled_at", scheduled_at=None)
    assert "at least one" in refused("device_ids", device_ids=[])
    assert "grow" in refused("waves", waves="50, 10")
    assert refused("success_threshold", success_threshold=0)
    assert "no model X999" in refused("device_model", device_model="X999")
    device_model("X916")
    assert "no X916 devices" in refused("device_model", device_model="X916")
    assert not UpdateStrategy.objects.exists()
    with pytest.raises(PermissionDenied):
        services.strategy_create(acting_user=other_installer.parent, firmware=fw, device_ids=[r29.pk],
                                 scheduled_at=later)


def test_no_device_gets_two_upgrades(make_firmware, make_device, installer, later):
    fw = make_firmware()
    a, b = make_device(installer), make_device(installer)
    first = services.strategy_create(acting_user=installer, firmware=fw, device_ids=[a.pk], scheduled_at=later)
    with pytest.raises(ValidationError, match=a.mac):
        services.strategy_create(acting_user=installer, firmware=fw, device_ids=[a.pk, b.pk], scheduled_at=later)
    # the database refuses it too, whatever path a write takes
    from django.db import IntegrityError, transaction

    other = UpdateStrategy.objects.create(installer=installer, firmware=fw, device_model=first.device_model,
                                          version=fw.version, scheduled_at=later)
    with pytest.raises(IntegrityError), transaction.atomic():
        UpgradeTarget.objects.create(strategy=other, device=a, mac=a.mac)
    # once the first is finished, the device is free again
    services.strategy_cancel(acting_user=installer, strategy=first)
    services.strategy_create(acting_user=installer, firmware=fw, device_ids=[a.pk, b.pk], scheduled_at=later)


# --------------------------------------------------------------------------- scheduling with a controlled clock

def test_strategy_starts_at_its_time_and_not_before(make_firmware, make_device, installer):
    fw = make_firmware()
    devices = [make_device(installer) for _ in range(3)]
    with time_machine.travel(datetime.datetime(2026, 3, 1, 8, 0, tzinfo=datetime.UTC), tick=False):
        at = timezone.now() + datetime.timedelta(hours=1)
        strategy = services.strategy_create(acting_user=installer, firmware=fw, device_ids=[d.pk for d in devices],
                                            scheduled_at=at)
        assert services.strategies_run_due() == {"started": 0, "expired": 0, "checked": 0}
    with time_machine.travel(datetime.datetime(2026, 3, 1, 8, 59, 59, tzinfo=datetime.UTC), tick=False):
        services.strategies_run_due()
        strategy.refresh_from_db()
        assert strategy.status == StrategyStatus.PENDING
    with time_machine.travel(datetime.datetime(2026, 3, 1, 9, 0, 30, tzinfo=datetime.UTC), tick=False):
        assert services.strategies_run_due()["started"] == 1
        assert services.strategies_run_due()["started"] == 0  # idempotent
    strategy.refresh_from_db()
    assert strategy.status == StrategyStatus.PROCESSING
    actions = DeviceAction.objects.filter(kind="upgrade")
    assert actions.count() == 3
    payload = actions.first().payload
    assert payload["version"] == "29.30.2.805" and payload["sha256"] == fw.sha256 and payload["size"] == fw.size
    assert payload["url"].startswith("http://testserver/firmware/files/")
    action = actions.first()
    assert action.expires_at == datetime.datetime(2026, 3, 2, 9, 0, 30, tzinfo=datetime.UTC)


def test_upgrade_right_now_starts_after_commit(make_firmware, make_device, installer,
                                               django_capture_on_commit_callbacks):
    fw = make_firmware()
    device = make_device(installer)
    with django_capture_on_commit_callbacks(execute=True):
        strategy = services.strategy_create(acting_user=installer, firmware=fw, device_ids=[device.pk],
                                            upgrade_right_now=True)
    strategy.refresh_from_db()
    assert strategy.status == StrategyStatus.PROCESSING
    assert UpgradeTarget.objects.get().action.device == device


# --------------------------------------------------------------------------- state transitions

def test_device_states_through_to_executed(make_firmware, make_device, installer):
    fw = make_firmware()
    ok, bad, same = make_device(installer), make_device(installer), make_device(installer, version="29.30.2.805")
    strategy = services.strategy_create(acting_user=installer, firmware=fw, device_ids=[ok.pk, bad.pk, same.pk],
                                        upgrade_right_now=True)
    services.strategy_start(strategy_id=strategy.pk)
    t_ok, t_bad, t_same = (UpgradeTarget.objects.get(device=d) for d in (ok, bad, same))
    assert t_same.state == TargetState.SKIPPED and t_same.action is None
    assert t_ok.state == TargetState.WAITING
    assert report(t_ok, "proceeding:downloading").state == TargetState.DOWNLOADING
    assert report(t_ok, "proceeding:installing").state == TargetState.INSTALLING
    assert report(t_ok, "success").state == TargetState.SUCCEEDED
    ok.refresh_from_db()
    assert ok.firmware_version == "29.30.2.805"
    strategy.refresh_from_db()
    assert strategy.status == StrategyStatus.PROCESSING
    t_bad = report(t_bad, "proceeding:downloading", "failure")
    assert t_bad.state == TargetState.FAILED and t_bad.detail == "sha256 mismatch"
    bad.refresh_from_db()
    assert bad.firmware_version == "29.30.2.800"
    strategy.refresh_from_db()
    assert strategy.status == StrategyStatus.EXECUTED and strategy.finished_at
    counts = services.strategy_counts(strategy)
    assert (counts["succeeded"], counts["failed"], counts["skipped"], counts["final"]) == (1, 1, 1, 3)
    # a repeated report changes nothing
    action_record_result(action=t_ok.action, status="failure")
    assert UpgradeTarget.objects.get(pk=t_ok.pk).state == TargetState.SUCCEEDED


def test_offline_device_is_not_reached_after_the_deadline(make_firmware, make_device, installer, settings):
    settings.FIRMWARE_UPGRADE_DEADLINE_SECONDS = 3600
    fw = make_firmware()
    online, offline = make_device(installer), make_device(installer)
    start = datetime.datetime(2026, 5, 1, 10, 0, tzinfo=datetime.UTC)
    with time_machine.travel(start, tick=False):
        strategy = services.strategy_create(acting_user=installer, firmware=fw, device_ids=[online.pk, offline.pk],
                                            upgrade_right_now=True)
        services.strategy_start(strategy_id=strategy.pk)
        upgrade_ok(UpgradeTarget.objects.get(device=online))
    with time_machine.travel(start + datetime.timedelta(minutes=59), tick=False):
        assert services.strategies_run_due()["expired"] == 0
    with time_machine.travel(start + datetime.timedelta(minutes=61), tick=False):
        assert services.strategies_run_due()["expired"] == 1
    target = UpgradeTarget.objects.get(device=offline)
    assert target.state == TargetState.NOT_REACHED and not target.active
    assert target.action.status == ActionStatus.CANCELLED  # the device will not get it any more
    strategy.refresh_from_db()
    assert strategy.status == StrategyStatus.EXECUTED


# --------------------------------------------------------------------------- staged rollouts and thresholds

def _staged(make_firmware, make_device, installer, n=10, **kwargs):
    fw = make_firmware()
    devices = [make_device(installer) for _ in range(n)]
    strategy = services.strategy_create(acting_user=installer, firmware=fw, device_ids=[d.pk for d in devices],
                                        upgrade_right_now=True, **kwargs)
    services.strategy_start(strategy_id=strategy.pk)
    strategy.refresh_from_db()
    return strategy


def _wave(strategy, n):
    return list(UpgradeTarget.objects.filter(strategy=strategy, wave=n).order_by("pk"))


def test_next_wave_starts_only_at_the_success_threshold(make_firmware, make_device, installer):
    strategy = _staged(make_firmware, make_device, installer, waves="20, 60", success_threshold=50)
    assert strategy.current_wave == 0
    assert DeviceAction.objects.count() == 2  # wave 1: 20 % of 10
    w0 = _wave(strategy, 0)
    report(w0[0], "proceeding:downloading", "failure")
    strategy.refresh_from_db()
    assert strategy.current_wave == 0 and DeviceAction.objects.count() == 2
    upgrade_ok(w0[1])  # 1 of 2 = 50 %: the threshold is reached
    strategy.refresh_from_db()
    assert strategy.current_wave == 1 and DeviceAction.objects.count() == 6
    for target in _wave(strategy, 1):
        upgrade_ok(target)
    strategy.refresh_from_db()
    assert strategy.current_wave == 2 and DeviceAction.objects.count() == 10
    for target in _wave(strategy, 2):
        upgrade_ok(target)
    strategy.refresh_from_db()
    assert strategy.status == StrategyStatus.EXECUTED
    counts = services.strategy_counts(strategy)
    assert counts["succeeded"] == 9 and counts["failed"] == 1


def test_error_threshold_pauses_and_resume_goes_on(make_firmware, make_device, installer):
    strategy = _staged(make_firmware, make_device, installer, waves="40", success_threshold=100, error_threshold=25)
    w0 = _wave(strategy, 0)
    assert len(w0) == 4
    report(w0[0], "failure")  # 1 of 4 = 25 %: not above
    strategy.refresh_from_db()
    assert strategy.status == StrategyStatus.PROCESSING
    report(w0[1], "failure")  # 2 of 4 = 50 %: above 25 %
    strategy.refresh_from_db()
    assert strategy.status == StrategyStatus.PAUSED and "error threshold" in strategy.pause_reason
    # devices already under way still report while paused; no new wave starts
    upgrade_ok(w0[2])
    strategy.refresh_from_db()
    assert strategy.status == StrategyStatus.PAUSED and DeviceAction.objects.count() == 4
    services.strategy_resume(acting_user=installer, strategy=strategy)
    strategy.refresh_from_db()
    assert strategy.status == StrategyStatus.PROCESSING and strategy.current_wave == 1
    assert DeviceAction.objects.count() == 10


def test_wave_below_success_threshold_pauses_when_done(make_firmware, make_device, installer):
    strategy = _staged(make_firmware, make_device, installer, waves="20", success_threshold=100)
    a, b = _wave(strategy, 0)
    upgrade_ok(a)
    report(b, "failure")
    strategy.refresh_from_db()
    assert strategy.status == StrategyStatus.PAUSED and "success threshold" in strategy.pause_reason


def test_retry_failed_devices(make_firmware, make_device, installer):
    strategy = _staged(make_firmware, make_device, installer, n=2)
    a, b = _wave(strategy, 0)
    upgrade_ok(a)
    report(b, "proceeding:downloading", "failure")
    strategy.refresh_from_db()
    assert strategy.status == StrategyStatus.EXECUTED
    old_action = UpgradeTarget.objects.get(pk=b.pk).action_id
    assert services.strategy_retry(acting_user=installer, strategy=strategy) == 1
    strategy.refresh_from_db()
    b.refresh_from_db()
    assert strategy.status == StrategyStatus.PROCESSING
    assert b.state == TargetState.WAITING and b.action_id != old_action and b.attempts == 2
    upgrade_ok(b)
    strategy.refresh_from_db()
    assert strategy.status == StrategyStatus.EXECUTED
    assert services.strategy_counts(strategy)["succeeded"] == 2
    with pytest.raises(ValidationError, match="No failed device"):
        services.strategy_retry(acting_user=installer, strategy=strategy)


def test_cancel_gives_nothing_to_devices_not_started(make_firmware, make_device, installer):
    strategy = _staged(make_firmware, make_device, installer, n=10, waves="50", success_threshold=100)
    w0 = _wave(strategy, 0)
    report(w0[0], "proceeding:downloading")
    services.strategy_cancel(acting_user=installer, strategy=strategy)
    strategy.refresh_from_db()
    assert strategy.status == StrategyStatus.CANCELLED
    assert DeviceAction.objects.count() == 5  # the second wave never got actions
    states = dict(UpgradeTarget.objects.filter(pk=w0[1].pk).values_list("state", "action__status"))
    assert states == {TargetState.CANCELLED: ActionStatus.CANCELLED}
    # the device already downloading finishes and its result is kept
    assert upgrade_ok(w0[0]).state == TargetState.SUCCEEDED
    assert UpgradeTarget.objects.filter(strategy=strategy, state=TargetState.CANCELLED).count() == 9
    with pytest.raises(ValidationError, match="already Cancelled"):
        services.strategy_cancel(acting_user=installer, strategy=strategy)


def test_pause_stops_the_next_wave(make_firmware, make_device, installer):
    strategy = _staged(make_firmware, make_device, installer, n=4, waves="50", success_threshold=50)
    services.strategy_pause(acting_user=installer, strategy=strategy)
    for target in _wave(strategy, 0):
        upgrade_ok(target)
    strategy.refresh_from_db()
    assert strategy.status == StrategyStatus.PAUSED and DeviceAction.objects.count() == 2
    with pytest.raises(ValidationError):
        services.strategy_pause(acting_user=installer, strategy=strategy)


# --------------------------------------------------------------------------- edit and delete

def test_edit_while_pending_and_refused_after_start(make_firmware, make_device, installer, later):
    fw = make_firmware()
    newer = make_firmware("29.30.2.806")
    a, b = make_device(installer), make_device(installer)
    strategy = services.strategy_create(acting_user=installer, firmware=fw, device_ids=[a.pk], scheduled_at=later)
    edited = services.strategy_update(acting_user=installer, strategy=strategy, firmware=newer,
                                      device_ids=[a.pk, b.pk], scheduled_at=later + datetime.timedelta(hours=1))
    assert edited.version == "29.30.2.806" and edited.device_count == 2
    assert set(UpgradeTarget.objects.filter(strategy=strategy).values_list("device_id", flat=True)) == {a.pk, b.pk}
    services.strategy_start(strategy_id=strategy.pk, now=later + datetime.timedelta(hours=2))
    with pytest.raises(ValidationError) as exc:
        services.strategy_update(acting_user=installer, strategy=strategy, firmware=fw, device_ids=[a.pk],
                                 scheduled_at=later + datetime.timedelta(hours=3))
    assert "Processing: only a Pending strategy can be edited" in exc.value.message_dict["__all__"][0]


def test_delete_pending_removes_it_and_finished_keeps_history(make_firmware, make_device, installer, later):
    fw = make_firmware()
    a = make_device(installer)
    pending = services.strategy_create(acting_user=installer, firmware=fw, device_ids=[a.pk], scheduled_at=later)
    services.strategy_delete(acting_user=installer, strategy=pending)
    assert not UpdateStrategy.objects.filter(pk=pending.pk).exists()
    done = _staged(make_firmware=lambda: fw, make_device=lambda i: a, installer=installer, n=1)
    upgrade_ok(_wave(done, 0)[0])
    done.refresh_from_db()
    assert done.status == StrategyStatus.EXECUTED
    services.strategy_delete(acting_user=installer, strategy=done)
    assert not UpdateStrategy.objects.visible_to(installer).exists()
    history = UpgradeTarget.objects.filter(device=a).get()
    assert history.state == TargetState.SUCCEEDED and history.strategy.deleted_at is not None


def test_running_strategy_cannot_be_deleted(make_firmware, make_device, installer):
    strategy = _staged(make_firmware, make_device, installer, n=1)
    with pytest.raises(ValidationError, match="cancel it before deleting"):
        services.strategy_delete(acting_user=installer, strategy=strategy)


def test_device_list_shows_new_version(make_firmware, make_device, installer):
    strategy = _staged(make_firmware, make_device, installer, n=3)
    for target in _wave(strategy, 0):
        upgrade_ok(target)
    assert set(IntercomDevice.objects.values_list("firmware_version", flat=True)) == {"29.30.2.805"}
