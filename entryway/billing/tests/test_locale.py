"""Billing e-mails in the guide's 12 languages."""
from __future__ import annotations

import pathlib
import re

import polib
import pytest
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation

LOCALE = pathlib.Path(__file__).resolve().parents[1] / "locale"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
EMAIL_TEMPLATES = ["renewal_subject", "renewal_body", "expiration_subject", "expiration_body"]
EMAIL_STRINGS = [
    "Hello %(name)s,", "Your intercom service is renewed until %(expires)s",
    "%(installer)s has paid for your intercom service (order %(order)s).",
    "Your service is active until %(expires)s.", "You can see your service in the resident portal:",
    "This e-mail was sent automatically. Replies are not read.", "Your intercom service expires on %(expires)s",
    "Your intercom service expires on %(expires)s.",
]


def catalogue(code: str) -> polib.POFile:
    folder = "zh_Hans" if code == "zh-hans" else code
    return polib.pofile(str(LOCALE / folder / "LC_MESSAGES" / "django.po"))


@pytest.mark.parametrize("code", [c for c, _ in settings.LANGUAGES if c != "en"])
def test_email_strings_translated_with_the_same_placeholders(code):
    po = catalogue(code)
    by_id = {e.msgid: e for e in po}
    for msgid in EMAIL_STRINGS:
        assert by_id[msgid].msgstr and "fuzzy" not in by_id[msgid].flags, (code, msgid)
    for entry in po.translated_entries():
        forms = entry.msgstr_plural.values() if entry.msgid_plural else [entry.msgstr]
        for form in forms:
            assert set(PLACEHOLDER.findall(entry.msgid)) == set(PLACEHOLDER.findall(form)), (code, entry.msgid)


@pytest.mark.parametrize("code", [c for c, _ in settings.LANGUAGES])
def test_emails_render_in_every_language(code):
    context = {"name": "Ryan", "installer": "Inst", "order": "123", "expires": "2030-01-01 10:00",
               "url": "http://x/resident/billing/", "days": 7}
    with translation.override(code):
        texts = [render_to_string(f"billing/email/{t}.txt", context) for t in EMAIL_TEMPLATES]
    assert all("2030-01-01 10:00" in t for t in texts)
    assert "Ryan" in texts[1] and "123" in texts[1] and "http://x/resident/billing/" in texts[3]
    if code != "en":
        assert "Your intercom service" not in texts[0] + texts[2]
