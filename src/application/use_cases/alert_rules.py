"""Create, read, change and delete alert rules (contract §7)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from application.activity import ActivityLog
from application.errors import Conflict, NotFound
from application.pages import Page, list_page
from application.ports.delivery import CredentialVault, Deliverer
from application.ports.jobs import JobQueue
from application.ports.system import Clock, IdGenerator, SecretGenerator
from application.ports.unit_of_work import UnitOfWorkFactory
from domain.activity import Actor, Change, destination, edited
from domain.alert_rule_settings import rule_settings
from domain.alert_rules import (
    MAX_RULES_PER_WORKSPACE,
    NEEDS_ROUTING_KEY,
    PAGERDUTY_FORMAT,
    AlertRule,
)
from domain.cursor import DESC, Position
from domain.errors import FieldError, ValidationFailed
from domain.streams import credential_hint
from domain.workspaces import Workspace


@dataclass(frozen=True)
class CreatedRule:
    rule: AlertRule
    secret: str
    """Shown once, in the creation's answer."""


def _position(rule: AlertRule) -> Position:
    return Position(rule.created_at, rule.id)


class _RuleWriter:
    def __init__(self, vault: CredentialVault, deliverer: Deliverer,
                 allow_private: bool) -> None:
        self._vault = vault
        self._deliverer = deliverer
        self._allow_private = allow_private

    def _settings(self, body: Mapping[str, Any], creating: bool) -> dict[str, Any]:
        found = rule_settings(body, allow_private=self._allow_private, creating=creating)
        if "webhook_url" in found and not self._allow_private:
            refusal = self._deliverer.refusal(found["webhook_url"])
            if refusal is not None:
                raise ValidationFailed([FieldError(
                    "notify.webhook_url", f"Resolves to {refusal}; only public destinations "
                                          f"are allowed.")])
        credential = found.pop("credential", None)
        if credential is not None:
            found.update(self._sealed(credential))
        return found

    def _sealed(self, credential: str) -> dict[str, Any]:
        return {"credential": self._vault.seal(credential),
                "credential_hint": credential_hint(credential)}


class CreateAlertRule(_RuleWriter):
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, ids: IdGenerator,
                 secrets: SecretGenerator, vault: CredentialVault, deliverer: Deliverer,
                 allow_private: bool, activity: ActivityLog) -> None:
        super().__init__(vault, deliverer, allow_private)
        self._uow_factory = uow_factory
        self._clock = clock
        self._ids = ids
        self._secrets = secrets
        self._activity = activity

    def execute(self, workspace_id: str, body: Mapping[str, Any],
                actor: Actor | None = None, rules: Workspace | None = None) -> CreatedRule:
        """``rules``: the workspace, whose accepted actions the rule's must be among."""
        notify = body.get("notify") or {}
        secret = notify.get("secret")
        if secret is None and notify.get("format") != PAGERDUTY_FORMAT:  # its key is theirs
            secret = self._secrets.new_signing_secret()
            body = {**body, "notify": {**notify, "secret": secret}}
        found = self._settings(body, creating=True)
        if rules is not None:
            rules.check_matchable(found["actions"], "match.actions", "this rule")
        assert isinstance(secret, str)  # a PagerDuty rule without its key is refused above
        now = self._clock.now()
        rule = AlertRule(id=self._ids.new("alr"), workspace_id=workspace_id,
                         created_at=now, updated_at=now, **found)
        with self._uow_factory() as uow:
            if uow.alert_rules.count(workspace_id) >= MAX_RULES_PER_WORKSPACE:
                raise Conflict(f"This workspace has {MAX_RULES_PER_WORKSPACE} alert rules, "
                               f"the most it may have; delete one first.")
            uow.alert_rules.add(rule)
            recorded = self._activity.record(uow, workspace_id, actor, Change(
                "alert_rule.created", "alert_rule", rule.id, rule.name,
                {"actions": list(rule.actions), "enabled": rule.enabled,
                 "notifies": destination(rule.webhook_url)}))
            uow.commit()
        if recorded:
            self._activity.wake(workspace_id)
        return CreatedRule(rule, secret)


class GetAlertRule:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    def execute(self, workspace_id: str, rule_id: str) -> AlertRule:
        with self._uow_factory(read_only=True) as uow:
            rule = uow.alert_rules.get(workspace_id, rule_id)
        if rule is None:
            raise NotFound("alert rule", rule_id)
        return rule


class ListAlertRules:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    def execute(self, workspace_id: str, *, order: str = DESC, limit: int = 50,
                cursor: str | None = None) -> Page[AlertRule]:
        return list_page(self._uow_factory, lambda uow: uow.alert_rules, workspace_id, order,
                         limit, cursor, _position)


class UpdateAlertRule(_RuleWriter):
    """``PATCH``. A change to what the rule matches or counts starts its counting afresh
    (windows counted under the old terms would mean nothing under the new); a change to
    ``notify`` retries a pending notification at once."""

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, queue: JobQueue,
                 vault: CredentialVault, deliverer: Deliverer, allow_private: bool,
                 activity: ActivityLog) -> None:
        super().__init__(vault, deliverer, allow_private)
        self._uow_factory = uow_factory
        self._clock = clock
        self._queue = queue
        self._activity = activity

    def execute(self, workspace_id: str, rule_id: str, body: Mapping[str, Any],
                actor: Actor | None = None, rules: Workspace | None = None) -> AlertRule:
        found = self._settings(body, creating=False)
        with self._uow_factory() as uow:
            rule = uow.alert_rules.get(workspace_id, rule_id)
            if rule is None:
                raise NotFound("alert rule", rule_id)
            enabling = bool(found.get("enabled")) and not rule.enabled
            if rules is not None and ("actions" in found or enabling):
                # as at creation; a rule left waiting for refused actions may be disabled
                rules.check_matchable(found.get("actions", rule.actions), "match.actions",
                                      "this rule")
            if (found.get("notify_format") == PAGERDUTY_FORMAT != rule.notify_format
                    and "credential" not in found):
                # Its secret was made to sign with: PagerDuty would refuse it as a key.
                raise ValidationFailed([FieldError("notify.secret", NEEDS_ROUTING_KEY)])
            changed = rule.edited(found, self._clock.now())
            if "notify" in body:
                changed = changed.with_sending(changed.sending.retry_now())
            if changed.counts_differently(rule):
                # Under the chain lock: a chunk being linked finishes counting under the
                # old terms before their windows are forgotten, not after.
                uow.chains.lock(workspace_id)
                uow.alert_windows.forget_rule(rule_id)
            uow.alert_rules.update(changed)
            recorded = bool(body) and self._activity.record(  # an empty PATCH changes nothing
                uow, workspace_id, actor, Change("alert_rule.updated", "alert_rule", rule.id,
                                                 changed.name, edited(body, "enabled")))
            uow.commit()
        if "notify" in body:
            self._queue.enqueue_deliveries([rule_id], force=True)
        if recorded:
            self._activity.wake(workspace_id)
        return changed


class DeleteAlertRule:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock,
                 activity: ActivityLog) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._activity = activity

    def execute(self, workspace_id: str, rule_id: str, actor: Actor | None = None) -> None:
        """Its alerts stay (they happened); notifications not yet sent are cancelled."""
        with self._uow_factory() as uow:
            rule = uow.alert_rules.get(workspace_id, rule_id)
            if rule is None:
                raise NotFound("alert rule", rule_id)
            uow.chains.lock(workspace_id)  # as for a change: after the chunk being linked
            uow.alerts.cancel_pending(workspace_id, rule_id, self._clock.now())
            uow.alert_windows.forget_rule(rule_id)
            uow.alert_rules.delete(workspace_id, rule_id)
            recorded = self._activity.record(uow, workspace_id, actor, Change(
                "alert_rule.deleted", "alert_rule", rule.id, rule.name))
            uow.commit()
        if recorded:
            self._activity.wake(workspace_id)
