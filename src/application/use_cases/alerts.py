"""Read triggered alerts (contract §7)."""

from __future__ import annotations

from datetime import datetime

from application.errors import NotFound
from application.pages import Page, page_of
from application.ports.repositories.alerts import AlertFilters
from application.ports.unit_of_work import UnitOfWorkFactory
from domain.alerts import Alert
from domain.cursor import DESC, Position, decode_cursor


def _position(alert: Alert) -> Position:
    return Position(alert.triggered_at, alert.id)


class ListAlerts:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    def execute(self, workspace_id: str, *, rule_id: str | None = None,
                group_key: str | None = None, since: datetime | None = None,
                until: datetime | None = None, notification_status: str | None = None,
                order: str = DESC, limit: int = 50, cursor: str | None = None) -> Page[Alert]:
        after = decode_cursor(cursor, order) if cursor is not None else None
        filters = AlertFilters(rule_id, group_key, since, until, notification_status)
        with self._uow_factory(snapshot=True) as uow:
            rows = uow.alerts.page(workspace_id, filters, order, after, limit + 1)
            total = uow.alerts.count(workspace_id, filters)
        return page_of(rows, limit, order, total, _position)


class GetAlert:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    def execute(self, workspace_id: str, alert_id: str) -> Alert:
        with self._uow_factory(read_only=True) as uow:
            alert = uow.alerts.get(workspace_id, alert_id)
        if alert is None:
            raise NotFound("alert", alert_id)
        return alert
