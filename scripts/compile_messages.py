"""Compile the project's .po catalogues to .mo with polib (no GNU gettext needed on the machine)."""
from __future__ import annotations

import pathlib
import sys

import polib

ROOT = pathlib.Path(__file__).resolve().parent.parent / "entryway"


def main() -> int:
    count = 0
    for po_path in ROOT.rglob("locale/*/LC_MESSAGES/*.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        polib.pofile(str(po_path)).save_as_mofile(str(mo_path))
        count += 1
    print(f"compiled {count} message catalogue(s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
