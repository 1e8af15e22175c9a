"""Opening, closing and expiring Remote Control sessions; who may see them; the audit trail."""
from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from entryway.core.models import AuditLog
from entryway.deviceapi.models import DeviceAction
from entryway.remote import services
from entryway.remote.choices import CloseReason, SessionState
from entryway.remote.models import RemoteSession

pytestmark = pytest.mark.django_db


def test_the_button_opens_a_session_and_asks_the_device(installer_client, installer, device, settings):
    settings.PUBLIC_BASE_URL = "https://entryway.example.com"
    response = installer_client.post(f"/devices/{device.pk}/remote-control/")
    session = RemoteSession.objects.get(device=device)
    assert response.status_code == 302 and response["Location"] == f"/remote-control/{session.token}/"
    assert session.installer == installer and session.opened_by == installer
    assert (session.expires_at - session.opened_at) == datetime.timedelta(seconds=600)
    assert session.state() == SessionState.WAITING
    action = DeviceAction.objects.get(device=device, kind="remote_control")
    assert session.action == action and action.status == "pending" and action.expires_at == session.expires_at
    assert action.payload["session"] == session.token
    assert action.payload["url"] == f"https://entryway.example.com/device/v1/tunnel/{session.token}"
    assert action.payload["max_body"] == settings.REMOTE_MAX_BODY_BYTES
    row = AuditLog.objects.get(action="remote.open")
    assert row.actor == installer and row.installer == installer and row.after["device"] == device.mac
    page = installer_client.get(f"/devices/{device.pk}/info/")
    assert b"Remote Control" in page.content and f"/devices/{device.pk}/remote-control/".encode() in page.content


def test_the_configured_time_limit_applies(installer, device, settings):
    settings.REMOTE_SESSION_MAX_SECONDS = 120
    session = services.session_open(acting_user=installer, device=device)
    assert (session.expires_at - session.opened_at).total_seconds() == 120


def test_pressing_again_gives_the_open_session(installer, device):
    first = services.session_open(acting_user=installer, device=device)
    assert services.session_open(acting_user=installer, device=device) == first
    assert DeviceAction.objects.filter(kind="remote_control").count() == 1


def test_sessions_are_capped_per_installer(installer, make_device, settings):
    settings.REMOTE_MAX_SESSIONS_PER_INSTALLER = 2
    for n in range(2):
        services.session_open(acting_user=installer, device=make_device(installer, f"Door {n}"))
    with pytest.raises(ValidationError, match="already have 2 Remote Control sessions open"):
        services.session_open(acting_user=installer, device=make_device(installer, "Door 3"))


def test_the_cap_is_explained_on_the_device_page(installer_client, installer, make_device, settings):
    settings.REMOTE_MAX_SESSIONS_PER_INSTALLER = 1
    services.session_open(acting_user=installer, device=make_device(installer, "A"))
    other = make_device(installer, "B")
    response = installer_client.post(f"/devices/{other.pk}/remote-control/", follow=True)
    assert "already have 1 Remote Control sessions open" in response.content.decode()
    assert not RemoteSession.objects.filter(device=other).exists()


def test_close_from_the_portal_is_audited_with_duration_and_requests(installer_client, installer, open_session):
    RemoteSession.objects.filter(pk=open_session.pk).update(request_count=7,
                                                           opened_at=timezone.now() - datetime.timedelta(seconds=95))
    response = installer_client.post(f"/remote-control/{open_session.token}/close/")
    assert response.status_code == 302
    session = RemoteSession.objects.get(pk=open_session.pk)
    assert session.state() == SessionState.CLOSED and session.close_reason == CloseReason.INSTALLER
    assert session.closed_by == installer
    row = AuditLog.objects.get(action="remote.close")
    assert row.actor == installer and row.after["device"] == session.device.mac
    assert row.after["requests"] == 7 and 94 <= row.after["duration_seconds"] <= 97
    assert row.after["reason"] == "installer"
    # The device's action is cancelled (it never connected) and no longer in its check-ins.
    assert DeviceAction.objects.get(pk=session.action_id).status == "cancelled"
    page = installer_client.get(f"/remote-control/{open_session.token}/")
    assert "The session is closed" in page.content.decode()


def test_expired_sessions_are_closed_and_audited(installer, open_session):
    RemoteSession.objects.filter(pk=open_session.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert services.sessions_expire() == 1
    session = RemoteSession.objects.get(pk=open_session.pk)
    assert session.close_reason == CloseReason.EXPIRED and session.state() == SessionState.EXPIRED
    row = AuditLog.objects.get(action="remote.close")
    assert row.actor is None and row.after["reason"] == "expired"
    assert services.sessions_expire() == 0


def test_a_device_that_never_connects_is_shown_as_such(installer_client, open_session, settings):
    settings.REMOTE_CONNECT_TIMEOUT = 30
    RemoteSession.objects.filter(pk=open_session.pk).update(opened_at=timezone.now() - datetime.timedelta(seconds=31))
    page = installer_client.get(f"/remote-control/{open_session.token}/").content.decode()
    assert "The device did not connect within 30 seconds" in page
    assert "<iframe" not in page


def test_status_card_asks_for_a_reload_when_the_state_changes(installer_client, open_session):
    url = f"/remote-control/{open_session.token}/status/?shown=waiting"
    assert "HX-Refresh" not in installer_client.get(url)
    RemoteSession.objects.filter(pk=open_session.pk).update(connected_at=timezone.now())
    assert installer_client.get(url)["HX-Refresh"] == "true"
    page = installer_client.get(f"/remote-control/{open_session.token}/").content.decode()
    assert f'<iframe src="/remote/{open_session.token}/"' in page


def test_device_reports_end_the_session(installer, open_session):
    from entryway.deviceapi.services import action_record_result

    action_record_result(action=open_session.action, status="failure", detail="web server disabled")
    session = RemoteSession.objects.get(pk=open_session.pk)
    assert session.close_reason == CloseReason.DEVICE_FAILED
    assert AuditLog.objects.get(action="remote.close").after["detail"] == "web server disabled"


# -- who may use a session ----------------------------------------------------------------------------------

def _pages(token):
    return [f"/remote-control/{token}/", f"/remote-control/{token}/status/", f"/remote/{token}/",
            f"/remote/{token}/settings"]


def test_another_installer_gets_404_everywhere(other_installer_client, open_session, device):
    for url in _pages(open_session.token):
        assert other_installer_client.get(url).status_code == 404, url
    assert other_installer_client.post(f"/remote-control/{open_session.token}/close/").status_code == 404
    assert other_installer_client.post(f"/remote/{open_session.token}/settings").status_code == 404
    assert other_installer_client.post(f"/devices/{device.pk}/remote-control/").status_code == 404
    assert RemoteSession.objects.get(pk=open_session.pk).closed_at is None
    assert b"No Data" in other_installer_client.get("/remote-control/").content


def client_for(account) -> Client:
    c = Client()
    c.force_login(account)
    return c


def test_distributor_only_with_the_installers_permission(distributor, installer, open_session):
    from entryway.remote.selectors import usable_sessions

    assert not usable_sessions(distributor).exists()
    c = client_for(distributor)
    assert c.get(f"/remote-control/{open_session.token}/").status_code == 404
    installer.permission_granted = True
    installer.save(update_fields=["permission_granted"])
    assert c.get(f"/remote-control/{open_session.token}/").status_code == 200
    assert open_session.token in c.get("/remote-control/").content.decode()
    # A distributor does not open sessions itself (it logs in as the installer for that).
    assert c.post(f"/devices/{open_session.device_id}/remote-control/").status_code == 403
    distributor.account_access_enabled = False
    distributor.save(update_fields=["account_access_enabled"])
    assert c.get(f"/remote-control/{open_session.token}/").status_code == 404


def test_another_distributor_and_the_admin_get_nothing(other_distributor, admin_account, installer,
                                                       open_session):
    installer.permission_granted = True
    installer.save(update_fields=["permission_granted"])
    assert client_for(other_distributor).get(f"/remote-control/{open_session.token}/").status_code == 404
    assert client_for(admin_account).get(f"/remote-control/{open_session.token}/").status_code == 403


def test_anonymous_is_sent_to_the_login(open_session):
    for url in _pages(open_session.token):
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url


def test_list_is_the_installers_own(installer_client, installer, make_device, other_installer):
    services.session_open(acting_user=installer, device=make_device(installer, "Mine"))
    services.session_open(acting_user=other_installer, device=make_device(other_installer, "Theirs"))
    page = installer_client.get("/remote-control/").content.decode()
    assert "Mine" in page and "Theirs" not in page


def test_list_queries_do_not_grow_with_rows(installer_client, installer, make_device, django_assert_max_num_queries):
    for n in range(3):
        services.session_open(acting_user=installer, device=make_device(installer, f"D{n}"))
    with django_assert_max_num_queries(8):
        assert installer_client.get("/remote-control/").status_code == 200


def test_the_button_is_for_the_installer_only(admin_account, device):
    page = client_for(admin_account).get(f"/devices/{device.pk}/info/")
    assert page.status_code == 200 and b"remote-control/" not in page.content
    assert client_for(admin_account).post(f"/devices/{device.pk}/remote-control/").status_code == 403
