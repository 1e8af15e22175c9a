"""``manage.py seed_scale`` writes what the services write, and the list pages' query counts do not grow with it."""
from __future__ import annotations

import io

import pytest
from django.contrib.auth.hashers import is_password_usable
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from entryway.accounts.models import Account
from entryway.devices.models import IntercomDevice, MacLibraryEntry
from entryway.residents.models import Resident
from entryway.sip.models import SipAccount, SipCounter
from entryway.web.management.commands.seed_scale import device_mac, resident_name

# Installer 0000 holds 30 residents and 90 devices, installer 0001 three residents and nine devices.
SIZES = ["--installers=2", "--distributors=1", "--residents=33", "--devices=99", "--big-residents=30",
         "--big-devices=90", "--password=scale-pass"]


@pytest.fixture
def seeded(db):
    out = io.StringIO()
    call_command("seed_scale", *SIZES, stdout=out)
    assert "Seeded 2 installers, 33 residents, 99 devices" in out.getvalue()
    return {a.username: a for a in Account.objects.filter(username__startswith="scale-installer-")}


def test_residents_have_sip_accounts_and_logins(seeded):
    big = seeded["scale-installer-0000"]
    assert Resident.objects.filter(installer=big).count() == 30
    resident = Resident.objects.select_related("account").get(installer=big, name=resident_name(7))
    sip = SipAccount.objects.get(number=resident.personal_sip)
    assert (sip.kind, sip.installer_id, sip.family_number) == ("personal", big.pk, resident.family_sip)
    assert sip.ha1 == SipAccount.compute_ha1(sip.number, sip.password)
    assert resident.account.role == "resident" and resident.account.username == resident.personal_sip
    assert resident.account.email == resident.email and not is_password_usable(resident.account.password)
    # The counters moved past every number handed out: the next allocation is a fresh number.
    assert SipCounter.objects.get(name="family").last_value >= 33
    assert SipCounter.objects.get(name="account").last_value >= 33 + 99


def test_devices_have_library_entries_and_sip_accounts(seeded):
    big, small = seeded["scale-installer-0000"], seeded["scale-installer-0001"]
    assert IntercomDevice.objects.filter(installer=big).count() == 90
    assert IntercomDevice.objects.filter(installer=small).count() == 9
    device = IntercomDevice.objects.select_related("mac_entry", "owner").get(mac=device_mac(5))
    assert device.mac_entry.installer_id == big.pk and device.mac_entry.distributor_id == big.parent_id
    assert device.owner.installer_id == big.pk
    assert len(device.device_secret) >= 24 and len(device.mqtt_password) >= 24
    sip = SipAccount.objects.get(number=device.sip_number)
    assert (sip.kind, sip.family_number) == ("device", device.owner.family_sip)
    assert MacLibraryEntry.objects.filter(device__isnull=True).count() == 0


def test_refuses_a_second_run(seeded):
    with pytest.raises(CommandError):
        call_command("seed_scale", *SIZES, stdout=io.StringIO())


def _queries(client, path: str) -> int:
    client.get(path)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_list_query_counts_do_not_grow_with_the_rows(seeded, client):
    """The User list and the Device list, plain and searched: 30 rows cost the same queries as 3."""
    counts = {}
    for username in ("scale-installer-0000", "scale-installer-0001"):
        assert client.login(username=username, password="scale-pass")
        installer = seeded[username]
        resident = Resident.objects.filter(installer=installer).order_by("id")[1]
        mac = IntercomDevice.objects.filter(installer=installer).order_by("id").values_list("mac", flat=True)[1]
        pages = {
            "users": "/users/?per_page=50",
            "users by SIP": f"/users/?q={resident.personal_sip}",
            "users by name": "/users/?q=" + resident_name(1).split()[0],
            "devices": "/devices/?per_page=100",
            "devices by MAC": f"/devices/?q={mac}",
            "devices by owner": "/devices/?q=" + resident_name(1).split()[0] + "&per_page=100",
        }
        counts[username] = {name: _queries(client, path) for name, path in pages.items()}
        client.logout()
    assert counts["scale-installer-0000"] == counts["scale-installer-0001"]


def test_device_search_finds_by_owner_name_mac_and_sip(seeded):
    from entryway.devices.selectors import device_list

    big, small = seeded["scale-installer-0000"], seeded["scale-installer-0001"]
    owner = Resident.objects.get(installer=big, name=resident_name(2))
    expected = set(IntercomDevice.objects.filter(owner=owner).values_list("pk", flat=True))
    assert len(expected) == 3
    assert set(device_list(big, q=resident_name(2).lower()).values_list("pk", flat=True)) == expected
    assert not device_list(small, q=resident_name(2)).filter(owner=owner).exists()
    device = IntercomDevice.objects.get(mac=device_mac(40))
    assert list(device_list(big, q=device_mac(40)[-6:].lower())) == [device]
    assert list(device_list(big, q=device.sip_number)) == [device]
