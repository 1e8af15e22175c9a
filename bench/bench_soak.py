"""Soak: a simulated fleet checking in while an installer works in the portal, for minutes on end.

    python -m bench.bench_soak                  # PostgreSQL database entryway_soak, Redis DB 10
    BENCH_SOAK_MINUTES=2 BENCH_SOAK_DEVICES=200 python -m bench.bench_soak     # a short run

Seeds one installer with BENCH_SOAK_DEVICES devices (default 2,000: one indoor monitor per user, the
rest R29 door phones) and a newer R29 firmware, then runs, all at once:

- the production settings under granian as deploy/ runs it: the portal's server (2 workers × 4 threads)
  and the devices' server (2 workers × 2 threads), PostgreSQL, Redis as cache and Huey queue, and a
  Huey consumer (``manage.py run_huey``) so that background and periodic tasks really run;
- the fleet simulator (``entryway.sim``) in a process of its own: every device provisions, then checks
  in on the platform's poll interval (BENCH_SOAK_POLL, default 30 s) and carries its actions out;
- a scripted installer, logged in through the login form, doing portal work over HTTP through the
  real pages and forms (CSRF token from each form, behind an HTTPS proxy as in production): dashboard,
  User and Device lists and searches, Add User, Edit Device, Reboot, a message to indoor monitors,
  Batch One Time AutoP, an update strategy for a group of door phones.

For BENCH_SOAK_MINUTES (default 10). Then the installer stops and the fleet drains (every action the
installer issued taken and reported); the benchmark prints the responses by status (the installer's
and the fleet's, and the server's own count from /metrics), the actions issued against those the
platform recorded and those the simulated devices carried out, the check-ins, the resident memory of
each web and device server worker and of the consumer every 30 s, and the load average. Targets (issue 11 item 7 and
issue 10 item 7): zero 5xx, zero lost actions (every action issued is Success on the platform and was
carried out by its device; every edited device applied its new settings), memory flat (+-10 % after
the first sample, per process).
"""
from __future__ import annotations

import asyncio
import collections
import html.parser
import http.client
import json
import os
import pathlib
import random
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

from bench import common

N_DEVICES = int(os.environ.get("BENCH_SOAK_DEVICES", "2000"))
MINUTES = float(os.environ.get("BENCH_SOAK_MINUTES", "10"))
POLL = int(os.environ.get("BENCH_SOAK_POLL", "30"))
PORT = int(os.environ.get("BENCH_SOAK_PORT", "18300"))
THINK = float(os.environ.get("BENCH_SOAK_THINK", "1.0"))  # the installer's mean pause between two pages
REDIS_URL = os.environ.get("BENCH_SOAK_REDIS_URL", "redis://127.0.0.1:6379/10")
SAMPLE_SECONDS = 30
WARM_ROUNDS = 3  # installer rounds before the soak's clock and memory series start (each kind of action once)
FLAT = 0.10
PASSWORD = "soak-" + secrets.token_urlsafe(12)
DOOR, MONITOR = "R29", "IT82"
OLD_FIRMWARE, NEW_FIRMWARE = "29.30.2.805", "29.30.2.900"
LOCATION_KEY = "Config.DoorSetting.DEVICENODE.Location"
AUTOP_LINES = "Config.Settings.DATETIME.TimeFormat = 1\nConfig.Settings.DATETIME.DateFormat = 2"


# --------------------------------------------------------------------------- setup and seed

def _setup_django(var_dir: str) -> dict:
    url = os.environ.get("BENCH_SOAK_DATABASE_URL") or common.database_url().rsplit("/", 1)[0] + "/entryway_soak"
    common.reset_database(url)
    prom = pathlib.Path(var_dir) / "prometheus"
    prom.mkdir()
    # All simulated devices come from 127.0.0.1: the per-address AutoP limit stands for one device's address.
    env = common.server_env(
        url, var_dir, CACHE_URL=REDIS_URL, HUEY_URL=REDIS_URL, HUEY_NAME="entryway-soak", MQTT_URL="",
        ALLOWED_HOSTS="127.0.0.1,localhost,testserver", AUTOP_RATE_LIMIT=10**9, DEVICE_POLL_INTERVAL=POLL,
        PUBLIC_BASE_URL=f"http://127.0.0.1:{PORT}", PROMETHEUS_MULTIPROC_DIR=str(prom))
    os.environ.update(env)
    sys.path.insert(0, str(common.ROOT))
    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    cache.clear()  # Redis DB of this benchmark only: cache and queue start empty
    return env


def _seed(n: int) -> dict:
    """One distributor and installer, n // 10 users each with one indoor monitor, the rest R29 door phones."""
    from django.contrib.auth.hashers import make_password
    from django.core.files.base import ContentFile
    from django.db import transaction

    from entryway.accounts.models import Account
    from entryway.devices.models import DeviceModel, IntercomDevice, MacLibraryEntry
    from entryway.firmware.services import firmware_upload
    from entryway.residents.models import Resident
    from entryway.sim.device import default_firmware
    from entryway.sip.choices import SipKind
    from entryway.sip.models import SipAccount
    from entryway.sip.services import _next_values, format_number

    admin = Account.objects.create_superuser("soak-admin", "soak-admin@example.com", secrets.token_urlsafe(12))
    distributor = Account.objects.create(username="soak-distributor", role="distributor", name="Soak distributor",
                                         password=make_password(None), email="soak-distributor@example.com")
    installer = Account.objects.create(username="soak-installer", role="installer", name="Soak installer",
                                       parent=distributor, time_zone="UTC", password=make_password(PASSWORD),
                                       email="soak-installer@example.com")
    door = DeviceModel.objects.get_or_create(name=DOOR, defaults={"device_type": "door_phone"})[0]
    monitor = DeviceModel.objects.get_or_create(name=MONITOR, defaults={"device_type": "indoor_monitor"})[0]
    n_res = max(1, n // 10)
    with transaction.atomic():
        families = [format_number(SipKind.FAMILY, v) for v in _next_values("family", n_res)]
        people = [format_number(SipKind.PERSONAL, v) for v in _next_values("account", n_res + n)]
        accounts, residents = [], []
        for i in range(n_res):
            sip_password = secrets.token_urlsafe(12)
            accounts.append(SipAccount(number=people[i], kind=SipKind.PERSONAL, password=sip_password,
                                       ha1=SipAccount.compute_ha1(people[i], sip_password), installer=installer,
                                       family_number=families[i], display_name=f"Soak user {i}"))
            residents.append(Resident(installer=installer, name=f"Soak user {i}", room_name=f"Room {i}",
                                      email=f"soak-user-{i}@example.com", time_zone="UTC", language="en",
                                      family_sip=families[i], personal_sip=people[i]))
        residents = Resident.objects.bulk_create(residents, batch_size=2000)
        entries = MacLibraryEntry.objects.bulk_create(
            [MacLibraryEntry(mac=f"5A0C{j:08X}", installer=installer, distributor=distributor) for j in range(n)],
            batch_size=5000)
        devices = []
        for j, entry in enumerate(entries):
            model = monitor if j < n_res else door
            number = people[n_res + j]
            sip_password = secrets.token_urlsafe(12)
            accounts.append(SipAccount(number=number, kind=SipKind.DEVICE, password=sip_password,
                                       ha1=SipAccount.compute_ha1(number, sip_password), installer=installer,
                                       family_number=residents[j % n_res].family_sip, display_name=f"Gate {j}"))
            devices.append(IntercomDevice(
                installer=installer, owner=residents[j % n_res], device_model=model, mac=entry.mac, mac_entry=entry,
                location=f"Gate {j}", sip_number=number, device_secret=secrets.token_urlsafe(18),
                firmware_version=default_firmware(model.name), reported_model=model.name))
        SipAccount.objects.bulk_create(accounts, batch_size=5000)
        IntercomDevice.objects.bulk_create(devices, batch_size=5000)
    firmware_upload(acting_user=admin, file=ContentFile(secrets.token_bytes(16 * 1024), name=f"R29_{NEW_FIRMWARE}.rom"),
                    version=NEW_FIRMWARE, device_models=[door], version_log="soak")
    rows = list(IntercomDevice.objects.filter(installer=installer).order_by("pk")
                .values_list("pk", "mac", "device_secret", "device_model__name", "owner_id"))
    return {
        "installer_id": installer.pk,
        "door_model_id": door.pk,
        "specs": [{"mac": mac, "secret": secret, "model": model} for _pk, mac, secret, model, _o in rows],
        "doors": [pk for pk, _m, _s, model, _o in rows if model == DOOR],
        "all_devices": [pk for pk, *_rest in rows],
        "mac_of": {pk: mac for pk, mac, *_rest in rows},
        # Users with an indoor monitor (every seeded user has exactly one).
        "monitor_owners": sorted({owner for _pk, _m, _s, model, owner in rows if model == MONITOR}),
    }


# --------------------------------------------------------------------------- the fleet (a process of its own)

def fleet_process(argv: list[str]) -> None:
    """``python -c 'from bench.bench_soak import fleet_process; fleet_process([...])'``: spec file, status file,
    server URL. Writes its status every 5 s and, after SIGTERM, a final status with every device's state."""
    from entryway.sim import DeviceSpec, Fleet

    spec_path, status_path, server = argv
    specs = [DeviceSpec(**d) for d in json.loads(pathlib.Path(spec_path).read_text())]
    fleet = Fleet(server, specs, poll_interval=None, reboot_seconds=5.0, install_seconds=2.0, mqtt=False,
                  ramp=POLL, connection_limit=32, seed=1)

    async def main():
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, fleet.stop)

        async def report():
            while True:
                await asyncio.sleep(5)
                _write_json(status_path, _fleet_status(fleet, final=False))

        reporter = asyncio.create_task(report())
        try:
            await fleet.run()
        finally:
            reporter.cancel()

    asyncio.run(main())
    _write_json(status_path, _fleet_status(fleet, final=True))


def _write_json(path: str, data: dict) -> None:
    tmp = path + ".tmp"
    pathlib.Path(tmp).write_text(json.dumps(data))
    os.replace(tmp, path)


def _fleet_status(fleet, *, final: bool) -> dict:
    devices = list(fleet.devices.values())
    out = {
        "final": final,
        "cpu_seconds": time.process_time(),
        "counters": dict(fleet.counters),
        "online": sum(1 for d in devices if d.online),
        "checked_in": sum(1 for d in devices if d.checkins),
        "errors_by_kind": collections.Counter(d.last_error.split(":", 1)[0] for d in devices if d.last_error),
    }
    if final:
        out["devices"] = {d.mac: {
            "done": {str(r.action_id): r.kind for r in d.results if r.status == "success" and r.delivered},
            "failed": {str(r.action_id): r.kind for r in d.results if r.status == "failure"},
            "undelivered": [str(a) for a in d._unreported],
            "location": d.config.get(LOCATION_KEY, ""),
            "messages": len(d.messages),
            "firmware": d.firmware,
            "checkins": d.checkins,
            "last_error": d.last_error,
        } for d in devices}
    return out


class FleetProcess:
    def __init__(self, specs: list[dict], server: str, directory: str):
        self.spec_path = os.path.join(directory, "fleet-specs.json")
        self.status_path = os.path.join(directory, "fleet-status.json")
        pathlib.Path(self.spec_path).write_text(json.dumps(specs))
        self.log = open(os.path.join(directory, "fleet.log"), "w")  # noqa: SIM115 - closed in stop()
        code = "import sys; from bench.bench_soak import fleet_process; fleet_process(sys.argv[1:])"
        self.proc = subprocess.Popen([common.PYTHON, "-c", code, self.spec_path, self.status_path, server],
                                     cwd=common.ROOT, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def status(self) -> dict:
        try:
            return json.loads(pathlib.Path(self.status_path).read_text())
        except (OSError, ValueError):
            return {}

    def stop(self) -> dict:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()
        status = self.status()
        if not status.get("final"):
            tail = pathlib.Path(self.log.name).read_text()[-2000:]
            raise RuntimeError(f"the fleet process wrote no final status: {tail}")
        return status


# --------------------------------------------------------------------------- the installer (a scripted browser)

class FormParser(html.parser.HTMLParser):
    """The forms of a page: each control with its current value, as a browser would submit it."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._open: dict | None = None
        self._select: dict | None = None
        self._textarea: dict | None = None
        self._orphans: list[dict] = []  # controls outside a form, naming one with form="id"

    def _add(self, control: dict, attrs: dict) -> None:
        if attrs.get("form"):
            control["form"] = attrs["form"]
            self._orphans.append(control)
        elif self._open is not None:
            self._open["controls"].append(control)

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._open = {"id": a.get("id", ""), "action": a.get("action", ""),
                          "method": a.get("method", "get").lower(), "controls": []}
            self.forms.append(self._open)
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text").lower()
            self._add({"name": a["name"], "type": kind, "value": a.get("value", "on" if kind in ("checkbox", "radio")
                                                                      else ""),
                       "checked": "checked" in a, "disabled": "disabled" in a}, a)
        elif tag == "button":
            if a.get("name") or a.get("formaction"):
                self._add({"name": a.get("name", ""), "type": "button", "value": a.get("value", ""),
                           "formaction": a.get("formaction", ""), "checked": False, "disabled": False}, a)
        elif tag == "select" and a.get("name"):
            self._select = {"name": a["name"], "type": "select", "value": None, "options": [], "checked": False,
                            "disabled": "disabled" in a}
            self._add(self._select, a)
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            self._select["options"].append(value)
            if "selected" in a or self._select["value"] is None:
                if "selected" in a or not self._select.get("_chosen"):
                    self._select["value"] = value
                self._select["_chosen"] = self._select.get("_chosen") or "selected" in a
        elif tag == "textarea" and a.get("name"):
            self._textarea = {"name": a["name"], "type": "textarea", "value": "", "checked": False,
                              "disabled": "disabled" in a}
            self._add(self._textarea, a)

    def handle_endtag(self, tag):
        if tag == "form":
            self._open = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            if self._textarea is not None:
                self._textarea["value"] = self._textarea["value"].removeprefix("\n")
            self._textarea = None

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea["value"] += data

    def close(self):
        super().close()
        by_id = {f["id"]: f for f in self.forms if f["id"]}
        for control in self._orphans:
            if control["form"] in by_id:
                by_id[control["form"]]["controls"].append(control)


def find_form(page: str, *, has: str = "", form_id: str = "") -> dict:
    parser = FormParser()
    parser.feed(page)
    parser.close()
    for form in parser.forms:
        if (form_id and form["id"] == form_id) or (has and any(c["name"] == has for c in form["controls"])):
            return form
    raise LookupError(f"no form with {has or form_id!r} on the page")


def form_fields(form: dict, overrides: dict | None = None, button: str = "") -> list[tuple[str, str]]:
    """What a browser sends: filled fields, checked boxes and radios, selected options, the pressed button."""
    overrides = overrides or {}
    out = []
    for c in form["controls"]:
        if c["disabled"] or c["name"] in overrides:
            continue
        if c["type"] in ("checkbox", "radio"):
            if c["checked"]:
                out.append((c["name"], c["value"]))
        elif c["type"] in ("submit", "button", "image", "reset", "file"):
            if button and c["name"] == button:
                out.append((c["name"], c["value"]))
        elif c["type"] == "select":
            if c["value"] is not None:
                out.append((c["name"], c["value"]))
        else:
            out.append((c["name"], c["value"]))
    for name, value in overrides.items():
        for v in value if isinstance(value, list) else [value]:
            out.append((name, str(v)))
    return out


def options(form: dict, name: str) -> list[str]:
    return [o for c in form["controls"] if c["name"] == name and c["type"] == "select" for o in c["options"] if o]


def checkbox_values(page: str, name: str) -> list[str]:
    return re.findall(r'<input type="checkbox"[^>]*name="' + re.escape(name) + r'" value="(\d+)"', page)


class Browser:
    """One portal user over HTTP/1.1 keep-alive, as a browser behind the production HTTPS proxy.

    Cookies are kept by hand: the production session and CSRF cookies are Secure, and the proxy tells
    Django the request came over HTTPS (X-Forwarded-Proto), so a browser would send them back.
    """

    def __init__(self, port: int):
        self.port, self.origin = port, f"https://127.0.0.1:{port}"
        self.conn: http.client.HTTPConnection | None = None
        self.cookies: dict[str, str] = {}
        self.statuses: collections.Counter = collections.Counter()
        self.latency: dict[str, list[float]] = collections.defaultdict(list)
        self.failures: list[str] = []
        self.last = "/"
        self.posted = 0  # the status of the last POST itself (before its redirect is followed)

    def _send(self, method: str, path: str, body: str | None) -> tuple[int, dict, str]:
        headers = {"Host": f"127.0.0.1:{self.port}", "X-Forwarded-Proto": "https", "User-Agent": "entryway-soak",
                   "Accept": "text/html", "Accept-Language": "en"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if method == "POST":
            headers.update({"Content-Type": "application/x-www-form-urlencoded", "Origin": self.origin,
                            "Referer": self.origin + self.last})
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                text = resp.read().decode("utf-8", "replace")
                break
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        for raw in resp.headers.get_all("Set-Cookie") or []:
            name, _, rest = raw.partition("=")
            value = rest.split(";", 1)[0]
            if "max-age=0" in raw.lower() or 'expires=thu, 01 jan 1970' in raw.lower():
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value
        return resp.status, dict(resp.headers), text

    def request(self, method: str, path: str, data: list | None = None, *, label: str = "",
                follow: bool = True) -> tuple[int, str, str]:
        """One page: returns (status of the last answer, its body, the path it ended on)."""
        body = urllib.parse.urlencode(data or [], doseq=True) if method == "POST" else None
        start = time.perf_counter()
        try:
            status, headers, text = self._send(method, path, body)
        except (OSError, http.client.HTTPException) as exc:
            self.statuses["connection error"] += 1
            self.failures.append(f"{method} {path}: {exc!r}")
            return 0, "", path
        self.latency[label or path].append(time.perf_counter() - start)
        self.statuses[status] += 1
        if status >= 500:
            self.failures.append(f"{method} {path} -> {status}: {text[:300]!r}")
        if method == "GET" and status == 200:
            self.last = path
        location = headers.get("Location") or headers.get("location")
        if method == "POST":
            self.posted = status
        if follow and status in (301, 302, 303) and location:
            target = urllib.parse.urlsplit(location)
            next_path = target.path + (f"?{target.query}" if target.query else "")
            code, text, path = self.request("GET", next_path, label=label + " (after)" if label else "", follow=True)
            return code, text, path
        return status, text, path

    def get(self, path: str, label: str = "") -> tuple[int, str]:
        status, text, _path = self.request("GET", path, label=label)
        return status, text


class Installer(threading.Thread):
    """Portal work in a loop until ``stop`` is set: every action through the page a person would use."""

    def __init__(self, port: int, seed: dict, stop: threading.Event):
        super().__init__(name="soak-installer", daemon=True)
        self.b = Browser(port)
        self.seed, self.stop = seed, stop
        self.rng = random.Random(7)
        self.issued: collections.Counter = collections.Counter()  # actions, by kind, the installer sent
        self.done: collections.Counter = collections.Counter()  # portal operations that succeeded
        self.refused: list[str] = []  # forms answered with an error (4xx) where a success was expected
        self.locations: dict[str, str] = {}  # MAC -> the Location last saved
        self.fresh_doors = list(seed["doors"])
        self.rng.shuffle(self.fresh_doors)
        self.rounds = 0
        self.error: BaseException | None = None

    def pause(self) -> None:
        self.stop.wait(self.rng.uniform(0.5, 1.5) * THINK)

    def submit(self, page_path: str, *, has: str = "", form_id: str = "", overrides: dict | None = None,
               button: str = "", action: str = "", label: str) -> tuple[int, str, str]:
        status, page = self.b.get(page_path, label=label + " form")
        if status != 200:
            self.refused.append(f"GET {page_path} -> {status}")
            return status, page, page_path
        form = find_form(page, has=has, form_id=form_id)
        target = action or form["action"] or page_path.split("?")[0]
        self.pause()
        result = self.b.request("POST", target, form_fields(form, overrides, button), label=label)
        return result

    def expect_redirect(self, result: tuple[int, str, str], what: str) -> bool:
        """A form accepted: the POST answered with a redirect (to a page that then loaded)."""
        status, text, path = result
        if status == 200 and self.b.posted in (302, 303) and "/login/" not in path:
            self.done[what] += 1
            return True
        errors = re.findall(r'<ul class="errorlist"[^>]*>(.*?)</ul>', text, re.DOTALL)
        self.refused.append(f"{what}: {status} at {path} {' '.join(errors)[:300]}")
        return False

    # the portal operations ------------------------------------------------------------------------

    def login(self) -> None:
        result = self.submit("/login/", has="username", overrides={"username": "soak-installer",
                                                                     "password": PASSWORD}, label="login")
        if not self.expect_redirect(result, "login"):
            raise RuntimeError(f"login failed: {self.refused[-1]}")

    def browse(self) -> None:
        n_res = len(self.seed["monitor_owners"])
        for path, label in (("/dashboard/", "dashboard"), ("/users/", "user list"),
                            (f"/users/?page={self.rng.randint(1, max(1, n_res // 20))}", "user list page"),
                            (f"/users/?q=user+{self.rng.randrange(n_res)}", "user search"),
                            ("/devices/", "device list"),
                            (f"/devices/?page={self.rng.randint(1, max(1, N_DEVICES // 20))}", "device list page"),
                            (f"/devices/?q={self.seed['mac_of'][self.rng.choice(self.seed['all_devices'])][:10]}",
                             "device search")):
            self.b.get(path, label=label)
            self.pause()

    def add_user(self) -> None:
        n = self.rounds
        result = self.submit("/users/new/", has="room_name", label="add user",
                             overrides={"name": f"Soak new user {n}", "room_name": f"Flat {n}",
                                        "email": f"soak-new-{n}@example.com"})
        self.expect_redirect(result, "add user")

    def edit_device(self) -> None:
        pk = self.rng.choice(self.seed["doors"])
        location = f"Soak {self.rounds} {secrets.token_hex(2)}"
        path = f"/devices/{pk}/edit/"
        if self.expect_redirect(self.submit(path, has="location", overrides={"location": location},
                                            label="edit device"), "edit device"):
            self.locations[self.seed["mac_of"][pk]] = location

    def reboot(self) -> None:
        pk = self.rng.choice(self.seed["all_devices"])
        path = f"/devices/{pk}/info/"
        if self.expect_redirect(self.submit(path, has="connect_type", button="reboot",
                                            action=f"/devices/{pk}/reboot/", label="reboot"), "reboot"):
            self.issued["reboot"] += 1

    def message(self) -> None:
        receivers = self.rng.sample(self.seed["monitor_owners"], min(5, len(self.seed["monitor_owners"])))
        path = "/messages/new/"
        result = self.submit(path, has="title", button="action", label="message", overrides={
            "title": f"Soak notice {self.rounds}", "body": "The lift is serviced on Monday.",
            "receiver_type": "indoor_monitor", "receivers": receivers, "action": "send"})
        if self.expect_redirect(result, "message"):
            self.issued["message"] += len(receivers)  # one indoor monitor each

    def batch_autop(self) -> None:
        prefix = self.seed["mac_of"][self.rng.choice(self.seed["all_devices"])][:10]
        path = f"/devices/autop/?q={prefix}"
        status, page = self.b.get(path, label="batch autop form")
        ids = checkbox_values(page, "devices")
        if status != 200 or not ids:
            self.refused.append(f"batch autop: {status}, {len(ids)} devices shown for {prefix}")
            return
        chosen = self.rng.sample(ids, min(20, len(ids)))
        form = find_form(page, form_id="batch-autop")
        self.pause()
        result = self.b.request("POST", form["action"] or "/devices/autop/", form_fields(
            form, {"mode": "once", "commands": AUTOP_LINES, "devices": chosen}), label="batch autop")
        if self.expect_redirect(result, "batch autop"):
            self.issued["autop"] += len(chosen)

    def update_strategy(self) -> None:
        chosen, self.fresh_doors = self.fresh_doors[:10], self.fresh_doors[10:]
        if not chosen:
            return
        path = f"/updates/new/?device_model={self.seed['door_model_id']}"
        status, page = self.b.get(path, label="update strategy form")
        if status != 200:
            self.refused.append(f"update strategy form: {status}")
            return
        form = find_form(page, form_id="strategy-form")
        versions = options(form, "firmware")
        self.pause()
        result = self.b.request("POST", "/updates/new/", form_fields(form, {
            "device_model": self.seed["door_model_id"], "firmware": versions[-1] if versions else "",
            "device_ids": chosen, "time_mode": "now", "action": "submit", "q": ""}), label="update strategy")
        if self.expect_redirect(result, "update strategy"):
            self.issued["upgrade"] += len(chosen)

    def run(self) -> None:
        try:
            self.login()
            steps = [self.add_user, self.edit_device, self.reboot]
            extra = [self.message, self.batch_autop, self.update_strategy]
            while not self.stop.is_set():
                self.browse()
                for step in steps + [extra[self.rounds % len(extra)]]:
                    if self.stop.is_set():
                        break
                    step()
                    self.pause()
                for path, label in (("/updates/", "update list"), ("/messages/", "message list")):
                    self.b.get(path, label=label)
                self.rounds += 1
        except Exception as exc:  # noqa: BLE001 - reported by the benchmark
            self.error = exc


# --------------------------------------------------------------------------- memory, drain, checks

def _rss_mb(pid: int) -> float | None:
    try:
        status = pathlib.Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else None


def _processes(servers, consumer) -> dict[str, int]:
    out = {}
    for server in servers:
        name = "web worker" if server.role == "web" else "device worker"
        out.update({f"{name} {i + 1}": pid for i, pid in enumerate(sorted(server.worker_pids()))})
    out["consumer"] = consumer.pid
    return out


def _sample(procs: dict[str, int], series: dict[str, list[float]]) -> None:
    for name, pid in procs.items():
        mb = _rss_mb(pid)
        if mb is not None:
            series[name].append(mb)


def _open_actions(since) -> int:
    from entryway.deviceapi.choices import OPEN_STATUSES
    from entryway.deviceapi.models import DeviceAction

    return DeviceAction.objects.filter(created_at__gte=since, status__in=OPEN_STATUSES).count()


def _platform_actions(since) -> dict:
    from django.db.models import Count

    from entryway.deviceapi.models import DeviceAction

    rows = (DeviceAction.objects.filter(created_at__gte=since).values("kind", "status")
            .annotate(n=Count("id")).order_by("kind", "status"))
    out: dict[str, dict[str, int]] = collections.defaultdict(dict)
    for row in rows:
        out[row["kind"]][row["status"]] = row["n"]
    return out


def _strategies(since) -> dict:
    from entryway.firmware.models import UpdateStrategy

    return collections.Counter(UpdateStrategy.objects.filter(created_at__gte=since).values_list("status", flat=True))


def _server_statuses(port: int) -> dict[str, int]:
    """The server's own count of responses by status (prometheus multiprocess: every worker)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    out: collections.Counter = collections.Counter()
    for match in re.finditer(r'^entryway_http_requests_total\{([^}]*)\} ([\d.e+]+)$', text, re.MULTILINE):
        status = re.search(r'status="(\d+)"', match.group(1)).group(1)
        out[status] += int(float(match.group(2)))
    return dict(sorted(out.items()))


def _spread(values: list[float]) -> float:
    tail = values[1:] or values
    return (max(tail) / min(tail) - 1) * 100 if tail and min(tail) else float("nan")


def main() -> None:
    var_dir = tempfile.mkdtemp(prefix="entryway-bench-soak-")
    env = _setup_django(var_dir)
    from django.db import connection
    from django.utils import timezone

    t = time.perf_counter()
    seed = _seed(N_DEVICES)
    connection.close()
    print(f"machine: {common.machine()}; {N_DEVICES} devices ({len(seed['monitor_owners'])} indoor monitors, "
          f"{len(seed['doors'])} R29), poll {POLL} s; seeded in {time.perf_counter() - t:.1f} s", flush=True)
    consumer_log = open(os.path.join(var_dir, "huey.log"), "w")  # noqa: SIM115 - closed below
    consumer = subprocess.Popen([common.PYTHON, str(common.ROOT / "manage.py"), "run_huey", "--workers", "2",
                                 "--flush-locks"], env=env, cwd=common.ROOT, stdout=consumer_log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    fleet = installer = None
    try:
        with (common.Server(dict(env), workers=2, port=PORT) as server,
              common.Server(dict(env), workers=2, role="devices") as devices):
            fleet = FleetProcess(seed["specs"], devices.url, var_dir)
            # Warm-up: every device provisions (AutoP file) and checks in once.
            t = time.perf_counter()
            deadline = time.monotonic() + 4 * POLL + 300
            while time.monotonic() < deadline:
                status = fleet.status()
                if status.get("checked_in", 0) >= N_DEVICES:
                    break
                if fleet.proc.poll() is not None:
                    raise RuntimeError("the fleet process ended during the warm-up")
                time.sleep(2)
            status = fleet.status()
            print(f"warm-up: {status.get('checked_in', 0)} of {N_DEVICES} devices provisioned and checked in "
                  f"in {time.perf_counter() - t:.0f} s", flush=True)
            base = status.get("counters", {})
            procs = _processes([server, devices], consumer)
            series: dict[str, list[float]] = collections.defaultdict(list)
            loads: list[float] = []
            since = timezone.now()
            stop = threading.Event()
            installer = Installer(PORT, seed, stop)
            installer.start()
            # The portal's warm-up: the installer's first rounds visit every kind of page once (each worker
            # loads its templates and lazy imports); the soak and its memory series start after them.
            t = time.perf_counter()
            warm_deadline = time.monotonic() + 300
            while installer.rounds < WARM_ROUNDS and installer.is_alive() and time.monotonic() < warm_deadline:
                time.sleep(1)
            print(f"portal warm-up: {installer.rounds} installer rounds in {time.perf_counter() - t:.0f} s",
                  flush=True)
            _sample(procs, series)
            loads.append(os.getloadavg()[0])
            start = time.monotonic()
            end = start + MINUTES * 60
            while time.monotonic() < end and installer.is_alive():
                time.sleep(max(0.0, min(SAMPLE_SECONDS, end - time.monotonic())))
                _sample(procs, series)
                loads.append(os.getloadavg()[0])
                s = fleet.status()
                print(f"  {time.monotonic() - start:4.0f} s: load {loads[-1]:.1f}; " + ", ".join(
                    f"{k} {v[-1]:.0f} MB" for k, v in series.items()) + f"; check-ins "
                    f"{s.get('counters', {}).get('checkins', 0) - base.get('checkins', 0)}, installer rounds "
                    f"{installer.rounds}", flush=True)
            stop.set()
            installer.join(60)
            soak_seconds = time.monotonic() - start
            # Drain: every action issued taken and reported, then one more poll interval for settings changes.
            t = time.perf_counter()
            drain_deadline = time.monotonic() + 4 * POLL + 120
            while time.monotonic() < drain_deadline and _open_actions(since):
                time.sleep(2)
            still_open = _open_actions(since)
            time.sleep(POLL + 10)
            drained = time.perf_counter() - t
            connection.close()
            server_statuses = _server_statuses(PORT)
            fleet_final = fleet.stop()
            fleet = None
    finally:
        if fleet is not None:
            fleet.stop()
        if installer is not None:
            installer.stop.set()
        if consumer.poll() is None:
            os.killpg(consumer.pid, signal.SIGTERM)
            try:
                consumer.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(consumer.pid, signal.SIGKILL)
        consumer_log.close()

    _report(installer, seed, since, fleet_final, base, series, loads, server_statuses, soak_seconds, drained,
            still_open, var_dir)


def _report(installer, seed, since, fleet_final, base, series, loads, server_statuses, soak_seconds, drained,
            still_open, var_dir) -> None:
    from django.db import connection

    platform = _platform_actions(since)
    strategies = _strategies(since)
    connection.close()
    counters = fleet_final["counters"]
    checkins = counters.get("checkins", 0) - base.get("checkins", 0)
    fleet_statuses = {k.split(" ", 1)[1]: v - base.get(k, 0) for k, v in sorted(counters.items())
                      if k.startswith("http ")}
    devices = fleet_final["devices"]
    carried = collections.Counter(kind for d in devices.values() for kind in d["done"].values())
    undelivered = sum(len(d["undelivered"]) for d in devices.values())
    failed_on_device = collections.Counter(kind for d in devices.values() for kind in d["failed"].values())
    stale = [mac for mac, loc in installer.locations.items() if devices.get(mac, {}).get("location") != loc]
    b = installer.b
    print(f"\nsoak {soak_seconds / 60:.1f} min, drain {drained:.0f} s; {N_DEVICES} devices, poll {POLL} s; "
          f"granian 2 workers x {os.environ.get('BENCH_WEB_THREADS', '4')} threads, Huey consumer 2 threads")
    print(f"load average (1 min) every 30 s: {', '.join(f'{x:.1f}' for x in loads)}")
    if installer.error is not None:
        print(f"installer STOPPED WITH AN ERROR: {installer.error!r}")
    print(f"installer: {installer.rounds} rounds, {sum(b.statuses.values())} requests; by status "
          f"{dict(sorted(b.statuses.items(), key=str))}; operations done {dict(installer.done)}")
    for label, values in sorted(b.latency.items()):
        if not label.endswith("(after)"):
            print(f"  {label:<24} {len(values):4d} x, p50 {common.percentile(values, 50) * 1000:6.0f} ms, "
                  f"max {max(values) * 1000:6.0f} ms")
    if installer.refused:
        print(f"installer: {len(installer.refused)} forms refused: " + " | ".join(installer.refused[:5]))
    for failure in b.failures[:10]:
        print("  5xx / connection error: " + failure)
    print(f"fleet: {checkins} check-ins during the soak and drain ({checkins / (soak_seconds + drained):.1f}/s), "
          f"{counters.get('requests', 0) - base.get('requests', 0)} requests; by status {fleet_statuses}; "
          f"errors {counters.get('errors', 0) - base.get('errors', 0)}; simulator CPU "
          f"{fleet_final['cpu_seconds']:.0f} s; last errors by kind {fleet_final['errors_by_kind']}")
    print(f"server (its own count, every worker): responses by status {server_statuses}")
    fives = sum(v for k, v in b.statuses.items() if isinstance(k, int) and k >= 500) + sum(
        v for k, v in fleet_statuses.items() if int(k) >= 500) + sum(
        v for k, v in server_statuses.items() if int(k) >= 500)
    connection_errors = b.statuses.get("connection error", 0)
    print(f"5xx: {fives} (target 0: {'met' if fives == 0 and connection_errors == 0 else 'NOT met'}"
          f"{f', {connection_errors} connection errors' if connection_errors else ''})")
    lost_total = 0
    for kind in sorted(set(installer.issued) | set(platform)):
        states = platform.get(kind, {})
        issued, recorded, success = installer.issued.get(kind, 0), sum(states.values()), states.get("success", 0)
        # Lost: issued but not Success on the platform or not carried out by its device; or recorded
        # by the platform without being issued (a duplicate) or left in another state.
        lost = issued - min(issued, success, carried.get(kind, 0)) + abs(recorded - issued)
        lost_total += lost
        print(f"  {kind:<8} issued {issued:4d}; platform {recorded:4d} ({states}); carried out by the devices "
              f"{carried.get(kind, 0):4d}, failed on the device {failed_on_device.get(kind, 0)}; lost {lost}")
    print(f"  strategies: {dict(strategies)}; open actions when the drain ended: {still_open}; results never "
          f"delivered: {undelivered}; edited devices {len(installer.locations)}, not showing the new Location "
          f"{len(stale)}{' ' + ', '.join(stale[:5]) if stale else ''}")
    lost_total += undelivered + len(stale) + still_open
    print(f"lost actions: {lost_total} (target 0: {'met' if lost_total == 0 and installer.error is None else 'NOT met'})")
    flat_all = True
    for name, values in series.items():
        spread = _spread(values)
        flat = spread <= FLAT * 100
        flat_all &= flat
        print(f"  {name:<15} RSS every {SAMPLE_SECONDS} s: {', '.join(f'{v:.0f}' for v in values)} MB; spread after "
              f"the first sample {spread:.1f} % ({'flat' if flat else 'NOT flat'})")
    print(f"memory flat (+-{FLAT * 100:.0f} % per process after the first sample): {'met' if flat_all else 'NOT met'}")
    print(f"(logs: {var_dir})")


if __name__ == "__main__":
    main()
