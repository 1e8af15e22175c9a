"""The User list's Mobile Number trigram index on ``UPPER(…)``, as its Name and Email indexes are
(entryway.core.trigram)."""
from django.db import migrations

from entryway.core.trigram import trigram_indexes_remade


class Migration(migrations.Migration):
    dependencies = (("residents", "0002_search_trigram_indexes"),)

    operations = (
        trigram_indexes_remade(
            ("residents_mobile_trgm", "residents_resident", 'UPPER(("mobile_number")::text)',
             '("mobile_number")::text'),
        ),
    )
