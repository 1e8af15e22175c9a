"""What an idle check-in needs, kept in the shared cache (Redis in production) so that it reads no table.

A fleet polls all the time and almost every check-in changes nothing: same model, firmware and
address, no action waiting, Last Connected Time written less than DEVICE_LAST_SEEN_WRITE_INTERVAL
ago. For such a check-in the platform only has to know that the credentials are right, that
nothing is waiting and which config version to hand out. The slow path (the database) runs when
anything else is true, and leaves behind a fresh entry:

``deviceapi:dev:<MAC>``
    (device id, installer id, digest of the device secret, Last Connected Time as written,
    reported model, firmware, IP address, action generation seen, quiet). *quiet* means the
    check-in found no pending or sent action.
``deviceapi:actgen:<MAC>``
    the device's action generation: a new value is written after each commit that gives the
    device an action or changes its settings (``actions_changed``). An entry made before that
    carries the old value and no longer counts, whatever the order of the two writes: the entry
    stores the generation read *before* its database query.
``deviceapi:cfgver:<id>`` (entryway.deviceapi.autop)
    the config version. Every change of the device row, its relays or its household deletes it
    (``forget_versions``), and the fast path requires it: a deleted device, a device given a
    new MAC or new secret falls back to the database at its next check-in.

Device secrets are random tokens of 144 bits or more, so the cache keeps a keyed SHA-256 digest
(HMAC with a key derived from SECRET_KEY) rather than the secret: a fast hash is enough where the
input cannot be guessed, and a slow password hash (PBKDF2, Argon2) would cost milliseconds on
every check-in for no gain. The digests are compared in constant time.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

ENTRY_TTL = 300
# An action generation must outlive every entry that was made before it was written.
GENERATION_TTL = 2 * ENTRY_TTL


class Entry(NamedTuple):
    id: int
    installer_id: int
    digest: bytes
    last_seen: float | None  # Unix time of the Last Connected Time in the database
    model: str
    firmware: str
    ip: str | None
    generation: int | None
    quiet: bool


def entry_key(mac: str) -> str:
    return f"deviceapi:dev:{mac}"


def generation_key(mac: str) -> str:
    return f"deviceapi:actgen:{mac}"


@functools.lru_cache(maxsize=4)
def _digest_key(secret_key: str) -> bytes:
    return hashlib.sha256(b"entryway.deviceapi.device-secret:" + secret_key.encode()).digest()


def secret_digest(secret: str) -> bytes:
    return hmac.new(_digest_key(settings.SECRET_KEY), secret.encode(), hashlib.sha256).digest()


# MAC -> device id, as last seen by this process: lets ``lookup`` read the config version in the same
# round trip. A MAC bound to another device since is harmless: the old id's config version was deleted
# with the old device (forget_versions) and the entry names the new id, so the ids disagree and the
# version is read again. Bounded: cleared when it grows past MAX_KNOWN_IDS.
_known_ids: dict[str, int] = {}
MAX_KNOWN_IDS = 200_000


def known_key(mac: str, key_for: Callable[[int], str]) -> str | None:
    """``key_for(device id)`` when this process knows the MAC's device id, else None."""
    known = _known_ids.get(mac)
    return None if known is None else key_for(known)


def credential_mac(request) -> str | None:
    """The normalised MAC of the request's HTTP Basic user name, or None (the secret is not looked at)."""
    from entryway.deviceapi.protocol import _basic_credentials, _mac_or_none

    credentials = _basic_credentials(request)
    return _mac_or_none(credentials[0]) if credentials else None


def lookup(mac: str, *, extra: Callable[[int], str] | None = None, prefetch=None):
    """(the device's entry, its action generation, the value at ``extra(device id)``).

    The entry is None when absent or unreadable. ``extra`` names a further key by device id (the
    config version, the cached AutoP file). What the gate already read (``prefetch``,
    entryway.deviceapi.gate) costs nothing; otherwise one round trip, and a second one for ``extra``
    the first time this process sees the MAC.
    """
    ek, gk = entry_key(mac), generation_key(mac)
    if prefetch is not None and prefetch.mac == mac:
        entry, generation, extra_key, value = prefetch.entry, prefetch.generation, prefetch.extra_key, prefetch.extra
    else:
        extra_key = known_key(mac, extra) if extra else None
        keys = [ek, gk] if extra_key is None else [ek, gk, extra_key]
        values = cache.get_many(keys)
        entry, generation, value = values.get(ek), values.get(gk), values.get(extra_key)
    if not isinstance(entry, Entry):
        return None, generation, None
    if extra is None:
        return entry, generation, None
    if extra_key != extra(entry.id):
        if len(_known_ids) >= MAX_KNOWN_IDS:
            _known_ids.clear()
        _known_ids[mac] = entry.id
        value = cache.get(extra(entry.id))
    return entry, generation, value


def store(mac: str, device, *, generation: int | None, quiet: bool) -> None:
    """Remember the device as the database has it now (after the check-in's own writes)."""
    last_seen = device.last_seen_at.timestamp() if device.last_seen_at else None
    cache.set(entry_key(mac), Entry(
        id=device.pk, installer_id=device.installer_id, digest=secret_digest(device.device_secret),
        last_seen=last_seen, model=device.reported_model, firmware=device.firmware_version,
        ip=device.ip_address, generation=generation, quiet=quiet,
    ), ENTRY_TTL)


def forget(macs) -> None:
    keys = [entry_key(mac) for mac in macs if mac]
    if keys:
        cache.delete_many(keys)


def unchanged(entry: Entry, report: dict) -> bool:
    """True when the report repeats what the database holds (nothing to write)."""
    return ((report.get("model") is None or report["model"] == entry.model)
            and (report.get("firmware") is None or report["firmware"] == entry.firmware)
            and (report.get("ip") is None or report["ip"] == entry.ip))


def fresh(entry: Entry, now: float | None = None) -> bool:
    """The Last Connected Time in the database is recent enough not to be written again."""
    if entry.last_seen is None:
        return False
    return (now or time.time()) - entry.last_seen < settings.DEVICE_LAST_SEEN_WRITE_INTERVAL


def actions_changed(macs) -> None:
    """The devices have new actions or settings: their entries stop counting (now and after commit)."""
    macs = [mac for mac in macs if mac]
    if not macs:
        return

    def bump():
        value = time.time_ns()
        cache.set_many({generation_key(mac): value for mac in macs}, GENERATION_TTL)

    bump()
    transaction.on_commit(bump)
