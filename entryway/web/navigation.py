"""The sidebar of each portal. The installer's nine modules are the guide's, in its order."""
from __future__ import annotations

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

INSTALLER_MODULES = [
    ("dashboard", _("Dashboard"), "dashboard:home"),
    ("user", _("User"), "residents:list"),
    ("device", _("Device"), "devices:list"),
    ("firmware", _("Firmware"), "firmware:list"),
    ("update", _("Update"), "firmware:strategy_list"),
    ("message", _("Message"), "messaging:list"),
    ("mac_library", _("MAC Library"), "devices:mac_list"),
    ("setting", _("Setting"), "billing:settings"),
    ("subscription", _("Subscription"), "billing:subscription"),
    ("payments", _("Payments"), "billing:payments"),
]

# Other portals register their sidebars here (key, label, url name).
PORTAL_MODULES: dict[str, list[tuple[str, object, str]]] = {"installer": INSTALLER_MODULES}


def register_portal(role: str, modules: list[tuple[str, object, str]]) -> None:
    PORTAL_MODULES[role] = modules


def sidebar_for(user, current_path: str) -> list[dict]:
    items = []
    for key, label, url_name in PORTAL_MODULES.get(getattr(user, "role", ""), []):
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue
        items.append({"key": key, "label": label, "url": url, "active": current_path.startswith(url)})
    # the longest matching URL wins, so /users/ does not light up for /users-x/
    active = [i for i in items if i["active"]]
    if len(active) > 1:
        best = max(active, key=lambda i: len(i["url"]))
        for i in items:
            i["active"] = i is best
    return items
