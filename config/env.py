"""One place where settings are read from the environment.

Production differs from the embedded default only by environment variables.
"""
from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


class Env:
    def str(self, name: str, default: str = "") -> str:
        return os.environ.get(name, default)

    def bool(self, name: str, default: bool = False) -> bool:
        raw = os.environ.get(name)
        if raw is None or raw == "":
            return default
        return raw.strip().lower() in {"1", "true", "yes", "on"}

    def int(self, name: str, default: int) -> int:
        raw = os.environ.get(name)
        return int(raw) if raw not in (None, "") else default

    def list(self, name: str, default: list[str] | None = None) -> list[str]:
        raw = os.environ.get(name)
        if raw is None or raw.strip() == "":
            return list(default or [])
        return [item.strip() for item in raw.split(",") if item.strip()]

    def path(self, name: str, default: Path) -> Path:
        raw = os.environ.get(name)
        return Path(raw) if raw else default


env = Env()
