"""A small fixed-window rate limiter on the shared cache (Redis in production).

    @rate_limit("device", limit=settings.DEVICE_RATE_LIMIT, window=60, key=lambda r: client_ip(r))
    def view(request): ...

Over the limit the view answers 429 with Retry-After; nothing else is done.
"""
from __future__ import annotations

import time
from functools import wraps
from typing import Callable

from django.core.cache import cache
from django.http import HttpResponse


def client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"


def hit(scope: str, key: str, *, limit: int, window: int) -> tuple[bool, int]:
    """Count one hit; (allowed, seconds until the window ends)."""
    now = int(time.time())
    bucket = now // window
    cache_key = f"rl:{scope}:{key}:{bucket}"
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
