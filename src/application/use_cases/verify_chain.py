"""Recompute a workspace's chain from storage, streaming, and report the first broken link;
then hold the events against the Merkle tree, the tree against the log's latest signed
checkpoint, and the retention anchor against the one the log signed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import NamedTuple

from application import tree
from application.ports.repositories.chains import RetainedChain
from application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from application.transparency import TransparencyLog
from application.tree import TreeDiverged
from domain.signed_notes import InvalidNote, parse_anchor
from domain.tiles import HASH_SIZE, TILE_WIDTH
from domain.verification import (
    ANCHOR_MISMATCH,
    CHECKPOINT_MISMATCH,
    TREE_MISMATCH,
    ChainVerifier,
    VerificationReport,
    with_stray_terms,
)

CHUNK_SIZE = 1_000


class _Linked(NamedTuple):
    """What the tree check needs of an event that linked: not the event itself, which is
    let go as soon as it is checked."""

    sequence: int
    event_id: str
    leaf: bytes


class VerifyChain:
    def __init__(self, uow_factory: UnitOfWorkFactory, log: TransparencyLog,
                 chunk_size: int = CHUNK_SIZE) -> None:
        self._uow_factory = uow_factory
        self._log = log
        self._chunk_size = chunk_size

    def execute(self, workspace_id: str, from_sequence: int | None = None,
                to_sequence: int | None = None,
                progress: Callable[[], None] | None = None) -> VerificationReport:
        """Verify ``[from_sequence, to_sequence]`` (default: the whole retained chain);
        ``progress`` is called after each chunk (a long check keeps its claim alive).

        A slice starting after the first event trusts that event's stated ``prev_hash``, but
        not its sequence: the slice must hold every sequence from ``from_sequence`` to
        ``to_sequence`` (or the stored chain head). A check reaching the head compares with
        it, so a deleted or rewritten last event is caught, and so is an event past it. A
        reversed range is the caller's to refuse (the API answers it 400).

        Each event's search entries are held against it as well, a chunk at a time: an
        entry changed to hide an event from a search breaks no hash, yet is tampering. So
        is its leaf in the Merkle tree: a suffix rewritten with every chain hash recomputed
        still differs from the tree, and the tree cannot be rewritten to match without the
        log's signature on its root.
        """
        with self._uow_factory(snapshot=True) as uow:
            chain = uow.chains.retained(workspace_id)
            retained, head = chain.anchor, chain.head
            # Events up to the retention anchor are gone; the chain starts after it.
            start = max(from_sequence or 1, retained.sequence + 1)
            anchor = retained if start == retained.sequence + 1 else None
            verifier = ChainVerifier(anchor, start=start, stop=to_sequence, head=head)
            chain_terms = 0
            for pairs in uow.events.verifiable_chain(workspace_id, start, to_sequence,
                                                     self._chunk_size):
                # The chunk is consumed as it is read and only what the tree check needs is
                # kept: a chunk's worth of live documents made every pass of the garbage
                # collector walk them, a quarter of verification's time.
                linked: list[_Linked] = []
                before, broke = verifier.checked, False
                for event, stored in pairs:
                    if stored is not None:
                        chain_terms += len(stored.terms)
                    if not verifier.feed_event(event, findable=stored is not None
                                               and stored.describe(event)):
                        broke = True
                        break
                    linked.append(_Linked(event.linked.sequence, event.id, verifier.leaf))
                mismatch = self._off_the_tree(uow, workspace_id, linked)
                if mismatch is not None:
                    return VerificationReport(
                        valid=False, checked=before + mismatch + 1,
                        first_invalid_sequence=linked[mismatch].sequence,
                        event_id=linked[mismatch].event_id, reason=TREE_MISMATCH,
                        anchor=retained if retained.sequence else None)
                if broke:
                    break
                if progress is not None:
                    progress()
            report = replace(verifier.finish(), anchor=retained if retained.sequence else None)
            if not report.valid:
                return report
            problem = self._signed_state(uow, workspace_id, chain, anchor is not None)
            if problem is not None:
                reason, detail = problem
                return replace(report, valid=False, reason=reason, detail=detail,
                               from_sequence=None, to_sequence=None, head_hash=None)
            whole = from_sequence is None and to_sequence is None
            if whole and self._strays(uow, workspace_id, chain_terms):
                return with_stray_terms(report)
            return report

    @staticmethod
    def _off_the_tree(uow: UnitOfWork, workspace_id: str,
                      linked: list[_Linked]) -> int | None:
        """The position in ``linked`` of the first leaf that is not the tree's at its
        place."""
        if not linked:
            return None
        first, last = linked[0].sequence - 1, linked[-1].sequence - 1
        tiles = uow.tree.tiles(workspace_id, [(0, index) for index in range(
            first // TILE_WIDTH, last // TILE_WIDTH + 1)])
        for position, (sequence, _, leaf) in enumerate(linked):
            index = sequence - 1
            tile = tiles.get((0, index // TILE_WIDTH), b"")
            offset = index % TILE_WIDTH * HASH_SIZE
            if tile[offset:offset + HASH_SIZE] != leaf:
                return position
        return None

    def _signed_state(self, uow: UnitOfWork, workspace_id: str, chain: RetainedChain,
                      from_anchor: bool) -> tuple[str, str] | None:
        """The stored tree against the log's latest checkpoint, and the retention anchor
        (when the check starts there) against the one the log signed."""
        latest = uow.checkpoints.latest(workspace_id)
        if latest is not None:
            problem = self._log.verify_checkpoint(uow, latest)
            if problem is not None:
                return CHECKPOINT_MISMATCH, "signature" if "signature" in problem else "tree"
        if from_anchor and chain.anchor.sequence:
            return self._anchor_problem(uow, workspace_id, chain)
        return None

    def _anchor_problem(self, uow: UnitOfWork, workspace_id: str,
                        chain: RetainedChain) -> tuple[str, str] | None:
        if chain.anchor_note is None:
            return ANCHOR_MISMATCH, "unsigned"
        text = self._log.signed_by_log(workspace_id, chain.anchor_note)
        if text is None:
            return ANCHOR_MISMATCH, "signature"
        try:
            signed = parse_anchor(text)
        except InvalidNote:
            return ANCHOR_MISMATCH, "signature"
        if (signed.origin, signed.sequence, signed.chain_hash) != (
                self._log.origin(workspace_id), chain.anchor.sequence, chain.anchor.hash):
            return ANCHOR_MISMATCH, "signature"
        try:
            root = tree.root(uow, workspace_id, signed.sequence)
        except TreeDiverged:
            root = None
        if root != signed.root_hash:
            return ANCHOR_MISMATCH, "tree"
        return None

    @staticmethod
    def _strays(uow: UnitOfWork, workspace_id: str, chain_terms: int) -> bool:
        """Whether terms are filed under the workspace beyond those of its chain, whose
        every term verification just found in place, and of its pending events."""
        filed, pending = uow.events.filed_terms(workspace_id)
        return filed != chain_terms + pending
