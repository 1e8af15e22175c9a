"""Shared pieces of the benchmarks: a PostgreSQL database, the production server, wrk, memory."""
from __future__ import annotations

import io
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DEFAULT_DB = "postgres://root@127.0.0.1:5432/entryway_bench"


def database_url() -> str:
    return os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)


# Held by the benchmark process for as long as it lives (``one_at_a_time``).
_machine_lock = None


def one_at_a_time() -> None:
    """Stop this benchmark when another one is running on the machine.

    The benchmarks share their databases (PostgreSQL's and Redis's) as well as the two cores: a second one
    starting re-seeds the devices and empties the cache under the first, whose load generator then sends
    secrets that are no longer right and gets every device of its address refused (bench/RESULTS.md,
    "Eleventh round"). The lock is a file lock, released when the process ends however it ends. Its file is
    not /tmp/entryway-bench.lock, which earlier runs took from outside with flock(1) around a benchmark
    (bench/RESULTS.md, "Portal at scale"): such a command still works."""
    global _machine_lock
    if _machine_lock is not None:
        return
    import fcntl

    handle = open(os.path.join(tempfile.gettempdir(), "entryway-bench-running.lock"), "a+")  # noqa: SIM115 - held open
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise SystemExit(f"another benchmark is running ({holder}): benchmarks share their databases and the "
                         "machine, so run one at a time") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}: {' '.join(sys.argv)}\n")
    handle.flush()
    _machine_lock = handle


def reset_database(url: str) -> None:
    """Drop and re-create the benchmark database (PostgreSQL), once no other benchmark is running."""
    import psycopg

    one_at_a_time()
    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def server_env(url: str, var_dir: str, **extra) -> dict:
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": "bench-secret-key-" + "x" * 40,
        "DATABASE_URL": url,
        "ENTRYWAY_VAR_DIR": var_dir,
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "PUBLIC_BASE_URL": "http://127.0.0.1",
    })
    env.update({k: str(v) for k, v in extra.items()})
    return env


def manage(env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT, check=check,
                          capture_output=True, text=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Threads per worker of deploy/'s servers (deploy/systemd/entryway-web.service and entryway-devices.service),
# and the variable that sets another figure for a benchmark's server of that role.
ROLE_THREADS = {"web": (4, "BENCH_WEB_THREADS"), "devices": (2, "BENCH_DEVICE_THREADS")}


class Server:
    """granian (WSGI, N workers of ``threads`` threads each) serving the production settings, as deploy/ runs
    the server of ``role``: "web" (the portal and the API, 4 threads per worker) or "devices" (the devices'
    own requests, 2).

    granian's default for WSGI is backpressure / 2 threads per worker (hundreds): every busy thread
    holds a database connection and competes for the GIL. A few threads per worker serve short
    requests fastest (bench/RESULTS.md, "Threads per worker" and "A server for the devices");
    BENCH_WEB_THREADS and BENCH_DEVICE_THREADS measure other figures.
    """

    def __init__(self, env: dict, workers: int = 2, port: int | None = None, threads: int | None = None,
                 role: str = "web"):
        self.env, self.workers, self.port, self.role = env, workers, port or free_port(), role
        # 0: granian's own default, backpressure / 2 per worker (512 here with --backlog 2048, 256 with its
        # default backlog).
        default, variable = ROLE_THREADS[role]
        self.threads = threads if threads is not None else int(os.environ.get(variable, str(default)))
        self.proc: subprocess.Popen | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="entryway-bench-web-", suffix=".log", delete=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        granian = shutil.which("granian", path=str(pathlib.Path(PYTHON).parent)) or "granian"
        self.proc = subprocess.Popen(
            [granian, "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(self.port), "--workers",
             str(self.workers), *(["--blocking-threads", str(self.threads)] if self.threads else []),
             "--backlog", "2048", *os.environ.get("BENCH_GRANIAN_ARGS", "").split(), "config.wsgi:application"],
            env=self.env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=1).read()
                return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("server did not start: " + pathlib.Path(self.log.name).read_text()[-2000:])

    def __exit__(self, *exc):
        _stop(self.proc)

    def worker_rss_mb(self) -> list[float]:
        """Resident memory of each worker process (children of the granian main process)."""
        out = []
        for pid in self.worker_pids():
            try:
                status = pathlib.Path(f"/proc/{pid}/status").read_text()
            except FileNotFoundError:
                continue
            match = re.search(r"VmRSS:\s+(\d+) kB", status)
            if match:
                out.append(int(match.group(1)) / 1024)
        return out

    def connection_split(self) -> list[int]:
        """Established client connections on the server's port held by each worker process, largest first.

        The workers share one listening socket and take new connections as they come: 64 long-lived
        connections split unevenly, and the worker holding more of them answers each more slowly."""
        pids = self.worker_pids()
        held: dict[str, int] = {}
        for index, pid in enumerate(pids):
            try:
                links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
            except (FileNotFoundError, PermissionError):
                continue
            for link in links:
                if link.startswith("socket:["):
                    held[link[8:-1]] = index
        counts = [0] * len(pids)  # a worker holding none counts as 0
        port = f"{self.port:04X}"
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                lines = pathlib.Path(table).read_text().splitlines()[1:]
            except FileNotFoundError:
                continue
            for line in lines:
                fields = line.split()
                # local address, state 01 (established), inode
                if fields[1].rsplit(":", 1)[1] == port and fields[3] == "01" and fields[9] in held:
                    counts[held[fields[9]]] += 1
        return sorted(counts, reverse=True)

    def worker_pids(self) -> list[int]:
        """The worker processes (children of the granian main process that have a command line)."""
        pids = []
        for pid in _descendants(self.proc.pid):
            try:
                if pathlib.Path(f"/proc/{pid}/cmdline").read_bytes():
                    pids.append(pid)
            except FileNotFoundError:
                continue
        return pids


class Background:
    """A platform process that runs beside the web workers on the same settings (``manage.py <args>``),
    started on entry and stopped on exit; its output goes to a log file."""

    name = "background"

    def __init__(self, env: dict, *args: str):
        self.env, self.args, self.proc = env, args, None
        self.log = tempfile.NamedTemporaryFile(prefix=f"entryway-bench-{self.name}-", suffix=".log", delete=False)

    def __enter__(self):
        self.proc = subprocess.Popen([PYTHON, str(ROOT / "manage.py"), *self.args], env=self.env, cwd=ROOT,
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def __exit__(self, *exc):
        _stop(self.proc)

    def output(self) -> str:
        return pathlib.Path(self.log.name).read_text(errors="replace")


class Consumer(Background):
    """A Huey consumer (``manage.py run_huey``) on the same settings as the server: the background work a
    production deployment runs beside the web workers (the batched Last Connected Times, among others)."""

    name = "huey"

    def __init__(self, env: dict, workers: int = 2):
        super().__init__(env, "run_huey", "--workers", str(workers), "--flush-locks")


class Reports(Background):
    """The MQTT report consumer (``manage.py mqtt_reports``): records the results devices publish."""

    name = "reports"

    def __init__(self, env: dict):
        super().__init__(env, "mqtt_reports")


class Broker:
    """A Mosquitto of the benchmark's own on a free port of 127.0.0.1 (anonymous, no persistence), with the
    queue and in-flight limits of the project's deployment (deploy/mosquitto/mosquitto.conf): the figures
    measure the broker as it is deployed, not as a distribution's defaults leave it."""

    LIMITS = ("max_queued_messages", "max_inflight_messages")

    def __init__(self):
        self.port = free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self.dir = tempfile.mkdtemp(prefix="entryway-bench-mosquitto-")
        self.proc = None

    @classmethod
    def deployed_limits(cls) -> dict[str, str]:
        found = {}
        for line in (ROOT / "deploy" / "mosquitto" / "mosquitto.conf").read_text().splitlines():
            words = line.split()
            if len(words) == 2 and words[0] in cls.LIMITS:
                found[words[0]] = words[1]
        return found

    def __enter__(self):
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        conf = pathlib.Path(self.dir) / "mosquitto.conf"
        limits = "".join(f"{key} {value}\n" for key, value in self.deployed_limits().items())
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                        f"log_type error\nlog_type warning\n{limits}")
        # Its log to a file: a pipe nobody reads fills up, and then Mosquitto stops serving.
        self.log = pathlib.Path(self.dir) / "mosquitto.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen([binary, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("mosquitto did not start: " + self.log.read_text(errors="replace"))
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not listen within 10 s")

    def __exit__(self, *exc):
        _stop(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


def _stop(proc) -> None:
    """End a process group started with start_new_session: SIGTERM, then SIGKILL after 10 s."""
    if proc and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _descendants(pid: int) -> list[int]:
    children = []
    for task in pathlib.Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids = (task / "children").read_text().split()
        except FileNotFoundError:
            continue
        for kid in kids:
            children.append(int(kid))
            children.extend(_descendants(int(kid)))
    return children


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid) -> tuple[str, list[str]] | None:
    """(command name, the fields after it) of /proc/<pid>/stat; None when the process is not there."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()


def process_cpu(pid: int | None) -> float:
    """One process's CPU seconds so far (user + system); 0.0 when it is not on this machine."""
    stat = _stat(pid) if pid is not None else None
    if stat is None:
        return 0.0
    return (int(stat[1][11]) + int(stat[1][12])) / _CLOCK_TICKS


def cpu_by_process(server: "Server | None" = None) -> dict[int, tuple[str, float]]:
    """{pid: (group, CPU seconds used so far, user + system)} for every process on the machine, grouped as
    the processes that share it in a benchmark: the web workers, PostgreSQL, Redis, Mosquitto, this
    process, the MQTT report consumer, and everything else (the Huey consumer, a process that starts a
    strategy).

    ``cpu_line`` of two readings gives what each group used in between: a process that started in between
    counts from zero, one that ended in between is missing (a lower bound), except PostgreSQL's backends,
    whose CPU the postmaster collects when they end: ``cpu_line`` takes off what such a backend had used by
    the first reading (a web worker's connection reaches its ``CONN_MAX_AGE`` and is opened again within the
    measured time; counted whole, its earlier work doubled PostgreSQL's figure in some runs)."""
    workers = set(server.worker_pids()) if server is not None else set()
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _stat(entry)
        if stat is None:
            continue
        name, fields = stat
        pid = int(entry)
        if pid in workers:
            group = "web workers"
        elif name.startswith("postgres"):
            group = "PostgreSQL"
        elif name.startswith("redis-server"):
            group = "Redis"
        elif name.startswith("mosquitto"):
            group = "Mosquitto"
        elif pid == os.getpid():
            group = "benchmark (simulator)"
        elif b"mqtt_reports" in _cmdline(entry):
            group = "report consumer"
        else:
            group = "other"
        ticks = int(fields[11]) + int(fields[12])
        if group == "PostgreSQL":  # with the backends that ended and were reaped by the postmaster
            ticks += int(fields[13]) + int(fields[14])
        out[pid] = (group, ticks / _CLOCK_TICKS)
    return out


CPU_GROUPS = ("web workers", "PostgreSQL", "Redis", "Mosquitto", "benchmark (simulator)", "report consumer", "other")


def _cmdline(pid: str) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def cpu_line(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]], seconds: float,
             per: int = 0, unit: str = "") -> str:
    """'web workers 76.3, PostgreSQL 38.6, ...: 178.0 CPU-s in 99.0 s' (and per ``unit`` in ms, when ``per``)."""
    used = dict.fromkeys(CPU_GROUPS, 0.0)
    for pid, (group, seconds_then) in after.items():
        earlier = before.get(pid)
        used[group] += seconds_then - (earlier[1] if earlier is not None and earlier[0] == group else 0.0)
    for pid, (group, seconds_then) in before.items():
        if group == "PostgreSQL" and pid not in after:  # its whole life is in the postmaster's reaped time
            used[group] -= seconds_then
    total = sum(used.values())
    text = ", ".join(f"{k} {v:.1f}" for k, v in used.items()) + f": {total:.1f} CPU-s in {seconds:.1f} s"
    if per:
        text += f" ({1000 * total / per:.1f} ms per {unit})"
    return text


def wrk(url: str, *, script: str | None = None, connections: int = 64, threads: int = 2, seconds: int = 15,
        env: dict | None = None, midway=None) -> dict:
    """Run wrk with latency percentiles; returns requests/s, p50/p99 (ms), errors and non-2xx counts, and
    under "midway" what ``midway()`` returned halfway through the run."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    args = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency", "--timeout", "5s"]
    if script:
        args += ["-s", script]
    proc = subprocess.Popen(args + [url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    seen = None
    if midway is not None:
        time.sleep(seconds / 2)
        seen = midway()
    out, err = proc.communicate()
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, args, out, err)
    return {**parse_wrk(out), "midway": seen}


def _ms(value: str) -> float:
    number = float(re.match(r"[\d.]+", value).group())
    unit = value[len(re.match(r"[\d.]+", value).group()):]
    return number * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}.get(unit, 1)


def parse_wrk(out: str) -> dict:
    if not re.search(r"Requests/sec:", out) or not re.search(r"99%", out):
        raise RuntimeError(f"wrk printed no figures: {out[-2000:]!r}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"^\s*50%\s+(\S+)", out, re.MULTILINE).group(1))
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)", out, re.MULTILINE).group(1))
    errors = 0
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket_errors:
        errors += sum(int(x) for x in socket_errors.groups())
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "errors": errors,
            "non2xx": int(non2xx.group(1)) if non2xx else 0, "requests": total, "raw": out}


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1)))))
    return ordered[k]


def machine() -> str:
    cores = os.cpu_count()
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", pathlib.Path("/proc/meminfo").read_text()).group(1))
    return f"{cores} cores, {mem_kb / 1024 / 1024:.1f} GiB"


def call_wsgi(app, method: str, path: str, *, auth: str = "", body: bytes = b"") -> tuple[int, bytes]:
    """(status, body) of ``app``'s answer to one request, called in this process with a WSGI environ."""
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80", "HTTP_HOST": "127.0.0.1", "REMOTE_ADDR": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body), "wsgi.errors": io.StringIO(),
        "wsgi.version": (1, 0), "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)),
    }
    if auth:
        environ["HTTP_AUTHORIZATION"] = auth
    if body:
        environ["CONTENT_TYPE"] = "application/json"
    status = []
    chunks = app(environ, lambda s, h, exc_info=None: status.append(int(s.split()[0])))
    data = b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    return status[0], data
