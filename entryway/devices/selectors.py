"""Reads of the Device and MAC Library modules, always through ``visible_to``."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import BooleanField, Exists, F, Func, OuterRef, Q

from entryway.core.validators import normalize_mac
from entryway.devices.models import DeviceModel, IntercomDevice, MacLibraryEntry, ThirdPartyCamera

MAX_SEARCH = 64


def clean_search(value) -> str:
    return str(value or "").replace("\x00", "").strip()[:MAX_SEARCH]


MAC_LENGTH = 12  # stored MACs: 12 hexadecimal digits, upper case (entryway.core.validators.normalize_mac)


def _mac_fragment(q: str) -> str:
    """What to look for in stored MACs: separators dropped, upper case."""
    return q.replace(":", "").replace("-", "").replace(" ", "").upper()


def mac_list(user, *, q: str = "", bound: str = ""):
    qs = MacLibraryEntry.objects.visible_to(user)
    if user.role == "installer":
        qs = qs.filter(installer_id=user.pk)
    q = clean_search(q)
    if q:
        qs = qs.filter(mac__contains=_mac_fragment(q))
    bound_q = IntercomDevice.objects.filter(mac_entry=OuterRef("pk"))
    if bound == "bound":
        qs = qs.filter(Exists(bound_q))
    elif bound == "free":
        qs = qs.exclude(Exists(bound_q))
    return qs.select_related("device__owner", "installer").order_by("-created_at", "-id")


def free_macs(installer, *, limit: int = 500) -> list[str]:
    """MACs of an installer's library not bound to any device (newest first)."""
    return list(
        MacLibraryEntry.objects.filter(installer=installer, device__isnull=True)
        .order_by("-created_at", "-id").values_list("mac", flat=True)[:limit]
    )


class _EqualsAny(Func):
    """``lhs = ANY(array)`` (PostgreSQL)."""

    arg_joiner = " = ANY("
    template = "%(expressions)s)"
    output_field = BooleanField()


def _owner_named(user, q: str) -> Q:
    """Devices whose owner's name contains ``q``.

    Not a join: an OR across a join reads every device of the installer. On PostgreSQL the owners
    are an array computed once (``owner_id = ANY(ARRAY(SELECT ...))``), which the planner combines
    with the trigram indexes of the other columns (BitmapOr); elsewhere an ``IN (SELECT ...)``.
    """
    from entryway.residents.models import Resident

    owners = Resident.objects.visible_to(user).filter(name__icontains=q).order_by().values("pk")
    if connection.vendor == "postgresql":
        from django.contrib.postgres.expressions import ArraySubquery

        return Q(_EqualsAny(F("owner_id"), ArraySubquery(owners)))
    return Q(owner_id__in=owners)


def device_list(user, *, q: str = "", owner=None):
    """Intercom devices; the search matches MAC, Location, SIP or Owner."""
    qs = IntercomDevice.objects.visible_to(user)
    if owner is not None:
        qs = qs.filter(owner=owner)
    q = clean_search(q)
    if q:
        cond = Q(location__icontains=q) | _owner_named(user, q) | Q(sip_number__icontains=q)
        fragment = _mac_fragment(q)
        if len(fragment) == MAC_LENGTH:
            # A whole MAC is in a stored MAC only as the MAC itself: the unique index answers at once, where
            # the trigram index reads the postings of ten common trigrams (5 ms of 300,000 devices).
            cond |= Q(mac=fragment)
        elif fragment:
            cond |= Q(mac__icontains=fragment)
        qs = qs.filter(cond)
    return qs.select_related("owner", "device_model").order_by("-created_at", "-id")


def camera_list(user, *, q: str = "", owner=None):
    """Third-party cameras; the search matches Location."""
    qs = ThirdPartyCamera.objects.visible_to(user)
    if owner is not None:
        qs = qs.filter(owner=owner)
    q = clean_search(q)
    if q:
        qs = qs.filter(location__icontains=q)
    return qs.select_related("owner", "link_device").order_by("-created_at", "-id")


def catalog_grouped():
    """[(device type label, [DeviceModel, ...]), ...] for the Device Type select."""
    groups: dict[str, list] = {}
    labels = {}
    for model in DeviceModel.objects.order_by("device_type", "name"):
        groups.setdefault(model.device_type, []).append(model)
        labels[model.device_type] = model.get_device_type_display()
    return [(labels[key], models) for key, models in groups.items()]


def parse_mac_or_none(value: str) -> str | None:
    try:
        return normalize_mac(value)
    except ValidationError:
        return None
