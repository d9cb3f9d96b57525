"""The caller's own workspace: read it, change its name, allowlist, retention, records,
legal hold, accepted actions and metadata schemas."""

from __future__ import annotations

from typing import Any

from application.activity import ActivityLog
from application.errors import NotFound
from application.ports.metadata_rules import MetadataRules
from application.ports.rate_limits import CredentialChanges
from application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from application.principal import Principal
from domain import accepted_actions, metadata_schemas
from domain.activity import Actor, Change, changed
from domain.cursor import DESC
from domain.errors import FieldError, ValidationFailed
from domain.streams import MAX_STREAMS_PER_WORKSPACE
from domain.workspaces import Workspace


class GetWorkspace:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    def execute(self, workspace_id: str) -> Workspace:
        with self._uow_factory(read_only=True) as uow:
            workspace = uow.workspaces.get(workspace_id)
        if workspace is None:
            raise NotFound("workspace", workspace_id)
        return workspace


class UpdateWorkspace:
    def __init__(self, uow_factory: UnitOfWorkFactory, changes: CredentialChanges,
                 activity: ActivityLog, rules: MetadataRules) -> None:
        self._uow_factory = uow_factory
        self._changes = changes
        self._activity = activity
        self._rules = rules

    def execute(self, principal: Principal, changes: dict[str, Any],
                caller_address: str, actor: Actor | None = None) -> Workspace:
        """Takes effect on the next request in every process: the change is announced to
        their credential caches (an allowlist is checked with every request)."""
        with self._uow_factory() as uow:
            workspace = uow.workspaces.get(principal.workspace_id)
            if workspace is None:
                raise NotFound("workspace", principal.workspace_id)
            updated = self._with_settings(workspace, changes, caller_address)
            if updated.accepted_actions not in (None, workspace.accepted_actions):
                _refuse_stranding(uow, updated)
            uow.workspaces.update(updated)
            recorded = record_settings(self._activity, uow, workspace, updated, actor)
            uow.commit()
        self._changes.announce()
        if recorded:
            self._activity.wake(workspace.id)
        return updated

    def _with_settings(self, workspace: Workspace, changes: dict[str, Any],
                       caller_address: str) -> Workspace:
        """The domain's checks, then the schema library's (given schemas the domain
        refuses, such as one nested too deep for it, the library is not asked)."""
        updated = workspace.with_settings(changes, caller_address)
        schemas = changes.get("metadata_schemas")
        problems = self._rules.schema_problems(schemas) if isinstance(schemas, dict) else []
        if problems:
            raise ValidationFailed(problems)
        return updated


def _refuse_stranding(uow: UnitOfWork, workspace: Workspace) -> None:
    """A list that would leave an enabled alert rule or an active stream waiting for
    actions it refuses is refused, naming them: the rule would never trigger nor the
    stream send, and nobody would be told (as when one is created)."""
    stranded = [f"alert rule {rule.name!r} ({rule.id})"
                for rule in uow.alert_rules.enabled(workspace.id)
                if workspace.strands(rule.actions)]
    stranded += [f"stream {stream.name!r} ({stream.id})"
                 for stream in uow.streams.page(workspace.id, DESC, None,
                                                MAX_STREAMS_PER_WORKSPACE)
                 if not stream.paused and workspace.strands(stream.actions)]
    if stranded:
        raise ValidationFailed([FieldError(accepted_actions.FIELD, (
            f"This list would leave {', '.join(stranded)} waiting for actions it refuses, "
            f"never to see an event. Change their actions, or disable or pause them, "
            f"first; or keep those actions listed."))])


def record_settings(activity: ActivityLog, uow: UnitOfWork, before: Workspace,
                    after: Workspace, actor: Actor | None) -> bool:
    """Record each setting changed, from what to what (the accepted actions and the
    metadata schemas as what was added, changed and removed, as a record holds at most
    32 KiB and they up to 128 KB);
    nothing when nothing changed (the same value set again). Turning recording off is
    recorded, as the last record."""
    changes = changed(_settings(before), _settings(after))
    if not changes:
        return False
    if "accepted_actions" in changes:
        changes["accepted_actions"] = accepted_actions.recorded_change(
            before.accepted_actions, after.accepted_actions)
    if "metadata_schemas" in changes:
        changes["metadata_schemas"] = metadata_schemas.recorded_change(
            before.metadata_schemas, after.metadata_schemas)
    return activity.record(uow, after.id, actor,
                           Change("workspace.updated", "workspace", after.id, after.name,
                                  {"changes": changes}),
                           workspace=after if after.record_activity else before)


def _settings(workspace: Workspace) -> dict[str, Any]:
    return {"name": workspace.name, "plan": workspace.plan,
            "rate_limit_per_minute": workspace.rate_limit_per_minute,
            "ip_allowlist": list(workspace.ip_allowlist),
            "retention_days": workspace.effective_retention_days,
            "record_activity": workspace.record_activity,
            "legal_hold": workspace.legal_hold,
            "accepted_actions": workspace.listed_actions,
            "metadata_schemas": workspace.metadata_schemas}
