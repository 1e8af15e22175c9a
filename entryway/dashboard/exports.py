"""Exports of the User, Device, MAC Library and Payments lists: the current search result as CSV or XLSX.

Rows are streamed (CSV) or written with openpyxl's write-only mode (XLSX), in chunks, so a
large list does not sit in memory. A result of more than ``EXPORT_INLINE_MAX_ROWS`` rows is
written by a background job whose progress the portal shows; the file is then downloaded from
the job's page. Each export is audited.
"""
from __future__ import annotations

import csv
import io
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace

from django.conf import settings
from django.db.models import QuerySet
from django.http import Http404, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from entryway.core.access import installer_required
from entryway.core.audit import audit

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class Export:
    title: str
    columns: list[str]
    queryset: Callable  # (request) -> QuerySet
    row: Callable  # (obj, tz) -> list


def local_time(value, tz):
    if value is None:
        return ""
    return timezone.localtime(value, tz).strftime("%Y-%m-%d %H:%M:%S")


# Each list is read through the selector its page uses, with the page's own search parameters, so an
# export is exactly the current search result.


def _users(request) -> QuerySet:
    from entryway.residents.selectors import resident_list

    return resident_list(request.user, q=request.GET.get("q", ""), status=request.GET.get("status", ""))


def _user_row(r, tz):
    return [r.name, r.family_sip, r.personal_sip, r.room_name, r.email, r.mobile_number, r.address,
            r.family_member_count, r.get_active_status_display(), r.get_landline_status_display(),
            local_time(r.created_at, tz), local_time(r.landline_expires_at, tz), local_time(r.expires_at, tz)]


def _devices(request) -> QuerySet:
    from entryway.devices.selectors import device_list

    return device_list(request.user, q=request.GET.get("q", ""))


def _device_row(d, tz):
    return [d.mac, d.owner.name, d.sip_number, d.location, d.device_model.name, d.device_model.get_device_type_display(),
            _("Online") if d.is_online else _("Offline"), d.firmware_version, local_time(d.last_seen_at, tz)]


def _macs(request) -> QuerySet:
    from entryway.devices.selectors import mac_list

    return mac_list(request.user, q=request.GET.get("q", ""), bound=request.GET.get("bound", ""))


def _mac_row(m, tz):
    device = getattr(m, "device", None)
    return [m.mac, _("Bound") if device else _("Not bound"), device.owner.name if device else "",
            local_time(m.created_at, tz)]


# Titles, column names and words in cells are the guide's, in the language of whoever exports (a background
# export runs in the language of the account that started it).
EXPORTS: dict[str, Export] = {
    "users": Export(gettext_lazy("User"), [
        gettext_lazy("Name"), gettext_lazy("Family SIP"), gettext_lazy("Personal SIP"), gettext_lazy("Room"),
        gettext_lazy("Email"), gettext_lazy("Mobile Number"), gettext_lazy("Address"), gettext_lazy("Family Member"),
        gettext_lazy("Active"), gettext_lazy("Landline Status"), gettext_lazy("Created Time"),
        gettext_lazy("Landline Expiration Time"), gettext_lazy("Expiration Time")], _users, _user_row),
    "devices": Export(gettext_lazy("Device"), [
        gettext_lazy("MAC"), gettext_lazy("Owner"), gettext_lazy("SIP"), gettext_lazy("Location"),
        gettext_lazy("Model"), gettext_lazy("Device Type"), gettext_lazy("Status"), gettext_lazy("Firmware"),
        gettext_lazy("Last Connected Time")], _devices, _device_row),
    "mac-library": Export(gettext_lazy("MAC Library"), [
        gettext_lazy("MAC"), gettext_lazy("Bound"), gettext_lazy("User"), gettext_lazy("Created Time")],
        _macs, _mac_row),
}


def register_export(key: str, export: Export) -> None:
    """Other apps (Payments) add their list here."""
    EXPORTS[key] = export


def _cell(value):
    return value if isinstance(value, (int, float)) or value is None else str(value)


def _rows(export: Export, qs: QuerySet, tz) -> Iterator[list]:
    for obj in qs.iterator(chunk_size=2000):
        yield [_cell(v) for v in export.row(obj, tz)]


def _in_language(language: str, items: Iterator) -> Iterator:
    with translation.override(language):
        yield from items


class _Echo:
    def write(self, value):
        return value


def _csv_stream(columns: list[str], rows: Iterable[list]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff"  # so that spreadsheet programs read UTF-8 names correctly
    yield writer.writerow([str(c) for c in columns])
    for row in rows:
        yield writer.writerow(row)


def _xlsx(title: str, columns: list[str], rows: Iterable[list]) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(str(title)[:31])
    sheet.append([str(c) for c in columns])
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _audit(user, key: str, fmt: str, query: dict, filename: str) -> None:
    audit(acting_user=user, action=f"export.{key}", installer=user, after={"format": fmt, "query": query},
          object_repr=filename)


def _file_name(key: str, fmt: str) -> str:
    return f"{key}-{timezone.localtime().strftime('%Y%m%d-%H%M%S')}.{fmt}"


def _content(export: Export, fmt: str, rows: Iterable[list]) -> bytes:
    if fmt == "csv":
        return "".join(_csv_stream(export.columns, rows)).encode("utf-8")
    return _xlsx(export.title, export.columns, rows)


def run_export_job(job, progress) -> dict:
    """The background half of a large export: the same rows as the page's search, with progress."""
    params = job.params
    export = EXPORTS.get(params["key"])
    if export is None:
        raise ValueError(f"no export {params['key']!r}")
    request = SimpleNamespace(user=job.created_by, GET=QueryDict(params.get("query", "")))
    qs = export.queryset(request)
    total = qs.count()
    progress(0, total)
    tz = zoneinfo.ZoneInfo(params.get("tz") or "UTC")

    def counted() -> Iterator[list]:
        done = 0
        for done, row in enumerate(_rows(export, qs, tz), 1):
            if done % 500 == 0:
                progress(done, total)
            yield row
        progress(done, max(done, total))

    with timezone.override(tz):
        job.data = _content(export, params["fmt"], counted())
        job.file_name = params["file_name"]
    job.content_type = "text/csv; charset=utf-8" if params["fmt"] == "csv" else XLSX_TYPE
    message = ngettext("%(n)s row exported to %(file)s.", "%(n)s rows exported to %(file)s.", job.total)
    return {"message": message % {"n": job.total, "file": job.file_name},
            "link": reverse("dashboard:job_download", kwargs={"pk": job.pk}), "link_label": _("Download")}


@installer_required
def export_list(request, key: str, fmt: str):
    export = EXPORTS.get(key)
    if export is None or fmt not in ("csv", "xlsx"):
        raise Http404("No such export.")
    qs = export.queryset(request)
    tz = timezone.get_current_timezone()
    filename = _file_name(key, fmt)
    if qs.count() > settings.EXPORT_INLINE_MAX_ROWS:
        from entryway.dashboard.jobs import job_start

        job = job_start(acting_user=request.user, kind="export", title=_("Export of %(list)s (%(format)s)") % {
            "list": export.title, "format": fmt.upper()}, params={
            "key": key, "fmt": fmt, "query": request.GET.urlencode(), "tz": str(tz), "file_name": filename})
        _audit(request.user, key, fmt, dict(request.GET.items()), filename)
        return redirect("dashboard:job_detail", pk=job.pk)
    _audit(request.user, key, fmt, dict(request.GET.items()), filename)
    if fmt == "csv":
        # Streamed after the view returns: in the request's language, whatever the thread's is by then.
        response = StreamingHttpResponse(_in_language(translation.get_language(),
                                                      _csv_stream(export.columns, _rows(export, qs, tz))),
                                         content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(_xlsx(export.title, export.columns, _rows(export, qs, tz)), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
