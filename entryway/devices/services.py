"""Writes on the MAC Library, intercom devices, relays and third-party cameras.

Views, the API, tasks and demo data all come through here. Every change is audited; camera
passwords and device secrets never enter the audit log (``snapshot`` masks them).
"""
from __future__ import annotations

import datetime
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from entryway.accounts.choices import Role
from entryway.core.audit import audit, changed, snapshot
from entryway.core.validators import normalize_mac
from entryway.devices.choices import MAX_DTMF_LENGTH, MAX_RELAYS, ImportRowResult, ImportStatus
from entryway.devices.models import (
    DeviceModel,
    IntercomDevice,
    MacImport,
    MacLibraryEntry,
    Relay,
    ThirdPartyCamera,
)
from entryway.sip.choices import SipKind
from entryway.sip.models import SipAccount
from entryway.sip.services import sip_account_create, sip_account_deactivate

IMPORT_BATCH_SIZE = 2000
LOOKUP_CHUNK = 900  # stays under SQLite's bound-parameter limit on old builds

DTMF_RE = re.compile(rf"^[0-9*#]{{1,{MAX_DTMF_LENGTH}}}$")
# rtsp://host:port plus an optional path (and its query). Host: IPv4, [IPv6] or a domain name.
_IPV4 = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}"
_IPV6 = r"\[[0-9A-Fa-f:.]{2,45}\]"
_DOMAIN = r"(?=.{1,253}(?::|$))(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
RTSP_RE = re.compile(
    r"^rtsp://(?P<host>" + _IPV4 + "|" + _IPV6 + "|" + _DOMAIN + r"):(?P<port>\d{1,5})"
    r"(?P<path>/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*(?:\?[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*)?)?$"
)


def _refuse_unstorable(value: str, field_name: str, errors: dict) -> str:
    if "\x00" in value:
        errors.setdefault(field_name, []).append(_("Null characters are not allowed."))
        value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        errors.setdefault(field_name, []).append(_("This text contains characters that are not valid."))
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def _text(data_value: Any, field_name: str, errors: dict, *, required: bool, max_length: int, label: str) -> str:
    value = _refuse_unstorable(str(data_value or "").strip(), field_name, errors)
    if required and not value:
        errors.setdefault(field_name, []).append(_("%(field)s is required.") % {"field": label})
    elif len(value) > max_length:
        errors.setdefault(field_name, []).append(
            _("%(field)s has at most %(n)d characters.") % {"field": label, "n": max_length})
    return value


# ---------------------------------------------------------------------------------------------
# MAC Library


def _library_owner(*, acting_user, installer=None, distributor=None) -> tuple[Any, Any]:
    """Which library a MAC goes to: (installer, distributor) after checking who may write there."""
    role = acting_user.role
    if role == Role.INSTALLER:
        if installer is not None and installer.pk != acting_user.pk:
            raise ValidationError(_("An installer adds MACs to their own MAC Library only."))
        return acting_user, acting_user.parent
    if role == Role.DISTRIBUTOR:
        if distributor is not None and distributor.pk != acting_user.pk:
            raise ValidationError(_("A distributor registers MACs in their own register only."))
        if installer is not None and installer.parent_id != acting_user.pk:
            raise ValidationError({"installer": [_("This installer is not one of yours.")]})
        return installer, acting_user
    if role == Role.ADMIN:
        if installer is None and distributor is None:
            raise ValidationError(_("Say which installer's or distributor's library the MAC goes to."))
        if installer is not None and installer.role != Role.INSTALLER:
            raise ValidationError({"installer": [_("This account is not an installer.")]})
        if distributor is not None and distributor.role != Role.DISTRIBUTOR:
            raise ValidationError({"distributor": [_("This account is not a distributor.")]})
        return installer, distributor if distributor is not None else getattr(installer, "parent", None)
    raise ValidationError(_("Your role cannot add MACs."))


def _mac_taken_message(entry: MacLibraryEntry, installer, distributor) -> str:
    if installer is not None and entry.installer_id == installer.pk:
        return _("%(mac)s is already in your MAC Library.") % {"mac": entry.mac}
    if installer is None and distributor is not None and entry.distributor_id == distributor.pk:
        return _("%(mac)s is already registered.") % {"mac": entry.mac}
    return _("%(mac)s belongs to another MAC Library: a MAC is in one library only.") % {"mac": entry.mac}


@transaction.atomic
def mac_add(*, acting_user, mac: str, installer=None, distributor=None) -> MacLibraryEntry:
    """Add one MAC (any of the three written forms) to a library."""
    try:
        value = normalize_mac(mac if isinstance(mac, str) else "")
    except ValidationError as exc:
        raise ValidationError({"mac": exc.messages})
    installer, distributor = _library_owner(acting_user=acting_user, installer=installer, distributor=distributor)
    existing = MacLibraryEntry.objects.filter(mac=value).first()
    if existing is not None:
        raise ValidationError({"mac": [_mac_taken_message(existing, installer, distributor)]})
    entry = MacLibraryEntry(mac=value, installer=installer, distributor=distributor, added_by=acting_user)
    try:
        with transaction.atomic():
            entry.save()
    except IntegrityError:
        raise ValidationError({"mac": [_("%(mac)s was just added to a MAC Library.") % {"mac": value}]})
    audit(acting_user=acting_user, action="mac.add", obj=entry, installer=installer,
          after={"mac": value, "installer": getattr(installer, "pk", None),
                 "distributor": getattr(distributor, "pk", None)})
    return entry


@dataclass
class ImportReport:
    total: int = 0
    added: int = 0
    duplicates: int = 0
    invalid: int = 0
    # (row number, value as read, result, message)
    rows: list[tuple[int, str, str, str]] = field(default_factory=list)

    @property
    def processed(self) -> int:
        return self.added + self.duplicates + self.invalid

    def as_dict(self) -> dict:
        return {"total": self.total, "added": self.added, "duplicates": self.duplicates, "invalid": self.invalid,
                "rows": [{"row": r, "value": v, "result": res, "message": m} for r, v, res, m in self.rows]}


def _owners_of(macs: list[str]) -> dict[str, tuple]:
    """{mac: (installer id, distributor id, added by id, created at)} for those of ``macs`` already in some library."""
    from django.db import connection

    taken: dict[str, tuple] = {}
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(MacLibraryEntry._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT mac, installer_id, distributor_id, added_by_id, created_at FROM {table} "
                           "WHERE mac = ANY(%s)", [macs])
            for mac, *owner in cursor.fetchall():
                taken[mac] = tuple(owner)
        return taken
    for i in range(0, len(macs), LOOKUP_CHUNK):
        for mac, *owner in MacLibraryEntry.objects.filter(mac__in=macs[i:i + LOOKUP_CHUNK]).values_list(
                "mac", "installer_id", "distributor_id", "added_by_id", "created_at"):
            taken[mac] = tuple(owner)
    return taken


def _insert_batch(macs: list[str], *, installer_id, distributor_id, added_by_id, created_at) -> set[str]:
    """Insert one batch of MACs with one multi-row statement per chunk (no model instances: 100,000 rows
    must load in seconds). If another writer took some of them meanwhile, insert row by row. The MACs added."""
    if not macs:
        return set()
    from django.db import connection

    table = connection.ops.quote_name(MacLibraryEntry._meta.db_table)
    stamp = MacLibraryEntry._meta.get_field("created_at").get_db_prep_value(created_at, connection)
    columns = "(mac, installer_id, distributor_id, added_by_id, created_at)"
    row_sql = "(%s, %s, %s, %s, %s)"
    per_statement = 500  # 2,500 parameters: within every SQLite build's limit

    def rows_params(chunk):
        params = []
        for mac in chunk:
            params.extend((mac, installer_id, distributor_id, added_by_id, stamp))
        return params

    try:
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # One statement with one array parameter for the whole batch
                cursor.execute(f"INSERT INTO {table} {columns} "
                               "SELECT m, %s::bigint, %s::bigint, %s::bigint, %s::timestamptz FROM unnest(%s::varchar[]) AS m",
                               [installer_id, distributor_id, added_by_id, stamp, macs])
                return set(macs)
            for i in range(0, len(macs), per_statement):
                chunk = macs[i:i + per_statement]
                cursor.execute(f"INSERT INTO {table} {columns} VALUES " + ", ".join([row_sql] * len(chunk)),
                               rows_params(chunk))
        return set(macs)
    except IntegrityError:
        added = set()
        for mac in macs:
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(f"INSERT INTO {table} {columns} VALUES {row_sql}", rows_params([mac]))
                added.add(mac)
            except IntegrityError:
                pass
        return added


def mac_import(
    *,
    acting_user,
    rows: Iterable[tuple[int, Any]],
    installer=None,
    distributor=None,
    progress: Callable[[ImportReport, int], None] | None = None,
    done: Callable[[ImportReport], None] | None = None,
    stamp=None,
    source: str = "",
) -> ImportReport:
    """Add many MACs: each row is added, a duplicate or invalid, and reported as such.

    ``rows`` yields (row number, value as read). Rows are checked and inserted in batches; a row is
    never half-imported (one MAC per row, one INSERT each). One audit row records the import.

    Each batch commits in one transaction with ``progress(report, index of the next row)``, and the
    audit row with ``done(report)``. Every MAC is stamped with ``stamp`` (default: now): a MAC already
    in the library with this import's owner, author and stamp was added by an earlier, interrupted run
    of the same import and is reported as added, so that a rerun gives the report of one whole run.
    """
    installer, distributor = _library_owner(acting_user=acting_user, installer=installer, distributor=distributor)
    report = ImportReport()
    seen: set[str] = set()
    now = stamp or timezone.now()
    ours = (getattr(installer, "pk", None), getattr(distributor, "pk", None), getattr(acting_user, "pk", None), now)
    # Messages translated once, not once a row
    added_as = _("Added as %(mac)s.")
    in_this_library, registered = _("Already in this MAC Library."), _("Already registered.")
    elsewhere, repeated = _("Belongs to another MAC Library."), _("Repeats an earlier row of the file.")

    def flush(batch: list[tuple[int, str, str]], next_row: int) -> None:
        with transaction.atomic():
            _flush(batch)
            if progress is not None:
                progress(report, next_row)

    def _flush(batch: list[tuple[int, str, str]]) -> None:
        macs = [m for _r, _v, m in batch]
        taken = _owners_of(macs)
        added = _insert_batch([m for _r, _v, m in batch if m not in taken],
                              installer_id=ours[0], distributor_id=ours[1], added_by_id=ours[2], created_at=now)
        added.update(m for m in macs if taken.get(m) == ours)
        for row, raw, mac in batch:
            if mac in added:
                report.added += 1
                report.rows.append((row, raw, ImportRowResult.ADDED, added_as % {"mac": mac}))
            else:
                report.duplicates += 1
                owner = taken.get(mac)
                if owner is not None and installer is not None and owner[0] == installer.pk:
                    message = in_this_library
                elif owner is not None and installer is None and owner[0] is None and distributor is not None \
                        and owner[1] == distributor.pk:
                    message = registered
                else:
                    message = elsewhere
                report.rows.append((row, raw, ImportRowResult.DUPLICATE, message))

    batch: list[tuple[int, str, str]] = []
    position = 0
    for position, (row, value) in enumerate(rows, start=1):
        report.total += 1
        raw = _cell_text(value).replace("\x00", "")  # JSON in PostgreSQL cannot hold NUL
        try:
            mac = normalize_mac(raw)
        except ValidationError as exc:
            report.invalid += 1
            report.rows.append((row, raw[:40], ImportRowResult.INVALID, exc.messages[0]))
            continue
        if mac in seen:
            report.duplicates += 1
            report.rows.append((row, raw, ImportRowResult.DUPLICATE, repeated))
            continue
        seen.add(mac)
        batch.append((row, raw, mac))
        if len(batch) >= IMPORT_BATCH_SIZE:
            flush(batch, position)
            batch = []
    flush(batch, position)
    report.rows.sort(key=lambda r: r[0])
    with transaction.atomic():
        audit(acting_user=acting_user, action="mac.import", installer=installer, object_repr=source[:200],
              after={"source": source, "total": report.total, "added": report.added,
                     "duplicates": report.duplicates, "invalid": report.invalid,
                     "installer": getattr(installer, "pk", None), "distributor": getattr(distributor, "pk", None)})
        if done is not None:
            done(report)
    return report


def _cell_text(value: Any) -> str:
    """A spreadsheet cell as text. A MAC of digits only may come back as a number: pad it to 12 digits."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        text = str(value)
        return text.zfill(12) if 0 <= value and len(text) <= 12 else text
    return str(value).strip()


@transaction.atomic
def mac_remove(*, acting_user, entry: MacLibraryEntry) -> None:
    """Remove a MAC from its library; a MAC bound to a user's device must be unbound first."""
    entry = MacLibraryEntry.objects.select_for_update().get(pk=entry.pk)
    device = IntercomDevice.objects.filter(mac_entry=entry).select_related("owner").first()
    if device is not None:
        raise ValidationError({"mac": [
            _("%(mac)s is bound to %(owner)s's device (%(location)s): unbind it first by deleting the device.")
            % {"mac": entry.mac, "owner": device.owner.name, "location": device.location}]})
    if acting_user.role == Role.INSTALLER and entry.installer_id != acting_user.pk:
        raise ValidationError(_("This MAC is not in your MAC Library."))
    if acting_user.role == Role.DISTRIBUTOR and entry.distributor_id != acting_user.pk and (
            entry.installer is None or entry.installer.parent_id != acting_user.pk):
        raise ValidationError(_("This MAC is not in your register."))
    before = {"mac": entry.mac, "installer": entry.installer_id, "distributor": entry.distributor_id}
    audit(acting_user=acting_user, action="mac.remove", obj=entry, installer=entry.installer_id, before=before)
    entry.delete()


@transaction.atomic
def mac_assign(*, acting_user, macs: Iterable, installer) -> int:
    """A distributor puts registered MACs into one of its installers' libraries. Returns how many moved.

    ``macs`` are entries or MAC strings. A MAC bound to a device stays where it is (refused).
    """
    if acting_user.role not in (Role.DISTRIBUTOR, Role.ADMIN):
        raise ValidationError(_("Only a distributor assigns MACs to installers."))
    if installer is None or installer.role != Role.INSTALLER:
        raise ValidationError({"installer": [_("Choose an installer.")]})
    if acting_user.role == Role.DISTRIBUTOR and installer.parent_id != acting_user.pk:
        raise ValidationError({"installer": [_("This installer is not one of yours.")]})
    values = []
    for item in macs:
        if isinstance(item, MacLibraryEntry):
            values.append(item.mac)
        else:
            try:
                values.append(normalize_mac(str(item)))
            except ValidationError as exc:
                raise ValidationError({"macs": exc.messages})
    values = sorted(set(values))
    if not values:
        raise ValidationError({"macs": [_("Select at least one MAC.")]})
    entries = list(MacLibraryEntry.objects.visible_to(acting_user).select_for_update(of=("self",)).filter(mac__in=values))
    found = {e.mac for e in entries}
    missing = [m for m in values if m not in found]
    if missing:
        raise ValidationError({"macs": [_("Not in your register: %(macs)s.") % {"macs": ", ".join(missing[:10])}]})
    bound = set(IntercomDevice.objects.filter(mac_entry__in=entries).values_list("mac", flat=True))
    if bound:
        raise ValidationError({"macs": [
            _("Bound to a user's device, so it stays in its library: %(macs)s.") % {"macs": ", ".join(sorted(bound)[:10])}]})
    moving = [e for e in entries if e.installer_id != installer.pk]
    for entry in moving:
        before = entry.installer_id
        entry.installer = installer
        if entry.distributor_id is None:
            entry.distributor_id = installer.parent_id
        audit(acting_user=acting_user, action="mac.assign", obj=entry, installer=installer,
              before={"installer": before}, after={"installer": installer.pk})
    MacLibraryEntry.objects.bulk_update(moving, ["installer", "distributor"], batch_size=500)
    return len(moving)


# ---------------------------------------------------------------------------------------------
# MAC Library import files (.xlsx or .csv, told apart by their content)


class ImportFileError(ValidationError):
    pass


XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def import_file_kind(data: bytes) -> str:
    """'xlsx' or 'csv' from the bytes themselves; anything else is refused with a reason."""
    if data.startswith(XLSX_MAGIC):
        return "xlsx"
    if data.startswith(OLE_MAGIC):
        raise ImportFileError({"file": [_(
            "This is an old Excel (.xls) file: save it as .xlsx (Excel Workbook) or .csv and import that.")]})
    if not data.strip():
        raise ImportFileError({"file": [_("The file is empty.")]})
    sample = data[:4096]
    if b"\x00" in sample:
        raise ImportFileError({"file": [_("This file is not a spreadsheet: import an .xlsx or .csv file.")]})
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 4:  # not just a character cut at the sample's end
            raise ImportFileError({"file": [_("This file is not a spreadsheet: import an .xlsx or .csv file.")]})
    return "csv"


def _header_ok(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lstrip("\ufeff").strip().upper() == "MAC"


NO_HEADER = _("The first row must have the header MAC in column A, as in the template.")


def _first_sheet(data: bytes):
    """(the workbook's zip archive, to close after reading; its first worksheet, read-only and unsized).

    openpyxl's ``load_workbook(read_only=True)`` sizes every sheet as it opens it, and a sheet that
    does not name its ``<dimension>`` (openpyxl's write-only mode and other generators leave it out) is
    then parsed whole once for its size before its rows are read: a third of the time of reading a
    100,000-row file, and all the time of the upload's header check. The import reads column A up to
    the last row and needs no size, so it opens the workbook with openpyxl's own reader, steps
    ``load_workbook`` takes, without sizing the sheets it does not read or the one it does.
    """
    import io

    from openpyxl.reader.excel import ExcelReader
    from openpyxl.styles.stylesheet import apply_stylesheet
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    class UnsizedSheet(ReadOnlyWorksheet):
        def _get_size(self):
            return None

    reader = ExcelReader(io.BytesIO(data), read_only=True, data_only=True)
    try:
        reader.read_manifest()
        reader.read_strings()
        reader.read_workbook()
        apply_stylesheet(reader.archive, reader.wb)  # the date formats of the cells
        for sheet, rel in reader.parser.find_sheets():
            if rel.target in reader.valid_files and "chartsheet" not in rel.Type:
                return reader.archive, UnsizedSheet(reader.wb, sheet.name, rel.target, reader.shared_strings)
    except BaseException:
        reader.archive.close()
        raise
    reader.archive.close()
    return None, None


def _xlsx_rows(data: bytes):
    import zipfile

    try:
        archive, sheet = _first_sheet(data)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError, IndexError) as exc:
        raise ImportFileError({"file": [_("This file is not a spreadsheet that can be read (%(error)s).")
                                        % {"error": type(exc).__name__}]})
    except Exception:  # noqa: BLE001 - openpyxl raises many kinds of errors on foreign zip files
        raise ImportFileError({"file": [_("This file is not a spreadsheet: import an .xlsx or .csv file.")]})
    if sheet is None:
        raise ImportFileError({"file": [_("The workbook has no sheet.")]})
    return archive, sheet.iter_rows(min_col=1, max_col=1, values_only=True)


def _csv_rows(data: bytes):
    import csv
    import io

    text = data.decode("utf-8-sig", errors="replace")
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


def import_file_check(data: bytes) -> str:
    """Refuse a file that is not a spreadsheet or lacks the MAC header; its kind otherwise. Reads row 1 only."""
    kind = import_file_kind(data)
    if kind == "xlsx":
        archive, rows = _xlsx_rows(data)
        try:
            first = next(rows, None)
        except Exception:  # noqa: BLE001 - an untrusted file: any parse error is "not a spreadsheet"
            raise ImportFileError({"file": [_("This file is not a spreadsheet: import an .xlsx or .csv file.")]})
        finally:
            archive.close()
        header = first[0] if first else None
    else:
        try:
            first = next(_csv_rows(data), None)
        except Exception:  # noqa: BLE001 - an untrusted file: any parse error is "not a spreadsheet"
            raise ImportFileError({"file": [_("This file is not a spreadsheet: import an .xlsx or .csv file.")]})
        header = first[0] if first else None
    if not _header_ok(header):
        raise ImportFileError({"file": [NO_HEADER]})
    return kind


def import_file_rows(data: bytes, kind: str):
    """(row number, column A value) for every non-empty row after the header."""
    if kind == "xlsx":
        archive, rows = _xlsx_rows(data)
        try:
            for number, row in enumerate(rows, start=1):
                if number == 1:
                    continue
                value = row[0] if row else None
                if value is None or (isinstance(value, str) and not value.strip()):
                    continue
                yield number, value
        finally:
            archive.close()
    else:
        for number, row in enumerate(_csv_rows(data), start=1):
            if number == 1:
                continue
            value = row[0] if row else ""
            if not value.strip():
                continue
            yield number, value


def import_template_xlsx() -> bytes:
    """The guide's MAC template: column A headed MAC, one MAC a row."""
    import io

    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "MAC"
    sheet["A1"] = "MAC"
    sheet["A1"].font = Font(bold=True)
    for i, mac in enumerate(("0C11050893CA", "0C11050893CB", "0C11050893CC"), start=2):
        sheet.cell(row=i, column=1, value=mac)
    sheet.column_dimensions["A"].width = 20
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@transaction.atomic
def mac_import_start(*, acting_user, data: bytes, file_name: str, installer=None, distributor=None) -> MacImport:
    """Check the file and record an import to run (inline for small files, else as a background task)."""
    from django.conf import settings

    max_bytes = settings.MAC_IMPORT_MAX_MB * 1024 * 1024
    if len(data) > max_bytes:
        raise ImportFileError({"file": [_("The file is larger than %(n)d MB.") % {"n": settings.MAC_IMPORT_MAX_MB}]})
    kind = import_file_check(data)
    installer, distributor = _library_owner(acting_user=acting_user, installer=installer, distributor=distributor)
    job = MacImport.objects.create(created_by=acting_user, installer=installer, distributor=distributor,
                                   file_name=(file_name or "")[:255], file_kind=kind, data=data)
    return job


def _mac_import_lease() -> datetime.timedelta:
    from django.conf import settings

    return datetime.timedelta(seconds=getattr(settings, "MAC_IMPORT_LEASE_SECONDS", 300))


def mac_imports_to_resume() -> list[int]:
    """Imports whose run stopped half-way (its process was killed): still running, and no batch has
    renewed their lease for longer than MAC_IMPORT_LEASE_SECONDS; also imports pending that long."""
    stale = timezone.now() - _mac_import_lease()
    return list(MacImport.objects.filter(
        Q(status=ImportStatus.RUNNING, heartbeat_at__lt=stale)
        | Q(status=ImportStatus.PENDING, created_at__lt=stale)).order_by("pk").values_list("pk", flat=True))


def mac_import_run(*, import_id: int) -> MacImport | None:
    """Run a recorded import: progress and its lease are saved with each batch, in the batch's transaction.

    A run that was interrupted (its lease is stale) is taken over: it continues after the last committed
    batch, and the rows the first run committed are reported as added, as one uninterrupted run would.
    Otherwise a second run of the same import does nothing."""
    now = timezone.now()
    job = MacImport.objects.filter(pk=import_id).first()
    if job is None:
        return None
    resuming = job.status == ImportStatus.RUNNING and (
        job.heartbeat_at is None or job.heartbeat_at < now - _mac_import_lease())
    if job.status != ImportStatus.PENDING and not resuming:
        return job
    # Taken over by one run only: the update applies only if no other run changed the lease meanwhile.
    claimed = MacImport.objects.filter(pk=job.pk, status=job.status, heartbeat_at=job.heartbeat_at).update(
        status=ImportStatus.RUNNING, heartbeat_at=now, started_at=job.started_at or now)
    if not claimed:
        job.refresh_from_db()
        return job
    job.refresh_from_db()
    data, kind, resume_from = bytes(job.data), job.file_kind, job.next_row

    def progress(report: ImportReport, next_row: int) -> None:
        if next_row <= resume_from:
            return  # rows the interrupted run already counted
        MacImport.objects.filter(pk=job.pk).update(
            processed=report.processed, added=report.added, duplicates=report.duplicates, invalid=report.invalid,
            next_row=next_row, heartbeat_at=timezone.now())

    def done(report: ImportReport) -> None:
        MacImport.objects.filter(pk=job.pk).update(
            status=ImportStatus.DONE, total=report.total, processed=report.processed, added=report.added,
            duplicates=report.duplicates, invalid=report.invalid, data=b"", finished_at=timezone.now(),
            next_row=report.total, report=[[r, v, res, m] for r, v, res, m in report.rows],
        )

    try:
        try:
            rows = list(import_file_rows(data, kind))
        except ValidationError:
            raise
        except Exception as exc:  # noqa: BLE001 - a file damaged after its first row
            raise ImportFileError(_("The file could not be read to its end (%(error)s): nothing was imported.")
                                  % {"error": type(exc).__name__})
        MacImport.objects.filter(pk=job.pk).update(total=len(rows))
        # Each batch commits on its own (a row is never half-imported), so the progress is visible meanwhile.
        mac_import(acting_user=job.created_by, rows=rows, installer=job.installer, distributor=job.distributor,
                   progress=progress, done=done, stamp=job.started_at,
                   source=f"MAC import {job.pk}: {job.file_name}")
    except ValidationError as exc:
        MacImport.objects.filter(pk=job.pk).update(status=ImportStatus.FAILED, error="; ".join(exc.messages)[:255],
                                                   data=b"", finished_at=timezone.now())
    job.refresh_from_db()
    return job


# ---------------------------------------------------------------------------------------------
# Intercom devices and relays


RelaySpec = dict[str, Any]


def _clean_relays(relays: Iterable[RelaySpec] | None, errors: dict) -> list[dict]:
    """Up to four relays, each Off/On with a Relay Name (required when On) and a DTMF Code."""
    if relays is None:
        return []
    if isinstance(relays, (str, bytes)) or not hasattr(relays, "__iter__"):
        errors.setdefault("relays", []).append(_("Relays are a list."))
        return []
    relays = list(relays)
    if len(relays) > MAX_RELAYS:
        errors.setdefault("relays", []).append(
            _("A device has at most %(n)d relays; %(given)d were given.") % {"n": MAX_RELAYS, "given": len(relays)})
        return []
    cleaned, used = [], set()
    for position, spec in enumerate(relays, start=1):
        if not isinstance(spec, dict):
            errors.setdefault("relays", []).append(_("Relay %(n)d is not valid.") % {"n": position})
            continue
        index = spec.get("index") or position
        if not isinstance(index, int) or isinstance(index, bool) or not 1 <= index <= MAX_RELAYS:
            errors.setdefault("relays", []).append(_("Relay numbers go from 1 to %(n)d.") % {"n": MAX_RELAYS})
            continue
        if index in used:
            errors.setdefault("relays", []).append(_("Relay %(n)d is given twice.") % {"n": index})
            continue
        used.add(index)
        enabled = bool(spec.get("enabled", False))
        name_key, dtmf_key = f"relay{index}_name", f"relay{index}_dtmf_code"
        name = _refuse_unstorable(str(spec.get("name") or "").strip(), name_key, errors)
        dtmf = _refuse_unstorable(str(spec.get("dtmf_code") or "").strip(), dtmf_key, errors)
        if enabled and not name:
            errors.setdefault(name_key, []).append(_("Relay %(n)d is On: give it a Relay Name.") % {"n": index})
        if len(name) > 64:
            errors.setdefault(name_key, []).append(_("A Relay Name has at most 64 characters."))
        if dtmf and not DTMF_RE.match(dtmf):
            errors.setdefault(dtmf_key, []).append(
                _("A DTMF Code is 1 to %(n)d of the keys 0–9, * and #.") % {"n": MAX_DTMF_LENGTH})
        if not enabled and not name and not dtmf:
            continue  # an empty Off row is no relay
        cleaned.append({"index": index, "enabled": enabled, "name": name, "dtmf_code": dtmf})
    return sorted(cleaned, key=lambda r: r["index"])


def _resolve_model(device_model, errors: dict) -> DeviceModel | None:
    if isinstance(device_model, DeviceModel):
        return device_model
    found = None
    if isinstance(device_model, int) and not isinstance(device_model, bool):
        found = DeviceModel.objects.filter(pk=device_model).first()
    elif isinstance(device_model, str) and device_model.strip():
        found = DeviceModel.objects.filter(name__iexact=device_model.strip()[:32]).first()
    if found is None:
        errors.setdefault("device_model", []).append(_("Choose a Device Type from the catalog."))
    return found


def _library_entry_for(*, installer, mac: Any, errors: dict, device: IntercomDevice | None = None):
    """The installer's free library entry for a MAC (locked), or None with a message under ``mac``."""
    try:
        value = normalize_mac(mac if isinstance(mac, str) else "")
    except ValidationError as exc:
        errors.setdefault("mac", []).extend(exc.messages)
        return None
    entry = MacLibraryEntry.objects.select_for_update().filter(mac=value, installer=installer).first()
    if entry is None:
        errors.setdefault("mac", []).append(
            _("%(mac)s is not in your MAC Library: add it there first.") % {"mac": value})
        return None
    bound = IntercomDevice.objects.filter(mac_entry=entry).exclude(pk=getattr(device, "pk", None)).select_related(
        "owner").first()
    if bound is not None:
        errors.setdefault("mac", []).append(
            _("%(mac)s is already bound to %(owner)s's device (%(location)s).")
            % {"mac": value, "owner": bound.owner.name, "location": bound.location})
        return None
    return entry


def _device_snapshot(device: IntercomDevice) -> dict:
    data = snapshot(device, fields=["owner", "device_model", "mac", "location", "sip_number", "security_relay"])
    data["relays"] = [{"index": r.index, "enabled": r.enabled, "name": r.name, "dtmf_code": r.dtmf_code}
                      for r in Relay.objects.filter(device=device).order_by("index")]
    return data


def _write_relays(device: IntercomDevice, relays: list[dict]) -> None:
    Relay.objects.filter(device=device).delete()
    Relay.objects.bulk_create([Relay(device=device, **r) for r in relays])


def _check_owner(acting_user, owner) -> None:
    if acting_user.role == Role.INSTALLER and owner.installer_id != acting_user.pk:
        raise ValidationError({"owner": [_("This user is not one of yours.")]})
    if acting_user.role not in (Role.INSTALLER, Role.ADMIN):
        raise ValidationError(_("Only the user's installer changes their devices."))


@transaction.atomic
def device_create(*, acting_user, owner, device_model, mac: str, location: str, relays: list[RelaySpec] | None = None,
                  security_relay: bool = False) -> IntercomDevice:
    """Add an intercom device for a user: a free MAC of the installer's library, its relays, a SIP number."""
    _check_owner(acting_user, owner)
    installer = owner.installer
    errors: dict[str, list[str]] = {}
    model = _resolve_model(device_model, errors)
    location = _text(location, "location", errors, required=True, max_length=64, label=_("Location"))
    cleaned_relays = _clean_relays(relays, errors)
    entry = _library_entry_for(installer=installer, mac=mac, errors=errors)
    if errors:
        raise ValidationError(errors)
    sip = sip_account_create(kind=SipKind.DEVICE, installer=installer, family_number=owner.family_sip,
                             display_name=location)
    device = IntercomDevice(
        installer=installer, owner=owner, device_model=model, mac=entry.mac, mac_entry=entry, location=location,
        sip_number=sip.number, security_relay=bool(security_relay),
        device_secret=secrets.token_urlsafe(24), mqtt_password=secrets.token_urlsafe(24),
    )
    try:
        with transaction.atomic():
            device.save(force_insert=True)
    except IntegrityError:
        raise ValidationError({"mac": [_("%(mac)s was just bound to another device.") % {"mac": entry.mac}]})
    _write_relays(device, cleaned_relays)
    audit(acting_user=acting_user, action="device.create", obj=device, after=_device_snapshot(device))
    return device


DEVICE_UPDATE_FIELDS = ("device_model", "mac", "location", "relays", "security_relay")


@transaction.atomic
def device_update(*, acting_user, device: IntercomDevice, **data: Any) -> IntercomDevice:
    """Change a device's Device Type, MAC (another free MAC of the library), Location, relays, security relay.

    ``relays``, when given, replaces all relays. A new MAC is new hardware: it gets new device secrets.
    """
    unknown = sorted(set(data) - set(DEVICE_UPDATE_FIELDS))
    if unknown:
        raise ValidationError({name: [_("Unknown field.")] for name in unknown})
    device = IntercomDevice.objects.select_for_update().select_related("owner").get(pk=device.pk)
    _check_owner(acting_user, device.owner)
    before = _device_snapshot(device)
    errors: dict[str, list[str]] = {}
    if "device_model" in data:
        model = _resolve_model(data["device_model"], errors)
        if model is not None:
            device.device_model = model
    if "location" in data:
        device.location = _text(data["location"], "location", errors, required=True, max_length=64,
                                label=_("Location"))
    new_relays = _clean_relays(data["relays"], errors) if "relays" in data else None
    if "security_relay" in data:
        device.security_relay = bool(data["security_relay"])
    new_entry = None
    if "mac" in data:
        try:
            wanted = normalize_mac(data["mac"] if isinstance(data["mac"], str) else "")
        except ValidationError as exc:
            errors.setdefault("mac", []).extend(exc.messages)
        else:
            if wanted != device.mac:
                new_entry = _library_entry_for(installer=device.installer, mac=wanted, errors=errors, device=device)
    if errors:
        raise ValidationError(errors)
    if new_entry is not None:
        device.mac, device.mac_entry = new_entry.mac, new_entry
        device.device_secret = secrets.token_urlsafe(24)
        device.mqtt_password = secrets.token_urlsafe(24)
        device.last_seen_at = None
        device.ip_address = None
        device.firmware_version = ""
        device.reported_model = ""
        device.uptime_seconds = None
    try:
        with transaction.atomic():
            device.save()
    except IntegrityError:
        raise ValidationError({"mac": [_("%(mac)s was just bound to another device.") % {"mac": device.mac}]})
    if new_relays is not None:
        _write_relays(device, new_relays)
    SipAccount.objects.filter(number=device.sip_number).update(display_name=device.location[:128])
    b, a = changed(before, _device_snapshot(device))
    if a:
        audit(acting_user=acting_user, action="device.update", obj=device, before=b, after=a)
    return device


@transaction.atomic
def device_delete(*, acting_user, device: IntercomDevice, delete_mac: bool = False) -> None:
    """Delete a device: its SIP account stops registering, its MAC is unbound (and removed, if asked)."""
    device = IntercomDevice.objects.select_for_update().select_related("owner").get(pk=device.pk)
    _check_owner(acting_user, device.owner)
    before = _device_snapshot(device)
    entry_id = device.mac_entry_id
    sip_account_deactivate(number=device.sip_number)
    audit(acting_user=acting_user, action="device.delete", obj=device, before=before,
          after={"mac_removed": bool(delete_mac)})
    device.delete()
    if delete_mac:
        entry = MacLibraryEntry.objects.get(pk=entry_id)
        audit(acting_user=acting_user, action="mac.remove", obj=entry, installer=entry.installer_id,
              before={"mac": entry.mac, "installer": entry.installer_id, "distributor": entry.distributor_id})
        entry.delete()


# ---------------------------------------------------------------------------------------------
# Third-party cameras

RTSP_HINT = _("Format - rtsp://ip:port or rtsp://domain:port")


def validate_rtsp_url(value: str) -> str:
    value = (value or "").strip()
    if not value or value.lower() == "rtsp://":
        raise ValidationError(_("RTSP Address is required: %(hint)s") % {"hint": RTSP_HINT})
    if len(value) > 255:
        raise ValidationError(_("An RTSP Address has at most 255 characters."))
    if not value.lower().startswith("rtsp://"):
        raise ValidationError(_("An RTSP Address starts with rtsp://. %(hint)s") % {"hint": RTSP_HINT})
    rest = value[7:]
    if "@" in rest.split("/", 1)[0]:
        raise ValidationError(_("Put the camera's username and password in their own fields, not in the address."))
    match = RTSP_RE.match("rtsp://" + rest)
    if not match:
        host_port = rest.split("/", 1)[0]
        if ":" not in host_port.rsplit("]", 1)[-1]:
            raise ValidationError(_("The RTSP Address needs a port, e.g. rtsp://192.168.1.20:554. %(hint)s")
                                  % {"hint": RTSP_HINT})
        raise ValidationError(_("This is not an RTSP Address. %(hint)s") % {"hint": RTSP_HINT})
    port = int(match.group("port"))
    if not 1 <= port <= 65535:
        raise ValidationError(_("The port is a number from 1 to 65535."))
    return "rtsp://" + rest


CAMERA_FIELDS = ("location", "rtsp_url", "username", "password", "link_device")


def _clean_camera(camera: ThirdPartyCamera, data: dict, errors: dict, *, creating: bool) -> None:
    if creating or "location" in data:
        camera.location = _text(data.get("location"), "location", errors, required=True, max_length=64,
                                label=_("Location"))
    if creating or "rtsp_url" in data:
        raw = _refuse_unstorable(str(data.get("rtsp_url") or ""), "rtsp_url", errors)
        try:
            camera.rtsp_url = validate_rtsp_url(raw)
        except ValidationError as exc:
            errors.setdefault("rtsp_url", []).extend(exc.messages)
    if creating or "username" in data:
        camera.username = _text(data.get("username"), "username", errors, required=True, max_length=64,
                                label=_("Username"))
    if creating or "password" in data:
        password = _refuse_unstorable(str(data.get("password") or ""), "password", errors)
        if not password:
            errors.setdefault("password", []).append(_("Password is required."))
        elif len(password) > 128:
            errors.setdefault("password", []).append(_("A password has at most 128 characters."))
        camera.password = password
    if creating or "link_device" in data:
        link = data.get("link_device")
        if link in (None, "", 0):
            camera.link_device = None
        else:
            link_id = link.pk if isinstance(link, IntercomDevice) else link
            found = None
            if isinstance(link_id, int) and not isinstance(link_id, bool):
                found = IntercomDevice.objects.filter(pk=link_id, owner_id=camera.owner_id).first()
            if found is None:
                errors.setdefault("link_device", []).append(_("Link Device is one of this user's intercom devices."))
            camera.link_device = found


def _camera_snapshot(camera: ThirdPartyCamera) -> dict:
    return snapshot(camera, fields=["owner", "location", "rtsp_url", "username", "password", "link_device"])


@transaction.atomic
def camera_create(*, acting_user, owner, **data: Any) -> ThirdPartyCamera:
    """Add a third-party camera for a user who has the Premium Plan."""
    unknown = sorted(set(data) - set(CAMERA_FIELDS))
    if unknown:
        raise ValidationError({name: [_("Unknown field.")] for name in unknown})
    _check_owner(acting_user, owner)
    if not owner.premium_plan:
        raise ValidationError({"owner": [_(
            "Third-party cameras need the Premium Plan: turn on %(name)s's Premium Plan first.") % {"name": owner.name}]})
    camera = ThirdPartyCamera(installer=owner.installer, owner=owner)
    errors: dict[str, list[str]] = {}
    _clean_camera(camera, data, errors, creating=True)
    if errors:
        raise ValidationError(errors)
    camera.save()
    audit(acting_user=acting_user, action="camera.create", obj=camera, after=_camera_snapshot(camera))
    return camera


@transaction.atomic
def camera_update(*, acting_user, camera: ThirdPartyCamera, **data: Any) -> ThirdPartyCamera:
    """Change a camera; a password left out (or empty from the form's "keep") keeps the stored one."""
    unknown = sorted(set(data) - set(CAMERA_FIELDS))
    if unknown:
        raise ValidationError({name: [_("Unknown field.")] for name in unknown})
    camera = ThirdPartyCamera.objects.select_for_update().select_related("owner").get(pk=camera.pk)
    _check_owner(acting_user, camera.owner)
    before = _camera_snapshot(camera)
    old_password = camera.password
    errors: dict[str, list[str]] = {}
    _clean_camera(camera, data, errors, creating=False)
    if errors:
        raise ValidationError(errors)
    camera.save()
    b, a = changed(before, _camera_snapshot(camera))
    if camera.password != old_password:
        b["password"], a["password"] = "***", "*** (changed)"
    if a:
        audit(acting_user=acting_user, action="camera.update", obj=camera, before=b, after=a)
    return camera


@transaction.atomic
def camera_delete(*, acting_user, camera: ThirdPartyCamera) -> None:
    camera = ThirdPartyCamera.objects.select_related("owner").get(pk=camera.pk)
    _check_owner(acting_user, camera.owner)
    audit(acting_user=acting_user, action="camera.delete", obj=camera, before=_camera_snapshot(camera))
    camera.delete()
