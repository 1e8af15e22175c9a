from __future__ import annotations

import random
import re

from entryway.core.request_context import reset_request_info, set_request_info

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def request_id_for(incoming: str) -> str:
    """The request's id: a sane incoming X-Request-ID, else a new one (32 hexadecimal digits).

    An id tells log lines and audit rows apart, it guards nothing, so it comes from ``random`` (no
    system call; reseeded in each forked worker) rather than the operating system's entropy."""
    return incoming if _SAFE_ID.match(incoming) else f"{random.getrandbits(128):032x}"


class RequestIdMiddleware:
    """Gives each request an id (or keeps a sane X-Request-ID) for logs, audit rows and the answer."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_for(request.headers.get("X-Request-ID", ""))
        request.request_id = request_id
        token = set_request_info(request_id=request_id, ip=request.META.get("REMOTE_ADDR"))
        try:
            response = self.get_response(request)
        finally:
            reset_request_info(token)
        response["X-Request-ID"] = request_id
        return response


NUL = "\x00"
NUL_MESSAGE = "The request contains a null character (0x00), which no field accepts."


def contains_nul(value) -> bool:
    """True when a string anywhere in ``value`` (dicts, lists, pydantic models) holds a NUL character."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, bytes):
        return b"\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(contains_nul(v) for v in value)
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return contains_nul(dump())
    return False


def nul_locations(value, loc: tuple = ()) -> list[tuple]:
    """The paths (keys and list indexes) of every string in ``value`` that holds a NUL character."""
    if isinstance(value, (str, bytes)):
        return [loc] if contains_nul(value) else []
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            found += [loc + (key,)] if contains_nul(key) else nul_locations(item, loc + (key,))
        return found
    if isinstance(value, (list, tuple)):
        return [path for index, item in enumerate(value) for path in nul_locations(item, loc + (index,))]
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return nul_locations(dump(), loc)
    return [loc] if contains_nul(value) else []


def _querydict_has_nul(data) -> bool:
    return any(NUL in key or any(NUL in v for v in values if isinstance(v, str)) for key, values in data.lists())


class NullCharacterMiddleware:
    """Refuse a NUL character in the path, the query string or a submitted form before any view runs.

    No field of the platform accepts one and PostgreSQL cannot store one in text, so a form, a search
    box or an API query answers 400 with the reason (the user API: 422, as for any invalid field)
    rather than reaching the database. JSON bodies of the user API are checked by the API itself; the
    device protocol checks its own JSON fields.
    """

    FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # A cookie with a NUL (a forged session id) is no cookie at all: it is dropped, as an unknown
        # session would be, instead of being looked up in the database.
        for name in [name for name, value in request.COOKIES.items() if NUL in name or NUL in value]:
            del request.COOKIES[name]
        if self._has_nul(request):
            return self._refuse(request)
        return self.get_response(request)

    def _has_nul(self, request) -> bool:
        if NUL in request.path or _querydict_has_nul(request.GET):
            return True
        # The user API checks its own bodies (entryway.api.api.reject_null_characters): parsing a form
        # body here would consume the stream the API reads afterwards.
        if request.path.startswith("/api/"):
            return False
        if request.method in ("POST", "PUT", "PATCH") and request.content_type in self.FORM_TYPES:
            try:
                if _querydict_has_nul(request.POST):
                    return True
                return any(NUL in (f.name or "") for f in request.FILES.values())
            except Exception:  # noqa: BLE001 - a malformed body is the view's (Django's) to answer
                return False
        return False

    def _refuse(self, request):
        from django.http import HttpResponse, JsonResponse

        if request.path.startswith("/api/"):
            return JsonResponse({"detail": [{"loc": ["request"], "msg": NUL_MESSAGE, "type": "value_error"}]},
                                status=422)
        return HttpResponse(NUL_MESSAGE, status=400, content_type="text/plain; charset=utf-8")
