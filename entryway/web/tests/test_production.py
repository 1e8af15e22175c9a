"""The production configuration, started for real, and a smoke test through it over HTTP.

granian (WSGI, two workers) serves ``config.settings.production`` on a database of its own on this
machine's PostgreSQL (made here, migrated, dropped at the end), a Huey consumer works the queue on
Redis, and Mosquitto is the broker. The test speaks to it as a browser behind nginx would (TLS ends
at the proxy, which sets ``X-Forwarded-Proto: https``) and as a device does (plain HTTP to the
device routes): log in, add a user, add a device for them, and a simulated device (``entryway.sim``)
provisions and checks in. It also checks readiness, metrics, JSON logs with the request id, and a
background export that only the Huey consumer can finish.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
PASSWORD = "smoke-door-bell-8642"
WAIT = 60  # seconds; every wait here is far shorter in practice


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _need(what: str, ok: bool, detail: str) -> None:
    if not ok:
        if in_ci():
            pytest.fail(f"{what} is required in CI: {detail}")
        pytest.skip(f"{what} not available: {detail}")


def _reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(predicate, timeout: float = WAIT, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


# --------------------------------------------------------------------------- the services


@pytest.fixture(scope="module")
def database():
    """A fresh PostgreSQL database on the server of DATABASE_URL, dropped afterwards."""
    url = os.environ.get("DATABASE_URL", "")
    _need("PostgreSQL (DATABASE_URL)", url.startswith(("postgres://", "postgresql://")), url or "not set")
    parts = urlsplit(url)
    _need("PostgreSQL", _reachable(parts.hostname or "127.0.0.1", parts.port or 5432), url)
    import psycopg

    name = f"entryway_smoke_{secrets.token_hex(4)}"
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def platform(database, tmp_path_factory):
    """migrate + collectstatic, then granian and a Huey consumer, as deploy/systemd starts them."""
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    mqtt_url = os.environ.get("TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
    redis, mqtt = urlsplit(redis_url), urlsplit(mqtt_url)
    _need("Redis (REDIS_URL)", _reachable(redis.hostname or "127.0.0.1", redis.port or 6379), redis_url)
    _need("an MQTT broker (TEST_MQTT_URL)", _reachable(mqtt.hostname or "127.0.0.1", mqtt.port or 1883), mqtt_url)

    var = tmp_path_factory.mktemp("production")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "ENCRYPTION_KEY": secrets.token_urlsafe(40),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "DATABASE_URL": database,
        "HUEY_URL": redis_url,
        "HUEY_NAME": f"entryway-smoke-{secrets.token_hex(4)}",  # a queue of its own on a shared Redis
        "MQTT_URL": mqtt_url,
        "ENTRYWAY_VAR_DIR": str(var),
        "STATIC_ROOT": str(var / "static"),
        "MEDIA_ROOT": str(var / "media"),
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(var / "mail"),
        "PROMETHEUS_MULTIPROC_DIR": str(var / "metrics"),
        "DEVICE_POLL_INTERVAL": "1",
        "EXPORT_INLINE_MAX_ROWS": "0",  # every export goes through the queue and the consumer
    })
    (var / "metrics").mkdir()

    def manage(*args, **kw):
        return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
                              capture_output=True, text=True, timeout=600, **kw)

    manage("migrate", "--noinput")
    manage("collectstatic", "--noinput")
    manage("shell", "-c", (
        "from entryway.accounts.models import Account; "
        f"Account.objects.create_user(username='smoke', password='{PASSWORD}', role='installer', "
        "name='Smoke Installs', email='smoke@example.com')"))

    web_log, worker_log = open(var / "web.log", "w+"), open(var / "worker.log", "w+")  # noqa: SIM115 - closed below
    web = subprocess.Popen(
        [str(BIN / "granian"), "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
         "--blocking-threads", "4", "--static-path-route", "/static", "--static-path-mount", str(var / "static"),
         "config.wsgi:application"],
        cwd=ROOT, env={**env, "REMOTE_MAX_WAITING": "1"}, stdout=web_log, stderr=subprocess.STDOUT,
        start_new_session=True)
    worker = subprocess.Popen([sys.executable, "manage.py", "run_huey", "--workers", "2"], cwd=ROOT, env=env,
                              stdout=worker_log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        import requests

        def up():
            try:
                return requests.get(f"{base}/healthz", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        assert _wait_for(up), (web_log.seek(0), web_log.read())[1]
        yield {"url": base, "port": port, "web_log": var / "web.log", "worker_log": var / "worker.log",
               "web": web, "worker": worker}
    finally:
        for proc, sig in ((web, signal.SIGTERM), (worker, signal.SIGINT)):
            if proc.poll() is None:
                os.killpg(proc.pid, sig)
        for proc in (web, worker):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        web_log.close()
        worker_log.close()


# --------------------------------------------------------------------------- a browser behind the proxy


class _Fields(HTMLParser):
    """The fields of the page's first <form method="post"> inside <main>, with the values the page gives them."""

    def __init__(self):
        super().__init__()
        self.fields: dict[str, str] = {}
        self._main = False
        self._form = False
        self._done = False
        self._select: str | None = None
        self._first_option: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "main":
            self._main = True
        if tag == "form" and self._main and not self._done and (a.get("method") or "").lower() == "post":
            self._form = True
        if not self._form:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields[name] = a.get("value") or "on"
            elif kind not in ("submit", "button", "file"):
                self.fields[name] = a.get("value") or ""
        elif tag == "select" and name:
            self._select, self._first_option = name, None
        elif tag == "option" and self._select:
            value = a.get("value") or ""
            if self._first_option is None:
                self._first_option = value
            if "selected" in a:
                self.fields[self._select] = value
        elif tag == "textarea" and name:
            self.fields[name] = ""

    def handle_endtag(self, tag):
        if tag == "select" and self._select:
            self.fields.setdefault(self._select, self._first_option or "")
            self._select = None
        if tag == "form" and self._form:
            self._form, self._done = False, True


class Browser:
    """A session as a browser behind nginx has it: HTTPS as far as Django can tell."""

    def __init__(self, base: str):
        import requests

        self.base = base
        self.origin = "https://" + urlsplit(base).netloc
        self.session = requests.Session()
        self.session.headers.update({"X-Forwarded-Proto": "https"})

    def _insecure_cookies(self):
        # The proxy's TLS is not there: hand Secure cookies back over the plain connection to it.
        for cookie in self.session.cookies:
            cookie.secure = False

    def get(self, path: str, **kw):
        response = self.session.get(self.base + path, allow_redirects=False, timeout=30, **kw)
        self._insecure_cookies()
        return response

    def follow(self, path: str):
        """GET and follow redirects as a browser does; the last answer."""
        for _hop in range(6):
            response = self.get(path)
            if response.status_code not in (301, 302, 303):
                return response
            path = response.headers["Location"]
        raise AssertionError(f"too many redirects at {path}")

    def form(self, path: str) -> dict[str, str]:
        page = self.get(path)
        assert page.status_code == 200, (path, page.status_code)
        parser = _Fields()
        parser.feed(page.text)
        return parser.fields

    def post(self, path: str, data: dict):
        response = self.session.post(self.base + path, data=data, allow_redirects=False, timeout=60,
                                     headers={"Origin": self.origin, "Referer": self.origin + path})
        self._insecure_cookies()
        return response


# --------------------------------------------------------------------------- the smoke test


def test_production_serves_an_installer_and_a_device(platform):
    import requests

    base = platform["url"]
    # Observability: ready (database, Redis queue and broker), metrics.
    ready = requests.get(f"{base}/readyz", timeout=5)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "queue": "ok", "broker": "ok"}

    # Production refuses plain HTTP for people: redirected to HTTPS (devices are exempt).
    plain = requests.get(f"{base}/login/", allow_redirects=False, timeout=5)
    assert plain.status_code == 301 and plain.headers["Location"].startswith("https://")

    browser = Browser(base)
    login = browser.form("/login/")
    login.update(username="smoke", password=PASSWORD)
    response = browser.post("/login/", login)
    assert response.status_code == 302, response.text[:2000]
    session_cookie = next(c for c in browser.session.cookies if c.name == "sessionid")
    assert "Secure" in response.headers["Set-Cookie"] and session_cookie.has_nonstandard_attr("HttpOnly")
    landing = browser.follow(response.headers["Location"])
    assert landing.url.endswith("/dashboard/") and "Users by status" in landing.text

    # Add a user (User → New).
    fields = browser.form("/users/new/")
    fields.update(name="Smoke Resident", email="smoke.resident@example.com", room_name="101")
    response = browser.post("/users/new/", fields)
    assert response.status_code == 302, response.text[:3000]
    users = browser.get("/users/?q=Smoke+Resident").text
    assert "Smoke Resident" in users
    resident_id = re.search(r"/users/(\d+)/devices/", users).group(1)

    # Its device: the MAC into the MAC Library, then User → Intercom Devices → New.
    mac = "0C11" + secrets.token_hex(4).upper()
    fields = browser.form("/mac-library/new/")
    fields["mac"] = mac
    assert browser.post("/mac-library/new/", fields).status_code == 302
    path = f"/users/{resident_id}/devices/new/"
    fields = browser.form(path)
    page = browser.get(path).text
    r29 = re.search(r'<option value="(\d+)"[^>]*>\s*R29\b', page)
    fields.update(mac=mac, location="Smoke gate", device_model=r29.group(1) if r29 else fields["device_model"])
    response = browser.post(path, fields)
    assert response.status_code == 302, response.text[:3000]
    devices = browser.get(f"/devices/?q={mac}").text
    assert mac in devices and "Offline" in devices
    device_id = re.search(r"/devices/(\d+)/info/", devices).group(1)

    # A simulated device provisions with the installer's AutoP credentials and checks in.
    autop = browser.get("/settings/autop/").text
    user = re.search(r'id="autop-username"[^>]*value="([^"]+)"', autop).group(1)
    password = re.search(r'id="autop-password"[^>]*value="([^"]+)"', autop).group(1)
    from entryway.sim import DeviceSpec, Fleet, FleetThread

    fleet = Fleet(base, [DeviceSpec(mac, model="R29", firmware="29.30.2.805")], autop_user=user,
                  autop_password=password, poll_interval=0.5, mqtt=False, seed=3)
    runner = FleetThread(fleet).start()
    try:
        assert runner.wait_until(lambda f: f.device(mac).online and f.device(mac).checkins >= 2, timeout=WAIT), (
            fleet.device(mac).last_error)
        def reported():
            return "29.30.2.805" in browser.get(f"/devices/{device_id}/info/").text

        assert _wait_for(reported), "the device's check-in did not reach the portal"
        assert "Online" in browser.get(f"/devices/?q={mac}").text
    finally:
        runner.stop()

    # A background export: only the Huey consumer on Redis can finish it.
    response = browser.get("/exports/users.csv?q=Smoke")
    assert response.status_code == 302 and response.headers["Location"].startswith("/jobs/")
    job = response.headers["Location"]
    assert _wait_for(lambda: browser.get(f"{job}progress/").headers.get("HX-Refresh") == "true"), (
        platform["worker_log"].read_text()[-3000:])
    download = browser.get(f"{job}download/")
    assert download.status_code == 200 and "Smoke Resident" in download.content.decode("utf-8-sig")

    # Metrics from both web processes; JSON logs with the request id.
    metrics = requests.get(f"{base}/metrics", timeout=5).text
    checkins = re.findall(r"^entryway_device_checkins_total\{[^}]*\} ([0-9.e+]+)$", metrics, re.MULTILINE)
    assert sum(float(n) for n in checkins) >= 2, metrics[:3000]
    assert "entryway_http_requests_total" in metrics
    request_id = f"smoke-{secrets.token_hex(6)}"
    missing = requests.get(f"{base}/autop/no-such-device", headers={"X-Request-ID": request_id}, timeout=5)
    assert missing.status_code == 404 and missing.headers["X-Request-ID"] == request_id

    def logged():
        for line in platform["web_log"].read_text().splitlines():
            if request_id in line and line.startswith("{"):
                return json.loads(line)
        return None

    record = _wait_for(logged, timeout=10)
    assert record and record["request_id"] == request_id and record["level"] in ("WARNING", "INFO")
