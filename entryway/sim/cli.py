"""``entryway simulate``: run simulated intercoms against an entryway server.

    entryway simulate --server http://127.0.0.1:8000 --from-db --installer installer --count 6 --stats
    entryway simulate --server https://cloud.example.com --macs-file macs.txt \\
        --autop-user ap3f9c2e1d --autop-password ... --poll-interval 30 --fail-rate 0.05 --duration 600
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from entryway.sim.device import DeviceSpec
from entryway.sim.fleet import Fleet, normalise_mac, run_sync
from entryway.sim.sources import specs_from_db, specs_from_file


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="entryway simulate",
                                description="Run simulated intercom devices that speak the entryway device protocol.")
    p.add_argument("--server", default=os.environ.get("ENTRYWAY_SERVER", "http://127.0.0.1:8000"),
                   help="base URL of the platform (default %(default)s)")
    src = p.add_argument_group("devices (one source)")
    src.add_argument("--macs-file", help="file with one device a line: MAC[,secret[,model[,firmware]]]")
    src.add_argument("--from-db", action="store_true",
                     help="take the devices and their installers' AutoP credentials from the local database")
    src.add_argument("--installer", default="", help="with --from-db: only this installer's devices (user name)")
    src.add_argument("--mac", action="append", default=[], help="a device MAC (repeatable)")
    p.add_argument("--count", type=int, help="run at most this many devices")
    p.add_argument("--autop-user", default=os.environ.get("ENTRYWAY_AUTOP_USER", ""),
                   help="installer AutoP user name for first provisioning")
    p.add_argument("--autop-password", default=os.environ.get("ENTRYWAY_AUTOP_PASSWORD", ""),
                   help="installer AutoP password (or ENTRYWAY_AUTOP_PASSWORD)")
    p.add_argument("--poll-interval", type=float, help="seconds between check-ins (default: what the platform says)")
    p.add_argument("--fail-rate", type=float, default=0.0, help="share of firmware installs that fail, 0..1")
    p.add_argument("--reboot-seconds", type=float, default=5.0, help="how long a reboot keeps a device offline")
    p.add_argument("--install-seconds", type=float, default=2.0, help="how long a firmware installation takes")
    p.add_argument("--mqtt", default="", metavar="URL",
                   help="broker address to use instead of the one in the AutoP file (mqtt://host:port)")
    p.add_argument("--no-mqtt", action="store_true", help="never connect to a broker (poll only)")
    p.add_argument("--duration", type=float, help="stop after this many seconds (default: until Ctrl-C)")
    p.add_argument("--seed", type=int, help="random seed (IP addresses, start times, failures)")
    p.add_argument("--ramp", type=float, default=0.0, help="spread the first boots over this many seconds")
    p.add_argument("--connections", type=int, default=200, help="HTTP connections shared by the fleet")
    p.add_argument("--follow-server", action="store_true",
                   help="use Config.Entryway.CLOUD.Server from the AutoP file after provisioning")
    p.add_argument("--stats", nargs="?", type=float, const=10.0, metavar="SECONDS",
                   help="print a summary line every SECONDS (default 10)")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: every request)")
    return p


def load_specs(args) -> list[DeviceSpec]:
    if sum(bool(x) for x in (args.macs_file, args.from_db, args.mac)) != 1:
        raise SystemExit("entryway simulate: give exactly one of --macs-file, --from-db, --mac")
    if args.macs_file:
        specs = specs_from_file(args.macs_file)
    elif args.from_db:
        specs = specs_from_db(installer=args.installer, count=args.count)
    else:
        specs = [DeviceSpec(mac=normalise_mac(mac)) for mac in args.mac]
    if args.count is not None:
        specs = specs[: args.count]
    return specs


async def _run(fleet: Fleet, args) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, fleet.stop)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread, or no signals here: Ctrl-C is not handled cleanly
    await fleet.run(duration=args.duration, stats_every=args.stats,
                    stats_out=lambda line: print(line, flush=True))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    if args.verbose:
        logging.getLogger("entryway.sim").setLevel(logging.DEBUG if args.verbose > 1 else logging.INFO)
    try:
        specs = load_specs(args)
    except (OSError, ValueError) as exc:
        print(f"entryway simulate: {exc}", file=sys.stderr)
        return 2
    if not specs:
        print("entryway simulate: no devices to run", file=sys.stderr)
        return 2
    try:
        fleet = Fleet(args.server, specs, autop_user=args.autop_user, autop_password=args.autop_password,
                      poll_interval=args.poll_interval, fail_rate=args.fail_rate,
                      reboot_seconds=args.reboot_seconds, install_seconds=args.install_seconds,
                      mqtt=not args.no_mqtt, mqtt_url=args.mqtt, seed=args.seed, ramp=args.ramp,
                      connection_limit=args.connections, follow_cloud_server=args.follow_server)
    except ValueError as exc:
        print(f"entryway simulate: {exc}", file=sys.stderr)
        return 2
    print(f"simulating {len(specs)} device(s) against {fleet.server}", flush=True)
    run_sync(_run(fleet, args))
    stats = fleet.stats()
    print(f"stopped: {stats.line()}", flush=True)
    return 0
