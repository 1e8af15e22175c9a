"""Two distributors, each with two installers holding a full set of data, plus residents and an admin.

Every name an installer's data carries includes that installer's marker (``MkA1x`` …), so a page or
an API answer that shows another tenant's data is found by looking for the other markers.
"""
from __future__ import annotations

import base64
import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.files.base import ContentFile
from django.utils import timezone

PASSWORD = "isolation-pass-1"
TENANTS = ("A1", "A2", "B1", "B2")


def marker(key: str) -> str:
    return f"Mk{key}x"


@dataclass
class Tenant:
    key: str
    installer: object
    distributor: object
    residents: list = field(default_factory=list)
    resident_account: object = None
    members: list = field(default_factory=list)
    devices: list = field(default_factory=list)
    device_secrets: dict = field(default_factory=dict)
    cameras: list = field(default_factory=list)
    macs: list = field(default_factory=list)
    free_mac: object = None
    strategy: object = None
    message: object = None
    inbox_item: object = None
    order: object = None
    ticket: object = None
    action: object = None
    mac_import: object = None
    api_token: object = None
    api_raw: str = ""
    autop: tuple = ("", "")
    coupon: object = None
    alert: object = None
    job: object = None
    remote: object = None

    @property
    def marker(self) -> str:
        return marker(self.key)

    @property
    def resident(self):
        return self.residents[0]

    @property
    def device(self):
        return self.devices[0]

    @property
    def camera(self):
        return self.cameras[0]

    @property
    def member(self):
        return self.members[0]

    def device_auth(self) -> str:
        device = self.device
        raw = f"{device.mac}:{self.device_secrets[device.pk]}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def autop_auth(self) -> str:
        user, password = self.autop
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def texts(self) -> list[str]:
        """Strings only this tenant's data holds: the marker and the MAC addresses in both spellings."""
        out = [self.marker]
        for entry in self.macs:
            mac = entry.mac
            out += [mac, ":".join(mac[i:i + 2] for i in range(0, 12, 2))]
        for resident in self.residents:
            out += [resident.personal_sip, resident.family_sip]
        return out


@dataclass
class World:
    admin: object
    distributors: dict
    tenants: dict
    firmware: object

    def __getitem__(self, key: str) -> Tenant:
        return self.tenants[key]


def _mac(prefix: int, tenant_index: int, n: int) -> str:
    return f"0C11{prefix:02X}{tenant_index:02X}{n:04X}"


def build_world() -> World:
    from entryway.accounts.models import Account
    from entryway.accounts.services import api_token_create
    from entryway.billing import services as billing
    from entryway.dashboard.models import Alert
    from entryway.deviceapi.services import (
        action_record_result,
        autop_credential_get_or_create,
        device_credentials_ensure,
        device_reboot,
    )
    from entryway.devices.models import DeviceModel, IntercomDevice
    from entryway.devices.services import (
        camera_create,
        device_create,
        mac_add,
        mac_assign,
        mac_import_run,
        mac_import_start,
    )
    from entryway.firmware.services import firmware_upload, strategy_create
    from entryway.messaging.models import InboxItem
    from entryway.messaging.services import message_create
    from entryway.portals.services import ticket_create, ticket_reply
    from entryway.residents import services as residents

    now = timezone.now()
    admin = Account.objects.create_superuser("iso-admin", "iso-admin@example.com", PASSWORD, name="Iso Admin")
    billing.price_list_set(acting_user=admin, distributor=None, currency="USD", activation_fee="2.00",
                           renewal_fee="1.00", additional_app_fee="1.00", premium_plan_fee="0.50")
    r29 = DeviceModel.objects.get_or_create(name="R29", defaults={"device_type": "door_phone"})[0]
    it82 = DeviceModel.objects.get_or_create(name="IT82", defaults={"device_type": "indoor_monitor"})[0]
    firmware = firmware_upload(acting_user=admin, file=ContentFile(b"ENTRYWAY-FW\x00" + b"\x01" * 2048,
                                                                    name="R29_29.30.9.901.rom"),
                               version="29.30.9.901", device_models=[r29])
    distributors, tenants = {}, {}
    for d_index, d in enumerate(("A", "B")):
        dist = Account.objects.create_user(
            f"iso-dist-{d.lower()}", f"dist-{d.lower()}@example.com", PASSWORD, role="distributor",
            name=f"Distributor {marker(d)}", account_access_enabled=True)
        distributors[d] = dist
        for n in (1, 2):
            key = f"{d}{n}"
            t_index = d_index * 2 + n
            mk = marker(key)
            inst = Account.objects.create_user(
                f"iso-inst-{key.lower()}", f"inst-{key.lower()}@example.com", PASSWORD, role="installer",
                parent=dist, name=f"Installer {mk}", permission_granted=True)
            t = Tenant(key=key, installer=inst, distributor=dist)
            for r in (1, 2):
                resident = residents.resident_create(
                    acting_user=inst, installer=inst, name=f"Resident {mk} {r}", room_name=f"Room {mk} {r}",
                    email=f"res{r}-{key.lower()}@example.com", premium_plan=True)
                if r == 1:
                    resident = residents.resident_activate(resident=resident, until=now + datetime.timedelta(days=90),
                                                           acting_user=inst)
                t.residents.append(resident)
            t.resident_account = t.residents[0].account
            t.resident_account.set_password(PASSWORD)
            t.resident_account.save()
            t.members.append(residents.family_member_create(
                acting_user=inst, resident=t.residents[0], name=f"Member {mk}", email=f"member-{key.lower()}@example.com"))
            # MAC Library: two used by devices, one free; the distributor's register gets one more.
            for m in range(3):
                t.macs.append(mac_add(acting_user=inst, mac=_mac(0xA0, t_index, m)))
            t.free_mac = t.macs[2]
            for m, (model, location) in enumerate(((r29, f"Gate {mk}"), (it82, f"Hall {mk}"))):
                device = device_create(acting_user=inst, owner=t.residents[0], device_model=model.name,
                                       mac=t.macs[m].mac, location=location,
                                       relays=[{"enabled": True, "name": f"Door {mk}", "dtmf_code": "#"}])
                device_credentials_ensure(device=device)
                device = IntercomDevice.objects.get(pk=device.pk)
                IntercomDevice.objects.filter(pk=device.pk).update(last_seen_at=now, reported_model=model.name,
                                                                   firmware_version="29.30.1.100")
                t.devices.append(device)
                t.device_secrets[device.pk] = device.device_secret
            t.cameras.append(camera_create(acting_user=inst, owner=t.residents[0], location=f"Camera {mk}",
                                           rtsp_url=f"rtsp://192.0.2.{t_index}:554/{mk}", username=f"cam{key}",
                                           password=f"campass-{mk}"))
            t.strategy = strategy_create(acting_user=inst, firmware=firmware, device_ids=[t.devices[0].pk],
                                         scheduled_at=now + datetime.timedelta(days=3))
            t.message = message_create(acting_user=inst, receiver_type="both", receivers=[t.residents[0]],
                                       title=f"Notice {mk}", body=f"Body {mk}")
            t.inbox_item = InboxItem.objects.filter(message=t.message, account=t.resident_account).first()
            order = billing.order_create(acting_user=inst, order_type="activation",
                                         resident_ids=[t.residents[1].pk])
            t.order = billing.order_checkout(acting_user=inst, order=order, payment_method="test",
                                             billing={"company": f"Company {mk}", "attn": f"Attn {mk}"})
            t.ticket = ticket_create(acting_user=inst, subject=f"Ticket {mk}", body=f"Ticket body {mk}")
            ticket_reply(acting_user=dist, ticket=t.ticket, body=f"Reply {mk}")
            t.action = device_reboot(acting_user=inst, device=t.devices[0])
            done = device_reboot(acting_user=inst, device=t.devices[1])
            action_record_result(action=done, status="success", detail=f"rebooted {mk}")
            csv = ("MAC\n" + _mac(0xB0, t_index, 1) + "\n").encode()
            t.mac_import = mac_import_start(acting_user=inst, data=csv, file_name=f"import-{mk}.csv",
                                            installer=inst)
            mac_import_run(import_id=t.mac_import.pk)
            t.macs.append(_entry(_mac(0xB0, t_index, 1)))
            _token, t.api_raw = api_token_create(acting_user=inst, name=f"token {mk}")
            t.api_token = _token
            credential = autop_credential_get_or_create(installer=inst)
            t.autop = (credential.username, credential.password)
            t.coupon = billing.coupon_create(acting_user=admin, amount=Decimal("7.00"), installer=inst,
                                             valid_from=now - datetime.timedelta(days=1),
                                             valid_until=now + datetime.timedelta(days=30))
            t.alert = Alert.objects.create(installer=inst, kind=Alert._meta.get_field("kind").choices[0][0],
                                           subject=f"device:{t.devices[0].pk}", message=f"Alert {mk}")
            from entryway.dashboard.models import Job

            t.job = Job.objects.create(created_by=inst, kind="export", title=f"Export {mk}", status="done",
                                       result={"message": f"Exported {mk}"}, data=f"name\n{mk}\n".encode(),
                                       file_name=f"export-{mk}.csv", content_type="text/csv")
            from entryway.remote.services import session_open

            t.remote = session_open(acting_user=inst, device=t.devices[0])
            tenants[key] = t
        # The distributor's own register: one MAC kept, one given to its first installer.
        kept = mac_add(acting_user=dist, mac=_mac(0xC0, d_index, 1))
        given = mac_add(acting_user=dist, mac=_mac(0xC0, d_index, 2))
        mac_assign(acting_user=dist, macs=[given.mac], installer=tenants[f"{d}1"].installer)
        tenants[f"{d}1"].macs += [kept, _entry(given.mac)]
    return World(admin=admin, distributors=distributors, tenants=tenants, firmware=firmware)


def _entry(mac: str):
    from entryway.devices.models import MacLibraryEntry

    return MacLibraryEntry.objects.get(mac=mac)
