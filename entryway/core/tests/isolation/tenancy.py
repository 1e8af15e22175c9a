"""Reading one tenant's rows across every model, to prove a request left them as they were."""
from __future__ import annotations

from django.apps import apps
from django.db.models import Q

from entryway.accounts.models import Account

# Platform-wide rows that belong to no tenant.
GLOBAL_MODELS = {"sip.SipCounter", "sip.SipTrunk", "devices.DeviceModel", "firmware.Firmware"}
# The audit log only grows; refused attempts are written into the owner's history by design.
APPEND_ONLY = {"core.AuditLog"}


def project_models():
    return [m for m in apps.get_models() if m.__module__.startswith("entryway.")]


def _has_installer(model) -> bool:
    return any(f.name == "installer" for f in model._meta.concrete_fields)


def ownership_q(model, *, installers, accounts) -> Q | None:
    """Rows of ``model`` that belong to the given installers or accounts; None when it has no owner."""
    if model is Account:
        return Q(pk__in=accounts)
    q = None
    for f in model._meta.concrete_fields:
        if not f.is_relation:
            continue
        related = f.related_model
        if related is Account:
            part = Q(**{f"{f.name}__in": accounts})
        elif _has_installer(related):
            part = Q(**{f"{f.name}__installer__in": installers})
        else:
            continue
        q = part if q is None else q | part
    return q


def unowned_models() -> list[str]:
    """Models the snapshot cannot attribute to a tenant and that are not declared platform-wide."""
    out = []
    for model in project_models():
        label = model._meta.label
        if label in GLOBAL_MODELS or label in APPEND_ONLY:
            continue
        if ownership_q(model, installers=[0], accounts=[0]) is None:
            out.append(label)
    return out


def tenant_accounts(installers, distributors) -> list[int]:
    from entryway.residents.models import FamilyMember, Resident

    ids = set(installers) | set(distributors)
    ids |= {a for a in Resident.objects.filter(installer__in=installers).values_list("account_id", flat=True) if a}
    ids |= {a for a in FamilyMember.objects.filter(installer__in=installers).values_list("account_id", flat=True) if a}
    return sorted(ids)


def snapshot(*, installers, accounts) -> dict:
    """Every row of every tenant model owned by these installers/accounts, field by field."""
    out = {}
    for model in project_models():
        label = model._meta.label
        if label in GLOBAL_MODELS or label in APPEND_ONLY:
            continue
        q = ownership_q(model, installers=installers, accounts=accounts)
        names = [f.attname for f in model._meta.concrete_fields]
        out[label] = {row[0]: row for row in model._base_manager.filter(q).order_by("pk").values_list("pk", *names)}
    return out


def diff(before: dict, after: dict) -> list[str]:
    problems = []
    for label, rows in before.items():
        now = after.get(label, {})
        for pk in rows.keys() - now.keys():
            problems.append(f"{label} #{pk} deleted")
        for pk in now.keys() - rows.keys():
            problems.append(f"{label} #{pk} created")
        for pk in rows.keys() & now.keys():
            if rows[pk] != now[pk]:
                problems.append(f"{label} #{pk} changed: {rows[pk]} -> {now[pk]}")
    return problems


def cross_tenant_references() -> list[str]:
    """Rows whose own installer differs from the installer of an object they point at."""
    problems = []
    for model in project_models():
        paths = ["installer_id"] if _has_installer(model) else []
        for f in model._meta.concrete_fields:
            if f.is_relation and f.name != "installer" and f.related_model is not Account \
                    and _has_installer(f.related_model):
                paths.append(f"{f.name}__installer_id")
        if len(paths) < 2:
            continue
        for row in model._base_manager.values_list("pk", *paths):
            owners = {v for v in row[1:] if v is not None}
            if len(owners) > 1:
                problems.append(f"{model._meta.label} #{row[0]} links installers {sorted(owners)} via {paths}")
    return problems
