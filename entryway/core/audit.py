"""Writing audit records. Every service that changes data calls ``audit()`` once per change."""
from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any, Iterable

from django.db import models

from entryway.core.models import AuditLog
from entryway.core.request_context import current_request_info

# Fields whose values never enter the audit log.
SECRET_FIELD_NAMES = {"password", "sip_password", "secret", "device_secret", "mqtt_password", "totp_secret"}


def _jsonable(value: Any) -> Any:
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def snapshot(instance: models.Model, fields: Iterable[str] | None = None) -> dict[str, Any]:
    """The concrete field values of an instance, secrets masked, ready for JSON."""
    data: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if fields is not None and field.name not in fields:
            continue
        name = field.attname
        if field.name in SECRET_FIELD_NAMES or "password" in field.name or "secret" in field.name:
            data[field.name] = "***" if getattr(instance, name) else ""
            continue
        data[field.name] = _jsonable(getattr(instance, name))
    return data


def audit(
    *,
    acting_user,
    action: str,
    obj: models.Model | None = None,
    installer=None,
    before: dict | None = None,
    after: dict | None = None,
    object_repr: str | None = None,
) -> AuditLog:
    info = current_request_info()
    if installer is None and obj is not None:
        installer_id = getattr(obj, "installer_id", None)
    else:
        installer_id = getattr(installer, "pk", installer)
    actor = acting_user if getattr(acting_user, "pk", None) else None
    return AuditLog.objects.create(
        actor=actor,
        actor_repr=(acting_user.get_username() if actor else str(acting_user or "system"))[:200],
        impersonator_id=info.get("impersonator_id"),
        installer_id=installer_id,
        action=action,
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        object_repr=(object_repr if object_repr is not None else (str(obj) if obj is not None else ""))[:200],
        before=_jsonable(before) if before is not None else None,
        after=_jsonable(after) if after is not None else None,
        ip_address=info.get("ip"),
        request_id=info.get("request_id", ""),
    )


def changed(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the keys whose values differ, for a compact before/after record."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}
