"""What the isolation crawler knows about every URL pattern and every API operation.

Each portal route has an entry: its kind, the roles that may use it, the methods it answers, and
how to fill its URL with *another tenant's* objects. A route missing here fails the crawler.

Kinds:
- ``object``: the URL names one tenant object; a role that may use the route gets 404 for another
  tenant's object, on GET and on its write method.
- ``page``: a page of the caller's own scope (lists, forms to create); it answers, but never shows
  or changes another tenant's data even when the form is posted with another tenant's ids.
- ``public``: for everyone (login, health, password reset); same checks as ``page``.
- ``device``: the device protocol, with device or AutoP credentials instead of a session.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

ADMIN, DIST, INST, RES = "admin", "distributor", "installer", "resident"
STAFF = (ADMIN, DIST, INST)
ALL = (ADMIN, DIST, INST, RES)


@dataclass(frozen=True)
class Route:
    kind: str
    roles: tuple[str, ...]
    methods: tuple[str, ...] = ("GET",)
    kwargs: Callable | None = None  # (target tenant, world) -> URL kwargs


def R(kind, roles, methods="GET", kwargs=None) -> Route:
    if isinstance(roles, str):
        roles = (roles,)
    return Route(kind, tuple(roles), tuple(methods.split()), kwargs)


GP = "GET POST"
P = "POST"

ROUTES: dict[str, Route] = {
    # web
    "web:home": R("page", ALL),
    "web:healthz": R("public", ()),
    "web:readyz": R("public", ()),
    "web:metrics": R("public", ()),
    # accounts
    "accounts:login": R("public", (), GP),
    "accounts:logout": R("public", (), P),
    "accounts:password_reset": R("public", (), GP),
    "accounts:password_reset_done": R("public", ()),
    "accounts:password_reset_confirm": R("public", (), GP, lambda t, w: {
        "uidb64": urlsafe_base64_encode(force_bytes(t.installer.pk)), "token": "set-password"}),
    "accounts:password_reset_complete": R("public", ()),
    "accounts:api_tokens": R("page", INST, GP),
    "accounts:api_token_revoke": R("object", INST, P, lambda t, w: {"pk": t.api_token.pk}),
    # residents (User module)
    "residents:list": R("page", INST, GP),
    "residents:create": R("page", INST, GP),
    "residents:edit": R("object", INST, GP, lambda t, w: {"pk": t.resident.pk}),
    "residents:delete": R("object", INST, P, lambda t, w: {"pk": t.resident.pk}),
    "residents:reset_password": R("object", INST, P, lambda t, w: {"pk": t.resident.pk}),
    "residents:family_list": R("object", INST, GP, lambda t, w: {"pk": t.resident.pk}),
    "residents:family_create": R("object", INST, GP, lambda t, w: {"pk": t.resident.pk}),
    "residents:family_edit": R("object", INST, GP, lambda t, w: {"pk": t.resident.pk, "member_pk": t.member.pk}),
    "residents:family_delete": R("object", INST, P, lambda t, w: {"pk": t.resident.pk, "member_pk": t.member.pk}),
    # devices
    "devices:list": R("page", INST, GP),
    "devices:camera_list": R("page", INST, GP),
    "devices:device_edit": R("object", INST, GP, lambda t, w: {"pk": t.device.pk}),
    "devices:device_delete": R("object", INST, P, lambda t, w: {"pk": t.device.pk}),
    "devices:camera_edit": R("object", INST, GP, lambda t, w: {"pk": t.camera.pk}),
    "devices:camera_delete": R("object", INST, P, lambda t, w: {"pk": t.camera.pk}),
    "devices:resident_devices": R("object", INST, "GET", lambda t, w: {"resident_pk": t.resident.pk}),
    "devices:device_create": R("object", INST, GP, lambda t, w: {"resident_pk": t.resident.pk}),
    "devices:resident_cameras": R("object", INST, "GET", lambda t, w: {"resident_pk": t.resident.pk}),
    "devices:camera_create": R("object", INST, GP, lambda t, w: {"resident_pk": t.resident.pk}),
    "devices:mac_list": R("page", INST, GP),
    "devices:mac_create": R("page", (INST, DIST), GP),
    "devices:mac_import": R("page", (INST, DIST), GP),
    "devices:mac_template": R("page", (INST, DIST)),
    "devices:import_detail": R("object", (INST, DIST), "GET", lambda t, w: {"pk": t.mac_import.pk}),
    "devices:import_progress": R("object", (INST, DIST), "GET", lambda t, w: {"pk": t.mac_import.pk}),
    "devices:mac_remove": R("object", (INST, DIST), P, lambda t, w: {"pk": t.free_mac.pk}),
    "devices:distributor_macs": R("page", DIST, GP),
    "devices:distributor_mac_create": R("page", (INST, DIST), GP),
    "devices:distributor_mac_import": R("page", (INST, DIST), GP),
    "devices:distributor_mac_assign": R("page", DIST, GP),
    # firmware and updates (the firmware catalog is the platform's, not a tenant's)
    "firmware:list": R("page", INST),
    "firmware:detail": R("page", STAFF, "GET", lambda t, w: {"pk": w.firmware.pk}),
    "firmware:file": R("public", (), "GET", lambda t, w: {"token": "not-a-token", "filename": "x.rom"}),
    "firmware:strategy_list": R("page", INST),
    "firmware:strategy_create": R("page", INST, GP),
    "firmware:strategy_choices": R("page", INST),
    "firmware:strategy_detail": R("object", INST, "GET", lambda t, w: {"pk": t.strategy.pk}),
    "firmware:strategy_progress": R("object", INST, "GET", lambda t, w: {"pk": t.strategy.pk}),
    "firmware:strategy_edit": R("object", INST, GP, lambda t, w: {"pk": t.strategy.pk}),
    "firmware:strategy_delete": R("object", INST, P, lambda t, w: {"pk": t.strategy.pk}),
    "firmware:strategy_pause": R("object", INST, P, lambda t, w: {"pk": t.strategy.pk}),
    "firmware:strategy_resume": R("object", INST, P, lambda t, w: {"pk": t.strategy.pk}),
    "firmware:strategy_cancel": R("object", INST, P, lambda t, w: {"pk": t.strategy.pk}),
    "firmware:strategy_retry": R("object", INST, P, lambda t, w: {"pk": t.strategy.pk}),
    "firmware:admin_list": R("page", ADMIN),
    "firmware:admin_upload": R("page", ADMIN, GP),
    "firmware:admin_delete": R("page", ADMIN, P, lambda t, w: {"pk": w.firmware.pk}),
    # messages
    "messaging:list": R("page", INST, GP),
    "messaging:create": R("page", INST, GP),
    "messaging:receivers": R("page", INST),
    "messaging:detail": R("object", INST, "GET", lambda t, w: {"pk": t.message.pk}),
    "messaging:delete": R("object", INST, P, lambda t, w: {"pk": t.message.pk}),
    "messaging:inbox": R("page", RES),
    "messaging:inbox_detail": R("object", RES, "GET", lambda t, w: {"pk": t.inbox_item.pk}),
    # billing
    "billing:settings": R("page", INST, GP),
    "billing:subscription": R("page", INST, GP),
    "billing:coupon_exchange": R("page", INST, P),
    "billing:payment_information": R("object", (INST, RES), GP, lambda t, w: {"number": t.order.number}),
    "billing:confirmation": R("object", (INST, RES), GP, lambda t, w: {"number": t.order.number}),
    "billing:order_cancel": R("object", (INST, RES), P, lambda t, w: {"number": t.order.number}),
    "billing:purchase_details": R("page", INST, GP, lambda t, w: {"kind": "activation"}),
    "billing:payments": R("page", INST, GP),
    "billing:payment_detail": R("object", ALL, "GET", lambda t, w: {"number": t.order.number}),
    "billing:invoice": R("object", ALL, "GET", lambda t, w: {"number": t.order.number}),
    "billing:payment_delete": R("object", INST, P, lambda t, w: {"number": t.order.number}),
    "billing:test_checkout": R("object", (INST, RES), GP, lambda t, w: {"number": t.order.number}),
    "billing:bank_transfer": R("object", (INST, RES), GP, lambda t, w: {"number": t.order.number}),
    "billing:webhook": R("public", (), P, lambda t, w: {"provider": "stripe"}),
    "billing:admin_prices": R("page", ADMIN, GP),
    "billing:admin_distributor_prices": R("object", ADMIN, GP, lambda t, w: {"pk": t.distributor.pk}),
    "billing:admin_coupons": R("page", ADMIN, GP),
    "billing:admin_bank_transfers": R("page", ADMIN, GP),
    "billing:distributor_prices": R("page", DIST, GP),
    "billing:distributor_coupons": R("page", DIST, GP),
    "billing:resident_billing": R("page", RES, GP),
    # portals
    "portals:admin_home": R("page", ADMIN),
    "portals:admin_distributors": R("page", ADMIN),
    "portals:admin_distributor_create": R("page", ADMIN, GP),
    "portals:admin_distributor_disable": R("object", ADMIN, P, lambda t, w: {"pk": t.distributor.pk}),
    "portals:admin_distributor_enable": R("object", ADMIN, P, lambda t, w: {"pk": t.distributor.pk}),
    "portals:admin_device_models": R("page", ADMIN),
    "portals:admin_device_model_create": R("page", ADMIN, GP),
    "portals:admin_device_model_edit": R("page", ADMIN, GP, lambda t, w: {"pk": t.device.device_model_id}),
    "portals:admin_audit": R("page", ADMIN),
    "portals:distributor_home": R("page", DIST),
    "portals:distributor_installer_create": R("page", DIST, GP),
    "portals:distributor_installer": R("object", DIST, "GET", lambda t, w: {"pk": t.installer.pk}),
    "portals:distributor_installer_disable": R("object", DIST, P, lambda t, w: {"pk": t.installer.pk}),
    "portals:distributor_installer_enable": R("object", DIST, P, lambda t, w: {"pk": t.installer.pk}),
    "portals:distributor_installer_reset": R("object", DIST, P, lambda t, w: {"pk": t.installer.pk}),
    "portals:distributor_installer_login_as": R("object", DIST, P, lambda t, w: {"pk": t.installer.pk}),
    "portals:distributor_access": R("page", DIST, GP),
    "portals:customer_service": R("page", (INST, DIST), GP),
    "portals:account_settings": R("page", ALL, GP),
    "portals:password_change": R("page", ALL, GP),
    "portals:password_change_done": R("page", ALL),
    "portals:two_factor": R("page", STAFF, GP),
    "portals:access_log": R("page", INST),
    "portals:impersonate_stop": R("public", (), P),
    "portals:two_factor_login": R("public", (), GP),
    "portals:resident_home": R("page", RES),
    "portals:help": R("page", STAFF),
    "portals:help_manual": R("page", STAFF, "GET", lambda t, w: {"slug": "index"}),
    "portals:help_download": R("page", STAFF, "GET", lambda t, w: {"slug": "index"}),
    "portals:help_image": R("page", STAFF, "GET", lambda t, w: {"name": "dashboard"}),
    "portals:tickets": R("page", STAFF),
    "portals:ticket_create": R("page", INST, GP),
    "portals:ticket_detail": R("object", STAFF, GP, lambda t, w: {"pk": t.ticket.pk}),
    "portals:ticket_close": R("object", STAFF, P, lambda t, w: {"pk": t.ticket.pk}),
    # device protocol (device or AutoP credentials) and the portal's remote maintenance
    "deviceapi:autop_file": R("device", (), "GET", lambda t, w: {"mac": t.device.mac}),
    "deviceapi:checkin": R("device", (), P),
    "deviceapi:action_result": R("device", (), P, lambda t, w: {"action_id": t.action.pk}),
    "deviceapi:autop_credentials": R("page", INST),
    "deviceapi:autop_credentials_rotate": R("page", INST, P),
    "deviceapi:batch_autop": R("page", INST, GP),
    "deviceapi:device_info": R("object", STAFF, GP, lambda t, w: {"pk": t.device.pk}),
    "deviceapi:device_actions": R("object", STAFF, "GET", lambda t, w: {"pk": t.device.pk}),
    "deviceapi:device_reboot": R("object", STAFF, P, lambda t, w: {"pk": t.device.pk}),
    "deviceapi:device_once_autop": R("object", STAFF, P, lambda t, w: {"pk": t.device.pk}),
    # SIP (platform-wide trunks: the admin's)
    "sip:admin": R("page", ADMIN, GP),
    "sip:admin_trunk_edit": R("page", ADMIN, GP, lambda t, w: {"pk": 999999}),
    "sip:admin_trunk_delete": R("page", ADMIN, P, lambda t, w: {"pk": 999999}),
    # dashboard
    "dashboard:home": R("page", INST),
    "dashboard:alerts": R("page", INST, GP),
    "dashboard:export": R("page", INST, "GET", lambda t, w: {"key": "users", "fmt": "csv"}),
    "dashboard:job_detail": R("object", STAFF, "GET", lambda t, w: {"pk": t.job.pk}),
    "dashboard:job_progress": R("object", STAFF, "GET", lambda t, w: {"pk": t.job.pk}),
    "dashboard:job_download": R("object", STAFF, "GET", lambda t, w: {"pk": t.job.pk}),
    # Remote Control: the session pages, the relay to the device's web interface, the device's tunnel
    "remote:open": R("object", INST, P, lambda t, w: {"pk": t.device.pk}),
    "remote:session_list": R("page", (INST, DIST)),
    "remote:session_detail": R("object", (INST, DIST), "GET", lambda t, w: {"token": t.remote.token}),
    "remote:session_status": R("object", (INST, DIST), "GET", lambda t, w: {"token": t.remote.token}),
    "remote:session_close": R("object", (INST, DIST), P, lambda t, w: {"token": t.remote.token}),
    "remote:relay": R("object", (INST, DIST), GP, lambda t, w: {"token": t.remote.token, "path": "index.html"}),
    "remote_device:tunnel_next": R("device", (), "GET", lambda t, w: {"token": t.remote.token}),
    "remote_device:tunnel_reply": R("device", (), P, lambda t, w: {"token": t.remote.token, "request_id": "1"}),
    # API documents; the operations themselves are crawled from the OpenAPI spec (API below)
    "api:openapi-json": R("public", ()),
    "api:openapi-view": R("public", ()),
    "api:api-root": R("public", ()),
    "set_language": R("public", (), P),
    "javascript-catalog": R("public", ()),
}

# Every operation of /api/openapi.json: (method, path) -> roles that may call it, and how to name
# another tenant's object in its path.
API: dict[tuple[str, str], Route] = {}


def _api(method: str, path: str, roles, kwargs=None) -> None:
    kind = "object" if "{" in path else "page"
    API[(method, "/api/v1" + path)] = R(kind, roles, method, kwargs)


_res = lambda t, w: {"resident_id": t.resident.pk}
_mem = lambda t, w: {"member_id": t.member.pk}
_dev = lambda t, w: {"device_id": t.device.pk}
_cam = lambda t, w: {"camera_id": t.camera.pk}
_str = lambda t, w: {"strategy_id": t.strategy.pk}
_msg = lambda t, w: {"message_id": t.message.pk}
_ord = lambda t, w: {"order_id": t.order.pk}

for _m in ("GET", "POST"):
    _api(_m, "/residents", INST)
for _m in ("GET", "PUT", "PATCH", "DELETE"):
    _api(_m, "/residents/{resident_id}", INST, _res)
    _api(_m, "/family-members/{member_id}", INST, _mem)
    _api(_m, "/devices/{device_id}", INST, _dev)
    _api(_m, "/cameras/{camera_id}", INST, _cam)
for _m in ("GET", "POST"):
    _api(_m, "/residents/{resident_id}/family-members", INST, _res)
    _api(_m, "/mac-library", INST)
    _api(_m, "/devices", INST)
    _api(_m, "/cameras", INST)
    _api(_m, "/update-strategies", INST)
    _api(_m, "/messages", INST)
    _api(_m, "/orders", INST)
    _api(_m, "/coupons", INST)
_api("POST", "/mac-library/import", INST)
_api("DELETE", "/mac-library/{mac}", INST, lambda t, w: {"mac": t.free_mac.mac})
_api("GET", "/devices/{device_id}/actions", STAFF, _dev)
_api("POST", "/devices/{device_id}/reboot", INST, _dev)
_api("POST", "/devices/{device_id}/once-autop", INST, _dev)
_api("PUT", "/devices/{device_id}/settings", INST, _dev)
_api("POST", "/autop/batch", INST)
_api("GET", "/firmware", STAFF)
for _m in ("GET", "PATCH", "DELETE"):
    _api(_m, "/update-strategies/{strategy_id}", INST, _str)
for _verb in ("pause", "resume", "cancel", "retry"):
    _api("POST", f"/update-strategies/{{strategy_id}}/{_verb}", INST, _str)
for _m in ("GET", "DELETE"):
    _api(_m, "/messages/{message_id}", INST, _msg)
    _api(_m, "/orders/{order_id}", INST, _ord)
_api("GET", "/me/messages", RES)
_api("GET", "/me/messages/{message_id}", RES, _msg)
_api("POST", "/me/messages/{message_id}/read", RES, _msg)
_api("GET", "/orders/{order_id}/invoice.pdf", INST, _ord)
