"""The user API root. Each app's ``api.py`` exposes ``router``; it is mounted under /api/v1/."""
from __future__ import annotations

import importlib
import logging
from functools import wraps

from django.apps import apps
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError
from ninja.errors import ValidationError as NinjaValidationError

from entryway.core.middleware import NUL_MESSAGE, nul_locations

logger = logging.getLogger(__name__)

api = NinjaAPI(
    title="entryway API",
    version="1.0.0",
    description=(
        "The installer and resident API of entryway. Authenticate with the portal session (and its "
        "CSRF token) or with `Authorization: Bearer <token>` created under API tokens in the portal."
    ),
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)


def django_validation_error_detail(exc: DjangoValidationError) -> list[dict]:
    if hasattr(exc, "error_dict"):
        return [
            {"loc": ["body", field if field != "__all__" else "non_field_errors"], "msg": m, "type": "value_error"}
            for field, errors in exc.message_dict.items()
            for m in errors
        ]
    return [{"loc": ["body"], "msg": m, "type": "value_error"} for m in exc.messages]


@api.exception_handler(DjangoValidationError)
def on_django_validation_error(request, exc):
    return api.create_response(request, {"detail": django_validation_error_detail(exc)}, status=422)


@api.exception_handler(NinjaValidationError)
def on_validation_error(request, exc):
    return api.create_response(request, {"detail": exc.errors}, status=422)


@api.exception_handler(Http404)
def on_not_found(request, exc):
    return api.create_response(request, {"detail": "Not found."}, status=404)


@api.exception_handler(PermissionDenied)
def on_forbidden(request, exc):
    return api.create_response(request, {"detail": str(exc) or "Forbidden."}, status=403)


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request, exc):
    return api.create_response(request, {"detail": "Authentication required."}, status=401)


def reject_null_characters(view):
    """Every operation: a NUL character in any string of the path, query or body is a 422.

    Runs after the request is validated against the operation's schemas, so it sees every field an
    operation accepts, whatever app defines it; nothing reaches a service or the database.
    """

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        bad = [["body" if name in ("payload", "data", "body") else name, *path]
               for name, value in kwargs.items() for path in nul_locations(value)]
        if bad:
            raise NinjaValidationError([{"loc": loc, "msg": NUL_MESSAGE, "type": "value_error"} for loc in bad])
        return view(request, *args, **kwargs)

    return wrapper


api.add_decorator(reject_null_characters, mode="operation")


def _mount_app_routers() -> None:
    for config in apps.get_app_configs():
        if not config.name.startswith("entryway.") or config.name == "entryway.api":
            continue
        try:
            module = importlib.import_module(f"{config.name}.api")
        except ModuleNotFoundError as exc:
            if exc.name == f"{config.name}.api":
                continue
            raise
        router = getattr(module, "router", None)
        if router is not None:
            api.add_router("/v1/", router)


_mount_app_routers()
