"""AutoP files: contents per device, credentials, and the same 404 for any MAC that is not yours."""
from __future__ import annotations

import datetime
import re

import pytest
from django.utils import timezone

from entryway.core.models import AuditLog
from entryway.deviceapi.autop import autop_errors, render_autop, utc_offset_label
from entryway.deviceapi.choices import ActionStatus
from entryway.deviceapi.services import (
    action_create,
    action_record_result,
    autop_credential_get_or_create,
    autop_credential_rotate,
    device_settings_update,
)
from entryway.deviceapi.tests.conftest import basic
from entryway.devices.models import IntercomDevice, MacLibraryEntry
from entryway.sip.models import SipAccount

pytestmark = pytest.mark.django_db


# Platform keys have two or three parts after "Config" (Config.Firmware.Url); commands have three.
FILE_LINE_RE = re.compile(r"^Config(\.[A-Za-z0-9_]+){2,3} = [^\r\n]*$")


def settings_of(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        assert FILE_LINE_RE.match(line), line
        key, _sep, value = line.partition(" = ")
        out[key] = value
    return out


@pytest.fixture
def installer_headers(installer):
    credential = autop_credential_get_or_create(installer=installer)
    return basic(credential.username, credential.password)


def fetch(client, mac, headers):
    return client.get(f"/autop/{mac}.cfg", headers=headers)


def test_file_carries_sip_location_relays_time_and_cloud_settings(client, device, installer_headers, settings):
    response = fetch(client, device.mac, installer_headers)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    text = response.content.decode()
    assert text.startswith(f"# entryway AutoP file for {device.mac}")
    values = settings_of(text)
    sip = SipAccount.objects.get(number=device.sip_number)
    assert values["Config.Account1.GENERAL.Enable"] == "1"
    assert values["Config.Account1.GENERAL.Label"] == "Gate"
    assert values["Config.Account1.GENERAL.DisplayName"] == "Gate"
    assert values["Config.Account1.GENERAL.UserName"] == sip.number
    assert values["Config.Account1.GENERAL.AuthName"] == sip.number
    assert values["Config.Account1.GENERAL.Pwd"] == sip.password
    assert values["Config.Account1.SIP.Server"] == "sip.example.com"
    assert values["Config.Account1.SIP.Port"] == "5060"
    assert values["Config.Account1.SIP.TransType"] == "0"  # UDP by default
    assert values["Config.DoorSetting.DEVICENODE.Location"] == "Gate"
    assert values["Config.DoorSetting.RELAY.NameA"] == "Front door"
    assert values["Config.DoorSetting.RELAY.DTMFA"] == "#"
    assert values["Config.DoorSetting.DTMF.Code1"] == "#"
    assert values["Config.DoorSetting.RELAY.NameB"] == "Garage"
    assert values["Config.DoorSetting.DTMF.Code2"] == "2"
    assert "Config.DoorSetting.RELAY.NameC" not in values
    assert values["Config.Settings.SNTP.Name"] == "Europe/Berlin"
    assert values["Config.Settings.SNTP.TimeZone"] == utc_offset_label("Europe/Berlin")
    assert values["Config.Settings.SNTP.TimeZone"] in {"+1", "+2"}
    assert values["Config.Settings.SNTP.NTPServer1"] == settings.NTP_SERVER
    assert values["Config.Entryway.CLOUD.Server"] == "https://cloud.example.com"
    assert values["Config.Entryway.CLOUD.DeviceSecret"] == device.device_secret
    assert values["Config.Entryway.CLOUD.PollInterval"] == "60"
    # no broker configured: no MQTT lines; no upgrade: no firmware URL
    assert not any(k.startswith("Config.Entryway.MQTT") for k in values)
    assert "Config.Firmware.Url" not in values


def test_connect_type_is_the_sip_transport(device, installer):
    for connect_type, trans in (("tcp", "1"), ("tls", "2"), ("udp", "0")):
        device_settings_update(acting_user=installer, device=device, connect_type=connect_type, autop_commands="")
        assert settings_of(render_autop(device))["Config.Account1.SIP.TransType"] == trans


def test_sip_server_setting_wins_over_the_domain(device, settings):
    settings.SIP_SERVER = "10.0.0.5"
    settings.SIP_PORT = 5070
    values = settings_of(render_autop(device))
    assert (values["Config.Account1.SIP.Server"], values["Config.Account1.SIP.Port"]) == ("10.0.0.5", "5070")


def test_device_without_active_sip_account_has_account1_disabled(device):
    SipAccount.objects.filter(number=device.sip_number).update(is_active=False)
    values = settings_of(render_autop(device))
    assert values["Config.Account1.GENERAL.Enable"] == "0"
    assert "Config.Account1.GENERAL.Pwd" not in values


def test_mqtt_lines_when_a_broker_is_configured(device, settings):
    settings.MQTT_URL = "mqtt://platform:s3cret@broker.internal:1883"
    settings.MQTT_DEVICE_URL = ""
    values = settings_of(render_autop(device))
    assert values["Config.Entryway.MQTT.Enable"] == "1"
    assert values["Config.Entryway.MQTT.Url"] == "mqtt://broker.internal:1883"  # never the platform's password
    assert values["Config.Entryway.MQTT.Username"] == device.mac
    assert values["Config.Entryway.MQTT.Password"] == device.mqtt_password
    assert values["Config.Entryway.MQTT.Topic"] == f"entryway/device/{device.mac}/cmd"
    settings.MQTT_DEVICE_URL = "mqtts://mqtt.example.com"
    assert settings_of(render_autop(device))["Config.Entryway.MQTT.Url"] == "mqtts://mqtt.example.com:8883"


def test_regular_one_time_and_firmware_lines(device, installer):
    device_settings_update(acting_user=installer, device=device, connect_type="udp",
                           autop_commands="# time\nConfig.Settings.DATETIME.TimeFormat = 1\n")
    once = action_create(device=device, kind="autop", payload={"lines": ["Config.Settings.DATETIME.DateFormat = 2"]})
    upgrade = action_create(device=device, kind="upgrade",
                            payload={"version": "29.30.2.806", "url": "https://cloud.example.com/fw/1.rom",
                                     "sha256": "ab" * 32, "size": 10})
    text = render_autop(device)
    values = settings_of(text)
    assert values["Config.Settings.DATETIME.TimeFormat"] == "1"
    assert values["Config.Settings.DATETIME.DateFormat"] == "2"
    assert values["Config.Firmware.Url"] == "https://cloud.example.com/fw/1.rom"
    assert f"# One Time AutoP (action {once.pk})" in text
    # Regular and One Time lines come last: they override the platform's values
    lines = text.strip().splitlines()
    assert lines[-1] == "Config.Settings.DATETIME.DateFormat = 2"
    # confirmed / finished: gone from the file; the Regular command stays
    action_record_result(action=once, status="success")
    action_record_result(action=upgrade, status="failure", detail="sha256 mismatch")
    values = settings_of(render_autop(device))
    assert "Config.Settings.DATETIME.DateFormat" not in values
    assert "Config.Firmware.Url" not in values
    assert values["Config.Settings.DATETIME.TimeFormat"] == "1"


def test_expired_one_time_autop_is_not_in_the_file(device):
    action_create(device=device, kind="autop", payload={"lines": ["Config.A.B.C = 1"]},
                  expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert "Config.A.B.C" not in render_autop(device)


def test_values_never_break_lines(make_device, installer):
    device = make_device(installer, location="Gate\nConfig.Evil.X.Y = 1")
    text = render_autop(device)
    assert "\nConfig.Evil" not in text
    settings_of(text)  # every line still parses


def test_same_configuration_gives_the_same_file(device):
    assert render_autop(device) == render_autop(IntercomDevice.objects.get(pk=device.pk))


# --- credentials ----------------------------------------------------------------------------------

def test_device_credentials_also_fetch_its_own_file(client, device, make_device, installer):
    assert fetch(client, device.mac, basic(device.mac, device.device_secret)).status_code == 200
    sibling = make_device(installer)
    # a device's own credentials do not fetch another device's file
    assert fetch(client, sibling.mac, basic(device.mac, device.device_secret)).status_code == 404


def test_wrong_credentials_are_401(client, device, installer_headers, installer):
    credential = autop_credential_get_or_create(installer=installer)
    for headers in ({}, basic(credential.username, "wrong"), basic("nobody", "x"), basic(device.mac, "wrong"),
                    {"Authorization": "Basic ???"}):
        response = fetch(client, device.mac, headers)
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Basic")


def test_unknown_unbound_and_foreign_macs_answer_the_same_404(client, installer, other_installer, make_device,
                                                             installer_headers):
    foreign = make_device(other_installer)
    MacLibraryEntry.objects.create(mac="0C11DAFFFFFE", installer=installer)  # in the library, not bound
    answers = {fetch(client, mac, installer_headers).content for mac in (foreign.mac, "0C11DAFFFFFE", "0C11DAFFFFFF")}
    assert len(answers) == 1
    assert fetch(client, foreign.mac, installer_headers).status_code == 404


def test_malformed_mac_is_a_clear_400(client, device, installer_headers):
    for bad in ("nothex", "0C11", "0C110512BC97XX", "0C:11:05:12:BC-97"):
        response = fetch(client, bad, installer_headers)
        assert response.status_code == 400
        assert b"MAC" in response.content


def test_other_mac_notations_in_the_url(client, device, installer_headers):
    dashed = "-".join(device.mac[i:i + 2] for i in range(0, 12, 2)).lower()
    assert fetch(client, dashed, installer_headers).status_code == 200


def test_rotation_makes_a_new_password_and_is_audited(client, device, installer):
    old = autop_credential_get_or_create(installer=installer)
    old_password = old.password
    new = autop_credential_rotate(acting_user=installer, installer=installer)
    assert new.username == old.username and new.password != old_password and new.rotated_at
    assert fetch(client, device.mac, basic(old.username, old_password)).status_code == 401
    assert fetch(client, device.mac, basic(new.username, new.password)).status_code == 200
    row = AuditLog.objects.get(action="autop_credential.rotate")
    assert row.installer_id == installer.pk and new.password not in str(row.after)


def test_credentials_of_a_deactivated_installer_no_longer_work(client, device, installer, installer_headers):
    installer.is_active = False
    installer.save(update_fields=["is_active"])
    assert fetch(client, device.mac, installer_headers).status_code == 401


def test_password_is_encrypted_at_rest(installer):
    from django.db import connection

    credential = autop_credential_get_or_create(installer=installer)
    with connection.cursor() as cursor:
        cursor.execute("SELECT password FROM deviceapi_autopcredential WHERE id = %s", [credential.pk])
        stored = cursor.fetchone()[0]
    assert credential.password not in stored


# --- config version -------------------------------------------------------------------------------

def test_config_version_follows_the_file(client, device, installer, device_headers):
    def version():
        return client.post("/device/v1/checkin", {}, content_type="application/json",
                           headers=device_headers).json()["config_version"]

    v1 = version()
    assert version() == v1
    device_settings_update(acting_user=installer, device=device, connect_type="tls", autop_commands="")
    v2 = version()
    assert v2 != v1
    relay = device.relays.get(index=1)
    relay.name = "Main door"
    relay.save()
    v3 = version()
    assert v3 != v2
    once = action_create(device=device, kind="autop", payload={"lines": ["Config.A.B.C = 1"]})
    v4 = version()
    assert v4 != v3
    action_record_result(action=once, status="success")
    assert version() == v3
    SipAccount.objects.get(number=device.sip_number).save()  # same password: same file
    assert version() == v3


def test_autop_line_checker():
    assert autop_errors("Config.Settings.DATETIME.TimeFormat = 1\n# comment\n\nConfig.A.B.C =") == []
    errors = autop_errors("Config.A.B.C = 1\nConfig Setting DATETIME.TimeFormat=1\nConfig.A = 2\nConfig.Firmware.Url = x")
    assert [e.line_number for e in errors] == [2, 3]  # two-part keys (Config.Firmware.Url) are Akuvox's too


def test_finished_actions_status(device):
    action = action_create(device=device, kind="autop", payload={"lines": ["Config.A.B.C = 1"]})
    action_record_result(action=action, status="success")
    action.refresh_from_db()
    assert action.status == ActionStatus.SUCCESS
