"""Does the portal's Python heap grow with use? The soak's installer against one process, under tracemalloc.

    python -m bench.portal_heap                  # 3 warm-up rounds, then 30 measured rounds
    BENCH_HEAP_ROUNDS=60 python -m bench.portal_heap

``bench_soak`` samples the web workers' resident memory, which also moves with the allocator's arenas
and the pages a worker touches once. This tool tells the two apart: it serves ``config.wsgi.application``
(the production settings, PostgreSQL, Redis) in this process with a threaded ``wsgiref`` server, lets
``bench_soak.Installer`` (every portal operation of the soak, through the pages, without pauses) work
against it, starts ``tracemalloc`` after the warm-up rounds, and prints every 10 rounds the Python memory
allocated since then and still held (and the resident memory, which from then on includes tracemalloc's
own tables); at the end, the allocation sites that grew most. A leak shows as held memory growing round
after round.

It seeds its own database (``entryway_heap``) and uses Redis database 12; no device fleet runs, so the
devices are marked as connected (an update strategy refuses devices that never connected). Not part of
``make bench``: it runs for several minutes and measures no target by itself.
"""
from __future__ import annotations

import gc
import os
import socketserver
import threading
import time
import tracemalloc
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from bench import common

WARM_ROUNDS = 3
ROUNDS = int(os.environ.get("BENCH_HEAP_ROUNDS", "30"))
DEVICES = int(os.environ.get("BENCH_HEAP_DEVICES", "200"))
PORT = int(os.environ.get("BENCH_HEAP_PORT", "18391"))
os.environ.setdefault("BENCH_SOAK_DATABASE_URL", common.database_url().rsplit("/", 1)[0] + "/entryway_heap")
os.environ.setdefault("BENCH_SOAK_REDIS_URL", "redis://127.0.0.1:6379/12")
os.environ["BENCH_SOAK_THINK"] = "0"  # read when bench_soak is imported: the installer does not pause


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


class _Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


def main() -> None:
    import tempfile

    from bench import bench_soak

    def rss_mb() -> float:
        return bench_soak._rss_mb(os.getpid())

    bench_soak._setup_django(tempfile.mkdtemp(prefix="entryway-bench-heap-"))
    from django.db import connection
    from django.utils import timezone

    seed = bench_soak._seed(DEVICES)
    from entryway.devices.models import IntercomDevice

    IntercomDevice.objects.filter(installer_id=seed["installer_id"]).update(last_seen_at=timezone.now())
    connection.close()
    from config.wsgi import application

    server = make_server("127.0.0.1", PORT, application, server_class=_Server, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stop = threading.Event()
    installer = bench_soak.Installer(PORT, seed, stop)
    installer.start()
    while installer.rounds < WARM_ROUNDS and installer.is_alive():
        time.sleep(0.2)
    gc.collect()
    tracemalloc.start(25)
    before, rss_before, start = tracemalloc.take_snapshot(), rss_mb(), time.monotonic()
    print(f"machine: {common.machine()}; {DEVICES} devices; after {installer.rounds} warm-up rounds: "
          f"resident {rss_before:.1f} MB", flush=True)
    shown = installer.rounds
    while installer.rounds < WARM_ROUNDS + ROUNDS and installer.is_alive():
        time.sleep(0.2)
        if installer.rounds >= shown + 10:
            shown = installer.rounds
            gc.collect()
            print(f"  round {shown:3d}: Python memory allocated since the warm-up and held "
                  f"{tracemalloc.get_traced_memory()[0] / 1e6:.2f} MB; resident {rss_mb():.1f} MB", flush=True)
    stop.set()
    installer.join(60)
    gc.collect()
    after = tracemalloc.take_snapshot()
    held = tracemalloc.get_traced_memory()[0] / 1e6
    tracemalloc.stop()
    server.shutdown()
    done = installer.rounds - WARM_ROUNDS
    print(f"{done} rounds in {time.monotonic() - start:.0f} s ({sum(installer.done.values())} operations done, "
          f"{len(installer.refused)} refused{': ' + installer.refused[0][:200] if installer.refused else ''}); "
          f"Python memory held {held:.2f} MB ({1000 * held / max(1, done):.1f} kB per round); resident "
          f"{rss_before:.1f} MB before tracemalloc, {rss_mb():.1f} MB with it")
    if installer.error is not None:
        raise SystemExit(f"the installer stopped: {installer.error!r}")
    print("allocation sites that grew most (size held now, growth since the warm-up):")
    for stat in after.compare_to(before, "lineno")[:10]:
        print(f"  {stat.size / 1024:8.1f} kB ({stat.size_diff / 1024:+8.1f} kB) {stat.traceback[0]}")


if __name__ == "__main__":
    main()
