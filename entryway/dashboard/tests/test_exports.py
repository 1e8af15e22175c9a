import csv
import io

import pytest
from openpyxl import load_workbook

pytestmark = pytest.mark.django_db


def _csv(response):
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


def test_user_export_follows_the_search_and_the_tenant(client, installer, other_installer, make_resident):
    make_resident(installer, name="Alice Wong", email="alice@example.com")
    make_resident(installer, name="山田 花子")
    make_resident(other_installer, name="Alice Foreign")
    client.force_login(installer)
    rows = _csv(client.get("/exports/users.csv", {"q": "Alice"}))
    assert rows[0][:2] == ["Name", "Family SIP"]
    assert [r[0] for r in rows[1:]] == ["Alice Wong"]
    every = _csv(client.get("/exports/users.csv"))
    assert {r[0] for r in every[1:]} == {"Alice Wong", "山田 花子"}

    response = client.get("/exports/users.xlsx")
    assert response["Content-Disposition"].startswith('attachment; filename="users-')
    sheet = load_workbook(io.BytesIO(response.content)).active
    names = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert sorted(names) == sorted(["Alice Wong", "山田 花子"])


def test_exports_are_for_installers_only_and_audited(client, installer, distributor):
    from entryway.core.models import AuditLog

    assert client.get("/exports/users.csv").status_code == 302
    client.force_login(distributor)
    assert client.get("/exports/users.csv").status_code == 403
    client.force_login(installer)
    assert client.get("/exports/nothing.csv").status_code == 404
    assert client.get("/exports/users.pdf").status_code == 404
    client.get("/exports/mac-library.csv")
    assert AuditLog.objects.filter(action="export.mac-library", installer=installer).exists()


def test_exports_speak_the_language_of_the_account(client, installer):
    """Column names, words in cells and the sheet's title in the installer's language, also when the CSV is
    streamed after the view has returned."""
    from django.utils import translation

    from entryway.devices.models import MacLibraryEntry

    MacLibraryEntry.objects.create(mac="0C11AA000001", installer=installer)
    installer.language = "fr"
    installer.save(update_fields=["language"])
    client.force_login(installer)
    response = client.get("/exports/mac-library.csv")
    translation.activate("en")  # the thread's language when the server reads the stream
    try:
        rows = _csv(response)
    finally:
        translation.deactivate()
    assert rows[0] == ["MAC", "Liée", "Utilisateur", "Date de création"]
    assert rows[1][:3] == ["0C11AA000001", "Non liée", ""]

    book = load_workbook(io.BytesIO(client.get("/exports/mac-library.xlsx").content))
    assert book.sheetnames == ["Bibliothèque MAC"]
    assert [cell.value for cell in next(book.active.iter_rows(max_row=1))] == rows[0]
