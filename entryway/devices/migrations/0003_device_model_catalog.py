"""The device-model catalog: the intercom models installers choose from in Add Device.

The list is a copy frozen at this migration (entryway.devices.catalog holds the current one).
"""
from django.db import migrations

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


def seed_catalog(apps, schema_editor):
    DeviceModel = apps.get_model("devices", "DeviceModel")
    for name, device_type, description in CATALOG:
        model, created = DeviceModel.objects.get_or_create(
            name=name, defaults={"device_type": device_type, "description": description, "relay_count": 4})
        if not created and not model.description:
            model.description = description
            model.save(update_fields=["description"])


def remove_catalog(apps, schema_editor):
    DeviceModel = apps.get_model("devices", "DeviceModel")
    DeviceModel.objects.filter(name__in=[name for name, _t, _d in CATALOG], devices__isnull=True).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("devices", "0002_mac_import"),
    ]

    operations = [
        migrations.RunPython(seed_catalog, remove_catalog),
    ]
