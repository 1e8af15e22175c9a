"""One simulated intercom: provisioning, check-ins, MQTT wake-ups and the actions it carries out.

A ``SimDevice`` speaks only docs/device-protocol.md. Its state (configuration dict, firmware, boots,
displayed messages, reported results) is plain attributes that tests and benchmarks read.
"""
from __future__ import annotations

import asyncio
import base64
import collections
import datetime
import hashlib
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import aiohttp

from entryway.sim.autop import AutopSyntaxError, apply_lines, parse_autop

if TYPE_CHECKING:
    from entryway.sim.fleet import Fleet

log = logging.getLogger("entryway.sim")

DEFAULT_MODEL = "R29"
DEFAULT_FIRMWARE = "29.30.2.805"


def default_firmware(model: str) -> str:
    """A plausible running version for a model, numbered as Akuvox does: R29 -> 29.30.2.805."""
    digits = "".join(ch for ch in model or "" if ch.isdigit()).lstrip("0")
    return f"{digits}.30.2.805" if digits else DEFAULT_FIRMWARE
DEFAULT_POLL_INTERVAL = 60
RETRY_MIN, RETRY_MAX = 2.0, 60.0

# Configuration keys the device acts on (docs/device-protocol.md, section 2).
KEY_SERVER = "Config.Entryway.CLOUD.Server"
KEY_SECRET = "Config.Entryway.CLOUD.DeviceSecret"
KEY_POLL = "Config.Entryway.CLOUD.PollInterval"
KEY_MQTT_ENABLE = "Config.Entryway.MQTT.Enable"
KEY_MQTT_URL = "Config.Entryway.MQTT.Url"
KEY_MQTT_USER = "Config.Entryway.MQTT.Username"
KEY_MQTT_PASSWORD = "Config.Entryway.MQTT.Password"
KEY_MQTT_TOPIC = "Config.Entryway.MQTT.Topic"
KEY_MQTT_RESULT_TOPIC = "Config.Entryway.MQTT.ResultTopic"
# How long a result published over MQTT waits for the broker's acknowledgement before it goes by HTTP.
MQTT_RESULT_TIMEOUT = 10.0
KEY_FIRMWARE_URL = "Config.Firmware.Url"

# An action handler: ``await handler(device, action)`` carries the action out and reports its result
# with ``device.report(...)``. Register more with ``entryway.sim.register_action_handler``.
ActionHandler = Callable[["SimDevice", dict], Awaitable[None]]


@dataclass
class DeviceSpec:
    """What a device knows when it is switched on for the first time."""

    mac: str
    secret: str = ""  # its device secret, when known (otherwise it provisions with installer credentials)
    model: str = DEFAULT_MODEL
    firmware: str = ""  # empty: the model's usual version (default_firmware)
    ip: str = ""
    autop_user: str = ""  # installer AutoP credentials for this device (else the fleet's)
    autop_password: str = ""


@dataclass
class Result:
    action_id: int
    kind: str
    status: str
    stage: str = ""
    detail: str = ""
    at: float = field(default_factory=time.time)
    delivered: bool = False  # the platform recorded it (or answered that the action is gone or final)
    delivered_at: float | None = None  # time.time() of that answer


class HttpError(Exception):
    def __init__(self, status: int, text: str = "", retry_after: float | None = None):
        self.status, self.text, self.retry_after = status, text, retry_after
        super().__init__(f"HTTP {status}: {text[:200]}")


class Reprovision(Exception):
    """The platform refused the device's credentials: fetch the AutoP file again."""


class RebootRequested(Exception):
    """Raised by an action handler that restarts the device (after reporting its result)."""

    def __init__(self, reason: str = "reboot"):
        self.reason = reason
        super().__init__(reason)


class SimDevice:
    def __init__(self, spec: DeviceSpec, fleet: Fleet, rng: random.Random):
        self.spec = spec
        self.fleet = fleet
        self.rng = rng
        self.mac = spec.mac
        self.model = spec.model or DEFAULT_MODEL
        self.firmware = spec.firmware or default_firmware(self.model)
        self.ip = spec.ip or f"192.168.{rng.randint(0, 254)}.{rng.randint(2, 254)}"
        self.secret = spec.secret
        self.config: dict[str, str] = {}
        self.config_version: str | None = None  # the version whose file was last applied
        self.poll_interval: float = fleet.poll_interval or DEFAULT_POLL_INTERVAL

        # state
        self.state = "off"  # off, provisioning, online, unreachable, rebooting, unprovisioned
        self.powered = True
        self.boots = 0  # restarts since the simulation started (reboots, upgrades)
        self.booted_at = time.monotonic()
        self.uptime_base = rng.randint(600, 30 * 86400)  # it has been running a while before the simulation
        self.last_checkin_at: float | None = None  # wall clock of the last successful check-in
        self.checkins = 0
        self.autop_fetches = 0
        self.last_error = ""
        self.messages: list[dict] = []  # messages shown on the screen
        self.results: list[Result] = []  # every result reported, in order
        self.final: dict[int, str] = {}  # action id -> final status reported
        self.upgrades: list[dict] = []  # {"from", "to", "action_id"} for each installed firmware
        self.events: collections.deque = collections.deque(maxlen=200)
        self.web_settings: dict[str, str] = {}  # what was changed through its own web interface
        from entryway.sim.web import DeviceWebInterface

        self.web = DeviceWebInterface(self)  # its own pages, e.g. for Remote Control to relay requests to
        self.mqtt = None  # entryway.sim.mqtt.MqttListener while subscribed
        self.last_push_at: float | None = None  # time.time() of the latest MQTT message
        self.new_loop()
        self._unreported: dict[int, tuple[Result, dict]] = {}  # final results that did not get through yet
        self._pushed: list[dict] = []  # actions a push brought, not yet carried out
        self._checkin_now = False  # a push asked for a check-in

    # -- inspection ------------------------------------------------------------------------------------

    @property
    def uptime(self) -> int:
        return int(time.monotonic() - self.booted_at) + self.uptime_base

    @property
    def online(self) -> bool:
        """Checked in successfully, recently, and not restarting or switched off."""
        if self.state != "online" or self.last_checkin_at is None:
            return False
        return time.time() - self.last_checkin_at <= max(2 * self.poll_interval, 10)

    def result_for(self, action_id: int) -> Result | None:
        for result in reversed(self.results):
            if result.action_id == action_id:
                return result
        return None

    def _event(self, text: str) -> None:
        self.events.append((time.time(), text))
        log.info("%s: %s", self.mac, text)

    # -- control (from the fleet, on the loop's thread) ---------------------------------------------------

    def new_loop(self) -> None:
        """Fresh events for a (new) event loop: a fleet may be run more than once."""
        self._wake = asyncio.Event()
        self._waiting: asyncio.Future | None = None  # the pause that wake() ends (SimDevice._pause)
        self._power_on = asyncio.Event()
        if self.powered:
            self._power_on.set()

    def wake(self) -> None:
        """Check in now (what an MQTT message does)."""
        self._wake.set()
        if self._waiting is not None:
            _end_pause(self._waiting)

    def power_off(self) -> None:
        """Switch the device off: no check-ins until ``power_on``."""
        self.powered = False
        self._power_on.clear()
        self.wake()

    def power_on(self) -> None:
        self.powered = True
        self._power_on.set()

    # -- HTTP --------------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self.fleet.follow_cloud_server and self.config.get(KEY_SERVER):
            return self.config[KEY_SERVER].rstrip("/")
        return self.fleet.server

    def _auth(self, user: str, password: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def _device_auth(self) -> str:
        return self._auth(self.mac, self.secret)

    async def _request(self, method: str, path: str, *, auth: str, body: Any = None) -> tuple[int, str]:
        headers = {"Authorization": auth, "User-Agent": f"entryway-sim/{self.model} {self.firmware}"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body)
        self.fleet.counters["requests"] += 1
        async with self.fleet.session.request(method, self.base_url + path, headers=headers, data=data) as resp:
            text = await resp.text()
            self.fleet.counters[f"http {resp.status}"] += 1
            log.debug("%s: %s %s -> %s", self.mac, method, path, resp.status)
            if resp.status == 429:
                retry = resp.headers.get("Retry-After")
                raise HttpError(429, text, float(retry) if retry and retry.isdigit() else None)
            return resp.status, text

    # -- provisioning ----------------------------------------------------------------------------------

    def _credential_sets(self) -> list[tuple[str, str]]:
        sets = []
        for secret in dict.fromkeys([self.secret, self.spec.secret]):
            if secret:
                sets.append((self.mac, secret))
        user = self.spec.autop_user or self.fleet.autop_user
        password = self.spec.autop_password or self.fleet.autop_password
        if user:
            sets.append((user, password or ""))
        return sets

    async def fetch_autop(self) -> None:
        """``GET /autop/<MAC>.cfg`` with its own credentials, else the installer's; apply the file."""
        candidates = self._credential_sets()
        if not candidates:
            raise HttpError(401, "no credentials: neither a device secret nor installer AutoP credentials")
        status, text = 0, ""
        for user, password in candidates:
            status, text = await self._request("GET", f"/autop/{self.mac}.cfg", auth=self._auth(user, password))
            if status != 401:
                break
        if status != 200:
            raise HttpError(status, text)
        self.autop_fetches += 1
        self.apply_file(text)
        # The platform's config_version is the start of the file's SHA-256: the version just applied.
        self.config_version = hashlib.sha256(text.encode()).hexdigest()[:16]

    def apply_file(self, text: str) -> None:
        """Apply a provisioning file on top of the current configuration (lines it cannot read are skipped)."""
        settings = parse_autop(text)
        self.config.update(settings)
        if settings.get(KEY_SECRET):
            self.secret = settings[KEY_SECRET]
        if not self.fleet.poll_interval and settings.get(KEY_POLL, "").isdigit():
            self.poll_interval = max(1, int(settings[KEY_POLL]))
        self._event(f"applied AutoP file ({len(settings)} settings)")

    # -- MQTT ---------------------------------------------------------------------------------------------

    def mqtt_settings(self) -> dict | None:
        if not self.fleet.mqtt_enabled:
            return None
        enabled = self.config.get(KEY_MQTT_ENABLE) == "1"
        url = self.fleet.mqtt_url or (self.config.get(KEY_MQTT_URL) if enabled else "")
        if not url:
            return None
        return {
            "url": url,
            "username": self.config.get(KEY_MQTT_USER) or self.mac,
            "password": self.config.get(KEY_MQTT_PASSWORD, ""),
            "topic": self.config.get(KEY_MQTT_TOPIC) or f"entryway/device/{self.mac}/cmd",
        }

    def _start_mqtt(self) -> None:
        wanted = self.mqtt_settings()
        current = getattr(self.mqtt, "settings", None)
        if wanted == current and self.mqtt is not None:
            return
        self._stop_mqtt()
        if wanted is None:
            return
        from entryway.sim.mqtt import MqttListener

        try:
            listener = MqttListener(url=wanted["url"], username=wanted["username"], password=wanted["password"],
                                    topic=wanted["topic"], client_id=self.mac, on_message=self._on_push)
        except ValueError as exc:
            self.last_error = str(exc)
            return
        listener.settings = wanted
        self.mqtt = listener
        listener.start()

    def _stop_mqtt(self) -> None:
        if self.mqtt is not None:
            self.mqtt.stop()
            self.mqtt = None

    def _on_push(self, topic: str, payload: bytes) -> None:
        self.fleet.counters["pushes"] += 1
        self.last_push_at = time.time()
        self._event(f"MQTT message on {topic}")
        actions = self._pushed_actions(payload) if self.fleet.pushed_actions else None
        if actions is None:
            self._checkin_now = True
        else:
            self._pushed.extend(actions)
        self.wake()

    def _pushed_actions(self, payload: bytes) -> list[dict] | None:
        """The actions a push carries (docs/device-protocol.md, section 5), or None when it calls for a check-in:
        a plain call, a message that cannot be read, or one sent more than a poll interval ago (a broker kept it
        while the device was away: what it carried may be over by now)."""
        try:
            message = json.loads(payload)
            at = datetime.datetime.strptime(message["at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
        except (ValueError, TypeError, KeyError):
            return None
        actions = message.get("actions") if message.get("type") == "actions" else None
        if not isinstance(actions, list) or abs(time.time() - at.timestamp()) > self.poll_interval:
            return None
        return [action for action in actions if isinstance(action, dict)]

    # -- check-in ---------------------------------------------------------------------------------------

    async def checkin(self) -> dict:
        body = {"model": self.model, "firmware": self.firmware, "ip": self.ip, "uptime": self.uptime}
        status, text = await self._request("POST", "/device/v1/checkin", auth=self._device_auth(), body=body)
        if status != 200:
            raise HttpError(status, text)
        answer = json.loads(text)
        self.checkins += 1
        self.fleet.counters["checkins"] += 1
        self.last_checkin_at = time.time()
        self.state = "online"
        if not self.fleet.poll_interval and isinstance(answer.get("poll_interval"), (int, float)):
            self.poll_interval = max(1, answer["poll_interval"])
        return answer

    async def report(self, action: dict, status: str, *, stage: str = "", detail: str = "") -> Result:
        """On the status topic when the AutoP file names one and the broker is connected, else
        ``POST /device/v1/actions/<id>/result``.

        A final result that does not get through is tried again a few times, then after each later
        check-in until the platform has it (it never comes back in a check-in once ``proceeding``).
        """
        action_id, kind = action["id"], action.get("kind", "")
        body = {"status": status}
        if stage:
            body["stage"] = stage
        if detail:
            body["detail"] = detail[:2000]
        result = Result(action_id, kind, status, stage, detail)
        self.results.append(result)
        final = status in ("success", "failure")
        if final:
            self.final[action_id] = status
            self.fleet.counters["actions_done" if status == "success" else "actions_failed"] += 1
        attempts = 3 if final else 1
        for attempt in range(attempts):
            if await self._send_result(action_id, body):
                self._delivered(result)
                return result
            if attempt + 1 < attempts:
                await self._sleep(min(self.poll_interval, RETRY_MIN * (attempt + 1)) * self.rng.uniform(0.8, 1.2))
        if final:
            self._unreported[action_id] = (result, body)
        return result

    async def _send_result(self, action_id: int, body: dict) -> bool:
        """The result to the platform: published on the status topic (delivered once the broker acknowledges
        it; the platform's report consumer records it), or by HTTP."""
        topic = self.config.get(KEY_MQTT_RESULT_TOPIC)
        if topic and self.mqtt is not None and self.mqtt.connected:
            message = json.dumps({"type": "result", "action": action_id, **body}).encode()
            if await self.mqtt.publish(topic, message, MQTT_RESULT_TIMEOUT):
                self.fleet.counters["mqtt_results"] += 1
                return True
        return await self._post_result(action_id, body)

    async def _post_result(self, action_id: int, body: dict) -> bool:
        try:
            code, text = await self._request("POST", f"/device/v1/actions/{action_id}/result",
                                             auth=self._device_auth(), body=body)
        except (TimeoutError, aiohttp.ClientError, HttpError) as exc:
            code, text = 0, f"{exc.__class__.__name__} {exc}"
        if code in (200, 404, 409):  # recorded; or gone / already final: nothing more to say
            return True
        self._note_error(f"result of action {action_id}", HttpError(code, text) if code else Exception(text))
        return False

    async def flush_results(self) -> None:
        """Send the final results that did not get through before."""
        for action_id, (result, body) in list(self._unreported.items()):
            if await self._send_result(action_id, body):
                self._delivered(result)

    def _delivered(self, result: Result) -> None:
        """The platform has the result (its HTTP answer, or its broker's acknowledgement of the published
        result): a final one counts in the fleet's ``finished`` for its kind."""
        result.delivered, result.delivered_at = True, time.time()
        self._unreported.pop(result.action_id, None)
        if result.status in ("success", "failure"):
            self.fleet.finished[result.kind][self.mac] = result

    async def handle_actions(self, actions: list) -> None:
        for action in actions:
            if not isinstance(action, dict) or not isinstance(action.get("id"), int):
                continue
            if action["id"] in self.final:
                continue  # done already (its result is sent by flush_results if it did not get through)
            handler = self.fleet.handlers.get(action.get("kind"))
            if handler is None:
                await self.report(action, "failure", detail="unsupported")
                continue
            await handler(self, action)

    # -- the device's life --------------------------------------------------------------------------------

    async def run(self, start_delay: float = 0.0) -> None:
        """Boot, then check in on the poll interval until the fleet stops."""
        if start_delay > 0:
            await self._sleep(start_delay)
        while not self.fleet.stopping:
            if not self.powered:
                self._stop_mqtt()
                self.state = "off"
                await self._wait_power_on()
                self.booted_at, self.uptime_base = time.monotonic(), 0
                continue
            try:
                await self._life()
            except RebootRequested as reboot:
                await self._restart(reboot.reason)
            except Reprovision:
                self._stop_mqtt()
                await self._sleep(self.rng.uniform(RETRY_MIN, 2 * RETRY_MIN))
        self._stop_mqtt()

    async def _wait_power_on(self) -> None:
        stop = asyncio.ensure_future(self.fleet.stopped.wait())
        power = asyncio.ensure_future(self._power_on.wait())
        try:
            await asyncio.wait({stop, power}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            power.cancel()

    async def _restart(self, reason: str) -> None:
        self._stop_mqtt()
        self.state = "rebooting"
        self._event(f"restarting ({reason})")
        await self._sleep(self.fleet.reboot_seconds)
        self.boots += 1
        self.booted_at, self.uptime_base = time.monotonic(), 0
        self._event("booted")

    async def _life(self) -> None:
        """From power-on to power-off (or a restart, raised as RebootRequested)."""
        self.state = "provisioning"
        backoff = RETRY_MIN
        while not self.fleet.stopping and self.powered:
            try:
                await self.fetch_autop()
                break
            except (TimeoutError, aiohttp.ClientError, HttpError, ValueError) as exc:
                self._note_error("AutoP", exc)
                if isinstance(exc, HttpError) and exc.status in (401, 404):
                    self.state = "unprovisioned"
                await self._sleep(self._retry_delay(exc, backoff))
                backoff = min(backoff * 2, RETRY_MAX)
        if self.fleet.stopping or not self.powered:
            return
        self._pushed, self._checkin_now = [], False
        self._start_mqtt()
        backoff = RETRY_MIN
        next_checkin = 0.0  # time.monotonic() of the next check-in: at once after (re)provisioning
        while not self.fleet.stopping and self.powered:
            self._wake.clear()
            pushed, self._pushed = self._pushed, []
            if pushed and not self._checkin_now and time.monotonic() < next_checkin:
                # A push that brings its actions: carried out without a check-in, which stays on its interval.
                try:
                    await self.handle_actions(pushed)
                except (TimeoutError, aiohttp.ClientError, HttpError, ValueError) as exc:
                    self._note_error("pushed action", exc)
                await self._wait(next_checkin - time.monotonic())
                continue
            self._checkin_now = False
            delay = self.poll_interval
            try:
                answer = await self.checkin()
                backoff = RETRY_MIN
                if self._unreported:
                    await self.flush_results()
                await self.handle_actions(answer.get("actions") or [])
                version = answer.get("config_version")
                if version and version != self.config_version:
                    await self.fetch_autop()
                    if self.config_version != version:
                        # The file changed again since the answer, or the platform's version is not the
                        # file's hash: the answer's version counts as applied, so that a device never
                        # fetches on every check-in; a later change gives a new version.
                        self.config_version = version
                    self._start_mqtt()
            except RebootRequested:
                raise
            except (TimeoutError, aiohttp.ClientError, HttpError, ValueError) as exc:
                self._note_error("check-in", exc)
                if isinstance(exc, HttpError) and exc.status == 401:
                    self.secret = ""  # forgotten: provision again with the known or installer credentials
                    raise Reprovision() from None
                self.state = "unreachable"
                delay = self._retry_delay(exc, backoff)
                backoff = min(backoff * 2, RETRY_MAX)
            next_checkin = time.monotonic() + delay
            await self._wait(delay)

    def _note_error(self, what: str, exc: Exception) -> None:
        self.last_error = f"{what}: {exc}"
        self.fleet.counters["errors"] += 1
        log.info("%s: %s", self.mac, self.last_error)

    def _retry_delay(self, exc: Exception, backoff: float) -> float:
        if isinstance(exc, HttpError) and exc.retry_after:
            return exc.retry_after + self.rng.uniform(0, 1)
        return min(backoff, self.poll_interval) * self.rng.uniform(0.8, 1.2)

    async def _wait(self, seconds: float) -> None:
        """Until the next check-in: the poll interval, an MQTT message, power-off or the fleet's stop."""
        if self._wake.is_set() or self.fleet.stopping:
            return
        await self._pause(seconds, wakeable=True)

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but return at once when the fleet stops."""
        if seconds <= 0 or self.fleet.stopping:
            return
        await self._pause(seconds, wakeable=False)

    async def _pause(self, seconds: float, *, wakeable: bool) -> None:
        """``seconds``, ended early by the fleet's stop and, when ``wakeable``, by ``wake()``: one future and
        one timer, no task (the fleet's ``StopEvent`` ends the pauses in its ``pauses``)."""
        pauses = self.fleet.stopped.pauses
        loop = asyncio.get_running_loop()
        pause = loop.create_future()
        timer = loop.call_later(max(0.0, seconds), _end_pause, pause)
        pauses.add(pause)
        if wakeable:
            self._waiting = pause
        try:
            await pause
        finally:
            timer.cancel()
            pauses.discard(pause)
            if self._waiting is pause:
                self._waiting = None


def _end_pause(pause: asyncio.Future) -> None:
    if not pause.done():
        pause.set_result(None)


# -- the actions of docs/device-protocol.md, section 3 ---------------------------------------------------------


async def do_reboot(device: SimDevice, action: dict) -> None:
    await device.report(action, "success", detail="rebooting")
    raise RebootRequested("reboot action")


async def do_autop(device: SimDevice, action: dict) -> None:
    payload = action.get("payload") or {}
    lines = payload.get("lines") if isinstance(payload, dict) else None
    if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
        await device.report(action, "failure", detail="payload.lines must be a list of AutoP lines")
        return
    try:
        applied = apply_lines(device.config, lines)
    except AutopSyntaxError as exc:
        await device.report(action, "failure", detail=f"line {exc.line_number}: {exc.line}")
        return
    device._event(f"applied One Time AutoP ({len(applied)} settings)")
    await device.report(action, "success", detail=f"applied {len(applied)} setting(s)")


async def do_message(device: SimDevice, action: dict) -> None:
    payload = action.get("payload") if isinstance(action.get("payload"), dict) else {}
    device.messages.append({
        "action_id": action["id"],
        "message_id": payload.get("message_id"),
        "title": str(payload.get("title", "")),
        "body": str(payload.get("body", "")),
        "displayed_at": time.time(),
    })
    device._event(f"displayed message {payload.get('title', '')!r}")
    await device.report(action, "success", detail="displayed")


async def do_upgrade(device: SimDevice, action: dict) -> None:
    payload = action.get("payload") if isinstance(action.get("payload"), dict) else {}
    url, expected_sha, version = payload.get("url"), str(payload.get("sha256") or "").lower(), payload.get("version")
    size = payload.get("size")
    if not url or not version:
        await device.report(action, "failure", detail="payload needs url and version")
        return
    await device.report(action, "proceeding", stage="downloading", detail="0%")
    digest, received = hashlib.sha256(), 0
    try:
        device.fleet.counters["requests"] += 1
        async with device.fleet.session.get(urljoin(device.base_url + "/", url)) as resp:
            device.fleet.counters[f"http {resp.status}"] += 1
            if resp.status != 200:
                await device.report(action, "failure", detail=f"download failed: HTTP {resp.status}")
                return
            async for chunk in resp.content.iter_chunked(64 * 1024):
                digest.update(chunk)
                received += len(chunk)
    except (TimeoutError, aiohttp.ClientError) as exc:
        await device.report(action, "failure", detail=f"download failed: {exc.__class__.__name__} {exc}"[:2000])
        return
    device.fleet.counters["bytes_downloaded"] += received
    if isinstance(size, int) and received != size:
        await device.report(action, "failure", detail=f"size mismatch: expected {size} bytes, got {received}")
        return
    if expected_sha and digest.hexdigest() != expected_sha:
        await device.report(action, "failure", detail="sha256 mismatch")
        return
    await device.report(action, "proceeding", stage="installing", detail=f"{received} bytes verified")
    await device._sleep(device.fleet.install_seconds)
    if device.fleet.fail_rate and device.rng.random() < device.fleet.fail_rate:
        await device.report(action, "failure", detail="installation failed: flash write error")
        return
    previous, device.firmware = device.firmware, str(version)
    device.upgrades.append({"from": previous, "to": device.firmware, "action_id": action["id"]})
    device._event(f"firmware {previous} -> {device.firmware}")
    await device.report(action, "success", detail=f"upgraded to {device.firmware}")
    raise RebootRequested("firmware installed")


async def do_remote_control(device: SimDevice, action: dict) -> None:
    from entryway.sim.tunnel import remote_control

    await remote_control(device, action)


DEFAULT_HANDLERS: dict[str, ActionHandler] = {
    "reboot": do_reboot,
    "autop": do_autop,
    "message": do_message,
    "upgrade": do_upgrade,
    "remote_control": do_remote_control,
}
