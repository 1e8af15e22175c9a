"""The User list's trigram indexes without GIN's pending list (entryway.core.trigram)."""
from django.db import migrations

from entryway.core.trigram import trigram_pending_lists_off


class Migration(migrations.Migration):
    dependencies = (("residents", "0002_search_trigram_indexes"),)

    operations = (trigram_pending_lists_off("residents_name_trgm", "residents_email_trgm", "residents_mobile_trgm"),)
