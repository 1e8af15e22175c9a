"""Login throttling: after N failures for one username or one address, refuse for a while."""
from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache


def _keys(username: str, ip: str | None) -> list[str]:
    user_key = hashlib.sha256((username or "").strip().lower().encode()).hexdigest()[:32]
    keys = [f"login-fail:user:{user_key}"]
    if ip:
        keys.append(f"login-fail:ip:{ip}")
    return keys


def is_locked(username: str, ip: str | None) -> bool:
    limit = settings.LOGIN_FAILURE_LIMIT
    user_key, *ip_key = _keys(username, ip)
    if (cache.get(user_key) or 0) >= limit:
        return True
    # one address may try more usernames, but not without bound
    return bool(ip_key) and (cache.get(ip_key[0]) or 0) >= limit * 4


def record_failure(username: str, ip: str | None) -> None:
    for key in _keys(username, ip):
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, settings.LOGIN_FAILURE_WINDOW)


def clear(username: str, ip: str | None) -> None:
    cache.delete(_keys(username, ip)[0])
