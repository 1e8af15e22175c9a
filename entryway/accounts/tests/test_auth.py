"""Login, logout, throttling, Argon2 hashing and password reset by e-mail."""
from __future__ import annotations

import re

import pytest
from django.contrib.auth.hashers import check_password, identify_hasher
from django.core import mail
from django.test import override_settings
from django.urls import reverse

from entryway.accounts.models import Account

pytestmark = pytest.mark.django_db


def test_login_page_has_the_guides_controls(client):
    html = client.get(reverse("accounts:login")).content.decode()
    assert "Username" in html and "Password" in html and ">Login</button>" in html
    assert reverse("accounts:password_reset") in html


def test_installer_logs_in_and_lands_on_the_dashboard(client, installer, password):
    response = client.post(reverse("accounts:login"), {"username": installer.username, "password": password},
                           follow=True)
    assert response.redirect_chain[-1][0] == reverse("dashboard:home")
    html = response.content.decode()
    assert "Role: Single-tenant Manager" in html and installer.display_name in html and "Log out" in html


def test_login_honours_next(client, installer, password):
    response = client.post(reverse("accounts:login") + "?next=/users/new/",
                           {"username": installer.username, "password": password, "next": "/users/new/"})
    assert response.status_code == 302 and response["Location"] == "/users/new/"


def test_login_refuses_offsite_next(client, installer, password):
    response = client.post(reverse("accounts:login"), {"username": installer.username, "password": password,
                                                       "next": "https://evil.example.com/"})
    assert response.status_code == 302 and "evil" not in response["Location"]


def test_wrong_password_is_refused(client, installer):
    response = client.post(reverse("accounts:login"), {"username": installer.username, "password": "nope"})
    assert response.status_code == 200 and "_auth_user_id" not in client.session
    assert "Please enter a correct username and password" in response.content.decode()


def test_logout_needs_post_and_ends_the_session(client, installer):
    client.force_login(installer)
    assert client.get(reverse("accounts:logout")).status_code == 405
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302 and response["Location"] == reverse("accounts:login")
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("residents:list")).status_code == 302


def test_throttled_after_login_failure_limit(client, installer, password, settings):
    settings.LOGIN_FAILURE_LIMIT = 4
    for _ in range(3):
        client.post(reverse("accounts:login"), {"username": installer.username, "password": "bad"})
    # under the limit, the right password still works (and clears the count)
    ok = client.post(reverse("accounts:login"), {"username": installer.username, "password": password})
    assert ok.status_code == 302
    client.post(reverse("accounts:logout"))
    for _ in range(4):
        client.post(reverse("accounts:login"), {"username": installer.username, "password": "bad"})
    locked = client.post(reverse("accounts:login"), {"username": installer.username, "password": password})
    assert locked.status_code == 200 and "Too many failed logins" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_throttle_is_per_username(client, installer, other_installer, password, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    for _ in range(2):
        client.post(reverse("accounts:login"), {"username": installer.username, "password": "bad"})
    response = client.post(reverse("accounts:login"), {"username": other_installer.username, "password": password})
    assert response.status_code == 302


def test_argon2_is_the_password_hasher_of_the_platform():
    from config.settings import base

    assert base.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"


@override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.Argon2PasswordHasher"])
def test_passwords_are_stored_with_argon2(make_account):
    account = make_account("installer", username="argon")
    account.set_password("a long passphrase 42")
    account.save()
    stored = Account.objects.get(pk=account.pk).password
    assert stored.startswith("argon2$") and identify_hasher(stored).algorithm == "argon2"
    assert check_password("a long passphrase 42", stored) and not check_password("wrong", stored)


def test_password_reset_by_email(client, installer):
    response = client.post(reverse("accounts:password_reset"), {"email": installer.email})
    assert response.status_code == 302 and response["Location"] == reverse("accounts:password_reset_done")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [installer.email] and message.subject == "Reset your entryway password"
    assert f"Your username: {installer.username}" in message.body
    link = re.search(r"https?://[^/\s]+(/reset/\S+/)", message.body).group(1)

    form_page = client.get(link, follow=True)
    assert "Set Password" in form_page.content.decode()
    set_url = form_page.redirect_chain[-1][0]
    new_password = "Brand-new passphrase 7"
    done = client.post(set_url, {"new_password1": new_password, "new_password2": new_password})
    assert done.status_code == 302 and done["Location"] == reverse("accounts:password_reset_complete")
    installer.refresh_from_db()
    assert installer.check_password(new_password)
    # the link works once
    assert "This link no longer works" in client.get(link, follow=True).content.decode()


def test_password_reset_for_unknown_address_sends_nothing_and_says_the_same(client):
    response = client.post(reverse("accounts:password_reset"), {"email": "nobody@example.com"}, follow=True)
    assert "Check your e-mail" in response.content.decode() and not mail.outbox


def test_password_reset_mail_in_the_chosen_language(client, installer):
    client.cookies["django_language"] = "fr"
    client.post(reverse("accounts:password_reset"), {"email": installer.email})
    assert mail.outbox[0].subject == "Réinitialisez votre mot de passe entryway"
    assert "Bonjour" in mail.outbox[0].body
