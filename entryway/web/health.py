"""Liveness and readiness for load balancers and orchestrators."""
from __future__ import annotations

import socket

from django.conf import settings
from django.db import connection
from django.http import JsonResponse


def healthz(request):
    return JsonResponse({"status": "ok"})


def _broker() -> str:
    """The MQTT broker (when one is configured) accepts connections: "ok", "off", or the error."""
    if not settings.MQTT_URL:
        return "off"
    from entryway.deviceapi.mqtt import parse_url

    broker = parse_url(settings.MQTT_URL)
    with socket.create_connection((broker.host, broker.port), timeout=min(settings.MQTT_TIMEOUT, 2.0)):
        return "ok"


def readyz(request):
    """200 when the database, the queue and the broker (if configured) answer; 503 with the failing one."""
    checks: dict[str, str] = {}
    ok = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        checks["database"] = f"error: {exc.__class__.__name__}"
        ok = False
    try:
        from huey.contrib.djhuey import HUEY

        HUEY.pending_count()
        checks["queue"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        checks["queue"] = f"error: {exc.__class__.__name__}"
        ok = False
    try:
        checks["broker"] = _broker()
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        checks["broker"] = f"error: {exc.__class__.__name__}"
        ok = False
    return JsonResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503)
