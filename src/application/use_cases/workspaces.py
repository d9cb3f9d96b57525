"""Operator use cases for workspaces (the CLI's ``workspaces`` group)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from application.activity import ActivityLog
from application.errors import NotFound
from application.ports.rate_limits import CredentialChanges
from application.ports.system import Clock, IdGenerator
from application.ports.unit_of_work import UnitOfWorkFactory
from application.use_cases.create_api_key import CreateApiKey, IssuedKey, key_created
from application.use_cases.workspace_settings import record_settings
from domain.activity import Actor, Change
from domain.names import checked_name
from domain.scopes import ADMIN
from domain.workspaces import Workspace, plan_settings


class CreateWorkspace:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, ids: IdGenerator,
                 create_key: CreateApiKey, activity: ActivityLog) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._ids = ids
        self._create_key = create_key
        self._activity = activity

    def execute(self, name: str, plan: str = "free", rate_limit: int | None = None,
                record_activity: bool = False,
                actor: Actor | None = None) -> tuple[Workspace, IssuedKey]:
        """Create the workspace, its empty chain and a first admin key, in one transaction.

        ``record_activity``: the workspace records changes to itself from the start, its
        creation and the first key's issue included, so no key it ever had is off the record.
        """
        workspace = Workspace(id=self._ids.new("ws"), name=checked_name(name),
                              created_at=self._clock.now(), record_activity=record_activity,
                              **plan_settings(plan, rate_limit))
        with self._uow_factory() as uow:
            uow.workspaces.add(workspace)
            uow.chains.create(workspace.id)
            issued = self._create_key.issue(uow, workspace.id, "admin", (ADMIN,))
            recorded = self._activity.record(
                uow, workspace.id, actor,
                Change("workspace.created", "workspace", workspace.id, workspace.name,
                       {"plan": workspace.plan,
                        "rate_limit_per_minute": workspace.rate_limit_per_minute}),
                workspace=workspace)
            self._activity.record(uow, workspace.id, actor, key_created(issued.key),
                                  workspace=workspace)
            uow.commit()
        if recorded:
            self._activity.wake(workspace.id)
        return workspace, issued


class UpdateWorkspacePlan:
    def __init__(self, uow_factory: UnitOfWorkFactory, changes: CredentialChanges,
                 activity: ActivityLog) -> None:
        self._uow_factory = uow_factory
        self._changes = changes
        self._activity = activity

    def execute(self, workspace_id: str, plan: str | None, rate_limit: int | None,
                actor: Actor | None = None, record_activity: bool | None = None,
                legal_hold: bool | None = None) -> Workspace:
        """``record_activity``, ``legal_hold``: turn the workspace's records of changes,
        or its legal hold, on or off (None: as it is), as its admin can with
        ``PATCH /workspace``."""
        with self._uow_factory() as uow:
            workspace = uow.workspaces.get(workspace_id)
            if workspace is None:
                raise NotFound("workspace", workspace_id)
            keep_limit = rate_limit is None and plan in (None, workspace.plan)
            updated = workspace.with_plan(
                plan or workspace.plan,
                workspace.custom_rate_limit if keep_limit else rate_limit)
            if record_activity is not None:
                updated = replace(updated, record_activity=record_activity)
            if legal_hold is not None:
                updated = replace(updated, legal_hold=legal_hold)
            uow.workspaces.update(updated)
            recorded = record_settings(self._activity, uow, workspace, updated, actor)
            uow.commit()
        self._changes.announce()  # the limit applies from the next request on
        if recorded:
            self._activity.wake(workspace_id)
        return updated


@dataclass(frozen=True)
class ListedWorkspace:
    workspace: Workspace
    linked_events: int
    """Events in its chain, retention's removals and pending events not counted: its size
    at a glance for an operator, read from the chain heads rather than counted."""


class ListWorkspaces:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    def execute(self) -> list[ListedWorkspace]:
        with self._uow_factory(read_only=True) as uow:
            linked = uow.chains.linked_counts()
            return [ListedWorkspace(workspace, linked.get(workspace.id, 0))
                    for workspace in uow.workspaces.list()]
