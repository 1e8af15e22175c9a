"""SQL written once for the device hot paths, with the ORM's own column names and conversions.

Compiling a queryset costs 0.3–0.6 ms of CPU per query, more than PostgreSQL spends answering the
indexed lookups of a device's requests; at fleet scale (thousands of requests a second) that
compilation is most of a request's cost (bench/RESULTS.md, "Rollouts"). The hot paths therefore
write their statements once, naming tables and columns through the models, and turn the rows
they read into model instances with exactly the conversions the ORM applies: each field's
``from_db_value`` (encrypted secrets, JSON) and the backend's converters (SQLite's date-times).
Everything else uses the ORM.

On PostgreSQL they run on ``cursor()``: its parameters are bound by the server, so that psycopg prepares
each statement once per connection (after ``DB_PREPARE_THRESHOLD`` uses) and PostgreSQL no longer parses
and plans it for every request: about half of PostgreSQL's CPU per firmware upgrade
(bench/RESULTS.md, "Rollouts", fifth round). Django's own cursors bind on the client and never prepare.
"""
from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

from django.db import connections
from django.db.models import Model


def cursor(using: str = "default"):
    """A cursor for the hot paths' SQL, used as Django's own (``with cursor() as c``): the same wrapper,
    so queries are logged, counted by the test tools and their errors are Django's.

    On PostgreSQL its parameters are bound by the server (psycopg's ``Cursor``; placeholders stay ``%s``)
    and each statement is prepared once the connection has run it ``prepare_threshold`` times (the
    database's OPTIONS, from DB_PREPARE_THRESHOLD; None prepares nothing). Elsewhere it is Django's cursor.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        return connection.cursor()
    import psycopg
    from django.db.backends.postgresql.psycopg_any import register_tzloader
    from psycopg.pq import Format

    # What BaseDatabaseWrapper.cursor() and the backend's create_cursor() do, with a server-binding cursor
    # in place of Django's ClientCursor.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = psycopg.Cursor(connection.connection)
        loader = connection.connection.adapters.get_loader(psycopg.adapters.types["timestamptz"].oid, Format.TEXT)
        if connection.timezone != loader.timezone:
            register_tzloader(connection.timezone, raw)
        return connection._prepare_cursor(raw)


def table(model: type[Model], using: str = "default") -> str:
    """The model's table name, quoted for the connection."""
    return connections[using].ops.quote_name(model._meta.db_table)


@functools.lru_cache(maxsize=128)
def _fields(model: type[Model], names: tuple[str, ...]):
    # In the model's own field order, the order ``Model.from_db`` expects its values in.
    wanted = {model._meta.get_field(name) for name in names}
    fields = [field for field in model._meta.concrete_fields if field in wanted]
    return fields, [field.get_col(model._meta.db_table) for field in fields], [field.attname for field in fields]


def columns(model: type[Model], names: Sequence[str], using: str = "default", alias: str = "") -> str:
    """The fields' columns, quoted and comma-separated, in the model's field order (not that of ``names``);
    with ``alias``, each prefixed by that table alias."""
    quote, prefix = connections[using].ops.quote_name, f"{alias}." if alias else ""
    return ", ".join(prefix + quote(field.column) for field in _fields(model, tuple(names))[0])


def instances(model: type[Model], names: Sequence[str], rows: Iterable[Sequence], using: str = "default") -> list:
    """Model instances from rows of ``columns(model, names)``, converted as the ORM converts them.

    The instances hold only the named fields (the others are deferred, as with ``only()``).
    """
    connection = connections[using]
    _unused, cols, attnames = _fields(model, tuple(names))
    converters = [(col, connection.ops.get_db_converters(col) + col.get_db_converters(connection)) for col in cols]
    out = []
    for row in rows:
        values = []
        for value, (col, steps) in zip(row, converters, strict=True):
            for step in steps:
                value = step(value, col, connection)
            values.append(value)
        out.append(model.from_db(using, attnames, values))
    return out


def values(model: type[Model], names: Sequence[str], row: Sequence, using: str = "default") -> list:
    """One row of ``columns(model, names)``, converted as the ORM converts it, in the model's field order."""
    connection = connections[using]
    out = []
    for value, col in zip(row, _fields(model, tuple(names))[1], strict=True):
        for step in connection.ops.get_db_converters(col) + col.get_db_converters(connection):
            value = step(value, col, connection)
        out.append(value)
    return out


def values_table(name: str, names: Sequence[str], rows: Sequence[Sequence]) -> tuple[str, list]:
    """``name (col, ...) AS (VALUES (%s, ...), ...)`` and its parameters: rows to join an UPDATE with, as
    ``WITH <this> UPDATE t SET … FROM name WHERE t.id = name.id`` (PostgreSQL, and SQLite 3.33 or later).

    Parameters are bound as they are (ints, strings): compare and assign them to columns, which gives them
    their type; a flag is best an int compared with ``= 1``.
    """
    if not rows:
        raise ValueError("values_table needs at least one row")
    width = len(names)
    row_sql = "(" + ", ".join(["%s"] * width) + ")"
    params = [value for row in rows for value in row]
    if len(params) != width * len(rows):
        raise ValueError(f"every row must have {width} values")
    return f"{name} ({', '.join(names)}) AS (VALUES {', '.join([row_sql] * len(rows))})", params
