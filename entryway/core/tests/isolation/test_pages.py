"""Every HTML page, opened by each role with its own objects: a Content Security Policy without inline
scripts, no inline script or event handler in the page, clickjacking protection, and a CSRF token in
every form that posts. And the only views exempt from CSRF are the ones listed here, with why."""
from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from entryway.core.tests.isolation.routes import ROUTES
from entryway.core.tests.isolation.test_crawler import walk

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
JS_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']\s*javascript:""", re.IGNORECASE)
STYLE_ATTR = re.compile(r"<[^>]+\sstyle\s*=", re.IGNORECASE)
POST_FORM = re.compile(r"<form\b[^>]*method=[\"']?post[\"']?[^>]*>(.*?)</form>", re.IGNORECASE | re.DOTALL)

# Views that take no CSRF token, and why.
CSRF_EXEMPT = {
    "deviceapi:checkin": "device protocol: HTTP Basic device credentials, no cookies",
    "deviceapi:action_result": "device protocol: HTTP Basic device credentials, no cookies",
    "billing:webhook": "payment provider calls: the raw body's signature is verified",
    "remote_device:tunnel_next": "device protocol: device credentials, no cookies",
    "remote_device:tunnel_reply": "device protocol: device credentials, no cookies",
    "remote:relay": "the device's own forms post through it; unsafe methods must come from the same origin "
                    "(Origin / Sec-Fetch-Site checked by the view)",
}


def test_only_the_listed_views_are_exempt_from_csrf():
    exempt = {name for name, _route, view in walk(with_callback=True) if getattr(view, "csrf_exempt", False)
              and not name.startswith("api:")}
    assert exempt == set(CSRF_EXEMPT), f"csrf_exempt views not reviewed: {exempt - set(CSRF_EXEMPT)}; " \
                                       f"listed but no longer exempt: {set(CSRF_EXEMPT) - exempt}"


@pytest.fixture
def world(db, settings):
    settings.REMOTE_REQUEST_TIMEOUT = 1  # the relay waits for a device that is not there
    from entryway.core.tests.isolation.world import build_world

    return build_world()


@pytest.mark.django_db
def test_every_page_has_a_strict_csp_no_inline_script_and_csrf_in_every_form(world):
    a1 = world["A1"]
    actors = {"admin": world.admin, "distributor": a1.distributor, "installer": a1.installer,
              "resident": a1.resident_account, "anonymous": None}
    problems, pages = [], 0
    for role, account in actors.items():
        client = Client()
        if account is not None:
            client.force_login(account)
        for name, entry in sorted(ROUTES.items()):
            if entry.kind == "device" or "GET" not in entry.methods:
                continue
            if (entry.roles and role not in entry.roles) or (not entry.roles and entry.kind != "public"):
                continue
            url = reverse(name, kwargs=entry.kwargs(a1, world) if entry.kwargs else None)
            response = client.get(url)
            if not response.get("Content-Type", "").startswith("text/html") or response.status_code != 200:
                continue
            pages += 1
            html = response.content.decode("utf-8", errors="replace")
            where = f"{url} ({name}) as {role}"
            csp = response.get("Content-Security-Policy", "")
            script_src = next((d for d in csp.split(";") if d.strip().startswith(("script-src", "default-src"))), "")
            if not csp or "unsafe-inline" in script_src or "unsafe-eval" in script_src:
                problems.append(f"{where}: Content-Security-Policy {csp!r}")
            if response.get("X-Frame-Options") not in ("DENY", "SAMEORIGIN") and "frame-ancestors" not in csp:
                problems.append(f"{where}: no clickjacking protection")
            for pattern, what in ((INLINE_SCRIPT, "inline <script>"), (EVENT_HANDLER, "on…= handler"),
                                  (JS_URL, "javascript: URL"), (STYLE_ATTR, "style attribute")):
                found = pattern.search(html)
                if found:
                    problems.append(f"{where}: {what}: {found.group(0)[:120]}")
            for body in POST_FORM.findall(html):
                if "csrfmiddlewaretoken" not in body:
                    problems.append(f"{where}: a POST form without the CSRF token")
    assert pages > 60, f"only {pages} HTML pages were opened"
    assert not problems, "\n".join(problems)
