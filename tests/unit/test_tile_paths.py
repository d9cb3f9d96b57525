"""C2SP tlog-tiles paths, the tiles a signed tree has, and entry bundles."""

from __future__ import annotations

import pytest

from domain.tile_paths import (
    NoSuchTile,
    TilePath,
    entry_bundle,
    format_tile_path,
    parse_tile_path,
    split_bundle,
    tiles_of,
    within,
)


@pytest.mark.parametrize(("tile", "path"), [
    (TilePath(0, 1234067), "0/x001/x234/067"),  # the spec's example
    (TilePath(0, 5), "0/005"),
    (TilePath(2, 1000, 17), "2/x001/000.p/17"),
    (TilePath(63, 0, 255), "63/000.p/255"),
])
def test_paths_are_written_and_read_as_the_spec_spells_them(tile: TilePath, path: str) -> None:
    assert format_tile_path(tile) == str(tile) == path
    level, rest = path.split("/", 1)
    assert parse_tile_path(level, rest) == tile


@pytest.mark.parametrize(("level", "rest"), [
    ("0", "5"), ("0", "0005"), ("0", "x000/005"), ("00", "000"), ("64", "000"),
    ("-1", "000"), ("a", "000"), ("0", "000.p/0"), ("0", "000.p/256"), ("0", "000.p/07"),
    ("0", "000.p/"), ("0", "x001"), ("0", "x1/000"), ("0", "001/002"), ("0", ""),
])
def test_any_other_spelling_names_no_tile(level: str, rest: str) -> None:
    with pytest.raises(NoSuchTile):
        parse_tile_path(level, rest)


def test_a_tree_has_the_tiles_the_spec_lists() -> None:
    tiles = tiles_of(70_000)  # the spec's example
    full = [t for t in tiles if t.width is None]
    assert [t for t in tiles if t.width] == [TilePath(0, 273, 112), TilePath(1, 1, 17),
                                            TilePath(2, 0, 1)]
    assert len([t for t in full if t.level == 0]) == 273 and TilePath(1, 0) in full
    assert tiles_of(256) == [TilePath(0, 0), TilePath(1, 0, 1)]
    assert tiles_of(0) == []


def test_a_signed_tree_has_its_full_tiles_and_any_narrower_partial_prefix() -> None:
    assert within(TilePath(0, 0), 256) and not within(TilePath(0, 0), 255)
    assert within(TilePath(0, 1, 88), 344) and within(TilePath(0, 1, 10), 344)
    assert not within(TilePath(0, 1, 89), 344) and not within(TilePath(0, 2, 1), 344)
    assert within(TilePath(1, 0, 1), 256) and not within(TilePath(1, 0, 1), 255)
    assert within(TilePath(0, 0, 5), 600)  # a prefix of a tile that filled since


def test_bundles_prefix_each_entry_with_its_length() -> None:
    entries = [b"", b"{}", b"x" * 300, b"y" * 0xFFFF]
    bundle = entry_bundle(entries)
    assert bundle[:4] == b"\x00\x00\x00\x02" and bundle[6:8] == b"\x01\x2c"
    assert split_bundle(bundle) == entries
    with pytest.raises(ValueError):
        entry_bundle([b"z" * 0x10000])
    for cut in (bundle[:1], bundle[:5]):
        with pytest.raises(ValueError):
            split_bundle(cut)


@pytest.mark.parametrize("size", [1, 100, 256, 257, 512, 600, 65_536 + 300])
def test_one_proof_checks_a_whole_bundle_against_the_root(size: int) -> None:
    from domain.merkle import (
        hashes_of,
        inclusion_ranges,
        leaf_hash,
        perfect_nodes_from_leaves,
        range_hash,
    )
    from domain.tile_paths import bundle_in_tree, bundle_width

    entries = [f"event {n}".encode() for n in range(size)]
    nodes = perfect_nodes_from_leaves([leaf_hash(entry) for entry in entries])
    root = range_hash(0, size, nodes.__getitem__)
    for index in {0, (size - 1) // 256 // 2, (size - 1) // 256}:
        first = index * 256
        bundle = entries[first:first + bundle_width(index, size)]
        path = hashes_of(inclusion_ranges(first, size), nodes.__getitem__)
        assert bundle_in_tree(index, size, bundle, path, root), (size, index)
        altered = [*bundle[:-1], bundle[-1] + b" "]
        assert not bundle_in_tree(index, size, altered, path, root)
        assert not bundle_in_tree(index, size, bundle[:-1], path, root)
        if index == (size - 1) // 256:  # the last tile is one entry wider in a larger tree
            assert not bundle_in_tree(index, size + 1, bundle, path, root)
    assert bundle_width((size - 1) // 256 + 1, size) == 0
