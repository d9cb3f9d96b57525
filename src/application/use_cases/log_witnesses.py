"""The witnesses a workspace's log submits its checkpoints to (contract §10): adding,
listing and removing them, and serving the checkpoint they cosigned (submitting to them is
``witness_submissions``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from application.activity import ActivityLog
from application.errors import Conflict, NotCosigned, NotFound
from application.pages import Page, list_page
from application.ports.jobs import JobQueue
from application.ports.system import Clock, IdGenerator
from application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from application.ports.witnesses import WitnessChannel
from domain.activity import Actor, Change, destination
from domain.checkpoints import SignedCheckpoint
from domain.cursor import DESC, Position
from domain.errors import FieldError, ValidationFailed
from domain.log_witnesses import MAX_WITNESSES_PER_WORKSPACE, LogWitness, witness_settings

COSIGNING_SECONDS = 2
"""How soon after a checkpoint is signed its witnesses have usually cosigned it: the sweep
runs every second, and a submission is one request."""


def _position(witness: LogWitness) -> Position:
    return Position(witness.created_at, witness.id)


class AddLogWitness:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, ids: IdGenerator,
                 channel: WitnessChannel, queue: JobQueue, allow_private: bool,
                 activity: ActivityLog) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._ids = ids
        self._channel = channel
        self._queue = queue
        self._allow_private = allow_private
        self._activity = activity

    def execute(self, workspace_id: str, body: Mapping[str, Any],
                actor: Actor | None = None) -> LogWitness:
        found = witness_settings(body, self._allow_private)
        if not self._allow_private:
            refusal = self._channel.refusal(found["url"])
            if refusal is not None:
                raise ValidationFailed([FieldError("url", f"Resolves to {refusal}; only "
                                                   f"public destinations are allowed.")])
        witness = LogWitness(id=self._ids.new("wit"), workspace_id=workspace_id,
                             url=found["url"], verifier_key=found["verifier_key"],
                             created_at=self._clock.now())
        with self._uow_factory() as uow:
            if uow.log_witnesses.count(workspace_id) >= MAX_WITNESSES_PER_WORKSPACE:
                raise Conflict(f"This workspace's log has {MAX_WITNESSES_PER_WORKSPACE} "
                               f"witnesses, the most it may have; remove one first.")
            if any(other.key == witness.key for other in _all(uow, workspace_id)):
                raise Conflict("This witness's key is already one of the log's witnesses.")
            uow.log_witnesses.add(witness)
            recorded = self._activity.record(uow, workspace_id, actor, Change(
                "log_witness.added", "log_witness", witness.id, witness.name,
                {"verifier_key": witness.verifier_key, "submits_to": destination(witness.url)}))
            uow.commit()
        self._queue.enqueue_deliveries([witness.id])
        if recorded:
            self._activity.wake(workspace_id)
        return witness


def _all(uow: UnitOfWork, workspace_id: str) -> list[LogWitness]:
    return uow.log_witnesses.page(workspace_id, DESC, None, MAX_WITNESSES_PER_WORKSPACE)


class GetLogWitness:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    def execute(self, workspace_id: str, witness_id: str) -> LogWitness:
        with self._uow_factory(read_only=True) as uow:
            witness = uow.log_witnesses.get(workspace_id, witness_id)
        if witness is None:
            raise NotFound("witness", witness_id)
        return witness


class ListLogWitnesses:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    def execute(self, workspace_id: str, *, order: str = DESC, limit: int = 50,
                cursor: str | None = None) -> Page[LogWitness]:
        return list_page(self._uow_factory, lambda uow: uow.log_witnesses, workspace_id,
                         order, limit, cursor, _position)


class RetryLogWitness:
    """After whoever runs the witness fixed it (started it, added the log's key, forgot a
    history the log's operator explained): submit now, not at the end of a backoff of up
    to ten minutes. A refusal stands until the witness cosigns."""

    def __init__(self, uow_factory: UnitOfWorkFactory, queue: JobQueue) -> None:
        self._uow_factory = uow_factory
        self._queue = queue

    def execute(self, workspace_id: str, witness_id: str) -> LogWitness:
        with self._uow_factory() as uow:
            witness = uow.log_witnesses.get(workspace_id, witness_id)
            if witness is None:
                raise NotFound("witness", witness_id)
            witness = witness.with_sending(witness.sending.retry_now())
            uow.log_witnesses.update(witness)
            uow.commit()
        self._queue.enqueue_deliveries([witness_id], force=True)
        return witness


class RemoveLogWitness:
    def __init__(self, uow_factory: UnitOfWorkFactory, activity: ActivityLog) -> None:
        self._uow_factory = uow_factory
        self._activity = activity

    def execute(self, workspace_id: str, witness_id: str, actor: Actor | None = None) -> None:
        """Its cosignatures go with it: a cosigned checkpoint then counts only the
        witnesses the log still has."""
        with self._uow_factory() as uow:
            witness = uow.log_witnesses.get(workspace_id, witness_id)
            if witness is None or not uow.log_witnesses.delete(workspace_id, witness_id):
                raise NotFound("witness", witness_id)
            recorded = self._activity.record(uow, workspace_id, actor, Change(
                "log_witness.removed", "log_witness", witness.id, witness.name,
                {"verifier_key": witness.verifier_key}))
            uow.commit()
        if recorded:
            self._activity.wake(workspace_id)


def cosigned_checkpoint(uow: UnitOfWork, workspace_id: str,
                        witnesses: int | None) -> tuple[SignedCheckpoint, str]:
    """The newest checkpoint cosigned by at least ``witnesses`` of the log's witnesses (all
    of them when None), and its note with their cosignature lines below the log's own."""
    count = uow.log_witnesses.count(workspace_id)
    if count == 0:
        raise NotCosigned("This log has no witnesses: add one with POST /log/witnesses.")
    wanted = count if witnesses is None else witnesses
    if wanted > count:
        raise NotCosigned(f"This log has {count} witness(es), fewer than the {wanted} "
                          f"asked for.")
    found = uow.log_witnesses.cosigned(workspace_id, wanted)
    checkpoint = None if found is None else uow.checkpoints.get(workspace_id, found[0])
    if found is None or checkpoint is None:
        raise NotCosigned(f"No checkpoint of this log is cosigned by {wanted} of its "
                          f"witnesses yet.", retry_after=COSIGNING_SECONDS)
    return checkpoint, checkpoint.note + "".join(found[1])


class CosignedCheckpoint:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    def execute(self, workspace_id: str, witnesses: int | None = None) -> str:
        """A signed note every signed-note library reads, each reader checking the
        signatures of the keys it trusts."""
        with self._uow_factory(read_only=True) as uow:
            return cosigned_checkpoint(uow, workspace_id, witnesses)[1]


