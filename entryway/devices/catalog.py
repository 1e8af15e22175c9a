"""The device-model catalog installers choose from (seeded by migration 0003; kept here for reuse)."""
from __future__ import annotations

CATALOG = [
    # name, device type, description
    ("R29", "door_phone", "Door phone, touch screen, face recognition"),
    ("R28", "door_phone", "Door phone, keypad"),
    ("R27", "door_phone", "Door phone, keypad and display"),
    ("R26", "door_phone", "Door phone, compact"),
    ("R20", "door_phone", "Door phone, one or more call buttons"),
    ("E11", "door_phone", "Door phone, one button, compact villa unit"),
    ("E12", "door_phone", "Door phone, one button"),
    ("E16", "door_phone", "Door phone, face recognition"),
    ("E21", "door_phone", "Door phone, one button, outdoor"),
    ("X915", "door_phone", "Door phone, large touch screen"),
    ("X916", "door_phone", "Door phone, large touch screen, face recognition"),
    ("S532", "door_phone", "Door phone, keypad"),
    ("S535", "door_phone", "Door phone, touch screen"),
    ("A01", "access_control", "Access control terminal, card and PIN"),
    ("A02", "access_control", "Access control terminal, card, PIN and QR code"),
    ("A05", "access_control", "Access control terminal, face recognition"),
    ("A08", "access_control", "Access control terminal, keypad"),
    ("IT82", "indoor_monitor", "Indoor monitor, Android, 7 inch"),
    ("IT83", "indoor_monitor", "Indoor monitor, Android, 10 inch"),
    ("C313", "indoor_monitor", "Indoor monitor, Linux, 7 inch"),
    ("C315", "indoor_monitor", "Indoor monitor, Linux, 7 inch touch"),
    ("C317", "indoor_monitor", "Indoor monitor, Android, 7 inch"),
    ("C319", "indoor_monitor", "Indoor monitor, Android, 10 inch"),
    ("X912", "indoor_monitor", "Indoor monitor, Android, 12 inch"),
    ("X933", "indoor_monitor", "Indoor monitor, Android, 7 inch, smart home"),
    ("R48G", "guard_phone", "Guard phone, desk unit"),
    ("R49", "guard_phone", "Guard phone, touch screen"),
]


def catalog_ensure(model_class=None) -> int:
    """Create the catalog models that are missing (after a test database flush, say). Returns how many."""
    if model_class is None:
        from entryway.devices.models import DeviceModel as model_class
    existing = set(model_class.objects.values_list("name", flat=True))
    missing = [model_class(name=name, device_type=kind, description=description, relay_count=4)
               for name, kind, description in CATALOG if name not in existing]
    model_class.objects.bulk_create(missing)
    return len(missing)
