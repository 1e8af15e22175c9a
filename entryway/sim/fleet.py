"""A fleet of simulated devices in one asyncio loop, sharing one HTTP connection pool.

    fleet = Fleet("http://127.0.0.1:8000", [DeviceSpec("0C110512BC97", secret="...")], poll_interval=5)
    await fleet.run(duration=60)           # or: with FleetThread(fleet) as runner: ...
    fleet.device("0C110512BC97").config    # what the device applied
"""
from __future__ import annotations

import asyncio
import collections
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Self

import aiohttp

from entryway.sim.device import DEFAULT_HANDLERS, ActionHandler, DeviceSpec, Result, SimDevice, _end_pause

log = logging.getLogger("entryway.sim")

_EXTRA_HANDLERS: dict[str, ActionHandler] = {}


def register_action_handler(kind: str, handler: ActionHandler) -> None:
    """Teach every fleet created afterwards a new kind of action (e.g. ``remote_control``).

    ``handler(device, action)`` is a coroutine function; it carries the action out and reports with
    ``await device.report(action, "success" | "failure" | "proceeding", stage=..., detail=...)``.
    """
    _EXTRA_HANDLERS[kind] = handler


@dataclass
class FleetStats:
    devices: int
    online: int
    checkins: int
    checkins_per_second: float
    actions_done: int
    actions_failed: int
    pushes: int
    errors: int

    def line(self) -> str:
        return (f"devices {self.devices} online {self.online} check-ins {self.checkins} "
                f"({self.checkins_per_second:.2f}/s) actions done {self.actions_done} failed {self.actions_failed} "
                f"pushes {self.pushes} errors {self.errors}")


class StopEvent(asyncio.Event):
    """The fleet's stop. Setting it also ends at once every device's pause (``SimDevice._pause``) registered in
    ``pauses``: a pause is a future and a timer, where waiting on this event with a timeout would cost each
    pause a task of its own (a tenth of a 10,000-device fleet's CPU in a rollout)."""

    def __init__(self):
        super().__init__()
        self.pauses: set[asyncio.Future] = set()

    def set(self) -> None:
        super().set()
        pauses, self.pauses = self.pauses, set()
        for pause in pauses:
            _end_pause(pause)


class Fleet:
    """N simulated devices against one server. All methods run on the fleet's event loop.

    server: base URL of the platform (``http://host:port``).
    devices: ``DeviceSpec`` objects or bare MACs.
    autop_user / autop_password: installer AutoP credentials for the first provisioning.
    poll_interval: seconds between check-ins, overriding what the platform says (None: the platform's).
    fail_rate: share of firmware installations that fail (0..1).
    reboot_seconds: how long a restart keeps a device offline; install_seconds: firmware installation time.
    mqtt: listen on the broker the AutoP file names; mqtt_url: use this broker address instead.
    ramp: spread the devices' first boot over this many seconds.
    follow_cloud_server: use ``Config.Entryway.CLOUD.Server`` from the AutoP file instead of ``server``.
    connection_limit: HTTP connections the whole fleet keeps open to the server (requests beyond wait
        their turn). Kept small: a thread-per-connection server (Django's test server) holds a database
        connection for each open client connection, and PostgreSQL refuses past max_connections (100).
    """

    def __init__(self, server: str, devices: Iterable[DeviceSpec | str], *, autop_user: str = "",
                 autop_password: str = "", poll_interval: float | None = None, fail_rate: float = 0.0,
                 reboot_seconds: float = 5.0, install_seconds: float = 1.0, mqtt: bool = True,
                 mqtt_url: str = "", seed: int | None = None, ramp: float = 0.0, connection_limit: int = 32,
                 request_timeout: float = 30.0, follow_cloud_server: bool = False,
                 handlers: dict[str, ActionHandler] | None = None, pushed_actions: bool = True):
        if not 0.0 <= fail_rate <= 1.0:
            raise ValueError("fail_rate must be between 0 and 1")
        self.server = server.rstrip("/")
        self.autop_user, self.autop_password = autop_user, autop_password
        self.poll_interval = poll_interval
        self.fail_rate = fail_rate
        self.reboot_seconds = reboot_seconds
        self.install_seconds = install_seconds
        self.mqtt_enabled = mqtt
        self.mqtt_url = mqtt_url
        # Carry out the actions a push brings without checking in (False: a device that only checks in
        # on a push, as devices older than the push with actions do).
        self.pushed_actions = pushed_actions
        self.ramp = ramp
        self.connection_limit = connection_limit
        self.request_timeout = request_timeout
        self.follow_cloud_server = follow_cloud_server
        self.handlers: dict[str, ActionHandler] = {**DEFAULT_HANDLERS, **_EXTRA_HANDLERS, **(handlers or {})}
        self.rng = random.Random(seed)
        self.counters: collections.Counter = collections.Counter()
        # Final results the platform has recorded, by action kind: {kind: {MAC: Result}}, the latest per device.
        # Benchmarks and tests wait on it without walking every device's results.
        self.finished: collections.defaultdict[str, dict[str, Result]] = collections.defaultdict(dict)
        self.session: aiohttp.ClientSession | None = None
        self.stopped: StopEvent | None = None  # set while running
        self.started_at: float | None = None
        self.devices: dict[str, SimDevice] = {}
        self._specs: list[DeviceSpec] = []
        for item in devices:
            spec = item if isinstance(item, DeviceSpec) else DeviceSpec(mac=str(item))
            spec.mac = normalise_mac(spec.mac)
            if spec.mac in {s.mac for s in self._specs}:
                continue
            self._specs.append(spec)
        self._tasks: list[asyncio.Task] = []
        self._last_rate = (time.monotonic(), 0)
        self.loop: asyncio.AbstractEventLoop | None = None

    # -- inspection -----------------------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self.stopped is not None and self.stopped.is_set()

    def device(self, mac: str) -> SimDevice:
        return self.devices[normalise_mac(mac)]

    def stats(self) -> FleetStats:
        now, checkins = time.monotonic(), self.counters["checkins"]
        then, before = self._last_rate
        self._last_rate = (now, checkins)
        rate = (checkins - before) / (now - then) if now > then else 0.0
        return FleetStats(
            devices=len(self.devices), online=sum(1 for d in self.devices.values() if d.online),
            checkins=checkins, checkins_per_second=rate, actions_done=self.counters["actions_done"],
            actions_failed=self.counters["actions_failed"], pushes=self.counters["pushes"],
            errors=self.counters["errors"],
        )

    # -- control ------------------------------------------------------------------------------------------

    def stop(self) -> None:
        if self.stopped is not None:
            self.stopped.set()

    def wake(self, mac: str | None = None) -> None:
        """Make one device (or all) check in now."""
        for device in ([self.device(mac)] if mac else self.devices.values()):
            device.wake()

    def power_off(self, mac: str) -> None:
        self.device(mac).power_off()

    def power_on(self, mac: str) -> None:
        self.device(mac).power_on()

    # -- running -------------------------------------------------------------------------------------------

    def _build(self) -> None:
        for spec in self._specs:
            if spec.mac not in self.devices:
                self.devices[spec.mac] = SimDevice(spec, self, random.Random(self.rng.random()))
            else:
                self.devices[spec.mac].new_loop()

    async def run(self, duration: float | None = None, until: Callable[[Fleet], bool] | None = None,
                  stats_every: float | None = None, stats_out: Callable[[str], None] | None = None) -> None:
        """Run every device until ``stop()``, ``duration`` seconds, or ``until(fleet)`` becomes true."""
        self.loop = asyncio.get_running_loop()
        self.stopped = StopEvent()
        self.started_at = time.monotonic()
        self._build()
        connector = aiohttp.TCPConnector(limit=self.connection_limit, limit_per_host=0, ttl_dns_cache=300)
        # Real devices each have their own connection: time spent waiting for a free connection of the
        # shared pool is the simulator's, not the device's, so only socket connect and reads time out.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=min(10.0, self.request_timeout),
                                        sock_read=self.request_timeout)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            self.session = session
            for device in self.devices.values():
                delay = self.rng.uniform(0, self.ramp) if self.ramp > 0 else 0.0
                self._tasks.append(asyncio.create_task(device.run(delay), name=f"sim-{device.mac}"))
            watchers = [asyncio.create_task(self._watch(duration, until, stats_every, stats_out))]
            try:
                await self.stopped.wait()
            finally:
                self.stopped.set()
                for task in watchers:
                    task.cancel()
                done, pending = await asyncio.wait(self._tasks, timeout=5) if self._tasks else (set(), set())
                for task in pending:
                    task.cancel()
                if pending:
                    await asyncio.wait(pending, timeout=2)
                for task in done:
                    if not task.cancelled() and task.exception() is not None:
                        log.error("device task %s failed: %r", task.get_name(), task.exception())
                for device in self.devices.values():
                    device._stop_mqtt()
                self._tasks.clear()
        self.session = None

    async def _watch(self, duration, until, stats_every, stats_out) -> None:
        deadline = None if duration is None else time.monotonic() + duration
        next_stats = time.monotonic() + stats_every if stats_every else None
        while not self.stopping:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                break
            if until is not None and until(self):
                break
            if next_stats is not None and now >= next_stats:
                (stats_out or print)(self.stats().line())
                next_stats = now + stats_every
            if self._tasks and all(task.done() for task in self._tasks):
                break
            await asyncio.sleep(0.05 if until is not None else 0.2)
        self.stop()


def run_sync(coro):
    """``asyncio.run(coro)``, also from a thread whose event loop is already running (for example under
    Playwright's synchronous API): then the coroutine runs in a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict = {}

    def target():
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=target, name="entryway-sim-run")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


def normalise_mac(value: str) -> str:
    mac = "".join(ch for ch in str(value).strip() if ch not in ":-. ").upper()
    if len(mac) != 12 or any(ch not in "0123456789ABCDEF" for ch in mac):
        raise ValueError(f"not a MAC address: {value!r}")
    return mac


class FleetThread:
    """Runs a fleet on its own event loop in a background thread (for synchronous tests).

        with FleetThread(fleet) as runner:
            runner.wait_until(lambda f: f.device(mac).online, timeout=10)
    """

    def __init__(self, fleet: Fleet, duration: float | None = None):
        self.fleet = fleet
        self.duration = duration
        self.loop = asyncio.new_event_loop()
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="entryway-sim", daemon=True)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def body():
            self.loop.call_soon(self._ready.set)
            await self.fleet.run(duration=self.duration)

        try:
            self.loop.run_until_complete(body())
        except BaseException as exc:  # noqa: BLE001 - reported to the caller
            self.error = exc
        finally:
            self._ready.set()
            self.loop.close()

    def start(self) -> FleetThread:
        self._thread.start()
        self._ready.wait(10)
        return self

    def call(self, fn: Callable, *args) -> None:
        """Run ``fn(*args)`` on the fleet's loop (e.g. ``runner.call(fleet.wake, mac)``)."""
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(fn, *args)

    def wake(self, mac: str | None = None) -> None:
        self.call(self.fleet.wake, mac)

    def power_off(self, mac: str) -> None:
        self.call(self.fleet.power_off, mac)

    def power_on(self, mac: str) -> None:
        self.call(self.fleet.power_on, mac)

    def wait_until(self, predicate: Callable[[Fleet], bool], timeout: float, interval: float = 0.05) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.error is not None:
                raise RuntimeError("the simulated fleet stopped with an error") from self.error
            try:
                if predicate(self.fleet):
                    return True
            except (KeyError, AttributeError, IndexError):
                pass
            time.sleep(interval)
        return bool(predicate(self.fleet))

    def stop(self, timeout: float = 15) -> None:
        if self._thread.is_alive():
            self.call(self.fleet.stop)
            self._thread.join(timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def fleet_upgrade_run(*, base_url: str, devices: dict[str, str], poll_interval: float = 60,
                      timeout: float = 300, fail_rate: float = 0.0, ramp: float | None = None,
                      install_seconds: float = 0.5, connection_limit: int = 32, seed: int | None = None,
                      mqtt: bool = False) -> dict:
    """Run ``{MAC: device secret}`` until the platform has every device's final upgrade result (or ``timeout``).

    The devices start spread over one poll interval (as a running fleet would be) unless ``ramp`` says
    otherwise. Returns the counts and the elapsed seconds.
    """
    specs = [DeviceSpec(mac=mac, secret=secret) for mac, secret in devices.items()]
    fleet = Fleet(base_url, specs, poll_interval=poll_interval, fail_rate=fail_rate, reboot_seconds=1.0,
                  install_seconds=install_seconds, ramp=poll_interval if ramp is None else ramp,
                  connection_limit=connection_limit, seed=seed, mqtt=mqtt)

    upgrades = fleet.finished["upgrade"]

    def all_finished(f: Fleet) -> bool:
        return bool(f.devices) and len(upgrades) >= len(f.devices)

    start, cpu = time.monotonic(), time.process_time()
    run_sync(fleet.run(duration=timeout, until=all_finished))
    seconds, cpu = time.monotonic() - start, time.process_time() - cpu
    finals = [result.status if (result := upgrades.get(mac)) else None for mac in fleet.devices]
    errors = collections.Counter(d.last_error.split(":", 1)[0] + ": " + d.last_error.split(":", 1)[-1][:60]
                                 for d in fleet.devices.values() if d.last_error)
    return {
        "devices": len(finals),
        "succeeded": finals.count("success"),
        "failed": finals.count("failure"),
        "unfinished": finals.count(None),
        "seconds": round(seconds, 3),
        "simulator_cpu_seconds": round(cpu, 2),
        "requests": fleet.counters["requests"],
        "checkins": fleet.counters["checkins"],
        "errors": fleet.counters["errors"],
        "error_examples": errors.most_common(3),
        "bytes_downloaded": fleet.counters["bytes_downloaded"],
    }
