"""The Device list's trigram indexes without GIN's pending list: MAC lookups stay fast while devices
are updated (entryway.core.trigram)."""
from django.db import migrations

from entryway.core.trigram import trigram_pending_lists_off


class Migration(migrations.Migration):
    dependencies = (("devices", "0007_last_seen_heap_only_updates"),)

    operations = (trigram_pending_lists_off("devices_location_trgm", "devices_mac_trgm", "devices_sip_trgm"),)
