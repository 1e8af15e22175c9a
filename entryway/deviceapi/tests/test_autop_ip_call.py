"""SIP Call or IP Call: the AutoP lines that set direct IP calling, or calls through the SIP server."""
from __future__ import annotations

import pytest

from entryway.deviceapi.autop import AUTOP_LINE_RE, autop_errors, config_version, render_autop
from entryway.deviceapi.services import device_checkin
from entryway.deviceapi.tests.conftest import basic
from entryway.devices.models import IntercomDevice
from entryway.residents.services import resident_update
from entryway.sim.autop import call_setup, parse_autop
from entryway.sip.models import SipAccount

pytestmark = pytest.mark.django_db

DIRECT_IP = "Config.Settings.GENERAL.DirectIP"
BUTTON = "Config.Programable.SOFTKEY01.Param1"
COUNT = "Config.Entryway.IPCALL.Count"


@pytest.fixture
def household(installer, make_resident, make_device):
    """An IP-call household: a door phone, two indoor monitors (one not seen yet) and an access control."""
    owner = make_resident(installer, name="Villa", call_type="ip", time_zone="Europe/Berlin")
    door = make_device(installer, owner=owner, location="Gate", ip_address="192.168.1.20")
    hall = make_device(installer, owner=owner, model="IT82", device_type="indoor_monitor", location="Hall",
                       ip_address="192.168.1.21")
    kitchen = make_device(installer, owner=owner, model="IT82", device_type="indoor_monitor",
                          location="Kitchen", ip_address="192.168.1.22")
    attic = make_device(installer, owner=owner, model="IT82", device_type="indoor_monitor", location="Attic")
    garage = make_device(installer, owner=owner, model="A05", device_type="access_control", location="Garage",
                         ip_address="192.168.1.30")
    return {"owner": owner, "door": door, "hall": hall, "kitchen": kitchen, "attic": attic, "garage": garage}


def values(device) -> dict[str, str]:
    return parse_autop(render_autop(IntercomDevice.objects.select_related("owner", "device_model").get(pk=device.pk)),
                       strict=True)


def contacts(config) -> list[tuple[str, str, str]]:
    return [(c.name, c.address, c.device_type) for c in call_setup(config).contacts]


def test_ip_call_door_phone_calls_the_indoor_monitors_by_ip_without_registering(household):
    door = household["door"]
    config = values(door)
    assert config[DIRECT_IP] == "1"
    assert config["Config.Settings.GENERAL.DirectIPPort"] == "5060"
    # the call button rings the indoor monitors that reported an address, at once
    assert config[BUTTON] == "192.168.1.21;192.168.1.22"
    # the household's other devices, indoor monitors first; the monitor never seen has no address yet
    assert contacts(config) == [("Hall", "192.168.1.21", "indoor_monitor"),
                                ("Kitchen", "192.168.1.22", "indoor_monitor"),
                                ("Garage", "192.168.1.30", "access_control")]
    assert config[COUNT] == "3"
    # no SIP registration: account 1 is off and its credentials are not handed out
    assert config["Config.Account1.GENERAL.Enable"] == "0"
    password = SipAccount.objects.get(number=door.sip_number).password
    text = render_autop(door)
    assert password not in text and "Config.Account1.SIP.Server" not in text
    assert "Config.Account1.GENERAL.UserName" not in text
    setup = call_setup(config)
    assert setup.mode == "ip" and not setup.sip_registration
    assert setup.call_button == ("192.168.1.21", "192.168.1.22")


def test_ip_call_indoor_monitor_lists_the_others_but_not_itself(household):
    config = values(household["hall"])
    assert config[DIRECT_IP] == "1"
    assert contacts(config) == [("Kitchen", "192.168.1.22", "indoor_monitor"),
                                ("Gate", "192.168.1.20", "door_phone"),
                                ("Garage", "192.168.1.30", "access_control")]
    assert "192.168.1.21" not in render_autop(household["hall"])
    assert BUTTON not in config  # only door phones have the call button
    assert config["Config.Account1.GENERAL.Enable"] == "0"


def test_sip_call_registers_account1_and_the_door_phone_dials_the_family_number(household, installer):
    owner, door = household["owner"], household["door"]
    resident_update(acting_user=installer, resident=owner, call_type="sip")
    owner.refresh_from_db()
    config = values(door)
    account = SipAccount.objects.get(number=door.sip_number)
    assert config["Config.Account1.GENERAL.Enable"] == "1"
    assert config["Config.Account1.GENERAL.UserName"] == door.sip_number
    assert config["Config.Account1.GENERAL.Pwd"] == account.password
    assert config["Config.Account1.SIP.Server"] == "sip.example.com"
    assert config[DIRECT_IP] == "0"
    assert config[COUNT] == "0"
    assert config[BUTTON] == owner.family_sip
    assert "192.168.1.2" not in render_autop(door)
    setup = call_setup(config)
    assert setup.mode == "sip" and setup.sip_registration and setup.call_button == (owner.family_sip,)
    monitor = values(household["hall"])
    assert monitor["Config.Account1.GENERAL.Enable"] == "1" and monitor[DIRECT_IP] == "0"
    assert BUTTON not in monitor


def test_switching_the_call_type_changes_every_devices_config_version(household, installer, client):
    owner = household["owner"]
    devices = [household[name] for name in ("door", "hall", "kitchen", "attic", "garage")]
    ip_versions = {d.pk: config_version(d.pk) for d in devices}  # cached now

    resident_update(acting_user=installer, resident=owner, call_type="sip")
    sip_versions = {d.pk: config_version(d.pk) for d in devices}
    assert all(sip_versions[pk] != ip_versions[pk] for pk in ip_versions)

    # the check-in hands the new version out, and the next fetch is the SIP-call file
    door = household["door"]
    headers = basic(door.mac, door.device_secret)
    answer = client.post("/device/v1/checkin", data="{}", content_type="application/json", headers=headers)
    assert answer.json()["config_version"] == sip_versions[door.pk]
    fetched = parse_autop(client.get(f"/autop/{door.mac}.cfg", headers=headers).content.decode(), strict=True)
    assert fetched["Config.Account1.GENERAL.Enable"] == "1" and fetched[DIRECT_IP] == "0"

    resident_update(acting_user=installer, resident=owner, call_type="ip")
    assert {d.pk: config_version(d.pk) for d in devices} == ip_versions


def test_a_new_address_from_check_in_reaches_the_other_devices_files(household):
    door, hall = household["door"], household["hall"]
    before = config_version(door.pk)
    hall_row = IntercomDevice.objects.get(pk=hall.pk)
    device_checkin(device=hall_row, report={"ip": "192.168.1.41"})
    assert config_version(door.pk) != before
    assert values(door)[BUTTON] == "192.168.1.41;192.168.1.22"
    # the same address again changes nothing
    again = config_version(door.pk)
    device_checkin(device=IntercomDevice.objects.get(pk=hall.pk), report={"ip": "192.168.1.41"})
    assert config_version(door.pk) == again


def test_with_sip_call_a_new_address_leaves_the_other_files_cached(household, installer):
    """Only IP call puts the household's addresses in the files: with SIP call nothing else is rendered again."""
    from entryway.deviceapi.autop import cached_version

    door, hall = household["door"], household["hall"]
    resident_update(acting_user=installer, resident=household["owner"], call_type="sip")
    before = config_version(door.pk)
    device_checkin(device=IntercomDevice.objects.get(pk=hall.pk), report={"ip": "192.168.1.42"})
    assert cached_version(door.pk) == before


def test_adding_or_removing_a_device_changes_the_others_files(household, installer, make_device):
    door, owner = household["door"], household["owner"]
    before = config_version(door.pk)
    study = make_device(installer, owner=owner, model="IT82", device_type="indoor_monitor", location="Study",
                        ip_address="192.168.1.23")
    with_study = config_version(door.pk)
    assert with_study != before
    assert values(door)[BUTTON] == "192.168.1.21;192.168.1.22;192.168.1.23"
    study.delete()
    assert config_version(door.pk) == before


def test_a_device_moved_to_another_user_leaves_the_old_households_files(household, installer, make_resident):
    """The owner is not a field of the Device form, but the admin site can change it."""
    door, hall = household["door"], household["hall"]
    assert "192.168.1.21" in values(door)[BUTTON]
    before = config_version(door.pk)
    neighbour = make_resident(installer, name="Neighbour", call_type="ip")
    row = IntercomDevice.objects.get(pk=hall.pk)
    row.owner = neighbour
    row.save()
    assert config_version(door.pk) != before
    assert values(door)[BUTTON] == "192.168.1.22"


def test_other_households_devices_are_never_listed(household, installer, make_resident, make_device):
    neighbour = make_resident(installer, name="Neighbour", call_type="ip")
    make_device(installer, owner=neighbour, model="IT82", device_type="indoor_monitor", location="Next door",
                ip_address="192.168.1.99")
    assert "192.168.1.99" not in render_autop(household["door"])


def test_every_line_passes_the_autop_line_checker_and_the_simulator_reads_them(household, installer):
    for mode in ("ip", "sip"):
        resident_update(acting_user=installer, resident=household["owner"], call_type=mode)
        for name in ("door", "hall", "garage"):
            text = render_autop(IntercomDevice.objects.select_related("owner", "device_model")
                                .get(pk=household[name].pk))
            assert autop_errors(text) == [], (mode, name)
            parse_autop(text, strict=True)


def test_line_checker_accepts_two_and_three_part_keys():
    assert AUTOP_LINE_RE.match("Config.Firmware.Url = https://example.com/fw.rom")
    assert AUTOP_LINE_RE.match("Config.Programable.SOFTKEY01.Param1 = 192.168.1.21;192.168.1.22")
    assert AUTOP_LINE_RE.match("Config.Entryway.IPCALL.Address1 = fd00::21")
    assert autop_errors("Config.Firmware.Url = http://x/fw.rom\nConfig.Contact.Url =\n") == []
    errors = autop_errors("Config.Firmware = 1\nConfig.A.B.C.D.E = 1\nFirmware.Url = x")
    assert [e.line_number for e in errors] == [1, 2, 3]


def test_simulator_applying_a_sip_file_on_top_of_an_ip_file_keeps_no_stale_contact(household, installer):
    door = household["door"]
    config = values(door)  # the IP-call file: three contacts
    resident_update(acting_user=installer, resident=household["owner"], call_type="sip")
    config.update(values(door))  # a device applies the new file on top of what it has
    assert "Config.Entryway.IPCALL.Address1" in config  # left over, but no longer a contact
    setup = call_setup(config)
    assert setup.mode == "sip" and setup.contacts == () and setup.sip_registration
    assert setup.call_button == (household["owner"].family_sip,)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_simulated_household_follows_the_users_call_type(live_server, settings, installer, make_resident,
                                                         make_device):
    """Simulated devices check in with their LAN addresses, fetch the IP-call files, then the SIP-call files."""
    from django.core.cache import cache

    from entryway.deviceapi.services import autop_credential_get_or_create
    from entryway.sim import DeviceSpec, Fleet, FleetThread

    settings.PUBLIC_BASE_URL = live_server.url
    settings.DEVICE_POLL_INTERVAL = 1
    cache.clear()
    owner = make_resident(installer, name="Villa", call_type="ip")
    door = make_device(installer, owner=owner, location="Gate")
    hall = make_device(installer, owner=owner, model="IT82", device_type="indoor_monitor", location="Hall")
    credential = autop_credential_get_or_create(installer=installer)
    specs = [DeviceSpec(door.mac, model="R29", firmware="29.30.2.805", ip="10.0.7.20"),
             DeviceSpec(hall.mac, model="IT82", firmware="29.30.2.805", ip="10.0.7.21")]
    fleet = Fleet(live_server.url, specs, autop_user=credential.username, autop_password=credential.password,
                  poll_interval=0.3, mqtt=False, seed=3)
    runner = FleetThread(fleet).start()
    try:
        sim_door, sim_hall = fleet.device(door.mac), fleet.device(hall.mac)
        assert runner.wait_until(lambda f: call_setup(sim_door.config).call_button == ("10.0.7.21",)
                                 and call_setup(sim_hall.config).contacts, timeout=15), sim_door.config
        assert call_setup(sim_door.config).mode == "ip" and not call_setup(sim_door.config).sip_registration
        assert [c.address for c in call_setup(sim_hall.config).contacts] == ["10.0.7.20"]

        resident_update(acting_user=installer, resident=owner, call_type="sip")
        assert runner.wait_until(lambda f: call_setup(sim_door.config).mode == "sip"
                                 and call_setup(sim_hall.config).mode == "sip", timeout=15)
        setup = call_setup(sim_door.config)
        assert setup.sip_registration and setup.contacts == () and setup.call_button == (owner.family_sip,)
        assert sim_door.config["Config.Account1.GENERAL.UserName"] == door.sip_number
    finally:
        runner.stop()


def test_an_ip_call_file_costs_no_more_queries_than_a_sip_call_file(household, installer, django_assert_num_queries):
    def loaded():
        return (IntercomDevice.objects.select_related("owner", "device_model", "installer")
                .prefetch_related("relays").get(pk=household["door"].pk))

    for mode in ("sip", "ip"):
        resident_update(acting_user=installer, resident=household["owner"], call_type=mode)
        device = loaded()
        # SIP call: the SIP account and the open actions; IP call: the household's devices and the open actions
        with django_assert_num_queries(2):
            render_autop(device)
