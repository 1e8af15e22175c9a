"""Log in as: a distributor switches into an installer's portal only while the installer grants it."""
from __future__ import annotations

import pytest
from django.urls import reverse

from entryway.core.models import AuditLog
from entryway.portals.middleware import SESSION_IMPERSONATOR
from entryway.portals.services import permission_granted_set

pytestmark = pytest.mark.django_db


def _login_as(client, installer):
    return client.post(reverse("portals:distributor_installer_login_as", args=[installer.pk]))


def test_permission_off_by_default_and_switch_refused_with_reason(client_for, distributor, installer):
    assert installer.permission_granted is False
    client = client_for(distributor)
    response = _login_as(client, installer)
    assert response.status_code == 302 and response["Location"] == reverse("portals:distributor_installer",
                                                                           args=[installer.pk])
    page = client.get(response["Location"]).content.decode()
    assert "has not granted you permission" in page
    assert int(client.session["_auth_user_id"]) == distributor.pk
    assert AuditLog.objects.filter(action="access.login_as_refused", installer=installer).count() == 1


def test_switch_with_permission_banner_audit_and_way_back(client_for, distributor, installer, household):
    permission_granted_set(acting_user=installer, granted=True)
    client = client_for(distributor)
    response = _login_as(client, installer)
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == installer.pk
    assert client.session[SESSION_IMPERSONATOR] == distributor.pk

    page = client.get(reverse("residents:list")).content.decode()
    assert "Back to my portal" in page and "with their permission" in page
    assert household["resident"].name in page

    # the installer's own login is not the distributor's to change
    assert client.get(reverse("portals:password_change")).status_code == 403
    assert client.post(reverse("portals:account_settings"),
                       {"section": "permission", "permission_granted": "off"}).status_code == 403
    assert client.post(reverse("portals:two_factor"), {"code": "123456"}).status_code == 403

    # changes made while switched carry the distributor as impersonator in the audit log
    client.post(reverse("portals:customer_service"), {"phone": "+44 20 7946 0958", "email": "help@inst.example"})
    row = AuditLog.objects.get(action="customer_service.update")
    assert row.actor == installer and row.impersonator == distributor

    response = client.post(reverse("portals:impersonate_stop"))
    assert response["Location"] == reverse("portals:distributor_installer", args=[installer.pk])
    assert int(client.session["_auth_user_id"]) == distributor.pk
    assert SESSION_IMPERSONATOR not in client.session
    assert client.get(reverse("portals:distributor_home")).status_code == 200

    actions = list(AuditLog.objects.filter(installer=installer, action__startswith="access.login_as")
                   .order_by("id").values_list("action", flat=True))
    assert actions == ["access.login_as", "access.login_as_end"]

    # the installer sees both switches in their access log
    own = client_for(installer)
    log = own.get(reverse("portals:access_log")).content.decode()
    assert "Logged in to your portal" in log and "Went back to their portal" in log and distributor.username in log


def test_turning_permission_off_ends_the_switched_session(client_for, distributor, installer):
    permission_granted_set(acting_user=installer, granted=True)
    client = client_for(distributor)
    _login_as(client, installer)
    assert client.get(reverse("residents:list")).status_code == 200

    permission_granted_set(acting_user=installer, granted=False)  # the installer, in their own session

    response = client.get(reverse("residents:list"))
    assert response.status_code == 302 and response["Location"] == reverse("portals:distributor_home")
    assert int(client.session["_auth_user_id"]) == distributor.pk
    assert SESSION_IMPERSONATOR not in client.session
    page = client.get(response["Location"]).content.decode()
    assert "turned off the permission" in page
    end = AuditLog.objects.filter(action="access.login_as_end", installer=installer).get()
    assert end.after == {"reason": "permission_off"}
    # and a new switch is refused
    _login_as(client, installer)
    assert int(client.session["_auth_user_id"]) == distributor.pk


def test_distributor_turning_account_access_off_ends_sessions_too(client_for, distributor, installer):
    from entryway.portals.services import account_access_set

    permission_granted_set(acting_user=installer, granted=True)
    client = client_for(distributor)
    _login_as(client, installer)
    account_access_set(acting_user=distributor, enabled=False)
    response = client.get(reverse("residents:list"))
    assert response["Location"] == reverse("portals:distributor_home")


def test_permission_cannot_be_granted_before_the_distributor_offers_it(client_for, other_installer):
    # other_distributor has account access off
    client = client_for(other_installer)
    page = client.get(reverse("portals:account_settings")).content.decode()
    assert "Permission Granted" not in page
    client.post(reverse("portals:account_settings"), {"section": "permission", "permission_granted": "on"})
    other_installer.refresh_from_db()
    assert other_installer.permission_granted is False


def test_installer_turns_permission_on_in_account_setting(client_for, installer):
    client = client_for(installer)
    page = client.get(reverse("portals:account_settings")).content.decode()
    assert "Permission Granted" in page and "Give authorisation to your distributor" in page
    response = client.post(reverse("portals:account_settings"), {"section": "permission", "permission_granted": "on"})
    assert response.status_code == 302
    installer.refresh_from_db()
    assert installer.permission_granted is True
    assert AuditLog.objects.filter(action="permission_granted.set", installer=installer).exists()


def test_another_distributor_cannot_switch_even_with_permission(client_for, other_distributor, installer):
    permission_granted_set(acting_user=installer, granted=True)
    client = client_for(other_distributor)
    assert _login_as(client, installer).status_code == 404
    assert int(client.session["_auth_user_id"]) == other_distributor.pk
    assert AuditLog.objects.filter(action="access.refused", actor=other_distributor).exists()


def test_disabled_installer_session_ends(client_for, distributor, installer):
    from entryway.portals.services import account_set_active

    client = client_for(installer)
    assert client.get(reverse("residents:list")).status_code == 200
    account_set_active(acting_user=distributor, account=installer, active=False)
    response = client.get(reverse("residents:list"))
    assert response.status_code == 302 and response["Location"].startswith("/login/")
