"""Trigram (pg_trgm) GIN indexes for the lists' substring searches: PostgreSQL only.

``name__icontains=q`` is ``UPPER(name::text) LIKE UPPER('%q%')`` on PostgreSQL: a B-tree cannot
answer it, a trigram index on the same expression can, and several of them on one table combine
(BitmapOr) for a search over several columns. On another database (SQLite, the embedded default)
the migration does nothing and the searches scan, as before. Where the extension cannot be created
(a database user without the right), the indexes are left out with a warning: searches still work.

Every index is on ``UPPER(<column>::text)``, and the searches match with ``icontains``, even on columns
that hold digits or upper-case hex only (MAC, SIP and mobile numbers). An index on the bare ``<column>::text``
would also match *equality* (``mac = …``, ``mac IN (…)``): since pg_trgm 1.6 the planner answers it from
the trigram index, costing it as if GIN's pending list were empty. Device rows are updated all the time, so
during a rollout of 10,000 devices the list held some 19,000 entries and one MAC lookup took 26 ms instead
of a B-tree's 0.005 ms: a batch of 80 MACs took 4 to 7 seconds (bench/RESULTS.md, "Results over MQTT").
No lookup by value upper-cases its column, so none can reach these indexes. (Turning the pending list off
instead cost bulk inserts 6.5 times their time: 300,000 rows with three such indexes, 9.3 s against 61 s.)
"""
from __future__ import annotations

import sys

from django.db import DatabaseError, migrations, transaction


def _create_sql(schema_editor, name: str, table: str, expression: str, *, if_not_exists: bool = False) -> str:
    quote = schema_editor.quote_name
    return (f"CREATE INDEX {'IF NOT EXISTS ' if if_not_exists else ''}{quote(name)} ON {quote(table)}"
            f" USING gin (({expression}) gin_trgm_ops)")


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
        for name, table, expression in indexes:
            schema_editor.execute(_create_sql(schema_editor, name, table, expression, if_not_exists=True))

    def backward(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for name, _table, _expression in indexes:
            schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")

    return migrations.RunPython(forward, backward, elidable=False)


def trigram_indexes_remade(*indexes: tuple[str, str, str, str]) -> migrations.RunPython:
    """A migration operation making ``(name, table, expression, earlier expression)`` trigram indexes again
    on a new expression (the earlier one on the way back). Where pg_trgm is not installed, nothing."""

    def remake(schema_editor, position: int):
        connection = schema_editor.connection
        if connection.vendor != "postgresql":
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
            if cursor.fetchone() is None:
                return
        for index in indexes:
            name, table, expression = index[0], index[1], index[position]
            schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")
            schema_editor.execute(_create_sql(schema_editor, name, table, expression))

    return migrations.RunPython(lambda apps, editor: remake(editor, 2), lambda apps, editor: remake(editor, 3),
                                elidable=False)
