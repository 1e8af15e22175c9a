"""Reading AutoP files the way an Akuvox device does: ``Config.<Module>.<Section>.<Key> = value`` lines.

The grammar is the one of docs/device-protocol.md, section 2: module, section and key are letters,
digits and ``_``; the value is the rest of the line after ``=``, trimmed, possibly empty; ``#`` starts
a comment line; blank lines are ignored; a key given twice keeps its last value. Two-part keys such as
``Config.Firmware.Url`` (module and key, no section) are read too.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

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


def render(config: dict[str, str]) -> str:
    """The settings back as AutoP text (sorted), e.g. to show a simulated device's configuration."""
    return "".join(f"{key} = {value}\n" for key, value in sorted(config.items()))
