"""The Device list's MAC and SIP trigram indexes on ``UPPER(…)``, as its Location index is: an equality
lookup (a MAC) can no longer be answered from them (entryway.core.trigram)."""
from django.db import migrations

from entryway.core.trigram import trigram_indexes_remade


class Migration(migrations.Migration):
    dependencies = (("devices", "0007_last_seen_heap_only_updates"),)

    operations = (
        trigram_indexes_remade(
            ("devices_mac_trgm", "devices_intercomdevice", 'UPPER(("mac")::text)', '("mac")::text'),
            ("devices_sip_trgm", "devices_intercomdevice", 'UPPER(("sip_number")::text)', '("sip_number")::text'),
        ),
    )
