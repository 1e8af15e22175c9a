"""Secrets: a known camera password and a known SIP password are encrypted at rest, and no page, no
API list, no export and no log line shows them.

Every portal page is opened (with each role's own objects) and every API GET is called; the only
answer that gives a camera password back is the camera's own detail to its own installer (for editing),
and the only one with the SIP password is the device's AutoP file, which the device itself fetches with
its own credentials. Both are asserted as such.
"""
from __future__ import annotations

import base64
import json
import logging

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from entryway.core.tests.isolation.routes import API, ROUTES

CAMERA_PASSWORD = "Cam-Known-Secret-7319"
SIP_PASSWORD = "Sip-Known-Secret-4826"
SECRETS = (CAMERA_PASSWORD, SIP_PASSWORD)
ROLE_ACTORS = ("admin", "distributor", "installer", "resident")
# Answers that must give a secret back to its owner, and nothing else does.
GIVES_BACK = {("GET", "/api/v1/cameras/{camera_id}"): CAMERA_PASSWORD}


class Collect(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))


@pytest.fixture
def logs():
    handler = Collect()
    handler.setFormatter(logging.Formatter("%(name)s %(message)s %(args)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old_level)


@pytest.fixture
def world(db, logs, settings):
    settings.REMOTE_REQUEST_TIMEOUT = 1  # the relay waits for a device that is not there
    from entryway.core.tests.isolation.world import build_world
    from entryway.devices.services import camera_update
    from entryway.sip.models import SipAccount

    w = build_world()
    a1 = w["A1"]
    camera_update(acting_user=a1.installer, camera=a1.camera, password=CAMERA_PASSWORD)
    sip = SipAccount.objects.get(number=a1.resident.personal_sip)
    sip.password = SIP_PASSWORD
    sip.save()
    return w


def _actor(world, role):
    a1 = world["A1"]
    return {"admin": world.admin, "distributor": a1.distributor, "installer": a1.installer,
            "resident": a1.resident_account}[role]


def _found(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


def _text(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", errors="replace")
    return response.content.decode("utf-8", errors="replace")


@pytest.mark.django_db
def test_secrets_are_encrypted_at_rest(world):
    a1 = world["A1"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT password FROM devices_thirdpartycamera WHERE id = %s", [a1.camera.pk])
        camera_raw = cursor.fetchone()[0]
        cursor.execute("SELECT password FROM sip_sipaccount WHERE number = %s", [a1.resident.personal_sip])
        sip_raw = cursor.fetchone()[0]
    assert CAMERA_PASSWORD not in camera_raw and SIP_PASSWORD not in sip_raw
    assert camera_raw.startswith("gAAAA") and sip_raw.startswith("gAAAA")  # Fernet tokens


@pytest.mark.django_db
def test_no_page_api_list_export_or_log_shows_a_secret(world, logs):
    a1 = world["A1"]
    shown = []
    for role in ROLE_ACTORS:
        client = Client()
        client.force_login(_actor(world, role))
        for name, entry in sorted(ROUTES.items()):
            if entry.kind == "device" or "GET" not in entry.methods or (entry.roles and role not in entry.roles):
                continue
            url = reverse(name, kwargs=entry.kwargs(a1, world) if entry.kwargs else None)
            found = _found(_text(client.get(url)))
            if found:
                shown.append(f"GET {url} ({name}) as {role}: {found}")
        for (method, path), entry in sorted(API.items()):
            if method != "GET" or role not in entry.roles:
                continue
            url = path
            for key, value in (entry.kwargs(a1, world) if entry.kwargs else {}).items():
                url = url.replace("{" + key + "}", str(value))
            found = _found(_text(client.get(url)))
            gives_back = GIVES_BACK.get((method, path)) if role == "installer" else None
            if found != ([gives_back] if gives_back else []):
                shown.append(f"GET {url} as {role}: {found}")
    for key in ("users", "devices", "cameras"):
        client = Client()
        client.force_login(a1.installer)
        for fmt in ("csv", "xlsx"):
            response = client.get(reverse("dashboard:export", kwargs={"key": key, "fmt": fmt}))
            if response.status_code == 200 and _found(_text(response)):
                shown.append(f"export {key}.{fmt}")
    from entryway.core.models import AuditLog

    audit_text = json.dumps(list(AuditLog.objects.values("before", "after", "object_repr")), default=str)
    if _found(audit_text):
        shown.append("the audit log")
    assert len(logs.lines) > 10, "the log scan saw the requests' log lines"
    log_hits = [line[:200] for line in logs.lines if _found(line)]
    assert not log_hits, f"log lines with a secret: {log_hits[:5]}"
    assert not shown, "answers that show a camera or SIP password:\n" + "\n".join(shown)


@pytest.mark.django_db
def test_only_the_devices_own_autop_file_carries_its_sip_password(world):
    """The device needs its SIP password to register: it gets it in its AutoP file, with its own credentials."""
    a1 = world["A1"]
    from entryway.devices.models import IntercomDevice
    from entryway.sip.models import SipAccount

    device = IntercomDevice.objects.get(pk=a1.device.pk)
    account = SipAccount.objects.get(number=device.sip_number)
    account.password = SIP_PASSWORD
    account.save()
    auth = "Basic " + base64.b64encode(f"{device.mac}:{device.device_secret}".encode()).decode()
    own = Client().get(f"/autop/{device.mac}.cfg", HTTP_AUTHORIZATION=auth)
    assert own.status_code == 200 and SIP_PASSWORD in own.content.decode()
    assert Client().get(f"/autop/{device.mac}.cfg").status_code == 401
