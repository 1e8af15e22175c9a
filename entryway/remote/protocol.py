"""The device's side of Remote Control (docs/device-protocol.md, section 6): a tunnel over HTTPS that the
device opens itself, with its own credentials, so nothing at the resident's home has to be reachable."""
from __future__ import annotations

import base64
import binascii

from django.conf import settings
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from entryway.deviceapi.protocol import _error, _json_body, authenticate_device
from entryway.remote import services, tunnel
from entryway.remote.choices import CloseReason
from entryway.remote.models import RemoteSession

DEVICE_FIELDS = ("id", "mac", "installer_id", "device_secret")
SEEN_WRITE_INTERVAL = 5  # seconds between two writes of a session's device_seen_at
# Room for the JSON around a base64 body.
ENVELOPE_BYTES = 64 * 1024


def _session(request, token: str):
    """(device, session, error response)."""
    device = authenticate_device(request, fields=DEVICE_FIELDS)
    if device is None:
        return None, None, _error(401, "Unknown device or wrong device secret.")
    session = RemoteSession.objects.filter(token=token, device_id=device.pk).first()
    if session is None:
        return device, None, _error(404, "No such Remote Control session for this device.")
    if session.closed_at is not None:
        return device, None, _error(410, "The Remote Control session is closed.", reason=session.close_reason)
    if not session.is_open():
        services.session_close(session=session, reason=CloseReason.EXPIRED)
        return device, None, _error(410, "The Remote Control session has expired.", reason="expired")
    return device, session, None


def _seen(session: RemoteSession) -> None:
    now = timezone.now()
    if session.connected_at is None:
        services.session_connected(session=session)
    if session.device_seen_at is None or (now - session.device_seen_at).total_seconds() >= SEEN_WRITE_INTERVAL:
        RemoteSession.objects.filter(pk=session.pk).update(device_seen_at=now)


def _request_json(row) -> dict:
    return {"id": row.pk, "method": row.method, "target": row.target, "headers": row.headers,
            "body": base64.b64encode(bytes(row.body or b"")).decode("ascii")}


@csrf_exempt
@require_GET
def tunnel_next(request, token: str):
    """Long poll: the next requests for the device, or an empty list after at most ``wait`` seconds."""
    _device, session, problem = _session(request, token)
    if problem is not None:
        return problem
    _seen(session)
    wait = settings.REMOTE_POLL_WAIT
    raw_wait = request.GET.get("wait", "")
    if raw_wait:
        if not raw_wait.isdigit():
            return _error(400, "'wait' must be a whole number of seconds.")
        wait = min(int(raw_wait), wait)
    rows = tunnel.requests_take(session.pk)
    if not rows and wait > 0:
        with tunnel.waiting_slot() as allowed:
            if not allowed:
                response = _error(503, "The server holds as many tunnel polls as it can; poll again shortly.",
                                  retry_after=1)
                response["Retry-After"] = "1"
                return response
            rows = tunnel.requests_wait(
                session.pk, timeout=wait,
                still_open=lambda: RemoteSession.objects.open().filter(pk=session.pk).exists())
        if rows is None:
            return _session(request, token)[2] or _error(410, "The Remote Control session is closed.")
    response = JsonResponse({"requests": [_request_json(r) for r in rows],
                             "expires_in": session.seconds_left(), "max_body": settings.REMOTE_MAX_BODY_BYTES})
    response["Cache-Control"] = "no-store"
    return response


def _parse_reply(data: dict) -> tuple[tuple[int, list, bytes] | None, str]:
    status = data.get("status")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        return None, "'status' must be an HTTP status code (100-599)."
    headers = data.get("headers", [])
    if not isinstance(headers, list) or len(headers) > 100 or not all(
            isinstance(h, list) and len(h) == 2 and all(isinstance(x, str) and len(x) <= 4000 for x in h)
            for h in headers):
        return None, "'headers' must be a list of at most 100 [name, value] pairs of strings."
    # The platform's own marker of an answer it refused is never taken from the device.
    headers = [h for h in headers if h[0].lower() != "x-remote-problem"]
    raw = data.get("body", "")
    if not isinstance(raw, str):
        return None, "'body' must be a base64 string."
    try:
        body = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return None, "'body' is not valid base64."
    return (status, headers, body), ""


def _too_large_for_browser(session, request_id: int) -> None:
    limit = settings.REMOTE_MAX_BODY_BYTES
    message = (f"The device's answer is larger than the tunnel carries ({limit} bytes at most).").encode()
    tunnel.reply_store(session=session, request_id=request_id, status=502,
                       headers=[["Content-Type", "text/plain; charset=utf-8"], ["X-Remote-Problem", "too-large"]],
                       body=message)


@csrf_exempt
@require_POST
def tunnel_reply(request, token: str, request_id: int):
    """The device's answer to one relayed request."""
    request_id = int(request_id)
    _device, session, problem = _session(request, token)
    if problem is not None:
        return problem
    _seen(session)
    limit = settings.REMOTE_MAX_BODY_BYTES
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit * 4 // 3 + ENVELOPE_BYTES:
        _too_large_for_browser(session, request_id)
        return _error(413, f"The answer is larger than the tunnel carries ({limit} bytes of body at most).")
    data, problem_text = _json_body(request)
    if data is None:
        return _error(400, problem_text)
    parsed, problem_text = _parse_reply(data)
    if parsed is None:
        return _error(400, problem_text)
    status, headers, body = parsed
    if len(body) > limit:
        _too_large_for_browser(session, request_id)
        return _error(413, f"The answer is larger than the tunnel carries ({limit} bytes of body at most).")
    outcome = tunnel.reply_store(session=session, request_id=request_id, status=status, headers=headers, body=body)
    if outcome == "answered":
        return _error(409, "This request is already answered; nothing changed.")
    if outcome == "gone":
        return _error(404, "No such request waiting in this session (the browser may have given up).")
    return JsonResponse({"id": request_id, "stored": True})
