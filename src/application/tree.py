"""The workspace's Merkle tree over the storage port: appending a chunk's leaves, and the
hashes a root or a proof needs, each in one read."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from application.ports.unit_of_work import UnitOfWork
from domain.errors import DomainError
from domain.merkle import EMPTY_ROOT, Node, Range, nodes_needed, range_hash
from domain.tiles import MissingNode, TileKey, append_leaves, edge_tiles, node_from, tiles_for


class TreeDiverged(DomainError):
    """The stored tree no longer gives a root the log signed, or lacks hashes it had: it
    was changed behind the service's back. Nothing more is signed for the workspace."""


def append(uow: UnitOfWork, workspace_id: str, size: int, leaves: Sequence[bytes]) -> None:
    """Leaves ``size``, ``size + 1``… of the tree: the partial tiles are read, extended and
    written back (a full tile is never read again). A tree whose edge was removed or cut
    cannot grow: processing stops there (``TreeDiverged``), the events stay pending."""
    if leaves:
        edges = uow.tree.tiles(workspace_id, edge_tiles(size))
        try:
            uow.tree.save(workspace_id, append_leaves(size, edges, leaves))
        except MissingNode as exc:
            raise TreeDiverged(f"The log's stored tree lacks hashes it had ({exc}).") from exc


def hashes(uow: UnitOfWork, workspace_id: str, ranges: Sequence[Range]) -> list[bytes]:
    """MTH of each leaf range, from the tiles they need, read at once."""
    tiles = uow.tree.tiles(workspace_id, tiles_for(nodes_needed(ranges)))
    node = node_reader(tiles)
    return [range_hash(start, end, node) for start, end in ranges]


def node_reader(tiles: Mapping[TileKey, bytes]) -> Callable[[Node], bytes]:
    """A node's hash from ``tiles``; a node the linked tree must have and the tiles lack
    means they were removed or cut."""
    def node(at: Node) -> bytes:
        try:
            return node_from(at, tiles)
        except MissingNode as exc:
            raise TreeDiverged(f"The log's stored tree lacks hashes it had ({exc}).") from exc
    return node


def root(uow: UnitOfWork, workspace_id: str, size: int) -> bytes:
    return hashes(uow, workspace_id, [(0, size)])[0] if size else EMPTY_ROOT
