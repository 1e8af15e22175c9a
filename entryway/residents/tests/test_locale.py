"""The User module speaks the guide's 12 languages."""
from __future__ import annotations

import pathlib
import re

import polib
import pytest
from django.conf import settings
from django.urls import reverse

LOCALE = pathlib.Path(__file__).resolve().parents[1] / "locale"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
LANGS = [code for code, _name in settings.LANGUAGES if code != "en"]
GUIDE_STRINGS = [
    "All my devices were installed in the same place (villa or house)",
    "Some of my devices were installed in a different place (villa or house)",
    "Premium Plan contains landline service and third party camera.",
    "Landline Expiration Time", "Landline Status", "Family Member", "Inactivated", "Normal", "Expired",
]


def catalogue(code: str) -> polib.POFile:
    language, _, script = code.partition("-")
    return polib.pofile(str(LOCALE / (f"{language}_{script.title()}" if script else language) / "LC_MESSAGES"
                            / "django.po"))


@pytest.mark.parametrize("code", LANGS)
def test_catalogue_is_complete_with_the_same_placeholders(code):
    po = catalogue(code)
    assert po.percent_translated() == 100, [e.msgid for e in po.untranslated_entries()]
    assert set(GUIDE_STRINGS) <= {e.msgid for e in po}
    for entry in po:
        assert sorted(PLACEHOLDER.findall(entry.msgid)) == sorted(PLACEHOLDER.findall(entry.msgstr)), \
            (code, entry.msgid, entry.msgstr)


def test_templates_use_only_catalogued_strings():
    """Every {% trans %} string of the module's templates is in the catalogue."""
    known = {e.msgid for e in catalogue("fr")}
    pattern = re.compile(r"""\{% trans ["']([^"']+)["'] %\}""")
    for template in (pathlib.Path(__file__).resolve().parents[1] / "templates").rglob("*.html"):
        for msgid in pattern.findall(template.read_text()):
            assert msgid in known, (template.name, msgid)


@pytest.mark.django_db
@pytest.mark.parametrize("code, words", [
    ("fr", ["Nouveau", "Date d’expiration de la ligne fixe", "Membre de la famille"]),
    ("ja", ["新規", "固定電話の有効期限"]),
    ("zh-hans", ["新建", "固话到期时间"]),
])
def test_user_list_in_the_installers_language(client, installer, household, code, words):
    installer.language = code
    installer.save()
    client.force_login(installer)
    html = client.get(reverse("residents:list")).content.decode()
    for word in words:
        assert word in html, (code, word)


@pytest.mark.django_db
def test_add_user_form_in_french(client, installer):
    installer.language = "fr"
    installer.save()
    client.force_login(installer)
    html = client.get(reverse("residents:create")).content.decode()
    assert "Tous mes appareils sont installés au même endroit (villa ou maison)" in html
    assert "Le forfait Premium comprend le service de ligne fixe et les caméras tierces." in html
