"""Last Connected Times written as heap-only updates on PostgreSQL.

Devices write ``last_seen_at`` and ``uptime_seconds`` in batches all the time. While ``last_seen_at`` had an
index, every such update wrote a new entry in each of the table's sixteen indexes (three of them trigram
GIN indexes); without it, PostgreSQL updates the row in place on its page (a HOT update) and touches no
index. A batch of 10,000 rows went from 415–716 ms to 69–98 ms of database time (bench/RESULTS.md,
"Last Connected Times"). The fill factor leaves room on each page for those updates; pages written
before this migration get it as they are rewritten (``VACUUM FULL`` in a maintenance window does it at
once, docs/operations.md). What read the index reads the table instead: the offline alerts'
scan (once a minute) and the online gauge (each /metrics scrape), about 40 ms each at 300,000 devices.
"""
from django.db import migrations, models

FILL_FACTOR = 85


def set_fill_factor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE devices_intercomdevice SET (fillfactor = {FILL_FACTOR})")


def reset_fill_factor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE devices_intercomdevice RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = (("devices", "0006_search_trigram_indexes"),)

    operations = (
        migrations.AlterField(
            model_name="intercomdevice",
            name="last_seen_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="Last Connected Time"),
        ),
        migrations.RunPython(set_fill_factor, reset_fill_factor),
    )
