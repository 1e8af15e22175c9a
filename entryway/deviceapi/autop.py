"""AutoP files in Akuvox's syntax: ``Config.<Module>.<Section>.<Key> = value`` lines and ``#`` comments.

``render_autop(device)`` builds a device's whole file (docs/device-protocol.md, section 2);
``config_version(device_id)`` is a short hash of it, cached, that check-ins hand out so that a
device knows when to fetch the file again.
"""
from __future__ import annotations

import datetime
import hashlib
import re
import time
import zoneinfo
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from entryway.deviceapi.choices import ActionKind, ActionStatus
from entryway.deviceapi.mqtt import command_topic, status_topic
from entryway.devices.choices import DeviceType

# Config.<Module>.<Section>.<Key> = value, or Akuvox's two-part Config.<Module>.<Key> = value
# (Config.Firmware.Url, Config.Contact.Url); the value may be empty, never a line break.
AUTOP_LINE_RE = re.compile(
    r"^Config\.[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)?\.[A-Za-z0-9_]+\s*=\s*(?P<value>[^\r\n]*)$")
TRANS_TYPE = {"udp": 0, "tcp": 1, "tls": 2}
RELAY_LETTERS = "ABCD"
OPEN_ACTION_STATUSES = (ActionStatus.PENDING, ActionStatus.SENT, ActionStatus.PROCEEDING)
CONFIG_VERSION_TTL = 600
# Direct IP calls (SIP Call Or IP Call = IP call): Akuvox's own keys and port, the door phone's call button.
DIRECT_IP_PORT = 5060
CALL_BUTTON_KEY = "Programable.SOFTKEY01.Param1"
IP_CALL_SECTION = "Entryway.IPCALL"
_PEER_ORDER = {DeviceType.INDOOR_MONITOR: 0, DeviceType.DOOR_PHONE: 1, DeviceType.GUARD_PHONE: 2,
               DeviceType.ACCESS_CONTROL: 3}


@dataclass
class LineError:
    line_number: int
    text: str


def autop_lines(text: str) -> list[str]:
    """The non-empty, non-comment lines of a command box, stripped."""
    out = []
    for raw in (text or "").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def autop_errors(text: str) -> list[LineError]:
    """Every line that is neither empty, a ``#`` comment, nor ``Config.<Module>.<Section>.<Key> = value``."""
    errors = []
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not AUTOP_LINE_RE.match(line) or "\x00" in line:
            errors.append(LineError(number, line[:80]))
    return errors


def normalise_commands(text: str) -> str:
    """Commands as stored: stripped lines, Windows line ends removed, blank lines at the ends dropped."""
    return "\n".join(raw.strip() for raw in (text or "").replace("\r\n", "\n").split("\n")).strip()


def utc_offset_label(tz_name: str, now: datetime.datetime | None = None) -> str:
    """Akuvox's TimeZone value: ``+1``, ``-5``, ``+5:30``, ``0``."""
    try:
        tz = zoneinfo.ZoneInfo(tz_name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        tz = datetime.UTC
    offset = (now or timezone.now()).astimezone(tz).utcoffset() or datetime.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    if minutes == 0:
        return "0"
    sign = "+" if minutes > 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours}" + (f":{rest:02d}" if rest else "")


def _clean(value) -> str:
    """A value on one line: line breaks would start a new setting."""
    return " ".join(str(value if value is not None else "").split())


def mqtt_device_url() -> str:
    """The broker address given to devices: MQTT_DEVICE_URL, else MQTT_URL without its credentials."""
    raw = settings.MQTT_DEVICE_URL or settings.MQTT_URL
    if not raw:
        return ""
    parts = urlsplit(raw)
    scheme = parts.scheme or "mqtt"
    port = parts.port or (8883 if scheme == "mqtts" else 1883)
    return f"{scheme}://{parts.hostname}:{port}"


def render_autop(device) -> str:
    """The device's whole AutoP file. Nothing in it changes by itself, so its hash is a version."""
    return compose_file(file_base(device), open_file_actions(device.pk))


_LOOK_UP = object()


def file_base(device, *, sip_account=_LOOK_UP) -> tuple[str, str]:
    """The file without its open actions' lines: (everything before them, the Regular AutoP commands).

    It depends on the device row, its relays, household, installer and SIP account only, so an action
    opening or closing leaves it as it is (``forget_files``); a change of any of those drops it
    (``forget_versions``). ``sip_account``: the device's active SIP account (or None) when the caller
    has already read it (``_load``).
    """
    from entryway.sip.models import SipAccount

    out: list[str] = []

    def put(key: str, value) -> None:
        out.append(f"Config.{key} = {_clean(value)}")

    model_name = device.device_model.name
    out.append(f"# entryway AutoP file for {device.mac} ({_clean(model_name)}, {_clean(device.location)})")
    out.append("# Generated by entryway. Lines: Config.<Module>.<Section>.<Key> = value")

    ip_call = uses_ip_call(device)
    out += ["", "# SIP account 1" + (": off, the household uses IP call" if ip_call else "")]
    if ip_call:
        account = None
    elif sip_account is not _LOOK_UP:
        account = sip_account
    else:
        account = SipAccount.objects.filter(number=device.sip_number, is_active=True).only("number", "password").first()
    if account is not None:
        put("Account1.GENERAL.Enable", 1)
        put("Account1.GENERAL.Label", device.location)
        put("Account1.GENERAL.DisplayName", device.location)
        put("Account1.GENERAL.UserName", account.number)
        put("Account1.GENERAL.AuthName", account.number)
        put("Account1.GENERAL.Pwd", account.password)
        put("Account1.SIP.Server", settings.SIP_SERVER or settings.SIP_DOMAIN)
        put("Account1.SIP.Port", settings.SIP_PORT)
        put("Account1.SIP.TransType", TRANS_TYPE.get(device.connect_type, 0))
    else:
        put("Account1.GENERAL.Enable", 0)

    out += call_type_lines(device, ip_call=ip_call)

    out += ["", "# Location"]
    put("DoorSetting.DEVICENODE.Location", device.location)

    relays = [r for r in device.relays.all() if r.enabled and 1 <= r.index <= 4]
    if relays:
        out += ["", "# Relays and DTMF codes"]
    for relay in sorted(relays, key=lambda r: r.index):
        letter = RELAY_LETTERS[relay.index - 1]
        put(f"DoorSetting.RELAY.Name{letter}", relay.name)
        put(f"DoorSetting.RELAY.DTMF{letter}", relay.dtmf_code)
        if relay.dtmf_code:
            put(f"DoorSetting.DTMF.Code{relay.index}", relay.dtmf_code)

    tz_name = getattr(device.owner, "time_zone", "") or getattr(device.installer, "time_zone", "") or "UTC"
    out += ["", "# Time zone and NTP"]
    put("Settings.SNTP.Enable", 1)
    put("Settings.SNTP.TimeZone", utc_offset_label(tz_name))
    put("Settings.SNTP.Name", tz_name)
    put("Settings.SNTP.NTPServer1", settings.NTP_SERVER)

    out += ["", "# entryway cloud: check-in"]
    put("Entryway.CLOUD.Server", settings.PUBLIC_BASE_URL.rstrip("/"))
    put("Entryway.CLOUD.DeviceSecret", device.device_secret)
    put("Entryway.CLOUD.PollInterval", settings.DEVICE_POLL_INTERVAL)

    broker = mqtt_device_url()
    if broker:
        out += ["", "# entryway cloud: push"]
        put("Entryway.MQTT.Enable", 1)
        put("Entryway.MQTT.Url", broker)
        put("Entryway.MQTT.Username", device.mac)
        put("Entryway.MQTT.Password", device.mqtt_password)
        put("Entryway.MQTT.Topic", command_topic(device.mac))
        if settings.MQTT_RESULTS:
            put("Entryway.MQTT.ResultTopic", status_topic(device.mac))

    regular = autop_lines(device.autop_commands)
    tail = ["", "# Regular AutoP commands", *[_clean(line) for line in regular]] if regular else []
    return "\n".join(out), "\n".join(tail)


def open_file_actions(device_id: int) -> list:
    """The device's open actions that appear in its file (AutoP and firmware upgrades), oldest first.

    Read on every change of the file (an action opening or closing), so in SQL written once rather than
    compiled by the ORM each time: instances with id, kind and payload.
    """
    return open_file_actions_of([device_id])[device_id]


def open_file_actions_of(device_ids: list[int]) -> dict[int, list]:
    """``open_file_actions`` of many devices in one query: {device id: its actions, oldest first}."""
    from django.db import connection

    from entryway.core import rawsql
    from entryway.deviceapi.models import DeviceAction

    table = connection.ops.quote_name(DeviceAction._meta.db_table)
    payload = DeviceAction._meta.get_field("payload")
    out: dict[int, list] = {pk: [] for pk in device_ids}
    with rawsql.cursor() as cursor:
        for start in range(0, len(device_ids), 1000):
            chunk = device_ids[start:start + 1000]
            cursor.execute(
                f"SELECT device_id, id, kind, payload FROM {table} WHERE device_id IN ({', '.join(['%s'] * len(chunk))})"
                " AND kind IN (%s, %s) AND status IN (%s, %s, %s) AND (expires_at IS NULL OR expires_at > %s)"
                " ORDER BY device_id, created_at, id",
                [*chunk, ActionKind.AUTOP, ActionKind.UPGRADE, *OPEN_ACTION_STATUSES,
                 connection.ops.adapt_datetimefield_value(timezone.now())])
            for device_id, pk, kind, value in cursor.fetchall():
                out[device_id].append(DeviceAction.from_db(connection.alias, ["id", "kind", "payload"],
                                                           [pk, kind, payload.from_db_value(value, None, connection)]))
    return out


def compose_file(base: tuple[str, str], open_actions) -> str:
    """The whole file: the base with a pending firmware upgrade's URL and the One Time AutoP lines."""
    head, tail = base
    out = [head]
    upgrades = [a for a in open_actions if a.kind == ActionKind.UPGRADE and isinstance(a.payload, dict)
                and a.payload.get("url")]
    if upgrades:
        out += ["", "# Firmware upgrade pending", f"Config.Firmware.Url = {_clean(upgrades[-1].payload['url'])}"]
    if tail:
        out.append(tail)
    for action in open_actions:
        if action.kind != ActionKind.AUTOP:
            continue
        lines = action.payload.get("lines") if isinstance(action.payload, dict) else None
        lines = [_clean(x) for x in (lines or []) if isinstance(x, str) and AUTOP_LINE_RE.match(x.strip())]
        if lines:
            out += ["", f"# One Time AutoP (action {action.pk})"]
            out += lines
    return "\n".join(out) + "\n"


def uses_ip_call(device) -> bool:
    """True when the device's owner chose IP call (SIP Call Or IP Call: all devices on one LAN)."""
    from entryway.residents.choices import CallType

    return getattr(device.owner, "call_type", CallType.SIP) == CallType.IP


def household_peers(device) -> list[tuple[str, str, str]]:
    """(location, IP address, device type) of the owner's other devices that reported a LAN address.

    Indoor monitors first, then door phones and the rest; by location within a type. One query.
    """
    from entryway.devices.models import IntercomDevice

    rows = (IntercomDevice.objects.filter(owner_id=device.owner_id, ip_address__isnull=False)
            .exclude(pk=device.pk).values_list("location", "ip_address", "device_model__device_type", "pk"))
    rows = sorted(rows, key=lambda r: (_PEER_ORDER.get(r[2], len(_PEER_ORDER)), r[0], r[3]))
    return [(location, ip, kind) for location, ip, kind, _pk in rows]


def call_type_lines(device, *, ip_call: bool) -> list[str]:
    """The "SIP Call Or IP Call" lines (docs/sip.md): direct IP calling on the LAN, or calls through the server.

    Both modes write every key they use, so that switching the user's call type turns the other mode's
    settings off on a device that applies the file on top of its current configuration.
    """
    is_door_phone = device.device_model.device_type == DeviceType.DOOR_PHONE
    lines: list[str] = []

    def put(key: str, value) -> None:
        lines.append(f"Config.{key} = {_clean(value)}")

    if not ip_call:
        lines += ["", "# Calls: SIP call, through the SIP server (Account1)"]
        put("Settings.GENERAL.DirectIP", 0)
        put(f"{IP_CALL_SECTION}.Count", 0)
        if is_door_phone:
            put(CALL_BUTTON_KEY, device.owner.family_sip)
        return lines

    peers = household_peers(device)
    lines += ["", "# Calls: IP call, direct between the household's devices on their LAN (no SIP server)"]
    put("Settings.GENERAL.DirectIP", 1)
    put("Settings.GENERAL.DirectIPPort", DIRECT_IP_PORT)
    put(f"{IP_CALL_SECTION}.Count", len(peers))
    for number, (location, ip, kind) in enumerate(peers, start=1):
        put(f"{IP_CALL_SECTION}.Name{number}", location)
        put(f"{IP_CALL_SECTION}.Address{number}", ip)
        put(f"{IP_CALL_SECTION}.Type{number}", kind)
    if is_door_phone:
        put(CALL_BUTTON_KEY, ";".join(ip for _location, ip, kind in peers if kind == DeviceType.INDOOR_MONITOR))
    return lines


def version_of(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()[:16]


def version_key(device_id: int) -> str:
    return f"deviceapi:cfgver:{device_id}"


def file_key(device_id: int) -> str:
    return f"deviceapi:autop:{device_id}"


def base_key(device_id: int) -> str:
    return f"deviceapi:autopbase:{device_id}"


def epoch_key(device_id: int) -> str:
    return f"autop:epoch:{device_id}"


def version_epoch(device_id: int):
    """A stamp that ``forget_versions`` changes: read it before reading the data a file is made of."""
    return cache.get(epoch_key(device_id))


_ANY_EPOCH = object()


def config_version(device_id: int, *, mac: str | None = None) -> str:
    """The cached hash of the device's AutoP file; computed only on a cache miss (one query while the
    file's base is cached, a few more when it is not)."""
    value = cache.get(version_key(device_id))
    if value is None:
        value = version_of(current_file(device_id, mac=mac))
    return value


def current_file(device_id: int, *, mac: str | None = None) -> str:
    """The device's file as it is now, cached with its version (``remember_version``).

    The base (``file_base``) is taken from the cache when there, else rendered from the device as the
    database has it (``_load``) and cached with the file. With ``mac``, a cached base made for another
    MAC (a database restored under a running cache) does not count.
    """
    epoch, base = _epoch_and_base(device_id, mac)
    fresh_base = None
    if base is None:
        device, account = _load(device_id)
        base = fresh_base = file_base(device, sip_account=account)
        if not (device.device_secret and device.mqtt_password):
            fresh_base = None  # the view gives it its credentials first: not a base to keep
    content = compose_file(base, open_file_actions(device_id))
    remember_version(device_id, content, epoch=epoch, base=fresh_base, base_mac=device.mac if fresh_base else "")
    return content


def file_from_base(device_id: int, mac: str | None = None) -> str | None:
    """The device's file when its base is cached (one query, nothing rendered from the device row), else None.

    A cached base also says that the device row has not changed since it was cached.
    """
    epoch, base = _epoch_and_base(device_id, mac)
    if base is None:
        return None
    content = compose_file(base, open_file_actions(device_id))
    remember_version(device_id, content, epoch=epoch)
    return content


def files_from_base(device_ids: list[int]) -> int:
    """``file_from_base`` for many devices (those whose files changed together, as a batch of reports closes
    their upgrades) in three round trips in all: the cached bases, one query, and the files cached.
    Returns how many files were cached (devices without a cached base are left to their next request)."""
    ids = list(dict.fromkeys(device_ids))
    stamps = _epochs_and_bases(ids)
    based = [pk for pk in ids if stamps[pk][1] is not None]
    if not based:
        return 0
    actions = open_file_actions_of(based)
    files = {pk: compose_file(stamps[pk][1], actions[pk]) for pk in based}
    return remember_versions({pk: (content, stamps[pk][0]) for pk, content in files.items()})


# What a file is made of besides the device row: its type, its owner's and installer's settings.
_LOAD_RELATED = {"device_model": ("id", "name", "device_type"),
                 "owner": ("id", "time_zone", "call_type", "family_sip"),
                 "installer": ("id", "time_zone")}


def _load(device_id: int):
    """(the device with its type, owner, installer and relays, its active SIP account or None).

    Made on every first fetch of a file (a fleet's devices restarting), so in SQL written once
    (entryway.core.rawsql): the row with its type, owner, installer and SIP account in one query,
    the relays in a second.
    """
    from django.db import connection

    from entryway.core import rawsql
    from entryway.devices.models import IntercomDevice, Relay
    from entryway.sip.models import SipAccount

    device_names = tuple(field.name for field in IntercomDevice._meta.concrete_fields)
    related = [(name, IntercomDevice._meta.get_field(name).related_model, fields)
               for name, fields in _LOAD_RELATED.items()]
    account_names = ("number", "password")
    select = [rawsql.columns(IntercomDevice, device_names, alias="d")]
    joins = []
    for number, (name, model, fields) in enumerate(related):
        select.append(rawsql.columns(model, fields, alias=f"r{number}"))
        column = IntercomDevice._meta.get_field(name).column
        joins.append(f"INNER JOIN {rawsql.table(model)} r{number} ON r{number}.id = d.{connection.ops.quote_name(column)}")
    select.append(rawsql.columns(SipAccount, account_names, alias="s"))
    with rawsql.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(select)} FROM {rawsql.table(IntercomDevice)} d {' '.join(joins)}"
            f" LEFT OUTER JOIN {rawsql.table(SipAccount)} s ON s.number = d.sip_number AND s.is_active = %s"
            " WHERE d.id = %s", [True, device_id])
        row = cursor.fetchone()
        if row is None:
            raise IntercomDevice.DoesNotExist(f"No device {device_id}")
        relay_names = ("id", "device", "index", "enabled", "name", "dtmf_code")
        cursor.execute(f"SELECT {rawsql.columns(Relay, relay_names)} FROM {rawsql.table(Relay)}"
                       f" WHERE device_id = %s ORDER BY {connection.ops.quote_name('index')}", [device_id])
        relays = rawsql.instances(Relay, relay_names, cursor.fetchall())
    start = len(device_names)
    device = rawsql.instances(IntercomDevice, device_names, [row[:start]])[0]
    for name, model, fields in related:
        setattr(device, name, rawsql.instances(model, fields, [row[start:start + len(fields)]])[0])
        start += len(fields)
    account = None
    if row[start] is not None:
        account = rawsql.instances(SipAccount, account_names, [row[start:]])[0]
    cached = Relay.objects.none()
    cached._result_cache, cached._prefetch_done = relays, True
    device._prefetched_objects_cache = {"relays": cached}
    return device, account


def _epoch_and_base(device_id: int, mac: str | None = None):
    """(the version epoch, the cached base or None), in one round trip; with ``mac``, a base made for
    another MAC is None."""
    ek, bk = epoch_key(device_id), base_key(device_id)
    values = cache.get_many([ek, bk])
    return values.get(ek), _decode_base(values.get(bk), mac)


def _decode_base(token, mac: str | None = None) -> tuple[str, str] | None:
    import json

    from entryway.core.fields import decrypt

    if not isinstance(token, str):
        return None
    try:
        head, tail, made_for = json.loads(decrypt(token))
    except (ValueError, TypeError):  # another key, or not ours: render it again
        return None
    return (head, tail) if mac is None or made_for == mac else None


def _epochs_and_bases(device_ids: list[int]) -> dict[int, tuple]:
    """``_epoch_and_base`` of many devices in one round trip: {device id: (epoch, base or None)}."""
    values = cache.get_many([key for pk in device_ids for key in (epoch_key(pk), base_key(pk))])
    return {pk: (values.get(epoch_key(pk)), _decode_base(values.get(base_key(pk)))) for pk in device_ids}


def remember_versions(files: dict[int, tuple[str, object]]) -> int:
    """``remember_version`` for many devices: {device id: (file, epoch read before its data)}; one round trip
    for the epochs and one for the files. A file whose epoch changed meanwhile is not cached. Returns how
    many were."""
    from entryway.core.fields import encrypt

    epochs = cache.get_many([epoch_key(pk) for pk in files])
    values = {}
    for pk, (content, epoch) in files.items():
        if epochs.get(epoch_key(pk)) == epoch:
            values[version_key(pk)] = version_of(content)
            values[file_key(pk)] = encrypt(content)
    if values:
        cache.set_many(values, CONFIG_VERSION_TTL)
    return len(values) // 2


def remember_version(device_id: int, content: str, *, epoch=_ANY_EPOCH, base: tuple[str, str] | None = None,
                     base_mac: str = "") -> str:
    """Cache the file and its version together: the device's next AutoP request is served from the cache.

    The file holds the device's secrets, so the cache keeps it encrypted (as the database keeps them).
    With ``epoch`` (``version_epoch`` read before the data was), a file made from data that changed
    meanwhile is answered but not cached: a change committed while it was rendered is never hidden
    behind the old version. ``base``, the file's part that outlives its actions, is cached alongside.
    """
    import json

    from entryway.core.fields import encrypt

    value = version_of(content)
    if epoch is not _ANY_EPOCH and version_epoch(device_id) != epoch:
        return value
    values = {version_key(device_id): value, file_key(device_id): encrypt(content)}
    if base is not None:
        values[base_key(device_id)] = encrypt(json.dumps([*base, base_mac]))
    cache.set_many(values, CONFIG_VERSION_TTL)
    return value


def cached_version(device_id: int) -> str | None:
    """The device's config version if cached (nothing is rendered)."""
    return cache.get(version_key(device_id))


def cached_file(device_id: int) -> str | None:
    """The device's AutoP file as last rendered, while no change has made it stale."""
    return decode_file(cache.get(file_key(device_id)))


def decode_file(token) -> str | None:
    """A file as ``remember_version`` cached it (encrypted), or None."""
    from entryway.core.fields import decrypt

    if not isinstance(token, str):
        return None
    try:
        return decrypt(token)
    except ValueError:  # written with another key: render it again
        return None


def forget_versions(device_ids) -> None:
    """The devices' data changed: their next check-in computes their files and versions again from the rows."""
    _forget(device_ids, base=True)


def forget_files(device_ids) -> None:
    """An action that appears in the devices' files opened or closed: the files change, their bases do not."""
    _forget(device_ids, base=False)


def _forget(device_ids, *, base: bool) -> None:
    ids = [pk for pk in device_ids if pk is not None]
    keys = [key for pk in ids for key in (version_key(pk), file_key(pk), *((base_key(pk),) if base else ()))]
    if keys:
        def drop():
            cache.delete_many(keys)
            stamp = time.time_ns()
            cache.set_many({epoch_key(pk): stamp for pk in ids}, CONFIG_VERSION_TTL)

        drop()
        # and once more after commit, in case a check-in cached the old file meanwhile
        transaction.on_commit(drop)
