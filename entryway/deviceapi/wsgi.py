"""The device routes served without the portal's middleware.

Devices call three routes (docs/device-protocol.md): ``POST /device/v1/checkin``,
``POST /device/v1/actions/<id>/result`` and ``GET /autop/<MAC>.cfg``. They carry their own HTTP
Basic credentials and never use a session, a CSRF token, a language cookie, messages or the
portal's security headers for pages. ``with_device_routes(app)`` wraps the WSGI application so
that these three paths go through a Django handler whose middleware is the project's list
without the portal-only entries (sessions, authentication, CSRF, locale, messages, CSP, htmx,
...): security, request ids, metrics, the database-unavailable answer and the NUL check still
apply. Every other path goes to the full application unchanged.

The views are the same functions either way (the Django test client, which does not go
through ``config.wsgi``, serves them with the full middleware list).
"""
from __future__ import annotations

import re

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.urls import URLResolver, include, path, re_path
from django.urls.resolvers import RegexPattern
from django.utils import timezone, translation

# Exactly the device routes; anything else (including a mistyped device path) takes the full stack.
DEVICE_PATH_RE = re.compile(r"^/(?:device/v1/checkin|device/v1/actions/[0-9]+/result|autop/[^/]+\.cfg)$")

# Middleware that only the portal and the user API need (sessions, authentication, CSRF, language,
# messages, page headers, htmx), by module. Anything else in settings.MIDDLEWARE (including
# middleware added later) also runs for device routes.
PORTAL_ONLY_PREFIXES = (
    "django.contrib.sessions.", "django.contrib.auth.", "django.contrib.messages.", "django.middleware.locale.",
    "django.middleware.common.", "django.middleware.csrf.", "django.middleware.clickjacking.", "csp.",
    "django_htmx.", "entryway.portals.middleware.", "entryway.accounts.middleware.",
)


# Replaced for the device routes by a middleware with the same limits in fewer cache round trips.
DEVICE_REPLACEMENTS = {
    "entryway.core.ratelimit.DeviceRateLimitMiddleware": "entryway.deviceapi.gate.DeviceGateMiddleware",
}


def device_middleware() -> list[str]:
    return [DEVICE_REPLACEMENTS.get(m, m) for m in settings.MIDDLEWARE if not m.startswith(PORTAL_ONLY_PREFIXES)]


def _device_resolver() -> URLResolver:
    from entryway.deviceapi.protocol import action_result, autop_file, checkin

    patterns = [
        path("device/v1/checkin", checkin, name="checkin"),
        path("device/v1/actions/<int:action_id>/result", action_result, name="action_result"),
        re_path(r"^autop/(?P<mac>[^/]+)\.cfg$", autop_file, name="autop_file"),
    ]
    return URLResolver(RegexPattern(r"^/"), [path("", include((patterns, "deviceapi")))])


class DeviceRoutesHandler(WSGIHandler):
    """A Django handler for the device routes only, with the device middleware list."""

    def load_middleware(self, is_async=False):
        portal = settings.MIDDLEWARE
        try:
            settings.MIDDLEWARE = device_middleware()
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = portal
        self._resolver = _device_resolver()

    def resolve_request(self, request):
        # The device patterns only; reverse() in the views keeps using the project's URLconf.
        match = self._resolver.resolve(request.path_info)
        request.resolver_match = match
        return match

    def get_response(self, request):
        # A portal request served before by this thread may have left its language and time zone active.
        translation.activate(settings.LANGUAGE_CODE)
        timezone.deactivate()
        return super().get_response(request)


def with_device_routes(application):
    """``application`` with the device routes sent to a ``DeviceRoutesHandler``.

    An idle check-in or a cached AutoP file is answered before either (entryway.deviceapi.fastpath), and a
    firmware download before the full application (entryway.firmware.download).
    """
    from entryway.deviceapi import fastpath
    from entryway.deviceapi.gate import CHECKIN_PATH
    from entryway.firmware import download

    device_handler = DeviceRoutesHandler()
    match = DEVICE_PATH_RE.match

    def dispatch(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if match(path):
            # An idle check-in, a cached AutoP file or a known device's result is answered before Django.
            if path == CHECKIN_PATH:
                answered = fastpath.checkin(environ)
            elif path.startswith("/autop/"):
                answered = fastpath.cached_autop(environ, path)
            else:
                answered = fastpath.action_result(environ, path, int(path.split("/")[4]))
            if answered is not None:
                status, headers, body = answered
                start_response(status, headers)
                return [body]
            return device_handler(environ, start_response)
        if path.startswith(download.PREFIX):
            # A firmware download answered without Django (entryway.firmware.download), else by its view.
            answered = download.wsgi_download(environ)
            if answered is not None:
                status, headers, body = answered
                start_response(status, headers)
                return body
        return application(environ, start_response)

    dispatch.device_handler = device_handler
    dispatch.application = application
    return dispatch
