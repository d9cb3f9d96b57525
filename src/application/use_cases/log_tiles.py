"""The log as C2SP tlog-tiles: its tiles and entry bundles, as far as a signed checkpoint
reaches.

Nothing past the latest checkpoint is served: a client can check every byte it gets
against a signed root, and the log never shows a tree it has not signed. The tree is
stored in this very layout, so a tile is one stored row cut to width; a bundle is its 256
events read in one query.
"""

from __future__ import annotations

from application.errors import NotFound
from application.ports.unit_of_work import UnitOfWorkFactory
from application.transparency import TransparencyLog
from application.tree import TreeDiverged
from domain.hash_chain import event_entry
from domain.tile_paths import TilePath, entry_bundle, tile_bytes, within
from domain.tiles import HASH_SIZE


class LogTiles:
    def __init__(self, uow_factory: UnitOfWorkFactory, log: TransparencyLog) -> None:
        self._uow_factory = uow_factory
        self._log = log

    def tile(self, workspace_id: str, path: TilePath) -> bytes:
        """The tile's hashes, if the latest checkpoint's tree has the tile."""
        self._signed(workspace_id, path, "tile")
        key = (path.level, path.index)
        with self._uow_factory(read_only=True) as uow:
            stored = uow.tree.tiles(workspace_id, [key]).get(key, b"")
        if len(stored) < path.count * HASH_SIZE:
            raise TreeDiverged(f"The log's stored tree lacks hashes it signed (tile "
                               f"{path}).")
        return tile_bytes(stored, path)

    def entries(self, workspace_id: str, path: TilePath) -> bytes:
        """The entries level-0 tile ``path`` hashes, ``JCS(core)`` of each event in
        sequence order; gone (``NotFound``) where retention removed any of them."""
        self._signed(workspace_id, path, "entry bundle")
        first = path.first_entry + 1  # leaf i is sequence i + 1
        last = first + path.count - 1
        with self._uow_factory(snapshot=True) as uow:
            if first <= uow.chains.retained(workspace_id).anchor.sequence:
                raise NotFound("entry bundle", path.bundle_path,
                               by="index (retention removed some of its events)")
            events = list(uow.events.iter_chain(workspace_id, first, last, path.count))
        if [event.sequence for event in events] != list(range(first, last + 1)):
            raise TreeDiverged(f"The log's stored events lack entries it signed (bundle "
                               f"{path.bundle_path}).")
        return entry_bundle(event_entry(event) for event in events)

    def _signed(self, workspace_id: str, path: TilePath, kind: str) -> None:
        if not within(path, self._log.latest(workspace_id).tree_size):
            name = str(path) if kind == "tile" else path.bundle_path
            raise NotFound(kind, name, by="path (not in the latest signed tree)")
