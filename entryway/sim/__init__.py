"""The device fleet simulator: simulated intercoms that speak docs/device-protocol.md.

Run it with ``entryway simulate`` (see ``entryway.sim.cli``), or embed it:

    from entryway.sim import DeviceSpec, Fleet, FleetThread
    fleet = Fleet(server_url, [DeviceSpec(mac, secret=secret)], poll_interval=1, reboot_seconds=0.5)
    with FleetThread(fleet) as runner:
        runner.wait_until(lambda f: f.device(mac).online, timeout=10)
"""
from entryway.sim.autop import AutopSyntaxError, apply_lines, parse_autop
from entryway.sim.device import DeviceSpec, RebootRequested, Result, SimDevice
from entryway.sim.fleet import (
    Fleet,
    FleetStats,
    FleetThread,
    fleet_upgrade_run,
    register_action_handler,
    run_sync,
)

__all__ = [
    "AutopSyntaxError", "DeviceSpec", "Fleet", "FleetStats", "FleetThread", "RebootRequested", "Result",
    "SimDevice", "apply_lines", "fleet_upgrade_run", "parse_autop", "register_action_handler", "run_sync",
]
