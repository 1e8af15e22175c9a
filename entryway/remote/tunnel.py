"""The platform's side of a tunnel: a queue of relayed requests in the database.

A browser request becomes a ``RemoteRequest`` row (state queued); the device's long poll
(``/device/v1/tunnel/<token>/next``) takes queued rows (state taken); its reply stores the answer
(state answered); the waiting browser request reads it and deletes the row. Every web process sees
the same rows, so this works with any number of processes and needs no broker.

Waiting is bounded everywhere: a browser request waits at most ``REMOTE_REQUEST_TIMEOUT`` seconds, a
device poll at most ``REMOTE_POLL_WAIT``, and one process holds at most ``REMOTE_MAX_WAITING`` waits at
once (``waiting_slot``); a wait beyond that is refused at once, so tunnels can never occupy the
threads that serve the rest of the platform.
"""
from __future__ import annotations

import contextlib
import threading
import time

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from entryway.remote.choices import RequestState
from entryway.remote.models import RemoteRequest, RemoteSession

# How often a waiting request looks at the database: quickly at first, then less often.
FIRST_INTERVAL, MAX_INTERVAL = 0.01, 0.1
# Requests handed to the device in one poll answer.
BATCH = 8

_slots_lock = threading.Lock()
_slots_used = 0


@contextlib.contextmanager
def waiting_slot():
    """Yields True when this process may hold one more waiting request, else False (refuse at once)."""
    global _slots_used
    with _slots_lock:
        allowed = _slots_used < settings.REMOTE_MAX_WAITING
        if allowed:
            _slots_used += 1
    try:
        yield allowed
    finally:
        if allowed:
            with _slots_lock:
                _slots_used -= 1


def slots_in_use() -> int:
    return _slots_used


def _queued_exists(session_id: int) -> bool:
    """Is a request waiting for the device? The check a held poll repeats: plain SQL on an index,
    about twenty times cheaper than the same question through the ORM."""
    table = connection.ops.quote_name(RemoteRequest._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {table} WHERE session_id = %s AND state = %s LIMIT 1",
                       [session_id, RequestState.QUEUED])
        return cursor.fetchone() is not None


def _state_of(request_id: int) -> str | None:
    """The state of one relayed request (None when it is gone): what a waiting browser request repeats."""
    table = connection.ops.quote_name(RemoteRequest._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT state FROM {table} WHERE id = %s", [request_id])
        row = cursor.fetchone()
    return row[0] if row else None


def _pause(interval: float) -> float:
    time.sleep(interval)
    return min(interval * 1.5, MAX_INTERVAL)


# -- the browser side -------------------------------------------------------------------------------------

def request_submit(*, session: RemoteSession, method: str, target: str, headers: list, body: bytes) -> int:
    with transaction.atomic():
        row = RemoteRequest.objects.create(session=session, method=method, target=target, headers=headers,
                                           body=body)
        RemoteSession.objects.filter(pk=session.pk).update(request_count=F("request_count") + 1,
                                                           bytes_to_device=F("bytes_to_device") + len(body))
    return row.pk


def request_wait(request_id: int, *, timeout: float) -> RemoteRequest | None:
    """The answered request (removed from the queue), or None when the device did not answer in time
    or the session closed meanwhile (which empties its queue)."""
    deadline = time.monotonic() + timeout
    interval = FIRST_INTERVAL
    while True:
        state = _state_of(request_id)
        if state is None:
            return None
        if state == RequestState.ANSWERED:
            row = (RemoteRequest.objects.filter(pk=request_id)
                   .only("id", "state", "status", "response_headers", "response_body").first())
            RemoteRequest.objects.filter(pk=request_id).delete()
            return row
        if time.monotonic() >= deadline:
            RemoteRequest.objects.filter(pk=request_id).delete()  # the device's late answer is refused
            return None
        interval = _pause(interval)


# -- the device side --------------------------------------------------------------------------------------

def requests_take(session_id: int, *, limit: int = BATCH) -> list[RemoteRequest]:
    """Queued requests, oldest first, marked taken (each is handed out once, even to parallel polls)."""
    taken = []
    candidates = list(RemoteRequest.objects.filter(session_id=session_id, state=RequestState.QUEUED)
                      .order_by("id").values_list("id", flat=True)[:limit])
    now = timezone.now()
    for pk in candidates:
        if RemoteRequest.objects.filter(pk=pk, state=RequestState.QUEUED).update(state=RequestState.TAKEN,
                                                                                taken_at=now):
            taken.append(pk)
    if not taken:
        return []
    return list(RemoteRequest.objects.filter(pk__in=taken).order_by("id"))


def requests_wait(session_id: int, *, timeout: float, still_open) -> list[RemoteRequest] | None:
    """Hold a device poll until requests are queued (they are returned) or ``timeout`` passes ([]).

    None when ``still_open()`` says the session ended meanwhile (it is asked about once a second).
    """
    deadline = time.monotonic() + timeout
    next_check = time.monotonic() + 1.0
    interval = FIRST_INTERVAL
    while True:
        if _queued_exists(session_id):
            taken = requests_take(session_id)
            if taken:
                return taken
        now = time.monotonic()
        if now >= deadline:
            return []
        if now >= next_check:
            if not still_open():
                return None
            next_check = now + 1.0
        interval = _pause(min(interval, max(0.0, deadline - now)))


def reply_store(*, session: RemoteSession, request_id: int, status: int, headers: list, body: bytes) -> str:
    """Store the device's answer. Returns "" when stored, else why not ("gone" or "answered")."""
    updated = RemoteRequest.objects.filter(pk=request_id, session_id=session.pk, state=RequestState.TAKEN).update(
        state=RequestState.ANSWERED, status=status, response_headers=headers, response_body=body,
        answered_at=timezone.now())
    if updated:
        RemoteSession.objects.filter(pk=session.pk).update(bytes_from_device=F("bytes_from_device") + len(body))
        return ""
    exists = RemoteRequest.objects.filter(pk=request_id, session_id=session.pk).only("state").first()
    return "answered" if exists is not None and exists.state == RequestState.ANSWERED else "gone"


def requests_drop(session_id: int) -> int:
    """Forget a session's queue (it closed): waiting browser requests then time out at once."""
    return RemoteRequest.objects.filter(session_id=session_id).delete()[0]
