"""`make bench`: run every benchmark against PostgreSQL and print its figures.

    python -m bench.run_all                      # every bench/bench_*.py
    python -m bench.run_all bench_checkin ...    # the named ones

Each benchmark runs in a process of its own: most set Django up for their own database and
settings, which a process can do only once.
"""
from __future__ import annotations

import pkgutil
import subprocess
import sys
import time

import bench
from bench.common import ROOT


def main() -> int:
    names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_"))
    only = set(sys.argv[1:])
    unknown = only - set(names)
    if unknown:
        print("no such benchmark: " + ", ".join(sorted(unknown)) + "; there are: " + ", ".join(names))
        return 2
    failed = []
    for name in names:
        if only and name not in only:
            continue
        print(f"\n=== {name} ===", flush=True)
        start = time.perf_counter()
        # One benchmark failing does not hide the others' figures.
        if subprocess.run([sys.executable, "-m", f"bench.{name}"], cwd=ROOT, check=False).returncode != 0:
            failed.append(name)
            print(f"{name} FAILED", flush=True)
        print(f"({name} took {time.perf_counter() - start:.0f} s)", flush=True)
    if failed:
        print("failed:", ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
