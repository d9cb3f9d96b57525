"""Writing an export straight from the database.

On PostgreSQL the rows are rendered by the server - NDJSON lines spliced from the stored
JSON text, CSV split from it, both sent with ``COPY … TO STDOUT`` - so Python only moves
bytes. Rendering, not reading, is the cost, and one statement renders on one core: a large
export is rendered in two halves at once, on two connections sharing one snapshot.
Elsewhere (SQLite) the domain renders each event. Both follow the domain's definitions
(``Event.document``, ``export_rows``); a test holds them equal.
"""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, BinaryIO

from sqlalchemy import ColumnElement, Connection, Select, Text, cast, func, literal_column

from adapters.sql import tables as t
from adapters.sql.driver import driver_errors
from adapters.sql.mappers import event_from
from adapters.sql.search import narrow_select
from adapters.sql.shared_snapshot import sharing_snapshot
from domain.event_search import EventFilters
from domain.events import PROCESSED, Event
from domain.export_rows import CSV_COLUMNS, csv_row, ndjson_line
from domain.exports import WrittenRows

events = t.events
_STAMP = "YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\""
_TRIGGERS = "'=', '+', '-', '@', E'\\t', E'\\r'"
"""The domain's spreadsheet triggers (``export_rows.spreadsheet_safe``) as SQL literals."""

SPLIT_FROM = 100_000
"""How many sequences an export must span to be rendered in two halves: below it, the
second connection and the spool file cost more than they save."""

_BLOCK = 1 << 20

Statement = tuple[str, Mapping[str, Any]]


def write_export(db: Connection, workspace_id: str, filters: EventFilters, format_: str,
                 sink: BinaryIO, on_progress: Callable[[], None]) -> WrittenRows:
    """Write every processed event matching ``filters``, in sequence order; return the
    count and the first and last sequence.

    On PostgreSQL ``db`` must hold a snapshot (a REPEATABLE READ unit): the span is read
    before the rows, and an export spanning ``SPLIT_FROM`` sequences or more is rendered
    in two halves at once.
    """
    if db.dialect.name != "postgresql":
        return _rendered_by_domain(db, workspace_id, filters, format_, sink, on_progress)
    render = _ndjson_statement
    if format_ == "csv":
        sink.write((",".join(CSV_COLUMNS) + "\r\n").encode())
        render = _csv_statement
    first, last = db.execute(narrow_select(workspace_id, filters).with_only_columns(
        func.min(events.c.sequence), func.max(events.c.sequence))
        .where(events.c.status == PROCESSED)).one()
    if first is None:  # the snapshot holds none: the file is empty (a CSV, its header)
        return WrittenRows(0)
    if last - first + 1 < SPLIT_FROM:
        rows = _copy_out(db, render(db, workspace_id, filters, None), sink, on_progress)
    else:
        middle = (first + last) // 2
        rows = _in_halves(db, render(db, workspace_id, filters, events.c.sequence <= middle),
                          render(db, workspace_id, filters, events.c.sequence > middle),
                          sink, on_progress)
    return WrittenRows(rows, first, last)


def _ordered(workspace_id: str, filters: EventFilters, within: ColumnElement[bool] | None,
             *columns: ColumnElement[Any]) -> Select[Any]:
    query = (narrow_select(workspace_id, filters).with_only_columns(*columns)
             .where(events.c.status == PROCESSED).order_by(events.c.sequence))
    return query if within is None else query.where(within)


def _stamp(column: ColumnElement[Any]) -> ColumnElement[str]:
    return func.to_char(func.timezone("UTC", column), literal_column(f"'{_STAMP}'"))


def _quoted(column: ColumnElement[Any]) -> ColumnElement[str]:
    """A JSON string of a column whose characters never need escaping (ids, hashes,
    actions, status and timestamps are all restricted to letters, digits and ``_.:-``)."""
    return func.concat('"', column, '"')


def _document() -> ColumnElement[str]:
    """``Event.document()`` in SQL: same keys, same order, same timestamp form.

    Spliced as text: ``body`` is stored as the compact JSON of ``{actor, targets, context,
    metadata}`` in that order (``mappers.event_row``, ``bulk._copy_events``), so its inside
    is copied without being parsed; ``geo`` is stored JSON text too.
    """
    body_inside = func.substr(events.c.body, 2, func.length(events.c.body) - 2)
    return func.concat(
        '{"id":', _quoted(events.c.id), ',"workspace_id":', _quoted(events.c.workspace_id),
        ',"action":', _quoted(events.c.action),
        ',"occurred_at":', _quoted(_stamp(events.c.occurred_at)),
        ',"received_at":', _quoted(_stamp(events.c.received_at)), ",", body_inside,
        ',"geo":', func.coalesce(events.c.geo, "null"),
        ',"sequence":', cast(events.c.sequence, Text), ',"status":', _quoted(events.c.status),
        ',"prev_hash":', _quoted(events.c.prev_hash), ',"hash":', _quoted(events.c.hash), "}")


def _compiled(db: Connection, query: Select[Any]) -> Statement:
    compiled = query.compile(dialect=db.dialect)
    return compiled.string, compiled.construct_params()


def _ndjson_statement(db: Connection, workspace_id: str, filters: EventFilters,
                      within: ColumnElement[bool] | None) -> Statement:
    """COPY in CSV mode with a quote and a delimiter that JSON text never contains (JSON
    escapes every control character), so each line arrives exactly as built, unquoted."""
    sql, params = _compiled(db, _ordered(workspace_id, filters, within, _document()))
    return (f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, QUOTE E'\\x01', "
            f"DELIMITER E'\\x02')", params)


def _copy_out(db: Connection, statement: Statement, sink: BinaryIO,
              on_progress: Callable[[], None]) -> int:
    """Stream a ``COPY … TO STDOUT`` on ``db`` into ``sink``; return its row count."""
    with driver_errors(db, statement[0]):
        return _copy(db.connection.driver_connection, statement, sink.write, on_progress)


def _copy(driver: Any, statement: Statement, write: Callable[[bytes], object],
          on_progress: Callable[[], None]) -> int:
    deadline = time.monotonic() + 10
    with driver.cursor() as cursor:
        with cursor.copy(*statement) as copy:
            for block in copy:
                write(block)
                if time.monotonic() >= deadline:
                    on_progress()
                    deadline = time.monotonic() + 10
        return cursor.rowcount


def _in_halves(db: Connection, lower: Statement, upper: Statement, sink: BinaryIO,
               on_progress: Callable[[], None]) -> int:
    """The lower half streamed into ``sink`` on ``db`` while a second connection, sharing
    its snapshot, renders the upper half into a spool file, appended once both are done:
    PostgreSQL renders each half on a core of its own. Memory stays flat; the spool holds
    up to half the file on local disk (the temporary directory)."""
    with (sharing_snapshot(db) as (other, driver),
          tempfile.TemporaryFile(prefix="auditrail-export-") as spool):
        upper_half = _Spooled(other, driver, upper, spool)
        upper_half.start()
        try:
            rows = _copy_out(db, lower, sink, on_progress)
            rows += upper_half.rows_once_done(on_progress)
        except BaseException:
            upper_half.abandon()
            raise
        spool.seek(0)
        shutil.copyfileobj(spool, sink, _BLOCK)
        return rows


class _Spooled(threading.Thread):
    """One half of an export rendered into a spool file on a thread of its own (the
    driver waits on the server with the GIL released)."""

    def __init__(self, db: Connection, driver: Any, statement: Statement,
                 spool: BinaryIO) -> None:
        super().__init__(name="export-upper-half", daemon=True)
        self._db, self._driver, self._statement, self._spool = db, driver, statement, spool
        self._rows = 0
        self._error: BaseException | None = None
        self._abandoned = threading.Event()

    def run(self) -> None:
        try:
            with driver_errors(self._db, self._statement[0]):
                self._rows = _copy(self._driver, self._statement, self._write, lambda: None)
        except BaseException as exc:  # raised in the export's own thread
            self._error = exc

    def _write(self, block: bytes) -> None:
        if self._abandoned.is_set():  # rows already received stop here, not at the end
            raise _Abandoned
        self._spool.write(block)

    def rows_once_done(self, on_progress: Callable[[], None]) -> int:
        """Its row count once it is done; meanwhile the export still answers to its
        heartbeat (a run handed over stops here too)."""
        while self.is_alive():
            self.join(10)
            on_progress()
        if self._error is not None:
            raise self._error
        return self._rows

    def abandon(self) -> None:
        """Stop rendering: the export failed or was handed over."""
        self._abandoned.set()
        if self.is_alive():
            self._driver.cancel_safe()
        self.join()


class _Abandoned(Exception):
    """The export this half belonged to has stopped."""


def _csv_inner_columns() -> tuple[ColumnElement[Any], ...]:
    return (events.c.id, events.c.sequence, _stamp(events.c.occurred_at).label("occurred"),
            _stamp(events.c.received_at).label("received"), events.c.action,
            events.c.actor_id, events.c.actor_type, events.c.ip_address,
            events.c.workspace_id, events.c.prev_hash, events.c.hash, events.c.body,
            events.c.geo)


_FREE_TEXT = frozenset({
    "action", "actor_id", "actor_type", "actor_name", "user_agent", "geo_country_code",
    "geo_country", "geo_region", "geo_city", "geo_latitude", "geo_longitude", "geo_timezone"})
"""The columns whose text can start with a formula trigger; the others cannot by
construction (generated ids, digits, hex, canonical addresses, JSON objects and arrays)."""

_CSV_PARTS = (
    "json_to_record(body::json) AS part(actor json, targets json, context json, metadata json)"
    ", json_to_record(geo::json) AS place(country_code text, country text, region text, "
    "city text, latitude text, longitude text, timezone text)")
"""Each row's stored JSON split once, its parts kept as the exact text that was stored."""


def _csv_outer_columns() -> list[str]:
    """``export_rows.csv_row`` over the split row, before the spreadsheet rule."""
    columns = {
        "id": "id", "sequence": "sequence", "occurred_at": "occurred",
        "received_at": "received", "action": "action", "actor_id": "actor_id",
        "actor_type": "actor_type", "actor_name": "actor->>'name'",
        "actor_metadata": "actor->'metadata'", "targets": "targets",
        "ip_address": "ip_address", "user_agent": "context->>'user_agent'",
        "metadata": "metadata", "workspace_id": "workspace_id",
        "prev_hash": "prev_hash", "hash": "hash",
    }
    for key in ("country_code", "country", "region", "city", "latitude", "longitude",
                "timezone"):
        columns[f"geo_{key}"] = f"place.{key}"
    return [columns[name] for name in CSV_COLUMNS]


def _csv_statement(db: Connection, workspace_id: str, filters: EventFilters,
                   within: ColumnElement[bool] | None) -> Statement:
    sql, params = _compiled(db, _ordered(workspace_id, filters, within,
                                         *_csv_inner_columns()))
    safe = ", ".join(
        f"CASE WHEN left(({column})::text, 1) IN ({_TRIGGERS}) "
        f"THEN '''' || ({column})::text ELSE ({column})::text END" if name in _FREE_TEXT
        else f"({column})::text"
        for name, column in zip(CSV_COLUMNS, _csv_outer_columns(), strict=True))
    # Only compiled SQL and constant expressions are spliced; values stay parameters.
    query = f"SELECT {safe} FROM ({sql}) AS parsed, {_CSV_PARTS}"  # noqa: S608
    return f"COPY ({query}) TO STDOUT WITH (FORMAT csv)", params


def _rendered_by_domain(db: Connection, workspace_id: str, filters: EventFilters,
                        format_: str, sink: BinaryIO,
                        on_progress: Callable[[], None]) -> WrittenRows:
    text_sink = io.TextIOWrapper(sink, encoding="utf-8", newline="") if format_ == "csv" \
        else None
    writer = csv.writer(text_sink) if text_sink is not None else None
    if writer is not None:
        writer.writerow(CSV_COLUMNS)
    rows, first, last = 0, None, None
    for event in _chunks(db, workspace_id, filters):
        if writer is not None:
            writer.writerow(csv_row(event))
        else:
            sink.write(ndjson_line(event))
        rows += 1
        first = event.sequence if first is None else first
        last = event.sequence
        if rows % 5_000 == 0:
            on_progress()
    if text_sink is not None:
        text_sink.flush()
        text_sink.detach()
    return WrittenRows(rows, first, last)


def _chunks(db: Connection, workspace_id: str, filters: EventFilters,
            size: int = 2_000) -> Iterator[Event]:
    last = 0
    while True:
        query = (narrow_select(workspace_id, filters)
                 .where(events.c.status == PROCESSED, events.c.sequence > last)
                 .order_by(events.c.sequence).limit(size))
        rows = db.execute(query).mappings().all()
        yield from (event_from(row) for row in rows)
        if len(rows) < size:
            return
        last = rows[-1]["sequence"]

