"""``entryway simulate``: options, device sources, a run with statistics, and a clean stop on SIGTERM."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from entryway.sim.cli import build_parser, load_specs, main
from entryway.sim.sources import specs_from_file
from entryway.sim.tests.platform import served_platform

MACS = ["0C110512CC01", "0C110512CC02"]


@pytest.fixture
def platform():
    """The stand-in platform served from a background thread."""
    with served_platform(poll_interval=1) as p:
        for mac in MACS:
            p.add_device(mac)
        yield p


def test_macs_file(tmp_path):
    path = tmp_path / "macs.txt"
    path.write_text("# devices\n0c:11:05:12:cc:01\n0C110512CC02,s3cret,X916,1.2.3  # door\n\n"
                    "0C-11-05-12-CC-03 secret2\n")
    specs = specs_from_file(path)
    assert [s.mac for s in specs] == ["0C110512CC01", "0C110512CC02", "0C110512CC03"]
    assert (specs[0].secret, specs[0].model) == ("", "R29")
    assert (specs[1].secret, specs[1].model, specs[1].firmware) == ("s3cret", "X916", "1.2.3")
    assert specs[2].secret == "secret2"
    path.write_text("0C110512CC01\nnot-a-mac\n")
    with pytest.raises(ValueError, match="line 2"):
        specs_from_file(path)


def test_exactly_one_source_and_count():
    args = build_parser().parse_args(["--mac", MACS[0], "--mac", MACS[1], "--count", "1"])
    assert [s.mac for s in load_specs(args)] == [MACS[0]]
    with pytest.raises(SystemExit):
        load_specs(build_parser().parse_args([]))
    with pytest.raises(SystemExit):
        load_specs(build_parser().parse_args(["--mac", MACS[0], "--from-db"]))


def test_bad_options_answer_a_message_not_a_traceback(capsys):
    assert main(["--mac", "nonsense"]) == 2
    assert "not a MAC address" in capsys.readouterr().err
    assert main(["--mac", MACS[0], "--fail-rate", "2"]) == 2
    assert "fail_rate" in capsys.readouterr().err


def test_run_with_statistics(platform, capsys):
    upgrade_url, sha = platform.add_file("fw.rom", b"f" * 100)
    action = platform.add_action(MACS[0], "upgrade", {"version": "9.9", "url": upgrade_url, "sha256": sha,
                                                      "size": 100})
    code = main(["--server", platform.url, "--mac", MACS[0], "--mac", MACS[1], "--autop-user", "ap-test",
                 "--autop-password", "pw-test", "--poll-interval", "0.3", "--duration", "2.5", "--stats", "1",
                 "--no-mqtt", "--seed", "4", "--install-seconds", "0.1", "--reboot-seconds", "0.2",
                 "--fail-rate", "0"])
    out = capsys.readouterr().out
    assert code == 0
    assert "simulating 2 device(s)" in out
    assert "devices 2 online 2" in out  # a periodic summary line
    assert out.strip().splitlines()[-1].startswith("stopped: devices 2")
    assert platform.actions[action]["status"] == "success"
    assert {c["mac"] for c in platform.checkins} == set(MACS)
    assert [c["firmware"] for c in platform.checkins if c["mac"] == MACS[0]][-1] == "9.9"


def test_sigterm_stops_cleanly(platform):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "entryway.cli", "simulate", "--server", platform.url, "--mac", MACS[0],
         "--autop-user", "ap-test", "--autop-password", "pw-test", "--poll-interval", "0.2", "--no-mqtt"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 15
        while len(platform.checkins) < 2:
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read() if proc.poll() else ""
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopped: devices 1" in out
    assert "Traceback" not in err
