"""Device check-ins, AutoP files and results answered at the WSGI layer, before Django builds a request.

Almost every check-in of a fleet is idle (docs/device-protocol.md): same model, firmware and
address, nothing waiting, the device row unchanged. ``entryway.deviceapi.protocol.checkin`` answers
those from the cache without a query, but Django's request object, URL resolution, middleware and
response object still cost more than the answer itself. ``checkin(environ)`` answers exactly
those check-ins from the WSGI environ, with the same rules (the gate's rate limits and cache reads in
one Redis round trip, the secret's digest, the action generation, the config version, the report
unchanged, the Last Connected Time fresh or queued), the same JSON answer and the same headers
(Django's SecurityMiddleware's, a request id, no-store), and counts the request in the same metrics.
Any other check-in (an action waiting, a changed report, a device not in the cache) is answered
here too, by the view's own database path (``device_checkin``).

What cannot be answered with 200 (refused credentials, a bad body, a database error) returns None
and the request goes on to the device routes' Django handler (entryway.deviceapi.wsgi) unchanged: its
body is put back and the gate's answer is handed on
(``gate.GATE_ENVIRON_KEY``), so no counter counts twice. Without a cache that runs scripts (the
embedded default) nothing is answered here.

``cached_autop(environ)`` does the same for ``GET /autop/<MAC>.cfg`` with the device's own
credentials, as the AutoP view would answer it: the gate (including the per-address AutoP limit),
the secret's digest, the file decrypted when cached (entryway.deviceapi.autop.remember_version),
else composed from its cached base or made from the database as the view makes it.

``action_result(environ, path)`` records ``POST /device/v1/actions/<id>/result`` from a device known to
the cache with the view's own service (``action_report``: one UPDATE, the result handlers) and answers
as the view does. What it cannot answer with 200 (an unknown or final action, a bad body, a database
error) goes on to the view, which gives the 4xx or 503 with its reason.
"""
from __future__ import annotations

import hmac
import io
import json
import logging
import re
import time

from django.conf import settings
from django.core.cache import caches
from django.core.signals import request_finished, request_started, setting_changed
from django.db import DatabaseError
from django.dispatch import receiver
from django.http import HttpResponse
from django.middleware.security import SecurityMiddleware

from entryway.core import metrics
from entryway.core.middleware import request_id_for
from entryway.deviceapi import devicecache, gate
from entryway.deviceapi.autop import current_file, decode_file, file_from_base, file_key, version_key
from entryway.deviceapi.protocol import (
    AUTOP_DEVICE_FIELDS,
    MAX_ID,
    _basic_credentials_from_header,
    _mac_or_none,
    device_for_credentials,
    parse_checkin,
    parse_result,
    result_answer,
)
from entryway.deviceapi.choices import FINAL_STATUSES
from entryway.deviceapi.services import action_report, device_checkin, device_credentials_ensure

logger = logging.getLogger(__name__)

MAX_BODY = 4096  # a check-in report is a few dozen bytes; anything larger takes the full path
_ROUTE = metrics.CHECKIN_ROUTE
AUTOP_ROUTE = "deviceapi:autop_file"
RESULT_ROUTE = "deviceapi:action_result"
_headers_by_scheme: dict[tuple, list[tuple[str, str]]] = {}
_CHECKINS_OK = metrics.CHECKINS.labels("ok")


class _Request:
    """What SecurityMiddleware.process_response asks of a request."""

    def __init__(self, secure: bool, path: str):
        self._secure = secure
        self.path = path
        self.path_info = path

    def is_secure(self) -> bool:
        return self._secure


class _Security:
    """The SecurityMiddleware settings these answers follow, read once (and again after a settings change)."""

    __slots__ = ("proxy_header", "ssl_redirect", "redirect_exempt")

    def __init__(self):
        self.proxy_header = settings.SECURE_PROXY_SSL_HEADER
        self.ssl_redirect = settings.SECURE_SSL_REDIRECT
        self.redirect_exempt = [re.compile(pattern) for pattern in settings.SECURE_REDIRECT_EXEMPT]


_security: _Security | None = None


def _conf() -> _Security:
    global _security
    if _security is None:
        _security = _Security()
    return _security


@receiver(setting_changed)
def _settings_changed(**kwargs) -> None:
    global _security
    _security = None
    _headers_by_scheme.clear()


def _is_secure(environ) -> bool:
    header = _conf().proxy_header
    if header:
        name, value = header
        forwarded = environ.get(name)
        if forwarded is not None:
            return forwarded.split(",", 1)[0].strip() == value
    return environ.get("wsgi.url_scheme") == "https"


def _security_headers(secure: bool, path: str, content_type: str) -> list[tuple[str, str]]:
    """The headers Django's SecurityMiddleware adds to such an answer of this route (computed once)."""
    key = (secure, path, content_type)
    headers = _headers_by_scheme.get(key)
    if headers is None:
        response = HttpResponse(content_type=content_type)
        SecurityMiddleware(lambda request: response).process_response(_Request(secure, path), response)
        headers = [(k, v) for k, v in response.items() if k.lower() != "content-type"]
        _headers_by_scheme[key] = headers
    return headers


def answer_headers(environ, path: str, content_type: str) -> list[tuple[str, str]]:
    """What Django's middleware adds to an answer of ``path``: the security headers and the request id."""
    return [*_security_headers(_is_secure(environ), path, content_type),
            ("X-Request-ID", request_id_for(environ.get("HTTP_X_REQUEST_ID", "")))]


_counters: dict[tuple[str, str, int], tuple] = {}


def count(environ, route: str, status: int, start: float) -> None:
    """The request in the metrics, as MetricsMiddleware counts Django's (the labelled series looked up once)."""
    key = (environ["REQUEST_METHOD"], route, status)
    series = _counters.get(key)
    if series is None:
        series = _counters[key] = (metrics.LATENCY.labels(route), metrics.REQUESTS.labels(key[0], route, str(status)))
    series[0].observe(time.perf_counter() - start)
    series[1].inc()


def _answer(environ, route: str, start: float, content_type: str, body: bytes):
    """(status, headers, body) of a 200 answer, counted in the metrics as Django's would be."""
    path = "/autop/" if route == AUTOP_ROUTE else gate.CHECKIN_PATH  # the redirect exemptions look at the prefix
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body))), ("Cache-Control", "no-store"),
               *answer_headers(environ, path, content_type)]
    count(environ, route, 200, start)
    if route == _ROUTE:
        _CHECKINS_OK.inc()
    return "200 OK", headers, body


def _redirected(environ, path: str) -> bool:
    """True when Django's SecurityMiddleware would redirect the request to HTTPS."""
    conf = _conf()
    if not conf.ssl_redirect or _is_secure(environ):
        return False
    return not any(pattern.search(path.lstrip("/")) for pattern in conf.redirect_exempt)


def _hand_on(environ, body: bytes, ran=None) -> None:
    environ["wsgi.input"] = io.BytesIO(body)
    if ran is not None:
        environ[gate.GATE_ENVIRON_KEY] = ran


def _in_request(work, what: str):
    """``work()`` as within a request: the database connection is checked (a broken or expired one
    replaced) before and released after, as Django's handler does. None when the database fails (the
    view then answers, with its 503)."""
    request_started.send(sender=__name__, environ=None)
    try:
        return work()
    except DatabaseError:
        logger.warning("%s before Django failed; the view answers", what, exc_info=True)
        return None
    finally:
        request_finished.send(sender=__name__)


def _posted(environ, path: str, prepare=None):
    """(start, body, credentials, MAC, the gate's answer with its extra key, the JSON body, the cache, what
    ``prepare`` made) of a device's POST, or None when the view is to serve it (the body put back, the gate's
    answer handed on).

    ``prepare(MAC, credentials, JSON body)``, run before the gate: (what the gate needs to queue the
    device's Last Connected Time, ``gate.run_gate``'s ``seen``, or None; anything the caller wants back)."""
    store = caches["default"]
    if (environ.get("REQUEST_METHOD") != "POST" or getattr(store, "run_script", None) is None
            or _redirected(environ, path)):
        return None
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if length > MAX_BODY:
        return None
    start = time.perf_counter()
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    credentials = _basic_credentials_from_header(environ.get("HTTP_AUTHORIZATION", ""))
    mac = _mac_or_none(credentials[0]) if credentials else None
    if b"\x00" in body or b"\\u0000" in body or mac is None:
        _hand_on(environ, body)
        return None
    try:
        data = json.loads(body) if body.strip() else {}
    except (UnicodeDecodeError, ValueError):
        data = None
    seen, prepared = prepare(mac, credentials, data) if prepare is not None and isinstance(data, dict) else (None, None)
    ran = gate.run_gate(environ, path, mac, store, seen=seen)
    answer = ran[0]
    if answer[0] != 0 or not isinstance(data, dict):
        _hand_on(environ, body, ran)
        return None
    return start, body, credentials, mac, ran, data, store, prepared


def _known_entry(store, answer: list, credentials: tuple[str, str], digest: bytes | None = None):
    """The device's cache entry as the gate read it, when it proves these credentials (``digest``: the
    secret's, when already made); else None."""
    entry = store.decode(answer[1])
    if (isinstance(entry, devicecache.Entry)
            and hmac.compare_digest(entry.digest, digest or devicecache.secret_digest(credentials[1]))):
        return entry
    return None  # none, a new secret or a wrong one: the database decides


def _prepare_checkin(mac: str, credentials: tuple[str, str], data: dict):
    """The report parsed, and what the gate needs to queue the check-in's Last Connected Time: (device id,
    digest of the secret, uptime), or None when this process does not know the device's id or the view
    refuses the report (400; nothing is recorded). Returns (that, (that, report, errors))."""
    report, errors = parse_checkin(data)
    device_id = devicecache.known_id(mac)
    seen = (None if errors or device_id is None
            else (device_id, devicecache.secret_digest(credentials[1]), report.get("uptime")))
    return seen, (seen, report, errors)


def checkin(environ) -> tuple[str, list[tuple[str, str]], bytes] | None:
    """(status, headers, body) for a check-in, or None to let Django serve it.

    An idle check-in of a device known to the cache is answered from the cache alone. Any other
    check-in (an action waiting, a changed report, a device not in the cache) takes the view's database
    path (``device_checkin``) here; credentials the database refuses go on to the view (401).
    """
    posted = _posted(environ, gate.CHECKIN_PATH, _prepare_checkin)
    if posted is None:
        return None
    start, body, credentials, mac, ran, _data, store, (gave, report, errors) = posted
    (answer, extra_key), decode = ran, store.decode
    seen = answer[4] if len(answer) > 4 else 0
    if seen == gate.SEEN_FLUSH_DUE:
        devicecache.flush_now()
    if errors:
        _hand_on(environ, body, ran)
        return None
    entry = _known_entry(store, answer, credentials, gave[1] if gave is not None else None)
    generation = decode(answer[2])
    if entry is not None:
        if extra_key == version_key(entry.id):
            version = decode(answer[3]) if answer[3] is not None else None
        else:  # the first time this process sees the device: its version in a second round trip
            if seen in (gate.SEEN_QUEUED, gate.SEEN_FLUSH_DUE):  # under an id the MAC no longer names
                devicecache.seen_moved(mac, gave[0], entry, report.get("uptime"))
            devicecache.remember_id(mac, entry.id)
            version = store.get(version_key(entry.id))
        if version is not None and devicecache.idle(entry, generation, report, mac, seen=seen != 0):
            payload = json.dumps(devicecache.idle_answer(version)).encode()
            return _answer(environ, _ROUTE, start, "application/json", payload)

    def database_path():
        if entry is not None:
            device, digest = devicecache.device_from(entry, mac), entry.digest
        else:
            device, digest = device_for_credentials(*credentials), None
        if device is None:
            return None
        reply = device_checkin(device=device, report=report)
        devicecache.store(mac, device, generation=generation, quiet=not reply["actions"], digest=digest)
        devicecache.remember_id(mac, device.pk)
        return reply

    reply = _in_request(database_path, "a check-in")
    if reply is None:
        _hand_on(environ, body, ran)
        return None
    return _answer(environ, _ROUTE, start, "application/json", json.dumps(reply).encode())


def cached_autop(environ, path: str) -> tuple[str, list[tuple[str, str]], bytes] | None:
    """(status, headers, body) for a device fetching its own AutoP file, or None for Django.

    From the cache when the file is there (no query); else composed from the file's cached base (one
    query) for a device known to the cache, or made as the view makes it for a device the database
    knows. Installer credentials, another device's file, refused credentials and errors go to the view.
    """
    store = caches["default"]
    if environ.get("REQUEST_METHOD") != "GET" or getattr(store, "run_script", None) is None:
        return None
    if _redirected(environ, path):
        return None
    start = time.perf_counter()
    credentials = _basic_credentials_from_header(environ.get("HTTP_AUTHORIZATION", ""))
    mac = _mac_or_none(credentials[0]) if credentials else None
    if mac is None or mac != _mac_or_none(path[len("/autop/"):-len(".cfg")]):
        return None  # installer credentials, another device's file, a malformed MAC: the view decides
    ran = gate.run_gate(environ, path, mac, store)
    answer, extra_key = ran
    if answer[0] != 0:
        environ[gate.GATE_ENVIRON_KEY] = ran
        return None
    decode = store.decode
    entry = _known_entry(store, answer, credentials)
    content = None
    if entry is not None:
        if extra_key == file_key(entry.id):
            content = decode_file(decode(answer[3])) if answer[3] is not None else None
        else:  # the first time this process sees the device: its file in a second round trip
            devicecache.remember_id(mac, entry.id)
            content = decode_file(store.get(file_key(entry.id)))
    if content is None:
        content = _autop_from_database(entry, mac, credentials)
    if content is None:
        environ[gate.GATE_ENVIRON_KEY] = ran
        return None
    return _answer(environ, AUTOP_ROUTE, start, "text/plain; charset=utf-8", content.encode())


def _autop_from_database(entry, mac: str, credentials: tuple[str, str]) -> str | None:
    """The device's file when it is not cached, as the AutoP view makes it; None for the view to answer."""
    def make():
        if entry is not None:
            content = file_from_base(entry.id, mac)
            if content is not None:
                return content
        device = device_for_credentials(*credentials, fields=AUTOP_DEVICE_FIELDS)
        if device is None:
            return None
        device_credentials_ensure(device=device)
        return current_file(device.pk, mac=device.mac)

    return _in_request(make, "an AutoP file")


def action_result(environ, path: str, action_id: int) -> tuple[str, list[tuple[str, str]], bytes] | None:
    """(status, headers, body) for a device's result report recorded here, or None for Django."""
    posted = None if action_id > MAX_ID else _posted(environ, path)
    if posted is None:
        return None
    start, body, credentials, mac, ran, data, store, _gave = posted
    entry = _known_entry(store, ran[0], credentials)
    status, stage, detail, errors = parse_result(data)
    if entry is None or errors:
        _hand_on(environ, body, ran)
        return None

    def record():
        action = action_report(action_id=action_id, device_id=entry.id, status=status, stage=stage, detail=detail)
        if action is not None and action.status in FINAL_STATUSES:
            devicecache.settle({entry.id: mac})  # its next check-in (after a restart) is answered from the cache
        return action

    action = _in_request(record, "recording a result")
    if action is None:  # unknown, already final, or the database failed: the view says which
        _hand_on(environ, body, ran)
        return None
    payload = json.dumps(result_answer(action)).encode()
    return _answer(environ, RESULT_ROUTE, start, "application/json", payload)
