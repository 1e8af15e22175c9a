"""House rules checked over the whole URL map: every portal page names the roles it is for."""
from __future__ import annotations

from django.urls import URLPattern, URLResolver, get_resolver

# Pages anyone may open (they authenticate differently or not at all), by "namespace:name".
PUBLIC = {
    "web:home",  # sends each role to its home page (login_required)
    "web:healthz", "web:readyz", "web:metrics",
    "accounts:login", "accounts:logout", "accounts:password_reset", "accounts:password_reset_done",
    "accounts:password_reset_confirm", "accounts:password_reset_complete",
    "portals:two_factor_login", "portals:impersonate_stop",
    "firmware:file",  # signed, expiring links for devices
    "billing:webhook",  # signed by the payment provider
    "set_language", "javascript-catalog",
}
# Namespaces with their own authentication (devices, the SIP server, the user API).
OWN_AUTH_NAMESPACES = {"api", "deviceapi", "sip_device", "remote_device"}


def _walk(patterns, namespace=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = p.namespace or namespace
            if p.namespace and namespace:
                ns = f"{namespace}:{p.namespace}"
            yield from _walk(p.url_patterns, ns)
        elif isinstance(p, URLPattern):
            yield namespace, p


def test_every_portal_page_is_scoped_by_role():
    unscoped = []
    for namespace, pattern in _walk(get_resolver().url_patterns):
        if namespace.split(":")[0] in OWN_AUTH_NAMESPACES:
            continue
        callback = pattern.callback
        module = getattr(callback, "__module__", "") or ""
        if not module.startswith("entryway."):
            continue
        name = f"{namespace}:{pattern.name}" if namespace else (pattern.name or "")
        if name in PUBLIC:
            continue
        view_class = getattr(callback, "view_class", None)
        roles = getattr(callback, "entryway_roles", None) or getattr(view_class, "entryway_roles", None)
        if not roles:
            unscoped.append(f"{name} ({module})")
    assert not unscoped, "views without role_required: " + ", ".join(unscoped)


def test_user_module_is_for_installers_only():
    from entryway.residents import urls

    for pattern in urls.urlpatterns:
        assert pattern.callback.entryway_roles == ("installer",), pattern.name
