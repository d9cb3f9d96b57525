"""Keyset search over events: every filter an index range scan in (occurred_at, id) order."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, select, tuple_

from adapters.sql import tables as t
from adapters.sql.metadata_match import json_text, metadata_condition, metadata_grouping
from domain.cursor import ASC, Position
from domain.event_search import EventFilters
from domain.event_stats import DAY, metadata_group

events, terms = t.events, t.event_terms


def search_query(workspace_id: str, filters: EventFilters, order: str,
                 after: Position | None, limit: int) -> Select:
    """The page query: ``limit`` rows after ``after`` in ``order``.

    A term filter (target, action prefix) drives the scan from ``event_terms``, whose key
    carries ``occurred_at``; otherwise PostgreSQL picks the events index of the most
    selective column filter, all of them ending in ``(occurred_at, id)``.
    """
    wanted = filters.terms()
    if wanted:
        driver = terms.alias("driver")
        query = (select(events).select_from(driver)
                 .join(events, events.c.id == driver.c.event_id)
                 .where(driver.c.workspace_id == workspace_id, driver.c.term == wanted[0]))
        key = (driver.c.occurred_at, driver.c.event_id)
    else:
        query = select(events)
        key = (events.c.occurred_at, events.c.id)
    query = _filtered(query, workspace_id, filters, wanted[1:], key[0])
    if after is not None:
        boundary = tuple_(*key) > tuple_(after.at, after.id) if order == ASC \
            else tuple_(*key) < tuple_(after.at, after.id)
        query = query.where(boundary)
    ordering = [column.asc() if order == ASC else column.desc() for column in key]
    return query.order_by(*ordering).limit(limit)


_EVENT_COLUMNS = ("action", "actor_id", "actor_type", "ip_address", "country_code", "status")


def count_query(workspace_id: str, filters: EventFilters) -> Select:
    """``count(*)`` over the same filtered index range as the page.

    Term filters alone (targets, action prefixes, time range) are counted on ``event_terms``
    without touching ``events`` at all: an index-only scan.
    """
    wanted = filters.terms()
    if wanted and all(getattr(filters, name) is None for name in _EVENT_COLUMNS) \
            and filters.metadata is None:
        driver = terms.alias("driver")
        query = select(func.count()).select_from(driver).where(
            driver.c.workspace_id == workspace_id, driver.c.term == wanted[0])
        if filters.since is not None:
            query = query.where(driver.c.occurred_at >= filters.since)
        if filters.until is not None:
            query = query.where(driver.c.occurred_at < filters.until)
        for term in wanted[1:]:
            other = terms.alias()
            query = query.where(exists().where(and_(
                other.c.workspace_id == workspace_id, other.c.term == term,
                other.c.occurred_at == driver.c.occurred_at,
                other.c.event_id == driver.c.event_id)))
        return query
    if wanted:
        driver = terms.alias("driver")
        query = (select(func.count()).select_from(driver)
                 .join(events, events.c.id == driver.c.event_id)
                 .where(driver.c.workspace_id == workspace_id, driver.c.term == wanted[0]))
        return _filtered(query, workspace_id, filters, wanted[1:], driver.c.occurred_at)
    query = select(func.count()).select_from(events)
    return _filtered(query, workspace_id, filters, wanted[1:], events.c.occurred_at)


def stats_query(dialect: str, workspace_id: str, filters: EventFilters, group_by: str,
                limit: int) -> Select:
    """``(value, count, total)`` of the ``limit`` largest groups (days: the latest),
    ``total`` being every matching event: a window over the groups, so one scan of the
    filtered range gives both. Driven as the page is: from a term when there is one."""
    grouped, value = _grouped(dialect, group_by)
    counted = func.count()
    columns = (value.label("value"), counted.label("count"),
               func.sum(counted).over().label("total"))
    wanted = filters.terms()
    if wanted:
        driver = terms.alias("driver")
        query = (select(*columns).select_from(driver)
                 .join(events, events.c.id == driver.c.event_id)
                 .where(driver.c.workspace_id == workspace_id, driver.c.term == wanted[0]))
        query = _filtered(query, workspace_id, filters, wanted[1:], driver.c.occurred_at)
    else:
        query = _filtered(select(*columns).select_from(events), workspace_id, filters, [],
                          events.c.occurred_at)
    order = (value.desc(),) if group_by == DAY else (counted.desc(), value.asc().nulls_last())
    return query.group_by(grouped).order_by(*order).limit(limit)


def _grouped(dialect: str, group_by: str) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """What rows are grouped by, and the value answered for each group (a metadata key's
    as JSON text, the groups being its JSON values)."""
    key = metadata_group(group_by)
    if key is not None:
        grouped = metadata_grouping(events.c.body, key)
        return grouped, json_text(grouped)
    column = _day(dialect) if group_by == DAY else events.c[group_by]
    return column, column


def _day(dialect: str) -> ColumnElement[str]:
    """``YYYY-MM-DD`` of ``occurred_at`` in UTC: SQLite keeps it as UTC text already."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", events.c.occurred_at), "YYYY-MM-DD")
    return func.substr(events.c.occurred_at, 1, 10)


def narrow_select(workspace_id: str, filters: EventFilters) -> Select:
    """Events matching ``filters``, to be driven by another index (the chain's, for exports)."""
    return _filtered(select(events), workspace_id, filters, filters.terms(),
                     events.c.occurred_at)


def narrow_count_query(workspace_id: str, filters: EventFilters,
                       after_sequence: int | None = None) -> Select:
    """``count(*)`` of a small slice - pending events, or those linked after a sequence -
    driven from ``events`` (the pending index, or the chain index), every term an EXISTS."""
    query = select(func.count()).select_from(events)
    if after_sequence is not None:
        query = query.where(events.c.sequence > after_sequence)
    return _filtered(query, workspace_id, filters, filters.terms(), events.c.occurred_at)


def _filtered(query: Select, workspace_id: str, filters: EventFilters,
              more_terms: list[str], occurred_at: ColumnElement) -> Select:
    """The filters as WHERE clauses; the time range goes on the driving index's column."""
    query = query.where(events.c.workspace_id == workspace_id)
    for column in _EVENT_COLUMNS:
        value = getattr(filters, column)
        if value is not None:
            query = query.where(events.c[column] == value)
    if filters.since is not None:
        query = query.where(occurred_at >= filters.since)
    if filters.until is not None:
        query = query.where(occurred_at < filters.until)
    for key, values in filters.metadata or ():
        query = query.where(metadata_condition(events.c.body, key, values))
    for term in more_terms:
        other = terms.alias()
        query = query.where(exists().where(and_(
            other.c.workspace_id == workspace_id, other.c.term == term,
            other.c.occurred_at == events.c.occurred_at, other.c.event_id == events.c.id)))
    return query
