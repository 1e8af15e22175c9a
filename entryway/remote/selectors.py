"""Reads of Remote Control that depend on who asks."""
from __future__ import annotations

from entryway.remote.models import RemoteSession


def usable_sessions(user):
    """The sessions ``user`` may open and close: their own, or (distributor) their installers' with permission."""
    return RemoteSession.objects.visible_to(user)


def session_list(user):
    return usable_sessions(user).select_related("device", "opened_by").order_by("-opened_at", "-id")
