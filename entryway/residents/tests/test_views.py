"""User module pages: roles, tenancy, list columns, New / Edit / Delete, Reset Password, family members."""
from __future__ import annotations

import datetime
import re

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from entryway.core.models import AuditLog
from entryway.residents.models import FamilyMember, Resident
from entryway.residents.services import resident_update

pytestmark = pytest.mark.django_db


def user_urls(resident, member):
    pk, mpk = resident.pk, member.pk
    return [
        ("get", reverse("residents:list")),
        ("get", reverse("residents:create")),
        ("get", reverse("residents:edit", args=[pk])),
        ("get", reverse("residents:delete", args=[pk])),
        ("post", reverse("residents:reset_password", args=[pk])),
        ("get", reverse("residents:family_list", args=[pk])),
        ("get", reverse("residents:family_create", args=[pk])),
        ("get", reverse("residents:family_edit", args=[pk, mpk])),
        ("get", reverse("residents:family_delete", args=[pk, mpk])),
    ]


def test_anonymous_is_sent_to_login(client, household):
    for method, url in user_urls(household["resident"], household["lily"]):
        response = getattr(client, method)(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url


@pytest.mark.parametrize("role", ["distributor", "resident", "admin"])
def test_other_roles_are_forbidden(client, household, distributor, admin_account, role):
    account = {"distributor": distributor, "resident": household["resident"].account, "admin": admin_account}[role]
    client.force_login(account)
    for method, url in user_urls(household["resident"], household["lily"]):
        assert getattr(client, method)(url).status_code == 403, url


def test_other_installer_gets_404_everywhere(other_installer_client, household):
    resident, lily = household["resident"], household["lily"]
    for method, url in user_urls(resident, lily)[2:]:
        assert getattr(other_installer_client, method)(url).status_code == 404, url
    for url in (reverse("residents:edit", args=[resident.pk]), reverse("residents:delete", args=[resident.pk]),
                reverse("residents:family_create", args=[resident.pk]),
                reverse("residents:family_edit", args=[resident.pk, lily.pk]),
                reverse("residents:family_delete", args=[resident.pk, lily.pk])):
        assert other_installer_client.post(url, {"name": "Hijack"}).status_code == 404, url
    resident.refresh_from_db()
    assert resident.name == "Ryan" and FamilyMember.objects.filter(pk=lily.pk, name="Lily").exists()
    page = other_installer_client.get(reverse("residents:list"))
    assert page.status_code == 200 and "Ryan" not in page.content.decode()


def test_owner_gets_every_page(installer_client, household):
    for method, url in user_urls(household["resident"], household["lily"]):
        if method == "get":
            assert installer_client.get(url).status_code == 200, url


def test_family_member_of_another_user_is_404(installer_client, installer, household, make_resident, activate):
    other = activate(make_resident(installer, name="Zoe"))
    lily = household["lily"]
    assert installer_client.get(reverse("residents:family_edit", args=[other.pk, lily.pk])).status_code == 404


def test_huge_and_unknown_ids_are_404(installer_client):
    assert installer_client.get(reverse("residents:edit", args=[999999])).status_code == 404
    assert installer_client.get("/users/99999999999999999999999/edit/").status_code == 404


def test_list_shows_the_guides_columns(installer_client, installer, household, django_assert_max_num_queries):
    with django_assert_max_num_queries(10):
        response = installer_client.get(reverse("residents:list"))
    html = response.content.decode()
    for column in ("Name", "SIP", "Room", "Email", "Mobile Number", "Address", "Family Member", "Active",
                   "Landline Status", "Created Time", "Landline Expiration Time", "Action"):
        assert re.search(rf'<th scope="col"(?: class="[\w -]+")?>{re.escape(column)}</th>', html), column
    ryan = household["resident"]
    assert f'Family:</span>{ryan.family_sip}' in html and f'Personal:</span>{ryan.personal_sip}' in html
    assert "Ryan&#x27;s house" in html and "+6581234567" in html
    assert '<td class="num col-secondary">1</td>' in html
    assert '<span class="badge badge-normal">Normal</span>' in html
    assert '<span class="badge badge-off">Off</span>' in html
    # Created Time in the installer's time zone (Asia/Singapore, UTC+8)
    local = timezone.localtime(ryan.created_at, datetime.timezone(datetime.timedelta(hours=8)))
    assert f'<span>{local:%Y-%m-%d}</span> <span>{local:%H:%M:%S}</span>' in html
    for name in ("resident_devices", "resident_cameras"):
        assert reverse(f"devices:{name}", args=[ryan.pk]) in html
    assert reverse("residents:family_list", args=[ryan.pk]) in html
    assert "1 In All" in html


def test_list_query_count_does_not_grow(installer_client, installer, make_resident, django_assert_max_num_queries):
    for i in range(3):
        make_resident(installer, name=f"Few {i}")
    with django_assert_max_num_queries(10) as few:
        installer_client.get(reverse("residents:list"))
    for i in range(40):
        make_resident(installer, name=f"Many {i}", home_automation=True)
    with django_assert_max_num_queries(10) as many:
        response = installer_client.get(reverse("residents:list") + "?per_page=50")
    assert len(many.captured_queries) == len(few.captured_queries)
    assert "43 In All" in response.content.decode()


def test_statuses_and_landline_expiry(installer_client, installer, make_resident, activate):
    make_resident(installer, name="Newcomer")
    expired = activate(make_resident(installer, name="Lapsed", premium_plan=True, landline_service=True,
                                     landline_1="+6561234567"), days=-1)
    html = installer_client.get(reverse("residents:list")).content.decode()
    assert '<span class="badge badge-inactivated">Inactivated</span>' in html
    assert '<span class="badge badge-expired">Expired</span>' in html
    assert timezone.localtime(expired.landline_expires_at).strftime("%Y-%m-%d") in html
    only = installer_client.get(reverse("residents:list") + "?status=expired").content.decode()
    assert "Lapsed" in only and "Newcomer" not in only


def test_search_by_name_email_mobile_family_sip_and_sip(installer_client, installer, household, make_resident):
    make_resident(installer, name="Zoe Park", email="zoe@example.org")
    ryan = household["resident"]
    for q in ("ryan", "ryan@example.com", "81234567", ryan.family_sip, ryan.personal_sip):
        html = installer_client.get(reverse("residents:list"), {"q": q}).content.decode()
        assert "Ryan" in html and "Zoe Park" not in html, q
    html = installer_client.get(reverse("residents:list"), {"q": "nobody-at-all"}).content.decode()
    assert "No user matches the search." in html and "0 In All" in html


def test_smart_home_icon_only_with_home_automation_and_a_portal(installer_client, installer, make_resident):
    make_resident(installer, name="Automated", home_automation=True)
    assert "Smart Home" not in installer_client.get(reverse("residents:list")).content.decode()
    installer.smart_home_url = "https://home.example.com/portal"
    installer.save()
    html = installer_client.get(reverse("residents:list")).content.decode()
    assert 'href="https://home.example.com/portal"' in html and html.count("Smart Home Automated") == 1


def form_data(**overrides):
    data = {"name": "Marie Dubois", "room_name": "Villa", "email": "marie@example.fr", "country": "FR",
            "mobile_number": "06 12 34 56 78", "address": "1 rue de la Paix", "call_type": "sip", "time_zone": "",
            "language": "fr", "landline_1": "", "landline_2": "", "landline_3": "", "home_automation": "off",
            "premium_plan": "on", "landline_service": "off"}
    data.update(overrides)
    return data


def test_new_user_form_has_every_field_of_the_guide(installer_client):
    html = installer_client.get(reverse("residents:create")).content.decode()
    for label in ("Name", "Room Name", "Email", "Country / Region", "Mobile Number", "Address", "SIP Call Or IP Call",
                  "Time Zone", "Language", "1st Landline", "2nd Landline", "3rd Landline", "Home AutoMation",
                  "Premium Plan", "Landline Service", "Cancel", "Submit"):
        assert label in html, label
    assert "All my devices were installed in the same place (villa or house)" in html
    assert "Some of my devices were installed in a different place (villa or house)" in html
    assert "Premium Plan contains landline service and third party camera." in html
    assert 'data-disables="id_premium_plan_0"' in html
    assert "Installer&#x27;s time zone (Asia/Singapore)" in html and "Europe/Paris" in html
    assert html.count('<option value="', html.index('id="id_language"')) >= 12
    assert "France (+33)" in html


def test_create_user_with_installer_time_zone_and_welcome_mail(installer_client, installer,
                                                                django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = installer_client.post(reverse("residents:create"), form_data())
    assert response.status_code == 302 and response["Location"] == reverse("residents:list")
    marie = Resident.objects.get(name="Marie Dubois")
    assert marie.installer == installer and marie.time_zone == "Asia/Singapore"
    assert marie.mobile_number == "+33612345678" and marie.premium_plan and not marie.home_automation
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["marie@example.fr"]
    assert AuditLog.objects.filter(action="resident.create", object_id=str(marie.pk), actor=installer).exists()


@pytest.mark.parametrize("overrides, field, message", [
    ({"name": ""}, "name", "This field is required."),
    ({"name": "x" * 65}, "name", "at most 64 characters"),
    ({"email": "not-an-email"}, "email", "Enter a valid email address."),
    ({"mobile_number": "12"}, "mobile_number", "not a valid number for FR"),
    ({"country": "US", "mobile_number": "0612345678"}, "mobile_number", "US"),
    ({"time_zone": "Mars/Olympus"}, "time_zone", "Select a valid choice"),
    ({"language": "xx"}, "language", "Select a valid choice"),
    ({"home_automation": "on", "premium_plan": "on"}, "premium_plan", "Home Automation is on"),
    ({"premium_plan": "off", "landline_service": "on", "landline_1": "+33142000000"}, "landline_service",
     "needs Premium Plan"),
    ({"landline_1": "call me"}, "landline_1", "3 to 20 digits"),
])
def test_bad_input_is_shown_next_to_its_field_and_nothing_saved(installer_client, overrides, field, message):
    response = installer_client.post(reverse("residents:create"), form_data(**overrides))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors and any(message in e for e in errors[field]), errors
    assert 'class="field has-error' in response.content.decode()
    assert not Resident.objects.exists() and not mail.outbox


def test_edit_shows_uid_and_reset_password(installer_client, household):
    ryan = household["resident"]
    html = installer_client.get(reverse("residents:edit", args=[ryan.pk])).content.decode()
    assert "UID" in html and ryan.family_sip in html and "Reset Password" in html
    assert reverse("residents:reset_password", args=[ryan.pk]) in html and "data-confirm=" in html
    assert 'value="Ryan"' in html and 'value="+6581234567"' in html


def test_edit_saves_and_audits_before_and_after(installer_client, installer, household):
    ryan = household["resident"]
    data = form_data(name="Ryan Chen", email="ryan@example.com", country="SG", mobile_number="81234567",
                     time_zone="Asia/Tokyo", language="ja", premium_plan="off")
    response = installer_client.post(reverse("residents:edit", args=[ryan.pk]), data)
    assert response.status_code == 302
    ryan.refresh_from_db()
    assert ryan.name == "Ryan Chen" and ryan.time_zone == "Asia/Tokyo" and ryan.language == "ja"
    assert ryan.account.language == "ja" and household["lily"].account.__class__.objects.get(
        pk=household["lily"].account_id).language == "ja"
    log = AuditLog.objects.get(action="resident.update", object_id=str(ryan.pk))
    assert log.before["name"] == "Ryan" and log.after["name"] == "Ryan Chen" and log.actor == installer


def test_edit_home_automation_turns_premium_plan_off_when_switch_dimmed(installer_client, installer, make_resident):
    resident = make_resident(installer, name="Alex", premium_plan=True)
    # A dimmed (disabled) Premium Plan switch is not posted: it counts as Off.
    data = form_data(name="Alex", email="", mobile_number="", country="", home_automation="on")
    del data["premium_plan"]
    assert installer_client.post(reverse("residents:edit", args=[resident.pk]), data).status_code == 302
    resident.refresh_from_db()
    assert resident.home_automation and not resident.premium_plan


def test_reset_password_sends_mail_and_audits(installer_client, installer, household,
                                              django_capture_on_commit_callbacks):
    ryan = household["resident"]
    ryan.account.set_password("old-password-123")
    ryan.account.save()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = installer_client.post(reverse("residents:reset_password", args=[ryan.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("residents:edit", args=[ryan.pk])
    ryan.account.refresh_from_db()
    assert not ryan.account.has_usable_password()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ryan@example.com"]
    assert mail.outbox[0].subject == "Reset your entryway password"
    log = AuditLog.objects.get(action="resident.reset_password", object_id=str(ryan.pk))
    assert log.before["password_usable"] is True and log.after["password_usable"] is False


def test_reset_password_without_email_explains_why(installer_client, installer, make_resident):
    resident = make_resident(installer, name="No Mail")
    response = installer_client.post(reverse("residents:reset_password", args=[resident.pk]), follow=True)
    assert "no e-mail address" in response.content.decode()
    assert not AuditLog.objects.filter(action="resident.reset_password").exists()


def test_reset_password_needs_post(installer_client, household):
    assert installer_client.get(reverse("residents:reset_password", args=[household["resident"].pk])).status_code == 405


def test_delete_confirmation_states_consequences_then_deletes(installer_client, installer, household):
    ryan = household["resident"]
    html = installer_client.get(reverse("residents:delete", args=[ryan.pk])).content.decode()
    assert "Delete “Ryan”" in html and "family members (1)" in html and "MAC Library" in html
    assert "never given to anyone else" in html
    response = installer_client.post(reverse("residents:delete", args=[ryan.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("residents:list")
    assert not Resident.objects.filter(pk=ryan.pk).exists() and not FamilyMember.objects.exists()
    assert AuditLog.objects.filter(action="resident.delete", object_id=str(ryan.pk)).exists()


def test_family_list_and_new_member(installer_client, installer, household, django_assert_max_num_queries,
                                    django_capture_on_commit_callbacks):
    ryan = household["resident"]
    with django_assert_max_num_queries(10):
        html = installer_client.get(reverse("residents:family_list", args=[ryan.pk])).content.decode()
    assert "Lily" in html and household["lily"].personal_sip in html and "1 of 3 used" in html
    assert reverse("residents:family_create", args=[ryan.pk]) in html
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = installer_client.post(reverse("residents:family_create", args=[ryan.pk]),
                                         {"name": "Max", "email": "max@example.com", "country": "SG",
                                          "mobile_number": "81234569"})
    assert response.status_code == 302 and response["Location"] == reverse("residents:family_list", args=[ryan.pk])
    max_ = FamilyMember.objects.get(name="Max")
    assert max_.resident == ryan and max_.mobile_number == "+6581234569" and len(max_.personal_sip) == 10
    assert mail.outbox[0].to == ["max@example.com"]
    ryan.refresh_from_db()
    assert ryan.family_member_count == 2


def test_family_member_bad_input(installer_client, household):
    ryan = household["resident"]
    response = installer_client.post(reverse("residents:family_create", args=[ryan.pk]),
                                     {"name": "", "email": "bad@", "country": "FR", "mobile_number": "123"})
    errors = response.context["form"].errors
    assert {"name", "email"} <= set(errors)
    response = installer_client.post(reverse("residents:family_create", args=[ryan.pk]),
                                     {"name": "Max", "email": "bad@", "country": "FR", "mobile_number": "123"})
    errors = response.context["form"].errors
    assert {"email", "mobile_number"} <= set(errors)
    assert FamilyMember.objects.count() == 1


def test_family_refusals_are_explained(installer_client, installer, household, make_resident):
    newcomer = make_resident(installer, name="Newcomer")
    html = installer_client.get(reverse("residents:family_list", args=[newcomer.pk])).content.decode()
    assert "Only an activated user can have family members: Newcomer is Inactivated." in html
    response = installer_client.post(reverse("residents:family_create", args=[newcomer.pk]), {"name": "Kid"})
    assert "Only an activated user can have family members" in response.content.decode()
    assert not FamilyMember.objects.filter(resident=newcomer).exists()

    ryan = household["resident"]
    for name in ("Max", "Ava"):
        installer_client.post(reverse("residents:family_create", args=[ryan.pk]), {"name": name})
    response = installer_client.post(reverse("residents:family_create", args=[ryan.pk]), {"name": "Fifth"})
    assert "already has 3 family members" in response.content.decode()
    assert FamilyMember.objects.filter(resident=ryan).count() == 3
    html = installer_client.get(reverse("residents:family_list", args=[ryan.pk])).content.decode()
    assert "already has 3 family members" in html and 'aria-disabled="true"' in html


def test_family_edit_and_delete(installer_client, installer, household):
    ryan, lily = household["resident"], household["lily"]
    url = reverse("residents:family_edit", args=[ryan.pk, lily.pk])
    assert 'value="Lily"' in installer_client.get(url).content.decode()
    response = installer_client.post(url, {"name": "Lily Chen", "email": "lily@example.com", "country": "",
                                           "mobile_number": ""})
    assert response.status_code == 302
    lily.refresh_from_db()
    assert lily.name == "Lily Chen"
    delete_url = reverse("residents:family_delete", args=[ryan.pk, lily.pk])
    html = installer_client.get(delete_url).content.decode()
    assert "Delete “Lily Chen”" in html and lily.personal_sip in html
    assert installer_client.post(delete_url).status_code == 302
    assert not FamilyMember.objects.filter(pk=lily.pk).exists()
    ryan.refresh_from_db()
    assert ryan.family_member_count == 0
    actions = set(AuditLog.objects.values_list("action", flat=True))
    assert {"family_member.create", "family_member.update", "family_member.delete"} <= actions


def test_resident_update_keeps_service_signature(installer, household):
    updated = resident_update(acting_user=installer, resident=household["resident"], room_name="Ryan's villa")
    assert updated.room_name == "Ryan's villa"
