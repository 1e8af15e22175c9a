"""The Message module speaks the guide's 12 languages, e-mail copies included."""
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
EMAIL_STRINGS = [
    "Message from %(installer)s: %(title)s",
    "Hello %(name)s,",
    "%(installer)s sent you this message:",
    "You can also read it in the app or in the resident portal:",
    "This is a copy of a message from your intercom installer. Replies to this e-mail are not read.",
]


def catalogue(code: str) -> polib.POFile:
    folder = "zh_Hans" if code == "zh-hans" else code
    return polib.pofile(str(LOCALE / folder / "LC_MESSAGES" / "django.po"))


@pytest.mark.parametrize("code", [c for c, _ in settings.LANGUAGES if c != "en"])
def test_every_string_is_translated_with_the_same_placeholders(code):
    po = catalogue(code)
    assert po.percent_translated() == 100, [e.msgid for e in po.untranslated_entries()]
    msgids = {e.msgid for e in po}
    assert set(EMAIL_STRINGS) <= msgids
    for entry in po:
        wanted = set(PLACEHOLDER.findall(entry.msgid))
        got = [entry.msgstr] if not entry.msgid_plural else list(entry.msgstr_plural.values())
        for text in got:
            assert set(PLACEHOLDER.findall(text)) <= wanted | set(PLACEHOLDER.findall(entry.msgid_plural or "")), \
                (code, entry.msgid, text)
            assert wanted <= set(PLACEHOLDER.findall(text)) or entry.msgid_plural, (code, entry.msgid, text)


@pytest.mark.parametrize("code, greeting", [("fr", "Bonjour"), ("ja", "様"), ("ru", "Здравствуйте"),
                                            ("zh-hans", "您好"), ("pl", "Dzień dobry")])
def test_email_renders_in_the_language(code, greeting):
    context = {"name": "Ryan", "installer": "Inst", "title": "T", "body": "B", "url": "http://x/"}
    with translation.override(code):
        body = render_to_string("messaging/email/message_body.txt", context)
    assert greeting in body and "Ryan" in body and "http://x/" in body
