"""Web security that holds for every page: deploy checks, headers, CSRF, throttling."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import Client

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def _production_env(tmp_path):
    env = dict(os.environ)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set by the browser tests' fixture in this process only
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings.production", "SECRET_KEY": "s" * 64 + "-prod-check",
                "ENCRYPTION_KEY": "e" * 48, "ENTRYWAY_VAR_DIR": str(tmp_path), "ALLOWED_HOSTS": "entryway.example.com"})
    return env


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=_production_env(tmp_path), capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_the_embedded_secret_key(tmp_path):
    env = _production_env(tmp_path)
    env.pop("SECRET_KEY")
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True,
                            text=True)
    assert result.returncode != 0 and "Set SECRET_KEY" in result.stderr


def test_production_cookies_are_secure_httponly_samesite(tmp_path):
    code = ("from django.conf import settings as s; "
            "print(s.SESSION_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.SESSION_COOKIE_SAMESITE, "
            "s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS > 0, s.X_FRAME_OPTIONS)")
    result = subprocess.run([sys.executable, "-c", f"import django; django.setup(); {code}"], cwd=ROOT,
                            env=_production_env(tmp_path), capture_output=True, text=True)
    assert result.stdout.split() == ["True", "True", "Strict", "True", "True", "DENY"], result.stderr


@pytest.mark.django_db
def test_every_page_sends_csp_without_inline_scripts_and_frame_protection(client):
    response = client.get("/login/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"<script>" not in response.content and b"onclick=" not in response.content.lower()


@pytest.mark.django_db
def test_forms_need_the_csrf_token(installer, password):
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/login/", {"username": installer.username, "password": password}).status_code == 403
    page = strict.get("/login/")
    token = page.cookies[settings.CSRF_COOKIE_NAME].value
    ok = strict.post("/login/", {"username": installer.username, "password": password,
                                 "csrfmiddlewaretoken": token})
    assert ok.status_code == 302


@pytest.mark.django_db
def test_repeated_failed_logins_are_throttled(client, installer, password, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    for _ in range(3):
        assert client.post("/login/", {"username": installer.username, "password": "wrong"}).status_code == 200
    locked = client.post("/login/", {"username": installer.username, "password": password})
    assert locked.status_code == 200 and b"Too many failed logins" in locked.content
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
@pytest.mark.parametrize("content", [b"<!doctype html><script>alert(1)</script>", b"\xef\xbb\xbf <svg onload=x>",
                                     b"#!/bin/sh\nrm -rf /", b"%PDF-1.7\n", b"<?xml version='1.0'?><a/>"])
def test_firmware_upload_is_checked_by_content_not_name(admin_account, content, settings, tmp_path):
    from django.core.exceptions import ValidationError
    from django.core.files.base import ContentFile

    from entryway.devices.models import DeviceModel
    from entryway.firmware.models import Firmware
    from entryway.firmware.services import firmware_upload

    settings.MEDIA_ROOT = str(tmp_path)
    model = DeviceModel.objects.get_or_create(name="R29", defaults={"device_type": "door_phone"})[0]
    with pytest.raises(ValidationError) as refused:
        firmware_upload(acting_user=admin_account, file=ContentFile(content, name="R29_29.30.2.805.rom"),
                        version="29.30.2.805", device_models=[model])
    assert "not a firmware image" in str(refused.value)
    assert not Firmware.objects.exists() and not list(tmp_path.rglob("*.rom"))
    image = firmware_upload(acting_user=admin_account, file=ContentFile(b"\x7fELF\x02" + b"\x00" * 600,
                                                                        name="page.html"),
                            version="29.30.2.806", device_models=[model])
    assert image.size == 605  # a binary image is accepted whatever its name
