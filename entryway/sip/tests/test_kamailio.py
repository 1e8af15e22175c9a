"""The SIP server for real: Kamailio reads entryway's database; sipp plays devices, apps and a trunk."""
from __future__ import annotations

import datetime
import os
import socket

import pytest
from django.utils import timezone

from entryway.sip.kamailio import KamailioConfig, KamailioProcess, free_port, kamailio_binary
from entryway.sip.models import SipAccount, SipTrunk
from entryway.sip.testing import Sipp, sipp_binary

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.sip]

DOMAIN = "sip.entryway.local"


@pytest.fixture(autouse=True)
def _need_tools():
    missing = [name for name, path in (("kamailio", kamailio_binary()), ("sipp", sipp_binary())) if not path]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{', '.join(missing)} must be installed in CI")
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install kamailio kamailio-sqlite-modules "
                    "kamailio-postgres-modules kamailio-tls-modules sip-tester)")


@pytest.fixture
def kamailio(settings):
    settings.SIP_DOMAIN = DOMAIN
    port = free_port(socket.SOCK_STREAM)
    config = KamailioConfig(udp_port=port, tcp_port=port, tls_port=None, no_answer_seconds=2, pike_density=40)
    process = KamailioProcess(config)
    process.start()
    yield process
    process.stop()


def server(k):
    return (k.config.listen, k.config.udp_port)


@pytest.fixture
def household(make_account, make_resident, activate):
    """An installer's activated household with a family member, a door phone and an indoor monitor."""
    from entryway.devices.models import DeviceModel, IntercomDevice, MacLibraryEntry
    from entryway.residents.services import family_member_create
    from entryway.sip.choices import SipKind
    from entryway.sip.services import sip_account_create

    installer = make_account("installer", username="sip-installer")
    host = make_resident(installer, name="Host", premium_plan=True, landline_service=True,
                         landline_1="+6561110001", landline_2="+6561110002")
    host = activate(host, days=30)
    member = family_member_create(acting_user=installer, resident=host, name="Member")

    def device(model_name, device_type, mac, location):
        model, _ = DeviceModel.objects.get_or_create(name=model_name, defaults={"device_type": device_type})
        entry = MacLibraryEntry.objects.create(mac=mac, installer=installer)
        account = sip_account_create(kind=SipKind.DEVICE, installer=installer, family_number=host.family_sip,
                                     display_name=location)
        return IntercomDevice.objects.create(installer=installer, owner=host, device_model=model, mac=mac,
                                             mac_entry=entry, location=location, sip_number=account.number)

    door = device("R29", "door_phone", "0C1105000001", "Gate")
    monitor = device("IT82", "indoor_monitor", "0C1105000002", "Hall")
    return {"installer": installer, "host": host, "member": member, "door": door, "monitor": monitor}


def creds(number):
    return (number, SipAccount.objects.get(number=number).password)


def register(k, number, password=None, *, contact_port=None, transport="u1", scenario="register.xml"):
    password = password if password is not None else SipAccount.objects.get(number=number).password
    port = free_port(socket.SOCK_STREAM)
    return Sipp(scenario, server=server(k), local_port=port, transport=transport, service=number,
                auth=(number, password), keys={"domain": DOMAIN, "contact_port": contact_port or port}).run()


def phone(scenario, port, transport="u1", delay_ms=0, timeout=20):
    return Sipp(scenario, server=None, local_port=port, transport=transport, keys={"domain": DOMAIN},
                timeout=timeout, pause_ms=delay_ms).start()


def call(k, caller, callee, scenario="call.xml", timeout=20):
    port = free_port(socket.SOCK_STREAM)
    return Sipp(scenario, server=server(k), local_port=port, service=callee, auth=creds(caller),
                keys={"domain": DOMAIN, "caller": caller}, timeout=timeout).run(timeout + 5)


def test_accounts_register_with_generated_credentials(kamailio, household):
    for number in (household["host"].personal_sip, household["member"].personal_sip, household["door"].sip_number):
        result = register(kamailio, number)
        assert result.ok, result.output + kamailio.log()[-2000:]


def test_bad_credentials_unknown_deleted_and_expired_accounts_are_refused(kamailio, household):
    from entryway.residents.services import family_member_delete

    host, member = household["host"], household["member"]
    refused = register(kamailio, host.personal_sip, "wrong-password", scenario="register_refused.xml")
    assert refused.ok, refused.output
    unknown = register(kamailio, "5926199999", "whatever", scenario="register_refused.xml")
    assert unknown.ok, unknown.output

    member_number, member_password = creds(member.personal_sip)
    assert register(kamailio, member_number, member_password).ok
    family_member_delete(acting_user=household["installer"], member=member)
    gone = register(kamailio, member_number, member_password, scenario="register_refused.xml")
    assert gone.ok, gone.output

    # the portal's change is in force at the next REGISTER, without restarting the server
    host.expires_at = timezone.now() - datetime.timedelta(minutes=1)
    host.save(update_fields=["expires_at"])
    expired = register(kamailio, host.personal_sip, scenario="register_refused.xml")
    assert expired.ok, expired.output
    assert "REGISTER for" in kamailio.log() and "refused" in kamailio.log()


def test_register_with_another_numbers_credentials_is_refused(kamailio, household):
    host, member = household["host"], household["member"]
    port = free_port(socket.SOCK_STREAM)
    hijack = Sipp("register_refused.xml", server=server(kamailio), local_port=port, service=host.personal_sip,
                  auth=creds(member.personal_sip), keys={"domain": DOMAIN, "contact_port": port}).run()
    assert hijack.ok, hijack.output + kamailio.log()[-2000:]
    assert f"REGISTER for {host.personal_sip} (auth {member.personal_sip})" in kamailio.log()
    assert "credentials of another number" in kamailio.log()
    assert register(kamailio, host.personal_sip).ok  # the owner of the number still registers


def refused_call(k, caller, callee, auth):
    port = free_port(socket.SOCK_STREAM)
    return Sipp("call_refused.xml", server=server(k), local_port=port, service=callee, auth=auth,
                keys={"domain": DOMAIN, "caller": caller}, timeout=15).run(20)


def test_invite_from_unregistered_or_unauthenticated_source_is_refused_and_logged(kamailio, household):
    door, monitor, member = household["door"], household["monitor"], household["member"]
    # the door phone's credentials are right but it has not registered
    result = refused_call(kamailio, door.sip_number, member.personal_sip, creds(door.sip_number))
    assert result.ok, result.output + kamailio.log()[-2000:]
    assert f"INVITE from unregistered {door.sip_number}" in kamailio.log()
    # wrong password
    result = refused_call(kamailio, door.sip_number, member.personal_sip, (door.sip_number, "wrong-password"))
    assert result.ok, result.output
    assert f"INVITE from {door.sip_number}" in kamailio.log() and "refused: bad credentials" in kamailio.log()
    # a registered account calling in another number's name
    assert register(kamailio, monitor.sip_number).ok
    result = refused_call(kamailio, door.sip_number, member.personal_sip, creds(monitor.sip_number))
    assert result.ok, result.output
    assert "authenticated as another number" in kamailio.log()
    # an unknown number
    result = refused_call(kamailio, "5926199999", member.personal_sip, ("5926199999", "whatever"))
    assert result.ok, result.output

    # nothing else is held up: the door phone registers and its call is answered
    member_port = free_port(socket.SOCK_STREAM)
    assert register(kamailio, member.personal_sip, contact_port=member_port).ok
    assert register(kamailio, door.sip_number).ok
    answering = phone("answer.xml", member_port)
    answered = call(kamailio, door.sip_number, member.personal_sip)
    assert answered.ok, answered.output + kamailio.log()[-3000:]
    assert answering.wait(20).ok


def test_family_call_forks_to_household_and_first_answer_wins(kamailio, household):
    host, member, door, monitor = household["host"], household["member"], household["door"], household["monitor"]
    host.landline_service = False
    host.save(update_fields=["landline_service"])
    host_port, member_port, monitor_port = (free_port(socket.SOCK_STREAM) for _ in range(3))
    assert register(kamailio, host.personal_sip, contact_port=host_port).ok
    assert register(kamailio, member.personal_sip, contact_port=member_port).ok
    assert register(kamailio, monitor.sip_number, contact_port=monitor_port).ok
    assert register(kamailio, door.sip_number).ok

    answering = phone("answer.xml", member_port, delay_ms=300)
    ringing_host = phone("ring_cancelled.xml", host_port)
    ringing_monitor = phone("ring_cancelled.xml", monitor_port)
    result = call(kamailio, door.sip_number, host.family_sip)
    assert result.ok, result.output + kamailio.log()[-3000:]
    for p in (answering, ringing_host, ringing_monitor):
        outcome = p.wait(20)
        assert outcome.ok, outcome.output
        assert f"INVITE sip:{p.args[p.args.index('-p') + 1]}" not in outcome.output  # sanity: each got its INVITE


def test_personal_call_rings_that_person_alone(kamailio, household):
    host, member, door = household["host"], household["member"], household["door"]
    host_port, member_port = free_port(socket.SOCK_STREAM), free_port(socket.SOCK_STREAM)
    assert register(kamailio, host.personal_sip, contact_port=host_port).ok
    assert register(kamailio, member.personal_sip, contact_port=member_port).ok
    assert register(kamailio, door.sip_number).ok
    answering = phone("answer.xml", member_port)
    bystander = phone("answer.xml", host_port, timeout=4)
    result = call(kamailio, door.sip_number, member.personal_sip)
    assert result.ok, result.output + kamailio.log()[-3000:]
    assert answering.wait(20).ok
    assert "INVITE" not in bystander.wait(10).messages


def test_call_to_another_installers_number_is_refused(kamailio, household, make_account, make_resident):
    other = make_account("installer", username="sip-other")
    foreign = make_resident(other, name="Foreign")
    door = household["door"]
    assert register(kamailio, door.sip_number).ok
    result = call(kamailio, door.sip_number, foreign.family_sip, scenario="call_refused.xml")
    assert result.ok, result.output + kamailio.log()[-3000:]
    result = call(kamailio, door.sip_number, foreign.personal_sip, scenario="call_refused.xml")
    assert result.ok, result.output
    assert "another installer's number" in kamailio.log()


def test_unanswered_family_call_goes_on_to_the_landlines_in_turn(kamailio, household):
    host, door = household["host"], household["door"]
    host_port = free_port(socket.SOCK_STREAM)
    trunk_port = free_port(socket.SOCK_STREAM)
    SipTrunk.objects.create(name="Test trunk", host="127.0.0.1", port=trunk_port)
    assert register(kamailio, host.personal_sip, contact_port=host_port).ok
    assert register(kamailio, door.sip_number).ok

    # nobody at home answers within the no-answer time; the 1st landline is busy, the 2nd answers
    nobody_home = phone("ring_cancelled.xml", host_port)
    trunk = phone("trunk.xml", trunk_port, timeout=25)
    result = call(kamailio, door.sip_number, host.family_sip, timeout=25)
    seen = trunk.wait(20)
    assert result.ok, result.output + seen.output + seen.messages
    assert nobody_home.wait(20).ok
    assert seen.ok, seen.output
    first = seen.messages.index("INVITE sip:+6561110001@127.0.0.1")
    second = seen.messages.index("INVITE sip:+6561110002@127.0.0.1")
    assert first < second


def test_no_landline_fall_back_without_landline_service(kamailio, household):
    host, door = household["host"], household["door"]
    host.landline_service = False
    host.save(update_fields=["landline_service"])
    trunk_port = free_port(socket.SOCK_STREAM)
    SipTrunk.objects.create(name="Test trunk", host="127.0.0.1", port=trunk_port)
    assert register(kamailio, door.sip_number).ok
    trunk = phone("answer.xml", trunk_port, timeout=6)
    result = call(kamailio, door.sip_number, host.family_sip, timeout=8)
    assert not result.ok and "480" in result.output
    assert "INVITE" not in trunk.wait(10).messages


@pytest.fixture
def kamailio_tls(settings, tmp_path):
    from entryway.sip.testing import self_signed_certificate

    settings.SIP_DOMAIN = DOMAIN
    cert, key = self_signed_certificate(tmp_path, DOMAIN)
    port, tls_port = free_port(socket.SOCK_STREAM), free_port(socket.SOCK_STREAM)
    process = KamailioProcess(KamailioConfig(udp_port=port, tcp_port=port, tls_port=tls_port,
                                             tls_certificate=cert, tls_private_key=key))
    process.start()
    yield process
    process.stop()


def test_registers_over_udp_tcp_and_tls(kamailio_tls, household):
    from entryway.sip.testing import register_over_stream

    k = kamailio_tls
    door, monitor, host = household["door"], household["monitor"], household["host"]
    assert register(k, door.sip_number, transport="u1").ok
    number, password = creds(monitor.sip_number)
    assert register_over_stream("127.0.0.1", k.config.tcp_port, number, password, DOMAIN, tls=False) == 200
    number, password = creds(host.personal_sip)
    assert register_over_stream("127.0.0.1", k.config.tls_port, number, password, DOMAIN, tls=True) == 200
    assert register_over_stream("127.0.0.1", k.config.tls_port, number, "wrong", DOMAIN, tls=True) == 403


@pytest.fixture
def kamailio_strict(settings):
    """A server with a low flood threshold (10 requests in 2 s), so that even a slowed-down flood trips it."""
    settings.SIP_DOMAIN = DOMAIN
    port = free_port(socket.SOCK_STREAM)
    process = KamailioProcess(KamailioConfig(udp_port=port, tcp_port=port, tls_port=None, pike_density=10))
    process.start()
    yield process
    process.stop()


def test_register_flood_from_one_address_is_cut_off_and_others_are_served(kamailio_strict, household):
    k = kamailio_strict
    door, host = household["door"], household["host"]
    flood = Sipp("register.xml", server=server(k), local_port=free_port(socket.SOCK_STREAM),
                 local_ip="127.0.0.2", service=door.sip_number, auth=creds(door.sip_number),
                 keys={"domain": DOMAIN, "contact_port": 5999}, calls=400, rate=400, timeout=10).run(30)
    assert not flood.ok, flood.output[-2000:]  # many of the flood's requests were dropped
    assert "request flood from 127.0.0.2" in k.log(), k.log()[-3000:]
    # another address registers normally meanwhile
    assert register(k, host.personal_sip).ok
