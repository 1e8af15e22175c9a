"""The `entryway` console command.

    entryway simulate ...   run simulated devices against a server (see entryway.sim)
    entryway <django command> ...   any manage.py command, e.g. `entryway migrate`
"""
from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "simulate":
        from entryway.sim.cli import main as simulate

        return simulate(argv[1:])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["entryway", *argv])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
