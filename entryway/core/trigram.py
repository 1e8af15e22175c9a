"""Trigram (pg_trgm) GIN indexes for the lists' substring searches: PostgreSQL only.

``name__icontains=q`` is ``UPPER(name::text) LIKE UPPER('%q%')`` on PostgreSQL: a B-tree cannot
answer it, a trigram index on the same expression can, and several of them on one table combine
(BitmapOr) for a search over several columns. On another database (SQLite, the embedded default)
the migration does nothing and the searches scan, as before. Where the extension cannot be created
(a database user without the right), the indexes are left out with a warning: searches still work.
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
                f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {quote(table)} USING gin (({expression}) gin_trgm_ops)")

    def backward(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for name, _table, _expression in indexes:
            schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")

    return migrations.RunPython(forward, backward, elidable=False)
