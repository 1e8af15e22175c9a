"""A small fixed-window rate limiter on the shared cache (Redis in production).

    @rate_limit("device", limit=settings.DEVICE_RATE_LIMIT, window=60, key=lambda r: client_ip(r))
    def view(request): ...

Over the limit the view answers 429 with Retry-After; nothing else is done.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps

from django.core.cache import cache
from django.http import HttpResponse


def client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"


def hit(scope: str, key: str, *, limit: int, window: int) -> tuple[bool, int]:
    """Count one hit; (allowed, seconds until the window ends)."""
    now = int(time.time())
    bucket = now // window
    cache_key = f"rl:{scope}:{key}:{bucket}"
    incr_window = getattr(cache, "incr_window", None)
    if incr_window is not None:  # one round trip (entryway.core.cache.RedisCache)
        count = incr_window(cache_key, window + 1)
    else:
        try:
            count = cache.incr(cache_key)
        except ValueError:
            cache.add(cache_key, 0, window + 1)
            count = cache.incr(cache_key)
    return count <= limit, window - (now % window)


def rate_limit(scope: str, *, limit: int | Callable[[], int], window: int = 60,
               key: Callable = client_ip, message: str = "Too many requests; slow down.") -> Callable:
    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            allowed, retry = hit(scope, key(request), limit=limit() if callable(limit) else limit, window=window)
            if not allowed:
                response = HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
                response["Retry-After"] = str(retry)
                return response
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def _too_many(message: str, retry: int) -> HttpResponse:
    from django.http import JsonResponse

    response = JsonResponse({"error": message}, status=429)
    response["Retry-After"] = str(retry)
    response["Cache-Control"] = "no-store"
    return response


def _basic_user(request) -> str:
    """The user name of HTTP Basic credentials (a device's MAC), or ""; the secret is never read here."""
    import base64
    import binascii

    scheme, _sep, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "basic" or not token:
        return ""
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return ""
    user = decoded.rpartition(":")[0]
    return "".join(c for c in user.upper() if c in "0123456789ABCDEF")[:12]


class DeviceRateLimitMiddleware:
    """Rate limits of the device protocol (/device/ and /autop/), answered 429 with Retry-After:

    - each device (by the MAC in its credentials): DEVICE_RATE_LIMIT requests a minute;
    - each address: DEVICE_AUTH_FAILURE_LIMIT refused credentials (401) in ten minutes, after which
      it is refused outright until the window ends (guessing device secrets stops there).

    Devices behind one NAT address are counted one by one, so a building of devices is not throttled
    by its neighbours. Portal logins are throttled by ``accounts.throttle``.
    """

    PREFIXES = ("/device/", "/autop/")
    FAILURE_WINDOW = 600

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(self.PREFIXES):
            return self.get_response(request)
        from django.conf import settings

        ip = client_ip(request)
        failure_limit = getattr(settings, "DEVICE_AUTH_FAILURE_LIMIT", 1000)
        if failure_limit and (cache.get(f"rl:device-401:{ip}") or 0) >= failure_limit:
            return _too_many("Too many refused device credentials from this address; wait and try again.",
                             self.FAILURE_WINDOW)
        mac = _basic_user(request)
        limit = getattr(settings, "DEVICE_RATE_LIMIT", 600)
        if mac and limit:
            allowed, retry = hit("device", mac, limit=limit, window=60)
            if not allowed:
                return _too_many("Too many requests from this device; slow down.", retry)
        response = self.get_response(request)
        if response.status_code == 401 and failure_limit:
            self.record_refusal(ip)
        return response

    def record_refusal(self, ip: str) -> None:
        key = f"rl:device-401:{ip}"
        if not cache.add(key, 1, self.FAILURE_WINDOW):
            try:
                cache.incr(key)
            except ValueError:
                cache.add(key, 1, self.FAILURE_WINDOW)
