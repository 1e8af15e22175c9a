"""Prometheus metrics: requests, latencies, device check-ins, queue depth, devices online.

With several web processes, set PROMETHEUS_MULTIPROC_DIR to a shared, empty directory; the
/metrics view then aggregates every process's counters.
"""
from __future__ import annotations

import os
import time

from django.conf import settings
from django.http import HttpResponse, HttpResponseForbidden
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess

REQUESTS = Counter("entryway_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "entryway_http_request_duration_seconds", "HTTP request latency", ["route"],
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
CHECKINS = Counter("entryway_device_checkins_total", "Device check-ins", ["result"])
CHECKIN_ROUTE = "deviceapi:checkin"
ACTIONS = Counter("entryway_device_actions_reported_total", "Device action reports", ["kind", "status"])


def _route_of(request) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return match.view_name or match.route or "unnamed"


class MetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        start = time.perf_counter()
        response = self.get_response(request)
        route = _route_of(request)
        LATENCY.labels(route).observe(time.perf_counter() - start)
        REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        if route == CHECKIN_ROUTE:
            # Counted here so that the check-in path itself does no extra work.
            CHECKINS.labels("ok" if response.status_code < 400 else str(response.status_code)).inc()
        return response


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    from prometheus_client import REGISTRY

    return REGISTRY


def _state_gauges(registry: CollectorRegistry) -> CollectorRegistry:
    """Values read at scrape time from the database and the queue."""
    from entryway.devices.models import IntercomDevice

    state = CollectorRegistry()
    online = Gauge("entryway_devices_online", "Devices seen within DEVICE_OFFLINE_AFTER", registry=state)
    total = Gauge("entryway_devices_total", "Registered intercom devices", registry=state)
    queue = Gauge("entryway_queue_pending", "Background tasks waiting", registry=state)
    online.set(IntercomDevice.objects.online().count())
    total.set(IntercomDevice.objects.count())
    try:
        from huey.contrib.djhuey import HUEY

        queue.set(HUEY.pending_count())
    except Exception:  # noqa: BLE001 - a missing queue shows as -1 rather than breaking the scrape
        queue.set(-1)
    return state


def metrics_view(request):
    token = getattr(settings, "METRICS_TOKEN", "")
    if token and request.headers.get("Authorization") != f"Bearer {token}":
        return HttpResponseForbidden("metrics token required")
    body = generate_latest(_registry()) + generate_latest(_state_gauges(_registry()))
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
