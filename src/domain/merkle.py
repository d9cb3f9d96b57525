"""The RFC 9162 Merkle tree (§2.1): hashes, roots, inclusion and consistency proofs, their
verification, and compact ranges. Pure: the server, the offline verifier and the tests
share it.

Storage holds *perfect* subtrees: the node at height ``h`` and index ``i`` covers leaves
``[i * 2**h, (i + 1) * 2**h)``. Every hash a proof or a root needs is ``MTH`` of some
leaf range, and every range splits into a few perfect subtrees (``perfect_cover``), so the
algorithms here work in two steps: say which perfect nodes they need (``*_ranges``), then
combine the values a store looked up in one read (``range_hash``). Nothing here reads
more than O(log n) nodes, whatever the tree's size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

Node = tuple[int, int]
"""(height, index) of a perfect subtree."""
Range = tuple[int, int]
"""Leaves [start, end)."""
NodeHashes = Callable[[Node], bytes]

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two smaller than ``size`` (RFC 9162's k), for size > 1."""
    return 1 << ((size - 1).bit_length() - 1)


def perfect_cover(start: int, end: int) -> list[Node]:
    """The perfect subtrees, left to right, whose leaves are exactly [start, end), as the
    RFC's recursion splits a range that starts on a power-of-two boundary: each is as
    large as fits."""
    nodes = []
    while start < end:
        height = (end - start).bit_length() - 1
        while start % (1 << height):
            height -= 1
        nodes.append((height, start >> height))
        start += 1 << height
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """MTH of consecutive perfect subtrees given left to right, the left ones at least as
    large: RFC 9162 hashes such a sequence right to left."""
    combined = hashes[-1]
    for left in reversed(hashes[:-1]):
        combined = node_hash(left, combined)
    return combined


def range_hash(start: int, end: int, nodes: NodeHashes) -> bytes:
    """MTH(D[start:end]) for a range the RFC's recursion produces."""
    if start == end:
        return EMPTY_ROOT
    return fold([nodes(node) for node in perfect_cover(start, end)])


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The leaf ranges whose hashes make PATH(index, D[0:size]), leaf to root (RFC 9162
    §2.1.3.1)."""
    path: list[Range] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append((start + k, end))
            end = start + k
        else:
            path.append((start, start + k))
            start += k
    return path[::-1]


def consistency_ranges(old: int, new: int) -> list[Range]:
    """The leaf ranges whose hashes make PROOF(old, D[0:new]) (RFC 9162 §2.1.4.1)."""
    if old == 0 or old == new:
        return []
    proof: list[Range] = []  # appended root-first: SUBPROOF's own nodes come before
    start, end, m, complete = 0, new, old, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            proof.append((start + k, end))
            end = start + k
        else:
            proof.append((start, start + k))
            m -= k
            start += k
            complete = False
    if not complete:
        proof.append((start, end))
    return proof[::-1]


def hashes_of(ranges: Iterable[Range], nodes: NodeHashes) -> list[bytes]:
    return [range_hash(start, end, nodes) for start, end in ranges]


def nodes_needed(ranges: Iterable[Range]) -> set[Node]:
    """Every perfect node the ranges' hashes are made of: what a store reads at once."""
    return {node for start, end in ranges for node in perfect_cover(start, end)}


def verify_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes],
                     root: bytes) -> bool:
    """RFC 9162 §2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2."""
    if old > new:
        return False
    if old == new:
        return not proof and old_root == new_root
    if old == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if old & (old - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


def frontier_sizes(size: int) -> list[int]:
    """The sizes of the perfect subtrees that make a tree of ``size`` leaves, left to
    right: its compact range."""
    return [1 << height for height, _ in perfect_cover(0, size)]


@dataclass
class CompactRange:
    """The roots of the perfect subtrees of leaves [0, size), left to right: enough to
    append more leaves and compute every later root, without the leaves themselves."""

    size: int = 0
    hashes: list[bytes] = field(default_factory=list)

    @classmethod
    def from_frontier(cls, size: int, frontier: Sequence[bytes]) -> CompactRange:
        if len(frontier) != len(frontier_sizes(size)):
            raise ValueError(f"a tree of {size} leaves has {len(frontier_sizes(size))} "
                             f"frontier hashes, not {len(frontier)}")
        return cls(size, list(frontier))

    def append(self, leaf: bytes) -> None:
        self.hashes.append(leaf)
        self.size += 1
        merges = (self.size & -self.size).bit_length() - 1  # trailing zero bits
        for _ in range(merges):
            right = self.hashes.pop()
            self.hashes[-1] = node_hash(self.hashes[-1], right)

    def root(self) -> bytes:
        return fold(self.hashes) if self.hashes else EMPTY_ROOT


def root_of(leaves: Sequence[bytes]) -> bytes:
    """MTH straight from RFC 9162's definition: the reference the tests hold all else to."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(root_of(leaves[:k]), root_of(leaves[k:]))


def perfect_nodes_from_leaves(leaves: Sequence[bytes]) -> Mapping[Node, bytes]:
    """Every perfect node over ``leaves``: an in-memory store for tests and small trees."""
    nodes: dict[Node, bytes] = {(0, i): leaf for i, leaf in enumerate(leaves)}
    height, level = 0, list(leaves)
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        height += 1
        nodes.update({(height, i): value for i, value in enumerate(level)})
    return nodes
