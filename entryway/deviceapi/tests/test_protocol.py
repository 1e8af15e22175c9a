"""The device-facing routes: check-in, action results, bad input (docs/device-protocol.md)."""
from __future__ import annotations

import datetime

import pytest
import time_machine
from django.utils import timezone

from entryway.deviceapi.choices import ActionStatus
from entryway.deviceapi.models import DeviceAction
from entryway.deviceapi.services import action_create, actions_expire
from entryway.deviceapi.tests.conftest import basic
from entryway.devices.models import IntercomDevice

pytestmark = pytest.mark.django_db

REPORT = {"model": "R29", "firmware": "29.30.2.805", "ip": "192.168.1.20", "uptime": 3600}


def checkin(client, headers, body=REPORT, **kwargs):
    return client.post("/device/v1/checkin", body, content_type="application/json", headers=headers, **kwargs)


def report(client, headers, action_id, body):
    return client.post(f"/device/v1/actions/{action_id}/result", body, content_type="application/json",
                       headers=headers)


def test_device_gets_a_secret_and_broker_password_when_added(device):
    assert len(device.device_secret) >= 20 and len(device.mqtt_password) >= 20
    assert device.device_secret != device.mqtt_password


def test_checkin_records_status_and_answers_interval_version_actions(client, device, device_headers):
    assert not device.is_online
    response = checkin(client, device_headers)
    assert response.status_code == 200
    data = response.json()
    assert data["poll_interval"] == 60
    assert data["actions"] == []
    assert len(data["config_version"]) == 16
    assert data["server_time"].endswith("Z")
    device.refresh_from_db()
    assert device.is_online
    assert (device.reported_model, device.firmware_version, device.ip_address, device.uptime_seconds) == (
        "R29", "29.30.2.805", "192.168.1.20", 3600)
    assert response["Cache-Control"] == "no-store"


def test_pending_actions_are_handed_out_marked_sent_until_a_result(client, device, device_headers, installer):
    reboot = action_create(device=device, kind="reboot", acting_user=installer)
    first = checkin(client, device_headers).json()["actions"]
    assert first == [{"id": reboot.pk, "kind": "reboot", "payload": {}}]
    reboot.refresh_from_db()
    assert reboot.status == ActionStatus.SENT and reboot.sent_at is not None
    # not yet reported: handed out again
    assert [a["id"] for a in checkin(client, device_headers).json()["actions"]] == [reboot.pk]
    answer = report(client, device_headers, reboot.pk, {"status": "success", "detail": "rebooting"})
    assert answer.status_code == 200
    assert answer.json() == {"id": reboot.pk, "kind": "reboot", "status": "success", "stage": ""}
    assert checkin(client, device_headers).json()["actions"] == []
    reboot.refresh_from_db()
    assert reboot.status == ActionStatus.SUCCESS and reboot.detail == "rebooting" and reboot.finished_at


def test_proceeding_then_success_with_stage(client, device, device_headers):
    action = action_create(device=device, kind="upgrade",
                           payload={"version": "2", "url": "https://x/f.rom", "sha256": "ab", "size": 3})
    checkin(client, device_headers)
    body = report(client, device_headers, action.pk, {"status": "proceeding", "stage": "downloading",
                                                      "detail": "12%"}).json()
    assert body["status"] == "proceeding" and body["stage"] == "downloading"
    # proceeding counts as a result: no longer handed out
    assert checkin(client, device_headers).json()["actions"] == []
    assert report(client, device_headers, action.pk, {"status": "success"}).json()["status"] == "success"


def test_expired_actions_are_not_handed_out(client, device, device_headers):
    action = action_create(device=device, kind="reboot", expires_at=timezone.now() + datetime.timedelta(minutes=5))
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=6)):
        assert checkin(client, device_headers).json()["actions"] == []
        assert actions_expire() == 1
    action.refresh_from_db()
    assert action.status == ActionStatus.EXPIRED


# --- Bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer abc"},
    {"Authorization": "Basic !!!not-base64"},
    {"Authorization": "Basic " + "bm9jb2xvbg=="},  # "nocolon"
])
def test_checkin_without_valid_credentials_is_401(client, device, headers):
    response = checkin(client, headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")
    assert "error" in response.json()


def test_checkin_with_a_wrong_secret_or_unknown_mac_is_401_and_changes_nothing(client, device):
    for headers in (basic(device.mac, "wrong"), basic("0C1100000000", device.device_secret),
                    basic("not-a-mac", device.device_secret), basic(device.mac, "")):
        assert checkin(client, headers).status_code == 401
    device.refresh_from_db()
    assert device.last_seen_at is None and device.firmware_version == ""


def test_mac_user_name_in_other_notations_is_accepted(client, device):
    colon = ":".join(device.mac[i:i + 2] for i in range(0, 12, 2)).lower()
    assert checkin(client, basic(colon, device.device_secret)).status_code == 200


@pytest.mark.parametrize("body, needle", [
    ("not json", "not JSON"),
    ("[1, 2]", "JSON object"),
    ('"text"', "JSON object"),
    ('{"uptime": "long"}', "uptime"),
    ('{"uptime": -1}', "uptime"),
    ('{"uptime": true}', "uptime"),
    ('{"ip": "999.1.1.1"}', "ip"),
    ('{"ip": 12}', "ip"),
    ('{"model": 29}', "model"),
    ('{"firmware": "' + "9" * 40 + '"}', "firmware"),
    ('{"model": "R\\u0000"}', "model"),
])
def test_checkin_bad_body_is_400_naming_the_problem(client, device, device_headers, body, needle):
    response = client.post("/device/v1/checkin", body, content_type="application/json", headers=device_headers)
    assert response.status_code == 400
    assert needle in response.json()["error"]
    device.refresh_from_db()
    assert device.last_seen_at is None


def test_checkin_empty_body_is_accepted(client, device, device_headers):
    assert client.post("/device/v1/checkin", "", content_type="application/json",
                       headers=device_headers).status_code == 200


def test_checkin_is_post_only(client, device_headers):
    assert client.get("/device/v1/checkin", headers=device_headers).status_code == 405


def test_result_for_unknown_or_another_devices_action_is_404(client, installer, other_installer, make_device,
                                                             device, device_headers):
    other = make_device(other_installer)
    foreign = action_create(device=other, kind="reboot")
    sibling = action_create(device=make_device(installer), kind="reboot")
    for action_id in (foreign.pk, sibling.pk, 999999):
        response = report(client, device_headers, action_id, {"status": "success"})
        assert response.status_code == 404
        assert "error" in response.json()
    foreign.refresh_from_db()
    assert foreign.status == ActionStatus.PENDING


def test_result_for_a_final_action_is_409_and_changes_nothing(client, device, device_headers):
    action = action_create(device=device, kind="reboot")
    assert report(client, device_headers, action.pk, {"status": "failure", "detail": "busy"}).status_code == 200
    response = report(client, device_headers, action.pk, {"status": "success"})
    assert response.status_code == 409
    assert response.json()["status"] == "failure"
    action.refresh_from_db()
    assert (action.status, action.detail) == ("failure", "busy")


@pytest.mark.parametrize("body, needle", [
    ("oops", "not JSON"),
    ("{}", "status"),
    ('{"status": "done"}', "status"),
    ('{"status": "sent"}', "status"),
    ('{"status": "success", "stage": 5}', "stage"),
    ('{"status": "success", "detail": ["x"]}', "detail"),
    ('{"status": "success", "detail": "' + "x" * 2001 + '"}', "detail"),
])
def test_result_bad_body_is_400(client, device, device_headers, body, needle):
    action = action_create(device=device, kind="reboot")
    response = client.post(f"/device/v1/actions/{action.pk}/result", body, content_type="application/json",
                           headers=device_headers)
    assert response.status_code == 400
    assert needle in response.json()["error"]
    action.refresh_from_db()
    assert action.status == ActionStatus.PENDING


def test_result_with_wrong_secret_is_401(client, device):
    action = action_create(device=device, kind="reboot")
    assert report(client, basic(device.mac, "nope"), action.pk, {"status": "success"}).status_code == 401
    action.refresh_from_db()
    assert action.status == ActionStatus.PENDING


def test_device_routes_need_no_csrf_token(device, device_headers):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert checkin(strict, device_headers).status_code == 200


# --- The hot path ---------------------------------------------------------------------------------

def test_idle_checkin_reads_no_table_and_writes_nothing(client, device, device_headers, django_assert_num_queries):
    first = checkin(client, device_headers)  # first contact: writes last seen, computes the config version
    device.refresh_from_db()
    seen = device.last_seen_at
    with django_assert_num_queries(0):  # answered from the cache (entryway.deviceapi.devicecache)
        again = checkin(client, device_headers)
    assert again.status_code == 200
    assert again.json()["config_version"] == first.json()["config_version"]
    assert again.json()["actions"] == []
    device.refresh_from_db()
    assert device.last_seen_at == seen


def test_last_seen_is_written_again_after_the_coalescing_interval(client, device, device_headers, settings,
                                                                  django_assert_num_queries):
    checkin(client, device_headers)
    device.refresh_from_db()
    first = device.last_seen_at
    later = timezone.now() + datetime.timedelta(seconds=settings.DEVICE_LAST_SEEN_WRITE_INTERVAL + 1)
    with time_machine.travel(later), django_assert_num_queries(2):
        checkin(client, device_headers)
    device.refresh_from_db()
    assert device.last_seen_at > first
    assert device.is_online


def test_changed_firmware_is_written_at_once(client, device, device_headers):
    checkin(client, device_headers)
    checkin(client, device_headers, {**REPORT, "firmware": "29.30.2.806"})
    assert IntercomDevice.objects.get(pk=device.pk).firmware_version == "29.30.2.806"


def test_checkin_with_pending_actions_is_constant_in_queries(client, device, device_headers,
                                                             django_assert_num_queries):
    checkin(client, device_headers)
    for _ in range(5):
        action_create(device=device, kind="reboot")
    with django_assert_num_queries(2):  # actions, mark sent (the device is known from its cache entry)
        assert len(checkin(client, device_headers).json()["actions"]) == 5
    assert DeviceAction.objects.filter(device=device, status=ActionStatus.SENT).count() == 5


def test_device_lookup_uses_the_indexed_mac():
    field = IntercomDevice._meta.get_field("mac")
    assert field.unique  # a unique index


def test_periodic_task_expires_open_actions(device):
    from entryway.deviceapi.tasks import actions_expire_task

    late = action_create(device=device, kind="reboot", expires_at=timezone.now() - datetime.timedelta(seconds=1))
    fresh = action_create(device=device, kind="reboot", expires_at=timezone.now() + datetime.timedelta(hours=1))
    actions_expire_task()  # Huey runs tasks inline in the tests
    late.refresh_from_db()
    fresh.refresh_from_db()
    assert (late.status, fresh.status) == (ActionStatus.EXPIRED, ActionStatus.PENDING)


def test_batch_regular_autop_changes_the_config_version(client, device, device_headers, installer):
    from entryway.deviceapi.services import autop_batch_apply

    before = checkin(client, device_headers).json()["config_version"]
    autop_batch_apply(acting_user=installer, mode="regular", commands="Config.A.B.C = 1", device_ids=[device.pk])
    after = checkin(client, device_headers).json()["config_version"]
    assert after != before
    text = client.get(f"/autop/{device.mac}.cfg", headers=device_headers).content.decode()
    assert text.rstrip().endswith("Config.A.B.C = 1")
