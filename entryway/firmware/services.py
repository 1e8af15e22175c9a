"""Writes of the Firmware and Update modules.

The firmware catalog belongs to the platform admin. Update strategies belong to an installer:
each has one ``UpgradeTarget`` row per device, created in bulk. When a strategy starts (at its
Upgrade Time, by the periodic task or at once for "Upgrade Right Now"), each wave's devices get an
``upgrade`` device action in one insert; what the devices report comes back through
``upgrade_results_record`` (registered as the deviceapi result handler for "upgrade").
"""
from __future__ import annotations

import datetime
import hashlib
import itertools
import math
import pathlib
import shutil
import uuid
from collections.abc import Iterable

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Count, F, Max, OuterRef, Q, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from entryway.core import rawsql
from entryway.core.audit import audit, snapshot
from entryway.core.uploads import refuse_document
from entryway.deviceapi.choices import ActionStatus
from entryway.deviceapi.models import DeviceAction
from entryway.deviceapi.services import action_cancel, actions_bulk_create
from entryway.devices.models import DeviceModel, IntercomDevice
from entryway.firmware.choices import (
    BAD_TARGET_STATES,
    FINAL_TARGET_STATES,
    GOOD_TARGET_STATES,
    MAX_WAVES,
    OPEN_TARGET_STATES,
    StrategyStatus,
    TargetState,
)
from entryway.firmware.models import Firmware, UpdateStrategy, UpgradeTarget, validate_firmware_version

FILE_SALT = "entryway.firmware.file"
CHUNK = 2000  # rows per statement for large IN lists and bulk inserts


# --------------------------------------------------------------------------- firmware catalog

def _require_admin(user) -> None:
    if getattr(user, "role", None) != "admin":
        raise PermissionDenied(_("Only the platform admin manages the firmware catalog."))


def firmware_upload(*, acting_user, file, version: str, device_models: Iterable, version_log: str = "") -> Firmware:
    """Store a firmware file under MEDIA_ROOT; its size and sha256 are computed while it is written."""
    _require_admin(acting_user)
    errors: dict[str, list[str]] = {}
    version = (version or "").strip()
    try:
        validate_firmware_version(version)
    except ValidationError as exc:
        errors["version"] = exc.messages
    else:
        if Firmware.objects.filter(version=version).exists():
            errors["version"] = [_("Version %(version)s is already in the catalog.") % {"version": version}]
    model_ids = [getattr(m, "pk", m) for m in device_models or []]
    found = list(DeviceModel.objects.filter(pk__in=model_ids)) if model_ids else []
    if not found or len(found) != len(set(model_ids)):
        errors["device_models"] = [_("Choose the model(s) this firmware is for.")]
    version_log = (version_log or "").strip()
    if len(version_log) > 5000:
        errors["version_log"] = [_("The version log has at most 5000 characters.")]
    if file is None or not getattr(file, "name", ""):
        errors["file"] = [_("Choose the firmware file.")]
    if errors:
        raise ValidationError(errors)
    refuse_document(file.read(512))  # by content, not by name
    file.seek(0)

    filename = get_valid_filename(pathlib.PurePath(file.name).name)[:150] or "firmware.bin"
    relative = f"firmware/{uuid.uuid4().hex}/{filename}"
    path = pathlib.Path(settings.MEDIA_ROOT) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    limit = settings.FIRMWARE_MAX_SIZE_MB * 1024 * 1024
    digest, size = hashlib.sha256(), 0
    try:
        with open(path, "wb") as out:
            for chunk in file.chunks():
                size += len(chunk)
                if size > limit:
                    raise ValidationError({"file": [
                        _("The file is larger than %(mb)s MB.") % {"mb": settings.FIRMWARE_MAX_SIZE_MB}]})
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise ValidationError({"file": [_("The file is empty.")]})
        with transaction.atomic():
            firmware = Firmware(version=version, version_log=version_log, file=relative, filename=filename,
                                size=size, sha256=digest.hexdigest(), uploaded_by=acting_user)
            firmware.full_clean()
            firmware.save()
            firmware.device_models.set(found)
            audit(acting_user=acting_user, action="firmware.upload", obj=firmware,
                  after={**snapshot(firmware, ["version", "version_log", "filename", "size", "sha256"]),
                         "models": [m.name for m in found]})
    except BaseException:
        shutil.rmtree(path.parent, ignore_errors=True)
        raise
    return firmware


def firmware_delete(*, acting_user, firmware: Firmware) -> None:
    """Remove a firmware that no update strategy uses (its file goes with it)."""
    _require_admin(acting_user)
    used = UpdateStrategy.objects.filter(firmware=firmware).count()
    if used:
        raise ValidationError(ngettext(
            "Version %(version)s is used by %(n)d update strategy and cannot be deleted.",
            "Version %(version)s is used by %(n)d update strategies and cannot be deleted.", used,
        ) % {"version": firmware.version, "n": used})
    path = pathlib.Path(settings.MEDIA_ROOT) / firmware.file.name
    with transaction.atomic():
        audit(acting_user=acting_user, action="firmware.delete", obj=firmware,
              before=snapshot(firmware, ["version", "filename", "size", "sha256"]))
        firmware.delete()
        transaction.on_commit(lambda: _remove_file(path))


def _remove_file(path: pathlib.Path) -> None:
    """Each upload has its own directory under MEDIA_ROOT/firmware/; it goes with the file."""
    root = pathlib.Path(settings.MEDIA_ROOT) / "firmware"
    if path.parent != root and root in path.parents:
        shutil.rmtree(path.parent, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def firmware_file_token(firmware: Firmware) -> str:
    return signing.dumps({"f": firmware.pk}, salt=FILE_SALT)


def firmware_from_token(token: str) -> int | None:
    """The firmware id a download token was signed for, or None (bad signature or too old)."""
    try:
        data = signing.loads(token, salt=FILE_SALT, max_age=settings.FIRMWARE_URL_MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    value = data.get("f") if isinstance(data, dict) else None
    return value if isinstance(value, int) else None


def firmware_file_url(firmware: Firmware) -> str:
    """The absolute URL a device downloads the file from (signed, no session needed)."""
    path = reverse("firmware:file", kwargs={"token": firmware_file_token(firmware), "filename": firmware.filename})
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


def upgrade_payload(firmware: Firmware) -> dict:
    return {"version": firmware.version, "url": firmware_file_url(firmware), "sha256": firmware.sha256,
            "size": firmware.size}


# --------------------------------------------------------------------------- strategies: validation

def deadline() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.FIRMWARE_UPGRADE_DEADLINE_SECONDS)


def normalize_waves(raw) -> list[int]:
    """'10, 50, 100' or [10, 50] → [10, 50, 100]; empty → [100] (one wave)."""
    if raw in (None, "", []):
        return [100]
    if isinstance(raw, str):
        parts = [p.strip().rstrip("%") for p in raw.replace(";", ",").replace("→", ",").split(",") if p.strip()]
    else:
        parts = list(raw)
    try:
        values = [int(p) for p in parts]
    except (TypeError, ValueError):
        raise ValidationError({"waves": [_("Waves are percentages separated by commas, e.g. 10, 50, 100.")]})
    if not values:
        return [100]
    if any(v < 1 or v > 100 for v in values):
        raise ValidationError({"waves": [_("Each wave is a percentage from 1 to 100.")]})
    if any(b <= a for a, b in itertools.pairwise(values)):
        raise ValidationError({"waves": [_("Waves must grow, e.g. 10, 50, 100.")]})
    if values[-1] != 100:
        values.append(100)
    if len(values) > MAX_WAVES:
        raise ValidationError({"waves": [_("At most %(n)d waves.") % {"n": MAX_WAVES}]})
    return values


def _chunks(items: list, size: int = CHUNK):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def installer_models(installer) -> models.QuerySet:
    """Models of which the installer has devices (the Update module offers only these)."""
    return DeviceModel.objects.filter(
        pk__in=IntercomDevice.objects.filter(installer=installer).values("device_model_id")
    ).order_by("name")


def connected_devices(installer, device_model) -> models.QuerySet:
    """The installer's devices of a model that have connected to the platform."""
    return IntercomDevice.objects.filter(installer=installer, device_model=device_model, last_seen_at__isnull=False)


def _resolve_firmware(firmware) -> Firmware | None:
    if isinstance(firmware, Firmware):
        return firmware
    try:
        return Firmware.objects.get(pk=int(firmware))
    except (TypeError, ValueError, Firmware.DoesNotExist):
        return None


def _resolve_model(device_model) -> DeviceModel | None:
    if device_model in (None, ""):
        return None
    if isinstance(device_model, DeviceModel):
        return device_model
    query = Q(name__iexact=str(device_model))
    if str(device_model).isdigit():
        query |= Q(pk=int(device_model))
    return DeviceModel.objects.filter(query).first()


def _validate(*, installer, firmware, device_model, device_ids, all_devices, upgrade_right_now, scheduled_at,
              waves, success_threshold, error_threshold, now, exclude: UpdateStrategy | None = None) -> dict:
    errors: dict[str, list[str]] = {}
    fw = _resolve_firmware(firmware)
    model = _resolve_model(device_model)
    if fw is None:
        errors["firmware"] = [_("Choose a version.")]
    fw_model_ids = set(fw.device_models.values_list("pk", flat=True)) if fw else set()
    if model is None and device_model in (None, "") and len(fw_model_ids) == 1:
        model = DeviceModel.objects.get(pk=next(iter(fw_model_ids)))
    if model is None:
        errors["device_model"] = [_("Choose a model.") if device_model in (None, "")
                                  else _("There is no model %(model)s.") % {"model": str(device_model)[:32]}]
    elif not IntercomDevice.objects.filter(installer=installer, device_model=model).exists():
        errors["device_model"] = [_("You have no %(model)s devices.") % {"model": model.name}]
    elif fw is not None and model.pk not in fw_model_ids:
        errors["firmware"] = [_("Version %(version)s is not a firmware for the %(model)s.")
                              % {"version": fw.version, "model": model.name}]

    rows: list[tuple] = []
    if model is not None and "device_model" not in errors:
        fields = ("pk", "mac", "location", "firmware_version", "device_model_id", "last_seen_at")
        if all_devices:
            rows = list(connected_devices(installer, model).order_by("pk").values_list(*fields))
            if not rows:
                errors["device_ids"] = [_("None of your %(model)s devices has connected yet.") % {"model": model.name}]
        else:
            try:
                ids = sorted({int(i) for i in (device_ids or [])})
            except (TypeError, ValueError):
                ids = []
                errors["device_ids"] = [_("Device ids are numbers.")]
            if not ids and "device_ids" not in errors:
                errors["device_ids"] = [_("Choose at least one device.")]
            for chunk in _chunks(ids):
                rows.extend(IntercomDevice.objects.filter(installer=installer, pk__in=chunk)
                            .order_by("pk").values_list(*fields))
            problems = []
            missing = len(ids) - len(rows)
            if missing > 0:
                problems.append(ngettext("%(n)d chosen device is not one of your devices.",
                                         "%(n)d chosen devices are not your devices.", missing) % {"n": missing})
            other_model = [r[1] for r in rows if r[4] != model.pk]
            if other_model:
                problems.append(_("Not a %(model)s: %(macs)s.") % {"model": model.name,
                                                                     "macs": ", ".join(other_model[:10])})
            never = [r[1] for r in rows if r[5] is None]
            if never:
                problems.append(_("Never connected: %(macs)s.") % {"macs": ", ".join(never[:10])})
            if problems:
                errors.setdefault("device_ids", []).extend(problems)
        if rows and "device_ids" not in errors:
            busy = UpgradeTarget.objects.filter(active=True)
            if exclude is not None:
                busy = busy.exclude(strategy=exclude)
            taken: list[str] = []
            for chunk in _chunks([r[0] for r in rows]):
                taken.extend(busy.filter(device_id__in=chunk).values_list("mac", flat=True)[:10])
            if taken:
                errors["device_ids"] = [_("Already in an update strategy that has not finished: %(macs)s.")
                                        % {"macs": ", ".join(sorted(taken)[:10])}]

    if not upgrade_right_now:
        if scheduled_at is None:
            errors["scheduled_at"] = [_("Choose the Upgrade Time, or Upgrade Right Now.")]
        elif timezone.is_naive(scheduled_at):
            errors["scheduled_at"] = [_("The Upgrade Time needs a time zone.")]
        elif scheduled_at <= now:
            errors["scheduled_at"] = [_("The Upgrade Time is in the past.")]
    try:
        waves = normalize_waves(waves)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    for name, value, low in (("success_threshold", success_threshold, 1), ("error_threshold", error_threshold, 0)):
        if value is None and name == "error_threshold":
            continue
        try:
            if not (low <= int(value) <= 100):
                raise ValueError
        except (TypeError, ValueError):
            errors[name] = [_("A percentage from %(low)d to 100.") % {"low": low}]
    if errors:
        raise ValidationError(errors)
    return {"firmware": fw, "device_model": model, "rows": rows, "waves": waves,
            "scheduled_at": now if upgrade_right_now else scheduled_at,
            "success_threshold": int(success_threshold),
            "error_threshold": None if error_threshold is None else int(error_threshold)}


def _wave_of(index: int, total: int, waves: list[int]) -> int:
    for wave, pct in enumerate(waves):
        if index < math.ceil(total * pct / 100):
            return wave
    return len(waves) - 1


def _device_label(model: DeviceModel, rows: list[tuple]) -> str:
    if len(rows) == 1:
        return (rows[0][2] or rows[0][1])[:80]
    return ngettext("%(model)s · %(n)d device", "%(model)s · %(n)d devices", len(rows)) % {
        "model": model.name, "n": len(rows)}


def _create_targets(strategy: UpdateStrategy, rows: list[tuple], waves: list[int]) -> None:
    """One target row per device, in one statement on PostgreSQL (``INSERT … SELECT`` from the devices,
    the wave numbered by the row's place); elsewhere (the embedded SQLite) by a bulk insert."""
    total = len(rows)
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                _insert_targets(strategy, [r[0] for r in rows], waves)
            else:
                UpgradeTarget.objects.bulk_create([
                    UpgradeTarget(strategy=strategy, device_id=pk, mac=mac, location=(location or "")[:64],
                                  from_version=(version or "")[:32], wave=_wave_of(i, total, waves))
                    for i, (pk, mac, location, version, _model, _seen) in enumerate(rows)
                ], batch_size=CHUNK)
    except IntegrityError:
        raise ValidationError({"device_ids": [
            _("One of the devices was just added to another update strategy; choose the devices again.")]})


def _insert_targets(strategy: UpdateStrategy, device_ids: list[int], waves: list[int]) -> None:
    """``_create_targets`` on PostgreSQL: the rows are made by the database, no model objects.

    The devices are numbered in id order as ``_wave_of`` numbers them: row n (from 1) is in the first
    wave whose share of the total reaches n.
    """
    total = len(device_ids)
    bounds = [math.ceil(total * pct / 100) for pct in waves]
    wave_case = "CASE " + " ".join(f"WHEN d.n <= {int(b)} THEN {w}" for w, b in enumerate(bounds)) + \
        f" ELSE {len(waves) - 1} END"
    target, device = UpgradeTarget._meta, IntercomDevice._meta
    sql = (
        f"INSERT INTO {target.db_table} (strategy_id, device_id, mac, location, wave, from_version, state, active, "
        f"detail, attempts) "
        f"SELECT %s, d.id, d.mac, LEFT(COALESCE(d.location, ''), 64), {wave_case}, "
        f"LEFT(COALESCE(d.firmware_version, ''), 32), %s, TRUE, '', 0 "
        f"FROM (SELECT id, mac, location, firmware_version, ROW_NUMBER() OVER (ORDER BY id) AS n "
        f"FROM {device.db_table} WHERE installer_id = %s AND id = ANY(%s)) d"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [strategy.pk, TargetState.WAITING, strategy.installer_id, device_ids])


def _require_installer(user, installer=None):
    if getattr(user, "role", None) != "installer":
        raise PermissionDenied(_("Only the installer changes update strategies."))
    if installer is not None and getattr(installer, "pk", installer) != user.pk:
        raise PermissionDenied(_("You can look at this but not change it."))
    return user


def _schedule_start(strategy: UpdateStrategy) -> None:
    if strategy.upgrade_right_now:
        from entryway.firmware.tasks import strategy_start_task

        strategy_id = strategy.pk
        transaction.on_commit(lambda: strategy_start_task(strategy_id))


# --------------------------------------------------------------------------- strategies: create, edit, delete

def strategy_create(*, acting_user, firmware, device_model=None, device_ids: Iterable = (), all_devices: bool = False,
                    upgrade_right_now: bool = False, scheduled_at: datetime.datetime | None = None, waves=None,
                    success_threshold: int = 80, error_threshold: int | None = None,
                    now: datetime.datetime | None = None) -> UpdateStrategy:
    """Create a Pending strategy with one target row per device (bulk insert, no per-device queries)."""
    installer = _require_installer(acting_user)
    now = now or timezone.now()
    with transaction.atomic():
        data = _validate(installer=installer, firmware=firmware, device_model=device_model, device_ids=device_ids,
                         all_devices=all_devices, upgrade_right_now=upgrade_right_now, scheduled_at=scheduled_at,
                         waves=waves, success_threshold=success_threshold, error_threshold=error_threshold, now=now)
        rows = data["rows"]
        strategy = UpdateStrategy(
            installer=installer, firmware=data["firmware"], device_model=data["device_model"],
            version=data["firmware"].version, upgrade_right_now=bool(upgrade_right_now),
            scheduled_at=data["scheduled_at"], waves=data["waves"], success_threshold=data["success_threshold"],
            error_threshold=data["error_threshold"], device_count=len(rows),
            device_label=_device_label(data["device_model"], rows), created_by=acting_user,
        )
        strategy.full_clean()
        strategy.save()
        _create_targets(strategy, rows, data["waves"])
        audit(acting_user=acting_user, action="update_strategy.create", obj=strategy,
              after={**snapshot(strategy, ["version", "scheduled_at", "upgrade_right_now", "waves",
                                           "success_threshold", "error_threshold", "device_count"])})
        _schedule_start(strategy)
    return strategy


def _not_editable_reason(strategy: UpdateStrategy) -> str:
    return _("This update strategy is %(status)s: only a Pending strategy can be edited.") % {
        "status": strategy.get_status_display()}


def strategy_update(*, acting_user, strategy: UpdateStrategy, firmware, device_model=None,
                    device_ids: Iterable = (), all_devices: bool = False, upgrade_right_now: bool = False,
                    scheduled_at: datetime.datetime | None = None, waves=None, success_threshold: int = 80,
                    error_threshold: int | None = None, now: datetime.datetime | None = None) -> UpdateStrategy:
    """Edit a Pending strategy: version, devices, time, waves. A started one is refused."""
    _require_installer(acting_user, strategy.installer_id)
    now = now or timezone.now()
    with transaction.atomic():
        strategy = UpdateStrategy.objects.select_for_update().get(pk=strategy.pk)
        if strategy.status != StrategyStatus.PENDING or strategy.deleted_at is not None:
            raise ValidationError({"__all__": [_not_editable_reason(strategy)]})
        before = snapshot(strategy, ["version", "scheduled_at", "upgrade_right_now", "waves", "device_count"])
        data = _validate(installer=acting_user, firmware=firmware, device_model=device_model, device_ids=device_ids,
                         all_devices=all_devices, upgrade_right_now=upgrade_right_now, scheduled_at=scheduled_at,
                         waves=waves, success_threshold=success_threshold, error_threshold=error_threshold,
                         now=now, exclude=strategy)
        rows = data["rows"]
        strategy.firmware = data["firmware"]
        strategy.device_model = data["device_model"]
        strategy.version = data["firmware"].version
        strategy.upgrade_right_now = bool(upgrade_right_now)
        strategy.scheduled_at = data["scheduled_at"]
        strategy.waves = data["waves"]
        strategy.success_threshold = data["success_threshold"]
        strategy.error_threshold = data["error_threshold"]
        strategy.device_count = len(rows)
        strategy.device_label = _device_label(data["device_model"], rows)
        strategy.full_clean()
        strategy.save()
        UpgradeTarget.objects.filter(strategy=strategy).delete()
        _create_targets(strategy, rows, data["waves"])
        audit(acting_user=acting_user, action="update_strategy.update", obj=strategy, before=before,
              after=snapshot(strategy, ["version", "scheduled_at", "upgrade_right_now", "waves", "device_count"]))
        _schedule_start(strategy)
    return strategy


def strategy_delete(*, acting_user, strategy: UpdateStrategy) -> None:
    """A Pending strategy is removed; a finished one leaves the list but keeps its device rows (history)."""
    _require_installer(acting_user, strategy.installer_id)
    with transaction.atomic():
        strategy = UpdateStrategy.objects.select_for_update().get(pk=strategy.pk)
        if strategy.is_running:
            raise ValidationError({"__all__": [
                _("This update strategy is %(status)s: cancel it before deleting it.")
                % {"status": strategy.get_status_display()}]})
        audit(acting_user=acting_user, action="update_strategy.delete", obj=strategy,
              before=snapshot(strategy, ["version", "status", "scheduled_at", "device_count"]))
        if strategy.status == StrategyStatus.PENDING:
            strategy.delete()
        else:
            strategy.deleted_at = timezone.now()
            strategy.save(update_fields=["deleted_at", "updated_at"])


# --------------------------------------------------------------------------- execution

def strategy_start(*, strategy_id: int, now: datetime.datetime | None = None) -> bool:
    """Pending → Processing at (or after) its Upgrade Time; sends the first wave. Idempotent."""
    now = now or timezone.now()
    with transaction.atomic():
        strategy = (UpdateStrategy.objects.select_for_update().select_related("firmware")
                    .filter(pk=strategy_id, deleted_at__isnull=True).first())
        if strategy is None or strategy.status != StrategyStatus.PENDING or strategy.scheduled_at > now:
            return False
        strategy.status = StrategyStatus.PROCESSING
        strategy.started_at = now
        strategy.current_wave = -1
        strategy.save(update_fields=["status", "started_at", "current_wave", "updated_at"])
        audit(acting_user=None, action="update_strategy.start", obj=strategy,
              after={"status": strategy.status, "started_at": now})
        _start_next_wave(strategy, now)
        _evaluate_locked(strategy, now)
    return True


def _dispatch(strategy: UpdateStrategy, targets: models.QuerySet, now: datetime.datetime) -> int:
    """Give each waiting target of ``targets`` an upgrade action (one insert); skip those already there."""
    waiting = targets.filter(state=TargetState.WAITING, active=True, action__isnull=True)
    waiting.filter(device__isnull=True).update(
        state=TargetState.CANCELLED, active=False, finished_at=now, detail=_("The device was deleted."))
    waiting.filter(device__firmware_version=strategy.version).update(
        state=TargetState.SKIPPED, active=False, finished_at=now,
        detail=_("Already on version %(version)s.") % {"version": strategy.version})
    devices = list(IntercomDevice.objects.filter(pk__in=waiting.values("device_id")).only("pk", "installer_id", "mac"))
    if not devices:
        return 0
    expires = now + deadline()
    actions_bulk_create(devices=devices, kind="upgrade", payload_for=upgrade_payload(strategy.firmware),
                        expires_at=expires)
    # Link each row to its device's new action in one statement. A device has at most one open
    # upgrade action: the one just created (its row is the device's only active one).
    created = (DeviceAction.objects.filter(device_id=OuterRef("device_id"), kind="upgrade",
                                           status=ActionStatus.PENDING)
               .order_by().values("device_id").annotate(last=Max("pk")).values("last"))
    waiting.filter(device__isnull=False).update(
        action_id=Subquery(created), started_at=now, deadline_at=expires, attempts=F("attempts") + 1)
    return len(devices)


def _start_next_wave(strategy: UpdateStrategy, now: datetime.datetime) -> None:
    """Move to the next wave that has devices to send to (empty or all-skipped waves are passed)."""
    last = strategy.wave_count - 1
    while strategy.current_wave < last:
        strategy.current_wave += 1
        strategy.save(update_fields=["current_wave", "updated_at"])
        sent = _dispatch(strategy, UpgradeTarget.objects.filter(strategy=strategy, wave=strategy.current_wave), now)
        if sent or strategy.current_wave == last:
            return
        # Nothing was sent in this wave; it only holds final rows, so its thresholds are decided now.
        if not _wave_allows_next(strategy, _wave_counts(strategy)):
            return


def _wave_counts(strategy: UpdateStrategy, wave: int | None = None) -> dict[str, int]:
    wave = strategy.current_wave if wave is None else wave
    rows = (UpgradeTarget.objects.filter(strategy=strategy, wave=wave).values("state")
            .annotate(n=Count("pk")).order_by())
    return {r["state"]: r["n"] for r in rows}


def _wave_allows_next(strategy: UpdateStrategy, counts: dict[str, int]) -> bool:
    total = sum(counts.values())
    good = sum(counts.get(s, 0) for s in GOOD_TARGET_STATES)
    return total == 0 or good * 100 >= strategy.success_threshold * total


def _evaluate_locked(strategy: UpdateStrategy, now: datetime.datetime) -> None:
    """Decide what comes next for a strategy whose row the caller has locked."""
    if strategy.status not in (StrategyStatus.PROCESSING, StrategyStatus.PAUSED):
        return
    last = strategy.wave_count - 1
    if strategy.current_wave >= last:
        if not UpgradeTarget.objects.filter(strategy=strategy, active=True).exists():
            strategy.status = StrategyStatus.EXECUTED
            strategy.finished_at = now
            strategy.pause_reason = ""
            strategy.save(update_fields=["status", "finished_at", "pause_reason", "updated_at"])
            audit(acting_user=None, action="update_strategy.executed", obj=strategy,
                  after={"status": strategy.status, "counts": strategy_counts(strategy)})
        return
    if strategy.status != StrategyStatus.PROCESSING:
        return
    counts = _wave_counts(strategy)
    total = sum(counts.values())
    bad = sum(counts.get(s, 0) for s in BAD_TARGET_STATES)
    still_open = sum(counts.get(s, 0) for s in OPEN_TARGET_STATES)
    wave_no = strategy.current_wave + 1
    if strategy.error_threshold is not None and total and bad * 100 > strategy.error_threshold * total:
        _pause(strategy, _("Wave %(n)d: %(bad)d of %(total)d devices failed or were not reached, above the "
                           "error threshold of %(pct)d%%.") % {"n": wave_no, "bad": bad, "total": total,
                                                               "pct": strategy.error_threshold})
    elif _wave_allows_next(strategy, counts):
        _start_next_wave(strategy, now)
        _evaluate_locked(strategy, now)
    elif still_open == 0:
        _pause(strategy, _("Wave %(n)d finished below the success threshold of %(pct)d%%.")
               % {"n": wave_no, "pct": strategy.success_threshold})


def _pause(strategy: UpdateStrategy, reason: str, acting_user=None) -> None:
    strategy.status = StrategyStatus.PAUSED
    strategy.pause_reason = reason[:255]
    strategy.save(update_fields=["status", "pause_reason", "updated_at"])
    audit(acting_user=acting_user, action="update_strategy.pause", obj=strategy,
          after={"status": strategy.status, "reason": strategy.pause_reason})


def strategy_evaluate(*, strategy_id: int, now: datetime.datetime | None = None, wait: bool = True) -> bool:
    """Start the next wave, pause, or mark Executed, as the devices' states say.

    With ``wait=False`` (device reports) a strategy row locked by someone else is left alone and
    False is returned: the holder may not see the caller's uncommitted report, so the caller
    evaluates again after its commit (``upgrade_result_record``).
    """
    now = now or timezone.now()
    with transaction.atomic():
        qs = UpdateStrategy.objects.select_related("firmware").filter(pk=strategy_id)
        strategy = (qs.select_for_update() if wait else qs.select_for_update(skip_locked=True)).first()
        if strategy is None:
            return False
        _evaluate_locked(strategy, now)
    return True


# A final action's state for the device's row in the rollout.
_FINAL_TARGET_STATE = {
    ActionStatus.SUCCESS: TargetState.SUCCEEDED,
    ActionStatus.FAILURE: TargetState.FAILED,
    ActionStatus.EXPIRED: TargetState.NOT_REACHED,
    ActionStatus.CANCELLED: TargetState.CANCELLED,
}


def upgrade_result_record(action: DeviceAction) -> None:
    """The deviceapi result handler for "upgrade" actions (one device's report): ``upgrade_results_record``."""
    upgrade_results_record([action])


def _progress_move(stage: str) -> tuple[str, tuple[str, ...]]:
    """A progress report's target state, and the states it may move a device's row from."""
    stage = (stage or "").lower()
    if stage.startswith("install"):
        return TargetState.INSTALLING, (TargetState.WAITING, TargetState.DOWNLOADING)
    if stage.startswith("download"):
        return TargetState.DOWNLOADING, (TargetState.WAITING, TargetState.INSTALLING)
    return TargetState.DOWNLOADING, (TargetState.WAITING,)


def upgrade_results_record(actions: list[DeviceAction]) -> None:
    """Move the devices' target rows along for their "upgrade" actions' new states (registered as the
    deviceapi result handler for "upgrade", in its form for many actions).

    Runs inside the transaction that records the devices' reports, for every report of every device of a
    rollout, so in SQL written once (entryway.core.rawsql), in statements for all the actions at once. A
    progress report is a conditional UPDATE of the row (waiting → downloading → installing). On success
    the device's firmware version becomes the strategy's version, so that the Device list shows it at
    once. A final state asks for the strategy to be evaluated after the reports commit
    (``strategy_note_final``, once per strategy), which takes the strategy's row lock only when there is
    something to decide.
    """
    table = rawsql.table(UpgradeTarget)
    moves: dict[tuple[str, tuple[str, ...]], list[tuple]] = {}
    finals = []
    for action in actions:
        if action.status == ActionStatus.PROCEEDING:
            moves.setdefault(_progress_move(action.stage), []).append((action.pk, (action.detail or "")[:255]))
        else:
            state = _FINAL_TARGET_STATE.get(action.status)
            if state is not None:
                finals.append((action.pk, state, (action.detail or "")[:255]))
    with rawsql.cursor() as cursor:
        for (state, before), rows in moves.items():
            for chunk in _chunks(rows):
                cte, params = rawsql.values_table("v", ("action_id", "detail"), chunk)
                cursor.execute(f"WITH {cte} UPDATE {table} SET state = %s, detail = v.detail FROM v"
                               f" WHERE {table}.action_id = v.action_id"
                               f" AND {table}.state IN ({', '.join(['%s'] * len(before))})",
                               [*params, state, *before])
        done: list[tuple[int, int | None, str]] = []
        final_states = list(FINAL_TARGET_STATES)
        stamp = connection.ops.adapt_datetimefield_value(timezone.now())
        for chunk in _chunks(finals):
            # A row already final is left as it is (a repeated or late report).
            cte, params = rawsql.values_table("v", ("action_id", "state", "detail"), chunk)
            cursor.execute(
                f"WITH {cte} UPDATE {table} SET state = v.state, detail = v.detail, active = %s, finished_at = %s"
                f" FROM v WHERE {table}.action_id = v.action_id"
                f" AND {table}.state NOT IN ({', '.join(['%s'] * len(final_states))})"
                f" RETURNING {table}.strategy_id, {table}.device_id, {table}.state",
                [*params, False, stamp, *final_states])
            done.extend(cursor.fetchall())
        if not done:
            return
        names = ("status", "current_wave", "waves", "version")
        ids = sorted({strategy_id for strategy_id, _device, _state in done})
        cursor.execute(f"SELECT id, {rawsql.columns(UpdateStrategy, names)} FROM {rawsql.table(UpdateStrategy)}"
                       f" WHERE id IN ({', '.join(['%s'] * len(ids))})", ids)
        strategies = {row[0]: rawsql.instances(UpdateStrategy, names, [row[1:]])[0] for row in cursor.fetchall()}
        for strategy_id, strategy in strategies.items():
            succeeded = sorted(device_id for sid, device_id, state in done
                               if sid == strategy_id and device_id and state == TargetState.SUCCEEDED)
            for chunk in _chunks(succeeded):
                cursor.execute(f"UPDATE {rawsql.table(IntercomDevice)} SET firmware_version = %s"
                               f" WHERE id IN ({', '.join(['%s'] * len(chunk))})", [strategy.version, *chunk])
    for strategy_id, strategy in strategies.items():
        strategy_note_final(strategy_id=strategy_id, known=(strategy.status, strategy.current_wave, strategy.waves))


# A strategy's threshold decisions in the middle of a wave, retried after a report that found the
# strategy row held by another evaluation, run at most this often (the end of a wave always counts).
EVALUATE_DEBOUNCE_SECONDS = 1


def _any_open_target(strategy_id: int, waves: int, wave: int | None = None) -> bool:
    """Whether a device of the strategy (of ``wave`` only, if given) is still open: read on the
    (strategy, wave, state) index, one probe per wave and open state, in SQL written once."""
    in_waves = [wave] if wave is not None else list(range(waves))
    with rawsql.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {rawsql.table(UpgradeTarget)} WHERE strategy_id = %s"
            f" AND wave IN ({', '.join(['%s'] * len(in_waves))})"
            f" AND state IN ({', '.join(['%s'] * len(OPEN_TARGET_STATES))}) LIMIT 1",
            [strategy_id, *in_waves, *OPEN_TARGET_STATES])
        return cursor.fetchone() is not None


def strategy_note_final(*, strategy_id: int, known: tuple | None = None) -> None:
    """A device of the strategy reached a final state (inside the transaction that records it).

    ``known``: the strategy's (status, current wave, waves) as just read by the caller.

    The evaluation (``strategy_evaluate``) locks the strategy's row; with thousands of devices
    reporting, reports would queue behind each other for that lock. So:

    - in the last wave only one thing can happen, Executed, once no device is open: a query on the
      (strategy, wave, state) index says whether any is, and only when none is does the report
      evaluate. A report that still sees an open device looks again after its commit: of the last
      reports arriving together, the one that looks last sees them all final, so the strategy always
      reaches Executed.
    - in an earlier wave the report evaluates at once (the thresholds may start the next wave or
      pause), unless another evaluation holds the row; then it evaluates again after its commit if
      the wave has no open device left, else at most once every EVALUATE_DEBOUNCE_SECONDS per
      strategy (later reports and the periodic task decide the rest).

    A report that found the row held evaluates again after its commit, waiting for the lock: the
    holder may not have seen this report.
    """
    row = known or (UpdateStrategy.objects.filter(pk=strategy_id)
                    .values_list("status", "current_wave", "waves").first())
    if row is None or row[0] not in (StrategyStatus.PROCESSING, StrategyStatus.PAUSED):
        return
    status, wave, waves = row
    count = max(1, len(waves or []))
    if wave >= count - 1:
        if _any_open_target(strategy_id, count):
            transaction.on_commit(lambda: _execute_when_done(strategy_id, count))
        elif not strategy_evaluate(strategy_id=strategy_id, wait=False):
            transaction.on_commit(lambda: strategy_evaluate(strategy_id=strategy_id))
        return
    if status == StrategyStatus.PROCESSING and not strategy_evaluate(strategy_id=strategy_id, wait=False):
        transaction.on_commit(lambda: _evaluate_wave_soon(strategy_id, wave, count))


def _execute_when_done(strategy_id: int, waves: int) -> None:
    if not _any_open_target(strategy_id, waves):
        strategy_evaluate(strategy_id=strategy_id)


def _evaluate_wave_soon(strategy_id: int, wave: int, waves: int) -> None:
    if (not _any_open_target(strategy_id, waves, wave=wave)
            or cache.add(f"firmware:evaluate:{strategy_id}", 1, EVALUATE_DEBOUNCE_SECONDS)):
        strategy_evaluate(strategy_id=strategy_id)


def targets_expire(*, now: datetime.datetime | None = None) -> int:
    """Devices still not done past their deadline become "Not reached"; their actions are withdrawn."""
    now = now or timezone.now()
    overdue = UpgradeTarget.objects.filter(active=True, deadline_at__lte=now, state__in=OPEN_TARGET_STATES)
    rows = list(overdue.values_list("pk", "action_id", "strategy_id"))
    if not rows:
        return 0
    for chunk in _chunks(rows):
        UpgradeTarget.objects.filter(pk__in=[r[0] for r in chunk], active=True).update(
            state=TargetState.NOT_REACHED, active=False, finished_at=now,
            detail=_("The device did not finish the upgrade before its deadline."))
    action_ids = [r[1] for r in rows if r[1]]
    for chunk in _chunks(action_ids):
        for action in DeviceAction.objects.filter(pk__in=chunk, status__in=[
                ActionStatus.PENDING, ActionStatus.SENT, ActionStatus.PROCEEDING]):
            action_cancel(action=action, detail=_("Deadline passed."))
    for strategy_id in sorted({r[2] for r in rows}):
        strategy_evaluate(strategy_id=strategy_id, now=now)
    return len(rows)


def strategies_run_due(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """The periodic task's work: start due strategies, expire overdue devices, re-check running ones."""
    now = now or timezone.now()
    due = list(UpdateStrategy.objects.filter(status=StrategyStatus.PENDING, scheduled_at__lte=now,
                                             deleted_at__isnull=True).order_by("scheduled_at", "pk")
               .values_list("pk", flat=True))
    started = sum(1 for pk in due if strategy_start(strategy_id=pk, now=now))
    expired = targets_expire(now=now)
    running = list(UpdateStrategy.objects.filter(status__in=[StrategyStatus.PROCESSING, StrategyStatus.PAUSED])
                   .values_list("pk", flat=True))
    for pk in running:
        strategy_evaluate(strategy_id=pk, now=now)
    return {"started": started, "expired": expired, "checked": len(running)}


# --------------------------------------------------------------------------- pause, resume, cancel, retry

def _locked_for(acting_user, strategy: UpdateStrategy) -> UpdateStrategy:
    _require_installer(acting_user, strategy.installer_id)
    return (UpdateStrategy.objects.select_for_update().select_related("firmware")
            .get(pk=strategy.pk, deleted_at__isnull=True))


def strategy_pause(*, acting_user, strategy: UpdateStrategy) -> UpdateStrategy:
    """No further wave starts; devices that already have the upgrade go on."""
    with transaction.atomic():
        strategy = _locked_for(acting_user, strategy)
        if strategy.status != StrategyStatus.PROCESSING:
            raise ValidationError({"__all__": [_("Only a Processing update strategy can be paused.")]})
        _pause(strategy, _("Paused by %(name)s.") % {"name": acting_user.display_name}, acting_user=acting_user)
    return strategy


def strategy_resume(*, acting_user, strategy: UpdateStrategy, now: datetime.datetime | None = None) -> UpdateStrategy:
    """Paused → Processing; the next wave starts at once (the installer overrides the thresholds)."""
    now = now or timezone.now()
    with transaction.atomic():
        strategy = _locked_for(acting_user, strategy)
        if strategy.status != StrategyStatus.PAUSED:
            raise ValidationError({"__all__": [_("Only a Paused update strategy can be resumed.")]})
        strategy.status = StrategyStatus.PROCESSING
        strategy.pause_reason = ""
        strategy.save(update_fields=["status", "pause_reason", "updated_at"])
        audit(acting_user=acting_user, action="update_strategy.resume", obj=strategy, after={"status": strategy.status})
        if strategy.current_wave < strategy.wave_count - 1:
            _start_next_wave(strategy, now)
        _evaluate_locked(strategy, now)
    return strategy


def strategy_cancel(*, acting_user, strategy: UpdateStrategy, now: datetime.datetime | None = None) -> UpdateStrategy:
    """Devices that have not started get nothing; those downloading or installing finish."""
    now = now or timezone.now()
    with transaction.atomic():
        strategy = _locked_for(acting_user, strategy)
        if strategy.is_finished:
            raise ValidationError({"__all__": [_("This update strategy is already %(status)s.")
                                               % {"status": strategy.get_status_display()}]})
        strategy.status = StrategyStatus.CANCELLED
        strategy.finished_at = now
        strategy.save(update_fields=["status", "finished_at", "updated_at"])
        waiting = UpgradeTarget.objects.filter(strategy=strategy, state=TargetState.WAITING, active=True)
        action_ids = list(waiting.filter(action__isnull=False).values_list("action_id", flat=True))
        cancelled = waiting.update(state=TargetState.CANCELLED, active=False, finished_at=now,
                                   detail=_("Cancelled before the device started."))
        for chunk in _chunks(action_ids):
            for action in DeviceAction.objects.filter(pk__in=chunk, status__in=[ActionStatus.PENDING,
                                                                               ActionStatus.SENT]):
                action_cancel(action=action, detail=_("The update strategy was cancelled."))
        audit(acting_user=acting_user, action="update_strategy.cancel", obj=strategy,
              after={"status": strategy.status, "cancelled_devices": cancelled})
    return strategy


def strategy_retry(*, acting_user, strategy: UpdateStrategy, now: datetime.datetime | None = None) -> int:
    """Failed and not-reached devices get a new upgrade action. Returns how many were retried."""
    now = now or timezone.now()
    with transaction.atomic():
        strategy = _locked_for(acting_user, strategy)
        if strategy.status not in (StrategyStatus.PROCESSING, StrategyStatus.PAUSED, StrategyStatus.EXECUTED):
            raise ValidationError({"__all__": [_("Only a started update strategy can retry its failed devices.")]})
        failed = UpgradeTarget.objects.filter(strategy=strategy, state__in=BAD_TARGET_STATES, device__isnull=False)
        busy = UpgradeTarget.objects.filter(active=True).values("device_id")
        retry = failed.exclude(device_id__in=busy)
        ids = list(retry.values_list("pk", flat=True))
        if not ids:
            raise ValidationError({"__all__": [_("No failed device can be retried now.")]})
        for chunk in _chunks(ids):
            UpgradeTarget.objects.filter(pk__in=chunk).update(
                state=TargetState.WAITING, active=True, action=None, detail="", finished_at=None, deadline_at=None)
        if strategy.status == StrategyStatus.EXECUTED:
            strategy.status = StrategyStatus.PROCESSING
            strategy.finished_at = None
            strategy.save(update_fields=["status", "finished_at", "updated_at"])
        started = UpgradeTarget.objects.filter(pk__in=ids, wave__lte=strategy.current_wave)
        _dispatch(strategy, started, now)
        audit(acting_user=acting_user, action="update_strategy.retry", obj=strategy, after={"devices": len(ids)})
        _evaluate_locked(strategy, now)
    return len(ids)


# --------------------------------------------------------------------------- reads used by several callers

def strategy_counts(strategy: UpdateStrategy) -> dict[str, int]:
    rows = UpgradeTarget.objects.filter(strategy=strategy).values("state").annotate(n=Count("pk")).order_by()
    counts = {state: 0 for state in TargetState.values}
    for r in rows:
        counts[r["state"]] = r["n"]
    counts["total"] = sum(counts[s] for s in TargetState.values)
    counts["final"] = sum(counts[s] for s in FINAL_TARGET_STATES)
    return counts
