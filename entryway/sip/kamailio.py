"""Generating the Kamailio configuration and running Kamailio (production and tests).

Kamailio reads SIP accounts, households, installers, landlines and the trunk from entryway's
own database (PostgreSQL in production; SQLite works too) with the sqlops module, at every
request: no restart is needed when the portal changes something.
"""
from __future__ import annotations

import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from urllib.parse import quote

from django.conf import settings
from django.db import connection

TEMPLATE = pathlib.Path(__file__).parent / "templates" / "sip" / "kamailio.cfg.tmpl"
MODULE_PATHS = ("/usr/lib/x86_64-linux-gnu/kamailio/modules/", "/usr/lib/aarch64-linux-gnu/kamailio/modules/",
                "/usr/lib/kamailio/modules/")


def kamailio_binary() -> str | None:
    return shutil.which("kamailio") or (
        "/usr/sbin/kamailio" if os.path.exists("/usr/sbin/kamailio") else None
    )


def module_path() -> str:
    for path in MODULE_PATHS:
        if os.path.isdir(path):
            return path
    return MODULE_PATHS[0]


def database_url(db_settings: dict | None = None) -> tuple[str, str]:
    """(Kamailio db module, db URL) for the Django database in use."""
    db = db_settings or connection.settings_dict
    engine = db["ENGINE"]
    if engine.endswith("postgresql"):
        user = quote(db.get("USER") or "", safe="")
        password = quote(db.get("PASSWORD") or "", safe="")
        auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host = db.get("HOST") or "127.0.0.1"
        port = db.get("PORT") or 5432
        return "db_postgres.so", f"postgres://{auth}{host}:{port}/{db['NAME']}"
    if engine.endswith("sqlite3"):
        name = str(db.get("NAME"))
        if name in ("", ":memory:") or name.startswith("file:memorydb"):
            raise RuntimeError("Kamailio needs a file database; the SQLite database is in memory.")
        return "db_sqlite.so", f"sqlite://{os.path.abspath(name)}"
    raise RuntimeError(f"Kamailio cannot read a {engine} database")


@dataclass
class KamailioConfig:
    listen: str = "127.0.0.1"
    udp_port: int = 5060
    tcp_port: int = 5060
    tls_port: int | None = 5061
    tls_certificate: str = ""
    tls_private_key: str = ""
    domain: str = field(default_factory=lambda: settings.SIP_DOMAIN)
    no_answer_seconds: int = field(default_factory=lambda: settings.SIP_LANDLINE_NO_ANSWER_SECONDS)
    pike_density: int = field(default_factory=lambda: settings.SIP_PIKE_DENSITY)
    children: int = 2
    log_stderr: bool = True
    ctl_socket: str = "/run/kamailio/entryway-ctl"
    run_dir: str = ""

    def render(self, db_settings: dict | None = None) -> tuple[str, str | None]:
        """The kamailio.cfg text, and the tls.cfg text when TLS is on."""
        db_module, db_url = database_url(db_settings)
        listen = [f"listen=udp:{self.listen}:{self.udp_port}", f"listen=tcp:{self.listen}:{self.tcp_port}"]
        tls_on = bool(self.tls_port and self.tls_certificate and self.tls_private_key)
        tls_cfg = None
        tls_loadmodule = tls_modparam = ""
        if tls_on:
            listen.append(f"listen=tls:{self.listen}:{self.tls_port}")
            tls_loadmodule = 'loadmodule "tls.so"'
            tls_cfg_path = os.path.join(self.run_dir or tempfile.gettempdir(), "entryway-tls.cfg")
            tls_modparam = f'modparam("tls", "config", "{tls_cfg_path}")'
            tls_cfg = (
                "[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n"
                f"certificate = {self.tls_certificate}\nprivate_key = {self.tls_private_key}\n\n"
                "[client:default]\nverify_certificate = no\nrequire_certificate = no\n"
            )
        values = {
            "LOG_STDERR": "yes" if self.log_stderr else "no",
            "CHILDREN": str(self.children),
            "ENABLE_TLS": "yes" if tls_on else "no",
            "LISTEN": "\n".join(listen),
            "DOMAIN": self.domain,
            "MODULE_PATH": module_path(),
            "DB_MODULE": db_module,
            "DB_URL": db_url,
            "CTL_SOCKET": self.ctl_socket,
            "PIKE_DENSITY": str(self.pike_density),
            "NO_ANSWER_MS": str(self.no_answer_seconds * 1000),
            "TLS_LOADMODULE": tls_loadmodule,
            "TLS_MODPARAM": tls_modparam,
        }
        text = TEMPLATE.read_text()
        for key, value in values.items():
            text = text.replace(f"@@{key}@@", value)
        return text, tls_cfg


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class KamailioProcess:
    """Runs Kamailio in the foreground on this machine (tests, `manage.py sip_server`)."""

    def __init__(self, config: KamailioConfig, db_settings: dict | None = None):
        self.config = config
        self.db_settings = db_settings
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="entryway-kamailio-"))
        self.config.run_dir = str(self.dir)
        self.config.ctl_socket = str(self.dir / "ctl.sock")
        self.log_path = self.dir / "kamailio.log"
        self.proc: subprocess.Popen | None = None

    def write(self) -> pathlib.Path:
        text, tls_cfg = self.config.render(self.db_settings)
        cfg = self.dir / "kamailio.cfg"
        cfg.write_text(text)
        if tls_cfg is not None:
            (self.dir / "entryway-tls.cfg").write_text(tls_cfg)
        return cfg

    def check(self) -> subprocess.CompletedProcess:
        cfg = self.write()
        return subprocess.run([kamailio_binary(), "-c", "-f", str(cfg)], capture_output=True, text=True)

    def start(self, timeout: float = 10.0) -> None:
        binary = kamailio_binary()
        if binary is None:
            raise RuntimeError("kamailio is not installed (apt-get install kamailio kamailio-postgres-modules "
                               "kamailio-sqlite-modules kamailio-tls-modules)")
        cfg = self.write()
        log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [binary, "-f", str(cfg), "-DD", "-E", "-m", "64", "-M", "8", "-Y", str(self.dir),
             "-P", str(self.dir / "kamailio.pid")],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kamailio exited at start:\n{self.log()}")
            try:
                with socket.create_connection((self.config.listen, self.config.tcp_port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"kamailio did not start listening in {timeout} s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
