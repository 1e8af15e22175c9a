"""The simulated device's Remote Control tunnel against a small stand-in for the platform's tunnel routes."""
from __future__ import annotations

import asyncio
import base64
import random

import aiohttp
from aiohttp import web

from entryway.sim import DeviceSpec, Fleet, run_sync
from entryway.sim.device import SimDevice
from entryway.sim.fleet import StopEvent
from entryway.sim.tunnel import remote_control, tunnel_open

MAC, SECRET, TOKEN = "0C110512EE02", "s3cret", "Tok3nTok3nTok3nTok3n"


class StandIn:
    """Queues requests for the device, records its replies and action reports, and can end the session."""

    def __init__(self):
        self.queue: asyncio.Queue = asyncio.Queue()
        self.replies: dict[int, dict] = {}
        self.reports: list[dict] = []
        self.polls = 0
        self.auth: set[str] = set()
        self.closed = False
        self.url = ""

    async def next(self, request):
        self.polls += 1
        self.auth.add(request.headers.get("Authorization", ""))
        if request.match_info["token"] != TOKEN:
            return web.json_response({"error": "No such session."}, status=404)
        wait = float(request.query.get("wait", "1"))
        try:
            item = await asyncio.wait_for(self.queue.get(), timeout=min(wait, 0.3))
        except TimeoutError:
            item = None
        if self.closed:
            return web.json_response({"error": "The Remote Control session is closed.", "reason": "installer"},
                                     status=410)
        return web.json_response({"requests": [item] if item else [], "expires_in": 60, "max_body": 1 << 20})

    async def reply(self, request):
        self.replies[int(request.match_info["id"])] = await request.json()
        return web.json_response({"id": int(request.match_info["id"]), "stored": True})

    async def result(self, request):
        self.reports.append({"id": int(request.match_info["id"]), **(await request.json())})
        return web.json_response({"status": "ok"})


def relay(stand_in, request_id, method, target, headers=None, body=b""):
    stand_in.queue.put_nowait({"id": request_id, "method": method, "target": target, "headers": headers or [],
                               "body": base64.b64encode(body).decode()})


async def until(predicate, timeout=5.0):
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return predicate()


def test_tunnel_relays_the_web_interface_until_the_session_closes():
    async def scenario():
        stand_in = StandIn()
        app = web.Application()
        app.router.add_get("/device/v1/tunnel/{token}/next", stand_in.next)
        app.router.add_post("/device/v1/tunnel/{token}/reply/{id}", stand_in.reply)
        app.router.add_post("/device/v1/actions/{id}/result", stand_in.result)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"

        fleet = Fleet(server, [], mqtt=False)
        fleet.stopped = StopEvent()
        device = SimDevice(DeviceSpec(MAC, secret=SECRET), fleet, random.Random(1))
        device.config["Config.DoorSetting.DEVICENODE.Location"] = "Gate"
        async with aiohttp.ClientSession() as session:
            fleet.session = session
            action = {"id": 7, "kind": "remote_control",
                      "payload": {"session": TOKEN, "url": f"https://elsewhere.example/device/v1/tunnel/{TOKEN}"}}
            await remote_control(device, action)
            assert tunnel_open(device)
            await remote_control(device, action)  # the same action again: still one tunnel
            assert len(device.web.tunnels) == 1

            relay(stand_in, 1, "GET", "/status")
            assert await until(lambda: 1 in stand_in.replies)
            assert stand_in.replies[1]["status"] == 303 and ["Location", "login"] in stand_in.replies[1]["headers"]
            relay(stand_in, 2, "POST", "/login", [["Content-Type", "application/x-www-form-urlencoded"]],
                  b"username=admin&password=admin")
            assert await until(lambda: 2 in stand_in.replies)
            cookie = dict(stand_in.replies[2]["headers"])["Set-Cookie"].split(";")[0]
            relay(stand_in, 3, "POST", "/settings", [["Cookie", cookie]], b"location=Lobby")
            relay(stand_in, 4, "GET", "/logo.png")
            assert await until(lambda: 3 in stand_in.replies and 4 in stand_in.replies)
            assert stand_in.replies[3]["status"] == 303
            assert base64.b64decode(stand_in.replies[4]["body"]).startswith(b"\x89PNG")
            assert device.web_settings == {"location": "Lobby"}

            stand_in.closed = True
            assert await until(lambda: not tunnel_open(device))
            assert await until(lambda: any(r["status"] == "success" for r in stand_in.reports))
            fleet.stopped.set()
        await runner.cleanup()
        return stand_in

    stand_in = run_sync(scenario())
    # The device used its own credentials, and the server it was given (not the payload's host).
    expected = "Basic " + base64.b64encode(f"{MAC}:{SECRET}".encode()).decode()
    assert stand_in.auth == {expected}
    assert [(r["status"], r.get("stage")) for r in stand_in.reports] == [
        ("proceeding", "connecting"), ("proceeding", "connected"), ("success", None)]
    assert "4 requests" in stand_in.reports[-1]["detail"]


def test_a_bad_payload_or_unknown_session_is_a_failure():
    async def scenario():
        reports = []

        async def result(request):
            reports.append(await request.json())
            return web.json_response({})

        async def next_(request):
            return web.json_response({"error": "No such Remote Control session for this device."}, status=404)

        app = web.Application()
        app.router.add_post("/device/v1/actions/{id}/result", result)
        app.router.add_get("/device/v1/tunnel/{token}/next", next_)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        fleet = Fleet(f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}", [], mqtt=False)
        fleet.stopped = StopEvent()
        device = SimDevice(DeviceSpec(MAC, secret=SECRET), fleet, random.Random(1))
        async with aiohttp.ClientSession() as session:
            fleet.session = session
            await remote_control(device, {"id": 1, "kind": "remote_control", "payload": {}})
            await remote_control(device, {"id": 2, "kind": "remote_control",
                                          "payload": {"session": TOKEN, "url": f"/device/v1/tunnel/{TOKEN}"}})
            await until(lambda: len(reports) == 3)
        await runner.cleanup()
        return reports

    reports = run_sync(scenario())
    assert reports[0] == {"status": "failure", "detail": "payload needs session and url"}
    assert reports[-1]["status"] == "failure"
    assert "No such Remote Control session" in reports[-1]["detail"]
