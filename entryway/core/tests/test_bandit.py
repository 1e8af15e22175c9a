"""bandit over the platform's code: every finding is one of the reviewed exceptions, each with its reason."""
from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[3]
REVIEWED = pathlib.Path(__file__).with_name("bandit_reviewed.toml")


def _bandit() -> str:
    found = shutil.which("bandit", path=str(pathlib.Path(sys.executable).parent)) or shutil.which("bandit")
    assert found, "bandit is a test dependency (pip install -e '.[test]')"
    return found


def _reviewed() -> list[dict]:
    entries = tomllib.loads(REVIEWED.read_text())["reviewed"]
    for entry in entries:
        assert entry.get("reason", "").strip(), f"reviewed exception without a reason: {entry}"
    return entries


def _line(filename: str, number: int) -> str:
    return (ROOT / filename).read_text(encoding="utf-8").splitlines()[number - 1]


def test_bandit_reports_nothing_unreviewed():
    result = subprocess.run([_bandit(), "-r", "entryway", "-x", "*/tests/*", "-f", "json", "-q"], cwd=ROOT,
                            capture_output=True, text=True, timeout=600, check=False)
    report = json.loads(result.stdout)
    assert not report.get("errors"), report["errors"]
    reviewed = _reviewed()
    new = []
    for finding in report["results"]:
        filename = pathlib.Path(finding["filename"]).as_posix()
        line = _line(filename, finding["line_number"])
        if not any(e["test"] == finding["test_id"] and e["file"] == filename and e["code"] in line for e in reviewed):
            new.append(f"{finding['test_id']} {filename}:{finding['line_number']} {finding['issue_text']}\n"
                       f"    {line.strip()}")
    assert not new, ("bandit findings not reviewed (fix them, or add them with a reason to "
                     f"{REVIEWED.name}):\n" + "\n".join(new))
