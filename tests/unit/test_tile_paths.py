"""C2SP tlog-tiles paths, the tiles a signed tree has, and entry bundles."""

from __future__ import annotations

import pytest

from domain.tile_paths import (
    NoSuchTile,
    TilePath,
    entry_bundle,
    format_tile_path,
    leaf_tile,
    parse_tile_path,
    split_bundle,
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
    """The spec's example: a tree of 70,000 has 273 full leaf tiles, a partial one of 112,
    one full level-1 tile, a partial one of 17 and a partial level-2 tile of 1."""
    for tile in (TilePath(0, 272), TilePath(0, 273, 112), TilePath(1, 0),
                 TilePath(1, 1, 17), TilePath(2, 0, 1)):
        assert within(tile, 70_000), tile
    for tile in (TilePath(0, 273), TilePath(0, 273, 113), TilePath(1, 1),
                 TilePath(1, 1, 18), TilePath(2, 0, 2), TilePath(3, 0, 1)):
        assert not within(tile, 70_000), tile
    assert within(TilePath(1, 0, 1), 256) and not within(TilePath(0, 1, 1), 256)
    assert leaf_tile(273, 70_000) == TilePath(0, 273, 112)
    assert leaf_tile(272, 70_000).bundle_path == "272" and \
        leaf_tile(1234067, 10**9).bundle_path == "x001/x234/067"


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
