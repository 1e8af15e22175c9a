"""The device-facing routes (docs/device-protocol.md): AutoP files, check-ins, action results.

Plain Django views with their own HTTP Basic credentials: no sessions, no CSRF, never under /api/.
"""
from __future__ import annotations

import base64
import binascii
import functools
import hmac
import ipaddress
import json

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from entryway.core import rawsql
from entryway.core.ratelimit import client_ip, hit
from entryway.core.validators import normalize_mac
from entryway.deviceapi import devicecache
from entryway.deviceapi.autop import (
    current_file,
    decode_file,
    file_from_base,
    file_key,
    version_key,
)
from entryway.deviceapi.choices import ActionStatus
from entryway.deviceapi.models import DeviceAction
from entryway.deviceapi.services import (
    action_report,
    autop_credential_check,
    device_checkin,
    device_credentials_ensure,
)

REALM = 'Basic realm="entryway devices", charset="UTF-8"'
# Fields the check-in needs from the device row; nothing else is read on the hot path.
CHECKIN_FIELDS = ("id", "mac", "installer_id", "device_secret", "last_seen_at", "reported_model",
                  "firmware_version", "ip_address")
# What an AutoP request needs of the device row before the file is made (its credentials, made if missing).
AUTOP_DEVICE_FIELDS = ("id", "mac", "installer_id", "device_secret", "mqtt_password")
_DUMMY_SECRET = "x" * 24


def _basic_credentials(request) -> tuple[str, str] | None:
    return _basic_credentials_from_header(request.META.get("HTTP_AUTHORIZATION", ""))


def _basic_credentials_from_header(header: str) -> tuple[str, str] | None:
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "basic" or not token:
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    # Secrets never hold a colon, so the last one splits: a MAC user name may be written 0C:11:05:….
    user, sep, password = decoded.rpartition(":")
    return (user, password) if sep else None


def _mac_or_none(raw: str) -> str | None:
    try:
        return normalize_mac(raw)
    except ValidationError:
        return None


def authenticate_device(request, fields=CHECKIN_FIELDS):
    """The device whose MAC and secret are in the Basic credentials, or None. One indexed query."""
    credentials = _basic_credentials(request)
    return None if credentials is None else device_for_credentials(*credentials, fields=fields)


def device_for_credentials(user: str, password: str, fields=CHECKIN_FIELDS):
    """The device with this MAC (user name) and secret (password), or None. One indexed query."""
    from entryway.devices.models import IntercomDevice

    mac = _mac_or_none(user)
    device = None
    if mac:  # by the unique MAC index, in SQL written once (entryway.core.rawsql)
        with rawsql.cursor() as cursor:
            cursor.execute(f"SELECT {rawsql.columns(IntercomDevice, fields)} FROM {rawsql.table(IntercomDevice)}"
                           " WHERE mac = %s", [mac])
            rows = cursor.fetchall()
        device = rawsql.instances(IntercomDevice, fields, rows)[0] if rows else None
    secret = device.device_secret if device is not None and device.device_secret else _DUMMY_SECRET
    matches = hmac.compare_digest(secret.encode(), password.encode())
    return device if device is not None and device.device_secret and matches else None


def _error(code: int, message: str, **extra) -> JsonResponse:
    response = JsonResponse({"error": message, **extra}, status=code)
    if code == 401:
        response["WWW-Authenticate"] = REALM
    response["Cache-Control"] = "no-store"
    return response


def _json_body(request) -> tuple[dict | None, str]:
    if not request.body.strip():
        return {}, ""
    try:
        data = json.loads(request.body)
    except (UnicodeDecodeError, ValueError):
        return None, "The body is not JSON."
    if not isinstance(data, dict):
        return None, "The body must be a JSON object."
    return data, ""


def _string(data: dict, key: str, max_length: int, errors: list[str]) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        errors.append(f"'{key}' must be a string.")
        return None
    if len(value) > max_length:
        errors.append(f"'{key}' is longer than {max_length} characters.")
        return None
    if "\x00" in value:
        errors.append(f"'{key}' contains a null character.")
        return None
    return value


@functools.lru_cache(maxsize=4096)
def _compressed_ip(text: str) -> str | None:
    """The address in its compressed form, or None when it is none (a fleet reports few distinct ones)."""
    try:
        return ipaddress.ip_address(text.strip()).compressed
    except ValueError:
        return None


def parse_checkin(data: dict) -> tuple[dict, list[str]]:
    errors: list[str] = []
    report = {"model": _string(data, "model", 32, errors), "firmware": _string(data, "firmware", 32, errors)}
    ip = _string(data, "ip", 45, errors)
    if ip is not None:
        compressed = _compressed_ip(ip)
        if compressed is None:
            errors.append("'ip' is not an IPv4 or IPv6 address.")
        else:
            report["ip"] = compressed
    uptime = data.get("uptime")
    if uptime is not None:
        if isinstance(uptime, bool) or not isinstance(uptime, int) or not 0 <= uptime < 2**53:
            errors.append("'uptime' must be a whole number of seconds (0 or more).")
        else:
            report["uptime"] = uptime
    return {k: v for k, v in report.items() if v is not None}, errors


def _cached_device(request, extra=None):
    """(cache entry, action generation, MAC, value at ``extra(device id)``) for the credentials' device.

    The entry is None when absent or when the secret does not match it (a new secret, or a wrong one:
    the database decides). One cache round trip (see ``devicecache.lookup``).
    """
    credentials = _basic_credentials(request)
    mac = _mac_or_none(credentials[0]) if credentials else None
    if mac is None:
        return None, None, None, None
    entry, generation, value = devicecache.lookup(mac, extra=extra, prefetch=getattr(request, "device_prefetch", None))
    if entry is not None and not hmac.compare_digest(entry.digest, devicecache.secret_digest(credentials[1])):
        return None, generation, mac, None
    return entry, generation, mac, value


def _checkin_answer(payload: dict) -> JsonResponse:
    response = JsonResponse(payload)
    response["Cache-Control"] = "no-store"
    return response


@csrf_exempt
@require_POST
def checkin(request):
    """``POST /device/v1/checkin``. An idle check-in is answered from the cache (devicecache), without a query."""
    entry, generation, mac, version = _cached_device(request, extra=version_key)
    device = None
    if entry is None:
        device = authenticate_device(request)
        if device is None:
            return _error(401, "Unknown device or wrong device secret.")
    data, problem = _json_body(request)
    if data is None:
        return _error(400, problem)
    report, errors = parse_checkin(data)
    if errors:
        return _error(400, " ".join(errors))
    digest = None
    if entry is not None:
        # Nothing waiting, nothing to write, and the device row unchanged since (its version still cached).
        if version is not None and devicecache.idle(entry, generation, report, mac):
            return _checkin_answer(devicecache.idle_answer(version))
        # The entry proved the credentials (it is dropped when the device gets a new MAC or secret, or is
        # deleted) and holds what the check-in compares the report with.
        device, digest = devicecache.device_from(entry, mac), entry.digest
    answer = device_checkin(device=device, report=report)
    devicecache.store(mac, device, generation=generation, quiet=not answer["actions"], digest=digest)
    return _checkin_answer(answer)


MAX_ID = 2**63 - 1  # the largest id the database holds
RESULT_STATUSES = (ActionStatus.PROCEEDING, ActionStatus.SUCCESS, ActionStatus.FAILURE)


@csrf_exempt
@require_POST
def action_result(request, action_id: int):
    # The device's cache entry proves its credentials as for a check-in (it is dropped when the device gets
    # a new MAC or secret, or is deleted). Else the database.
    entry, _generation, _mac, _version = _cached_device(request)
    if entry is not None:
        device_id = entry.id
    else:
        device = authenticate_device(request, fields=("id", "mac", "installer_id", "device_secret"))
        if device is None:
            return _error(401, "Unknown device or wrong device secret.")
        device_id = device.pk
    data, problem = _json_body(request)
    if data is None:
        return _error(400, problem)
    status, stage, detail, errors = parse_result(data)
    if errors:
        return _error(400, " ".join(errors))
    if action_id > MAX_ID:
        return _error(404, "No such action for this device.")
    action = action_report(action_id=action_id, device_id=device_id, status=status, stage=stage, detail=detail)
    if action is None:
        current = DeviceAction.objects.filter(pk=action_id, device_id=device_id).values_list("status", flat=True).first()
        if current is None:
            return _error(404, "No such action for this device.")
        return _error(409, f"The action is already final ({current}); nothing changed.", status=current)
    return _checkin_answer(result_answer(action))


def parse_result(data: dict) -> tuple[str, str, str, list[str]]:
    """(status, stage, detail, errors) of a result report's body."""
    errors: list[str] = []
    status = data.get("status")
    if status not in RESULT_STATUSES:
        errors.append("'status' must be one of: proceeding, success, failure.")
    stage = _string(data, "stage", 32, errors) or ""
    detail = _string(data, "detail", 2000, errors) or ""
    return status, stage, detail, errors


def result_answer(action) -> dict:
    return {"id": action.pk, "kind": action.kind, "status": action.status, "stage": action.stage}


def _text(status: int, message: str) -> HttpResponse:
    response = HttpResponse(message + "\n", status=status, content_type="text/plain; charset=utf-8")
    if status == 401:
        response["WWW-Authenticate"] = REALM
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def autop_file(request, mac: str):
    """``GET /autop/<MAC>.cfg`` with the installer's AutoP credentials or the device's own.

    At most AUTOP_RATE_LIMIT requests a minute from one address (counted by the gate when it ran).
    """
    from entryway.devices.models import IntercomDevice

    if not getattr(request, "autop_rate_counted", False):
        allowed, retry = hit("autop", client_ip(request), limit=settings.AUTOP_RATE_LIMIT, window=60)
        if not allowed:
            response = HttpResponse("Too many requests; slow down.", status=429,
                                    content_type="text/plain; charset=utf-8")
            response["Retry-After"] = str(retry)
            return response
    wanted = _mac_or_none(mac)
    if wanted is None:
        return _text(400, "Malformed MAC address: use 12 hexadecimal digits, e.g. 0C110512BC97.cfg.")
    credentials = _basic_credentials(request)
    if credentials is None:
        return _text(401, "AutoP credentials required.")
    user, password = credentials
    device = None
    if _mac_or_none(user) is not None:
        entry, _generation, mac, token = _cached_device(request, extra=file_key)
        if entry is not None and mac == wanted:
            # The device's own credentials, known to the cache, and its file unchanged since last rendered;
            # or only its open actions changed since (its base is cached): one query.
            content = decode_file(token)
            if content is None:
                content = file_from_base(entry.id, mac)
            if content is not None:
                return _autop_answer(content)
        own = authenticate_device(request, fields=AUTOP_DEVICE_FIELDS)
        if own is None:
            return _text(401, "Wrong AutoP credentials.")
        if own.mac == wanted:
            device = own
    else:
        installer = autop_credential_check(user, password)
        if installer is None:
            return _text(401, "Wrong AutoP credentials.")
        device = (IntercomDevice.objects.only(*AUTOP_DEVICE_FIELDS)
                  .filter(mac=wanted, installer_id=installer.pk).first())
    if device is None:
        return _text(404, "No configuration for this MAC address.")
    device_credentials_ensure(device=device)
    # Loaded again inside, after the version epoch is read: a change committed meanwhile is not cached.
    return _autop_answer(current_file(device.pk, mac=device.mac))


def _autop_answer(content: str) -> HttpResponse:
    response = HttpResponse(content, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response
