"""Simulated devices against a stand-in platform: provisioning, check-ins and every kind of action."""
from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from aiohttp import web

from entryway.sim import DeviceSpec, Fleet, FleetThread, fleet_upgrade_run, register_action_handler, run_sync
from entryway.sim.fleet import _EXTRA_HANDLERS
from entryway.sim.tests.platform import FakePlatform, served_platform

MAC = "0C110512BC97"
MAC2 = "0C110512BC98"


def run(coro):
    return run_sync(coro)


async def simulate(platform: FakePlatform, until, *, devices=(MAC,), timeout=10.0, **options) -> Fleet:
    """Run a fleet against ``platform`` until ``until(fleet)`` is true; fail on time-out."""
    options = {"autop_user": platform.autop_user, "autop_password": platform.autop_password,
               "poll_interval": 0.2, "reboot_seconds": 0.3, "install_seconds": 0.05, "mqtt": False,
               "seed": 7, **options}
    fleet = Fleet(platform.url, devices, **options)
    start = time.monotonic()
    await fleet.run(duration=timeout, until=until)
    assert time.monotonic() - start < timeout, "the fleet did not reach the expected state in time"
    return fleet


def with_platform(body):
    async def main():
        platform = await FakePlatform().start()
        try:
            return await body(platform)
        finally:
            await platform.stop()

    return run(main())


def final(platform, action_id):
    return platform.actions[action_id]["status"] in ("success", "failure")


def test_provisions_with_installer_credentials_then_uses_its_own():
    async def body(p):
        p.add_device(MAC, location="Gate")
        fleet = await simulate(p, lambda f: len(p.checkins) >= 3 and len(p.autop_requests) >= 1)
        device = fleet.device(MAC)
        assert p.autop_requests[0] == (MAC, "ap-test")
        assert device.secret == f"secret-{MAC}"
        assert device.config["Config.DoorSetting.DEVICENODE.Location"] == "Gate"
        assert device.state == "online" and device.online
        checkin = p.checkins[0]
        assert checkin["mac"] == MAC and checkin["model"] == "R29" and checkin["firmware"] == "29.30.2.805"
        assert checkin["ip"].startswith("192.168.") and isinstance(checkin["uptime"], int)
        # config_version is the hash of the file it has: nothing to fetch again.
        assert len(p.autop_requests) == 1

    with_platform(body)


@pytest.mark.parametrize("salt,fetches", [("", 1), ("other", 2)])
def test_config_version_is_compared_with_the_file_it_applied(salt, fetches):
    """A platform whose version is not the file's hash costs one extra fetch, never one per check-in."""
    async def body(p):
        p.add_device(MAC)
        p.version_salt = salt
        await simulate(p, lambda f: f.device(MAC).checkins >= 6)
        assert len(p.autop_requests) == fetches
        assert all(user == MAC for _mac, user in p.autop_requests[1:])

    with_platform(body)


def test_default_firmware_follows_the_model():
    from entryway.sim.device import default_firmware

    assert default_firmware("R29") == "29.30.2.805"
    assert default_firmware("X916") == "916.30.2.805"
    assert default_firmware("A05") == "5.30.2.805"
    assert default_firmware("Custom") == "29.30.2.805"


def test_device_that_knows_its_secret_needs_no_installer_credentials():
    async def body(p):
        p.add_device(MAC, secret="known")
        await simulate(p, lambda f: len(p.checkins) >= 1, devices=[DeviceSpec(MAC, secret="known")],
                       autop_user="", autop_password="")
        assert p.autop_requests[0] == (MAC, MAC)

    with_platform(body)


def test_unknown_mac_stays_unprovisioned_and_never_checks_in():
    async def body(p):
        fleet = await simulate(p, lambda f: f.device(MAC).state == "unprovisioned")
        assert p.checkins == [] and "404" in fleet.device(MAC).last_error

    with_platform(body)


def test_reboot_reports_success_goes_offline_and_comes_back_with_uptime_reset():
    async def body(p):
        p.add_device(MAC)
        action = p.add_action(MAC, "reboot")
        fleet = await simulate(p, lambda f: f.device(MAC).boots == 1 and len(p.checkins) >= 3, reboot_seconds=0.5)
        device = fleet.device(MAC)
        assert p.actions[action]["status"] == "success"
        assert p.results_for(action) == [{"id": action, "status": "success", "detail": "rebooting"}]
        assert p.checkins[0]["uptime"] >= 600  # running a while before
        assert p.checkins[-1]["uptime"] <= 2  # restarted
        assert any("restarting" in text for _t, text in device.events)

    with_platform(body)


def test_reboot_keeps_the_device_offline_for_the_reboot_time():
    async def body(p):
        p.add_device(MAC)
        p.add_action(MAC, "reboot")
        stamps = []
        original = p.handle_checkin

        async def timed(request):
            stamps.append(time.monotonic())
            return await original(request)

        p.handle_checkin = timed
        fleet = await simulate(p, lambda f: f.device(MAC).boots == 1 and len(stamps) >= 2, reboot_seconds=1.0,
                               poll_interval=0.1)
        gaps = [b - a for a, b in itertools.pairwise(stamps)]
        assert max(gaps) >= 1.0
        assert fleet.device(MAC).boots == 1

    with_platform(body)


def test_one_time_autop_is_applied_and_confirmed():
    async def body(p):
        p.add_device(MAC)
        action = p.add_action(MAC, "autop", {"lines": ["Config.Settings.DATETIME.DateFormat = 2",
                                                       "Config.Settings.DATETIME.TimeFormat = 1"]})
        fleet = await simulate(p, lambda f: final(p, action))
        device = fleet.device(MAC)
        assert p.actions[action]["status"] == "success"
        assert device.config["Config.Settings.DATETIME.DateFormat"] == "2"
        assert device.config["Config.Settings.DATETIME.TimeFormat"] == "1"

    with_platform(body)


def test_one_time_autop_with_a_bad_line_fails_naming_it_and_changes_nothing():
    async def body(p):
        p.add_device(MAC)
        box = {}

        def until(f):  # the action comes once the device is running
            if f.device(MAC).checkins >= 1 and "id" not in box:
                box["id"] = p.add_action(MAC, "autop", {"lines": ["Config.Settings.DATETIME.DateFormat = 2",
                                                                  "Broken line"]})
            return "id" in box and final(p, box["id"])

        fleet = await simulate(p, until)
        action = box["id"]
        assert p.actions[action]["status"] == "failure"
        assert p.actions[action]["detail"] == "line 2: Broken line"
        assert "Config.Settings.DATETIME.DateFormat" not in fleet.device(MAC).config

    with_platform(body)


def test_message_is_displayed_and_confirmed():
    async def body(p):
        p.add_device(MAC)
        action = p.add_action(MAC, "message", {"title": "Water", "body": "Off at 10:00", "message_id": 7})
        fleet = await simulate(p, lambda f: final(p, action))
        assert p.actions[action]["status"] == "success" and p.actions[action]["detail"] == "displayed"
        [shown] = fleet.device(MAC).messages
        assert (shown["title"], shown["body"], shown["message_id"], shown["action_id"]) == (
            "Water", "Off at 10:00", 7, action)

    with_platform(body)


def test_an_action_repeated_in_later_answers_is_carried_out_once():
    async def body(p):
        p.add_device(MAC)
        action = p.add_action(MAC, "message", {"title": "T", "body": "B", "message_id": 1})

        async def lost(request):  # the platform never records the result: the action keeps coming
            await request.read()
            return web.json_response({"error": "busy"}, status=503)

        p.handle_result = lost
        fleet = await simulate(p, lambda f: len(p.checkins) >= 5)
        assert len(fleet.device(MAC).messages) == 1
        assert action in fleet.device(MAC)._unreported  # kept to send again
        assert not fleet.device(MAC).results[-1].delivered
        assert MAC not in fleet.finished["message"]  # the platform never had it

    with_platform(body)


def test_final_result_that_did_not_get_through_is_sent_after_later_check_ins():
    """A proceeding action never comes back in a check-in: the device sends its final result on its own."""
    async def body(p):
        p.add_device(MAC)
        url, sha = p.add_file("fw.rom", b"q" * 500)
        action = p.add_action(MAC, "upgrade", {"version": "5.0", "url": url, "sha256": sha, "size": 500})
        original, refused = p.handle_result, []

        async def flaky(request):
            data = await request.json()
            if data["status"] == "success" and len(refused) < 4:  # 3 tries at once, then after a check-in
                refused.append(data)
                return web.json_response({"error": "busy"}, status=503)
            return await original(request)

        p.handle_result = flaky
        fleet = await simulate(p, lambda f: p.actions[action]["status"] == "success")
        device = fleet.device(MAC)
        assert len(refused) == 4 and device._unreported == {}
        assert [r.status for r in device.results] == ["proceeding", "proceeding", "success"]
        assert device.results[-1].delivered
        assert fleet.counters["errors"] >= 4
        finished = {mac: result.status for mac, result in fleet.finished["upgrade"].items()}
        assert finished == {MAC: "success"}  # counted once it got through
        assert fleet.finished["upgrade"][MAC] is device.results[-1]

    with_platform(body)


def test_upgrade_downloads_verifies_installs_and_reports_the_new_version():
    async def body(p):
        p.add_device(MAC)
        url, sha = p.add_file("R29-29.30.2.806.rom", b"\x7fROM" * 50_000)
        action = p.add_action(MAC, "upgrade", {"version": "29.30.2.806", "url": url, "sha256": sha,
                                               "size": 200_000})
        fleet = await simulate(p, lambda f: final(p, action) and p.checkins[-1]["firmware"] == "29.30.2.806")
        stages = [(r["status"], r.get("stage", "")) for r in p.results_for(action)]
        assert stages == [("proceeding", "downloading"), ("proceeding", "installing"), ("success", "")]
        device = fleet.device(MAC)
        assert device.firmware == "29.30.2.806" and device.boots == 1
        assert device.upgrades == [{"from": "29.30.2.805", "to": "29.30.2.806", "action_id": action}]
        assert fleet.counters["bytes_downloaded"] == 200_000

    with_platform(body)


@pytest.mark.parametrize("change,detail", [
    ({"sha256": "0" * 64}, "sha256 mismatch"),
    ({"size": 5}, "size mismatch: expected 5 bytes, got 4000"),
    ({"url": "/files/missing.rom"}, "download failed: HTTP 404"),
])
def test_upgrade_that_does_not_verify_fails_and_keeps_the_version(change, detail):
    async def body(p):
        p.add_device(MAC)
        url, sha = p.add_file("fw.rom", b"x" * 4000)
        payload = {"version": "29.30.2.806", "url": url, "sha256": sha, "size": 4000, **change}
        action = p.add_action(MAC, "upgrade", payload)
        fleet = await simulate(p, lambda f: final(p, action) and len(p.checkins) >= 3)
        assert p.actions[action]["status"] == "failure" and p.actions[action]["detail"] == detail
        assert fleet.device(MAC).firmware == "29.30.2.805"
        assert p.checkins[-1]["firmware"] == "29.30.2.805"

    with_platform(body)


def test_upgrade_fails_at_the_configured_rate():
    async def body(p):
        macs = [f"0C1105120{i:03X}" for i in range(20)]
        url, sha = p.add_file("fw.rom", b"y" * 1000)
        ids = []
        for mac in macs:
            p.add_device(mac)
            ids.append(p.add_action(mac, "upgrade", {"version": "2.0", "url": url, "sha256": sha, "size": 1000}))
        fleet = await simulate(p, lambda f: all(final(p, i) for i in ids), devices=macs, fail_rate=0.5, seed=3)
        failed = [i for i in ids if p.actions[i]["status"] == "failure"]
        assert 3 <= len(failed) <= 17
        assert {p.actions[i]["detail"] for i in failed} == {"installation failed: flash write error"}
        assert fleet.counters["actions_failed"] == len(failed)
        assert sum(fleet.device(m).firmware == "2.0" for m in macs) == len(ids) - len(failed)

    with_platform(body)


def test_unknown_kind_is_reported_unsupported():
    async def body(p):
        p.add_device(MAC)
        action = p.add_action(MAC, "teleport", {})
        await simulate(p, lambda f: final(p, action))
        assert (p.actions[action]["status"], p.actions[action]["detail"]) == ("failure", "unsupported")

    with_platform(body)


def test_registered_handler_carries_out_a_new_kind():
    async def remote_control(device, action):
        device.web_settings["session"] = action["payload"]["session"]
        await device.report(action, "success", detail="connected")

    register_action_handler("remote_control", remote_control)
    try:
        async def body(p):
            p.add_device(MAC)
            action = p.add_action(MAC, "remote_control", {"session": "abc"})
            fleet = await simulate(p, lambda f: final(p, action))
            assert p.actions[action]["status"] == "success"
            assert fleet.device(MAC).web_settings["session"] == "abc"

        with_platform(body)
    finally:
        _EXTRA_HANDLERS.pop("remote_control", None)


def test_changed_configuration_is_fetched_again_with_its_own_secret():
    async def body(p):
        p.add_device(MAC)
        fleet_box = {}

        def until(f):
            fleet_box["f"] = f
            device = f.device(MAC)
            if device.checkins == 2 and not p.devices[MAC]["regular"]:
                p.devices[MAC]["regular"].append("Config.Settings.DATETIME.TimeFormat = 1")
            return device.config.get("Config.Settings.DATETIME.TimeFormat") == "1"

        await simulate(p, until)
        assert p.autop_requests[-1] == (MAC, MAC)

    with_platform(body)


def test_refused_secret_makes_it_provision_again():
    async def body(p):
        p.add_device(MAC)

        def until(f):
            if f.device(MAC).checkins == 2 and p.devices[MAC]["secret"] == f"secret-{MAC}":
                p.devices[MAC]["secret"] = "rotated"
            return f.device(MAC).secret == "rotated" and f.device(MAC).checkins >= 3

        fleet = await simulate(p, until)
        assert fleet.device(MAC).boots == 0  # no restart, only provisioning again
        assert (MAC, "ap-test") in p.autop_requests[1:]

    with_platform(body)


def test_power_off_stops_check_ins_until_power_on():
    async def body(p):
        p.add_device(MAC)
        p.add_device(MAC2)
        fleet = Fleet(p.url, [MAC, MAC2], autop_user="ap-test", autop_password="pw-test", poll_interval=0.1,
                      mqtt=False)
        task = asyncio.create_task(fleet.run(duration=10))
        while sum(c["mac"] == MAC for c in p.checkins) < 2:
            await asyncio.sleep(0.05)
        fleet.power_off(MAC)
        await asyncio.sleep(0.1)
        off_count = sum(c["mac"] == MAC for c in p.checkins)
        await asyncio.sleep(0.6)
        assert sum(c["mac"] == MAC for c in p.checkins) == off_count
        assert not fleet.device(MAC).online and fleet.device(MAC).state == "off"
        assert fleet.device(MAC2).online
        fleet.power_on(MAC)
        while sum(c["mac"] == MAC for c in p.checkins) == off_count:
            await asyncio.sleep(0.05)
        assert [c for c in p.checkins if c["mac"] == MAC][-1]["uptime"] <= 1
        stats = fleet.stats()
        assert stats.devices == 2 and stats.checkins == len(p.checkins)
        fleet.stop()
        await task

    with_platform(body)


def test_fleet_thread_for_synchronous_callers():
    with served_platform() as p:
        p.add_device(MAC)
        fleet = Fleet(p.url, [MAC], autop_user="ap-test", autop_password="pw-test", poll_interval=30, mqtt=False)
        with FleetThread(fleet) as runner:
            assert runner.wait_until(lambda f: f.device(MAC).online, timeout=5)
            count = fleet.device(MAC).checkins
            action = p.add_action(MAC, "message", {"title": "Now", "body": "x"})
            runner.wake(MAC)  # no broker here: wake it as a push would
            assert runner.wait_until(lambda f: f.device(MAC).final.get(action) == "success", timeout=5)
            assert fleet.device(MAC).checkins == count + 1
        assert fleet.stopping


def test_fleet_upgrade_run_reports_counts():
    with served_platform() as p:
        url, sha = p.add_file("fw.rom", b"z" * 2048)
        devices = {}
        for i in range(30):
            mac = f"0C1105121{i:03X}"
            p.add_device(mac, secret=f"s{i}")
            devices[mac] = f"s{i}"
            p.add_action(mac, "upgrade", {"version": "3.0", "url": url, "sha256": sha, "size": 2048})
        report = fleet_upgrade_run(base_url=p.url, devices=devices, poll_interval=1, ramp=0.5, timeout=20,
                                   install_seconds=0.01, seed=1)
        assert report["devices"] == 30 and report["succeeded"] == 30 and report["unfinished"] == 0
        assert report["seconds"] < 10 and report["bytes_downloaded"] == 30 * 2048
        assert report["requests"] >= 30 * 5 and report["simulator_cpu_seconds"] > 0


def test_a_fleet_can_run_again_and_keeps_its_devices_state():
    with served_platform() as p:
        p.add_device(MAC)
        fleet = Fleet(p.url, [MAC], autop_user="ap-test", autop_password="pw-test", poll_interval=0.1, mqtt=False)
        run_sync(fleet.run(duration=5, until=lambda f: f.device(MAC).checkins >= 2))
        device = fleet.device(MAC)
        run_sync(fleet.run(duration=5, until=lambda f: f.device(MAC).checkins >= 4))
        assert fleet.device(MAC) is device and device.checkins >= 4


def test_too_many_requests_waits_for_retry_after():
    async def body(p):
        p.add_device(MAC)
        original, stamps = p.handle_autop, []

        async def limited(request):
            stamps.append(time.monotonic())
            if len(stamps) == 1:
                return web.Response(status=429, text="Too many requests; slow down.", headers={"Retry-After": "1"})
            return await original(request)

        p.handle_autop = limited
        fleet = await simulate(p, lambda f: f.device(MAC).checkins >= 1)
        assert stamps[1] - stamps[0] >= 1.0
        assert fleet.counters["errors"] == 1 and "429" in fleet.device(MAC).last_error

    with_platform(body)


def test_a_pause_ends_at_its_time_at_a_wake_up_or_when_the_fleet_stops():
    import random

    from entryway.sim.device import SimDevice
    from entryway.sim.fleet import StopEvent

    async def main():
        fleet = Fleet("http://127.0.0.1:9", [], mqtt=False)
        fleet.stopped = StopEvent()
        device = SimDevice(DeviceSpec(MAC, secret="s"), fleet, random.Random(1))
        loop = asyncio.get_running_loop()

        start = loop.time()
        await device._sleep(0.05)
        timed = loop.time() - start

        waiting = asyncio.ensure_future(device._wait(30))
        await asyncio.sleep(0.01)
        assert not waiting.done() and len(fleet.stopped.pauses) == 1
        device.wake()
        await asyncio.wait_for(waiting, 1)  # ended by the wake-up, not by its 30 s

        sleeping = asyncio.ensure_future(device._sleep(30))
        await asyncio.sleep(0.01)
        device.wake()  # a sleep is not a wait for the next check-in: a wake-up leaves it
        await asyncio.sleep(0.01)
        assert not sleeping.done()
        fleet.stop()
        await asyncio.wait_for(sleeping, 1)
        return timed, fleet.stopped.pauses

    timed, pauses = run(main())
    assert 0.04 <= timed < 1
    assert pauses == set()
