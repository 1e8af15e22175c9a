"""Opening and closing Remote Control sessions (every change audited)."""
from __future__ import annotations

import datetime
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from entryway.core.audit import audit
from entryway.deviceapi import devicecache
from entryway.deviceapi.choices import ActionKind, ActionStatus
from entryway.deviceapi.models import DeviceAction
from entryway.deviceapi.services import action_cancel, action_create, action_record_result
from entryway.remote.choices import CloseReason
from entryway.remote.models import RemoteSession
from entryway.remote.tunnel import requests_drop


def tunnel_url(session: RemoteSession) -> str:
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/device/v1/tunnel/{session.token}"


def session_open(*, acting_user, device) -> RemoteSession:
    """Ask the device to open a tunnel for one session (Remote Control button on its Settings).

    A device has at most one open session: pressing the button again gives the open one back.
    """
    from entryway.accounts.models import Account

    now = timezone.now()
    with transaction.atomic():
        # One opening at a time per installer: a double click opens one session, and the cap holds.
        Account.objects.select_for_update().filter(pk=device.installer_id).only("id").first()
        current = (RemoteSession.objects.open(now).filter(device_id=device.pk, installer_id=device.installer_id)
                   .first())
        if current is not None:
            return current
        open_count = RemoteSession.objects.open(now).filter(installer_id=device.installer_id).count()
        limit = settings.REMOTE_MAX_SESSIONS_PER_INSTALLER
        if open_count >= limit:
            raise ValidationError(_("You already have %(n)s Remote Control sessions open, the most at a time. "
                                    "Close one of them first.") % {"n": limit})
        session = RemoteSession(installer_id=device.installer_id, device=device, token=secrets.token_urlsafe(18),
                                opened_by=acting_user, opened_at=now,
                                expires_at=now + datetime.timedelta(seconds=settings.REMOTE_SESSION_MAX_SECONDS))
        session.full_clean()
        session.save()
        session.action = action_create(
            device=device, kind=ActionKind.REMOTE_CONTROL, acting_user=acting_user, audit_action=False,
            expires_at=session.expires_at,
            payload={"session": session.token, "url": tunnel_url(session),
                     "expires_at": session.expires_at.astimezone(datetime.UTC).strftime(devicecache.TIME_FORMAT),
                     "max_body": settings.REMOTE_MAX_BODY_BYTES})
        session.save(update_fields=["action", "updated_at"])
        audit(acting_user=acting_user, action="remote.open", obj=session,
              after={"device": device.mac, "device_id": device.pk, "opened_at": session.opened_at,
                     "expires_at": session.expires_at})
    return session


def session_close(*, session: RemoteSession, reason: str, acting_user=None, detail: str = "") -> RemoteSession:
    """End a session (from the portal, at its time limit, or because the device ended it). Idempotent."""
    now = timezone.now()
    with transaction.atomic():
        session = RemoteSession.objects.select_for_update().select_related("device").get(pk=session.pk)
        if session.closed_at is not None:
            return session
        session.closed_at = min(now, session.expires_at) if reason == CloseReason.EXPIRED else now
        session.close_reason = reason
        session.closed_by = acting_user if getattr(acting_user, "pk", None) else None
        session.save(update_fields=["closed_at", "close_reason", "closed_by", "updated_at"])
        requests_drop(session.pk)
        _finish_action(session, reason)
        audit(acting_user=acting_user, action="remote.close", obj=session,
              after={"device": session.device.mac, "device_id": session.device_id, "reason": reason,
                     "detail": detail[:200], "opened_at": session.opened_at, "closed_at": session.closed_at,
                     "duration_seconds": session.duration_seconds(), "requests": session.request_count,
                     "bytes_to_device": session.bytes_to_device, "bytes_from_device": session.bytes_from_device,
                     "opened_by": getattr(session.opened_by, "username", "")})
    return session


def _finish_action(session: RemoteSession, reason: str) -> None:
    """The session's device action ends with it: a connected tunnel is a success, an unused one is cancelled."""
    if session.action_id is None:
        return
    action = DeviceAction.objects.filter(pk=session.action_id).first()
    if action is None or not action.is_open:
        return
    label = CloseReason(reason).label if reason in CloseReason.values else reason
    if action.status == ActionStatus.PROCEEDING:
        action_record_result(action=action, status=ActionStatus.SUCCESS, stage="closed",
                             detail=_("Session ended: %(reason)s; %(n)s requests.") % {
                                 "reason": label, "n": session.request_count})
    else:
        action_cancel(action=action, detail=_("Session ended before the device connected: %(reason)s.") % {
            "reason": label})


def session_connected(*, session: RemoteSession) -> None:
    """The device's first tunnel call: the session is connected (recorded once)."""
    now = timezone.now()
    RemoteSession.objects.filter(pk=session.pk, connected_at__isnull=True).update(connected_at=now, updated_at=now)
    session.connected_at = session.connected_at or now


def session_action_result(action: DeviceAction) -> None:
    """What the device reported about its remote_control action (``register_result_handler``)."""
    if action.status not in (ActionStatus.SUCCESS, ActionStatus.FAILURE, ActionStatus.EXPIRED):
        return
    session = RemoteSession.objects.filter(action_id=action.pk, closed_at__isnull=True).first()
    if session is None:
        return
    reason = CloseReason.DEVICE_FAILED if action.status != ActionStatus.SUCCESS else CloseReason.DEVICE
    if action.status == ActionStatus.EXPIRED:
        reason = CloseReason.EXPIRED
    session_close(session=session, reason=reason, detail=action.detail)


def sessions_expire(*, now: datetime.datetime | None = None) -> int:
    """Close (and audit) the sessions past their time limit."""
    now = now or timezone.now()
    count = 0
    for session in RemoteSession.objects.filter(closed_at__isnull=True, expires_at__lte=now).only("id"):
        session_close(session=session, reason=CloseReason.EXPIRED)
        count += 1
    return count
