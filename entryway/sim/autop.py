"""Reading AutoP files the way an Akuvox device does: ``Config.<Module>.<Section>.<Key> = value`` lines.

The grammar is the one of docs/device-protocol.md, section 2: module, section and key are letters,
digits and ``_``; the value is the rest of the line after ``=``, trimmed, possibly empty; ``#`` starts
a comment line; blank lines are ignored; a key given twice keeps its last value. Two-part keys such as
``Config.Firmware.Url`` (module and key, no section) are read too.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

LINE_RE = re.compile(
    r"^(?P<key>Config\.[A-Za-z0-9_]+\.[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)?)\s*=\s*(?P<value>[^\r\n]*?)\s*$"
)


class AutopSyntaxError(ValueError):
    """A line that is neither blank, a comment, nor ``Config.<Module>.<Section>.<Key> = value``."""

    def __init__(self, line_number: int, line: str):
        self.line_number = line_number
        self.line = line
        super().__init__(f"line {line_number} is not 'Config.<Module>.<Section>.<Key> = value': {line[:80]}")


@dataclass(frozen=True)
class AutopLine:
    key: str
    value: str


def parse_line(line: str) -> AutopLine | None:
    """One setting, or None for a blank or comment line. Raises AutopSyntaxError otherwise."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    match = LINE_RE.match(text)
    if match is None or "\x00" in text:
        raise AutopSyntaxError(1, text)
    return AutopLine(match["key"], match["value"])


def parse_lines(lines, *, strict: bool = True) -> list[AutopLine]:
    """Settings from an iterable of lines, in order. ``strict=False`` skips bad lines instead of raising."""
    out = []
    for number, raw in enumerate(lines, start=1):
        try:
            item = parse_line(raw)
        except AutopSyntaxError:
            if strict:
                raise AutopSyntaxError(number, raw.strip()) from None
            continue
        if item is not None:
            out.append(item)
    return out


def parse_autop(text: str, *, strict: bool = False) -> dict[str, str]:
    """A whole file as ``{"Config.Module.Section.Key": "value"}``; the later of two equal keys wins.

    Devices tolerate lines they cannot read in a provisioning file (``strict=False``); One Time AutoP
    commands are checked strictly (see ``apply_lines``).
    """
    return {item.key: item.value for item in parse_lines(text.replace("\r\n", "\n").split("\n"), strict=strict)}


def apply_lines(config: dict[str, str], lines) -> dict[str, str]:
    """Apply One Time AutoP lines to ``config`` all or nothing; returns the settings that were applied.

    A bad line raises AutopSyntaxError naming it, and ``config`` is left unchanged.
    """
    items = parse_lines(list(lines), strict=True)
    applied = {item.key: item.value for item in items}
    config.update(applied)
    return applied


KEY_DIRECT_IP = "Config.Settings.GENERAL.DirectIP"
KEY_DIRECT_IP_PORT = "Config.Settings.GENERAL.DirectIPPort"
KEY_ACCOUNT1_ENABLE = "Config.Account1.GENERAL.Enable"
KEY_CALL_BUTTON = "Config.Programable.SOFTKEY01.Param1"
IP_CALL_PREFIX = "Config.Entryway.IPCALL."


@dataclass(frozen=True)
class IpContact:
    name: str
    address: str
    device_type: str


@dataclass(frozen=True)
class CallSetup:
    """How the device places and takes calls, as its configuration says (docs/sip.md, SIP Call or IP Call)."""

    direct_ip: bool
    direct_ip_port: int
    sip_registration: bool
    contacts: tuple[IpContact, ...] = field(default=())
    call_button: tuple[str, ...] = field(default=())

    @property
    def mode(self) -> str:
        return "ip" if self.direct_ip else "sip"


def call_setup(config: dict[str, str]) -> CallSetup:
    """Read the call settings from ``config``.

    The contact list is ``Config.Entryway.IPCALL.Count`` entries (``Name<n>``, ``Address<n>``, ``Type<n>``);
    slots above the count, left over from an earlier file applied on top, are not contacts. The call button
    (``Config.Programable.SOFTKEY01.Param1``) holds up to several targets separated by ``;``: IP addresses
    for IP call, a SIP number for SIP call.
    """
    try:
        count = max(0, int(config.get(IP_CALL_PREFIX + "Count", "0") or 0))
    except ValueError:
        count = 0
    contacts = []
    for number in range(1, count + 1):
        address = config.get(f"{IP_CALL_PREFIX}Address{number}", "")
        if address:
            contacts.append(IpContact(config.get(f"{IP_CALL_PREFIX}Name{number}", ""), address,
                                      config.get(f"{IP_CALL_PREFIX}Type{number}", "")))
    try:
        port = int(config.get(KEY_DIRECT_IP_PORT, "5060") or 5060)
    except ValueError:
        port = 5060
    button = tuple(t.strip() for t in config.get(KEY_CALL_BUTTON, "").split(";") if t.strip())
    return CallSetup(direct_ip=config.get(KEY_DIRECT_IP) == "1", direct_ip_port=port,
                     sip_registration=config.get(KEY_ACCOUNT1_ENABLE) == "1", contacts=tuple(contacts),
                     call_button=button)


def render(config: dict[str, str]) -> str:
    """The settings back as AutoP text (sorted), e.g. to show a simulated device's configuration."""
    return "".join(f"{key} = {value}\n" for key, value in sorted(config.items()))
