"""Demo data for the Device and MAC Library modules."""
from __future__ import annotations

import datetime

from django.utils import timezone

from entryway.devices.models import IntercomDevice, MacLibraryEntry, ThirdPartyCamera
from entryway.devices.services import camera_create, device_create, mac_add, mac_assign

# (owner index, model, MAC, location, relays, security relay, seconds since last check-in or None)
DEVICES = [
    (0, "R29", "0C1105060414", "Front gate",
     [{"enabled": True, "name": "Front Door", "dtmf_code": "#"}, {"enabled": True, "name": "Garage", "dtmf_code": "2"}],
     True, 20),
    (0, "IT82", "0C1105060415", "Living room", [], False, 40),
    (1, "E11", "0C1105060420", "Garden door", [{"enabled": True, "name": "Garden Door", "dtmf_code": "#"}], False,
     3 * 3600),
    (1, "C317", "0C1105060421", "Kitchen", [], False, None),
    (2, "X916", "0C1105060430", "Main entrance",
     [{"enabled": True, "name": "Lobby", "dtmf_code": "1"}, {"enabled": True, "name": "Parking", "dtmf_code": "2"},
      {"enabled": False, "name": "Bike room", "dtmf_code": "3"}], False, 15),
    (2, "A05", "0C1105060431", "Side gate", [{"enabled": True, "name": "Side gate", "dtmf_code": "*"}], False, 90),
    (4, "S535", "0C1105060450", "Portal", [{"enabled": True, "name": "Portal", "dtmf_code": "#"}], False, None),
]
FREE_MACS = ["0C11050893CA", "0C11050893CB", "0C11050893CC", "0C1105060416", "0C1105060417"]
DISTRIBUTOR_MACS = ["0C11050A0001", "0C11050A0002", "0C11050A0003", "0C11050A0004"]


def seed(ctx) -> None:
    installer, distributor = ctx["installer"], ctx["distributor"]
    residents = [r for r in ctx["residents"] if r.installer_id == installer.pk]
    if not residents or IntercomDevice.objects.filter(installer=installer, mac="0C1105060414").exists():
        return
    for mac in FREE_MACS + [d[2] for d in DEVICES]:
        if not MacLibraryEntry.objects.filter(mac=mac).exists():
            mac_add(acting_user=installer, mac=mac)
    # A distributor's register: two MACs still to assign, two given to the second installer.
    for mac in DISTRIBUTOR_MACS:
        if not MacLibraryEntry.objects.filter(mac=mac).exists():
            mac_add(acting_user=distributor, mac=mac)
    if ctx.get("installer2") is not None:
        mac_assign(acting_user=distributor, macs=DISTRIBUTOR_MACS[:2], installer=ctx["installer2"])

    now = timezone.now()
    devices = {}
    for owner_index, model, mac, location, relays, security, seen in DEVICES:
        if owner_index >= len(residents):
            continue
        device = device_create(acting_user=installer, owner=residents[owner_index], device_model=model, mac=mac,
                               location=location, relays=relays, security_relay=security)
        if seen is not None:
            IntercomDevice.objects.filter(pk=device.pk).update(
                last_seen_at=now - datetime.timedelta(seconds=seen), ip_address=f"192.168.1.{20 + len(devices)}",
                reported_model=model)
        devices[mac] = device

    premium = [r for r in residents if r.premium_plan]
    if premium and not ThirdPartyCamera.objects.filter(owner=premium[0]).exists():
        owner = premium[0]
        link = next((d for d in devices.values() if d.owner_id == owner.pk and d.device_model.name == "R29"), None)
        camera_create(acting_user=installer, owner=owner, location="Driveway",
                      rtsp_url="rtsp://192.168.1.64:554/Streaming/Channels/101", username="admin",
                      password="demo-camera-pass", link_device=link.pk if link else None)
        camera_create(acting_user=installer, owner=owner, location="Back garden",
                      rtsp_url="rtsp://cam-garden.local:8554/live", username="viewer", password="demo-camera-2")
