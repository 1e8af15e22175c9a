"""Pages of the Firmware and Update modules, the admin catalog and the devices' download route."""
from __future__ import annotations

import datetime
import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from entryway.firmware import services
from entryway.firmware.choices import StrategyStatus
from entryway.firmware.models import Firmware, UpdateStrategy, UpgradeTarget

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(make_firmware, make_device, installer, other_installer, later):
    fw = make_firmware("29.30.2.805", log="Fixes the relay timing")
    old = make_firmware("29.30.2.804")
    it82 = make_firmware("82.30.2.622", models=("IT82",))
    devices = [make_device(installer, location=f"Gate {i}") for i in range(3)]
    theirs = make_device(other_installer)
    strategy = services.strategy_create(acting_user=installer, firmware=fw, device_ids=[devices[0].pk],
                                        scheduled_at=later)
    theirs_strategy = services.strategy_create(acting_user=other_installer, firmware=fw, device_ids=[theirs.pk],
                                               scheduled_at=later)
    return {"fw": fw, "old": old, "it82": it82, "devices": devices, "theirs": theirs, "strategy": strategy,
            "theirs_strategy": theirs_strategy}


def _urls(s):
    pk = s["strategy"].pk
    return ["/firmware/", f"/firmware/{s['fw'].pk}/", "/updates/", "/updates/new/", f"/updates/{pk}/",
            f"/updates/{pk}/progress/", f"/updates/{pk}/edit/", f"/updates/{pk}/delete/", "/updates/new/choices/"]


def test_anonymous_goes_to_login(client, setup):
    for url in _urls(setup) + ["/admin-portal/firmware/", "/admin-portal/firmware/upload/"]:
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url


def test_wrong_role_is_refused(client, setup, make_account, installer):
    client.force_login(make_account("resident"))
    for url in _urls(setup):
        assert client.get(url).status_code == 403, url
    client.force_login(installer)
    for url in ["/admin-portal/firmware/", "/admin-portal/firmware/upload/",
                f"/admin-portal/firmware/{setup['fw'].pk}/delete/"]:
        assert client.get(url).status_code == 403, url


def test_other_installers_strategy_is_not_found(installer_client, setup):
    pk = setup["theirs_strategy"].pk
    for url in [f"/updates/{pk}/", f"/updates/{pk}/progress/", f"/updates/{pk}/edit/", f"/updates/{pk}/delete/"]:
        assert installer_client.get(url).status_code == 404, url
    for action in ["pause", "resume", "cancel", "retry"]:
        assert installer_client.post(f"/updates/{pk}/{action}/").status_code == 404
    assert installer_client.post(f"/updates/{pk}/delete/").status_code == 404
    assert UpdateStrategy.objects.filter(pk=pk).exists()


def test_owner_sees_pages(installer_client, setup):
    for url in _urls(setup):
        assert installer_client.get(url).status_code == 200, url


def test_firmware_list_columns_filter_and_queries(installer_client, setup, django_assert_max_num_queries, device_model):
    with django_assert_max_num_queries(8):
        page = installer_client.get("/firmware/").content.decode()
    for text in ["Version", "Model", "Version Log", "Created Time", "Action", "29.30.2.805", "82.30.2.622",
                 "Fixes the relay timing"]:
        assert text in page
    assert page.index("82.30.2.622") < page.index("29.30.2.804")  # newest first
    it82 = device_model("IT82")
    filtered = installer_client.get("/firmware/", {"model": it82.pk}).content.decode()
    assert "82.30.2.622" in filtered and "29.30.2.805" not in filtered
    detail = installer_client.get(f"/firmware/{setup['fw'].pk}/").content.decode()
    assert setup["fw"].sha256 in detail


def test_update_list_filter_and_queries(installer_client, setup, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        page = installer_client.get("/updates/").content.decode()
    for text in ["Version", "Device", "Status", "Upgrade Time", "Created Time", "Action", "Pending", "Processing",
                 "Executed", "Refresh", "Gate 0"]:
        assert text in page
    assert "inst-b" not in page
    assert "Gate 0" not in installer_client.get("/updates/", {"status": "executed"}).content.decode()
    assert "Gate 0" in installer_client.get("/updates/", {"status": "pending"}).content.decode()


def test_create_at_a_specific_time_in_the_installers_zone(installer_client, setup, installer):
    devices = setup["devices"]
    form = installer_client.get("/updates/new/", {"device_model": devices[0].device_model_id}).content.decode()
    for text in ["Update Strategy Creation", "Location", "Owner", "MAC", "Current Version", "Status",
                 "Upgrade Right Now", "Specific Time", "data-select-all", devices[1].mac, "Asia/Singapore"]:
        assert text in form
    local = timezone.localtime(timezone.now() + datetime.timedelta(days=1),
                               timezone=datetime.timezone(datetime.timedelta(hours=8)))
    response = installer_client.post("/updates/new/", {
        "device_model": devices[0].device_model_id, "firmware": setup["fw"].pk,
        "device_ids": [devices[1].pk, devices[2].pk], "time_mode": "specific",
        "scheduled_at": local.strftime("%Y-%m-%dT%H:%M"), "action": "submit",
    })
    assert response.status_code == 302
    strategy = UpdateStrategy.objects.filter(installer=installer).latest("pk")
    assert strategy.device_count == 2 and strategy.status == StrategyStatus.PENDING
    # entered in Singapore time (UTC+8), stored in UTC
    assert strategy.scheduled_at == local.replace(second=0, microsecond=0).astimezone(datetime.UTC)


def test_create_refuses_with_reasons(installer_client, setup):
    devices = setup["devices"]
    past = timezone.localtime(timezone.now() - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = installer_client.post("/updates/new/", {
        "device_model": devices[0].device_model_id, "firmware": setup["it82"].pk,
        "device_ids": [devices[0].pk, setup["theirs"].pk], "time_mode": "specific", "scheduled_at": past,
    })
    assert response.status_code == 422
    page = response.content.decode()
    assert "not a firmware for the R29" in page and "in the past" in page
    assert "not one of your devices" in page or "not your devices" in page


def test_search_refresh_keeps_the_choices(installer_client, setup):
    devices = setup["devices"]
    response = installer_client.post("/updates/new/", {
        "device_model": devices[0].device_model_id, "firmware": setup["fw"].pk, "q": "Gate 2",
        "device_ids": [devices[1].pk], "action": "refresh",
    })
    page = response.content.decode()
    assert response.status_code == 200 and devices[2].mac in page and devices[0].mac not in page
    assert f'type="hidden" name="device_ids" value="{devices[1].pk}"' in page
    partial = installer_client.get("/updates/new/choices/", {"device_model": devices[0].device_model_id}).content
    assert devices[0].mac.encode() in partial and b"<html" not in partial


def test_edit_pending_then_refused_once_started(installer_client, setup, installer):
    strategy, devices = setup["strategy"], setup["devices"]
    edit = installer_client.get(f"/updates/{strategy.pk}/edit/").content.decode()
    assert "Edit Update Strategy" in edit and f'value="{devices[0].pk}"' in edit
    response = installer_client.post(f"/updates/{strategy.pk}/edit/", {
        "device_model": devices[0].device_model_id, "firmware": setup["old"].pk,
        "device_ids": [devices[0].pk, devices[1].pk], "time_mode": "now",
    })
    assert response.status_code == 302
    strategy.refresh_from_db()
    assert strategy.version == "29.30.2.804" and strategy.device_count == 2 and strategy.upgrade_right_now
    services.strategy_start(strategy_id=strategy.pk)
    response = installer_client.get(f"/updates/{strategy.pk}/edit/", follow=True)
    assert "only a Pending strategy can be edited" in response.content.decode()


def test_detail_controls_and_progress(installer_client, setup, installer):
    strategy = setup["strategy"]
    services.strategy_start(strategy_id=strategy.pk, now=strategy.scheduled_at)
    page = installer_client.get(f"/updates/{strategy.pk}/").content.decode()
    assert "0 of 1 devices done" in page and "<progress" in page and 'hx-trigger="every 5s"' in page
    assert installer_client.post(f"/updates/{strategy.pk}/pause/").status_code == 302
    strategy.refresh_from_db()
    assert strategy.status == StrategyStatus.PAUSED
    installer_client.post(f"/updates/{strategy.pk}/cancel/")
    strategy.refresh_from_db()
    assert strategy.status == StrategyStatus.CANCELLED
    progress = installer_client.get(f"/updates/{strategy.pk}/progress/").content.decode()
    assert "1 of 1 devices done" in progress and "Cancelled" in progress


def test_delete_needs_confirmation(installer_client, setup):
    strategy = setup["strategy"]
    assert "Delete" in installer_client.get(f"/updates/{strategy.pk}/delete/").content.decode()
    assert installer_client.post(f"/updates/{strategy.pk}/delete/").status_code == 302
    assert not UpdateStrategy.objects.filter(pk=strategy.pk).exists()


# --------------------------------------------------------------------------- admin catalog

def test_admin_uploads_lists_and_deletes(client, admin_account, device_model, media_root, setup,
                                         django_capture_on_commit_callbacks):
    client.force_login(admin_account)
    content = b"\x00firmware-image" * 5000
    response = client.post("/admin-portal/firmware/upload/", {
        "device_models": [device_model("X916").pk], "version": "916.30.101.303", "version_log": "First",
        "file": SimpleUploadedFile("x916.rom", content),
    })
    assert response.status_code == 302
    fw = Firmware.objects.get(version="916.30.101.303")
    assert fw.sha256 == hashlib.sha256(content).hexdigest() and fw.size == len(content)
    bad = client.post("/admin-portal/firmware/upload/", {
        "device_models": [device_model("X916").pk], "version": "9.1", "file": SimpleUploadedFile("a.rom", b"x")})
    assert bad.status_code == 200 and "is not a firmware version" in bad.content.decode()
    listing = client.get("/admin-portal/firmware/").content.decode()
    assert "916.30.101.303" in listing and "29.30.2.805" in listing
    assert client.get(f"/admin-portal/firmware/{fw.pk}/delete/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/admin-portal/firmware/{fw.pk}/delete/")
    assert not Firmware.objects.filter(pk=fw.pk).exists()
    assert not (media_root / fw.file.name).exists()
    used = setup["fw"]
    response = client.post(f"/admin-portal/firmware/{used.pk}/delete/", follow=True)
    assert "cannot be deleted" in response.content.decode()
    assert Firmware.objects.filter(pk=used.pk).exists()


# --------------------------------------------------------------------------- download route

def test_device_downloads_by_signed_url_without_session(client, setup):
    fw = setup["fw"]
    url = services.firmware_file_url(fw).removeprefix("http://testserver")
    response = client.get(url)
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert hashlib.sha256(body).hexdigest() == fw.sha256 and int(response["Content-Length"]) == fw.size
    token = services.firmware_file_token(fw)
    assert client.get(f"/firmware/files/{token}/other.rom").status_code == 404
    assert client.get(f"/firmware/files/{token}x/{fw.filename}").status_code == 404
    assert client.get(f"/firmware/files/garbage/{fw.filename}").status_code == 404


def test_download_url_expires(client, setup, settings):
    import time_machine

    fw = setup["fw"]
    url = services.firmware_file_url(fw).removeprefix("http://testserver")
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=settings.FIRMWARE_URL_MAX_AGE_SECONDS + 60)):
        assert client.get(url).status_code == 404


def test_retry_button_posts(installer_client, setup, installer):
    from entryway.deviceapi.services import action_record_result

    strategy = setup["strategy"]
    services.strategy_start(strategy_id=strategy.pk, now=strategy.scheduled_at)
    target = UpgradeTarget.objects.get(strategy=strategy)
    action_record_result(action=target.action, status="failure", detail="sha256 mismatch")
    strategy.refresh_from_db()
    assert strategy.status == StrategyStatus.EXECUTED
    page = installer_client.get(f"/updates/{strategy.pk}/").content.decode()
    assert "Retry failed devices" in page and "sha256 mismatch" in page
    installer_client.post(f"/updates/{strategy.pk}/retry/")
    strategy.refresh_from_db()
    assert strategy.status == StrategyStatus.PROCESSING


def test_detail_page_queries_do_not_grow_with_devices(installer_client, make_firmware, make_device, installer,
                                                      django_assert_max_num_queries):
    fw = make_firmware("29.30.2.809")
    devices = [make_device(installer) for _ in range(30)]
    strategy = services.strategy_create(acting_user=installer, firmware=fw, device_ids=[d.pk for d in devices],
                                        upgrade_right_now=True)
    services.strategy_start(strategy_id=strategy.pk)
    with django_assert_max_num_queries(10):
        page = installer_client.get(f"/updates/{strategy.pk}/", {"per_page": 100})
    assert page.status_code == 200 and page.content.decode().count("badge-waiting") >= 30


def test_periodic_task_runs_the_scheduler(make_firmware, make_device, installer):
    from entryway.firmware.tasks import firmware_rollouts_tick

    fw = make_firmware("29.30.2.810")
    device = make_device(installer)
    strategy = services.strategy_create(acting_user=installer, firmware=fw, device_ids=[device.pk],
                                        scheduled_at=timezone.now() + datetime.timedelta(seconds=1))
    UpdateStrategy.objects.filter(pk=strategy.pk).update(scheduled_at=timezone.now())
    result = firmware_rollouts_tick.call_local()
    assert result["started"] == 1
    strategy.refresh_from_db()
    assert strategy.status == StrategyStatus.PROCESSING
