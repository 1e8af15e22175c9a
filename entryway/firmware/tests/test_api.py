"""/api/v1/firmware and /api/v1/update-strategies."""
from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from entryway.deviceapi.services import action_record_result
from entryway.firmware import services
from entryway.firmware.models import UpdateStrategy, UpgradeTarget

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet(make_firmware, make_device, installer, other_installer, later):
    fw = make_firmware("29.30.2.805")
    older = make_firmware("29.30.2.804")
    it82 = make_firmware("82.30.2.622", models=("IT82",))
    devices = [make_device(installer) for _ in range(4)]
    theirs = make_device(other_installer)
    their_strategy = services.strategy_create(acting_user=other_installer, firmware=fw, device_ids=[theirs.pk],
                                              scheduled_at=later)
    return {"fw": fw, "older": older, "it82": it82, "devices": devices, "theirs": theirs,
            "their_strategy": their_strategy}


def test_anonymous_and_wrong_role(client, fleet, make_account):
    assert client.get("/api/v1/firmware").status_code == 401
    assert client.get("/api/v1/update-strategies").status_code == 401
    assert client.post("/api/v1/update-strategies", {}, content_type="application/json").status_code == 401
    client.force_login(make_account("resident"))
    assert client.get("/api/v1/firmware").status_code == 401
    assert client.get(f"/api/v1/update-strategies/{fleet['their_strategy'].pk}").status_code == 401


def test_firmware_list_filter(api, fleet):
    body = api.get("/api/v1/firmware").json()
    assert body["count"] == 3 and body["items"][0]["version"] == "82.30.2.622"
    assert body["items"][0]["sha256"] == fleet["it82"].sha256
    r29 = api.get("/api/v1/firmware", {"model": "R29"}).json()
    assert {i["version"] for i in r29["items"]} == {"29.30.2.805", "29.30.2.804"}
    assert api.get("/api/v1/firmware", {"model": "nope"}).json()["count"] == 0


def test_create_read_patch_delete(api, fleet, installer):
    devices = fleet["devices"]
    when = (timezone.now() + datetime.timedelta(days=1)).replace(microsecond=0)
    response = api.post("/api/v1/update-strategies", {
        "firmware_id": fleet["fw"].pk, "device_ids": [d.pk for d in devices[:2]],
        "scheduled_at": when.isoformat(), "waves": [50], "success_threshold": 100, "error_threshold": 10})
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["status"] == "pending" and created["device_count"] == 2 and created["waves"] == [50, 100]
    pk = created["id"]
    detail = api.get(f"/api/v1/update-strategies/{pk}").json()
    assert detail["counts"]["waiting"] == 2 and len(detail["devices"]["items"]) == 2
    assert {d["wave"] for d in detail["devices"]["items"]} == {0, 1}
    # naive times are the installer's (Asia/Singapore, UTC+8)
    patched = api.patch(f"/api/v1/update-strategies/{pk}", {
        "firmware_id": fleet["older"].pk, "device_ids": [d.pk for d in devices[:3]],
        "scheduled_at": "2099-01-01T08:00:00"})
    assert patched.status_code == 200, patched.content
    body = patched.json()
    assert body["version"] == "29.30.2.804" and body["device_count"] == 3
    assert datetime.datetime.fromisoformat(body["upgrade_time"]) == datetime.datetime(
        2099, 1, 1, 0, 0, tzinfo=datetime.UTC)
    listing = api.get("/api/v1/update-strategies", {"status": "pending"}).json()
    assert [i["id"] for i in listing["items"]] == [pk]
    assert api.delete(f"/api/v1/update-strategies/{pk}").status_code == 204
    assert not UpdateStrategy.objects.filter(pk=pk).exists()


def test_bad_input_is_422_with_fields(api, fleet, other_installer):
    devices = fleet["devices"]
    past = (timezone.now() - datetime.timedelta(hours=1)).isoformat()
    cases = [
        ({"firmware_id": fleet["it82"].pk, "model": "R29", "device_ids": [devices[0].pk], "upgrade_right_now": True},
         "firmware"),
        ({"firmware_id": fleet["fw"].pk, "device_ids": [fleet["theirs"].pk], "upgrade_right_now": True},
         "device_ids"),
        ({"firmware_id": fleet["fw"].pk, "device_ids": [devices[0].pk], "scheduled_at": past}, "scheduled_at"),
        ({"firmware_id": fleet["fw"].pk, "device_ids": [devices[0].pk]}, "scheduled_at"),
        ({"firmware_id": 10**9, "device_ids": [devices[0].pk], "upgrade_right_now": True}, "firmware"),
        ({"firmware_id": fleet["fw"].pk, "device_ids": [devices[0].pk], "upgrade_right_now": True,
          "waves": [60, 20]}, "waves"),
    ]
    for payload, field in cases:
        response = api.post("/api/v1/update-strategies", payload)
        assert response.status_code == 422, (payload, response.content)
        assert field in str(response.json()["detail"]), (field, response.json())
    assert api.post("/api/v1/update-strategies", {"firmware_id": "x"}).status_code == 422
    assert api.post("/api/v1/update-strategies", {"firmware_id": 1, "device_ids": [-1]}).status_code == 422


def test_other_installers_strategy_is_404(api, fleet):
    pk = fleet["their_strategy"].pk
    assert api.get(f"/api/v1/update-strategies/{pk}").status_code == 404
    assert api.patch(f"/api/v1/update-strategies/{pk}", {"upgrade_right_now": True}).status_code == 404
    assert api.delete(f"/api/v1/update-strategies/{pk}").status_code == 404
    for action in ("pause", "resume", "cancel", "retry"):
        assert api.post(f"/api/v1/update-strategies/{pk}/{action}").status_code == 404
    assert api.get("/api/v1/update-strategies/999999999").status_code == 404


def test_controls_and_refusals(api, fleet, installer):
    devices = fleet["devices"]
    created = api.post("/api/v1/update-strategies", {
        "firmware_id": fleet["fw"].pk, "device_ids": [d.pk for d in devices], "upgrade_right_now": True,
        "waves": [50], "success_threshold": 100}).json()
    pk = created["id"]
    services.strategy_start(strategy_id=pk)
    again = api.post("/api/v1/update-strategies", {
        "firmware_id": fleet["fw"].pk, "device_ids": [devices[0].pk], "upgrade_right_now": True})
    assert again.status_code == 422 and "not finished" in str(again.json())
    edit = api.patch(f"/api/v1/update-strategies/{pk}", {"upgrade_right_now": True})
    assert edit.status_code == 422 and "only a Pending strategy can be edited" in str(edit.json())
    assert api.delete(f"/api/v1/update-strategies/{pk}").status_code == 422
    assert api.post(f"/api/v1/update-strategies/{pk}/resume").status_code == 422
    assert api.post(f"/api/v1/update-strategies/{pk}/pause").json()["status"] == "paused"
    first = UpgradeTarget.objects.filter(strategy_id=pk, wave=0).first()
    action_record_result(action=first.action, status="failure", detail="sha256 mismatch")
    retried = api.post(f"/api/v1/update-strategies/{pk}/retry").json()
    assert retried["retried"] == 1
    assert api.post(f"/api/v1/update-strategies/{pk}/resume").json()["current_wave"] == 1
    cancelled = api.post(f"/api/v1/update-strategies/{pk}/cancel").json()
    assert cancelled["status"] == "cancelled"
    detail = api.get(f"/api/v1/update-strategies/{pk}", {"state": "cancelled"}).json()
    assert detail["devices"]["count"] == detail["counts"]["cancelled"] == 4
