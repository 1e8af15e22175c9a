"""Faults, tested rather than assumed: the database going away in the middle of a request.

A request that loses its database answers 503 with Retry-After (JSON for the API and the device
protocol) and leaves no half-written change: services write inside one transaction, so what was
written before the failure is rolled back with it.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from django.db import OperationalError
from django.urls import reverse

from entryway.residents.models import Resident
from entryway.sip.models import SipAccount

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def _dies_after_first_write(*args, **kwargs):
    raise OperationalError("server closed the connection unexpectedly")


FORM = {"name": "Half Written", "room_name": "Villa", "email": "half@example.fr", "country": "FR",
        "mobile_number": "06 12 34 56 78", "address": "1 rue de la Paix", "call_type": "sip", "time_zone": "",
        "language": "fr", "landline_1": "", "landline_2": "", "landline_3": "", "home_automation": "off",
        "premium_plan": "on", "landline_service": "off"}


@pytest.mark.django_db(transaction=True)
def test_form_losing_the_database_mid_write_answers_503_and_keeps_nothing(installer_client, monkeypatch):
    # The resident row and its SIP account are written, then the connection dies before the audit row.
    monkeypatch.setattr("entryway.residents.services.audit", _dies_after_first_write)
    sip_before = SipAccount.objects.count()
    response = installer_client.post(reverse("residents:create"), FORM)
    assert response.status_code == 503, response.content
    assert int(response["Retry-After"]) > 0 and b"Nothing was changed" in response.content
    assert not Resident.objects.filter(name="Half Written").exists()
    assert SipAccount.objects.count() == sip_before


@pytest.mark.django_db(transaction=True)
def test_api_losing_the_database_mid_write_answers_503_json_and_keeps_nothing(api, monkeypatch):
    monkeypatch.setattr("entryway.residents.services.audit", _dies_after_first_write)
    response = api.post("/api/v1/residents", {"name": "Half Written", "email": "half@example.fr"})
    assert response.status_code == 503 and response["Content-Type"] == "application/json"
    assert "database" in response.json()["detail"]
    assert not Resident.objects.filter(name="Half Written").exists()


def _run_without_database(code: str, tmp_path) -> subprocess.CompletedProcess:
    """Run Django code in a process whose database does not answer (nothing listens on the port)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "ENTRYWAY_VAR_DIR": str(tmp_path),
           "DATABASE_URL": "postgres://root@127.0.0.1:9/entryway_gone", "DB_CONN_MAX_AGE": "0"}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    script = "import django; django.setup()\n" + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_unreachable_database_answers_503_everywhere_it_is_needed(tmp_path):
    """Portal login, a logged-in page (the session is in the database), the API and a device check-in."""
    result = _run_without_database("""
        from django.test import Client
        c = Client(raise_request_exception=False)
        login = c.post("/login/", {"username": "inst", "password": "x"})
        c.cookies["sessionid"] = "a" * 32
        page = c.get("/users/")
        api = Client(raise_request_exception=False).get("/api/v1/residents", HTTP_AUTHORIZATION="Bearer ew_x")
        device = Client(raise_request_exception=False).post(
            "/device/v1/checkin", "{}", content_type="application/json",
            HTTP_AUTHORIZATION="Basic MEMxMTA1MDYwNDE0OnNlY3JldHNlY3JldA==")
        health = Client(raise_request_exception=False).get("/healthz")
        for r in (login, page, api, device):
            print(r.status_code, r.get("Retry-After"), r.get("Content-Type"))
        print(health.status_code)
    """, tmp_path)
    lines = result.stdout.split("\n")
    assert len(lines) >= 5, result.stdout + result.stderr
    login, page, api, device, health = lines[:5]
    assert login.startswith("503 30 text/plain") and page.startswith("503 30 text/plain"), result.stdout
    assert api == "503 30 application/json" and device == "503 30 application/json", result.stdout
    assert health == "200", "liveness does not need the database"
