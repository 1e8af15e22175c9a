"""A small stand-in for the platform's device API, written from docs/device-protocol.md.

It lets the simulator's own tests run without Django: it serves AutoP files, check-ins, results and
a firmware file, and records what the devices sent.
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import threading

from aiohttp import web


class FakePlatform:
    def __init__(self, *, autop_user: str = "ap-test", autop_password: str = "pw-test", poll_interval: int = 1):
        self.autop_user, self.autop_password = autop_user, autop_password
        self.poll_interval = poll_interval
        self.devices: dict[str, dict] = {}
        self.actions: dict[int, dict] = {}
        self.checkins: list[dict] = []
        self.results: list[dict] = []
        self.autop_requests: list[tuple[str, str]] = []  # (mac, user)
        self.files: dict[str, bytes] = {}
        self.mqtt_url = ""
        self.version_salt = ""  # a platform whose config_version is not the file's hash
        self.next_id = 1
        self.runner: web.AppRunner | None = None
        self.url = ""

    # -- set-up -------------------------------------------------------------------------------------------

    def add_device(self, mac: str, secret: str = "", **extra) -> dict:
        device = {"mac": mac, "secret": secret or f"secret-{mac}", "regular": [], **extra}
        self.devices[mac] = device
        return device

    def add_action(self, mac: str, kind: str, payload: dict | None = None) -> int:
        action_id = self.next_id
        self.next_id += 1
        self.actions[action_id] = {"id": action_id, "mac": mac, "kind": kind, "payload": payload or {},
                                   "status": "pending", "stage": "", "detail": ""}
        return action_id

    def add_file(self, name: str, content: bytes) -> tuple[str, str]:
        self.files[name] = content
        return f"/files/{name}", hashlib.sha256(content).hexdigest()

    def results_for(self, action_id: int) -> list[dict]:
        return [r for r in self.results if r["id"] == action_id]

    # -- the device API -----------------------------------------------------------------------------------

    def autop_file(self, mac: str) -> str:
        device = self.devices[mac]
        lines = [f"# AutoP for {mac}", "Config.Account1.GENERAL.Enable = 1",
                 f"Config.DoorSetting.DEVICENODE.Location = {device.get('location', 'Gate')}",
                 f"Config.Entryway.CLOUD.Server = {self.url}",
                 f"Config.Entryway.CLOUD.DeviceSecret = {device['secret']}",
                 f"Config.Entryway.CLOUD.PollInterval = {self.poll_interval}"]
        if self.mqtt_url:
            lines += ["Config.Entryway.MQTT.Enable = 1", f"Config.Entryway.MQTT.Url = {self.mqtt_url}",
                      f"Config.Entryway.MQTT.Username = {mac}", "Config.Entryway.MQTT.Password = x",
                      f"Config.Entryway.MQTT.Topic = entryway/device/{mac}/cmd"]
        lines += device["regular"]
        for action in self._open(mac):
            if action["kind"] == "autop":
                lines += [f"# One Time AutoP (action {action['id']})", *action["payload"]["lines"]]
        return "\n".join(lines) + "\n"

    def _open(self, mac: str) -> list[dict]:
        return [a for a in self.actions.values()
                if a["mac"] == mac and a["status"] in ("pending", "sent", "proceeding")]

    def _basic(self, request) -> tuple[str, str] | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user, password

    def _device(self, request) -> dict | None:
        creds = self._basic(request)
        if creds is None:
            return None
        device = self.devices.get(creds[0])
        return device if device is not None and device["secret"] == creds[1] else None

    async def handle_autop(self, request):
        mac = request.match_info["mac"]
        creds = self._basic(request)
        ok = creds is not None and (creds == (self.autop_user, self.autop_password)
                                    or (mac in self.devices and creds == (mac, self.devices[mac]["secret"])))
        if not ok:
            return web.Response(status=401, text="Authentication required.", headers={"WWW-Authenticate": "Basic"})
        if mac not in self.devices:
            return web.Response(status=404, text="Not found.")
        self.autop_requests.append((mac, creds[0]))
        return web.Response(text=self.autop_file(mac), content_type="text/plain")

    async def handle_checkin(self, request):
        device = self._device(request)
        if device is None:
            return web.json_response({"error": "Wrong MAC or secret."}, status=401)
        body = await request.json()
        self.checkins.append({"mac": device["mac"], **body})
        actions = []
        for action in self._open(device["mac"]):
            if action["status"] == "pending":
                action["status"] = "sent"
            if action["status"] == "sent":
                actions.append({k: action[k] for k in ("id", "kind", "payload")})
        version = hashlib.sha256((self.version_salt + self.autop_file(device["mac"])).encode()).hexdigest()[:16]
        return web.json_response({"poll_interval": self.poll_interval, "server_time": "2026-01-01T00:00:00Z",
                                  "config_version": version, "actions": actions})

    async def handle_result(self, request):
        device = self._device(request)
        if device is None:
            return web.json_response({"error": "Wrong MAC or secret."}, status=401)
        action = self.actions.get(int(request.match_info["id"]))
        if action is None or action["mac"] != device["mac"]:
            return web.json_response({"error": "No such action."}, status=404)
        body = json.loads(await request.text())
        self.results.append({"id": action["id"], **body})
        if action["status"] in ("success", "failure"):
            return web.json_response({"error": "The action is already final."}, status=409)
        action.update(status=body["status"], stage=body.get("stage", ""), detail=body.get("detail", ""))
        return web.json_response({k: action[k] for k in ("id", "kind", "status", "stage")})

    async def handle_file(self, request):
        content = self.files.get(request.match_info["name"])
        if content is None:
            return web.Response(status=404)
        return web.Response(body=content, content_type="application/octet-stream")

    # -- serving ------------------------------------------------------------------------------------------

    def _late(self, name: str):
        async def handler(request):
            return await getattr(self, name)(request)

        return handler

    async def start(self) -> FakePlatform:
        app = web.Application()
        # Looked up at each request, so that a test can replace a handler on the running platform.
        app.router.add_get("/autop/{mac}.cfg", self._late("handle_autop"))
        app.router.add_post("/device/v1/checkin", self._late("handle_checkin"))
        app.router.add_post("/device/v1/actions/{id}/result", self._late("handle_result"))
        app.router.add_get("/files/{name}", self._late("handle_file"))
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@contextlib.contextmanager
def served_platform(**options):
    """A FakePlatform served by its own event loop in a background thread (for synchronous tests)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box = {}

    def main():
        asyncio.set_event_loop(loop)

        async def start():
            box["platform"] = await FakePlatform(**options).start()
            ready.set()

        loop.create_task(start())
        loop.run_forever()

    thread = threading.Thread(target=main, name="fake-platform", daemon=True)
    thread.start()
    ready.wait(10)
    platform = box["platform"]
    try:
        yield platform
    finally:
        asyncio.run_coroutine_threadsafe(platform.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
