"""The Device list's search (MAC, Location, SIP) answered from trigram indexes on PostgreSQL."""
from django.db import migrations

from entryway.core.trigram import trigram_indexes


class Migration(migrations.Migration):
    dependencies = (("devices", "0005_mac_import_resume"),)

    operations = (
        trigram_indexes(
            ("devices_location_trgm", "devices_intercomdevice", 'UPPER(("location")::text)'),
            ("devices_mac_trgm", "devices_intercomdevice", '("mac")::text'),
            ("devices_sip_trgm", "devices_intercomdevice", '("sip_number")::text'),
        ),
    )
