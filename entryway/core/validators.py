"""Validation shared across apps: MAC addresses, phone numbers, time zones, languages."""
from __future__ import annotations

import re
import zoneinfo
from functools import lru_cache

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

_MAC_RE = re.compile(r"^(?:[0-9A-Fa-f]{12}|(?:[0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2})$")


def normalize_mac(raw: str) -> str:
    """'0C:11:05:12:BC:97', '0c-11-05-12-bc-97' or '0C110512BC97' → '0C110512BC97'."""
    value = (raw or "").strip()
    if not _MAC_RE.match(value):
        raise ValidationError(
            _("%(value)s is not a MAC address: use 12 hexadecimal digits, e.g. 0C110512BC97 or 0C:11:05:12:BC:97.")
            % {"value": value[:40] or _("(empty)")},
            code="invalid_mac",
        )
    if ":" in value and "-" in value:
        raise ValidationError(_("A MAC address uses either ':' or '-' as separator, not both."), code="invalid_mac")
    return value.replace(":", "").replace("-", "").upper()


@lru_cache(maxsize=1)
def time_zone_names() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones() - {"localtime", "Factory"}))


def validate_time_zone(value: str) -> None:
    if value and value not in time_zone_names():
        raise ValidationError(_("%(value)s is not a time zone of the IANA list.") % {"value": value}, code="invalid_tz")


def language_codes() -> tuple[str, ...]:
    return tuple(code for code, _name in settings.LANGUAGES)


def validate_language(value: str) -> None:
    if value and value not in language_codes():
        raise ValidationError(
            _("%(value)s is not one of the supported languages.") % {"value": value}, code="invalid_language"
        )


@lru_cache(maxsize=1)
def region_codes() -> tuple[str, ...]:
    return tuple(sorted(phonenumbers.SUPPORTED_REGIONS))


def normalize_phone(number: str, region: str) -> str:
    """Validate a mobile number against a Country / Region; return it in E.164.

    The region may be empty when the number is given in international form (+...).
    """
    number = (number or "").strip()
    if not number:
        return ""
    region = (region or "").strip().upper() or None
    if region and region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(_("%(value)s is not a known Country / Region.") % {"value": region}, code="invalid_region")
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        if region is None:
            raise ValidationError(
                _("Choose a Country / Region, or enter the number in international form (+...)."), code="invalid_phone"
            )
        raise ValidationError(_("This is not a phone number."), code="invalid_phone")
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(
            _("%(number)s is not a valid number for %(region)s.") % {"number": number, "region": region or "+"},
            code="invalid_phone",
        )
    if region and phonenumbers.region_code_for_number(parsed) != region:
        raise ValidationError(
            _("%(number)s is not a number of %(region)s.") % {"number": number, "region": region},
            code="invalid_phone",
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def validate_landline(value: str) -> str:
    """Landlines are dialled by the SIP trunk: digits with an optional leading +, 3–20 long."""
    value = (value or "").strip().replace(" ", "").replace("-", "")
    if value and not re.fullmatch(r"\+?[0-9]{3,20}", value):
        raise ValidationError(_("A landline number has 3 to 20 digits and may start with +."), code="invalid_landline")
    return value
