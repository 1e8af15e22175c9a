"""The admin and distributor portals, the account menu, the resident portal, help and tickets."""
from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from entryway.accounts.models import Account
from entryway.core.models import AuditLog
from entryway.devices.models import DeviceModel
from entryway.portals import services
from entryway.portals.models import Ticket

pytestmark = pytest.mark.django_db


# --------------------------------------------------------------------------- admin portal

def test_admin_creates_and_disables_a_distributor(client_for, admin_account, django_capture_on_commit_callbacks):
    client = client_for(admin_account)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("portals:admin_distributor_create"), {
            "username": "acme", "name": "Acme Security", "email": "ops@acme.example", "language": "es",
            "time_zone": "Europe/Madrid"})
    assert response.status_code == 302
    acme = Account.objects.get(username="acme")
    assert acme.role == "distributor" and not acme.has_usable_password() and acme.language == "es"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ops@acme.example"] and "/reset/" in mail.outbox[0].body
    client.post(reverse("portals:admin_distributor_disable", args=[acme.pk]))
    acme.refresh_from_db()
    assert not acme.is_active
    assert set(AuditLog.objects.filter(object_id=str(acme.pk)).values_list("action", flat=True)) == {
        "distributor.create", "distributor.disable"}
    page = client.get(reverse("portals:admin_distributors"), {"q": "acme"}).content.decode()
    assert "Acme Security" in page and "Disabled" in page


def test_duplicate_username_and_missing_email_refused(client_for, admin_account, distributor):
    client = client_for(admin_account)
    response = client.post(reverse("portals:admin_distributor_create"), {
        "username": distributor.username.upper(), "name": "X", "email": "", "language": "en", "time_zone": "UTC"})
    assert response.status_code == 200
    form = response.context["form"]
    assert "email" in form.errors
    with pytest.raises(Exception) as exc:
        services.distributor_create(acting_user=admin_account, username=distributor.username.upper(), name="X",
                                    email="x@example.com")
    assert "username" in exc.value.message_dict


def test_device_model_catalog(client_for, admin_account):
    client = client_for(admin_account)
    response = client.post(reverse("portals:admin_device_model_create"), {
        "name": "x920", "device_type": "door_phone", "description": "Door phone, 10 inch", "relay_count": 3})
    assert response.status_code == 302
    model = DeviceModel.objects.get(name="X920")
    client.post(reverse("portals:admin_device_model_edit", args=[model.pk]), {
        "name": "X920", "device_type": "door_phone", "description": "Door phone, 10 inch, face", "relay_count": 4})
    model.refresh_from_db()
    assert model.relay_count == 4 and model.description.endswith("face")
    dup = client.post(reverse("portals:admin_device_model_create"), {
        "name": "X920", "device_type": "door_phone", "relay_count": 1})
    assert dup.status_code == 200 and "name" in dup.context["form"].errors
    bad = client.post(reverse("portals:admin_device_model_create"), {
        "name": "Z1", "device_type": "toaster", "relay_count": 9})
    assert bad.status_code == 200 and {"device_type", "relay_count"} <= set(bad.context["form"].errors)
    assert list(AuditLog.objects.filter(object_type="devices.DeviceModel").values_list("action", flat=True)) == [
        "device_model.update", "device_model.create"]


def test_audit_log_searchable_and_paginated(client_for, admin_account, installer, django_assert_max_num_queries):
    for n in range(25):
        services.ticket_create(acting_user=installer, subject=f"Ticket {n}", body="b")
    client = client_for(admin_account)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("portals:admin_audit"), {"q": "ticket.create", "per_page": 10})
    info = response.context["pageinfo"]
    assert info.count == 25 and len(info.object_list) == 10
    assert "Ticket 24" in response.content.decode()
    assert client.get(reverse("portals:admin_audit"), {"q": "nothing-like-this"}).context["pageinfo"].count == 0


def test_admin_home_links_skip_missing_modules(client_for, admin_account):
    page = client_for(admin_account).get(reverse("portals:admin_home")).content.decode()
    assert reverse("portals:admin_distributors") in page and reverse("firmware:admin_list") in page


# --------------------------------------------------------------------------- distributor portal

def test_distributor_creates_installer_email_in_their_language(client_for, distributor,
                                                               django_capture_on_commit_callbacks):
    client = client_for(distributor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("portals:distributor_installer_create"), {
            "username": "bob-installs", "name": "Bob", "email": "bob@example.com", "language": "fr",
            "time_zone": "Europe/Paris"})
    assert response.status_code == 302
    bob = Account.objects.get(username="bob-installs")
    assert bob.role == "installer" and bob.parent == distributor and not bob.permission_granted
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["bob@example.com"] and "Bonjour" in message.body and "/reset/" in message.body


def test_distributor_resets_installer_password(client_for, distributor, installer, django_capture_on_commit_callbacks):
    client = client_for(distributor)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("portals:distributor_installer_reset", args=[installer.pk]))
    installer.refresh_from_db()
    assert not installer.has_usable_password()
    assert "distributor has reset" in mail.outbox[0].body and "/reset/" in mail.outbox[0].body


def test_distributor_sees_installers_users_and_devices_read_only(client_for, distributor, installer, household,
                                                                 other_installer, make_resident,
                                                                 django_assert_max_num_queries):
    make_resident(other_installer, name="Stranger")
    client = client_for(distributor)
    with django_assert_max_num_queries(10):
        listing = client.get(reverse("portals:distributor_home"))
    page = listing.content.decode()
    assert installer.username in page and other_installer.username not in page
    assert listing.context["pageinfo"].object_list[0].user_count == 1
    detail = client.get(reverse("portals:distributor_installer", args=[installer.pk])).content.decode()
    assert "Ryan" in detail and "Stranger" not in detail
    assert "Edit" not in detail and reverse("residents:edit", args=[household["resident"].pk]) not in detail
    devices = client.get(reverse("portals:distributor_installer", args=[installer.pk]), {"tab": "devices"})
    assert devices.status_code == 200
    # the User module itself stays the installer's
    assert client.get(reverse("residents:list")).status_code == 403


def test_account_access_switch(client_for, other_distributor):
    client = client_for(other_distributor)
    assert not other_distributor.account_access_enabled
    client.post(reverse("portals:distributor_access"), {"account_access_enabled": "on"})
    other_distributor.refresh_from_db()
    assert other_distributor.account_access_enabled
    assert AuditLog.objects.filter(action="account_access.set", actor=other_distributor).exists()
    bad = client.post(reverse("portals:distributor_access"), {"account_access_enabled": "maybe"})
    assert bad.status_code == 200 and bad.context["form"].errors


# --------------------------------------------------------------------------- account menu

@pytest.mark.parametrize("phone, email, field", [
    ("", "a@example.com", "phone"),
    ("12345", "a@example.com", "phone"),
    ("0 20 7946 0958", "a@example.com", "phone"),
    ("+44 20 7946 0958", "", "email"),
    ("+44 20 7946 0958", "not-an-email", "email"),
])
def test_customer_service_refuses_bad_contacts(client_for, installer, phone, email, field):
    response = client_for(installer).post(reverse("portals:customer_service"), {"phone": phone, "email": email})
    assert response.status_code == 200 and field in response.context["form"].errors
    installer.refresh_from_db()
    assert installer.customer_service_phone == ""


def test_customer_service_saved_in_international_form_and_shown_to_residents(client_for, installer, household):
    client = client_for(installer)
    page = client.get(reverse("portals:customer_service")).content.decode()
    assert "Residents can contact you through this phone number" in page
    response = client.post(reverse("portals:customer_service"), {"phone": "+44 20 7946 0958",
                                                                 "email": "desk@inst.example"})
    assert response.status_code == 302
    installer.refresh_from_db()
    assert installer.customer_service_phone == "+442079460958"
    resident_page = client_for(household["resident"].account).get(reverse("portals:resident_home")).content.decode()
    assert "+442079460958" in resident_page and "desk@inst.example" in resident_page


def test_smart_home_url_in_account_setting(client_for, installer):
    client = client_for(installer)
    bad = client.post(reverse("portals:account_settings"), {
        "section": "preferences", "language": "en", "time_zone": "UTC", "smart_home_url": "javascript:alert(1)"})
    assert bad.status_code == 200 and "smart_home_url" in bad.context["prefs_form"].errors
    client.post(reverse("portals:account_settings"), {
        "section": "preferences", "language": "ja", "time_zone": "Asia/Tokyo",
        "smart_home_url": "https://home.example.com/portal"})
    installer.refresh_from_db()
    assert installer.smart_home_url == "https://home.example.com/portal" and installer.language == "ja"


def test_password_change(client_for, installer, password):
    client = client_for(installer)
    response = client.post(reverse("portals:password_change"), {
        "old_password": password, "new_password1": "a-much-longer-secret-77", "new_password2": "a-much-longer-secret-77"})
    assert response.status_code == 302
    installer.refresh_from_db()
    assert installer.check_password("a-much-longer-secret-77")
    assert AuditLog.objects.filter(action="account.password_change", actor=installer).exists()


# --------------------------------------------------------------------------- resident portal

def test_host_sees_status_family_and_links(client_for, household):
    host = household["resident"]
    response = client_for(host.account).get(reverse("portals:resident_home"))
    page = response.content.decode()
    assert host.family_sip in page and "Lily" in page
    assert reverse("messaging:inbox") in page
    # the household's language (fr) is the portal's
    assert 'lang="fr"' in page


@pytest.mark.parametrize("mode, shown", [("end_user", True), ("installer", False)])
def test_pay_link_only_with_pay_by_end_user(client_for, household, installer, mode, shown):
    from entryway.billing.services import billing_setting_update

    billing_setting_update(acting_user=installer, installer=installer, charge_mode=mode,
                           send_expiration_email=False, send_renew_email=False)
    page = client_for(household["resident"].account).get(reverse("portals:resident_home")).content.decode()
    assert (reverse("billing:resident_billing") in page.split("<main")[1]) is shown


def test_expired_password_link_refused(client, household, installer):
    import time_machine
    from django.contrib.auth.tokens import default_token_generator
    from django.utils import timezone
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    account = household["resident"].account
    url = reverse("accounts:password_reset_confirm", kwargs={
        "uidb64": urlsafe_base64_encode(force_bytes(account.pk)),
        "token": default_token_generator.make_token(account)})
    with time_machine.travel(timezone.now() + timezone.timedelta(days=8)):
        response = client.get(url, follow=True)
    assert response.context["validlink"] is False


def test_family_member_sees_no_family_list(client_for, household):
    lily = household["lily"]
    page = client_for(lily.account).get(reverse("portals:resident_home")).content.decode()
    assert lily.personal_sip in page and household["resident"].name in page
    assert "Family members" not in page and "Membres de la famille" not in page


def test_resident_sets_password_from_link_then_logs_in(client, household, installer):
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    account = household["resident"].account
    uid = urlsafe_base64_encode(force_bytes(account.pk))
    token = default_token_generator.make_token(account)
    url = reverse("accounts:password_reset_confirm", kwargs={"uidb64": uid, "token": token})
    response = client.get(url, follow=True)
    client.post(response.redirect_chain[-1][0], {"new_password1": "ryans-new-door-42",
                                                 "new_password2": "ryans-new-door-42"})
    # the link is spent
    again = client.get(url, follow=True)
    assert again.context["validlink"] is False
    assert client.post(reverse("accounts:login"), {"username": account.username,
                                                   "password": "ryans-new-door-42"}).status_code == 302
    assert client.get("/")["Location"] == reverse("portals:resident_home")
    assert client.get(reverse("portals:resident_home")).status_code == 200


# --------------------------------------------------------------------------- help

def test_manuals_render_safely_and_download(client_for, installer, settings, tmp_path):
    guide = tmp_path / "user-guide"
    guide.mkdir()
    (guide / "index.md").write_text("# Start\n\nSee [the door](door.md).\n\n<script>alert(1)</script>\n\n"
                                    "[bad](javascript:alert(1))\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    (guide / "door.md").write_text("# Door\n\nText.\n")
    (tmp_path / "operations.md").write_text("# Operations\n")
    settings.MANUALS_DIR = tmp_path
    client = client_for(installer)
    index = client.get(reverse("portals:help")).content.decode()
    assert "Start" in index and "Door" in index and "Operations" not in index
    page = client.get(reverse("portals:help_manual", args=["index"])).content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert 'href="javascript:' not in page
    assert f'href="{reverse("portals:help_manual", args=["door"])}"' in page
    assert "<table>" in page
    download = client.get(reverse("portals:help_download", args=["door"]))
    assert download["Content-Disposition"] == 'attachment; filename="entryway-door.md"'
    assert download.content == b"# Door\n\nText.\n"
    assert client.get(reverse("portals:help_manual", args=["operations"])).status_code == 404
    assert client.get("/help/..%2Fsettings/").status_code == 404


def test_real_docs_are_listed(client_for, admin_account):
    page = client_for(admin_account).get(reverse("portals:help")).content.decode()
    assert "entryway user guide" in page and "Operating entryway" in page


# --------------------------------------------------------------------------- tickets

def test_ticket_thread_between_installer_and_distributor(client_for, installer, distributor):
    inst = client_for(installer)
    response = inst.post(reverse("portals:ticket_create"), {"subject": "R29 will not provision",
                                                            "body": "The AutoP file is refused."})
    ticket = Ticket.objects.get()
    assert response["Location"] == reverse("portals:ticket_detail", args=[ticket.pk]) and ticket.status == "open"

    dist = client_for(distributor)
    assert "R29 will not provision" in dist.get(reverse("portals:tickets")).content.decode()
    dist.post(reverse("portals:ticket_detail", args=[ticket.pk]), {"body": "Check the MAC registration."})
    ticket.refresh_from_db()
    assert ticket.status == "answered"
    page = inst.get(reverse("portals:ticket_detail", args=[ticket.pk])).content.decode()
    assert "Check the MAC registration." in page and "Answered" in page
    inst.post(reverse("portals:ticket_detail", args=[ticket.pk]), {"body": "Fixed, thanks."})
    ticket.refresh_from_db()
    assert ticket.status == "open"
    inst.post(reverse("portals:ticket_close", args=[ticket.pk]))
    ticket.refresh_from_db()
    assert ticket.status == "closed"
    refused = dist.post(reverse("portals:ticket_detail", args=[ticket.pk]), {"body": "one more"})
    assert refused.status_code == 200 and "closed" in refused.content.decode()
    assert ticket.messages.count() == 3
    assert list(Ticket.objects.visible_to(distributor)) == [ticket]


@pytest.mark.parametrize("data, field", [
    ({"subject": "", "body": "x"}, "subject"),
    ({"subject": "s", "body": "   "}, "body"),
    ({"subject": "s" * 121, "body": "x"}, "subject"),
])
def test_ticket_bad_input(client_for, installer, data, field):
    response = client_for(installer).post(reverse("portals:ticket_create"), data)
    assert response.status_code == 200 and field in response.context["form"].errors
    assert not Ticket.objects.exists()


def test_ticket_with_a_null_character_is_refused_with_the_reason(client_for, installer):
    response = client_for(installer).post(reverse("portals:ticket_create"), {"subject": "s", "body": "a\x00b"})
    assert response.status_code == 400 and "null character" in response.content.decode()
    assert not Ticket.objects.exists()


def test_ticket_list_query_bound(client_for, distributor, installer, django_assert_max_num_queries):
    for n in range(15):
        services.ticket_create(acting_user=installer, subject=f"T{n}", body="b")
    client = client_for(distributor)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("portals:tickets"), {"per_page": 20})
    assert response.context["pageinfo"].count == 15
