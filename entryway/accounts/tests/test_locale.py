"""The accounts catalogues: every string translated in the guide's 12 languages, placeholders kept."""
from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import polib
import pytest
from django.conf import settings

LOCALE = pathlib.Path(__file__).resolve().parents[1] / "locale"
ROOT = pathlib.Path(__file__).resolve().parents[3]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
EMAIL_STRINGS = [
    "Your entryway account is ready",
    "Hello %(name)s,",
    "An account has been created for you on %(platform)s. To choose your password and sign in, open this link:",
    "Your installer has reset the password of your %(platform)s account. To choose a new password, open this link:",
    "Your username: %(username)s",
    "The link can be used once. If it has expired, use “Forgot your password?” on the login page.",
    "Reset your entryway password",
    "Someone asked to reset the password of your entryway account. To choose a new password, open this link:",
    "If you did not ask for this, you can ignore this message.",
]
LANGS = [code for code, _name in settings.LANGUAGES if code != "en"]


def folder(code: str) -> str:
    language, _, script = code.partition("-")
    return f"{language}_{script.title()}" if script else language


def catalogue(code: str) -> polib.POFile:
    return polib.pofile(str(LOCALE / folder(code) / "LC_MESSAGES" / "django.po"))


@pytest.mark.parametrize("code", LANGS)
def test_catalogue_is_complete(code):
    po = catalogue(code)
    assert po.percent_translated() == 100, [e.msgid for e in po.untranslated_entries()]
    assert not po.fuzzy_entries()
    assert set(EMAIL_STRINGS) <= {e.msgid for e in po}
    for entry in po:
        assert sorted(PLACEHOLDER.findall(entry.msgid)) == sorted(PLACEHOLDER.findall(entry.msgstr)), \
            (code, entry.msgid, entry.msgstr)


def test_every_language_has_a_catalogue_directory_django_finds():
    assert sorted(p.name for p in LOCALE.iterdir() if p.is_dir()) == sorted(folder(c) for c in LANGS)
    assert (LOCALE / "zh_Hans").is_dir()


def test_compile_script_builds_the_mo_files(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "compile_messages.py")], cwd=ROOT,
                            capture_output=True, text=True, check=True)
    assert "compiled" in result.stderr
    for code in LANGS:
        mo = LOCALE / folder(code) / "LC_MESSAGES" / "django.mo"
        assert mo.exists(), code
        assert polib.mofile(str(mo)).find("Your entryway account is ready") is not None
