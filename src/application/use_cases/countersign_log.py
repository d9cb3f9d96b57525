"""``auditrail signing-key countersign``: the last step of rotating the signing key."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain

from application.log_keys import LogKeys
from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWorkFactory
from domain.checkpoints import KeyRotation, SignedCheckpoint

BATCH = 500


@dataclass
class Countersigned:
    checkpoints: int = 0
    anchors: int = 0
    rotations: int = 0
    """Rotation notes kept: one per workspace with a checkpoint and previous key."""
    unreadable: list[str] = field(default_factory=list)
    """Notes no key of the log's signed (``ws_…: checkpoint of size N``, ``ws_…: retention
    anchor``): left as they are, and named - they were not the log's to begin with, or
    were signed by a key that is no longer listed."""


class CountersignLog:
    """Sign every stored checkpoint and retention anchor that a previous key signed with
    the current key as well, so that the previous keys can be dropped from the settings
    without losing anything stored: online verification, proofs and export evidence
    then check with the current key alone. Each workspace's rotation notes are kept
    beside, so that monitors and auditors who pinned a previous key can follow the log
    to the current one after the previous key is gone. Batches of ``BATCH``, each its
    own transaction; a rerun after an interruption skips what is done."""

    def __init__(self, uow_factory: UnitOfWorkFactory, keys: LogKeys, clock: Clock) -> None:
        self._uow_factory = uow_factory
        self._keys = keys
        self._clock = clock

    def execute(self, progress: Callable[[Countersigned, int], None] | None = None
                ) -> Countersigned:
        """``progress(outcome so far, notes read)`` after each batch: millions of
        checkpoints take minutes, and an operator wants to see them go."""
        outcome, read = Countersigned(), 0
        for batch in chain(self._checkpoints(outcome), self._anchors(outcome)):
            read += batch
            if progress is not None:
                progress(outcome, read)
        return outcome

    def _checkpoints(self, outcome: Countersigned) -> Iterator[int]:
        """Each batch's size, once it is committed."""
        after: SignedCheckpoint | None = None
        while True:
            with self._uow_factory() as uow:
                batch = uow.checkpoints.every(after, BATCH)
                notes = []
                for checkpoint in batch:
                    note = self._keys.countersigned(checkpoint.workspace_id, checkpoint.note)
                    if note is None:
                        outcome.unreadable.append(f"{checkpoint.workspace_id}: checkpoint of "
                                                  f"size {checkpoint.tree_size}")
                    elif note != checkpoint.note:
                        notes.append((checkpoint, note))
                outcome.checkpoints += uow.checkpoints.countersign(notes)
                outcome.rotations += uow.checkpoints.keep_rotations(self._rotations(batch))
                uow.commit()
            yield len(batch)
            if len(batch) < BATCH:
                return
            after = batch[-1]

    def _rotations(self, batch: list[SignedCheckpoint]) -> list[KeyRotation]:
        """Every previous key's rotation note for each workspace in the batch: those
        with a checkpoint are those whose log someone may have pinned."""
        now = self._clock.now()
        workspaces = dict.fromkeys(checkpoint.workspace_id for checkpoint in batch)
        return [rotation for workspace_id in workspaces
                for rotation in self._keys.rotations(workspace_id, now)]

    def _anchors(self, outcome: Countersigned) -> Iterator[int]:
        after: str | None = None
        while True:
            with self._uow_factory() as uow:
                batch = uow.chains.signed_anchors(after, BATCH)
                for workspace_id, before in batch:
                    note = self._keys.countersigned(workspace_id, before)
                    if note is None:
                        outcome.unreadable.append(f"{workspace_id}: retention anchor")
                    elif note != before and uow.chains.countersign_anchor(workspace_id,
                                                                          before, note):
                        outcome.anchors += 1
                uow.commit()
            yield len(batch)
            if len(batch) < BATCH:
                return
            after = batch[-1][0]
