"""Optional two-factor login (TOTP): turn on with a code, asked after the password, turn off with a code."""
from __future__ import annotations

import pyotp
import pytest
from django.core.cache import cache
from django.urls import reverse

from entryway.core.models import AuditLog

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


def _enable(client):
    client.get(reverse("portals:two_factor"))
    secret = client.session["entryway_totp_pending"]
    response = client.post(reverse("portals:two_factor"), {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302
    return secret


def test_enable_then_login_asks_for_a_code(client, installer, password):
    client.force_login(installer)
    page = client.get(reverse("portals:two_factor")).content.decode()
    secret = client.session["entryway_totp_pending"]
    grouped = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
    assert grouped in page
    # a wrong code is refused, nothing saved
    client.post(reverse("portals:two_factor"), {"code": "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"})
    installer.refresh_from_db()
    assert not installer.totp_enabled
    client.post(reverse("portals:two_factor"), {"code": pyotp.TOTP(secret).now()})
    installer.refresh_from_db()
    assert installer.totp_enabled and installer.totp_secret == secret
    assert AuditLog.objects.filter(action="two_factor.enable", actor=installer).exists()
    # the current session stays in
    assert client.get(reverse("residents:list")).status_code == 200

    client.post(reverse("accounts:logout"))
    response = client.post(reverse("accounts:login"), {"username": installer.username, "password": password})
    assert response.status_code == 302
    response = client.get(reverse("residents:list"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("portals:two_factor_login"))
    # every other page waits for the code too; the API answers 401
    assert client.get(reverse("portals:help")).status_code == 302
    assert client.get("/api/v1/residents").status_code == 401

    bad = client.post(reverse("portals:two_factor_login"), {"code": "12345x", "next": "/users/"})
    assert bad.status_code == 200 and "Enter the 6 digits" in bad.content.decode()
    cache.clear()  # forget codes used above so the same 30 s window's code counts once here
    code = pyotp.TOTP(secret).now()
    ok = client.post(reverse("portals:two_factor_login"), {"code": code, "next": "/users/"})
    assert ok.status_code == 302 and ok["Location"] == "/users/"
    assert client.get(reverse("residents:list")).status_code == 200


def test_a_code_is_accepted_once(client, installer, password):
    client.force_login(installer)
    secret = _enable(client)
    client.post(reverse("accounts:logout"))
    cache.clear()
    code = pyotp.TOTP(secret).now()
    client.post(reverse("accounts:login"), {"username": installer.username, "password": password})
    assert client.post(reverse("portals:two_factor_login"), {"code": code})["Location"] == "/"
    client.post(reverse("accounts:logout"))
    client.post(reverse("accounts:login"), {"username": installer.username, "password": password})
    replay = client.post(reverse("portals:two_factor_login"), {"code": code})
    assert replay.status_code == 200 and "not right" in replay.content.decode()


def test_open_redirect_refused(client, installer, password):
    client.force_login(installer)
    secret = _enable(client)
    client.post(reverse("accounts:logout"))
    cache.clear()
    client.post(reverse("accounts:login"), {"username": installer.username, "password": password})
    response = client.post(reverse("portals:two_factor_login"),
                           {"code": pyotp.TOTP(secret).now(), "next": "https://evil.example/"})
    assert response["Location"] == reverse("web:home")


def test_too_many_wrong_codes_log_out(client, installer, password, settings):
    client.force_login(installer)
    secret = _enable(client)
    client.post(reverse("accounts:logout"))
    client.post(reverse("accounts:login"), {"username": installer.username, "password": password})
    right = pyotp.TOTP(secret).now()
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        client.post(reverse("portals:two_factor_login"), {"code": wrong})
    response = client.post(reverse("portals:two_factor_login"), {"code": right})
    assert response["Location"] == reverse("accounts:login")
    assert "_auth_user_id" not in client.session


def test_disable_needs_a_code(client, distributor):
    client.force_login(distributor)
    secret = _enable(client)
    client.post(reverse("portals:two_factor"), {"code": "abc"})
    distributor.refresh_from_db()
    assert distributor.totp_enabled
    cache.clear()
    client.post(reverse("portals:two_factor"), {"code": pyotp.TOTP(secret).now()})
    distributor.refresh_from_db()
    assert not distributor.totp_enabled and distributor.totp_secret == ""
    assert AuditLog.objects.filter(action="two_factor.disable").exists()
    row = AuditLog.objects.get(action="two_factor.enable")
    assert secret not in str(row.after) and secret not in str(row.before)


def test_secret_is_encrypted_at_rest(client, installer):
    from django.db import connection

    client.force_login(installer)
    secret = _enable(client)
    with connection.cursor() as cur:
        cur.execute("SELECT totp_secret FROM accounts_account WHERE id = %s", [installer.pk])
        stored = cur.fetchone()[0]
    assert stored and secret not in stored
