"""Trigram (pg_trgm) GIN indexes for the lists' substring searches: PostgreSQL only.

``name__icontains=q`` is ``UPPER(name::text) LIKE UPPER('%q%')`` on PostgreSQL: a B-tree cannot
answer it, a trigram index on the same expression can, and several of them on one table combine
(BitmapOr) for a search over several columns. On another database (SQLite, the embedded default)
the migration does nothing and the searches scan, as before. Where the extension cannot be created
(a database user without the right), the indexes are left out with a warning: searches still work.

The indexes are made without GIN's pending list (``fastupdate = off``). With it, each new index entry
goes to an unsorted list first, which every scan of the index reads through whole, and since pg_trgm 1.6
the planner also answers *equality* on the indexed expression (``mac = …``, ``mac IN (…)``) from the
trigram index, costing it as if the list were empty. Device rows are updated all the time (check-ins,
firmware versions), so during a rollout of 10,000 devices the list held some 19,000 entries and one MAC
lookup took 26 ms instead of 0.005 ms: a batch of 80 MACs took 4 to 7 seconds (bench/RESULTS.md, "Results
over MQTT"). Entries written straight into the index cost a little more per update and nothing per scan.
"""
from __future__ import annotations

import sys

from django.db import DatabaseError, migrations, transaction


def trigram_indexes(*indexes: tuple[str, str, str]) -> migrations.RunPython:
    """A migration operation creating ``(name, table, expression)`` trigram indexes."""

    def forward(apps, schema_editor):
        connection = schema_editor.connection
        if connection.vendor != "postgresql":
            return
        try:
            with transaction.atomic(using=connection.alias):
                schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except DatabaseError as exc:
            sys.stderr.write(f"pg_trgm not available ({exc}): the list searches will scan instead.\n")
            return
        quote = schema_editor.quote_name
        for name, table, expression in indexes:
            schema_editor.execute(
                f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {quote(table)} USING gin (({expression}) gin_trgm_ops)"
                " WITH (fastupdate = off)")

    def backward(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for name, _table, _expression in indexes:
            schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")

    return migrations.RunPython(forward, backward, elidable=False)


def trigram_pending_lists_off(*names: str) -> migrations.RunPython:
    """A migration operation turning GIN's pending list off for trigram indexes made with it (see above),
    and moving what the list holds into the index. Indexes that are not there are left alone."""

    def forward(apps, schema_editor):
        connection = schema_editor.connection
        if connection.vendor != "postgresql":
            return
        for name in names:
            with connection.cursor() as cursor:
                cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
                if not cursor.fetchone()[0]:
                    continue
                cursor.execute(f"ALTER INDEX {schema_editor.quote_name(name)} SET (fastupdate = off)")
                cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [name])

    def backward(apps, schema_editor):
        connection = schema_editor.connection
        if connection.vendor != "postgresql":
            return
        for name in names:
            with connection.cursor() as cursor:
                cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
                if cursor.fetchone()[0]:
                    cursor.execute(f"ALTER INDEX {schema_editor.quote_name(name)} RESET (fastupdate)")

    return migrations.RunPython(forward, backward, elidable=False)
