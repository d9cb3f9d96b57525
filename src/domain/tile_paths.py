"""C2SP tlog-tiles resources: their paths, which ones a signed tree has, and entry bundles.

A log served this way can be read by any tlog-tiles client (Go's ``sumdb/tlog``
``TileHashReader``, the transparency-dev tools): a whole tile of 256 hashes, or the 256
entries they are the hashes of, in one request, each checked against a signed checkpoint.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from domain.errors import DomainError
from domain.merkle import inclusion_ranges, leaf_hash, root_of, verify_inclusion
from domain.tiles import HASH_SIZE, TILE_HEIGHT, TILE_WIDTH

MAX_LEVEL = 63
MAX_ENTRY = 0xFFFF
"""An entry bundle prefixes each entry with its length as a big-endian uint16."""

_ELEMENT = re.compile(r"x\d{3}")
_LAST = re.compile(r"\d{3}")
_WIDTH = re.compile(r"[1-9]\d{0,2}")


class NoSuchTile(DomainError):
    """A path that names no tile in the tlog-tiles layout, or one no signed tree has."""


@dataclass(frozen=True)
class TilePath:
    level: int
    """0 for leaf hashes (and entry bundles), up to 63."""
    index: int
    width: int | None = None
    """The partial width (1-255), or None for a full tile of 256."""

    @property
    def count(self) -> int:
        return TILE_WIDTH if self.width is None else self.width

    @property
    def first_entry(self) -> int:
        """The index of the first hash of its level the tile holds."""
        return self.index * TILE_WIDTH

    @property
    def bundle_path(self) -> str:
        """``<N>[.p/<W>]``: the path of a leaf tile's entry bundle after ``tile/entries/``."""
        return format_tile_path(self).removeprefix(f"{self.level}/")

    def __str__(self) -> str:
        return format_tile_path(self)


def parse_tile_path(level: str, rest: str) -> TilePath:
    """``<L>`` and ``<N>[.p/<W>]`` exactly as tlog-tiles writes them (``x001/x234/067``,
    no leading zeros elsewhere): any other spelling names no tile, so each tile has one
    path and caches never hold it twice."""
    if not re.fullmatch(r"0|[1-9]\d?", level) or int(level) > MAX_LEVEL:
        raise NoSuchTile(f"'{level}' is not a tile level (0-{MAX_LEVEL})")
    width = None
    if ".p/" in rest:
        rest, _, partial = rest.partition(".p/")
        if not _WIDTH.fullmatch(partial) or not 1 <= int(partial) < TILE_WIDTH:
            raise NoSuchTile(f"'{partial}' is not a partial tile's width (1-255)")
        width = int(partial)
    *leading, last = rest.split("/")
    if not _LAST.fullmatch(last) or not all(_ELEMENT.fullmatch(e) for e in leading) or \
            (leading and leading[0] == "x000"):
        raise NoSuchTile(f"'{rest}' is not a tile index (e.g. x001/x234/067)")
    index = int("".join(e.removeprefix("x") for e in [*leading, last]))
    return TilePath(int(level), index, width)


def format_tile_path(tile: TilePath) -> str:
    """``<L>/<N>[.p/<W>]``, the part of the path after ``tile/`` (or ``tile/entries/``
    without the level, for level 0)."""
    digits = f"{tile.index:d}"
    digits = digits.zfill(-(-len(digits) // 3) * 3)
    groups = [digits[i:i + 3] for i in range(0, len(digits), 3)]
    index = "/".join([*(f"x{g}" for g in groups[:-1]), groups[-1]])
    partial = "" if tile.width is None else f".p/{tile.width}"
    return f"{tile.level}/{index}{partial}"


def hashes_at_level(tree_size: int, level: int) -> int:
    """How many hashes level ``level`` has in a tree of ``tree_size``: each one the root
    of a full tile of the level below."""
    return tree_size >> (TILE_HEIGHT * level)


def within(tile: TilePath, tree_size: int) -> bool:
    """Whether a tree of ``tree_size`` has this tile: a full tile its level has filled,
    or a partial one no wider than what its level holds there (the hashes of a partial
    tile never change as the tree grows, so every narrower prefix is the same bytes)."""
    available = hashes_at_level(tree_size, tile.level) - tile.first_entry
    return available >= tile.count > 0


def tile_bytes(stored: bytes, tile: TilePath) -> bytes:
    """The tile's hashes out of the stored tile, which may hold more (it grew since)."""
    return stored[:tile.count * HASH_SIZE]


def entry_bundle(entries: Iterable[bytes]) -> bytes:
    """Entries one after another, each after its length as a big-endian uint16."""
    out = bytearray()
    for entry in entries:
        if len(entry) > MAX_ENTRY:
            raise ValueError(f"an entry of {len(entry)} bytes does not fit a bundle")
        out += len(entry).to_bytes(2, "big") + entry
    return bytes(out)


def split_bundle(bundle: bytes) -> list[bytes]:
    """The entries of a bundle (``ValueError`` if it is cut)."""
    entries, at = [], 0
    while at < len(bundle):
        if at + 2 > len(bundle):
            raise ValueError("the bundle ends inside a length")
        size = int.from_bytes(bundle[at:at + 2], "big")
        if at + 2 + size > len(bundle):
            raise ValueError("the bundle ends inside an entry")
        entries.append(bundle[at + 2:at + 2 + size])
        at += 2 + size
    return entries


def bundle_width(index: int, tree_size: int) -> int:
    """How many entries leaf tile ``index`` has in a tree of ``tree_size`` (0: none)."""
    return max(0, min(TILE_WIDTH, tree_size - index * TILE_WIDTH))


def leaf_tile(index: int, tree_size: int) -> TilePath:
    """Leaf tile ``index`` as a tree of ``tree_size`` has it: full, or partial at its edge."""
    width = bundle_width(index, tree_size)
    return TilePath(0, index, None if width == TILE_WIDTH else width)


def bundle_in_tree(index: int, tree_size: int, entries: Sequence[bytes],
                   path: Sequence[bytes], root: bytes) -> bool:
    """Whether ``entries`` are exactly the leaves of tile ``index`` in the tree of
    ``tree_size`` and ``root``, given ``path``, the inclusion path of the tile's first
    leaf: the tile's leaves hash to one node of the tree (its aligned 256 leaves, or the
    last ones), and the path's part above that node leads from it to the root. So one
    proof checks a whole bundle rather than one entry."""
    width = bundle_width(index, tree_size)
    if width == 0 or len(entries) != width:
        return False
    inside = len(inclusion_ranges(0, width))
    node = root_of([leaf_hash(entry) for entry in entries])
    tiles = -(-tree_size // TILE_WIDTH)  # above the tiles, each one is a leaf
    return verify_inclusion(index, tiles, node, path[inside:], root)
