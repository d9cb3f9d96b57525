"""How a tree's hashes are stored: tiles, as C2SP tlog-tiles and Go's sumdb/tlog lay them
out. A tile of level ``L`` holds up to 256 consecutive hashes of height ``8 * L``: level 0
the leaf hashes, level 1 the roots of each 256 leaves, and so on. Any perfect node is one
stored hash or the root of up to 128 hashes of one tile, so a proof's O(log n) nodes come
from O(log n) tiles; and a tree costs some 32 bytes a leaf.

The rightmost tile of each level grows as leaves are appended; a full tile never changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from domain.errors import DomainError
from domain.merkle import Node, node_hash

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
HASH_SIZE = 32

TileKey = tuple[int, int]
"""(level, index)."""


class MissingNode(DomainError):
    """The stored tiles lack a node's hashes: the tree is shorter than asked, or someone
    removed or cut its tiles."""


def tile_of(node: Node) -> tuple[TileKey, int, int]:
    """The tile holding what ``node`` is made of, the first entry and how many."""
    height, index = node
    level, rest = divmod(height, TILE_HEIGHT)
    first = index << rest
    return (level, first // TILE_WIDTH), first % TILE_WIDTH, 1 << rest


def tiles_for(nodes: Iterable[Node]) -> set[TileKey]:
    return {tile_of(node)[0] for node in nodes}


def node_from(node: Node, tiles: Mapping[TileKey, bytes]) -> bytes:
    """A perfect node's hash from the stored tiles (``MissingNode`` if its tile is absent
    or too short)."""
    key, first, count = tile_of(node)
    data = tiles.get(key, b"")
    if len(data) < (first + count) * HASH_SIZE:
        raise MissingNode(f"node {node} is not in the stored tree")
    level = [data[i * HASH_SIZE:(i + 1) * HASH_SIZE] for i in range(first, first + count)]
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def edge_tiles(size: int) -> list[TileKey]:
    """The partial tiles a tree of ``size`` leaves has, lowest level first: those that
    appending leaves extends (full tiles never change)."""
    keys = []
    level, entries = 0, size
    while entries:
        if entries % TILE_WIDTH:
            keys.append((level, entries // TILE_WIDTH))
        level += 1
        entries //= TILE_WIDTH
    return keys


def append_leaves(size: int, edges: Mapping[TileKey, bytes],
                  leaves: Sequence[bytes]) -> dict[TileKey, bytes]:
    """Append ``leaves`` to a tree of ``size`` whose partial tiles are ``edges``; return
    every tile that changed (or is new), whole. A tile that fills up hands its root to
    the level above."""
    changed: dict[TileKey, bytes] = {}
    pending = list(leaves)
    level, entries = 0, size
    while pending:
        key = (level, entries // TILE_WIDTH)
        tile = bytearray(changed.get(key) or edges.get(key, b"")
                         if entries % TILE_WIDTH else b"")
        if len(tile) != entries % TILE_WIDTH * HASH_SIZE:
            raise MissingNode(f"tile {key} holds {len(tile) // HASH_SIZE} hashes; a tree "
                              f"of {size} leaves needs {entries % TILE_WIDTH}")
        completed = []
        for hash_ in pending:
            tile += hash_
            entries += 1
            if entries % TILE_WIDTH == 0:
                changed[key] = bytes(tile)
                completed.append(_root(tile))
                key, tile = (level, entries // TILE_WIDTH), bytearray()
        if tile:
            changed[key] = bytes(tile)
        pending = completed
        level += 1
        entries = (size >> (TILE_HEIGHT * level))
    return changed


def _root(tile: bytes | bytearray) -> bytes:
    level = [bytes(tile[i:i + HASH_SIZE]) for i in range(0, len(tile), HASH_SIZE)]
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]
