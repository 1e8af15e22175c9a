"""Remote Control on a simulated device: the outbound tunnel (docs/device-protocol.md, section 6).

On a ``remote_control`` action the device reports ``proceeding`` and opens a tunnel in the background:
it long-polls ``GET <url>/next`` with its own credentials, hands each relayed request to its web
interface (``device.web.handle``) and posts the answer to ``<url>/reply/<id>``, until the platform
answers 410 (the session was closed or expired), the session's time is up, or the device goes off.
Its check-ins go on meanwhile.
"""
from __future__ import annotations

import asyncio
import base64
import json
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import aiohttp

if TYPE_CHECKING:
    from entryway.sim.device import SimDevice

POLL_WAIT = 20  # seconds the platform may hold one poll (it holds at most its REMOTE_POLL_WAIT)
RETRY_MIN, RETRY_MAX = 0.5, 10.0


async def remote_control(device: SimDevice, action: dict) -> None:
    """The ``remote_control`` action handler: start the session's tunnel and return at once."""
    payload = action.get("payload") if isinstance(action.get("payload"), dict) else {}
    token, url = payload.get("session"), payload.get("url")
    if not isinstance(token, str) or not isinstance(url, str) or not token or not url:
        await device.report(action, "failure", detail="payload needs session and url")
        return
    running = device.web.tunnels.get(token)
    if running is not None and not running.done():
        return  # the action came again (its proceeding report did not get through): already connected
    await device.report(action, "proceeding", stage="connecting")
    tunnel = Tunnel(device, action, token, url, max_body=payload.get("max_body"))
    device.web.tunnels[token] = asyncio.create_task(tunnel.run(), name=f"sim-tunnel-{device.mac}")


class Tunnel:
    def __init__(self, device: SimDevice, action: dict, token: str, url: str, *, max_body=None):
        self.device, self.action, self.token = device, action, token
        parts = urlsplit(url)
        # The simulator talks to the server it was given (as for check-ins) unless it follows the AutoP file.
        self.url = url.rstrip("/") if device.fleet.follow_cloud_server else device.base_url + parts.path.rstrip("/")
        self.max_body = max_body if isinstance(max_body, int) and max_body > 0 else None
        self.connected = False
        self.served = 0
        self.end = ""  # why the tunnel ended
        self._jobs: set[asyncio.Task] = set()

    def _headers(self) -> dict:
        return {"Authorization": self.device._device_auth(),
                "User-Agent": f"entryway-sim/{self.device.model} {self.device.firmware}"}

    async def run(self) -> None:
        device = self.device
        backoff = RETRY_MIN
        wait = int(max(1, min(POLL_WAIT, device.fleet.request_timeout - 5)))
        while not device.fleet.stopping and device.powered:
            try:
                status, data, retry_after = await self._until_stopped(self._next(wait))
            except asyncio.CancelledError:
                raise
            except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
                device._note_error("tunnel", exc)
                await device._sleep(backoff)
                backoff = min(backoff * 2, RETRY_MAX)
                continue
            if status is None:  # the fleet stopped
                break
            if status == 200:
                backoff = RETRY_MIN
                if not self.connected:
                    self.connected = True
                    device._event(f"remote control connected (session {self.token[:6]}…)")
                    await device.report(self.action, "proceeding", stage="connected")
                for request in data.get("requests") or []:
                    job = asyncio.create_task(self._serve(request))
                    self._jobs.add(job)
                    job.add_done_callback(self._jobs.discard)
                continue
            if status in (404, 410, 401):
                self.end = (data or {}).get("error", f"HTTP {status}")
                break
            device._note_error("tunnel", Exception(f"HTTP {status}"))
            await device._sleep(retry_after or backoff)
            backoff = min(backoff * 2, RETRY_MAX)
        if self._jobs:
            await asyncio.wait(self._jobs, timeout=5)
        device._event(f"remote control ended ({self.end or 'device stopped'}; {self.served} requests)")
        if device.fleet.stopping or not device.powered:
            return
        if self.connected:
            await device.report(self.action, "success", detail=f"session ended after {self.served} requests")
        else:
            await device.report(self.action, "failure", detail=f"could not open the tunnel: {self.end}"[:2000])

    async def _until_stopped(self, coro):
        """Run ``coro`` unless the fleet stops first (then ``(None, None, None)``)."""
        task = asyncio.ensure_future(coro)
        stop = asyncio.ensure_future(self.device.fleet.stopped.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if not task.done():
            task.cancel()
            return None, None, None
        return task.result()

    async def _next(self, wait: int):
        self.device.fleet.counters["requests"] += 1
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=wait + 10)
        async with self.device.fleet.session.get(f"{self.url}/next", params={"wait": str(wait)},
                                                 headers=self._headers(), timeout=timeout) as resp:
            text = await resp.text()
            retry = resp.headers.get("Retry-After")
            data = json.loads(text) if text and resp.content_type == "application/json" else {}
            return resp.status, data, float(retry) if retry and retry.isdigit() else None

    async def _serve(self, request: dict) -> None:
        """One relayed request: the web interface answers it, the answer goes back through the tunnel."""
        device = self.device
        try:
            body = base64.b64decode(request.get("body") or "")
            headers = {str(k): str(v) for k, v in request.get("headers") or []}
            status, out_headers, content = await device.web.handle(str(request.get("method", "GET")),
                                                                    str(request.get("target", "/")), headers, body)
        except (ValueError, TypeError) as exc:
            status, out_headers, content = 400, [("Content-Type", "text/plain")], f"Bad request: {exc}".encode()
        self.served += 1
        device.fleet.counters["tunnel_requests"] += 1
        reply = {"status": status, "headers": [[k, v] for k, v in out_headers],
                 "body": base64.b64encode(content).decode("ascii")}
        try:
            device.fleet.counters["requests"] += 1
            async with device.fleet.session.post(f"{self.url}/reply/{request.get('id')}", json=reply,
                                                 headers=self._headers()) as resp:
                await resp.read()
                if resp.status != 200:
                    device._note_error("tunnel reply", Exception(f"HTTP {resp.status} for request {request.get('id')}"))
        except (TimeoutError, aiohttp.ClientError) as exc:
            device._note_error("tunnel reply", exc)


def tunnel_open(device: SimDevice) -> bool:
    """True while one of the device's Remote Control tunnels runs."""
    return any(not task.done() for task in device.web.tunnels.values())


__all__ = ["Tunnel", "remote_control", "tunnel_open"]
