"""Answers for failures outside a view's control: the database going away mid-request.

A lost database connection is not a bug in the request: it answers 503 with Retry-After (JSON under
/api/ and /device/, a short page elsewhere) instead of a 500. Every service writes inside
``transaction.atomic``, so a change cut off half-way is rolled back by the database.

So does a statement the connection prepared before a migration changed the type of a column it reads
(the device hot paths', entryway.core.rawsql.cursor): PostgreSQL refuses it ("cached plan must not
change result type") until the connection is new. The connection is closed, so the next request
prepares the statement again.
"""
from __future__ import annotations

import logging
import sys

from django.db import InterfaceError, NotSupportedError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.views.defaults import server_error as django_server_error

logger = logging.getLogger("entryway.errors")

DB_ERRORS = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 30
MESSAGE = "The service is briefly unavailable (its database cannot be reached). Nothing was changed; try again shortly."
JSON_PREFIXES = ("/api/", "/device/", "/autop/", "/remote/")


def database_unavailable(request) -> HttpResponse:
    path = getattr(request, "path", "") or ""
    if path.startswith(JSON_PREFIXES) or "application/json" in request.META.get("HTTP_ACCEPT", ""):
        response = JsonResponse({"detail": MESSAGE}, status=503)
    else:
        response = HttpResponse(MESSAGE, status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def _stale_plan(exc) -> bool:
    return isinstance(exc, NotSupportedError) and "cached plan must not change result type" in str(exc)


def _is_db_error(exc) -> bool:
    return isinstance(exc, DB_ERRORS) or _stale_plan(exc)


class DatabaseUnavailableMiddleware:
    """A view that loses the database answers 503 (``process_exception``); see ``server_error`` for the rest."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if _is_db_error(exception):
            _close_broken_connections(stale=_stale_plan(exception))
            logger.error("database unavailable during %s %s: %s", request.method, request.path, exception)
            return database_unavailable(request)
        return None


def _close_broken_connections(stale: bool = False) -> None:
    """Close the connections that are broken; with ``stale``, every connection (its prepared statements
    outdated by a schema change)."""
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        try:
            if stale and not conn.in_atomic_block:
                conn.close()
            else:
                conn.close_if_unusable_or_obsolete()
        except Exception as exc:  # noqa: BLE001 - the connection is already gone
            logger.debug("closing the broken connection %s: %s", conn.alias, exc)


def server_error(request, *args, **kwargs):
    """handler500: a database failure outside a view (sessions, authentication) is a 503 too."""
    exc = sys.exc_info()[1]
    if exc is not None and _is_db_error(exc):
        _close_broken_connections(stale=_stale_plan(exc))
        return database_unavailable(request)
    return django_server_error(request, *args, **kwargs)
