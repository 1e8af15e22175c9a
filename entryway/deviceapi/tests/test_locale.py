"""The AutoP and remote maintenance pages speak the guide's 12 languages."""
from __future__ import annotations

import pathlib
import re

import polib
import pytest
from django.conf import settings
from django.urls import reverse

LOCALE = pathlib.Path(__file__).resolve().parents[1] / "locale"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@pytest.mark.parametrize("code", [c for c, _ in settings.LANGUAGES if c != "en"])
def test_every_string_is_translated_with_the_same_placeholders(code):
    folder = "zh_Hans" if code == "zh-hans" else code
    po = polib.pofile(str(LOCALE / folder / "LC_MESSAGES" / "django.po"))
    assert po.percent_translated() == 100, [e.msgid for e in po.untranslated_entries()]
    assert not po.fuzzy_entries()
    for entry in po:
        assert set(PLACEHOLDER.findall(entry.msgid)) == set(PLACEHOLDER.findall(entry.msgstr)), (code, entry.msgid)


@pytest.mark.django_db
@pytest.mark.parametrize("code, text", [("fr", "Appareils (500 au maximum à la fois)"), ("ja", "一回限りのAutoP"),
                                        ("zh-hans", "常规AutoP")])
def test_batch_autop_page_in_the_installers_language(installer_client, installer, code, text):
    installer.language = code
    installer.save(update_fields=["language"])
    response = installer_client.get(reverse("deviceapi:batch_autop"), HTTP_ACCEPT_LANGUAGE=code)
    assert text in response.content.decode()
