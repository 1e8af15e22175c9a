"""The device routes' rate limits and cache reads in one round trip to Redis.

``DeviceRateLimitMiddleware`` (entryway.core.ratelimit) checks, for every device request, the refused
credentials of the address and the device's own request count; the AutoP route also counts requests
per address; then the views read the device's cache entry (entryway.deviceapi.devicecache). That is
four or five round trips to the cache before any answer. ``DeviceGateMiddleware`` applies the very same
limits, with the same counters, messages and Retry-After, and reads the device's entries, in one Lua
script; the views find what it read in ``request.device_prefetch``.

It serves the device routes' own handler (entryway.deviceapi.wsgi) in place of
``DeviceRateLimitMiddleware``. With a cache that cannot run scripts (the embedded file cache, tests'
local memory) it is exactly ``DeviceRateLimitMiddleware``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse

from entryway.core.ratelimit import DeviceRateLimitMiddleware, _basic_user, _too_many, client_ip
from entryway.deviceapi import devicecache
from entryway.deviceapi.autop import file_key, version_key

DEVICE_WINDOW = 60  # DeviceRateLimitMiddleware's per-device window
AUTOP_WINDOW = 60  # the AutoP route's per-address window (entryway.deviceapi.protocol.autop_file)
AUTOP_LIMITED = "Too many requests; slow down."
CHECKIN_PATH = "/device/v1/checkin"

# KEYS: refused credentials of the address, the device's counter, the address's AutoP counter,
#       then the keys to read back ("" where there is none).
# ARGV: refusal limit, device limit, device counter lifetime, AutoP limit, AutoP counter lifetime.
# Answer: {0, values...} when allowed; {1} refused address; {2} device over its limit; {3} AutoP limit.
_SCRIPT = """
local limit = tonumber(ARGV[1])
if limit > 0 and (tonumber(redis.call('GET', KEYS[1]) or '0') or 0) >= limit then
  return {1}
end
if KEYS[2] ~= '' then
  local n = redis.call('INCR', KEYS[2])
  if n == 1 then redis.call('EXPIRE', KEYS[2], ARGV[3]) end
  if n > tonumber(ARGV[2]) then return {2} end
end
if KEYS[3] ~= '' then
  local n = redis.call('INCR', KEYS[3])
  if n == 1 then redis.call('EXPIRE', KEYS[3], ARGV[5]) end
  if n > tonumber(ARGV[4]) then return {3} end
end
local out = {0}
for i = 4, 6 do
  if KEYS[i] ~= '' then out[#out + 1] = redis.call('GET', KEYS[i]) else out[#out + 1] = false end
end
local seen = 0
if KEYS[7] ~= '' and out[2] and string.find(out[2], ARGV[7], 1, true) then
  if redis.call('SET', KEYS[8], '1', 'NX', 'EX', ARGV[9]) then
    redis.call('HSET', KEYS[7], ARGV[6], ARGV[8])
    redis.call('EXPIRE', KEYS[4], ARGV[10])
    seen = 1
    if redis.call('SET', KEYS[9], '1', 'NX', 'EX', ARGV[11]) then seen = 2 end
  else
    seen = 3
  end
end
out[#out + 1] = seen
return out
"""
# A check-in's Last Connected Time, queued by the gate itself (KEYS 7-9: the queue, the device's marker,
# the flush lock; ARGV 6-11: the device id, the digest of the presented secret, "<time> <uptime>", the
# write interval, the entry's lifetime, the flush interval) when the digest is the one in the device's
# entry. The entry is the pickled ``devicecache.Entry``, which holds the digest's 32 bytes as they are: a
# keyed SHA-256 of another secret cannot be found in it, and an entry written otherwise only finds
# nothing (the check-in then queues its time itself, ``devicecache.note_seen``). The last element of the
# answer: 1 queued now, 2 queued now and the flush is due, 3 queued less than the write interval ago
# (the marker), 0 not looked at.
SEEN_QUEUED, SEEN_FLUSH_DUE, SEEN_RECENT = 1, 2, 3


@dataclass
class Prefetch:
    """What the gate read for the request's device (raw cache values decoded)."""

    mac: str
    entry: object
    generation: object
    extra_key: str | None
    extra: object


def _bucket_key(scope: str, who: str, window: int, now: int) -> str:
    return f"rl:{scope}:{who}:{now // window}"  # as entryway.core.ratelimit.hit names it


def run_gate(meta: dict, path: str, mac: str | None, store=None, seen: tuple | None = None) -> tuple[list, str | None]:
    """Run the gate's script for a device request: (the script's answer, the extra key read).

    ``meta`` is the WSGI environ (``request.META``); ``mac`` the normalised MAC of the credentials,
    for the routes that read the device's entries (None for the others); ``store`` the default
    cache when the caller has it at hand. ``seen``, for a check-in: (device id, digest of the
    presented secret, uptime or None), to queue the device's Last Connected Time in the same round
    trip when its entry proves the secret (the answer's last element says what happened).
    """
    now = int(time.time())
    ip = meta.get("REMOTE_ADDR") or "unknown"  # as entryway.core.ratelimit.client_ip
    failure_limit = getattr(settings, "DEVICE_AUTH_FAILURE_LIMIT", 1000) or 0
    device_limit = getattr(settings, "DEVICE_RATE_LIMIT", 600) or 0
    # The rate limit's user is the credentials' user name reduced to its hexadecimal digits (_basic_user):
    # for a user name that is a MAC, the normalised MAC itself.
    user = mac or _basic_user(_Meta(meta))
    is_autop = path.startswith("/autop/")
    extra_key = devicecache.known_key(mac, file_key if is_autop else version_key) if mac else None
    keys = [
        f"rl:device-401:{ip}",
        _bucket_key("device", user, DEVICE_WINDOW, now) if user and device_limit else "",
        _bucket_key("autop", ip, AUTOP_WINDOW, now) if is_autop else "",
        devicecache.entry_key(mac) if mac else "",
        devicecache.generation_key(mac) if mac else "",
        extra_key or "",
    ]
    args = [failure_limit, device_limit, DEVICE_WINDOW + 1, settings.AUTOP_RATE_LIMIT, AUTOP_WINDOW + 1]
    interval = settings.DEVICE_LAST_SEEN_WRITE_INTERVAL
    if seen is not None and mac and interval >= 1:
        device_id, digest, uptime = seen
        keys += [devicecache.SEEN_KEY, devicecache.seen_marker_key(mac), devicecache.SEEN_FLUSH_LOCK]
        args += [device_id, digest, f"{time.time():.6f} {'' if uptime is None else int(uptime)}", int(interval),
                 devicecache.ENTRY_TTL, max(1, int(settings.LAST_SEEN_FLUSH_INTERVAL))]
    else:
        keys += ["", "", ""]
    answer = (store or cache).run_script(_SCRIPT, keys, args)
    return answer, extra_key


class _Meta:
    """Just enough of a request for ``_basic_user``."""

    __slots__ = ("META",)

    def __init__(self, meta):
        self.META = meta


# Where the WSGI fast path (entryway.deviceapi.fastpath) leaves the gate's answer for the request it
# hands on to Django, so that its counters are not counted twice.
GATE_ENVIRON_KEY = "entryway.device_gate"


class DeviceGateMiddleware(DeviceRateLimitMiddleware):
    def __call__(self, request):
        run_script = getattr(cache, "run_script", None)
        if run_script is None or not request.path.startswith(self.PREFIXES):
            return super().__call__(request)
        now = int(time.time())
        ip = client_ip(request)
        failure_limit = getattr(settings, "DEVICE_AUTH_FAILURE_LIMIT", 1000) or 0
        is_autop = request.path.startswith("/autop/")
        # The check-in and the AutoP file read the device's entries; the action results go to the database.
        mac = devicecache.credential_mac(request) if is_autop or request.path == CHECKIN_PATH else None
        ran = request.META.pop(GATE_ENVIRON_KEY, None)
        answer, extra_key = ran if ran is not None else run_gate(request.META, request.path, mac)
        if answer[0] == 1:
            return _too_many("Too many refused device credentials from this address; wait and try again.",
                             self.FAILURE_WINDOW)
        if answer[0] == 2:
            return _too_many("Too many requests from this device; slow down.", DEVICE_WINDOW - now % DEVICE_WINDOW)
        if answer[0] == 3:
            response = HttpResponse(AUTOP_LIMITED, status=429, content_type="text/plain; charset=utf-8")
            response["Retry-After"] = str(AUTOP_WINDOW - now % AUTOP_WINDOW)
            return response
        request.autop_rate_counted = is_autop
        if mac is not None:
            decode = cache.decode
            request.device_prefetch = Prefetch(mac=mac, entry=decode(answer[1]), generation=decode(answer[2]),
                                               extra_key=extra_key, extra=decode(answer[3]) if extra_key else None)
        response = self.get_response(request)
        if response.status_code == 401 and failure_limit:
            self.record_refusal(ip)
        return response
