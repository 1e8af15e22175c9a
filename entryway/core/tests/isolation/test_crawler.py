"""The isolation crawler: every URL pattern and every API operation, with every role, against
another tenant's objects. Each answer is 404 (403, a login redirect or 401 for a route the role may
never use); no answer shows another tenant's data, and none changes it.

Tenant A's distributor, its first installer (A1), A1's resident and the platform admin make the
requests; their targets are A2 (the same distributor's other installer) and B1 (another
distributor's installer). ``routes.py`` holds what the crawler knows of each route.
"""
from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from entryway.core.tests.isolation import tenancy
from entryway.core.tests.isolation.routes import API, ROUTES
from entryway.core.tests.isolation.world import TENANTS, build_world

ROLES = ("admin", "distributor", "installer", "resident", "anonymous")
# Whose objects each role asks for, and whose data it must never see.
TARGETS = {"admin": ("B1",), "distributor": ("B1",), "installer": ("A2", "B1"), "resident": ("A2", "B1"),
           "anonymous": ("B1",)}
FOREIGN = {"admin": (), "distributor": ("B1", "B2"), "installer": ("A2", "B1", "B2"),
           "resident": ("A2", "B1", "B2"), "anonymous": TENANTS}
MISSING_ID = 987654321


def walk(resolver=None, prefix="", namespace="", with_callback=False):
    """(name, route) of every URL pattern, through every include() (and its view, if asked)."""
    resolver = resolver or get_resolver()
    for p in resolver.url_patterns:
        if isinstance(p, URLResolver):
            ns = namespace
            if p.namespace:
                ns = f"{namespace}:{p.namespace}" if namespace else p.namespace
            yield from walk(p, prefix + str(p.pattern), ns, with_callback)
        elif isinstance(p, URLPattern):
            name = f"{namespace}:{p.name}" if namespace and p.name else (p.name or "")
            yield (name, prefix + str(p.pattern), p.callback) if with_callback else (name, prefix + str(p.pattern))


def _api_route(route: str) -> str:
    """'api/v1/residents/<resident_id>' -> '/api/v1/residents/{resident_id}'."""
    out = "/" + route
    while "<" in out:
        start, end = out.index("<"), out.index(">")
        name = out[start + 1:end].split(":")[-1]
        out = out[:start] + "{" + name + "}" + out[end + 1:]
    return out


def _spec(client) -> dict:
    return json.loads(client.get("/api/openapi.json").content)


def _operations(spec) -> list[tuple[str, str]]:
    return [(method.upper(), path) for path, ops in spec["paths"].items() for method in ops
            if method in {"get", "post", "put", "patch", "delete"}]


# ------------------------------------------------------------------ completeness


@pytest.mark.django_db
def test_every_url_pattern_and_api_operation_is_known_to_the_crawler(client):
    spec_paths = {path for _m, path in _operations(_spec(client))}
    unknown, seen = [], set()
    for name, route in walk():
        seen.add(name)
        if name.startswith("api:") and _api_route(route) in spec_paths:
            continue  # crawled through the OpenAPI spec
        if name not in ROUTES:
            unknown.append(f"{name or '(unnamed)'} ({route})")
    assert not unknown, "URL patterns the isolation crawler has no entry for (add them to routes.py): " \
        + ", ".join(unknown)
    stale = sorted(set(ROUTES) - seen)
    assert not stale, f"routes.py names URL patterns that no longer exist: {stale}"
    ops = set(_operations(_spec(client)))
    missing = sorted(ops - set(API))
    assert not missing, f"API operations the isolation crawler has no entry for (add them to routes.py): {missing}"
    assert not sorted(set(API) - ops), f"routes.py names API operations that no longer exist: {sorted(set(API) - ops)}"


def test_every_model_is_attributed_to_a_tenant_or_declared_platform_wide():
    assert not tenancy.unowned_models(), (
        "models the isolation snapshot cannot attribute to a tenant (give them an installer or account "
        f"field, or list them in tenancy.GLOBAL_MODELS): {tenancy.unowned_models()}")


def test_route_roles_match_the_views_role_checks():
    """The table's roles are the views' own ``role_required`` roles, so neither drifts silently."""
    wrong = []
    for name, _route, view in walk(with_callback=True):
        entry = ROUTES.get(name)
        if entry is None or entry.kind not in {"page", "object"}:
            continue
        declared = getattr(view, "entryway_roles", None)
        if declared is not None and set(map(str, declared)) != set(entry.roles):
            wrong.append(f"{name}: table {sorted(entry.roles)} view {sorted(map(str, declared))}")
    assert not wrong, wrong


# ------------------------------------------------------------------ the crawl


@pytest.fixture
def world(db):
    w = build_world()
    assert not tenancy.cross_tenant_references(), tenancy.cross_tenant_references()
    return w


def _actor(world, role):
    a1 = world["A1"]
    return {"admin": world.admin, "distributor": a1.distributor, "installer": a1.installer,
            "resident": a1.resident_account, "anonymous": None}[role]


def _client(world, role) -> Client:
    client = Client()
    account = _actor(world, role)
    if account is not None:
        client.force_login(account)
    return client


def _foreign_texts(world, role) -> list[str]:
    return [text for key in FOREIGN[role] for text in world[key].texts()]


def _payload(t) -> dict:
    """A form or JSON body pointing at tenant ``t``'s objects under every name a form might use."""
    return {
        "name": "Intruder", "title": "Intruder", "body": "Intruder", "subject": "Intruder", "location": "Intruder",
        "resident": t.resident.pk, "owner": t.resident.pk, "owner_id": t.resident.pk, "resident_id": t.resident.pk,
        "resident_ids": [t.resident.pk], "residents": [t.resident.pk], "receivers": [t.resident.pk],
        "users": [t.resident.pk], "ids": [t.resident.pk, t.device.pk], "selected": [t.device.pk],
        "device": t.device.pk, "device_id": t.device.pk, "device_ids": [t.device.pk], "devices": [t.device.pk],
        "link_device": t.device.pk, "camera": t.camera.pk, "member": t.member.pk, "strategy": t.strategy.pk,
        "message": t.message.pk, "ticket": t.ticket.pk, "order": t.order.number, "number": t.order.number,
        "code": t.coupon.code, "coupon": t.coupon.pk, "coupon_id": t.coupon.pk, "mac": t.free_mac.mac,
        "macs": [t.free_mac.mac], "installer": t.installer.pk, "installer_id": t.installer.pk,
        "distributor": t.distributor.pk, "pk": t.device.pk, "order_type": "activation", "months": 1,
        "receiver_type": "both", "model": "R29", "device_model": "R29", "firmware": "29.30.9.901",
        "mode": "once", "commands": "Config.Settings.DATETIME.TimeFormat = 1",
    }


def _query(t) -> dict:
    return {"resident": t.resident.pk, "owner": t.resident.pk, "installer": t.installer.pk,
            "device": t.device.pk, "user": t.resident.pk, "q": "Resident", "search": "Resident"}


def _body(response) -> str:
    if getattr(response, "streaming", False):
        return ""
    if response.get("Content-Type", "").startswith(("application/pdf", "application/vnd.openxml")):
        return ""
    return response.content.decode("utf-8", errors="replace")


def _request(client, method, url, t, *, json_body=False, headers=None):
    headers = headers or {}
    if method == "GET":
        return client.get(url, _query(t), headers=headers)
    if json_body:
        return getattr(client, method.lower())(url, data=json.dumps(_payload(t)), content_type="application/json",
                                               headers=headers)
    return getattr(client, method.lower())(url, _payload(t), headers=headers)


class Findings(list):
    def check(self, ok: bool, message: str) -> None:
        if not ok:
            self.append(message)


def _sent(t) -> set[str]:
    """What the request itself carried: an answer may repeat it ("0C11… belongs to another MAC Library")."""
    values = set()
    for value in (*_payload(t).values(), *_query(t).values()):
        values.update(str(v) for v in (value if isinstance(value, list) else [value]))
    return values


def _leaks(body: str, texts: list[str], t=None) -> list[str]:
    sent = _sent(t) if t is not None else set()
    return [text for text in texts if text in body and text not in sent]


def _check_answer(findings, what, response, role, texts, t) -> None:
    """Never a server error; never another tenant's data (the platform admin sees every tenant)."""
    findings.check(response.status_code < 500, f"{what}: {response.status_code}")
    if role != "admin":
        leaked = _leaks(_body(response), texts, t)
        findings.check(not leaked, f"{what}: shows another tenant's {leaked}")


def _check_unchanged(findings, label, before, installers, accounts) -> None:
    changed = tenancy.diff(before, tenancy.snapshot(installers=installers, accounts=accounts))
    findings.check(not changed, f"{label}: its requests changed another tenant's data: {changed[:3]}")


def _expect_denied(findings, role, response, what):
    if role == "anonymous":
        findings.check(response.status_code == 302 and response["Location"].startswith("/login/"),
                       f"{what}: anonymous got {response.status_code}, not the login page")
    else:
        findings.check(response.status_code == 403, f"{what}: {role} got {response.status_code}, not 403")


def _guarded_scope(world):
    """Everything none of the actors owns: A2, B1, B2 and distributor B, with their accounts."""
    installers = [world[k].installer.pk for k in ("A2", "B1", "B2")]
    return installers, tenancy.tenant_accounts(installers, [world.distributors["B"].pk])


@pytest.mark.django_db
def test_portal_routes_never_show_or_change_another_tenants_data(world):
    findings = Findings()
    installers, accounts = _guarded_scope(world)
    for name, entry in sorted(ROUTES.items()):
        if entry.kind == "device" or name.startswith("api:"):
            continue
        before = tenancy.snapshot(installers=installers, accounts=accounts)
        for role in ROLES:
            texts = _foreign_texts(world, role)
            for key in TARGETS[role]:
                t = world[key]
                url = reverse(name, kwargs=entry.kwargs(t, world) if entry.kwargs else None)
                allowed = role in entry.roles
                for method in entry.methods:
                    if role == "admin" and (allowed or entry.kind == "public") and method != "GET":
                        continue  # the platform admin may change every tenant's data
                    response = _request(_client(world, role), method, url, t)
                    what = f"{method} {url} ({name}) as {role} against {key}"
                    _check_answer(findings, what, response, role, texts, t)
                    if entry.kind in {"page", "object"} and not allowed:
                        _expect_denied(findings, role, response, what)
                    elif entry.kind == "object" and role != "admin":
                        findings.check(response.status_code == 404, f"{what}: {response.status_code}, not 404")
        _check_unchanged(findings, name, before, installers, accounts)
    assert not tenancy.cross_tenant_references(), tenancy.cross_tenant_references()
    assert not findings, f"{len(findings)} isolation failures:\n" + "\n".join(findings)


@pytest.mark.django_db
def test_device_routes_serve_a_device_only_its_own_data(world):
    """/autop and /device with A1's device and AutoP credentials, sessions and no credentials."""
    findings = Findings()
    a1 = world["A1"]
    callers = {"device": {"HTTP_AUTHORIZATION": a1.device_auth()},
               "autop": {"HTTP_AUTHORIZATION": a1.autop_auth()}}
    for name, entry in sorted(ROUTES.items()):
        if entry.kind != "device":
            continue
        for caller in ("device", "autop", *ROLES):
            role = caller if caller in ROLES else "installer"
            texts = _foreign_texts(world, "installer")
            installers, accounts = _guarded_scope(world)
            for key in TARGETS["installer"]:
                t = world[key]
                url = reverse(name, kwargs=entry.kwargs(t, world) if entry.kwargs else None)
                client = _client(world, role) if caller in ROLES else Client()
                extra = callers.get(caller, {})
                before = tenancy.snapshot(installers=installers, accounts=accounts)
                method = entry.methods[0]
                if method == "GET":
                    response = client.get(url, **extra)
                else:
                    response = client.post(url, data=json.dumps({"status": "success", "detail": "x"}),
                                           content_type="application/json", **extra)
                what = f"{method} {url} ({name}) as {caller} against {key}"
                if caller in ROLES:
                    findings.check(response.status_code == 401, f"{what}: {response.status_code}, not 401")
                elif name == "deviceapi:checkin":
                    findings.check(response.status_code == 200 if caller == "device" else response.status_code == 401,
                                   f"{what}: {response.status_code}")
                elif name != "deviceapi:autop_file" and caller == "autop":
                    # AutoP credentials fetch configuration files only
                    findings.check(response.status_code == 401, f"{what}: {response.status_code}, not 401")
                else:
                    findings.check(response.status_code == 404, f"{what}: {response.status_code}, not 404")
                _check_answer(findings, what, response, "device", texts, t)
                _check_unchanged(findings, what, before, installers, accounts)
    assert not findings, f"{len(findings)} isolation failures:\n" + "\n".join(findings)


def _api_url(path: str, values: dict) -> str:
    for key, value in values.items():
        path = path.replace("{" + key + "}", str(value))
    return path


@pytest.mark.django_db
def test_api_operations_never_show_or_change_another_tenants_data(world):
    findings = Findings()
    a1 = world["A1"]
    callers = [(role, role, {}) for role in ROLES] + [
        ("installer token", "installer", {"Authorization": f"Bearer {a1.api_raw}"})]
    installers, accounts = _guarded_scope(world)
    for (method, path), entry in sorted(API.items()):
        before = tenancy.snapshot(installers=installers, accounts=accounts)
        for caller, role, headers in callers:
            texts = _foreign_texts(world, role)
            allowed = role in entry.roles
            for key in TARGETS[role]:
                t = world[key]
                if role == "admin" and allowed and method != "GET":
                    continue
                values = entry.kwargs(t, world) if entry.kwargs else {}
                url = _api_url(path, values)
                client = _client(world, role) if not headers else Client()
                response = _request(client, method, url, t, json_body=True, headers=headers)
                what = f"{method} {url} as {caller} against {key}"
                _check_answer(findings, what, response, role, texts, t)
                if not allowed:
                    findings.check(response.status_code in (401, 403), f"{what}: {response.status_code}, not 401")
                elif entry.kind == "object" and role != "admin":
                    if method in ("GET", "DELETE"):
                        findings.check(response.status_code == 404, f"{what}: {response.status_code}, not 404")
                    else:
                        # A body is checked before the object is looked up: the answer must then be the
                        # same as for an id that does not exist, so it tells nothing of the object.
                        missing = _api_url(path, {k: (MISSING_ID if isinstance(v, int) else "0C11FFFFFFFF")
                                                  for k, v in values.items()})
                        control = _request(_client(world, role) if not headers else Client(), method, missing, t,
                                           json_body=True, headers=headers)
                        findings.check(response.status_code in (404, 422)
                                       and response.status_code == control.status_code,
                                       f"{what}: {response.status_code}, a missing id gets {control.status_code}")
        _check_unchanged(findings, f"{method} {path}", before, installers, accounts)
    assert not tenancy.cross_tenant_references(), tenancy.cross_tenant_references()
    assert not findings, f"{len(findings)} isolation failures:\n" + "\n".join(findings)
