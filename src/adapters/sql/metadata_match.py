"""``metadata.<key>`` in SQL: whether an event's stored body holds, under a top-level
metadata key, one of a list of JSON values, compared as JSON compares them
(``domain.event_search.held_among``: ``true`` is not ``1``, ``1`` is ``1.0``, an object or
a list is none of them, a missing key matches nothing); and the value a stats grouping
counts it under (``domain.event_stats.grouped_value``), equal values one group (``1`` and
``1.0`` too), answered as JSON text.

The body is JSON text (``JsonText``), so each dialect reads it with its own JSON functions;
the key and the values are bound parameters, so the statement's text, and SQLAlchemy's
compiled-statement cache, is the same for every key and value.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Boolean, ColumnElement, Text, bindparam
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class metadata_holds(FunctionElement[bool]):
    """``metadata_holds(body, key, values)``: ``values`` a JSON array of scalars."""

    type = Boolean()
    inherit_cache = True
    name = "metadata_holds"


def _jsonb(body: str) -> str:
    """The body as ``jsonb``. PostgreSQL's ``jsonb`` cannot hold U+0000, which a JSON
    string may (``\\u0000``): in a body holding one, each is read as U+FFFD instead (an
    escaped backslash before ``u0000`` is left alone), so that one such event cannot stop
    every search that reads it. Filters naming U+0000 are refused before they get here."""
    return (f"CAST(CASE WHEN strpos({body}, '\\u0000') = 0 THEN {body} ELSE "
            f"regexp_replace({body}, '(?<!\\\\)((?:\\\\\\\\)*)\\\\u0000', "
            f"'\\1\\\\ufffd', 'g') END AS JSONB)")


def metadata_condition(body: ColumnElement[Any], key: str,
                       values: tuple[Any, ...]) -> metadata_holds:
    return metadata_holds(body, bindparam(None, key), bindparam(None, json.dumps(list(values))))


@compiles(metadata_holds, "postgresql")
def _postgresql(element: metadata_holds, compiler: SQLCompiler, **kw: Any) -> str:
    """``[1, "1"] @> [value]``: a scalar is contained in the array when it equals one of its
    elements as ``jsonb`` compares them (numbers by value, types apart); a missing key reads
    as ``{}``, which no scalar contains, as an object or a list held under the key is."""
    body, key, values = (compiler.process(clause, **kw) for clause in element.clauses)
    held = f"{_jsonb(body)} -> 'metadata' -> CAST({key} AS TEXT)"
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


class metadata_value(FunctionElement[Any]):
    """``metadata_value(body, key, path)``: the key's string, number or boolean, or NULL
    for anything else or nothing; what a grouping groups by. PostgreSQL reads it with one
    parse of the body (``path``: the key as a JSON path, ``jsonb``, so equal numbers are
    one group); SQLite as JSON text with numbers written without trailing zeros."""

    inherit_cache = True
    name = "metadata_value"


class json_text(FunctionElement[str]):
    """``json_text(value)``: a ``metadata_value`` as JSON text, to answer with."""

    type = Text()
    inherit_cache = True
    name = "json_text"


def metadata_grouping(body: ColumnElement[Any], key: str) -> metadata_value:
    # strict: an array under the key is no value (lax would read its first scalar)
    path = (f"strict $.metadata.{json.dumps(key, ensure_ascii=False)} ? "
            f"(@.type() == \"string\" || @.type() == \"number\" || @.type() == \"boolean\")")
    return metadata_value(body, bindparam(None, key), bindparam(None, path))


@compiles(metadata_value, "postgresql")
def _postgresql_value(element: metadata_value, compiler: SQLCompiler, **kw: Any) -> str:
    """Silent: a missing key is no error but NULL."""
    body, _, path = (compiler.process(clause, **kw) for clause in element.clauses)
    return (f"jsonb_path_query_first({_jsonb(body)}, CAST({path} AS JSONPATH), "
            f"CAST('{{}}' AS JSONB), true)")


@compiles(json_text, "postgresql")
def _postgresql_text(element: json_text, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS TEXT)"


@compiles(metadata_value, "sqlite")
def _sqlite_value(element: metadata_value, compiler: SQLCompiler, **kw: Any) -> str:
    body, key, _ = (compiler.process(clause, **kw) for clause in element.clauses)
    whole = "CAST(held.atom AS INTEGER)"
    shown = (f"CASE held.type WHEN 'text' THEN json_quote(held.atom) "
             f"WHEN 'integer' THEN CAST(held.atom AS TEXT) "
             f"WHEN 'real' THEN CASE WHEN held.atom = {whole} THEN CAST({whole} AS TEXT) "
             f"ELSE CAST(held.atom AS TEXT) END "
             f"WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' END")
    # formatted in: compiled SQL, a column and a bound parameter
    return (f"(SELECT {shown} FROM json_each({body}, '$.metadata') AS held "  # noqa: S608
            f"WHERE held.key = {key})")


@compiles(json_text, "sqlite")
def _sqlite_text(element: json_text, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)
