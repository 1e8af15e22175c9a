"""Resident and family member services: validation, numbering, status, audit, deletion."""
from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from entryway.accounts.models import Account
from entryway.core.models import AuditLog
from entryway.residents import services
from entryway.residents.models import FamilyMember, Resident
from entryway.sip.models import SipAccount

pytestmark = pytest.mark.django_db


def create(installer, **data):
    data.setdefault("name", "Ryan")
    return services.resident_create(acting_user=installer, installer=installer, **data)


def errors_of(exc_info) -> set[str]:
    return set(exc_info.value.message_dict)


@pytest.mark.parametrize("data, field", [
    ({"email": "not-an-email"}, "email"),
    ({"email": "a@b"}, "email"),
    ({"country": "FR", "mobile_number": "12"}, "mobile_number"),
    ({"country": "US", "mobile_number": "+33612345678"}, "mobile_number"),
    ({"mobile_number": "0612345678"}, "mobile_number"),  # no region, not international
    ({"country": "ZZ"}, "country"),
    ({"time_zone": "Mars/Olympus"}, "time_zone"),
    ({"time_zone": "x" * 80}, "time_zone"),
    ({"language": "xx"}, "language"),
    ({"language": "zh-cn"}, "language"),
    ({"home_automation": True, "premium_plan": True}, "premium_plan"),
    ({"landline_service": True, "landline_1": "+33142000000"}, "landline_service"),
    ({"premium_plan": True, "landline_service": True}, "landline_1"),
    ({"landline_2": "phone me"}, "landline_2"),
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "n" * 65}, "name"),
    ({"room_name": "r" * 65}, "room_name"),
    ({"address": "a" * 256}, "address"),
    ({"email": "e" * 250 + "@x.com"}, "email"),
    ({"call_type": "pigeon"}, "call_type"),
    ({"name": "Ry\x00an"}, "name"),
    ({"address": "bad \ud800 text"}, "address"),
    ({"favourite_colour": "blue"}, "favourite_colour"),
])
def test_bad_input_names_the_field_and_saves_nothing(installer, data, field):
    before_sip = SipAccount.objects.count()
    with pytest.raises(ValidationError) as exc_info:
        create(installer, **{"name": "Ryan", **data})
    assert field in errors_of(exc_info), exc_info.value.message_dict
    assert not Resident.objects.exists() and SipAccount.objects.count() == before_sip
    assert not Account.objects.filter(role="resident").exists() and not AuditLog.objects.exists()


def test_valid_user_is_normalised(installer):
    r = create(installer, name="  Marie  ", email="Marie@EXAMPLE.FR", country="fr", mobile_number="06 12 34 56 78",
               landline_1="+33 1 42 00 00 00", premium_plan=True, landline_service=True, language="fr")
    assert r.name == "Marie" and r.email == "Marie@example.fr" and r.country == "FR"
    assert r.mobile_number == "+33612345678" and r.landline_1 == "+33142000000"
    assert r.time_zone == "Asia/Singapore"  # the installer's
    assert r.account.username == r.personal_sip and r.account.role == "resident"
    assert not r.account.has_usable_password() and r.account.language == "fr"


def test_international_number_needs_no_region(installer):
    assert create(installer, mobile_number="+6581234567").mobile_number == "+6581234567"


def test_sip_numbers_are_ten_digits_unique_and_never_reused(installer, activate, settings):
    ryan = activate(create(installer))
    member = services.family_member_create(acting_user=installer, resident=ryan, name="Lily")
    numbers = {ryan.family_sip, ryan.personal_sip, member.personal_sip}
    assert len(numbers) == 3
    for n in numbers:
        assert len(n) == 10 and n.isdigit() and n.startswith(settings.SIP_PREFIX)
    assert ryan.family_sip[len(settings.SIP_PREFIX)] == "0" and ryan.personal_sip[len(settings.SIP_PREFIX)] == "1"
    services.resident_delete(acting_user=installer, resident=ryan)
    # the SIP accounts stay (inactive) so that the numbers are never handed out again
    assert not SipAccount.objects.filter(number__in=[ryan.personal_sip, member.personal_sip], is_active=True).exists()
    later = [create(installer, name=f"Later {i}") for i in range(3)]
    for r in later:
        assert not {r.family_sip, r.personal_sip} & numbers
        assert r.family_sip > ryan.family_sip and r.personal_sip > member.personal_sip


def test_sip_password_is_generated_and_never_audited(installer):
    r = create(installer)
    sip = SipAccount.objects.get(number=r.personal_sip)
    assert len(sip.password) >= 12
    for log in AuditLog.objects.all():
        assert sip.password not in str(log.before) + str(log.after)


def test_statuses(installer, activate):
    r = create(installer, premium_plan=True, landline_service=True, landline_1="+6561234567")
    assert r.active_status == "inactivated" and r.landline_status == "inactivated"
    r = activate(r, days=10)
    assert r.active_status == "normal" and r.landline_status == "normal"
    assert r.landline_expires_at == r.expires_at
    r = services.resident_activate(resident=r, until=timezone.now() - datetime.timedelta(seconds=1),
                                   acting_user=None)
    assert r.active_status == "expired" and r.landline_status == "expired"
    assert create(installer, name="Plain").landline_status == "off"
    assert AuditLog.objects.filter(action="resident.activate", object_id=str(r.pk)).count() == 2


def test_home_automation_switches_premium_plan_off_only_when_asked(installer):
    r = create(installer, premium_plan=True)
    with pytest.raises(ValidationError) as exc_info:
        services.resident_update(acting_user=installer, resident=r, home_automation=True)
    assert errors_of(exc_info) == {"premium_plan"}
    r = services.resident_update(acting_user=installer, resident=r, home_automation=True, premium_plan=False)
    assert r.home_automation and not r.premium_plan


def test_update_audits_before_and_after_only_changes(installer):
    r = create(installer, email="ryan@example.com")
    services.resident_update(acting_user=installer, resident=r, room_name="Villa", language="da")
    log = AuditLog.objects.get(action="resident.update")
    assert log.before == {"room_name": "", "language": "en", "updated_at": log.before["updated_at"]} or \
        {"room_name", "language"} <= set(log.after)
    assert log.after["room_name"] == "Villa" and log.after["language"] == "da" and log.actor == installer
    assert log.installer == installer and log.object_repr == "Ryan"
    r.refresh_from_db()
    assert r.account.language == "da"


def test_failed_update_changes_nothing(installer):
    r = create(installer, email="ryan@example.com")
    with pytest.raises(ValidationError):
        services.resident_update(acting_user=installer, resident=r, name="Ryan Chen", email="broken")
    r.refresh_from_db()
    assert r.name == "Ryan" and r.email == "ryan@example.com"
    assert not AuditLog.objects.filter(action="resident.update").exists()


def test_adding_an_email_later_creates_the_login(installer):
    r = create(installer)
    assert r.account is None
    r = services.resident_update(acting_user=installer, resident=r, email="late@example.com")
    assert r.account.email == "late@example.com" and r.account.username == r.personal_sip


def test_family_member_rules(installer, activate):
    r = create(installer)
    with pytest.raises(ValidationError) as exc_info:
        services.family_member_create(acting_user=installer, resident=r, name="Kid")
    assert errors_of(exc_info) == {"family_members"}
    assert "Inactivated" in exc_info.value.message_dict["family_members"][0]
    r = activate(r)
    for name in ("A", "B", "C"):
        services.family_member_create(acting_user=installer, resident=r, name=name)
    with pytest.raises(ValidationError) as exc_info:
        services.family_member_create(acting_user=installer, resident=r, name="D")
    assert errors_of(exc_info) == {"family_members"} and "already has 3" in str(exc_info.value)
    assert FamilyMember.objects.filter(resident=r).count() == 3
    services.resident_set_family_member_limit(acting_user=None, resident=r, limit=4)
    services.family_member_create(acting_user=installer, resident=r, name="D")
    r.refresh_from_db()
    assert r.family_member_count == 4


def test_expired_user_cannot_add_family_members(installer, activate):
    r = activate(create(installer), days=-1)
    with pytest.raises(ValidationError) as exc_info:
        services.family_member_create(acting_user=installer, resident=r, name="Kid")
    assert "Expired" in str(exc_info.value)


@pytest.mark.parametrize("data, field", [
    ({"name": ""}, "name"), ({"name": "n" * 65}, "name"), ({"email": "bad"}, "email"),
    ({"country": "FR", "mobile_number": "1"}, "mobile_number"), ({"country": "QQ"}, "country"),
    ({"name": "A\x00"}, "name"), ({"room_name": "x"}, "room_name"),
])
def test_family_member_bad_input(installer, activate, data, field):
    r = activate(create(installer))
    with pytest.raises(ValidationError) as exc_info:
        services.family_member_create(acting_user=installer, resident=r, **{"name": "Kid", **data})
    assert field in errors_of(exc_info)
    assert not FamilyMember.objects.exists()
    r.refresh_from_db()
    assert r.family_member_count == 0


def test_family_member_update_and_delete(installer, activate):
    r = activate(create(installer, language="vi"))
    m = services.family_member_create(acting_user=installer, resident=r, name="Lily", email="lily@example.com")
    assert m.account.language == "vi" and m.account.username == m.personal_sip
    m = services.family_member_update(acting_user=installer, member=m, name="Lily Chen", country="SG",
                                      mobile_number="81234567")
    assert m.mobile_number == "+6581234567"
    assert SipAccount.objects.get(number=m.personal_sip).display_name == "Lily Chen"
    account_id = m.account_id
    services.family_member_delete(acting_user=installer, member=m)
    assert not Account.objects.filter(pk=account_id).exists()
    assert not SipAccount.objects.get(number=m.personal_sip).is_active
    r.refresh_from_db()
    assert r.family_member_count == 0
    actions = list(AuditLog.objects.filter(object_type="residents.FamilyMember").values_list("action", flat=True))
    assert sorted(actions) == ["family_member.create", "family_member.delete", "family_member.update"]
    delete_log = AuditLog.objects.get(action="family_member.delete")
    assert delete_log.before["name"] == "Lily Chen"


def test_delete_removes_family_and_logins_and_unbinds_devices(installer, activate):
    from entryway.devices.models import DeviceModel, IntercomDevice, MacLibraryEntry

    r = activate(create(installer, email="ryan@example.com"))
    m = services.family_member_create(acting_user=installer, resident=r, name="Lily", email="lily@example.com")
    model, _ = DeviceModel.objects.get_or_create(name="R29", defaults={"device_type": "door_phone"})
    entry = MacLibraryEntry.objects.create(mac="0C110512BC97", installer=installer)
    IntercomDevice.objects.create(installer=installer, owner=r, device_model=model, mac="0C110512BC97",
                                  mac_entry=entry, location="Gate", sip_number="5926200001", device_secret="s" * 32)
    logins = [r.account_id, m.account_id]
    services.resident_delete(acting_user=installer, resident=r)
    assert not Resident.objects.exists() and not FamilyMember.objects.exists()
    assert not IntercomDevice.objects.exists()
    assert MacLibraryEntry.objects.filter(mac="0C110512BC97", installer=installer).exists()
    assert not Account.objects.filter(pk__in=logins).exists()
    log = AuditLog.objects.get(action="resident.delete")
    assert log.before["name"] == "Ryan" and log.after["family_members_deleted"] == 1
    assert log.after["devices_unbound"] == ["0C110512BC97"]


def test_reset_password_audits_before_and_after(installer):
    r = create(installer, email="ryan@example.com")
    r.account.set_password("old-secret-123")
    r.account.save()
    services.resident_reset_password(acting_user=installer, resident=r)
    log = AuditLog.objects.get(action="resident.reset_password")
    assert log.before == {"password_usable": True, "email": "ryan@example.com"}
    assert log.after["password_usable"] is False and log.actor == installer
    assert "old-secret" not in str(log.before) + str(log.after)


def test_only_installers_own_users(installer, distributor):
    with pytest.raises(ValidationError):
        services.resident_create(acting_user=distributor, installer=distributor, name="X")
