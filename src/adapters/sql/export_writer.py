"""Writing an export straight from the database.

On PostgreSQL the rows are rendered by the server - NDJSON lines with ``json_build_object``
read through a server-side cursor, CSV with ``COPY … TO STDOUT`` - so Python only moves
bytes. Elsewhere (SQLite) the domain renders each event. Both follow the domain's
definitions (``Event.document``, ``export_rows``); a test holds the two renderings equal.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterator
from typing import BinaryIO

from sqlalchemy import Connection, Text, cast, func, literal_column
from sqlalchemy.dialects.postgresql import JSON

from adapters.sql import tables as t
from adapters.sql.mappers import event_from
from adapters.sql.search import narrow_select
from domain.event_search import EventFilters
from domain.events import PROCESSED
from domain.export_rows import CSV_COLUMNS, csv_row, ndjson_line

events = t.events
_STAMP = "YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\""


def write_export(db: Connection, workspace_id: str, filters: EventFilters, format_: str,
                 sink: BinaryIO, on_progress: Callable[[], None]) -> int:
    """Write every processed event matching ``filters``, in sequence order; return the count."""
    if db.dialect.name == "postgresql":
        if format_ == "csv":
            return _postgres_csv(db, workspace_id, filters, sink, on_progress)
        return _postgres_ndjson(db, workspace_id, filters, sink, on_progress)
    return _rendered_by_domain(db, workspace_id, filters, format_, sink, on_progress)


def _ordered(workspace_id: str, filters: EventFilters, *columns):  # type: ignore[no-untyped-def]
    return (narrow_select(workspace_id, filters).with_only_columns(*columns)
            .where(events.c.status == PROCESSED).order_by(events.c.sequence))


def _stamp(column):  # type: ignore[no-untyped-def]
    return func.to_char(func.timezone("UTC", column), literal_column(f"'{_STAMP}'"))


def _document():  # type: ignore[no-untyped-def]
    """``Event.document()`` in SQL: same keys, same order, same timestamp form."""
    body = cast(events.c.body, JSON)
    return cast(func.json_build_object(
        "id", events.c.id, "workspace_id", events.c.workspace_id, "action", events.c.action,
        "occurred_at", _stamp(events.c.occurred_at), "received_at", _stamp(events.c.received_at),
        "actor", body["actor"], "targets", body["targets"], "context", body["context"],
        "metadata", body["metadata"], "geo", cast(events.c.geo, JSON),
        "sequence", events.c.sequence, "status", events.c.status,
        "prev_hash", events.c.prev_hash, "hash", events.c.hash), Text)


def _compiled(db: Connection, query) -> tuple[str, dict]:  # type: ignore[no-untyped-def]
    compiled = query.compile(dialect=db.dialect)
    return compiled.string, compiled.construct_params()


def _postgres_ndjson(db: Connection, workspace_id: str, filters: EventFilters,
                     sink: BinaryIO, on_progress: Callable[[], None]) -> int:
    sql, params = _compiled(db, _ordered(workspace_id, filters, _document()))
    rows = 0
    raw = db.connection.driver_connection
    with raw.cursor(name=f"export_{id(sink)}") as cursor:  # type: ignore[union-attr]
        cursor.itersize = 5_000
        cursor.execute(sql, params)
        for (line,) in cursor:
            sink.write(line.encode("utf-8"))
            sink.write(b"\n")
            rows += 1
            if rows % 5_000 == 0:
                on_progress()
    return rows


def _csv_columns():  # type: ignore[no-untyped-def]
    """``export_rows.csv_row`` in SQL, before the spreadsheet rule is applied."""
    body, geo = cast(events.c.body, JSON), cast(events.c.geo, JSON)
    actor, context = body["actor"], body["context"]
    columns = {
        "id": events.c.id, "sequence": events.c.sequence,
        "occurred_at": _stamp(events.c.occurred_at), "received_at": _stamp(events.c.received_at),
        "action": events.c.action, "actor_id": actor["id"].astext,
        "actor_type": actor["type"].astext, "actor_name": actor["name"].astext,
        "actor_metadata": actor["metadata"], "targets": body["targets"],
        "ip_address": context["ip_address"].astext,
        "user_agent": context["user_agent"].astext, "metadata": body["metadata"],
        "workspace_id": events.c.workspace_id, "prev_hash": events.c.prev_hash,
        "hash": events.c.hash,
    }
    for key in ("country_code", "country", "region", "city", "latitude", "longitude",
                "timezone"):
        columns[f"geo_{key}"] = geo[key].astext
    return [columns[name] for name in CSV_COLUMNS]


def _postgres_csv(db: Connection, workspace_id: str, filters: EventFilters, sink: BinaryIO,
                  on_progress: Callable[[], None]) -> int:
    sink.write((",".join(CSV_COLUMNS) + "\r\n").encode())
    sql, params = _compiled(db, _ordered(workspace_id, filters, *_csv_columns()))
    # The domain's spreadsheet rule (export_rows.spreadsheet_safe), cell by cell, in SQL.
    safe = ", ".join(f"CASE WHEN left(c{n}::text, 1) IN ('=', '+', '-', '@', E'\\t', E'\\r') "
                     f"THEN '''' || c{n}::text ELSE c{n}::text END"
                     for n in range(len(CSV_COLUMNS)))
    # Only compiled SQL and constant aliases are spliced here; every value stays a parameter.
    aliased = f"SELECT {safe} FROM ({sql}) AS rows (" + ", ".join(  # noqa: S608
        f"c{n}" for n in range(len(CSV_COLUMNS))) + ")"
    raw = db.connection.driver_connection
    deadline = time.monotonic() + 10
    with raw.cursor() as cursor:  # type: ignore[union-attr]
        with cursor.copy(f"COPY ({aliased}) TO STDOUT WITH (FORMAT csv)", params) as copy:
            for block in copy:
                sink.write(block)
                if time.monotonic() >= deadline:
                    on_progress()
                    deadline = time.monotonic() + 10
        return cursor.rowcount


def _rendered_by_domain(db: Connection, workspace_id: str, filters: EventFilters,
                        format_: str, sink: BinaryIO, on_progress: Callable[[], None]) -> int:
    text_sink = io.TextIOWrapper(sink, encoding="utf-8", newline="") if format_ == "csv" \
        else None
    writer = csv.writer(text_sink) if text_sink is not None else None
    if writer is not None:
        writer.writerow(CSV_COLUMNS)
    rows = 0
    for event in _chunks(db, workspace_id, filters):
        if writer is not None:
            writer.writerow(csv_row(event))
        else:
            sink.write(ndjson_line(event))
        rows += 1
        if rows % 5_000 == 0:
            on_progress()
    if text_sink is not None:
        text_sink.flush()
        text_sink.detach()
    return rows


def _chunks(db: Connection, workspace_id: str, filters: EventFilters,
            size: int = 2_000) -> Iterator:
    last = 0
    while True:
        query = (narrow_select(workspace_id, filters)
                 .where(events.c.status == PROCESSED, events.c.sequence > last)
                 .order_by(events.c.sequence).limit(size))
        chunk = [event_from(row) for row in db.execute(query).mappings()]
        yield from chunk
        if len(chunk) < size:
            return
        last = chunk[-1].sequence

