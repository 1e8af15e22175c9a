"""Embedded default: SQLite, no other service, for `make run` and development."""
from config.settings.base import *  # noqa: F401,F403
