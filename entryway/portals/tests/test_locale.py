"""The portals and the portal frame speak the guide's 12 languages."""
from __future__ import annotations

import pathlib
import re

import polib
import pytest
from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

ROOT = pathlib.Path(__file__).resolve().parents[2]
CATALOGUES = [ROOT / "portals" / "locale", ROOT / "web" / "locale"]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def catalogue(folder: pathlib.Path, code: str) -> polib.POFile:
    name = "zh_Hans" if code == "zh-hans" else code
    return polib.pofile(str(folder / name / "LC_MESSAGES" / "django.po"))


@pytest.mark.parametrize("folder", CATALOGUES, ids=lambda p: p.parent.name)
@pytest.mark.parametrize("code", [c for c, _ in settings.LANGUAGES if c != "en"])
def test_every_string_translated_with_its_placeholders(folder, code):
    po = catalogue(folder, code)
    assert len(po) > 20
    assert po.percent_translated() == 100, [e.msgid for e in po.untranslated_entries()]
    assert not po.fuzzy_entries()
    for entry in po:
        assert set(PLACEHOLDER.findall(entry.msgid)) == set(PLACEHOLDER.findall(entry.msgstr)), (code, entry.msgid)


def test_catalogues_hold_every_string_of_the_templates():
    """A string added to a template without a translation fails here (run makemessages, then translate)."""
    po = catalogue(CATALOGUES[0], "fr")
    ids = {e.msgid for e in po}
    for text in ("Permission Granted", "Back", "Customer Service", "Two-factor login", "Household"):
        assert text in ids


@pytest.mark.parametrize("code, expected", [("fr", "Installateurs"), ("ja", "設置業者"), ("ru", "Монтажники"),
                                            ("zh-hans", "安装商"), ("es", "Instaladores")])
@pytest.mark.django_db
def test_distributor_portal_in_the_language_switch_choice(client, distributor, code, expected):
    client.force_login(distributor)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = code
    page = client.get(reverse("portals:distributor_home")).content.decode()
    assert f'lang="{code}"' in page and expected in page


@pytest.mark.django_db
def test_language_switch_posts_to_set_language(client, installer):
    client.force_login(installer)
    page = client.get(reverse("portals:customer_service")).content.decode()
    assert f'action="{reverse("set_language")}"' in page and 'name="language"' in page
    response = client.post(reverse("set_language"), {"language": "pl", "next": reverse("portals:customer_service")})
    assert response.status_code == 302
    page = client.get(reverse("portals:customer_service")).content.decode()
    assert "Obsługa klienta" in page and "Wyloguj" in page


def test_reset_email_in_each_language():
    for code, greeting in (("fr", "Bonjour"), ("de", "Hello"), ("ko", "안녕하세요"), ("tr", "Merhaba")):
        with translation.override(code):
            body = render_to_string("portals/email/installer_reset_body.txt",
                                    {"name": "Ana", "username": "ana", "url": "http://x/", "platform": "entryway"})
        assert greeting in body and "http://x/" in body
