"""Alert rule and alert endpoints (contract §7), scope ``alerts``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import jsonify

from application.use_cases.alert_rules import (
    CreateAlertRule,
    DeleteAlertRule,
    GetAlertRule,
    ListAlertRules,
    UpdateAlertRule,
)
from application.use_cases.alerts import GetAlert, ListAlerts
from application.use_cases.notify_alerts import SendTestNotification
from domain.scopes import ALERTS
from domain.timestamps import InvalidTimestamp, parse_timestamp
from entrypoints.container.installation import Container
from entrypoints.http.auth import actor, principal, requires
from entrypoints.http.body import json_object
from entrypoints.http.documents import (
    alert_document,
    alert_rule_document,
    sent_sample_document,
)
from entrypoints.http.errors import ApiError
from entrypoints.http.pagination import page_body
from entrypoints.http.query import query_args
from entrypoints.http.schemas.alerts import (
    AlertQuerySchema,
    AlertRuleCreateSchema,
    AlertRulePatchSchema,
)
from entrypoints.http.schemas.workspace import PageQuerySchema
from entrypoints.http.validation import load
from entrypoints.http.views.api import api, no_content


@api.post("/alert-rules")
@requires(ALERTS)
@inject
def create_alert_rule(create: CreateAlertRule = Provide[Container.create_alert_rule]) -> Any:
    body = load(AlertRuleCreateSchema(), json_object())
    created = create.execute(principal().workspace_id, body, actor(),
                             rules=principal().workspace)
    return jsonify(alert_rule_document(created.rule, created.secret)), 201


@api.get("/alert-rules")
@requires(ALERTS)
@inject
def list_alert_rules(list_: ListAlertRules = Provide[Container.list_alert_rules]) -> Any:
    query = query_args(PageQuerySchema())
    page = list_.execute(principal().workspace_id, order=query["order"], limit=query["limit"],
                         cursor=query.get("cursor"))
    return jsonify(page_body(page, alert_rule_document))


@api.get("/alert-rules/<id:rule_id>")
@requires(ALERTS)
@inject
def get_alert_rule(rule_id: str, get: GetAlertRule = Provide[Container.get_alert_rule]) -> Any:
    return jsonify(alert_rule_document(get.execute(principal().workspace_id, rule_id)))


@api.patch("/alert-rules/<id:rule_id>")
@requires(ALERTS)
@inject
def update_alert_rule(rule_id: str,
                      update: UpdateAlertRule = Provide[Container.update_alert_rule]) -> Any:
    body = load(AlertRulePatchSchema(), json_object())
    return jsonify(alert_rule_document(update.execute(principal().workspace_id, rule_id,
                                                      body, actor(),
                                                      rules=principal().workspace)))


@api.delete("/alert-rules/<id:rule_id>")
@requires(ALERTS)
@inject
def delete_alert_rule(rule_id: str,
                      delete: DeleteAlertRule = Provide[Container.delete_alert_rule]) -> Any:
    delete.execute(principal().workspace_id, rule_id, actor())
    return no_content()


@api.post("/alert-rules/<id:rule_id>/test")
@requires(ALERTS)
@inject
def test_alert_rule(rule_id: str, send: SendTestNotification = Provide[
        Container.send_test_notification]) -> Any:
    sent = send.execute(principal().workspace_id, rule_id)
    return jsonify(sent_sample_document(sent))


@api.get("/alerts")
@requires(ALERTS)
@inject
def list_alerts(list_: ListAlerts = Provide[Container.list_alerts]) -> Any:
    query = query_args(AlertQuerySchema())
    since, until = _moment(query, "since"), _moment(query, "until")
    if since is not None and until is not None and until < since:
        raise ApiError(400, "invalid_parameter", "Invalid query parameter 'until': Must not "
                                                 "be earlier than 'since'.")
    page = list_.execute(principal().workspace_id, rule_id=query.get("rule_id"),
                         group_key=query.get("group_key"), since=since, until=until,
                         notification_status=query.get("notification_status"),
                         order=query["order"], limit=query["limit"],
                         cursor=query.get("cursor"))
    return jsonify(page_body(page, alert_document))


@api.get("/alerts/<id:alert_id>")
@requires(ALERTS)
@inject
def get_alert(alert_id: str, get: GetAlert = Provide[Container.get_alert]) -> Any:
    return jsonify(alert_document(get.execute(principal().workspace_id, alert_id)))


def _moment(query: dict[str, Any], name: str) -> datetime | None:
    if name not in query:
        return None
    try:
        return parse_timestamp(query[name])
    except InvalidTimestamp as exc:
        raise ApiError(400, "invalid_parameter",
                       f"Invalid query parameter '{name}': {exc}") from None
