"""``auditrail signing-key countersign``: the last step of rotating the signing key."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain

from application import tree
from application.log_keys import LogKeys
from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from domain.checkpoints import KeyRotation, SignedCheckpoint
from domain.merkle import EMPTY_ROOT
from domain.signed_notes import anchor_text, checkpoint_text

BATCH = 500


@dataclass
class Countersigned:
    checkpoints: int = 0
    anchors: int = 0
    rotations: int = 0
    """Rotation notes kept: one per workspace with a checkpoint and previous key."""
    adopted: int = 0
    """Of those countersigned, checkpoints and anchors no key the log has signed (a key lost
    for good), each signed once the stored tree and chain gave what it says."""
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
    own transaction; a rerun after an interruption skips what is done.

    With ``adopt`` (the previous key was lost for good), what no key of the log's signed
    is signed too, when it says what the stored tree (and, for an anchor, the chain)
    gives: a quiet workspace's latest checkpoint would otherwise stay unverifiable
    under the new key until the log grew."""

    def __init__(self, uow_factory: UnitOfWorkFactory, keys: LogKeys, clock: Clock) -> None:
        self._uow_factory = uow_factory
        self._keys = keys
        self._clock = clock

    def execute(self, progress: Callable[[Countersigned, int], None] | None = None,
                adopt: bool = False) -> Countersigned:
        """``progress(outcome so far, notes read)`` after each batch: millions of
        checkpoints take minutes, and an operator wants to see them go."""
        outcome, read = Countersigned(), 0
        for batch in chain(self._checkpoints(outcome, adopt), self._anchors(outcome, adopt)):
            read += batch
            if progress is not None:
                progress(outcome, read)
        return outcome

    def _checkpoints(self, outcome: Countersigned, adopt: bool) -> Iterator[int]:
        """Each batch's size, once it is committed."""
        after: SignedCheckpoint | None = None
        while True:
            with self._uow_factory() as uow:
                batch = uow.checkpoints.every(after, BATCH)
                notes, strangers = [], []
                for checkpoint in batch:
                    note = self._keys.countersigned(checkpoint.workspace_id, checkpoint.note)
                    if note is None and adopt:
                        strangers.append(checkpoint)
                    elif note is None:
                        outcome.unreadable.append(_named(checkpoint))
                    elif note != checkpoint.note:
                        notes.append((checkpoint, note))
                outcome.checkpoints += uow.checkpoints.countersign(notes)
                adopted = uow.checkpoints.countersign(self._adopted(uow, strangers, outcome))
                outcome.checkpoints += adopted
                outcome.adopted += adopted  # what was written: another run may have been first
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

    def _anchors(self, outcome: Countersigned, adopt: bool) -> Iterator[int]:
        after: str | None = None
        while True:
            with self._uow_factory() as uow:
                batch = uow.chains.signed_anchors(after, BATCH)
                for workspace_id, before in batch:
                    note = self._keys.countersigned(workspace_id, before)
                    adopted = note is None and adopt
                    if adopted:
                        note = self._adopted_anchor(uow, workspace_id, before)
                    if note is None:
                        outcome.unreadable.append(f"{workspace_id}: retention anchor")
                    elif note != before and uow.chains.countersign_anchor(workspace_id,
                                                                          before, note):
                        outcome.anchors += 1
                        outcome.adopted += int(adopted)
                uow.commit()
            yield len(batch)
            if len(batch) < BATCH:
                return
            after = batch[-1][0]

    def _adopted(self, uow: UnitOfWork, strangers: Sequence[SignedCheckpoint],
                 outcome: Countersigned) -> list[tuple[SignedCheckpoint, str]]:
        """The checkpoints no key of the log's signed, signed now where each says the root
        the stored tree gives at its size (one read of the tiles a workspace)."""
        by_workspace: dict[str, list[SignedCheckpoint]] = defaultdict(list)
        for checkpoint in strangers:
            by_workspace[checkpoint.workspace_id].append(checkpoint)
        notes = []
        for workspace_id, checkpoints in by_workspace.items():
            origin = self._keys.origin(workspace_id)
            try:
                roots = tree.hashes(uow, workspace_id, [(0, c.tree_size) for c in checkpoints
                                                        if c.tree_size])
            except tree.TreeDiverged:
                outcome.unreadable += [_named(c) for c in checkpoints]
                continue
            given = iter(roots)
            for checkpoint in checkpoints:
                root = next(given) if checkpoint.tree_size else EMPTY_ROOT
                note = self._keys.adopted(workspace_id, checkpoint.note, checkpoint_text(
                    origin, checkpoint.tree_size, root))
                if note is None:
                    outcome.unreadable.append(_named(checkpoint))
                else:
                    notes.append((checkpoint, note))
        return notes

    def _adopted_anchor(self, uow: UnitOfWork, workspace_id: str, note: str) -> str | None:
        """The retention anchor's note signed now, when it says what the stored chain and
        tree give; None otherwise (a tree that lost the hashes it needs included)."""
        anchor = uow.chains.anchor(workspace_id)
        try:
            root = tree.root(uow, workspace_id, anchor.sequence)
        except tree.TreeDiverged:
            return None
        return self._keys.adopted(workspace_id, note, anchor_text(
            self._keys.origin(workspace_id), anchor.sequence, anchor.hash, root))


def _named(checkpoint: SignedCheckpoint) -> str:
    return f"{checkpoint.workspace_id}: checkpoint of size {checkpoint.tree_size}"
