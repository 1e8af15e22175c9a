"""Forms of the User module. They shape the input; the services decide what is valid."""
from __future__ import annotations

import datetime
import zoneinfo
from functools import lru_cache

import phonenumbers
from django import forms
from django.conf import settings
from django.conf.locale import LANG_INFO
from django.core.exceptions import ValidationError
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from entryway.core.validators import normalize_phone, time_zone_names
from entryway.residents.choices import CallType
from entryway.residents.models import FamilyMember, Resident

ON, OFF = "on", "off"
PREMIUM_PLAN_NOTE = _("Premium Plan contains landline service and third party camera.")


class OnOffSelect(forms.RadioSelect):
    """The guide's On / Off switch. ``on_attrs`` go on the On option only (e.g. data-disables)."""

    def __init__(self, attrs=None, on_attrs=None):
        super().__init__(attrs)
        self.on_attrs = on_attrs or {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex=subindex, attrs=attrs)
        if value == ON:
            option["attrs"].update(self.on_attrs)
        return option


class OnOffField(forms.TypedChoiceField):
    """On / Off radios giving a bool. A missing value (a dimmed, disabled switch) is Off."""

    def __init__(self, *, on_attrs=None, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(
            choices=[(ON, _("On")), (OFF, _("Off"))], coerce=lambda v: v == ON, empty_value=False,
            widget=OnOffSelect(attrs={"class": "onoff"}, on_attrs=on_attrs), initial=OFF, **kwargs,
        )

    def prepare_value(self, value):
        if isinstance(value, bool):
            return ON if value else OFF
        return value


def _base_language(code: str | None) -> str:
    return (code or "en").split("-")[0].lower()


# Regions phonenumbers dials but has no name for.
EXTRA_REGION_NAMES = {"AC": _("Ascension Island"), "TA": _("Tristan da Cunha"), "XK": _("Kosovo")}


@lru_cache(maxsize=1)
def _region_names() -> dict[str, dict[str, str]]:
    """phonenumbers' region names in every language (its ``geodata/locale.py``), read on their own.

    ``import phonenumbers.geodata.locale`` would first run the ``phonenumbers.geodata`` package, which
    loads the whole geocoding table: about 100 MB more in every web process for a list of names of 2 MB.
    """
    import importlib.util
    import pathlib

    path = pathlib.Path(phonenumbers.__file__).parent / "geodata" / "locale.py"
    spec = importlib.util.spec_from_file_location("phonenumbers.geodata.locale", path)
    if spec is None or spec.loader is None:  # pragma: no cover - phonenumbers always ships its locale data
        return {}
    module = importlib.util.module_from_spec(spec)  # not put in sys.modules: its parent package stays unloaded
    spec.loader.exec_module(module)
    return module.LOCALE_DATA


@lru_cache(maxsize=32)
def _country_choices(language: str) -> tuple[tuple[str, str], ...]:
    region_names = _region_names()

    def name_in(names: dict, lang: str) -> str:
        value = names.get(lang) or ""
        for _hop in range(3):  # "*aa" means "the same as language aa"
            if not value.startswith("*"):
                break
            value = names.get(value[1:]) or ""
        return "" if value.startswith("*") else value

    out = []
    for region in phonenumbers.SUPPORTED_REGIONS:
        names = region_names.get(region, {})
        name = name_in(names, language) or name_in(names, "en") or EXTRA_REGION_NAMES.get(region, region)
        code = phonenumbers.country_code_for_region(region)
        out.append((region, f"{name} (+{code})"))
    out.sort(key=lambda item: item[1].casefold())
    return tuple(out)


def country_choices() -> list[tuple[str, str]]:
    """Every Country / Region phonenumbers knows, named in the viewer's language, with its calling code."""
    return [("", "---------"), *_country_choices(_base_language(translation.get_language()))]


@lru_cache(maxsize=4)
def _time_zone_choices(hour_key: str) -> tuple[tuple[str, str], ...]:
    now = datetime.datetime.now(datetime.UTC)
    out = []
    for name in time_zone_names():
        offset = now.astimezone(zoneinfo.ZoneInfo(name)).utcoffset() or datetime.timedelta()
        minutes = int(offset.total_seconds() // 60)
        sign = "+" if minutes >= 0 else "-"
        minutes = abs(minutes)
        out.append((minutes if sign == "+" else -minutes, name, f"(GMT{sign}{minutes // 60:02d}:{minutes % 60:02d}) {name}"))
    out.sort()
    return tuple((name, label) for _offset, name, label in out)


def time_zone_choices(installer_zone: str) -> list[tuple[str, str]]:
    """The IANA list with today's offsets; empty means the installer's own time zone."""
    key = timezone.now().strftime("%Y-%m-%d %H")
    empty = gettext("Installer's time zone (%(zone)s)") % {"zone": installer_zone or "UTC"}
    return [("", empty), *_time_zone_choices(key)]


def language_choices() -> list[tuple[str, str]]:
    """The 12 languages, each in its own words and in the viewer's."""
    out = []
    for code, label in settings.LANGUAGES:
        local = LANG_INFO.get(code, {}).get("name_local", "")
        label = str(label)
        out.append((code, f"{local} ({label})" if local and local != label else label))
    return out


class ContactCleanMixin:
    """Country / Region and Mobile Number checked together, so every error shows at once."""

    def clean(self):
        data = super().clean()
        number = data.get("mobile_number")
        if number and "mobile_number" not in self.errors and "country" not in self.errors:
            try:
                data["mobile_number"] = normalize_phone(number, data.get("country", ""))
            except ValidationError as exc:
                self.add_error("mobile_number", exc)
        return data


class ResidentForm(ContactCleanMixin, forms.Form):
    """The guide's "Add User" table, in its order."""

    name = forms.CharField(label=_("Name"), max_length=Resident._meta.get_field("name").max_length)
    room_name = forms.CharField(label=_("Room Name"), required=False,
                                max_length=Resident._meta.get_field("room_name").max_length,
                                help_text=_("The house name the user gives, or your own, e.g. “Ryan's Home”."))
    email = forms.EmailField(label=_("Email"), required=False, max_length=254,
                            widget=forms.EmailInput(attrs={"autocomplete": "off"}),
                            help_text=_("The user gets an e-mail with a link to set the password of their account."))
    country = forms.ChoiceField(label=_("Country / Region"), required=False)
    mobile_number = forms.CharField(label=_("Mobile Number"), required=False, max_length=32,
                                    widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}))
    address = forms.CharField(label=_("Address"), required=False,
                              max_length=Resident._meta.get_field("address").max_length)
    call_type = forms.ChoiceField(label=_("SIP Call Or IP Call"), choices=CallType.choices, initial=CallType.SIP,
                                  widget=forms.RadioSelect(attrs={"class": "choice-list"}),
                                  help_text=_("IP call when all of the user's intercom devices are in the same "
                                              "local network; SIP call when they are not."))
    time_zone = forms.ChoiceField(label=_("Time Zone"), required=False,
                                  help_text=_("Left empty, the user's time zone is your own."))
    language = forms.ChoiceField(label=_("Language"), initial="en",
                                 help_text=_("The language of the e-mails that tell the user about the account."))
    landline_1 = forms.CharField(label=_("1st Landline"), required=False, max_length=32,
                                 widget=forms.TextInput(attrs={"type": "tel"}))
    landline_2 = forms.CharField(label=_("2nd Landline"), required=False, max_length=32,
                                 widget=forms.TextInput(attrs={"type": "tel"}))
    landline_3 = forms.CharField(label=_("3rd Landline"), required=False, max_length=32,
                                 widget=forms.TextInput(attrs={"type": "tel"}))
    home_automation = OnOffField(
        label=_("Home AutoMation"), on_attrs={"data-disables": "id_premium_plan_0"},
        help_text=_("Shows the Smart Home icon, which opens the smart home web portal. "
                    "Premium Plan is off while Home AutoMation is on."))
    premium_plan = OnOffField(label=_("Premium Plan"), help_text=PREMIUM_PLAN_NOTE)
    landline_service = OnOffField(
        label=_("Landline Service"),
        help_text=_("Calls between the intercom devices and the user's telephones or mobile phones. "
                    "Needs Premium Plan."))

    GROUPS = (
        (_("User"), ("name", "room_name", "email", "country", "mobile_number", "address")),
        (_("Calls"), ("call_type", "time_zone", "language")),
        (_("Landlines"), ("landline_1", "landline_2", "landline_3")),
        (_("Services"), ("home_automation", "premium_plan", "landline_service")),
    )

    def __init__(self, *args, installer=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["country"].choices = country_choices()
        zone = getattr(installer, "time_zone", "") or "UTC"
        self.fields["time_zone"].choices = time_zone_choices(zone)
        self.fields["language"].choices = language_choices()
        self.fields["mobile_number"].help_text = _("Checked against the Country / Region.")

    @classmethod
    def initial_for(cls, resident: Resident) -> dict:
        return {name: getattr(resident, name) for name in cls.base_fields}

    def groups(self):
        return [(title, [self[name] for name in names]) for title, names in self.GROUPS]


class FamilyMemberForm(ContactCleanMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=FamilyMember._meta.get_field("name").max_length)
    email = forms.EmailField(label=_("Email"), required=False, max_length=254,
                            widget=forms.EmailInput(attrs={"autocomplete": "off"}),
                            help_text=_("The family member gets an e-mail with a link to set their password."))
    country = forms.ChoiceField(label=_("Country / Region"), required=False)
    mobile_number = forms.CharField(label=_("Mobile Number"), required=False, max_length=32,
                                    widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
                                    help_text=_("Checked against the Country / Region."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["country"].choices = country_choices()

    @classmethod
    def initial_for(cls, member: FamilyMember) -> dict:
        return {name: getattr(member, name) for name in cls.base_fields}


def apply_service_errors(form: forms.Form, exc) -> None:
    """Put a service's ValidationError next to the fields it names (others at the top)."""
    if hasattr(exc, "error_dict"):
        for field, messages in exc.message_dict.items():
            for message in messages:
                form.add_error(field if field in form.fields else None, message)
    else:
        for message in exc.messages:
            form.add_error(None, message)
