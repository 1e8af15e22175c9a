"""Each role reaches only its own pages: one table over every portal URL and every role."""
from __future__ import annotations

import pytest
from django.urls import reverse

from entryway.core.models import AuditLog

ALL = ("admin", "distributor", "installer", "resident")
STAFF = ("admin", "distributor", "installer")

# url name, kwargs factory (from the fixtures), roles that may open it
PAGES = [
    ("portals:admin_home", None, ("admin",)),
    ("portals:admin_distributors", None, ("admin",)),
    ("portals:admin_distributor_create", None, ("admin",)),
    ("portals:admin_device_models", None, ("admin",)),
    ("portals:admin_device_model_create", None, ("admin",)),
    ("portals:admin_device_model_edit", lambda f: {"pk": f["device_model"].pk}, ("admin",)),
    ("portals:admin_audit", None, ("admin",)),
    ("portals:distributor_home", None, ("distributor",)),
    ("portals:distributor_installer_create", None, ("distributor",)),
    ("portals:distributor_installer", lambda f: {"pk": f["installer"].pk}, ("distributor",)),
    ("portals:distributor_access", None, ("distributor",)),
    ("portals:customer_service", None, ("installer", "distributor")),
    ("portals:account_settings", None, ALL),
    ("portals:password_change", None, ALL),
    ("portals:two_factor", None, STAFF),
    ("portals:access_log", None, ("installer",)),
    ("portals:resident_home", None, ("resident",)),
    ("portals:help", None, STAFF),
    ("portals:help_manual", lambda f: {"slug": "index"}, STAFF),
    ("portals:help_download", lambda f: {"slug": "index"}, STAFF),
    ("portals:tickets", None, STAFF),
    ("portals:ticket_create", None, ("installer",)),
    ("portals:ticket_detail", lambda f: {"pk": f["ticket"].pk}, STAFF),
]

# POST-only actions: role allowed; others 403 (anonymous to the login page)
ACTIONS = [
    ("portals:admin_distributor_disable", lambda f: {"pk": f["distributor"].pk}, ("admin",)),
    ("portals:admin_distributor_enable", lambda f: {"pk": f["distributor"].pk}, ("admin",)),
    ("portals:distributor_installer_disable", lambda f: {"pk": f["installer"].pk}, ("distributor",)),
    ("portals:distributor_installer_enable", lambda f: {"pk": f["installer"].pk}, ("distributor",)),
    ("portals:distributor_installer_reset", lambda f: {"pk": f["installer"].pk}, ("distributor",)),
    ("portals:distributor_installer_login_as", lambda f: {"pk": f["installer"].pk}, ("distributor",)),
    ("portals:ticket_close", lambda f: {"pk": f["ticket"].pk}, STAFF),
]


@pytest.fixture
def objects(installer, distributor):
    from entryway.devices.models import DeviceModel
    from entryway.portals.services import ticket_create

    return {"installer": installer, "distributor": distributor,
            "device_model": DeviceModel.objects.order_by("pk").first(),
            "ticket": ticket_create(acting_user=installer, subject="Door R29 offline", body="Since this morning.")}


def _cases(table):
    for name, kwargs, roles in table:
        for role in ("anonymous", *ALL):
            yield pytest.param(name, kwargs, role, role in roles, id=f"{name}-{role}")


@pytest.mark.django_db
@pytest.mark.parametrize("name, kwargs, role, allowed", list(_cases(PAGES)))
def test_every_page_answers_only_its_roles(clients, objects, name, kwargs, role, allowed):
    url = reverse(name, kwargs=kwargs(objects) if kwargs else None)
    response = clients[role].get(url)
    if role == "anonymous":
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url
    elif allowed:
        assert response.status_code == 200, (url, role, response.status_code)
    else:
        assert response.status_code == 403, (url, role, response.status_code)


@pytest.mark.django_db
@pytest.mark.parametrize("name, kwargs, role, allowed", list(_cases(ACTIONS)))
def test_every_action_answers_only_its_roles(clients, objects, name, kwargs, role, allowed):
    url = reverse(name, kwargs=kwargs(objects) if kwargs else None)
    response = clients[role].post(url)
    if role == "anonymous":
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url
    elif allowed:
        assert response.status_code == 302, (url, role, response.status_code)
        assert not response["Location"].startswith("/login/")
    else:
        assert response.status_code == 403, (url, role, response.status_code)


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["portals:distributor_installer", "portals:distributor_installer_login_as",
                                  "portals:distributor_installer_disable", "portals:distributor_installer_reset"])
def test_another_distributors_installer_is_a_404_and_audited(client_for, other_distributor, installer, name):
    client = client_for(other_distributor)
    url = reverse(name, kwargs={"pk": installer.pk})
    response = client.post(url) if not name.endswith("_installer") else client.get(url)
    assert response.status_code == 404
    row = AuditLog.objects.get(action="access.refused")
    assert row.actor == other_distributor and row.object_id == str(installer.pk)
    installer.refresh_from_db()
    assert installer.is_active and installer.has_usable_password()


@pytest.mark.django_db
def test_other_installers_ticket_is_a_404_and_audited(client_for, other_installer, installer, other_distributor):
    from entryway.portals.services import ticket_create

    ticket = ticket_create(acting_user=installer, subject="Help", body="Please")
    for account in (other_installer, other_distributor):
        response = client_for(account).get(reverse("portals:ticket_detail", args=[ticket.pk]))
        assert response.status_code == 404
    assert AuditLog.objects.filter(action="access.refused", object_id=str(ticket.pk)).count() == 2


@pytest.mark.django_db
def test_back_to_my_portal_without_a_switch_goes_home(clients):
    assert clients["installer"].post(reverse("portals:impersonate_stop"))["Location"] == reverse("web:home")
    assert clients["anonymous"].post(reverse("portals:impersonate_stop"))["Location"].startswith("/login/")
    assert clients["anonymous"].get(reverse("portals:two_factor_login"))["Location"].startswith("/login/")
    # without two-factor login on, the second step sends the account on
    assert clients["installer"].get(reverse("portals:two_factor_login"))["Location"] == reverse("web:home")


@pytest.mark.django_db
def test_home_sends_each_role_to_its_portal(clients):
    expected = {"admin": "/admin-portal/", "distributor": "/distributor/", "resident": "/resident/"}
    for role, path in expected.items():
        assert clients[role].get("/")["Location"] == path


@pytest.mark.django_db
def test_sidebars_and_account_menu(clients):
    page = clients["distributor"].get(reverse("portals:distributor_home")).content.decode()
    assert 'class="nav-installers active"' in page and reverse("portals:customer_service") in page
    page = clients["admin"].get(reverse("portals:admin_home")).content.decode()
    assert "nav-distributors" in page and "nav-audit" in page and reverse("portals:customer_service") not in page
    page = clients["resident"].get(reverse("portals:resident_home")).content.decode()
    assert "nav-home" in page and reverse("portals:two_factor") not in page
    page = clients["installer"].get(reverse("portals:access_log")).content.decode()
    for name in ("customer_service", "account_settings", "password_change", "two_factor", "tickets", "help"):
        assert reverse(f"portals:{name}") in page
