"""Every portal (platform admin, distributor, installer, resident) in the guide's 12 languages.

Three layers:

* the catalogues: every app that has user-visible strings has a catalogue per language, holding every
  string its code and templates mark (extracted here the way ``makemessages`` does), translated, not
  fuzzy, with the placeholders intact, and translated the same way in every app (Django merges the
  apps' catalogues into one, so two translations of one string would show only one of them);
* the pages: each portal's pages, asked for in each language, come back in that language, with no
  string left in English that the catalogues translate, and (in the non-Latin scripts) no English
  phrase at all;
* the browser: the language switch works in Chromium and Chinese text is drawn with real glyphs.
"""
from __future__ import annotations

import ast
import collections
import functools
import html.parser
import pathlib
import re

import polib
import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation.template import templatize

from entryway.web.navigation import PORTAL_MODULES

ROOT = pathlib.Path(__file__).resolve().parents[2]  # the entryway package
CODES = [code for code, _name in settings.LANGUAGES]
TRANSLATED_CODES = [code for code in CODES if code != "en"]
GUIDE_LANGUAGES = {"en", "zh-hans", "ko", "ja", "tr", "pl", "ru", "es", "bs", "da", "vi", "fr"}
PRODUCT_TERMS = ("AutoP", "SIP", "MAC", "RTSP", "DTMF")
PYTHON_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
BRACE_PLACEHOLDER = re.compile(r"(?<!\{)\{(\w+)\}(?!\})")

GETTEXT_NAMES = {
    "_": (None, 0, None), "gettext": (None, 0, None), "gettext_lazy": (None, 0, None),
    "gettext_noop": (None, 0, None), "pgettext": (0, 1, None), "pgettext_lazy": (0, 1, None),
    "ngettext": (None, 0, 1), "ngettext_lazy": (None, 0, 1), "npgettext": (0, 1, 2), "npgettext_lazy": (0, 1, 2),
}
TEMPLATE_CALL = re.compile(r"\b(gettext|pgettext|ngettext|npgettext)\(")
TEMPLATE_LITERAL = re.compile(r"\s*u?('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")\s*(,?)")


def locale_name(code: str) -> str:
    return translation.to_locale(code)


# --- what the code marks for translation ------------------------------------------------------------

def _literal(args: list, i: int | None) -> str | None:
    """Argument ``i`` of a gettext call if it is a string literal; "" when the call has no such argument."""
    if i is None:
        return ""
    if i < len(args) and isinstance(args[i], ast.Constant) and isinstance(args[i].value, str):
        return args[i].value
    return None


def _python_msgids(path: pathlib.Path) -> set[tuple[str, str, str]]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        if name not in GETTEXT_NAMES:
            continue
        ctx, msgid, plural = (_literal(node.args, i) for i in GETTEXT_NAMES[name])
        if msgid and ctx is not None and plural is not None:
            found.add((ctx, msgid, plural))
    return found


def _template_msgids(path: pathlib.Path) -> set[tuple[str, str, str]]:
    """The strings ``makemessages`` finds: Django's own ``templatize`` turns the template into gettext calls."""
    code = templatize(path.read_text(encoding="utf-8"), origin=str(path))
    found = set()
    for match in TEMPLATE_CALL.finditer(code):
        literals, pos = [], match.end()
        while (lit := TEMPLATE_LITERAL.match(code, pos)) is not None:
            literals.append(ast.literal_eval(lit.group(1)))
            pos = lit.end()
            if not lit.group(2):
                break
        kind = match.group(1)
        if kind == "gettext" and literals:
            found.add(("", literals[0], ""))
        elif kind == "pgettext" and len(literals) >= 2:
            found.add((literals[0], literals[1], ""))
        elif kind == "ngettext" and len(literals) >= 2:
            found.add(("", literals[0], literals[1]))
        elif kind == "npgettext" and len(literals) >= 3:
            found.add((literals[0], literals[1], literals[2]))
    return found


def marked_strings(app: pathlib.Path) -> set[tuple[str, str, str]]:
    found: set[tuple[str, str, str]] = set()
    for path in app.rglob("*.py"):
        rel = path.relative_to(app).parts
        if rel[0] in ("tests", "migrations", "locale") or path.name.startswith("test_"):
            continue
        found |= _python_msgids(path)
    templates = app / "templates"
    if templates.is_dir():
        for path in templates.rglob("*"):
            if path.suffix in (".html", ".txt") and path.is_file():
                found |= _template_msgids(path)
    return found


def apps_with_strings() -> dict[str, set[tuple[str, str, str]]]:
    out = {}
    for app in sorted(p for p in ROOT.iterdir() if (p / "apps.py").exists()):
        strings = marked_strings(app)
        if strings:
            out[app.name] = strings
    return out


APPS = apps_with_strings()


def catalogue(app: str, code: str) -> polib.POFile:
    return polib.pofile(str(ROOT / app / "locale" / locale_name(code) / "LC_MESSAGES" / "django.po"))


def entry_key(entry) -> tuple[str, str, str]:
    return entry.msgctxt or "", entry.msgid, entry.msgid_plural or ""


def forms_of(entry) -> list[str]:
    return [entry.msgstr_plural[i] for i in sorted(entry.msgstr_plural)] if entry.msgid_plural else [entry.msgstr]


# --- the catalogues ----------------------------------------------------------------------------------

def test_the_twelve_languages_of_the_guide_are_offered():
    assert set(CODES) == GUIDE_LANGUAGES and len(CODES) == 12
    assert settings.LANGUAGE_CODE == "en"


def test_the_apps_of_every_portal_mark_strings():
    """The extraction is not silently empty: each portal's apps are found with their strings."""
    for app in ("accounts", "residents", "devices", "firmware", "messaging", "billing", "portals", "web",
                "dashboard", "deviceapi", "sip"):
        assert len(APPS.get(app, ())) >= 10, app
    assert ("", "User", "") in APPS["web"] and ("", "MAC Library", "") in APPS["web"]
    assert ("purchase type", "Active", "") in APPS["billing"]


@pytest.mark.parametrize("code", TRANSLATED_CODES)
@pytest.mark.parametrize("app", sorted(APPS))
def test_catalogue_holds_every_marked_string_translated(app, code):
    path = ROOT / app / "locale" / locale_name(code) / "LC_MESSAGES" / "django.po"
    assert path.exists(), f"no {code} catalogue for {app}: run makemessages in entryway/{app} and translate"
    po = catalogue(app, code)
    present = {entry_key(e) for e in po if not e.obsolete}
    missing = sorted(APPS[app] - present)
    assert not missing, f"{app}/{code}: strings not in the catalogue (run makemessages): {missing[:10]}"
    assert not po.untranslated_entries(), [e.msgid for e in po.untranslated_entries()][:10]
    assert not po.fuzzy_entries(), [e.msgid for e in po.fuzzy_entries()][:10]
    assert not po.metadata_is_fuzzy
    nplurals = int(re.search(r"nplurals\s*=\s*(\d+)", po.metadata["Plural-Forms"]).group(1))
    for entry in po.translated_entries():
        forms = forms_of(entry)
        if entry.msgid_plural:
            assert len(forms) == nplurals and all(forms), (app, code, entry.msgid)
        for form in forms:
            for pattern in (PYTHON_PLACEHOLDER, BRACE_PLACEHOLDER):
                assert sorted(set(pattern.findall(form))) == sorted(set(pattern.findall(entry.msgid))), \
                    (app, code, entry.msgid, form)
            assert form.count("%%") >= entry.msgid.count("%%") or "python-format" not in entry.flags, \
                (app, code, entry.msgid)
            for term in PRODUCT_TERMS:
                if re.search(rf"\b{term}\b", entry.msgid):
                    assert term in form, (app, code, entry.msgid, term, form)


@pytest.mark.parametrize("code", TRANSLATED_CODES)
def test_a_string_is_translated_the_same_way_in_every_app(code):
    """Django merges every app's catalogue; for a string translated twice only one translation would show."""
    seen: dict[tuple, dict[str, tuple]] = collections.defaultdict(dict)
    for app in APPS:
        for entry in catalogue(app, code).translated_entries():
            seen[entry_key(entry)][app] = tuple(forms_of(entry))
    differing = {key[1]: apps for key, apps in seen.items() if len(set(apps.values())) > 1}
    assert not differing, list(differing.items())[:5]


def test_module_names_translated_in_every_language():
    """The nine modules of the guide, and the portals' own names, are never left in English."""
    modules = ["User", "Device", "Firmware", "Update", "Message", "MAC Library", "Setting", "Subscription",
               "Payments", "Installers", "Distributors", "Messages", "Help"]
    keep = {"Firmware": {"es", "da", "vi", "fr", "pl"}, "Message": {"fr"}, "Messages": {"fr"}}  # the same word
    for code in TRANSLATED_CODES:
        with translation.override(code):
            for name in modules:
                if code in keep.get(name, ()):
                    continue
                assert translation.gettext(name) != name, (code, name)


# --- the pages ---------------------------------------------------------------------------------------

class _Text(html.parser.HTMLParser):
    """The text a person reads on a page: text nodes and the labels in attributes, not scripts or styles."""

    ATTRS = ("placeholder", "title", "aria-label", "alt")

    def __init__(self):
        super().__init__()
        self.texts: list[str] = []
        self.h1: list[str] = []
        self.lang = None
        self._skip = 0
        self._in_h1 = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.lang = attrs.get("lang")
        if tag in ("script", "style"):
            self._skip += 1
        if tag == "h1":
            self._in_h1 = True
        for name in self.ATTRS:
            if attrs.get(name):
                self.texts.append(attrs[name])
        if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
            self.texts.append(attrs["value"])

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1
        if tag == "h1":
            self._in_h1 = False

    def handle_data(self, data):
        text = " ".join(data.split())
        if text and not self._skip:
            self.texts.append(text)
            if self._in_h1:
                self.h1.append(text)


def read(page: str) -> _Text:
    parser = _Text()
    parser.feed(page)
    return parser


@functools.cache
def catalogue_words(code: str) -> tuple[frozenset, frozenset]:
    """(English strings the catalogues translate into ``code``, strings that stay the same in ``code``)."""
    changed, same = set(), set()
    for app in APPS:
        for entry in catalogue(app, code).translated_entries():
            if not entry.msgid_plural and "%" not in entry.msgid:
                (same if entry.msgstr == entry.msgid else changed).add(entry.msgid)
    # a string that stays English in one of its contexts (the network "Host" in Polish) may show as it is
    return frozenset(changed - same), frozenset(same)


# English a page may show whatever its language: the fixtures' data, the brand, the language names of
# the switch (each in its own language) and the product's own terms.
ALLOWED = {"entryway", "English", "Ryan", "Lily", "Gate", "R29", "SIP", "MAC", "AutoP", "RTSP", "DTMF",
           "Inst-A", "Dist-A", "Root-Admin", "UTC"}
ENGLISH_PHRASE = re.compile(r"\b[A-Za-z]{2,}[a-z]* [a-z]{2,}\b")
NON_LATIN = ("zh-hans", "ja", "ko", "ru")


@pytest.fixture
def portal_accounts(db, admin_account, distributor, installer, make_resident, activate):
    from entryway.devices.catalog import catalog_ensure
    from entryway.devices.services import device_create, mac_add
    from entryway.residents.services import family_member_create

    catalog_ensure()
    ryan = activate(make_resident(installer, name="Ryan", room_name="Gate", email="ryan@example.com"))
    family_member_create(acting_user=installer, resident=ryan, name="Lily", email="lily@example.com")
    mac_add(acting_user=installer, mac="0C110512BC97")
    device = device_create(acting_user=installer, owner=ryan, device_model="R29", mac="0C110512BC97",
                           location="Gate", relays=[])
    return {"admin": admin_account, "distributor": distributor, "installer": installer, "resident": ryan.account,
            "ryan": ryan, "device": device}


def content_in_english() -> set[str]:
    """Data, not interface: the device catalogue's descriptions, the manuals' titles (docs/ is English), and
    the few Country / Region names phonenumbers has only in English for some languages."""
    from entryway.devices.models import DeviceModel
    from entryway.portals.manuals import all_manuals
    from entryway.residents.forms import country_choices

    with translation.override("en"):
        countries = {label for _code, label in country_choices()}
    return (set(DeviceModel.objects.values_list("description", flat=True)) | {m.title for m in all_manuals()}
            | countries)


def portal_pages(account) -> list[str]:
    from entryway.web.navigation import sidebar_for

    pages = [item["url"] for item in sidebar_for(account, "/")]
    pages += [reverse("portals:account_settings"), reverse("portals:password_change")]
    if account.role in ("installer", "distributor"):
        pages.append(reverse("portals:customer_service"))
    return pages


def form_and_detail_pages(accounts: dict) -> dict[str, list[str]]:
    """Pages off the sidebar: the New forms, the edit and detail pages, the account menu's pages."""
    ryan, device = accounts["ryan"], accounts["device"]
    return {
        "installer": [
            reverse("residents:create"), reverse("residents:edit", args=[ryan.pk]),
            reverse("residents:family_list", args=[ryan.pk]), reverse("residents:family_create", args=[ryan.pk]),
            reverse("devices:camera_list"), reverse("devices:resident_devices", args=[ryan.pk]),
            reverse("devices:device_create", args=[ryan.pk]), reverse("devices:device_edit", args=[device.pk]),
            reverse("devices:resident_cameras", args=[ryan.pk]), reverse("devices:mac_create"),
            reverse("devices:mac_import"), reverse("firmware:strategy_create"), reverse("messaging:create"),
            reverse("billing:purchase_details", args=["active"]), reverse("billing:purchase_details", args=["renew"]),
            reverse("dashboard:alerts"), reverse("portals:two_factor"), reverse("portals:access_log"),
            reverse("portals:tickets"), reverse("portals:ticket_create"), reverse("portals:help"),
            reverse("remote:session_list"), reverse("accounts:api_tokens"),
        ],
        "distributor": [
            reverse("portals:distributor_installer_create"),
            reverse("portals:distributor_installer", args=[accounts["installer"].pk]),
            reverse("devices:distributor_mac_create"), reverse("devices:distributor_mac_import"),
            reverse("portals:two_factor"),
        ],
        "admin": [
            reverse("portals:admin_distributor_create"), reverse("portals:admin_device_model_create"),
            reverse("firmware:admin_upload"), reverse("billing:admin_coupons"), reverse("billing:admin_bank_transfers"),
            reverse("billing:admin_distributor_prices", args=[accounts["distributor"].pk]),
        ],
        "resident": [],
    }


def assert_no_english(page: _Text, code: str, where, content: set[str]) -> None:
    """No string the catalogues translate shows in English; in the non-Latin scripts, no English phrase at all."""
    leftovers, _same = catalogue_words(code)
    english = sorted({t for t in page.texts if t in leftovers and t not in ALLOWED | content})
    assert not english, (where, code, english)
    if code in NON_LATIN:
        phrases = sorted({t for t in page.texts if ENGLISH_PHRASE.search(t) and t not in ALLOWED | content
                          and "@" not in t and "://" not in t})
        assert not phrases, (where, code, phrases)


def get_in(client, url: str, code: str) -> str:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = code
    response = client.get(url)
    assert response.status_code == 200, (url, code, response.status_code)
    return response.content.decode()


@pytest.mark.parametrize("role", ["admin", "distributor", "installer", "resident"])
def test_every_page_of_each_portal_in_every_language(role, portal_accounts, client):
    account = portal_accounts[role]
    client.force_login(account)
    pages = portal_pages(account)
    assert len(pages) >= 5, pages
    english_h1 = {url: read(get_in(client, url, "en")).h1 for url in pages}
    content = content_in_english()
    for code in TRANSLATED_CODES:
        _leftovers, same = catalogue_words(code)
        with translation.override(code):
            sidebar = [str(label) for _key, label, _url in PORTAL_MODULES[account.role]]
        for url in pages:
            page = read(get_in(client, url, code))
            assert page.lang == code, (url, code, page.lang)
            assert page.h1, (url, code)
            if page.h1 == english_h1[url]:  # only where the heading is a name, or the same word in this language
                assert all(t in ALLOWED or t in same for t in page.h1), (url, code, page.h1)
            for label in sidebar:
                assert label in page.texts, (url, code, label)
            assert_no_english(page, code, (role, url), content)


@pytest.mark.parametrize("role", ["admin", "distributor", "installer", "anonymous"])
def test_forms_and_detail_pages_in_other_scripts(role, portal_accounts, client):
    """The pages off the sidebar, in the non-Latin scripts and two Latin ones with many accents."""
    if role == "anonymous":
        pages = [reverse("accounts:login"), reverse("accounts:password_reset")]
    else:
        client.force_login(portal_accounts[role])
        pages = form_and_detail_pages(portal_accounts)[role]
    content = content_in_english()
    for code in (*NON_LATIN, "pl", "vi"):
        for url in pages:
            page = read(get_in(client, url, code))
            assert page.lang == code and page.h1, (url, code)
            assert_no_english(page, code, (role, url), content)


@pytest.mark.parametrize("code, heading, module", [
    ("zh-hans", "用户", "设备"), ("fr", "Utilisateur", "Appareil"), ("ja", "ユーザー", "デバイス"),
    ("ru", "Пользователь", "Устройство"), ("tr", "Kullanıcı", "Cihaz"), ("vi", "Người dùng", "Thiết bị"),
])
def test_installer_user_list_shows_translated_headings(code, heading, module, portal_accounts, client):
    client.force_login(portal_accounts["installer"])
    page = read(get_in(client, reverse("residents:list"), code))
    assert heading in page.h1 and module in page.texts


@pytest.mark.parametrize("code, expected", [("zh-hans", "安装商"), ("pl", "Instalatorzy"), ("ko", "설치업체"),
                                            ("da", "Installatører")])
def test_distributor_portal_in_the_chosen_language(code, expected, portal_accounts, client):
    client.force_login(portal_accounts["distributor"])
    assert expected in read(get_in(client, reverse("portals:distributor_home"), code)).h1


@pytest.mark.parametrize("code, expected", [("zh-hans", "分销商"), ("es", "Distribuidores"), ("bs", "Distributeri")])
def test_admin_portal_in_the_chosen_language(code, expected, portal_accounts, client):
    client.force_login(portal_accounts["admin"])
    assert expected in read(get_in(client, reverse("portals:admin_distributors"), code)).texts


def test_resident_portal_follows_the_switch_over_the_account_language(portal_accounts, client):
    resident = portal_accounts["resident"]
    resident.language = "fr"
    resident.save(update_fields=["language"])
    client.force_login(resident)
    page = read(client.get(reverse("portals:resident_home")).content.decode())
    assert page.lang == "fr"
    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": reverse("portals:resident_home")})
    assert response.status_code == 302
    page = read(client.get(reverse("portals:resident_home")).content.decode())
    assert page.lang == "zh-hans" and "消息" in page.texts


def test_background_job_result_in_the_language_of_the_account_that_started_it(portal_accounts):
    """An export run by the Huey consumer (no request, so no request language) speaks the installer's language."""
    from entryway.dashboard.jobs import job_run, job_start

    installer = portal_accounts["installer"]
    installer.language = "fr"
    installer.save(update_fields=["language"])
    with translation.override("en"):
        job = job_start(acting_user=installer, kind="export", title="MAC Library",
                        params={"key": "mac-library", "fmt": "csv", "query": "", "tz": "UTC", "file_name": "m.csv"})
        job = job_run(job_id=job.pk)
    assert job.result["link_label"] == "Télécharger"
    assert job.result["message"].startswith("1 ligne exportée vers m.csv")  # singular: French counts 0 and 1 as one


def test_alerts_written_in_the_installers_language(portal_accounts):
    """The periodic alert task has no request: each alert still reads in its installer's language."""
    import datetime

    from django.utils import timezone

    from entryway.dashboard.models import Alert
    from entryway.dashboard.services import alerts_evaluate

    installer, device = portal_accounts["installer"], portal_accounts["device"]
    installer.language = "ja"
    installer.save(update_fields=["language"])
    now = timezone.now()
    device.last_seen_at = now - datetime.timedelta(hours=3)
    device.save(update_fields=["last_seen_at"])
    with translation.override("en"):
        alerts_evaluate(now=now)
    alert = Alert.objects.get(installer=installer, kind="device_offline")
    assert alert.message.startswith("デバイス 0C110512BC97（Gate）は ") and "からオフラインです" in alert.message


def test_background_mac_import_reports_in_the_importers_language(portal_accounts):
    from entryway.devices.services import mac_import_start
    from entryway.devices.tasks import mac_import_task

    installer = portal_accounts["installer"]
    installer.language = "ko"
    installer.save(update_fields=["language"])
    with translation.override("en"):
        job = mac_import_start(acting_user=installer, data=b"MAC\n0C110512BC97\nnot-a-mac\n0C110512BC98\n",
                               file_name="macs.csv")
        mac_import_task.call_local(job.pk)
    job.refresh_from_db()
    details = [row[3] for row in job.report]
    assert details[0] == "이미 이 MAC 라이브러리에 있습니다."
    assert details[2] == "0C110512BC98(으)로 추가되었습니다."


@pytest.mark.parametrize("code, not_found, denied", [
    ("zh-hans", "页面不存在", "拒绝访问"),
    ("ru", "Страница не найдена", "Доступ запрещён"),
    ("es", "Página no encontrada", "Acceso denegado"),
])
def test_error_pages_in_the_chosen_language(code, not_found, denied, portal_accounts, client):
    client.force_login(portal_accounts["resident"])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = code
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and read(response.content.decode()).h1 == [not_found]
    response = client.get(reverse("residents:list"))  # the installer's User list is not for a resident
    assert response.status_code == 403 and read(response.content.decode()).h1 == [denied]


def test_server_error_page_in_the_request_language():
    from django.test import RequestFactory

    from entryway.core.errors import server_error

    with translation.override("ja"):
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            response = server_error(RequestFactory().get("/"))
    page = read(response.content.decode())
    assert response.status_code == 500 and page.lang == "ja" and page.h1 == ["問題が発生しました"]


def test_browser_language_picks_the_guide_variant(client):
    """A browser asking for zh-CN gets Simplified Chinese; a language outside the twelve falls back to English."""
    page = read(client.get(reverse("accounts:login"), headers={"accept-language": "zh-CN,zh;q=0.9"}).content.decode())
    assert page.lang == "zh-hans"
    page = read(client.get(reverse("accounts:login"), headers={"accept-language": "de-DE,de;q=0.9"}).content.decode())
    assert page.lang == "en"


# --- the browser -------------------------------------------------------------------------------------

# How many different pictures the page's font draws for the characters of ``text``: with no font for a
# script, every character is the same empty box.
GLYPHS = """
(text) => {
  const draw = (s) => {
    const c = document.createElement("canvas"); c.width = 64; c.height = 64;
    const g = c.getContext("2d"); g.font = "40px " + getComputedStyle(document.body).fontFamily;
    g.fillText(s, 4, 48); return Array.from(g.getImageData(0, 0, 64, 64).data).join(",");
  };
  const blank = draw(" ");
  return new Set(Array.from(text).map(draw).filter((p) => p !== blank)).size;
}
"""


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_language_switch_in_the_browser_draws_chinese_and_french(login_page, live_server, portal_accounts):
    from entryway.testing.browser import screenshot

    page = login_page(portal_accounts["installer"])
    page.goto(f"{live_server.url}{reverse('residents:list')}")
    page.select_option("#language-switch", "zh-hans")
    page.wait_for_function("document.documentElement.lang === 'zh-hans'")
    assert page.locator("h1").inner_text().strip().startswith("用户")
    assert page.evaluate(GLYPHS, "用户设备固件") == 6, "Chinese characters are drawn as empty boxes"
    screenshot(page, "i18n-user-list-zh-hans")
    page.select_option("#language-switch", "fr")
    page.wait_for_function("document.documentElement.lang === 'fr'")
    assert "Utilisateur" in page.locator("h1").inner_text()
    assert page.evaluate(GLYPHS, "éèçà") == 4
    screenshot(page, "i18n-user-list-fr")
