"""The transparency log of each workspace (contract §10): what is signed, and when.

The signing key is never in the database (``LogKeys`` holds it): a copy of the database
can rewrite events, chain hashes and tree tiles alike, but cannot sign what it rewrote,
and so cannot make the result agree with the checkpoints auditors kept.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from application import tree
from application.log_keys import LogKey, LogKeys
from application.ports.repositories.chains import RetainedChain
from application.ports.signing import SignatureChecker, Signer
from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from application.tree import TreeDiverged
from domain.checkpoints import SignedCheckpoint
from domain.events import Event
from domain.signed_notes import (
    InvalidNote,
    anchor_text,
    checkpoint_text,
    parse_checkpoint,
)

log = logging.getLogger(__name__)

SWEEP_BATCH = 1_000
REFUSAL_LOG_INTERVAL = timedelta(minutes=1)


class TransparencyLog:
    def __init__(self, uow_factory: UnitOfWorkFactory, signer: Signer,
                 checker: SignatureChecker, clock: Clock, log_name: str,
                 cadence: timedelta, previous: Sequence[Signer] = ()) -> None:
        self._uow_factory = uow_factory
        self.keys = LogKeys(signer, previous, checker, log_name)
        self._clock = clock
        self.cadence = cadence
        self._refusals_logged: dict[str, datetime] = {}

    # -- identity --------------------------------------------------------------------------

    def origin(self, workspace_id: str) -> str:
        return self.keys.origin(workspace_id)

    def key(self, workspace_id: str) -> LogKey:
        """The workspace's key and every key it replaced, those no longer configured by
        the rotation notes kept of them."""
        with self._uow_factory(read_only=True) as uow:
            kept = uow.checkpoints.rotations(workspace_id)
        return self.keys.key(workspace_id, kept)

    def sign_text(self, workspace_id: str, text: str) -> str:
        return self.keys.sign_text(workspace_id, text)

    def signed_by_log(self, workspace_id: str, note: str) -> str | None:
        return self.keys.signed_by_log(workspace_id, note)

    def _countersigned(self, checkpoint: SignedCheckpoint) -> SignedCheckpoint:
        """A checkpoint a replaced key signed, now signed by the current key as well, so
        an auditor who pinned the current key can check the log before it grows again.
        The caller found the stored tree still gives its root: what signing the next size
        would vouch for anyway."""
        note = self.keys.countersigned(checkpoint.workspace_id, checkpoint.note)
        if note is None or note == checkpoint.note:
            return checkpoint  # a planted one is served as stored: whoever checks it sees
        with self._uow_factory() as uow:
            uow.checkpoints.countersign([(checkpoint, note)])
            stored = uow.checkpoints.get(checkpoint.workspace_id, checkpoint.tree_size)
            uow.commit()
        return stored or checkpoint

    def stranger(self) -> str | None:
        """The workspace whose checkpoint was signed last, when the key that signed it
        (its first signature: the others co-sign) is neither this process's nor one it
        replaced, under the name it signs with: a key lost, mistyped, differing between
        machines or older than the rest's, or AUDITRAIL_LOG_NAME changed. None when it is
        this log's, or nothing is signed. A checkpoint signed before a rotation whose
        key is gone from the settings is this log's too, once countersigned. Only the
        signature lines are read: a check at start, not a verification."""
        with self._uow_factory(read_only=True) as uow:
            checkpoint = uow.checkpoints.most_recent()
            if checkpoint is None or self.keys.signed_first_by_own(checkpoint.workspace_id,
                                                                   checkpoint.note):
                return None
            retired = {kept.key_id for kept in uow.checkpoints.rotations(
                checkpoint.workspace_id)}
        if self.keys.countersigned_after_rotation(checkpoint.workspace_id, checkpoint.note,
                                                  retired):
            return None
        return checkpoint.workspace_id

    # -- checkpoints -------------------------------------------------------------------------

    def sign(self, workspace_id: str, size: int | None = None) -> SignedCheckpoint:
        """A checkpoint of the tree at ``size`` (default: all that is linked), signed now
        unless that size was signed before, in which case that one, provided the tree
        still gives its root.

        A new size is signed only while the tree still gives the latest checkpoint's root:
        a tree changed behind the service's back is never signed over (``TreeDiverged``,
        logged as an error).
        """
        try:
            return self._sign(workspace_id, size)
        except TreeDiverged as exc:
            self._refused(workspace_id, exc)
            raise

    def _sign(self, workspace_id: str, size: int | None) -> SignedCheckpoint:
        with self._uow_factory(snapshot=True) as uow:
            chain = uow.chains.retained(workspace_id)
            head = chain.head.sequence
            size = head if size is None else size
            if size > head:
                raise ValueError(f"the tree has {head} leaves, not {size}")
            existing = uow.checkpoints.get(workspace_id, size)
            if existing is None:
                latest = uow.checkpoints.latest(workspace_id)
                root = self._vouched_root(uow, workspace_id, size, latest)
                legacy = self._legacy_anchor(uow, workspace_id, chain) \
                    if latest is None else None
            else:
                self._same(existing, tree.root(uow, workspace_id, size))
        if existing is not None:
            return self._countersigned(existing)
        with self._uow_factory() as uow:
            stored = self._record(uow, workspace_id, size, root, chain, legacy)
            uow.commit()
        return self._same(stored, root)

    def _readd(self, checkpoint: SignedCheckpoint) -> None:
        """The head was signed before this sweep, yet the sweep found it due: by a release
        that stored checkpoints without keeping the repository's record of each
        workspace's latest (a rolling upgrade). Adding it again brings that record up to
        date, so the sweep stops naming the workspace."""
        with self._uow_factory() as uow:
            uow.checkpoints.add(checkpoint)
            uow.commit()

    def sign_linked(self, uow: UnitOfWork, events: Sequence[Event]) -> None:
        """Processing's last step on each chunk, in the transaction that links it: a
        checkpoint of the new head when the latest is old enough (or there is none), so a
        workspace's first events are covered at once and a busy one gets a checkpoint
        every cadence or so; the sweep covers what this leaves within the cadence.

        Here rather than after the drain: the transaction holds the chain lock and has just
        written the tree's edge, so one read of the latest checkpoint - and, when one is
        due, one of the tiles - is all it costs, where a transaction of its own re-read the
        head, the tiles and the checkpoints (half a small drain's time, with many
        workspaces each sending a trickle). A stored tree that no longer gives the latest
        checkpoint's root is logged and not signed over; the chunk is linked all the same.
        """
        workspace_id, size = events[0].workspace_id, events[-1].linked.sequence
        latest = uow.checkpoints.latest(workspace_id)
        if latest is not None and latest.signed_within(self._gap(), self._clock.now()):
            return
        try:
            root = self._vouched_root(uow, workspace_id, size, latest)
        except TreeDiverged as exc:
            self._refused(workspace_id, exc)
            return
        chain = uow.chains.retained(workspace_id) if latest is None else None
        legacy = self._legacy_anchor(uow, workspace_id, chain) if chain else None
        self._record(uow, workspace_id, size, root, chain, legacy)

    def _vouched_root(self, uow: UnitOfWork, workspace_id: str, size: int,
                      latest: SignedCheckpoint | None) -> bytes:
        """The tree's root at ``size``, once the tree still gives the root of the latest
        checkpoint below it (one read of the tiles for both)."""
        if latest is None or not 0 < latest.tree_size < size:
            return tree.root(uow, workspace_id, size)
        latest_root, root = tree.hashes(uow, workspace_id, [(0, latest.tree_size), (0, size)])
        self._same(latest, latest_root)
        return root

    def _record(self, uow: UnitOfWork, workspace_id: str, size: int, root: bytes,
                chain: RetainedChain | None, legacy: str | None) -> SignedCheckpoint:
        text = checkpoint_text(self.origin(workspace_id), size, root)
        stored = uow.checkpoints.add(SignedCheckpoint(
            workspace_id, size, root, self.sign_text(workspace_id, text), self._clock.now()))
        if legacy is not None and chain is not None:
            uow.chains.adopt_anchor(workspace_id, chain.anchor, legacy)
        return stored

    def _legacy_anchor(self, uow: UnitOfWork, workspace_id: str,
                       chain: RetainedChain) -> str | None:
        """A retention anchor set before the log existed, signed with the first
        checkpoint: the log adopts it as it adopted the chain it backfilled the tree from
        (migration 0010), on the same trust, and from then on no one can move it unseen."""
        if not chain.anchor.sequence or chain.anchor_note is not None:
            return None
        return self.sign_text(workspace_id, anchor_text(
            self.origin(workspace_id), chain.anchor.sequence, chain.anchor.hash,
            tree.root(uow, workspace_id, chain.anchor.sequence)))

    def _refused(self, workspace_id: str, exc: TreeDiverged) -> None:
        """An error line at most once a minute a workspace, from each process: every
        worker's sweep meets a diverged tree every second, and the status and metrics
        already show its events waiting for a checkpoint."""
        now = self._clock.now()
        last = self._refusals_logged.get(workspace_id)
        if last is None or now - last >= REFUSAL_LOG_INTERVAL:
            self._refusals_logged[workspace_id] = now
            log.error("not signing the log of %s: %s", workspace_id, exc)

    @staticmethod
    def _same(stored: SignedCheckpoint, root: bytes) -> SignedCheckpoint:
        if stored.root_hash != root:
            raise TreeDiverged(f"The log's stored tree no longer gives the root of its "
                               f"checkpoint of size {stored.tree_size}.")
        return stored

    def latest(self, workspace_id: str) -> SignedCheckpoint:
        """The newest checkpoint; a workspace that has none gets one now (of size 0 when
        nothing was processed yet)."""
        with self._uow_factory(read_only=True) as uow:
            latest = uow.checkpoints.latest(workspace_id)
        if latest is None:
            return self.sign(workspace_id)
        if self.keys.previous and not self.keys.names_current(workspace_id, latest.note):
            try:  # signed before the key was rotated: countersigned now
                return self.sign(workspace_id, latest.tree_size)
            except TreeDiverged:
                return latest  # logged; served as stored, for whoever checks it
        return latest

    def sweep(self) -> int:
        """Sign for every workspace whose tree grew past its latest checkpoint and whose
        latest is old enough: every processed event is covered within the cadence, and
        a busy workspace gets a checkpoint every cadence or so, not one per chunk."""
        started = self._clock.now()
        with self._uow_factory(read_only=True) as uow:
            due = uow.checkpoints.due(started - self._gap(), started, SWEEP_BATCH)
        signed = 0
        for workspace_id in due:
            try:
                checkpoint = self.sign(workspace_id)
            except TreeDiverged:
                continue  # logged; the others are still signed
            if checkpoint.created_at >= started:
                signed += 1
            else:
                self._readd(checkpoint)
        return signed

    def _gap(self) -> timedelta:
        """How old a checkpoint must be before the next: a sweep every second then still
        covers each event within the cadence."""
        return max(self.cadence / 2, self.cadence - timedelta(seconds=1))

    def verify_checkpoint(self, uow: UnitOfWork, checkpoint: SignedCheckpoint) -> str | None:
        """Why the stored checkpoint or the stored tree cannot be trusted, or None: its
        signature must be the log's, its text must say its size and root, and the stored
        tree must still give that root."""
        text = self.signed_by_log(checkpoint.workspace_id, checkpoint.note)
        if text is None:
            return "its signature is not the log's"
        try:
            parsed = parse_checkpoint(text)
        except InvalidNote:
            return "its note is not a checkpoint"
        if (parsed.origin, parsed.tree_size, parsed.root_hash) != (
                self.origin(checkpoint.workspace_id), checkpoint.tree_size,
                checkpoint.root_hash):
            return "its note does not say what is stored beside it"
        try:
            root = tree.root(uow, checkpoint.workspace_id, checkpoint.tree_size)
        except TreeDiverged:
            root = None
        if root != parsed.root_hash:
            return "the stored tree does not give the root it signed"
        return None
