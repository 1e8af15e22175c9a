"""Long operations with live progress: large exports, One Time AutoP batches, bulk orders."""
import csv
import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from entryway.dashboard.models import Job

pytestmark = pytest.mark.django_db


def _job_from(response) -> Job:
    assert response.status_code == 302, response.status_code
    assert response.url.startswith("/jobs/")
    return Job.objects.get(pk=int(response.url.strip("/").split("/")[1]))


def test_large_export_runs_in_the_background_and_downloads_the_search_result(
        client, installer, other_installer, make_resident, settings, django_capture_on_commit_callbacks):
    settings.EXPORT_INLINE_MAX_ROWS = 1
    for i in range(3):
        make_resident(installer, name=f"Alice {i}")
    make_resident(installer, name="Bob")
    make_resident(other_installer, name="Alice Elsewhere")
    client.force_login(installer)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get("/exports/users.csv", {"q": "Alice"})
    job = _job_from(response)
    assert (job.kind, job.status, job.processed, job.total) == ("export", "done", 3, 3)
    page = client.get(response.url).content.decode()
    assert "3 rows exported" in page and "Download" in page and "hx-get" not in page  # done: no more polling
    settings.EXPORT_INLINE_MAX_ROWS = 0  # a single row in the background too: its message is singular
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get("/exports/users.csv", {"q": "Alice 1"})
    one = _job_from(response)
    assert one.total == 1 and one.result["message"].startswith("1 row exported to users-")
    download = client.get(reverse("dashboard:job_download", kwargs={"pk": job.pk}))
    assert download["Content-Disposition"].startswith('attachment; filename="users-')
    rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert rows[0][0] == "Name" and sorted(r[0] for r in rows[1:]) == ["Alice 0", "Alice 1", "Alice 2"]

    with django_capture_on_commit_callbacks(execute=True):
        response = client.get("/exports/users.xlsx")
    job = _job_from(response)
    sheet = load_workbook(io.BytesIO(client.get(f"/jobs/{job.pk}/download/").content)).active
    assert len(list(sheet.iter_rows(min_row=2))) == 4

    # Another installer sees neither the job nor its file.
    client.force_login(other_installer)
    assert client.get(f"/jobs/{job.pk}/").status_code == 404
    assert client.get(f"/jobs/{job.pk}/download/").status_code == 404


def test_job_page_polls_until_done_then_reloads(client, installer):
    from entryway.dashboard.jobs import job_run, job_start

    with pytest.raises(ValueError):
        job_start(acting_user=installer, kind="nothing", title="x")
    job = job_start(acting_user=installer, kind="export", title="Export of User (CSV)", params={
        "key": "users", "fmt": "csv", "query": "", "tz": "UTC", "file_name": "users.csv"})
    client.force_login(installer)
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert f'hx-get="/jobs/{job.pk}/progress/"' in page and "Pending" in page
    # Nothing to download before it is done.
    assert client.get(f"/jobs/{job.pk}/download/").status_code == 404
    progress = client.get(f"/jobs/{job.pk}/progress/")
    assert "HX-Refresh" not in progress
    job_run(job_id=job.pk)
    assert job_run(job_id=job.pk).status == "done"  # a second run does nothing
    assert client.get(f"/jobs/{job.pk}/progress/")["HX-Refresh"] == "true"


def test_payments_export_follows_the_filters(client, installer, make_resident):
    from entryway.billing.services import order_create

    first, second = make_resident(installer, name="P1"), make_resident(installer, name="P2")
    order = order_create(acting_user=installer, order_type="activation", resident_ids=[first.pk, second.pk])
    client.force_login(installer)
    rows = list(csv.reader(io.StringIO(b"".join(
        client.get("/exports/payments.csv", {"type": "activation"}).streaming_content).decode("utf-8-sig"))))
    assert rows[0][:3] == ["Order Number", "Type", "The number of apartments"]
    assert [(r[0], r[2]) for r in rows[1:]] == [(order.number, "2")]
    rows = list(csv.reader(io.StringIO(b"".join(
        client.get("/exports/payments.csv", {"type": "subscription"}).streaming_content).decode("utf-8-sig"))))
    assert rows[1:] == []


@pytest.mark.parametrize("url,key", [("/users/", "users"), ("/devices/", "devices"),
                                     ("/mac-library/", "mac-library"), ("/payments/", "payments")])
def test_list_pages_export_their_current_search(client, installer, url, key):
    client.force_login(installer)
    query = "q=0C11&status=normal" if key == "users" else "q=0C11"
    page = client.get(f"{url}?{query}").content.decode()
    q = query.replace("&", "&amp;")
    assert f'<li><a href="/exports/{key}.csv?{q}">Export CSV</a></li>' in page
    assert f'<li><a href="/exports/{key}.xlsx?{q}">Export XLSX</a></li>' in page


def test_one_time_autop_batch_shows_the_devices_confirming_it(client, installer, resident, make_device):
    from entryway.deviceapi.models import DeviceAction
    from entryway.deviceapi.services import action_record_result

    devices = [make_device(resident) for _ in range(2)]
    client.force_login(installer)
    response = client.post(reverse("deviceapi:batch_autop"), {
        "mode": "once", "commands": "Config.Settings.DATETIME.DateFormat = 2", "devices": [d.pk for d in devices]})
    job = _job_from(response)
    page = client.get(response.url).content.decode()
    assert "One Time AutoP to 2 device(s)" in page and "0 of 2" in page and "hx-get" in page
    first, second = DeviceAction.objects.filter(kind="autop").order_by("pk")
    action_record_result(action=first, status="success")
    progress = client.get(f"/jobs/{job.pk}/progress/")
    assert "1 of 2" in progress.content.decode() and "HX-Refresh" not in progress
    action_record_result(action=second, status="failure", detail="line 1")
    progress = client.get(f"/jobs/{job.pk}/progress/")
    assert progress["HX-Refresh"] == "true"
    page = client.get(response.url).content.decode()
    assert "1 of 2 device(s) applied the One Time AutoP." in page and "Failure" in page
    job.refresh_from_db()
    assert job.status == "done" and job.processed == 2


def test_bulk_order_is_made_in_the_background_then_paid(client, installer, make_resident, settings,
                                                        django_capture_on_commit_callbacks):
    from entryway.billing.models import Order

    settings.BILLING_ORDER_INLINE_MAX_USERS = 2
    residents = [make_resident(installer, name=f"Flat {i}") for i in range(3)]
    client.force_login(installer)
    url = reverse("billing:purchase_details", args=["active"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"residents": [r.pk for r in residents]})
    job = _job_from(response)
    order = Order.objects.get()
    assert order.households == 3 and (job.status, job.processed, job.total) == ("done", 3, 3)
    page = client.get(response.url).content.decode()
    assert f"Order {order.number} for 3 users is ready" in page
    assert reverse("billing:payment_information", args=[order.number]) in page

    # The same users again: refused (they are in an unpaid order), and the page says why.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"residents": [r.pk for r in residents]})
    job = _job_from(response)
    assert job.status == "failed" and "already in the unpaid order" in job.error
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "already in the unpaid order" in page and url in page
    assert Order.objects.count() == 1
