"""Create, read, change and delete log streams (contract §8)."""

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
from domain.cursor import DESC, Position
from domain.errors import FieldError, ValidationFailed
from domain.streams import (
    ACTIVE,
    MAX_STREAMS_PER_WORKSPACE,
    TYPES,
    WEBHOOK,
    Stream,
    credential_hint,
    stream_settings,
)
from domain.workspaces import Workspace


@dataclass(frozen=True)
class CreatedStream:
    stream: Stream
    credential: str
    """Shown once, in the creation's answer: a generated webhook secret is known nowhere
    else."""


def _position(stream: Stream) -> Position:
    return Position(stream.created_at, stream.id)


class _StreamWriter:
    """What creating and changing share: checking settings and sealing credentials."""

    def __init__(self, vault: CredentialVault, deliverer: Deliverer,
                 allow_private: bool) -> None:
        self._vault = vault
        self._deliverer = deliverer
        self._allow_private = allow_private

    def _settings(self, body: Mapping[str, Any], type_: str, creating: bool) -> dict[str, Any]:
        found = stream_settings(body, type_=type_, allow_private=self._allow_private,
                                creating=creating)
        if "url" in found and not self._allow_private:
            refusal = self._deliverer.refusal(found["url"])
            if refusal is not None:
                raise ValidationFailed([FieldError("config.url", f"Resolves to {refusal}; "
                                                   f"only public destinations are allowed.")])
        return found

    def _sealed(self, credential: str) -> dict[str, Any]:
        return {"credential": self._vault.seal(credential),
                "credential_hint": credential_hint(credential)}


class CreateStream(_StreamWriter):
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
                actor: Actor | None = None, rules: Workspace | None = None) -> CreatedStream:
        """``rules``: the workspace, whose accepted actions the filter's must be among."""
        type_ = body.get("type")
        if type_ not in TYPES:
            raise ValidationFailed([FieldError("type", f"One of: {', '.join(TYPES)}.")])
        found = self._settings(body, type_, creating=True)
        if rules is not None and body.get("status", ACTIVE) == ACTIVE:
            rules.check_matchable(found.get("actions"), "filter.actions", "this stream")
        credential = found.pop("credential", None)
        if credential is None and type_ == WEBHOOK:
            credential = self._secrets.new_signing_secret()
        now = self._clock.now()
        with self._uow_factory() as uow:
            if uow.streams.count(workspace_id) >= MAX_STREAMS_PER_WORKSPACE:
                raise Conflict(f"This workspace has {MAX_STREAMS_PER_WORKSPACE} streams, the "
                               f"most it may have; delete one first.")
            stream = Stream(
                id=self._ids.new("lst"), workspace_id=workspace_id, name=found["name"],
                type=type_, url=found["url"], actions=found.get("actions"),
                options=found.get("options", {}), batch_seconds=found.get("batch_seconds"),
                created_at=now, updated_at=now, status=body.get("status") or ACTIVE,
                # New streams send what is processed from now on, not the workspace's past
                # (POST /streams/{id}/replay sends that on request).
                position=uow.chains.retained(workspace_id).head.sequence,
                **self._sealed(credential))
            uow.streams.add(stream)
            recorded = self._activity.record(uow, workspace_id, actor, Change(
                "log_stream.created", "log_stream", stream.id, stream.name,
                {"type": stream.type, "sends_to": destination(stream.url),
                 "actions": None if stream.actions is None else list(stream.actions),
                 "status": stream.status}))
            uow.commit()
        if recorded:
            self._activity.wake(workspace_id)
        return CreatedStream(stream, credential)


class GetStream:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    def execute(self, workspace_id: str, stream_id: str) -> Stream:
        with self._uow_factory(read_only=True) as uow:
            stream = uow.streams.get(workspace_id, stream_id)
        if stream is None:
            raise NotFound("stream", stream_id)
        return stream


class ListStreams:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    def execute(self, workspace_id: str, *, order: str = DESC, limit: int = 50,
                cursor: str | None = None) -> Page[Stream]:
        return list_page(self._uow_factory, lambda uow: uow.streams, workspace_id, order,
                         limit, cursor, _position)


class UpdateStream(_StreamWriter):
    """``PATCH``: name, config (URL and credential, each optional), filter, status."""

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, queue: JobQueue,
                 vault: CredentialVault, deliverer: Deliverer, allow_private: bool,
                 activity: ActivityLog) -> None:
        super().__init__(vault, deliverer, allow_private)
        self._uow_factory = uow_factory
        self._clock = clock
        self._queue = queue
        self._activity = activity

    def execute(self, workspace_id: str, stream_id: str, body: Mapping[str, Any],
                actor: Actor | None = None, rules: Workspace | None = None) -> Stream:
        with self._uow_factory() as uow:
            stream = uow.streams.get(workspace_id, stream_id)
            if stream is None:
                raise NotFound("stream", stream_id)
            found = self._settings(body, stream.type, creating=False)
            resumed = body.get("status") == ACTIVE != stream.status
            if rules is not None and ("actions" in found or resumed):
                # as at creation; a stream left waiting for refused actions may be paused
                rules.check_matchable(found.get("actions", stream.actions), "filter.actions",
                                      "this stream")
            credential = found.pop("credential", None)
            if credential is not None:
                found.update(self._sealed(credential))
            now = self._clock.now()
            changed = stream.edited(found, now) if found else stream
            if "status" in body:
                changed = changed.with_status(body["status"], now)
            uow.streams.update(changed)
            details = edited(body, "status")
            if changed.url != stream.url:
                details["sends_to"] = destination(changed.url)
            recorded = bool(body) and self._activity.record(  # an empty PATCH changes nothing
                uow, workspace_id, actor, Change("log_stream.updated", "log_stream", stream.id,
                                                 changed.name, details))
            uow.commit()
        if recorded:
            self._activity.wake(workspace_id)
        if changed.status == ACTIVE and (stream.status != ACTIVE
                                         or not stream.sending.is_due(now)):
            # Resumed, or retried at once: not at the end of a backoff that is now void.
            self._queue.enqueue_deliveries([stream_id], force=True)
        return changed


class DeleteStream:
    def __init__(self, uow_factory: UnitOfWorkFactory, activity: ActivityLog) -> None:
        self._uow_factory = uow_factory
        self._activity = activity

    def execute(self, workspace_id: str, stream_id: str, actor: Actor | None = None) -> None:
        """Its delivery in flight, if any, is dropped with it: nobody wants it any more."""
        with self._uow_factory() as uow:
            stream = uow.streams.get(workspace_id, stream_id)
            if stream is None or not uow.streams.delete(workspace_id, stream_id):
                raise NotFound("stream", stream_id)
            recorded = self._activity.record(uow, workspace_id, actor, Change(
                "log_stream.deleted", "log_stream", stream.id, stream.name))
            uow.commit()
        if recorded:
            self._activity.wake(workspace_id)

