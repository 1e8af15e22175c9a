"""Creating device actions and recording what devices report.

Other apps (firmware rollouts, messages, remote maintenance, remote control) create actions
only through ``action_create`` / ``actions_bulk_create`` and learn about results by
registering a handler with ``register_result_handler(kind, fn)``; ``fn(action)`` is called
inside the transaction that records a device's report (status/stage/detail already saved). A
handler that can take many actions at once registers that form too (``many=fn_many``):
``actions_report`` (the reports that arrive together over MQTT) calls it once for all its actions
of that kind instead of ``fn`` for each.
"""
from __future__ import annotations

import datetime
import hmac
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from entryway.core import rawsql
from entryway.core.audit import audit, changed, snapshot
from entryway.deviceapi import devicecache
from entryway.deviceapi.autop import (
    autop_errors,
    autop_lines,
    config_version,
    files_from_base,
    forget_files,
    forget_versions,
    normalise_commands,
)
from entryway.deviceapi.choices import FINAL_STATUSES, ActionKind, ActionStatus
from entryway.deviceapi.models import AutopCredential, DeviceAction

# Kinds of action that appear in the AutoP file while open (they change the config version).
FILE_KINDS = (ActionKind.AUTOP, ActionKind.UPGRADE)
# Kinds of action that the MQTT push carries itself, so that a connected device need not check in to
# fetch them (docs/device-protocol.md, section 5). An upgrade goes to whole fleets at once and its payload
# holds no credential: a firmware file's version, size, SHA-256 and time-limited download URL. The other
# kinds stay behind the check-in: a One Time AutoP's lines and a Remote Control session carry secrets, a
# message carries what residents are told, and a broker may keep a message on its disk for an offline device.
PUSHED_KINDS = frozenset({ActionKind.UPGRADE})

ResultHandler = Callable[[DeviceAction], None]
_RESULT_HANDLERS: dict[str, list[ResultHandler]] = defaultdict(list)
# A handler's form for many actions at once (the same work, in fewer statements).
_MANY_HANDLERS: dict[ResultHandler, Callable[[list[DeviceAction]], None]] = {}
# Called after commit with the MACs that have new actions (MQTT push, when a broker is configured).
_PUSHERS: list[Callable[[list[str], dict[str, list[dict]]], None]] = []


def register_result_handler(kind: str, handler: ResultHandler,
                            many: Callable[[list[DeviceAction]], None] | None = None) -> None:
    if handler not in _RESULT_HANDLERS[kind]:
        _RESULT_HANDLERS[kind].append(handler)
    if many is not None:
        _MANY_HANDLERS[handler] = many


def register_pusher(pusher: Callable[[list[str], dict[str, list[dict]]], None]) -> None:
    """``pusher(macs, pushed)`` runs after the commit that gave ``macs`` new actions; ``pushed`` holds, by MAC,
    those of them that the push may carry itself (``PUSHED_KINDS``)."""
    if pusher not in _PUSHERS:
        _PUSHERS.append(pusher)


def _notify_devices(macs: list[str], actions: Iterable[tuple[str, DeviceAction]] = ()) -> None:
    if not macs:
        return
    # Their next check-in reads the database, not the cache (see devicecache): it has something to say.
    devicecache.actions_changed(macs)
    if not _PUSHERS:
        return
    pushed: dict[str, list[dict]] = {}
    for mac, action in actions:
        if action.kind in PUSHED_KINDS and action.pk is not None:
            pushed.setdefault(mac, []).append(_answered(action))

    def push():
        for pusher in _PUSHERS:
            pusher(macs, pushed)

    transaction.on_commit(push)


def action_create(
    *,
    device,
    kind: str,
    payload: dict | None = None,
    acting_user=None,
    expires_at: datetime.datetime | None = None,
    audit_action: bool = True,
) -> DeviceAction:
    """One action for one device; it reaches the device at its next check-in (at once over MQTT)."""
    if kind not in ActionKind.values:
        raise ValueError(f"unknown action kind {kind!r}")
    with transaction.atomic():
        action = DeviceAction.objects.create(
            installer_id=device.installer_id,
            device=device,
            kind=kind,
            payload=payload or {},
            expires_at=expires_at,
            created_by=acting_user if getattr(acting_user, "pk", None) else None,
        )
        if audit_action and acting_user is not None:
            audit(acting_user=acting_user, action=f"device.{kind}", obj=device,
                  after={"action_id": action.pk, "kind": kind})
        if kind in FILE_KINDS:
            forget_files([device.pk])
        _notify_devices([device.mac], [(device.mac, action)])
    return action


def actions_bulk_create(
    *,
    devices: Iterable,
    kind: str,
    payload_for: Callable[[object], dict] | dict | None = None,
    acting_user=None,
    expires_at: datetime.datetime | None = None,
) -> list[DeviceAction]:
    """Many actions in one insert (rollouts, messages, batch AutoP). No per-device round trips.

    Callers audit the batch themselves (one row for the batch, not one per device).
    """
    if kind not in ActionKind.values:
        raise ValueError(f"unknown action kind {kind!r}")
    devices = list(devices)
    created_by = acting_user if getattr(acting_user, "pk", None) else None
    rows = []
    for device in devices:
        payload = payload_for(device) if callable(payload_for) else dict(payload_for or {})
        rows.append(DeviceAction(installer_id=device.installer_id, device=device, kind=kind, payload=payload,
                                 expires_at=expires_at, created_by=created_by))
    with transaction.atomic():
        created = DeviceAction.objects.bulk_create(rows, batch_size=2000)
        if kind in FILE_KINDS:
            forget_files([d.pk for d in devices])
        _notify_devices([d.mac for d in devices], zip((d.mac for d in devices), created, strict=True))
    return created


def action_cancel(*, action: DeviceAction, acting_user=None, detail: str = "") -> DeviceAction:
    """Cancel an action the device has not finished. Finished actions stay as they are."""
    with transaction.atomic():
        action = DeviceAction.objects.select_for_update().get(pk=action.pk)
        if action.status in FINAL_STATUSES:
            return action
        action.status = ActionStatus.CANCELLED
        action.detail = detail or action.detail
        action.finished_at = timezone.now()
        action.save(update_fields=["status", "detail", "finished_at", "updated_at"])
        _run_handlers([action])
        if acting_user is not None:
            audit(acting_user=acting_user, action=f"device.{action.kind}.cancel", obj=action.device,
                  after={"action_id": action.pk})
    return action


def action_record_result(*, action: DeviceAction, status: str, stage: str = "", detail: str = "") -> DeviceAction:
    """What a device reported about an action: proceeding (with a stage), success or failure.

    A final action is not changed again (a repeated report does no harm): the action as the database
    has it is returned, unchanged. See ``action_report``.
    """
    recorded = action_report(action_id=action.pk, device_id=action.device_id, status=status, stage=stage,
                             detail=detail)
    return recorded if recorded is not None else DeviceAction.objects.get(pk=action.pk)


def action_report(*, action_id: int, device_id: int, status: str, stage: str = "", detail: str = ""
                  ) -> DeviceAction | None:
    """Record a device's report on one of its actions; the action as recorded, or None when nothing changed
    (no such action for this device, or already final).

    One ``UPDATE … WHERE status is not final … RETURNING`` (no row lock taken beforehand, no model save,
    no re-render): a progress report leaves the device's AutoP file as it is (an open action stays in it
    while proceeding); a final one of a kind that appears in the file drops the cached file
    (``_run_handlers``). Of two reports racing, the database applies the second UPDATE after the first
    commits and re-checks the status, so a final result is recorded once.
    """
    allowed = {ActionStatus.PROCEEDING, ActionStatus.SUCCESS, ActionStatus.FAILURE}
    if status not in allowed:
        raise ValueError(f"status must be one of {sorted(allowed)}")
    now = timezone.now()
    final = status in FINAL_STATUSES
    stage, detail = stage[:32], detail[:2000]
    # Only for a transaction of its own: a caller's transaction keeps its durability.
    lazy_commit = (status == ActionStatus.PROCEEDING and connection.vendor == "postgresql"
                   and not connection.in_atomic_block)
    ops, table = connection.ops, connection.ops.quote_name(DeviceAction._meta.db_table)
    stamp = ops.adapt_datetimefield_value(now)
    finals = sorted(FINAL_STATUSES)
    with transaction.atomic(), rawsql.cursor() as cursor:
        if lazy_commit:
            # A progress report lost in a server crash does no harm (the device reports again or finishes):
            # its commit does not wait for the write-ahead log to reach the disk.
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
        cursor.execute(
            f"UPDATE {table} SET status = %s, stage = %s, detail = %s, updated_at = %s, sent_at = COALESCE(sent_at, %s)"
            f"{', finished_at = %s' if final else ''} WHERE id = %s AND device_id = %s"
            f" AND status NOT IN ({', '.join(['%s'] * len(finals))}) RETURNING kind",
            [status, stage, detail, stamp, stamp, *([stamp] if final else []), action_id, device_id, *finals])
        row = cursor.fetchone()
        if row is None:
            return None
        action = _recorded(action_id, device_id, row[0], status, stage, detail, now, final)
        _run_handlers([action])
    return action


_RECORDED_FIELDS = ("id", "device_id", "kind", "status", "stage", "detail", "updated_at", "finished_at")


def _recorded(action_id: int, device_id: int, kind: str, status: str, stage: str, detail: str,
              now: datetime.datetime, final: bool) -> DeviceAction:
    """The action as a report recorded it; the fields not named here (payload, ...) are read when a handler
    asks."""
    known = {"id": action_id, "device_id": device_id, "kind": kind, "status": status, "stage": stage,
             "detail": detail, "updated_at": now, "finished_at": now if final else None}
    names = [f.attname for f in DeviceAction._meta.concrete_fields if f.attname in _RECORDED_FIELDS]
    return DeviceAction.from_db(connection.alias, names, [known[name] for name in names])


@dataclass(frozen=True)
class Report:
    """A device's report on one of its actions, as ``action_report`` takes it."""

    action_id: int
    device_id: int
    status: str
    stage: str = ""
    detail: str = ""


REPORTS_PER_STATEMENT = 1000


def actions_report(reports: Sequence[Report]) -> tuple[list[DeviceAction], list[bool]]:
    """Record many reports, in the caller's transaction, as ``action_report`` records them one by one in
    this order; returns the actions as recorded and, for each report, whether it counted (False where
    ``action_report`` would have returned None).

    Of one action's reports, the first final one decides and later ones do not count (as a 409 over
    HTTP); without a final one, the last progress report gives the stage and detail, the earlier ones
    count too (they would have been recorded and then overwritten). All of them are written with one
    UPDATE per thousand actions, and each kind's handlers run once for all its actions.
    """
    allowed = {ActionStatus.PROCEEDING, ActionStatus.SUCCESS, ActionStatus.FAILURE}
    deciding: dict[tuple[int, int], int] = {}  # (action, device) -> index of the report that decides
    closed: set[tuple[int, int]] = set()
    for i, report in enumerate(reports):
        if report.status not in allowed:
            raise ValueError(f"status must be one of {sorted(allowed)}")
        key = (report.action_id, report.device_id)
        if key not in closed:
            deciding[key] = i
            if report.status in FINAL_STATUSES:
                closed.add(key)
    if not deciding:
        return [], [False] * len(reports)
    now = timezone.now()
    stamp = connection.ops.adapt_datetimefield_value(now)
    table, finals = connection.ops.quote_name(DeviceAction._meta.db_table), sorted(FINAL_STATUSES)
    recorded: dict[tuple[int, int], DeviceAction] = {}
    with transaction.atomic(), rawsql.cursor() as cursor:
        rows = [(r.action_id, r.device_id, r.status, r.stage[:32], r.detail[:2000], int(r.status in FINAL_STATUSES))
                for r in (reports[i] for i in deciding.values())]
        for start in range(0, len(rows), REPORTS_PER_STATEMENT):
            cte, params = rawsql.values_table("v", ("id", "device_id", "status", "stage", "detail", "final"),
                                              rows[start:start + REPORTS_PER_STATEMENT])
            cursor.execute(
                f"WITH {cte} UPDATE {table} SET status = v.status, stage = v.stage, detail = v.detail,"
                f" updated_at = %s, sent_at = COALESCE({table}.sent_at, %s),"
                f" finished_at = CASE WHEN v.final = 1 THEN %s ELSE {table}.finished_at END"
                f" FROM v WHERE {table}.id = v.id AND {table}.device_id = v.device_id"
                f" AND {table}.status NOT IN ({', '.join(['%s'] * len(finals))})"
                f" RETURNING {table}.id, {table}.device_id, {table}.kind",
                [*params, stamp, stamp, stamp, *finals])
            kinds = {(action_id, device_id): kind for action_id, device_id, kind in cursor.fetchall()}
            for action_id, device_id, status, stage, detail, final in rows[start:start + REPORTS_PER_STATEMENT]:
                kind = kinds.get((action_id, device_id))
                if kind is None:
                    continue
                recorded[(action_id, device_id)] = _recorded(action_id, device_id, kind, status, stage, detail, now,
                                                             bool(final))
        actions = list(recorded.values())
        _run_handlers(actions)
    counted = []
    for i, report in enumerate(reports):
        key = (report.action_id, report.device_id)
        counted.append(key in recorded and i <= deciding[key])
    return actions, counted


def actions_expire(*, now: datetime.datetime | None = None) -> int:
    """Open actions past their deadline become Expired (handlers run for each)."""
    now = now or timezone.now()
    count = 0
    for action in DeviceAction.objects.filter(status__in=[ActionStatus.PENDING, ActionStatus.SENT],
                                              expires_at__lte=now).iterator():
        with transaction.atomic():
            locked = DeviceAction.objects.select_for_update().get(pk=action.pk)
            if locked.status not in (ActionStatus.PENDING, ActionStatus.SENT):
                continue
            locked.status = ActionStatus.EXPIRED
            locked.finished_at = now
            locked.detail = locked.detail or "The device did not take the action before its deadline."
            locked.save(update_fields=["status", "finished_at", "detail", "updated_at"])
            _run_handlers([locked])
            count += 1
    return count


def _run_handlers(actions: list[DeviceAction]) -> None:
    """What follows from the actions' new states (inside the transaction that records them)."""
    closed = [a.device_id for a in actions if a.kind in FILE_KINDS and a.status in FINAL_STATUSES]
    if closed:
        forget_files(closed)  # the files no longer carry them

        # The device fetches its file right after (it restarts after an upgrade): made now from the cached
        # base, after commit, the AutoP request is answered from the cache before Django.
        transaction.on_commit(lambda: files_from_base(closed))
    by_kind: dict[str, list[DeviceAction]] = defaultdict(list)
    for action in actions:
        by_kind[action.kind].append(action)
    for kind, group in by_kind.items():
        for handler in _RESULT_HANDLERS.get(kind, []):
            many = _MANY_HANDLERS.get(handler)
            if many is not None and len(group) > 1:
                many(group)
            else:
                for action in group:
                    handler(action)


# ---------------------------------------------------------------------------------------------
# Installer AutoP credentials (Setting module → AutoP)


def _new_autop_password() -> str:
    return secrets.token_urlsafe(18)


def autop_credential_get_or_create(*, installer) -> AutopCredential:
    """The installer's AutoP credentials, made on first need."""
    credential = AutopCredential.objects.filter(installer_id=installer.pk).first()
    if credential is not None:
        return credential
    with transaction.atomic():
        for _attempt in range(5):
            username = "ap" + secrets.token_hex(5)
            if not AutopCredential.objects.filter(username=username).exists():
                break
        credential, _created = AutopCredential.objects.get_or_create(
            installer_id=installer.pk, defaults={"username": username, "password": _new_autop_password()})
    return credential


def autop_credential_rotate(*, acting_user, installer) -> AutopCredential:
    """A new AutoP password; devices already provisioned keep working with their own secrets."""
    credential = autop_credential_get_or_create(installer=installer)
    with transaction.atomic():
        credential = AutopCredential.objects.select_for_update().get(pk=credential.pk)
        credential.password = _new_autop_password()
        credential.rotated_at = timezone.now()
        credential.full_clean()
        credential.save(update_fields=["password", "rotated_at"])
        audit(acting_user=acting_user, action="autop_credential.rotate", obj=credential, installer=installer,
              after={"username": credential.username, "rotated_at": credential.rotated_at})
    return credential


def autop_credential_check(username: str, password: str):
    """The installer whose AutoP credentials these are, or None."""
    credential = AutopCredential.objects.filter(username=username).select_related("installer").first()
    if credential is None or not hmac.compare_digest(credential.password.encode(), password.encode()):
        return None
    if not credential.installer.is_active:
        return None
    return credential.installer


# ---------------------------------------------------------------------------------------------
# Device credentials


def device_credentials_ensure(*, device) -> bool:
    """Give a device its protocol secret and broker password if it has none. True when something was made."""
    values = {}
    if not device.device_secret:
        values["device_secret"] = secrets.token_urlsafe(18)
    if not device.mqtt_password:
        values["mqtt_password"] = secrets.token_urlsafe(18)
    if not values:
        return False
    from entryway.devices.models import IntercomDevice

    # Only fill in what is still empty: two concurrent first calls must not hand out two secrets.
    for field, value in values.items():
        if IntercomDevice.objects.filter(pk=device.pk, **{field: ""}).update(**{field: value}):
            setattr(device, field, value)
        else:
            setattr(device, field, getattr(IntercomDevice.objects.only(field).get(pk=device.pk), field))
    forget_versions([device.pk])
    return True


# ---------------------------------------------------------------------------------------------
# Remote maintenance (a device's Settings)


def device_settings_update(*, acting_user, device, connect_type: str, autop_commands: str):
    """Connect Type and the "Others" Regular AutoP commands of one device (both go into its AutoP file)."""
    from entryway.devices.choices import ConnectType

    errors = {}
    if connect_type not in ConnectType.values:
        errors["connect_type"] = _("Choose TCP, UDP or TLS.")
    text = normalise_commands(autop_commands)
    line_errors = autop_errors(text)
    if line_errors:
        errors["autop_commands"] = [autop_line_message(e) for e in line_errors[:10]]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        fields = ["connect_type", "autop_commands"]
        before = snapshot(device, fields)
        device.connect_type = connect_type
        device.autop_commands = text
        after = snapshot(device, fields)
        if before == after:
            return device
        device.save(update_fields=[*fields, "updated_at"])
        changed_before, changed_after = changed(before, after)
        audit(acting_user=acting_user, action="device.settings", obj=device, before=changed_before,
              after=changed_after)
        forget_versions([device.pk])
        _notify_devices([device.mac])
    return device


def autop_line_message(error) -> str:
    return _("Line %(number)s is not an AutoP command (Config.<Module>.<Section>.<Key> = value): %(text)s") % {
        "number": error.line_number, "text": error.text}


def device_reboot(*, acting_user, device) -> DeviceAction:
    expires = timezone.now() + datetime.timedelta(seconds=settings.REBOOT_EXPIRY_SECONDS)
    return action_create(device=device, kind=ActionKind.REBOOT, acting_user=acting_user, expires_at=expires)


def device_once_autop(*, acting_user, device, commands: str) -> DeviceAction:
    """Once Autop: the commands are applied one time by the device, which confirms them."""
    text = normalise_commands(commands)
    line_errors = autop_errors(text)
    if line_errors:
        raise ValidationError({"autop_commands": [autop_line_message(e) for e in line_errors[:10]]})
    lines = autop_lines(text)
    if not lines:
        raise ValidationError({"autop_commands": _("Enter at least one AutoP command.")})
    expires = timezone.now() + datetime.timedelta(seconds=settings.AUTOP_ONCE_EXPIRY_SECONDS)
    return action_create(device=device, kind=ActionKind.AUTOP, payload={"lines": lines}, acting_user=acting_user,
                         expires_at=expires)


# ---------------------------------------------------------------------------------------------
# Batch AutoP (User module → Intercom Devices → AutoP)

REGULAR, ONE_TIME = "regular", "once"


def autop_batch_apply(*, acting_user, mode: str, commands: str, device_ids) -> int:
    """Regular AutoP (stays in the devices' files) or One Time AutoP (one action each) for ≤ 500 devices.

    Devices are taken only among those the acting installer owns; returns how many were provisioned.
    """
    from entryway.devices.models import IntercomDevice

    limit = settings.AUTOP_BATCH_MAX_DEVICES
    errors = {}
    if mode not in (REGULAR, ONE_TIME):
        errors["mode"] = _("Choose Regular AutoP or One Time AutoP.")
    text = normalise_commands(commands)
    line_errors = autop_errors(text)
    if line_errors:
        errors["commands"] = [autop_line_message(e) for e in line_errors[:10]]
    elif mode == ONE_TIME and not autop_lines(text):
        errors["commands"] = _("Enter at least one AutoP command.")
    ids = set()
    for raw in device_ids or []:
        try:
            ids.add(int(raw))
        except (TypeError, ValueError):
            errors["devices"] = _("Unknown device.")
    if not ids:
        errors.setdefault("devices", _("Select at least one device."))
    elif len(ids) > limit:
        errors["devices"] = _("You can provision %(limit)s devices at most at a time; %(count)s are selected.") % {
            "limit": limit, "count": len(ids)}
    if errors:
        raise ValidationError(errors)
    devices = list(IntercomDevice.objects.filter(installer_id=acting_user.pk, pk__in=ids)
                   .only("id", "mac", "installer_id"))
    if len(devices) != len(ids):
        raise ValidationError({"devices": _("Some selected devices are not yours or no longer exist.")})
    with transaction.atomic():
        if mode == REGULAR:
            # Every device gets the same text: one UPDATE for the whole selection.
            IntercomDevice.objects.filter(installer_id=acting_user.pk, pk__in=[d.pk for d in devices]).update(
                autop_commands=text, updated_at=timezone.now())
            forget_versions([d.pk for d in devices])
            _notify_devices([d.mac for d in devices])
        else:
            lines = autop_lines(text)
            expires = timezone.now() + datetime.timedelta(seconds=settings.AUTOP_ONCE_EXPIRY_SECONDS)
            actions_bulk_create(devices=devices, kind=ActionKind.AUTOP, payload_for={"lines": lines},
                                acting_user=acting_user, expires_at=expires)
        audit(acting_user=acting_user, action=f"device.autop_batch.{mode}", installer=acting_user,
              object_repr=f"AutoP ({len(devices)} devices)",
              after={"mode": mode, "commands": text, "devices": sorted(d.mac for d in devices)})
    return len(devices)


# ---------------------------------------------------------------------------------------------
# Check-in (the hot path: a constant, small number of queries, and no write on most calls)


def device_checkin(*, device, report: dict, now: datetime.datetime | None = None) -> dict:
    """Record what a device reports and answer its pending actions (marked sent) and config version.

    In SQL written once (entryway.core.rawsql): a check-in that reaches the database is a step of every
    action a fleet carries out, so it runs thousands of times a minute during a rollout.
    """
    from entryway.devices.models import IntercomDevice

    now = now or timezone.now()
    actions = _checkin_open_actions(device.pk, now)
    pending = [a.pk for a in actions if a.status == ActionStatus.PENDING]

    updates = {}
    for field, key in (("reported_model", "model"), ("firmware_version", "firmware"), ("ip_address", "ip")):
        if key in report and report[key] is not None and report[key] != getattr(device, field):
            updates[field] = report[key]
    reported = bool(updates)
    stale = (device.last_seen_at is None
             or (now - device.last_seen_at).total_seconds() >= settings.DEVICE_LAST_SEEN_WRITE_INTERVAL)
    if updates or stale:
        updates["last_seen_at"] = now
        if report.get("uptime") is not None:
            updates["uptime_seconds"] = report["uptime"]
    if pending or updates:
        lazy = not reported and connection.vendor == "postgresql" and not connection.in_atomic_block
        # One transaction for the check-in's writes. Its commit waits for the write-ahead log only when
        # it records a changed model, firmware or address: marking actions sent and a Last Connected
        # Time lost in a server crash do no harm (sent actions are answered again at every check-in
        # until their result arrives, and the next check-in brings the time again), and a fleet
        # fetching a rollout's actions would otherwise wait for the disk at every check-in.
        with transaction.atomic(savepoint=False), rawsql.cursor() as cursor:
            if lazy:  # only for a transaction of its own: a caller's keeps its durability
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
            if pending:
                _mark_sent(cursor, pending, now)
            if updates:
                _update_row(IntercomDevice, device.pk, updates)
    if updates:
        for field, value in updates.items():  # the caller's row as the database now has it
            setattr(device, field, value)
        if "ip_address" in updates:  # with IP call, the household's other AutoP files carry this address
            forget_versions(_ip_call_housemates(device.pk))

    return {
        "poll_interval": settings.DEVICE_POLL_INTERVAL,
        "server_time": now.astimezone(datetime.UTC).strftime(devicecache.TIME_FORMAT),
        "config_version": config_version(device.pk, mac=device.mac),
        "actions": [_answered(a) for a in actions],
    }


def _answered(action: DeviceAction) -> dict:
    """An action as the device gets it: in a check-in answer, and in a push that carries it."""
    return {"id": action.pk, "kind": action.kind, "payload": action.payload}


def _checkin_open_actions(device_id: int, now: datetime.datetime) -> list[DeviceAction]:
    """The device's open actions (pending or sent, not past their deadline), oldest first."""
    names = ("id", "kind", "payload", "status")
    table, stamp = rawsql.table(DeviceAction), connection.ops.adapt_datetimefield_value(now)
    with rawsql.cursor() as cursor:
        cursor.execute(
            f"SELECT {rawsql.columns(DeviceAction, names)} FROM {table} WHERE device_id = %s AND status IN (%s, %s)"
            " AND (expires_at IS NULL OR expires_at > %s) ORDER BY created_at, id",
            [device_id, ActionStatus.PENDING, ActionStatus.SENT, stamp])
        return rawsql.instances(DeviceAction, names, cursor.fetchall())


def _mark_sent(cursor, pending: list[int], now: datetime.datetime) -> None:
    stamp = connection.ops.adapt_datetimefield_value(now)
    cursor.execute(
        f"UPDATE {rawsql.table(DeviceAction)} SET status = %s, sent_at = %s, updated_at = %s"
        f" WHERE id IN ({', '.join(['%s'] * len(pending))}) AND status = %s",
        [ActionStatus.SENT, stamp, stamp, *pending, ActionStatus.PENDING])


def _update_row(model, pk: int, updates: dict) -> None:
    """``model.objects.filter(pk=pk).update(**updates)`` for plain fields, each value prepared by its field."""
    fields = [model._meta.get_field(name) for name in updates]
    assignments = ", ".join(f"{connection.ops.quote_name(field.column)} = %s" for field in fields)
    params = [field.get_db_prep_save(updates[field.name], connection) for field in fields]
    with rawsql.cursor() as cursor:
        cursor.execute(f"UPDATE {rawsql.table(model)} SET {assignments} WHERE id = %s", [*params, pk])


def _ip_call_housemates(device_id: int) -> list[int]:
    """The other devices of the device's household when the household uses IP call (else none).

    The owner's call type is read first (one row), so that a large SIP-call household is not read at all.
    """
    from entryway.devices.models import IntercomDevice
    from entryway.residents.choices import CallType
    from entryway.residents.models import Resident

    devices, residents = rawsql.table(IntercomDevice), rawsql.table(Resident)
    with rawsql.cursor() as cursor:
        cursor.execute(
            f"SELECT d.id FROM {devices} d WHERE d.owner_id = (SELECT r.id FROM {residents} r"
            f" INNER JOIN {devices} mine ON mine.owner_id = r.id WHERE mine.id = %s AND r.call_type = %s)"
            " AND d.id <> %s", [device_id, CallType.IP, device_id])
        return [row[0] for row in cursor.fetchall()]


# ---------------------------------------------------------------------------------------------
# Broker credentials (Mosquitto dynamic security), when MQTT_DYNSEC is on


def mqtt_device_provision(*, device_id: int) -> bool:
    """Create the device's broker client with its own topics only. False when there is nothing to do."""
    from entryway.deviceapi import mqtt
    from entryway.devices.models import IntercomDevice

    if not (settings.MQTT_URL and settings.MQTT_DYNSEC):
        return False
    device = IntercomDevice.objects.filter(pk=device_id).only("id", "mac", "device_secret", "mqtt_password").first()
    if device is None:
        return False
    device_credentials_ensure(device=device)
    mqtt.dynsec_device_provision(device.mac, device.mqtt_password)
    return True


def mqtt_device_revoke(*, mac: str) -> bool:
    from entryway.deviceapi import mqtt
    from entryway.devices.models import IntercomDevice

    if not (settings.MQTT_URL and settings.MQTT_DYNSEC):
        return False
    if IntercomDevice.objects.filter(mac=mac).exists():
        return False  # the MAC was bound again meanwhile: its new device keeps its credentials
    mqtt.dynsec_device_revoke(mac)
    return True
