"""The User module in a real browser: add a user, activate, add a family member, search, edit, delete."""
from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from entryway.residents.models import FamilyMember, Resident
from entryway.residents.services import family_member_create, resident_activate
from entryway.testing.browser import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def neighbours(installer, make_resident, activate):
    """A few users around the new one, as on a real installer's list."""
    ryan = activate(make_resident(installer, name="Ryan Chen", room_name="Ryan's house", email="ryan@example.com",
                                  country="SG", mobile_number="81234567", premium_plan=True, landline_service=True,
                                  landline_1="+6561234567"), days=200)
    family_member_create(acting_user=installer, resident=ryan, name="Lily Chen")
    make_resident(installer, name="Jan Kowalski", room_name="Dom 12", country="PL", mobile_number="512345678",
                  address="ul. Długa 5, Gdańsk", language="pl")
    activate(make_resident(installer, name="Hanako Yamada", email="hanako@example.jp", language="ja",
                           home_automation=True), days=-3)
    installer.smart_home_url = "https://home.example.com/"
    installer.save()


def test_add_user_with_family_member_search_edit_delete(login_page, live_server, installer, neighbours):
    page = login_page(installer)
    page.goto(f"{live_server.url}/users/")
    assert page.locator("header").get_by_text("Role: Single-tenant Manager").is_visible()
    page.get_by_role("link", name="New").click()

    # Add User
    page.get_by_role("textbox", name="Name", exact=True).fill("Marie Dubois")
    page.get_by_label("Room Name").fill("Villa Les Pins")
    page.get_by_label("Email").fill("marie.dubois@example.fr")
    page.get_by_label("Country / Region").select_option("FR")
    page.get_by_label("Mobile Number").fill("06 12 34 56 78")
    page.get_by_label("Address").fill("12 avenue des Pins, Nice")
    page.get_by_label("All my devices were installed in the same place (villa or house)").check()
    page.locator("#id_time_zone").select_option("Europe/Paris")
    page.locator("#id_language").select_option("fr")
    premium_on = page.locator("#id_premium_plan_0")
    premium_on.check()
    page.locator("#id_landline_service_0").check()
    page.get_by_label("1st Landline").fill("+33 4 93 00 00 00")
    # Home AutoMation dims Premium Plan and turns it off; Off gives it back
    page.locator("#id_home_automation_0").check()
    assert premium_on.is_disabled() and not premium_on.is_checked()
    assert "dimmed" in page.locator(".field-premium_plan").get_attribute("class")
    page.locator("#id_home_automation_1").check()
    assert premium_on.is_enabled()
    premium_on.check()
    screenshot(page, "user-new")
    page.get_by_role("button", name="Submit").click()

    page.wait_for_selector("text=User “Marie Dubois” added.")
    marie = Resident.objects.get(name="Marie Dubois")
    assert marie.mobile_number == "+33612345678" and marie.time_zone == "Europe/Paris"
    assert marie.call_type == "ip" and marie.premium_plan and marie.landline_service
    row = page.locator("table.users-table tbody tr", has_text="Marie Dubois")
    assert "Inactivated" in row.inner_text() and marie.family_sip in row.inner_text()

    # Only an activated user can have family members: billing activates Marie.
    resident_activate(resident=marie, until=timezone.now() + datetime.timedelta(days=365), acting_user=installer)
    page.reload()
    page.get_by_role("link", name="Family members Marie Dubois").click()
    page.wait_for_selector("h1:has-text('Family members of Marie Dubois')")
    page.get_by_role("link", name="New").click()
    page.get_by_role("textbox", name="Name", exact=True).fill("Paul Dubois")
    page.get_by_label("Email").fill("paul.dubois@example.fr")
    page.get_by_label("Country / Region").select_option("FR")
    page.get_by_label("Mobile Number").fill("06 12 34 56 79")
    page.get_by_role("button", name="Submit").click()
    page.wait_for_selector("text=Family member “Paul Dubois” added.")
    assert "Paul Dubois" in page.locator("table.family-table").inner_text()
    assert FamilyMember.objects.get(name="Paul Dubois").resident_id == marie.pk
    screenshot(page, "user-family")

    # Search
    page.get_by_role("link", name="User", exact=True).first.click()
    page.get_by_label("Search", exact=True).fill(marie.family_sip)
    page.get_by_role("button", name="Search").click()
    rows = page.locator("table.users-table tbody tr")
    assert rows.count() == 1 and "Marie Dubois" in rows.first.inner_text()
    assert "1" in rows.first.locator("td.num").inner_text() and "Normal" in rows.first.inner_text()
    assert "1 In All" in page.locator(".pagination").inner_text()

    # Edit
    page.get_by_role("link", name="Edit Marie Dubois").click()
    assert marie.family_sip in page.locator(".uid-line").inner_text()
    assert page.get_by_role("button", name="Reset Password").is_visible()
    screenshot(page, "user-edit")
    page.get_by_label("Room Name").fill("Villa Les Pins (haut)")
    page.get_by_role("button", name="Submit").click()
    page.wait_for_selector("text=User “Marie Dubois” saved.")
    marie.refresh_from_db()
    assert marie.room_name == "Villa Les Pins (haut)"

    page.get_by_label("Search", exact=True).fill("")
    page.get_by_role("button", name="Search").click()
    assert "4 In All" in page.locator(".pagination").inner_text()
    page.set_viewport_size({"width": 1536, "height": 864})
    path = screenshot(page, "user-list")
    assert path.exists()

    # Delete, after a confirmation page stating the consequences
    page.get_by_role("link", name="Delete Marie Dubois").click()
    body = page.locator("main").inner_text()
    screenshot(page, "user-delete")
    assert "family members (1)" in body and "MAC Library" in body
    page.get_by_role("button", name="Delete").click()
    page.wait_for_selector("text=User “Marie Dubois” deleted.")
    assert "Marie Dubois" not in page.locator("table.users-table").inner_text()
    assert not Resident.objects.filter(pk=marie.pk).exists() and not FamilyMember.objects.filter(
        name="Paul Dubois").exists()
