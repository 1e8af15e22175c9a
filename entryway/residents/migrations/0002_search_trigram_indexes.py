"""The User list's search (Name, Email, Mobile Number) answered from trigram indexes on PostgreSQL."""
from django.db import migrations

from entryway.core.trigram import trigram_indexes


class Migration(migrations.Migration):
    dependencies = (("residents", "0001_initial"),)

    operations = (
        trigram_indexes(
            ("residents_name_trgm", "residents_resident", 'UPPER(("name")::text)'),
            ("residents_email_trgm", "residents_resident", 'UPPER(("email")::text)'),
            ("residents_mobile_trgm", "residents_resident", '("mobile_number")::text'),
        ),
    )
