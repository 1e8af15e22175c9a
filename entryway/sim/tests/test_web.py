"""A simulated device's own web interface: login, status, settings form, image, redirects."""
from __future__ import annotations

import random

from entryway.sim import DeviceSpec, Fleet, run_sync
from entryway.sim.device import SimDevice
from entryway.sim.web import COOKIE


def make_device() -> SimDevice:
    fleet = Fleet("http://127.0.0.1:1", [])
    device = SimDevice(DeviceSpec("0C110512EE01", model="R29", firmware="29.30.2.805"), fleet, random.Random(1))
    device.config["Config.DoorSetting.DEVICENODE.Location"] = "Gate"
    return device


def call(device, method, target, headers=None, body=b""):
    return run_sync(device.web.handle(method, target, headers, body))


def login(device) -> dict:
    status, headers, _ = call(device, "POST", "/login", body=b"username=admin&password=admin")
    assert status == 303 and ("Location", "status") in headers
    cookie = dict(headers)["Set-Cookie"].split(";")[0]
    assert cookie.startswith(f"{COOKIE}=")
    return {"Cookie": cookie}


def test_pages_need_the_device_login():
    device = make_device()
    status, headers, _ = call(device, "GET", "/status")
    assert status == 303 and dict(headers)["Location"] == "login"
    status, _, body = call(device, "GET", "/login")
    assert status == 200 and b"<form method=\"post\" action=\"login\">" in body
    status, _, body = call(device, "POST", "/login", body=b"username=admin&password=wrong")
    assert status == 401 and b"Wrong user name or password" in body
    status, _, _ = call(device, "GET", "/status", headers={"Cookie": f"{COOKIE}=forged"})
    assert status == 303


def test_status_page_and_image():
    device = make_device()
    cookie = login(device)
    status, headers, body = call(device, "GET", "/", cookie)
    page = body.decode()
    assert status == 200 and dict(headers)["Content-Type"].startswith("text/html")
    assert "0C110512EE01" in page and "29.30.2.805" in page and "Gate" in page and device.ip in page
    status, headers, body = call(device, "GET", "/logo.png")
    assert status == 200 and dict(headers)["Content-Type"] == "image/png" and body.startswith(b"\x89PNG")


def test_settings_form_changes_the_device_and_redirects():
    device = make_device()
    cookie = login(device)
    status, _, body = call(device, "GET", "/settings", cookie)
    assert status == 200 and b"value=\"Gate\"" in body
    status, headers, _ = call(device, "POST", "/settings", cookie,
                              b"location=Side+door&time_format=1&brightness=70")
    assert status == 303 and dict(headers)["Location"] == "settings?saved=1"
    assert device.config["Config.DoorSetting.DEVICENODE.Location"] == "Side door"
    assert device.web_settings == {"location": "Side door", "time_format": "1", "brightness": "70"}
    assert [c["field"] for c in device.web.changes] == ["location", "time_format", "brightness"]
    status, _, body = call(device, "GET", "/settings?saved=1", cookie)
    assert b"Saved." in body and b"value=\"Side door\"" in body


def test_bad_settings_are_refused_and_change_nothing():
    device = make_device()
    cookie = login(device)
    status, _, body = call(device, "POST", "/settings", cookie, b"location=X&brightness=900")
    assert status == 400 and b"Screen Brightness must be a number from 0 to 100." in body
    assert device.web_settings == {} and device.config["Config.DoorSetting.DEVICENODE.Location"] == "Gate"
    status, _, _ = call(device, "POST", "/settings", cookie, b"x" * (65 * 1024))
    assert status == 413


def test_logout_and_unknown_page():
    device = make_device()
    cookie = login(device)
    assert call(device, "GET", "/nope", cookie)[0] == 404
    assert call(device, "POST", "/logout", cookie)[0] == 303
    assert call(device, "GET", "/status", cookie)[0] == 303
    assert device.web.requests == 4


def test_served_over_http_with_cookies_and_redirects():
    import aiohttp
    from aiohttp import web

    from entryway.sim.web import web_application

    device = make_device()

    async def body():
        runner = web.AppRunner(web_application(device))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        try:
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
                async with session.get(f"{base}/settings") as resp:  # redirected to the login page
                    assert resp.status == 200 and str(resp.url).endswith("/login")
                async with session.post(f"{base}/login", data={"username": "admin", "password": "admin"}) as resp:
                    assert resp.status == 200 and "Status" in await resp.text()
                async with session.post(f"{base}/settings", data={"location": "Lobby"}) as resp:
                    assert str(resp.url).endswith("/settings?saved=1") and "Saved." in await resp.text()
        finally:
            await runner.cleanup()

    run_sync(body())
    assert device.web_settings == {"location": "Lobby"}
