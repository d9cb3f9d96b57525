"""The hash chains' heads and their scheduled checks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.chain_checks import ChainCheck
from domain.hash_chain import ChainHead


@dataclass(frozen=True)
class RetainedChain:
    """Where a workspace's retained chain starts (the retention anchor: the last removed
    event, or the genesis) and where it ends (the head); sequences anchor+1..head exist."""

    anchor: ChainHead
    head: ChainHead
    anchor_note: str | None = None
    """The anchor as the log's key signed it when retention set it (None at the genesis,
    or for an anchor set before the transparency log)."""

    @property
    def linked(self) -> int:
        """How many events it holds: every sequence in between, gapless by construction."""
        return self.head.sequence - self.anchor.sequence


class ChainHeadRepository(Protocol):
    def create(self, workspace_id: str) -> None: ...

    def lock(self, workspace_id: str) -> ChainHead:
        """Read the head and hold it until commit, serialising one workspace's processing."""
        ...

    def save(self, workspace_id: str, head: ChainHead) -> None: ...

    def retained(self, workspace_id: str) -> RetainedChain:
        """Anchor and head in one read: readers want both, and each is a round trip."""
        ...

    def linked_counts(self) -> dict[str, int]:
        """Every workspace's retained linked events (``RetainedChain.linked``), in one read
        of the heads."""
        ...

    def anchor(self, workspace_id: str) -> ChainHead:
        """Where the retained chain starts: the last event removed by retention (sequence
        and hash), or the genesis when nothing was removed."""
        ...

    def save_anchor(self, workspace_id: str, anchor: ChainHead,
                    note: str | None = None) -> None: ...

    def adopt_anchor(self, workspace_id: str, anchor: ChainHead, note: str) -> bool:
        """Sign an anchor set before the transparency log: ``note`` is stored only while
        the anchor is still ``anchor`` and unsigned (retention may have moved it)."""
        ...

    def signed_anchors(self, after: str | None, limit: int) -> list[tuple[str, str]]:
        """Every workspace's signed retention anchor note, by workspace id after ``after``:
        only for countersigning them after a rotation of the signing key."""
        ...

    def countersign_anchor(self, workspace_id: str, before: str, note: str) -> bool:
        """Replace the anchor's note ``before`` with ``note`` (one more signature), unless
        retention moved the anchor meanwhile."""
        ...


class ChainCheckRepository(Protocol):
    def claim_due(self, now: datetime, checked_before: datetime, until: datetime,
                  limit: int) -> list[str]:
        """Claim (until ``until``) up to ``limit`` chains unchecked since ``checked_before``
        (``ChainCheck.unchecked_since``: before it, never, or dated past ``now`` and its
        skew) that no live claim holds: the longest unchecked first. Every workspace with
        a chain takes part: new ones get their row here, even with ``limit`` 0."""
        ...

    def claimed(self, now: datetime) -> int:
        """Chains whose check is queued or running (a live claim)."""
        ...

    def start(self, workspace_id: str, until: datetime) -> ChainCheck | None:
        """Claim the chain until ``until`` for a check that starts now, claimed by upkeep
        or not (an operator's), adding its row if it has none; a workspace being deleted
        is left as it is, and one that is gone gives None."""
        ...

    def lock(self, workspace_id: str) -> ChainCheck | None:
        """Read the check and hold it until commit; None once the workspace is gone."""
        ...

    def get(self, workspace_id: str) -> ChainCheck | None:
        """Read the check; None while the chain has none (never claimed)."""
        ...

    def save(self, check: ChainCheck) -> None: ...

    def retire(self, workspace_id: str) -> None:
        """Check the chain no more: its workspace is being deleted, and a check would take
        the events going for tampering. The row goes with the workspace's last rows."""
        ...

    def invalid(self, limit: int) -> list[ChainCheck]:
        """The chains whose latest check found them invalid, the longest invalid first
        (workspaces being deleted left out, as in ``summary``)."""
        ...

    def summary(self, checked_before: datetime | None,
                now: datetime) -> tuple[int, int | None]:
        """``(invalid, due)``: chains whose latest check found them invalid, and chains
        unchecked since ``checked_before`` (None: not counted, the checks being off) -
        those of workspaces being deleted too, so that a deletion left unfinished, or a
        chain marked as being deleted behind the service's back, does not go unchecked
        unseen."""
        ...
