"""``metadata.<key>`` search filters in SQL: whether an event's stored body holds, under a
top-level metadata key, one of a list of JSON values, compared as JSON compares them
(``domain.event_search.held_among``: ``true`` is not ``1``, ``1`` is ``1.0``, an object or
a list is none of them, a missing key matches nothing).

The body is JSON text (``JsonText``), so each dialect reads it with its own JSON functions;
the key and the values are bound parameters, so the statement's text, and SQLAlchemy's
compiled-statement cache, is the same for every key and value.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Boolean, ColumnElement, bindparam
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class metadata_holds(FunctionElement[bool]):
    """``metadata_holds(body, key, values)``: ``values`` a JSON array of scalars."""

    type = Boolean()
    inherit_cache = True
    name = "metadata_holds"


def metadata_condition(body: ColumnElement[Any], key: str,
                       values: tuple[Any, ...]) -> metadata_holds:
    return metadata_holds(body, bindparam(None, key), bindparam(None, json.dumps(list(values))))


@compiles(metadata_holds, "postgresql")
def _postgresql(element: metadata_holds, compiler: SQLCompiler, **kw: Any) -> str:
    """``[1, "1"] @> [value]``: a scalar is contained in the array when it equals one of its
    elements as ``jsonb`` compares them (numbers by value, types apart); a missing key reads
    as ``{}``, which no scalar contains, as an object or a list held under the key is."""
    body, key, values = (compiler.process(clause, **kw) for clause in element.clauses)
    held = f"CAST({body} AS JSONB) -> 'metadata' -> CAST({key} AS TEXT)"
    return (f"(CAST({values} AS JSONB) @> "
            f"jsonb_build_array(COALESCE({held}, CAST('{{}}' AS JSONB))))")


@compiles(metadata_holds, "sqlite")
def _sqlite(element: metadata_holds, compiler: SQLCompiler, **kw: Any) -> str:
    """``json_each`` over the metadata and over the values: the key equal, the types
    alike (SQLite tells integers from reals, JSON does not), the values equal (true, false
    and null are their type)."""
    body, key, values = (compiler.process(clause, **kw) for clause in element.clauses)
    alike = (f"held.key = {key} AND {_kind('held')} = {_kind('wanted')} "
             f"AND (held.atom = wanted.atom OR held.type IN ('true', 'false', 'null'))")
    # formatted in: compiled SQL, a column and two bound parameters
    return (f"EXISTS (SELECT 1 FROM json_each({body}, '$.metadata') AS held, "  # noqa: S608
            f"json_each({values}) AS wanted WHERE {alike})")


def _kind(alias: str) -> str:
    return (f"(CASE WHEN {alias}.type IN ('integer', 'real') THEN 'number' "
            f"ELSE {alias}.type END)")
