"""A simulated device's own web interface: a login, a status page, a settings form and an image.

It is independent of how requests reach it: ``await device.web.handle(method, target, headers, body)``
answers ``(status, headers, body)`` for one HTTP request, so a tunnel (Remote Control) can relay
requests to it, and ``web_application(device)`` serves it directly with aiohttp for local use.
Like a real intercom, it has its own login (``admin`` / the device's web password) with a session
cookie, redirects after a form is posted, and serves an image.
"""
from __future__ import annotations

import base64
import html
import secrets
import time
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from entryway.sim.device import SimDevice

COOKIE = "devsession"
DEFAULT_USER, DEFAULT_PASSWORD = "admin", "admin"
# The settings the form edits: (field, label, configuration key).
SETTINGS_FIELDS = [
    ("location", "Location", "Config.DoorSetting.DEVICENODE.Location"),
    ("time_format", "Time Format (0 = 12 h, 1 = 24 h)", "Config.Settings.DATETIME.TimeFormat"),
    ("brightness", "Screen Brightness (0-100)", "Config.Settings.LCD.Brightness"),
]
# A 1x1 PNG: the page's logo.
LOGO_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
MAX_BODY = 64 * 1024
STYLE = ("body{font-family:sans-serif;margin:16px;color:#222}h1{font-size:20px}"
         "label{display:block;margin:8px 0}input{display:block;margin-top:2px;padding:4px}"
         "button{margin-top:8px;padding:4px 12px}th{text-align:left;padding-right:16px}")

Response = tuple[int, list[tuple[str, str]], bytes]


def _page(title: str, body: str) -> bytes:
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><img src=\"logo.png\" alt=\"Device logo\" width=\"1\" height=\"1\">"
            f"<h1>{html.escape(title)}</h1>{body}</body></html>").encode()


class DeviceWebInterface:
    def __init__(self, device: SimDevice, *, user: str = DEFAULT_USER, password: str = DEFAULT_PASSWORD):
        self.device = device
        self.user, self.password = user, password
        self.sessions: dict[str, float] = {}
        self.requests = 0
        self.changes: list[dict] = []  # every settings change: {"field", "old", "new", "at"}
        self.tunnels: dict = {}  # Remote Control: session token -> the tunnel's task (entryway.sim.tunnel)

    # -- helpers ----------------------------------------------------------------------------------------

    def _session(self, headers: dict) -> str | None:
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # noqa: BLE001 - a malformed cookie header is no session
            return None
        token = cookie[COOKIE].value if COOKIE in cookie else None
        return token if token in self.sessions else None

    @staticmethod
    def _html(status: int, content: bytes, extra: list[tuple[str, str]] | None = None) -> Response:
        return status, [("Content-Type", "text/html; charset=utf-8"), *(extra or [])], content

    @staticmethod
    def _redirect(location: str, extra: list[tuple[str, str]] | None = None) -> Response:
        return 303, [("Location", location), *(extra or [])], b""

    def value(self, field: str) -> str:
        key = {f: k for f, _label, k in SETTINGS_FIELDS}[field]
        return self.device.web_settings.get(field, self.device.config.get(key, ""))

    # -- the interface ----------------------------------------------------------------------------------

    async def handle(self, method: str, target: str, headers: dict | None = None, body: bytes = b"") -> Response:
        """One request: ``target`` is the path (and query) relative to the device's root, e.g. ``/settings``."""
        self.requests += 1
        headers = {k.lower(): v for k, v in (headers or {}).items()}
        method = method.upper()
        path = urlsplit(target).path or "/"
        if len(body) > MAX_BODY:
            return 413, [("Content-Type", "text/plain")], b"Request too large."
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()} if body else {}
        if path == "/logo.png":
            return 200, [("Content-Type", "image/png"), ("Cache-Control", "max-age=3600")], LOGO_PNG
        if path == "/login":
            return self._login(method, form)
        if self._session(headers) is None:
            return self._redirect("login")
        if path in ("/", "/status"):
            return self._status()
        if path == "/settings":
            return self._settings(method, form, urlsplit(target).query)
        if path == "/logout" and method == "POST":
            self.sessions.pop(self._session(headers), None)
            return self._redirect("login", [("Set-Cookie", f"{COOKIE}=; Max-Age=0; Path=/; HttpOnly")])
        return self._html(404, _page("Not found", "<p>No such page on this device.</p>"))

    def _login(self, method: str, form: dict) -> Response:
        error = ""
        if method == "POST":
            if form.get("username") == self.user and secrets.compare_digest(form.get("password", ""), self.password):
                token = secrets.token_urlsafe(16)
                self.sessions[token] = time.time()
                return self._redirect("status", [("Set-Cookie", f"{COOKIE}={token}; Path=/; HttpOnly")])
            error = "<p role=\"alert\">Wrong user name or password.</p>"
        body = (f"{error}<form method=\"post\" action=\"login\">"
                "<label>User Name <input name=\"username\" autocomplete=\"username\"></label>"
                "<label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\"></label>"
                "<button type=\"submit\">Login</button></form>")
        return self._html(200 if not error else 401, _page(f"{self.device.model} login", body))

    def _status(self) -> Response:
        d = self.device
        rows = [("MAC", d.mac), ("Model", d.model), ("Firmware", d.firmware), ("IP Address", d.ip),
                ("Uptime", f"{d.uptime} s"), ("Location", self.value("location")), ("Cloud", d.state)]
        table = "".join(f"<tr><th scope=\"row\">{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                        for k, v in rows)
        nav = "<p><a href=\"settings\">Settings</a></p>"
        return self._html(200, _page("Status", f"<table>{table}</table>{nav}"))

    def _settings(self, method: str, form: dict, query: str) -> Response:
        if method == "POST":
            errors = []
            brightness = form.get("brightness", "")
            if brightness and (not brightness.isdigit() or int(brightness) > 100):
                errors.append("Screen Brightness must be a number from 0 to 100.")
            if form.get("time_format", "") not in ("", "0", "1"):
                errors.append("Time Format must be 0 or 1.")
            if not errors:
                for field, _label, key in SETTINGS_FIELDS:
                    if field in form and form[field] != self.value(field):
                        self.changes.append({"field": field, "old": self.value(field), "new": form[field],
                                             "at": time.time()})
                        self.device.web_settings[field] = form[field]
                        self.device.config[key] = form[field]
                return self._redirect("settings?saved=1")
            return self._html(400, _page("Settings", self._settings_form(form, errors)))
        note = "<p role=\"status\">Saved.</p>" if "saved=1" in query else ""
        return self._html(200, _page("Settings", note + self._settings_form({}, [])))

    def _settings_form(self, values: dict, errors: list[str]) -> str:
        problems = "".join(f"<p role=\"alert\">{html.escape(e)}</p>" for e in errors)
        fields = "".join(
            f"<label>{html.escape(label)} <input name=\"{field}\" "
            f"value=\"{html.escape(values.get(field, self.value(field)))}\"></label>"
            for field, label, _key in SETTINGS_FIELDS)
        return (f"{problems}<form method=\"post\" action=\"settings\">{fields}"
                "<button type=\"submit\">Submit</button></form><p><a href=\"status\">Status</a></p>")


def web_application(device: SimDevice):
    """The interface as an aiohttp application (to open a simulated device's pages in a local browser)."""
    from aiohttp import web

    async def relay(request):
        body = await request.read()
        status, headers, content = await device.web.handle(request.method, request.path_qs, dict(request.headers),
                                                           body)
        response = web.Response(status=status, body=content)
        for name, value in headers:
            response.headers.add(name, value)
        return response

    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_route("*", "/{tail:.*}", relay)
    return app
