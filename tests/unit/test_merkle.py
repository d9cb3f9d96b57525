"""The Merkle tree against RFC 9162's recursive definitions, and its parts against each
other, on trees of every shape hypothesis can think of."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.merkle import (
    EMPTY_ROOT,
    CompactRange,
    consistency_ranges,
    frontier_sizes,
    hashes_of,
    inclusion_ranges,
    leaf_hash,
    node_hash,
    nodes_needed,
    perfect_cover,
    perfect_nodes_from_leaves,
    range_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)

sizes = st.integers(1, 70)


def leaves(size: int, salt: bytes = b"") -> list[bytes]:
    return [leaf_hash(salt + str(n).encode()) for n in range(size)]


def rfc_path(m: int, d: list[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1, as written."""
    if len(d) == 1:
        return []
    k = 1 << ((len(d) - 1).bit_length() - 1)
    if m < k:
        return [*rfc_path(m, d[:k]), root_of(d[k:])]
    return [*rfc_path(m - k, d[k:]), root_of(d[:k])]


def rfc_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    """RFC 9162 §2.1.4.1, as written."""
    n = len(d)
    if m == n:
        return [] if b else [root_of(d)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return [*rfc_subproof(m, d[:k], b), root_of(d[k:])]
    return [*rfc_subproof(m - k, d[k:], False), root_of(d[:k])]


def test_the_known_values() -> None:
    assert EMPTY_ROOT.hex() == hashlib.sha256(b"").hexdigest()
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert root_of([a, b]) == hashlib.sha256(b"\x01" + a + b).digest() == node_hash(a, b)
    c = leaf_hash(b"c")
    assert root_of([a, b, c]) == node_hash(node_hash(a, b), c)  # k = 2: left perfect


@given(size=sizes)
def test_a_root_from_stored_perfect_nodes_is_the_rfcs(size: int) -> None:
    d = leaves(size)
    nodes = perfect_nodes_from_leaves(d)
    assert range_hash(0, size, nodes.__getitem__) == root_of(d)
    assert all(start < end for start, end in [(n[1] << n[0], (n[1] + 1) << n[0])
                                              for n in perfect_cover(0, size)])
    assert sum(1 << height for height, _ in perfect_cover(0, size)) == size


@given(size=sizes, data=st.data())
def test_inclusion_paths_are_the_rfcs_and_verify(size: int, data: st.DataObject) -> None:
    d = leaves(size)
    nodes = perfect_nodes_from_leaves(d)
    index = data.draw(st.integers(0, size - 1))
    ranges = inclusion_ranges(index, size)
    path = hashes_of(ranges, nodes.__getitem__)
    assert path == rfc_path(index, d)
    root = root_of(d)
    assert verify_inclusion(index, size, d[index], path, root)
    assert not verify_inclusion(index, size, leaf_hash(b"forged"), path, root)
    if path:
        assert not verify_inclusion(index, size, d[index], path[:-1], root)
        assert not verify_inclusion(index, size, d[index], [*path[1:], path[0]], root) \
            or len(set(path)) == 1
    if size > 1:  # the same leaf claimed at another position
        other = (index + 1) % size
        assert not verify_inclusion(other, size, d[index], path, root) or d[other] == d[index]
    assert len(nodes_needed(ranges)) <= 2 * size.bit_length()  # O(log n) reads


@given(new=sizes, data=st.data())
def test_consistency_proofs_are_the_rfcs_and_verify(new: int, data: st.DataObject) -> None:
    d = leaves(new)
    old = data.draw(st.integers(1, new))
    nodes = perfect_nodes_from_leaves(d)
    proof = hashes_of(consistency_ranges(old, new), nodes.__getitem__)
    assert proof == (rfc_subproof(old, d, True) if old < new else [])
    old_root, new_root = root_of(d[:old]), root_of(d)
    assert verify_consistency(old, new, old_root, new_root, proof)
    forked = leaves(old, salt=b"rewritten")  # the same size, another history
    assert not verify_consistency(old, new, root_of(forked), new_root, proof)
    assert not verify_consistency(old, new, old_root, root_of(leaves(new, b"x")), proof) \
        or old == new == 0
    if old < new:
        assert not verify_consistency(old, new, old_root, new_root, proof[:-1])


def test_consistency_edges() -> None:
    d = leaves(5)
    assert verify_consistency(0, 5, EMPTY_ROOT, root_of(d), [])
    assert verify_consistency(5, 5, root_of(d), root_of(d), [])
    assert not verify_consistency(5, 5, root_of(d), root_of(leaves(5, b"y")), [])
    assert not verify_consistency(6, 5, root_of(d), root_of(d), [])


@given(size=st.integers(0, 70), more=st.integers(0, 40))
def test_a_compact_range_carries_a_tree_on_without_its_leaves(size: int, more: int) -> None:
    d = leaves(size + more)
    nodes = perfect_nodes_from_leaves(d)
    frontier = [nodes[node] for node in perfect_cover(0, size)]
    assert [1 << h for h, _ in perfect_cover(0, size)] == frontier_sizes(size)
    carried = CompactRange.from_frontier(size, frontier)
    assert carried.root() == root_of(d[:size])
    for leaf in d[size:]:
        carried.append(leaf)
    assert carried.size == size + more and carried.root() == root_of(d)


@settings(max_examples=20)
@given(size=st.integers(1, 40))
def test_a_frontier_of_the_wrong_length_is_refused(size: int) -> None:
    try:
        CompactRange.from_frontier(size, [EMPTY_ROOT] * (len(frontier_sizes(size)) + 1))
    except ValueError:
        return
    raise AssertionError("accepted")


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(1, 300), min_size=1, max_size=6))
def test_tiles_appended_chunk_by_chunk_hold_every_perfect_node(cuts: list[int]) -> None:
    """As processing appends chunk after chunk: the stored tiles give every perfect node,
    and only the partial edge tiles are ever read back to extend them."""
    from domain.tiles import append_leaves, edge_tiles, node_from, tile_of

    store: dict = {}
    size = 0
    for count in cuts:
        new = leaves(size + count)[size:]
        edges = {key: store[key] for key in edge_tiles(size)}
        store.update(append_leaves(size, edges, new))
        size += count
    everything = perfect_nodes_from_leaves(leaves(size))
    for node, value in everything.items():
        if tile_of(node)[0][0] <= 1:  # two levels: up to 65,536 leaves, more than drawn
            assert node_from(node, store) == value, node
    assert all(len(tile) % 32 == 0 and len(tile) <= 256 * 32 for tile in store.values())
    assert sum(len(tile) for key, tile in store.items() if key[0] == 0) == size * 32


def test_a_missing_or_short_tile_is_not_a_node() -> None:
    import pytest

    from domain.tiles import MissingNode, append_leaves, node_from
    store = append_leaves(0, {}, leaves(3))
    with pytest.raises(MissingNode):
        node_from((2, 0), store)  # needs 4 leaves
    with pytest.raises(MissingNode):
        node_from((0, 300), store)
