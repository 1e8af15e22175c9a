"""Exports of the User, Device, MAC Library and Payments lists: the current search result as CSV or XLSX.

Rows are streamed (CSV) or written with openpyxl's write-only mode (XLSX), in chunks, so a
large list does not sit in memory. Each export is audited.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from django.db.models import Q, QuerySet
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.utils import timezone

from entryway.core.access import installer_required
from entryway.core.audit import audit

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class Export:
    title: str
    columns: list[str]
    queryset: Callable  # (request) -> QuerySet
    row: Callable  # (obj, tz) -> list


def _local(value, tz):
    if value is None:
        return ""
    return timezone.localtime(value, tz).strftime("%Y-%m-%d %H:%M:%S")


def _users(request) -> QuerySet:
    from entryway.residents.models import Resident

    qs = Resident.objects.visible_to(request.user).search(request.GET.get("q", ""))
    status = request.GET.get("status")
    if status:
        qs = qs.with_status(status)
    return qs.order_by("-created_at", "-id")


def _user_row(r, tz):
    return [r.name, r.family_sip, r.personal_sip, r.room_name, r.email, r.mobile_number, r.address,
            r.family_member_count, r.get_active_status_display(), r.get_landline_status_display(),
            _local(r.created_at, tz), _local(r.landline_expires_at, tz), _local(r.expires_at, tz)]


def _devices(request) -> QuerySet:
    from entryway.devices.models import IntercomDevice

    qs = IntercomDevice.objects.visible_to(request.user).select_related("owner", "device_model")
    q = (request.GET.get("q") or "").strip()
    if q:
        mac = q.replace(":", "").replace("-", "").upper()
        qs = qs.filter(Q(mac__icontains=mac) | Q(location__icontains=q) | Q(sip_number=q) | Q(owner__name__icontains=q))
    return qs.order_by("-created_at", "-id")


def _device_row(d, tz):
    return [d.mac, d.owner.name, d.sip_number, d.location, d.device_model.name, d.device_model.get_device_type_display(),
            "Online" if d.is_online else "Offline", d.firmware_version, _local(d.last_seen_at, tz)]


def _macs(request) -> QuerySet:
    from entryway.devices.models import MacLibraryEntry

    qs = MacLibraryEntry.objects.visible_to(request.user).select_related("device__owner")
    q = (request.GET.get("q") or "").strip().replace(":", "").replace("-", "").upper()
    if q:
        qs = qs.filter(mac__icontains=q)
    return qs.order_by("-created_at", "-id")


def _mac_row(m, tz):
    device = getattr(m, "device", None)
    return [m.mac, "Bound" if device else "Not bound", device.owner.name if device else "", _local(m.created_at, tz)]


EXPORTS: dict[str, Export] = {
    "users": Export("User", ["Name", "Family SIP", "Personal SIP", "Room", "Email", "Mobile Number", "Address",
                             "Family Member", "Active", "Landline Status", "Created Time", "Landline Expiration Time",
                             "Expiration Time"], _users, _user_row),
    "devices": Export("Device", ["MAC", "Owner", "SIP", "Location", "Model", "Device Type", "Status", "Firmware",
                                 "Last Connected Time"], _devices, _device_row),
    "mac-library": Export("MAC Library", ["MAC", "Bound", "User", "Created Time"], _macs, _mac_row),
}


def register_export(key: str, export: Export) -> None:
    """Other apps (Payments) add their list here."""
    EXPORTS[key] = export


def _cell(value):
    return value if isinstance(value, (int, float)) or value is None else str(value)


def _rows(export: Export, qs: QuerySet, tz) -> Iterator[list]:
    for obj in qs.iterator(chunk_size=2000):
        yield [_cell(v) for v in export.row(obj, tz)]


class _Echo:
    def write(self, value):
        return value


def _csv_stream(columns: list[str], rows: Iterable[list]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff"  # so that spreadsheet programs read UTF-8 names correctly
    yield writer.writerow(columns)
    for row in rows:
        yield writer.writerow(row)


def _xlsx(title: str, columns: list[str], rows: Iterable[list]) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.append(columns)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@installer_required
def export_list(request, key: str, fmt: str):
    export = EXPORTS.get(key)
    if export is None or fmt not in ("csv", "xlsx"):
        raise Http404("No such export.")
    qs = export.queryset(request)
    tz = timezone.get_current_timezone()
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    filename = f"{key}-{stamp}.{fmt}"
    audit(acting_user=request.user, action=f"export.{key}", installer=request.user,
          after={"format": fmt, "query": dict(request.GET.items())}, object_repr=filename)
    if fmt == "csv":
        response = StreamingHttpResponse(_csv_stream(export.columns, _rows(export, qs, tz)),
                                         content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(_xlsx(export.title, export.columns, _rows(export, qs, tz)), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
