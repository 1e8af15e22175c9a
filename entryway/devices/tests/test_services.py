import io

import pytest
from django.core.exceptions import ValidationError

from entryway.core.models import AuditLog
from entryway.devices import services
from entryway.devices.models import (
    DeviceModel,
    IntercomDevice,
    MacImport,
    MacLibraryEntry,
    Relay,
    ThirdPartyCamera,
)
from entryway.sip.models import SipAccount

pytestmark = pytest.mark.django_db


def errors_of(exc_info) -> dict:
    return exc_info.value.message_dict


# ---------------------------------------------------------------------------------------------
# Catalog


def test_catalog_has_the_guide_models_with_their_types():
    types = dict(DeviceModel.objects.values_list("name", "device_type"))
    for name in ("R29", "R28", "R27", "R20", "E11", "X916", "S535"):
        assert types[name] == "door_phone"
    for name in ("IT82", "C317", "C315", "X933"):
        assert types[name] == "indoor_monitor"
    assert types["A05"] == types["A02"] == "access_control"
    assert types["R49"] == "guard_phone"


# ---------------------------------------------------------------------------------------------
# MAC Library


@pytest.mark.parametrize("raw", ["0C110512BC97", "0C:11:05:12:BC:97", "0c-11-05-12-bc-97", " 0c110512bc97 "])
def test_mac_add_accepts_three_forms_and_stores_upper_hex(installer, raw):
    entry = services.mac_add(acting_user=installer, mac=raw)
    assert entry.mac == "0C110512BC97"
    assert entry.installer == installer and entry.distributor == installer.parent
    log = AuditLog.objects.get(action="mac.add")
    assert log.installer_id == installer.pk and log.after["mac"] == "0C110512BC97"


@pytest.mark.parametrize("raw", ["", "0C110512BC9", "0C110512BC9Z", "0C:11:05-12:BC:97", "0C:11:05:12:BC", "xyz",
                                 "0C110512BC970"])
def test_mac_add_refuses_malformed(installer, raw):
    with pytest.raises(ValidationError) as exc:
        services.mac_add(acting_user=installer, mac=raw)
    assert "mac" in errors_of(exc)
    assert not MacLibraryEntry.objects.exists()


def test_mac_add_refuses_foreign_and_own_duplicate(installer, other_installer):
    services.mac_add(acting_user=other_installer, mac="0C110512BC97")
    with pytest.raises(ValidationError) as exc:
        services.mac_add(acting_user=installer, mac="0c:11:05:12:bc:97")
    assert "another MAC Library" in errors_of(exc)["mac"][0]
    services.mac_add(acting_user=installer, mac="0C110512BC98")
    with pytest.raises(ValidationError) as exc:
        services.mac_add(acting_user=installer, mac="0C110512BC98")
    assert "already in your MAC Library" in errors_of(exc)["mac"][0]
    assert MacLibraryEntry.objects.count() == 2


def test_distributor_registers_and_assigns(distributor, installer, other_installer):
    entries = [services.mac_add(acting_user=distributor, mac=f"0C11050893C{c}") for c in "ABC"]
    assert all(e.installer is None and e.distributor == distributor for e in entries)
    moved = services.mac_assign(acting_user=distributor, macs=["0C11050893CA", entries[1]], installer=installer)
    assert moved == 2
    assert set(MacLibraryEntry.objects.filter(installer=installer).values_list("mac", flat=True)) == {
        "0C11050893CA", "0C11050893CB"}
    assert AuditLog.objects.filter(action="mac.assign").count() == 2
    # Not its installer
    with pytest.raises(ValidationError) as exc:
        services.mac_assign(acting_user=distributor, macs=["0C11050893CC"], installer=other_installer)
    assert "installer" in errors_of(exc)
    # A MAC outside its register
    services.mac_add(acting_user=other_installer, mac="0C1105089300")
    with pytest.raises(ValidationError) as exc:
        services.mac_assign(acting_user=distributor, macs=["0C1105089300"], installer=installer)
    assert "Not in your register" in errors_of(exc)["macs"][0]


def test_assign_refuses_bound_mac(distributor, installer, resident, make_account):
    second = make_account("installer", parent=distributor, username="inst-c")
    services.mac_add(acting_user=distributor, mac="0C11050893CA")
    services.mac_assign(acting_user=distributor, macs=["0C11050893CA"], installer=installer)
    services.device_create(acting_user=installer, owner=resident, device_model="R29", mac="0C11050893CA",
                           location="Gate", relays=[])
    with pytest.raises(ValidationError) as exc:
        services.mac_assign(acting_user=distributor, macs=["0C11050893CA"], installer=second)
    assert "Bound" in errors_of(exc)["macs"][0]
    assert MacLibraryEntry.objects.get(mac="0C11050893CA").installer == installer


def test_mac_remove_refused_when_bound(installer, resident, make_device):
    device = make_device(resident, mac="0C110512BC97")
    with pytest.raises(ValidationError) as exc:
        services.mac_remove(acting_user=installer, entry=device.mac_entry)
    assert "unbind it first" in errors_of(exc)["mac"][0]
    assert MacLibraryEntry.objects.filter(mac="0C110512BC97").exists()
    services.device_delete(acting_user=installer, device=device)
    services.mac_remove(acting_user=installer, entry=MacLibraryEntry.objects.get(mac="0C110512BC97"))
    assert not MacLibraryEntry.objects.exists()
    assert AuditLog.objects.filter(action="mac.remove").count() == 1


# ---------------------------------------------------------------------------------------------
# Import


def test_import_reports_each_row(installer, other_installer):
    services.mac_add(acting_user=installer, mac="0C1100000001")
    services.mac_add(acting_user=other_installer, mac="0C1100000002")
    rows = [(2, "0C1100000001"), (3, "0C:11:00:00:00:02"), (4, "0c-11-00-00-00-03"), (5, "nonsense"),
            (6, "0C1100000003"), (7, "0C1100000004"), (8, 110000000005)]
    report = services.mac_import(acting_user=installer, rows=rows)
    assert (report.total, report.added, report.duplicates, report.invalid) == (7, 3, 3, 1)
    results = {r[0]: r[2] for r in report.rows}
    assert results == {2: "duplicate", 3: "duplicate", 4: "added", 5: "invalid", 6: "duplicate", 7: "added",
                       8: "added"}
    assert MacLibraryEntry.objects.filter(installer=installer).count() == 4
    assert MacLibraryEntry.objects.filter(mac="000110000000", installer=installer).exists() is False
    assert MacLibraryEntry.objects.filter(mac="110000000005").exists()
    log = AuditLog.objects.get(action="mac.import")
    assert log.after["added"] == 3 and log.installer_id == installer.pk


def _csv(rows: int, start: int = 0) -> bytes:
    return ("MAC\n" + "".join(f"0C{start + i:010X}\n" for i in range(rows))).encode()


def test_import_file_checks_content_not_name(installer):
    from openpyxl import Workbook

    with pytest.raises(ValidationError) as exc:
        services.import_file_check(b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR")
    assert "not a spreadsheet" in errors_of(exc)["file"][0]
    with pytest.raises(ValidationError) as exc:
        services.import_file_check(b"PK\x03\x04 not really a zip")
    assert "file" in errors_of(exc)
    with pytest.raises(ValidationError) as exc:
        services.import_file_check(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    assert ".xls" in errors_of(exc)["file"][0]
    with pytest.raises(ValidationError) as exc:
        services.import_file_check(b"Serial\n0C1100000001\n")
    assert "header MAC" in errors_of(exc)["file"][0]
    wb = Workbook()
    wb.active["A1"] = "Address"
    buf = io.BytesIO()
    wb.save(buf)
    with pytest.raises(ValidationError) as exc:
        services.import_file_check(buf.getvalue())
    assert "header MAC" in errors_of(exc)["file"][0]
    assert services.import_file_check(services.import_template_xlsx()) == "xlsx"
    assert services.import_file_check(b"\xef\xbb\xbfmac;note\n0C1100000001;x\n") == "csv"
    with pytest.raises(ValidationError):
        services.mac_import_start(acting_user=installer, data=b"hello\x00world", file_name="macs.xlsx")
    assert not MacImport.objects.exists()


def test_import_run_xlsx_template(installer):
    job = services.mac_import_start(acting_user=installer, data=services.import_template_xlsx(),
                                    file_name="template.xlsx")
    job = services.mac_import_run(import_id=job.pk)
    assert job.status == "done" and job.added == 3 and job.total == 3 and job.data in (b"", memoryview(b""))
    assert [r[0] for r in job.report] == [2, 3, 4]
    # Running again does nothing
    assert services.mac_import_run(import_id=job.pk).added == 3
    assert MacLibraryEntry.objects.count() == 3


def _streamed_xlsx(sheets: dict[str, list]) -> bytes:
    """A workbook as openpyxl's write-only mode makes it: its sheets name no <dimension>."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    for title, values in sheets.items():
        sheet = workbook.create_sheet(title)
        for value in values:
            sheet.append([value])
    buf = io.BytesIO()
    workbook.save(buf)
    return buf.getvalue()


def _with_sheet_cut(data: bytes, after: bytes) -> bytes:
    """The same workbook with its first sheet's XML cut off just after `after` (a file damaged in transit)."""
    import zipfile

    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                assert b"<dimension" not in content
                content = content[:content.index(after) + len(after)]
            target.writestr(item, content)
    return out.getvalue()


def test_import_xlsx_reads_the_first_sheet_from_its_start_without_sizing_it(installer):
    import datetime

    data = _streamed_xlsx({"MAC": ["MAC", "0C1100000001", None, "0c:11:00:00:00:02", datetime.date(2026, 1, 2), 112233445566],
                           "Other": ["MAC", "0C11000000FF"]})
    assert services.import_file_check(data) == "xlsx"
    assert list(services.import_file_rows(data, "xlsx")) == [
        (2, "0C1100000001"), (4, "0c:11:00:00:00:02"), (5, datetime.datetime(2026, 1, 2)), (6, 112233445566)]
    job = services.mac_import_run(import_id=services.mac_import_start(
        acting_user=installer, data=data, file_name="streamed.xlsx").pk)
    assert (job.status, job.added, job.invalid) == ("done", 3, 1)  # a date is no MAC; digits are
    assert set(MacLibraryEntry.objects.values_list("mac", flat=True)) == {"0C1100000001", "0C1100000002",
                                                                          "112233445566"}


def test_import_xlsx_damaged_after_its_header_is_accepted_then_fails_whole(installer):
    # The upload's check reads the header row only: a sheet that names no size is not parsed whole
    # for one. The import then reads every row and refuses the file without importing any.
    data = _with_sheet_cut(_streamed_xlsx({"MAC": ["MAC"] + [f"0C11000000{i:02X}" for i in range(50)]}),
                           after=b"0C1100000031</t>")
    assert services.import_file_check(data) == "xlsx"
    job = services.mac_import_run(import_id=services.mac_import_start(
        acting_user=installer, data=data, file_name="cut.xlsx").pk)
    assert job.status == "failed" and "could not be read to its end" in job.error
    assert not MacLibraryEntry.objects.exists()
    with pytest.raises(ValidationError) as exc:
        services.import_file_check(_with_sheet_cut(data, after=b"<sheetData>"))
    assert "not a spreadsheet" in errors_of(exc)["file"][0]


def test_import_task_runs_the_import(installer):
    from entryway.devices.tasks import mac_import_task

    job = services.mac_import_start(acting_user=installer, data=_csv(50), file_name="x.csv")
    mac_import_task.call_local(job.pk)
    job.refresh_from_db()
    assert job.status == "done" and job.added == 50 and job.percent == 100


def test_import_10k_rows_uses_bulk_statements(installer, django_assert_max_num_queries):
    # Speed is measured by bench/bench_mac_import.py; here: no per-row round trips.
    data = _csv(10_000)
    job = services.mac_import_start(acting_user=installer, data=data, file_name="10k.csv")
    with django_assert_max_num_queries(1_000):
        job = services.mac_import_run(import_id=job.pk)
    assert job.added == 10_000


@pytest.mark.slow
def test_import_100k_rows_in_one_job(installer, django_assert_max_num_queries):
    # The 10 s target is measured by bench/bench_mac_import.py; here: every row lands, in bulk.
    services.mac_add(acting_user=installer, mac="0C0000000005")
    data = _csv(100_000)
    job = services.mac_import_start(acting_user=installer, data=data, file_name="100k.csv")
    with django_assert_max_num_queries(10_000):
        job = services.mac_import_run(import_id=job.pk)
    assert (job.added, job.duplicates, job.invalid) == (99_999, 1, 0)
    assert MacLibraryEntry.objects.filter(installer=installer).count() == 100_000


# ---------------------------------------------------------------------------------------------
# Devices


def test_device_create_with_relays_and_sip(installer, resident, library):
    device = services.device_create(
        acting_user=installer, owner=resident, device_model="R29", mac="0c:11:05:12:bc:97", location="Front gate",
        relays=[{"enabled": True, "name": "Front Door", "dtmf_code": "#"},
                {"enabled": True, "name": "Garage", "dtmf_code": "12*"}],
        security_relay=True,
    )
    assert device.mac == "0C110512BC97" and device.mac_entry == library[0]
    assert device.installer == installer and device.security_relay
    assert len(device.device_secret) >= 32 and len(device.mqtt_password) >= 32
    assert list(device.relays.values_list("index", "name", "dtmf_code")) == [(1, "Front Door", "#"), (2, "Garage", "12*")]
    sip = SipAccount.objects.get(number=device.sip_number)
    assert sip.kind == "device" and sip.family_number == resident.family_sip and sip.display_name == "Front gate"
    log = AuditLog.objects.get(action="device.create")
    assert log.after["relays"][0]["name"] == "Front Door"
    assert device.mqtt_password not in str(log.after) and device.device_secret not in str(log.after)


@pytest.mark.parametrize("relays, key", [
    ([{"enabled": True, "name": f"R{i}", "dtmf_code": "1"} for i in range(5)], "relays"),
    ([{"enabled": True, "name": "", "dtmf_code": "#"}], "relay1_name"),
    ([{"enabled": True, "name": "Door", "dtmf_code": "1A"}], "relay1_dtmf_code"),
    ([{"enabled": True, "name": "Door", "dtmf_code": "12345"}], "relay1_dtmf_code"),
    ([{"enabled": False, "name": "Door"}, {"enabled": True, "name": "", "dtmf_code": ""}], "relay2_name"),
])
def test_device_create_refuses_bad_relays(installer, resident, library, relays, key):
    with pytest.raises(ValidationError) as exc:
        services.device_create(acting_user=installer, owner=resident, device_model="R29", mac="0C110512BC97",
                               location="Gate", relays=relays)
    assert key in errors_of(exc)
    assert not IntercomDevice.objects.exists() and not Relay.objects.exists()
    assert not SipAccount.objects.filter(kind="device").exists()


def test_device_create_refuses_mac_outside_library_or_bound(installer, other_installer, resident, make_resident,
                                                            library):
    services.mac_add(acting_user=other_installer, mac="0C1105FFFFFF")
    for mac, text in (("0C1105FFFFFF", "not in your MAC Library"), ("0C1105EEEEEE", "not in your MAC Library"),
                      ("bad", "not a MAC address")):
        with pytest.raises(ValidationError) as exc:
            services.device_create(acting_user=installer, owner=resident, device_model="R29", mac=mac,
                                   location="Gate", relays=[])
        assert text in errors_of(exc)["mac"][0]
    services.device_create(acting_user=installer, owner=resident, device_model="R29", mac="0C110512BC97",
                           location="Gate", relays=[])
    other = make_resident(installer, name="Ann")
    with pytest.raises(ValidationError) as exc:
        services.device_create(acting_user=installer, owner=other, device_model="IT82", mac="0C110512BC97",
                               location="Hall", relays=[])
    assert "already bound" in errors_of(exc)["mac"][0]
    with pytest.raises(ValidationError) as exc:
        services.device_create(acting_user=installer, owner=other, device_model="NOPE", mac="0C110512BC98",
                               location="", relays=[])
    assert set(errors_of(exc)) == {"device_model", "location"}
    assert IntercomDevice.objects.count() == 1


def test_device_create_for_other_installers_user_refused(other_installer, resident, library):
    with pytest.raises(ValidationError):
        services.device_create(acting_user=other_installer, owner=resident, device_model="R29", mac="0C110512BC97",
                               location="Gate", relays=[])


def test_device_update_changes_mac_relays_and_audits(installer, resident, library, make_device):
    device = make_device(resident, mac="0C110512BC97", relays=[{"enabled": True, "name": "Door", "dtmf_code": "#"}])
    old_secret = device.device_secret
    device = services.device_update(acting_user=installer, device=device, mac="0C-11-05-12-BC-98", location="Back",
                                    relays=[{"enabled": False, "name": "Door", "dtmf_code": "#"},
                                            {"enabled": True, "name": "Gate", "dtmf_code": "*"}])
    assert device.mac == "0C110512BC98" and device.mac_entry == library[1]
    assert device.device_secret != old_secret
    assert list(device.relays.values_list("index", "enabled", "name")) == [(1, False, "Door"), (2, True, "Gate")]
    assert SipAccount.objects.get(number=device.sip_number).display_name == "Back"
    log = AuditLog.objects.get(action="device.update")
    assert log.before["mac"] == "0C110512BC97" and log.after["mac"] == "0C110512BC98"
    # The old MAC is free again; a bound one is refused
    other = make_device(resident, mac="0C110512BC97")
    with pytest.raises(ValidationError) as exc:
        services.device_update(acting_user=installer, device=other, mac="0C110512BC98")
    assert "already bound" in errors_of(exc)["mac"][0]
    with pytest.raises(ValidationError) as exc:
        services.device_update(acting_user=installer, device=other, relays=[{"enabled": True}] * 5)
    assert "relays" in errors_of(exc)


def test_device_delete_deactivates_sip_and_optionally_removes_mac(installer, resident, library, make_device):
    one = make_device(resident, mac="0C110512BC97")
    two = make_device(resident, mac="0C110512BC98")
    services.device_delete(acting_user=installer, device=one)
    assert MacLibraryEntry.objects.filter(mac="0C110512BC97").exists()
    assert not SipAccount.objects.get(number=one.sip_number).is_active
    services.device_delete(acting_user=installer, device=two, delete_mac=True)
    assert not MacLibraryEntry.objects.filter(mac="0C110512BC98").exists()
    assert not IntercomDevice.objects.exists()
    assert AuditLog.objects.filter(action="device.delete").count() == 2
    assert AuditLog.objects.filter(action="mac.remove").count() == 1


# ---------------------------------------------------------------------------------------------
# Cameras


@pytest.mark.parametrize("url", [
    "rtsp://192.168.1.20:554", "rtsp://192.168.1.20:554/stream1", "rtsp://cam.example.com:8554/live/ch0",
    "rtsp://[fe80::1]:554/h264", "rtsp://10.0.0.2:554/cam/realmonitor?channel=1&subtype=0", "RTSP://cam:554",
])
def test_rtsp_valid(url):
    assert services.validate_rtsp_url(url)


@pytest.mark.parametrize("url, text", [
    ("http://192.168.1.20:554/stream", "starts with rtsp://"),
    ("rtsps://192.168.1.20:322", "starts with rtsp://"),
    ("rtsp://192.168.1.20/stream", "needs a port"),
    ("rtsp://192.168.1.20", "needs a port"),
    ("rtsp://admin:pw@192.168.1.20:554", "own fields"),
    ("rtsp://192.168.1.20:99999", "1 to 65535"),
    ("rtsp://bad host:554", "not an RTSP Address"),
    ("rtsp://192.168.1.20:554/a b", "not an RTSP Address"),
    ("rtsp://192.168.1.20:554#frag", "not an RTSP Address"),
    ("rtsp://", "required"),
])
def test_rtsp_invalid(url, text):
    with pytest.raises(ValidationError) as exc:
        services.validate_rtsp_url(url)
    assert text in exc.value.messages[0]


def test_camera_needs_premium_plan(installer, resident):
    with pytest.raises(ValidationError) as exc:
        services.camera_create(acting_user=installer, owner=resident, location="Gate",
                               rtsp_url="rtsp://10.0.0.5:554", username="admin", password="pw")
    assert "Premium Plan" in errors_of(exc)["owner"][0]
    assert not ThirdPartyCamera.objects.exists()


def test_camera_create_update_delete_audited_without_password(installer, premium_resident, resident, make_device):
    device = make_device(premium_resident)
    foreign = make_device(resident)
    with pytest.raises(ValidationError) as exc:
        services.camera_create(acting_user=installer, owner=premium_resident, location="", rtsp_url="ftp://x:1",
                               username="", password="", link_device=foreign.pk)
    assert set(errors_of(exc)) == {"location", "rtsp_url", "username", "password", "link_device"}
    camera = services.camera_create(acting_user=installer, owner=premium_resident, location="Garden",
                                    rtsp_url="rtsp://10.0.0.5:554/live", username="admin", password="s3cret-cam",
                                    link_device=device.pk)
    assert camera.link_device == device
    assert ThirdPartyCamera.objects.get().password == "s3cret-cam"
    camera = services.camera_update(acting_user=installer, camera=camera, location="Garden 2",
                                    password="n3w-secret")
    services.camera_delete(acting_user=installer, camera=camera)
    logs = AuditLog.objects.filter(action__startswith="camera.")
    assert logs.count() == 3
    text = " ".join(str(log.before) + str(log.after) for log in logs)
    assert "s3cret-cam" not in text and "n3w-secret" not in text


def test_import_row_with_null_character_is_invalid_and_stored_without_it(installer):
    data = _csv(1000) + b"\x00garbage\n"
    job = services.mac_import_start(acting_user=installer, data=data, file_name="odd.csv")
    job = services.mac_import_run(import_id=job.pk)
    assert (job.status, job.added, job.invalid) == ("done", 1000, 1)
    assert job.report[-1][1] == "garbage" and job.report[-1][2] == "invalid"


@pytest.mark.django_db(transaction=True)
def test_catalog_survives_a_database_flush():
    from django.core.management import call_command

    from entryway.devices.catalog import CATALOG

    call_command("flush", interactive=False, verbosity=0)
    assert set(DeviceModel.objects.values_list("name", flat=True)) == {name for name, _, _ in CATALOG}
