"""The transparency log: the Merkle tree's tiles, the signed checkpoints, and the
witnesses that cosign them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.checkpoints import KeyRotation, SignedCheckpoint
from domain.cursor import Position
from domain.log_witnesses import LogWitness
from domain.tiles import TileKey


@dataclass(frozen=True)
class UnsignedLog:
    """A workspace whose tree has grown past its latest signed checkpoint."""

    workspace_id: str
    unsigned_events: int
    waiting_since: datetime | None
    """Since when a checkpoint over them has been owed: the later of the latest
    checkpoint's signing and the first unsigned event's arrival (None if neither is
    known: a log that predates checkpoints, its first events removed by retention)."""


class TreeRepository(Protocol):
    """The workspace's Merkle tree, stored as tiles (``domain.tiles``)."""

    def tiles(self, workspace_id: str, keys: Iterable[TileKey]) -> dict[TileKey, bytes]:
        """These tiles (those that exist), in one read."""
        ...

    def save(self, workspace_id: str, tiles: Mapping[TileKey, bytes]) -> None:
        """Insert or replace these tiles, in one statement."""
        ...


class CheckpointRepository(Protocol):
    def add(self, checkpoint: SignedCheckpoint) -> SignedCheckpoint:
        """Store it, unless that size was signed already: then the stored one, which the
        caller must find identical (one size is never signed with two roots). Either way
        it is the workspace's latest from then on, unless a larger one is (``due`` and
        the unsigned backlog compare chain heads with the latest)."""
        ...

    def countersign(self, notes: Sequence[tuple[SignedCheckpoint, str]]) -> int:
        """Replace each checkpoint's note with the one beside it (the same text with one
        more signature), in one statement, unless another process replaced it first; how
        many were replaced."""
        ...

    def most_recent(self) -> SignedCheckpoint | None:
        """The checkpoint signed last, of any workspace."""
        ...

    def every(self, after: SignedCheckpoint | None, limit: int) -> list[SignedCheckpoint]:
        """Every workspace's checkpoints, by workspace and size, after ``after``: only for
        countersigning them after a rotation of the signing key."""
        ...

    def keep_rotations(self, rotations: Sequence[KeyRotation]) -> int:
        """Store each rotation note unless one of that workspace and retired key is stored
        already (a rerun, another process); how many were new."""
        ...

    def rotations(self, workspace_id: str) -> list[KeyRotation]:
        """The workspace's kept rotation notes, the newest first."""
        ...

    def get(self, workspace_id: str, tree_size: int) -> SignedCheckpoint | None: ...
    def latest(self, workspace_id: str) -> SignedCheckpoint | None: ...

    def page(self, workspace_id: str, order: str, after_size: int | None,
             limit: int) -> list[SignedCheckpoint]:
        """By tree size."""
        ...

    def count(self, workspace_id: str) -> int: ...

    def due(self, signed_by: datetime, now: datetime, limit: int) -> list[str]:
        """Workspaces whose tree grew past their latest checkpoint, and whose latest was
        signed at ``signed_by`` or earlier (or is dated past ``now`` and the clocks' skew:
        ``SignedCheckpoint.signed_within``; or never: then only if it has leaves - an
        empty tree is signed when someone asks for it, not for every workspace created);
        those waiting longest first."""
        ...

    def unsigned_backlog(self, now: datetime) -> tuple[int, datetime | None]:
        """All workspaces: how many processed events no checkpoint covers yet, and the
        earliest ``UnsignedLog.waiting_since`` among them (a latest checkpoint dated past
        ``now`` and the clocks' skew counts from the event's arrival instead)."""
        ...

    def unsigned_by_workspace(self, now: datetime, limit: int) -> list[UnsignedLog]:
        """The ``limit`` workspaces that have waited longest for a checkpoint, that one
        first: where an operator looks when signing stops (a stored tree changed behind
        the service's back is never signed over)."""
        ...


@dataclass(frozen=True)
class Cosignature:
    """One witness's cosignature on one of the log's checkpoints: its signature line."""

    witness_id: str
    tree_size: int
    line: str


class LogWitnessRepository(Protocol):
    def add(self, witness: LogWitness) -> None: ...
    def get(self, workspace_id: str, witness_id: str) -> LogWitness | None: ...

    def lock(self, witness_id: str) -> LogWitness | None:
        """The witness, its row locked until the transaction ends: one submission at a
        time."""
        ...

    def update(self, witness: LogWitness) -> None: ...

    def delete(self, workspace_id: str, witness_id: str) -> bool:
        """The witness and the cosignatures it gave; whether it existed."""
        ...

    def page(self, workspace_id: str, order: str, after: Position | None,
             limit: int) -> list[LogWitness]: ...

    def count(self, workspace_id: str) -> int: ...

    def due(self, now: datetime, limit: int) -> list[str]:
        """Witnesses, of any workspace, that have not cosigned their log's latest
        checkpoint, are not waiting out a backoff, and are not being submitted to."""
        ...

    def keep(self, workspace_id: str, cosignature: Cosignature) -> None:
        """Store it, unless that witness's cosignature of that size is stored already."""
        ...

    def prune(self, workspace_id: str) -> int:
        """Drop the cosignatures of sizes below the newest one every witness of the
        workspace cosigned: nothing served reads them (a cosigned checkpoint is the newest
        with enough cosignatures), and a busy log would keep one a witness every few
        seconds for ever. How many went."""
        ...

    def statuses(self) -> dict[str, int]:
        """Every workspace's witnesses, counted by status (those with none left out)."""
        ...

    def troubled(self, limit: int) -> list[LogWitness]:
        """Witnesses of any workspace that refuse to cosign, then those failing (the
        longest first): where an operator looks."""
        ...

    def furthest_behind(self, now: datetime, limit: int) -> list[tuple[LogWitness, datetime]]:
        """The witnesses, of any workspace, that have owed their log a cosignature the
        longest, each with since when (``LogWitness.owes_since``); none while every one
        holds its log's latest checkpoint."""
        ...

    def cosigned(self, workspace_id: str, witnesses: int) -> tuple[int, list[str]] | None:
        """The largest tree size that at least ``witnesses`` of the workspace's witnesses
        cosigned, and their signature lines (in the order the witnesses were added);
        None when no size has that many."""
        ...
