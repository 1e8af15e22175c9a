"""The device's tunnel routes: /device/v1/tunnel/<token>/next and …/reply/<id>."""
from __future__ import annotations

import base64
import datetime
import json

import pytest
from django.utils import timezone

from entryway.remote import tunnel
from entryway.remote.models import RemoteRequest, RemoteSession

pytestmark = pytest.mark.django_db


def _reply(client, session, request_id, auth, **data):
    return client.post(f"/device/v1/tunnel/{session.token}/reply/{request_id}", json.dumps(data),
                       content_type="application/json", **auth)


def test_next_connects_the_session_and_hands_out_requests_once(client, open_session, device, device_auth):
    auth = device_auth(device)
    empty = client.get(f"/device/v1/tunnel/{open_session.token}/next?wait=0", **auth)
    assert empty.status_code == 200 and empty.json()["requests"] == [] and empty.json()["expires_in"] > 590
    session = RemoteSession.objects.get(pk=open_session.pk)
    assert session.connected_at is not None and session.state() == "connected"
    request_id = tunnel.request_submit(session=session, method="POST", target="/settings?x=1",
                                       headers=[["Content-Type", "application/x-www-form-urlencoded"]], body=b"a=1")
    got = client.get(f"/device/v1/tunnel/{open_session.token}/next?wait=0", **auth).json()["requests"]
    assert got == [{"id": request_id, "method": "POST", "target": "/settings?x=1",
                    "headers": [["Content-Type", "application/x-www-form-urlencoded"]],
                    "body": base64.b64encode(b"a=1").decode()}]
    assert client.get(f"/device/v1/tunnel/{open_session.token}/next?wait=0", **auth).json()["requests"] == []
    ok = _reply(client, session, request_id, auth, status=200, headers=[["Content-Type", "text/plain"],
                                                                        ["X-Remote-Problem", "too-large"]],
                body=base64.b64encode(b"done").decode())
    assert ok.status_code == 200 and ok.json() == {"id": request_id, "stored": True}
    row = RemoteRequest.objects.get(pk=request_id)
    assert row.state == "answered" and bytes(row.response_body) == b"done"
    assert row.response_headers == [["Content-Type", "text/plain"]]  # the platform's own marker is not taken
    again = _reply(client, session, request_id, auth, status=200, headers=[], body="")
    assert again.status_code == 409
    assert _reply(client, session, 999999, auth, status=200, headers=[], body="").status_code == 404


def test_bad_replies_are_refused_with_the_reason(client, open_session, device, device_auth):
    auth = device_auth(device)
    for data, message in (({"status": 99}, "'status'"), ({"status": 200, "headers": "x"}, "'headers'"),
                          ({"status": 200, "body": "!!"}, "'body' is not valid base64")):
        response = _reply(client, open_session, 1, auth, **data)
        assert response.status_code == 400 and message in response.json()["error"]
    raw = client.post(f"/device/v1/tunnel/{open_session.token}/reply/1", "[1]", content_type="application/json",
                      **auth)
    assert raw.status_code == 400 and raw.json()["error"] == "The body must be a JSON object."
    assert client.get(f"/device/v1/tunnel/{open_session.token}/next?wait=x", **auth).status_code == 400


def test_an_answer_too_large_is_413_and_the_browser_is_told(client, open_session, device, device_auth, settings):
    settings.REMOTE_MAX_BODY_BYTES = 100
    auth = device_auth(device)
    request_id = tunnel.request_submit(session=open_session, method="GET", target="/", headers=[], body=b"")
    assert tunnel.requests_take(open_session.pk)
    response = _reply(client, open_session, request_id, auth, status=200, headers=[],
                      body=base64.b64encode(b"x" * 101).decode())
    assert response.status_code == 413 and "100 bytes of body at most" in response.json()["error"]
    answer = tunnel.request_wait(request_id, timeout=0)
    assert answer.status == 502 and b"larger than the tunnel carries (100 bytes at most)" in bytes(answer.response_body)


def test_credentials_and_other_devices(client, open_session, device, make_device, installer, device_auth):
    assert client.get(f"/device/v1/tunnel/{open_session.token}/next?wait=0").status_code == 401
    other = make_device(installer, "Other")
    response = client.get(f"/device/v1/tunnel/{open_session.token}/next?wait=0", **device_auth(other))
    assert response.status_code == 404 and response.json()["error"] == "No such Remote Control session for this device."
    assert RemoteSession.objects.get(pk=open_session.pk).connected_at is None


def test_expired_sessions_answer_410_and_are_closed(client, open_session, device, device_auth):
    auth = device_auth(device)
    RemoteSession.objects.filter(pk=open_session.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    expired = client.get(f"/device/v1/tunnel/{open_session.token}/next?wait=0", **auth)
    assert expired.status_code == 410 and expired.json()["reason"] == "expired"
    assert RemoteSession.objects.get(pk=open_session.pk).close_reason == "expired"
    closed = client.get(f"/device/v1/tunnel/{open_session.token}/next?wait=0", **auth)
    assert closed.status_code == 410 and closed.json() == {"error": "The Remote Control session is closed.",
                                                           "reason": "expired"}


def test_a_session_closed_from_the_portal_answers_410(client, open_session, device, device_auth, installer):
    from entryway.remote.services import session_close

    session_close(session=open_session, reason="installer", acting_user=installer)
    closed = client.get(f"/device/v1/tunnel/{open_session.token}/next?wait=0", **device_auth(device))
    assert closed.status_code == 410 and closed.json() == {"error": "The Remote Control session is closed.",
                                                           "reason": "installer"}


def test_a_full_server_asks_the_device_to_poll_again(client, open_session, device, device_auth, settings):
    settings.REMOTE_MAX_WAITING = 0
    response = client.get(f"/device/v1/tunnel/{open_session.token}/next?wait=5", **device_auth(device))
    assert response.status_code == 503 and response["Retry-After"] == "1"
