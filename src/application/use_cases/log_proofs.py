"""Reading the transparency log (contract §10): the key, checkpoints, inclusion and
consistency proofs, and an export's evidence."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from application import tree
from application.errors import (
    Conflict,
    InvalidParameter,
    NotCheckpointed,
    NotCosigned,
    NotFound,
)
from application.log_keys import LogKey
from application.pages import Page, page_of
from application.ports.unit_of_work import UnitOfWorkFactory
from application.transparency import TransparencyLog
from application.use_cases.log_witnesses import cosigned_checkpoint
from domain.checkpoints import SignedCheckpoint
from domain.cursor import DESC, Position, decode_cursor
from domain.event_search import EventFilters, parse_filters
from domain.exports import COMPLETED
from domain.hash_chain import event_leaf
from domain.merkle import (
    consistency_ranges,
    inclusion_ranges,
    nodes_needed,
    perfect_cover,
    range_hash,
)
from domain.tiles import tiles_for

EVIDENCE_CHUNK = 1_000


@dataclass(frozen=True)
class InclusionProof:
    event_id: str
    leaf_index: int
    leaf_hash: bytes
    tree_size: int
    root_hash: bytes
    path: list[bytes]
    checkpoint: str


@dataclass(frozen=True)
class ConsistencyProof:
    from_size: int
    to_size: int
    from_root: bytes
    to_root: bytes
    proof: list[bytes]


def _position(checkpoint: SignedCheckpoint) -> Position:
    return Position(checkpoint.created_at, f"ckp_{checkpoint.tree_size}")


class LogReader:
    def __init__(self, uow_factory: UnitOfWorkFactory, log: TransparencyLog) -> None:
        self._uow_factory = uow_factory
        self._log = log

    def key(self, workspace_id: str) -> LogKey:
        return self._log.key(workspace_id)

    def latest(self, workspace_id: str) -> SignedCheckpoint:
        return self._log.latest(workspace_id)

    def checkpoint(self, workspace_id: str, tree_size: int) -> SignedCheckpoint:
        with self._uow_factory(read_only=True) as uow:
            found = uow.checkpoints.get(workspace_id, tree_size)
        if found is None:
            raise NotFound("signed checkpoint", str(tree_size), by="tree size")
        return found

    def anchor(self, workspace_id: str) -> str:
        """The retention anchor as the log signed it: where retention cut the chain, which
        entry bundles below it may be gone (tlog-tiles' minimum index)."""
        with self._uow_factory(read_only=True) as uow:
            note = uow.chains.retained(workspace_id).anchor_note
        if note is None:
            raise NotFound("signed retention anchor", workspace_id, by="workspace")
        return note

    def checkpoints(self, workspace_id: str, *, order: str = DESC, limit: int = 50,
                    cursor: str | None = None) -> Page[SignedCheckpoint]:
        """Newest first by default; the cursor carries the last one's tree size."""
        after = None
        if cursor is not None:
            after = int(decode_cursor(cursor, order).id.removeprefix("ckp_"))
        self._log.latest(workspace_id)  # a workspace always has one to show
        with self._uow_factory(snapshot=True) as uow:
            rows = uow.checkpoints.page(workspace_id, order, after, limit + 1)
            total = uow.checkpoints.count(workspace_id)
        return page_of(rows, limit, order, total, _position)

    def inclusion(self, workspace_id: str, event_id: str, tree_size: int | None = None,
                  within: EventFilters | None = None,
                  witnesses: int | None = None) -> InclusionProof:
        """The event's path to the root of a signed tree: the latest one, the one of
        ``tree_size`` (a signed size holding the event), or, with ``witnesses``, the newest
        one that many of the log's witnesses cosigned, its note carrying their
        cosignatures. ``within``: as for ``GetEvent``."""
        with self._uow_factory(read_only=True) as uow:
            event = uow.events.get(workspace_id, event_id)
        if event is None or (within is not None and not within.matches(event)):
            raise NotFound("event", event_id)
        wait = int(self._log.cadence.total_seconds()) + 1
        if event.sequence is None:
            raise NotCheckpointed("The event is still pending: it joins the log when it is "
                                  "processed, and a checkpoint covers it soon after.", wait)
        index = event.sequence - 1
        if witnesses is not None:
            checkpoint = self._cosigned(workspace_id, index, witnesses, wait)
        elif tree_size is None:
            checkpoint = self._log.latest(workspace_id)
            if checkpoint.tree_size <= index:
                raise NotCheckpointed("The event is newer than the latest checkpoint; one "
                                      "covering it is signed within seconds.", wait)
        else:
            with self._uow_factory(read_only=True) as uow:
                found = uow.checkpoints.get(workspace_id, tree_size)
            if found is None:
                raise InvalidParameter("tree_size", f"No checkpoint of size {tree_size} "
                                                    f"was signed.")
            if tree_size <= index:
                raise InvalidParameter("tree_size", f"The event is leaf {index}: the tree "
                                                    f"must be larger than that.")
            checkpoint = found
        with self._uow_factory(snapshot=True) as uow:
            path = tree.hashes(uow, workspace_id,
                               inclusion_ranges(index, checkpoint.tree_size))
        return InclusionProof(event.id, index, event_leaf(event), checkpoint.tree_size,
                              checkpoint.root_hash, path, checkpoint.note)

    def _cosigned(self, workspace_id: str, index: int, witnesses: int,
                  wait: int) -> SignedCheckpoint:
        with self._uow_factory(read_only=True) as uow:
            checkpoint, note = cosigned_checkpoint(uow, workspace_id, witnesses)
        if checkpoint.tree_size <= index:
            raise NotCheckpointed(f"The event is newer than the latest checkpoint cosigned "
                                  f"by {witnesses} witness(es), of size "
                                  f"{checkpoint.tree_size}; witnesses cosign each new "
                                  f"checkpoint within seconds.", wait)
        return replace(checkpoint, note=note)

    def consistency(self, workspace_id: str, from_size: int,
                    to_size: int | None = None) -> ConsistencyProof:
        latest = self._log.latest(workspace_id)
        to = latest.tree_size if to_size is None else to_size
        if to > latest.tree_size:
            raise InvalidParameter("to_size", f"The latest checkpoint is of size "
                                              f"{latest.tree_size}.")
        if not 0 <= from_size <= to:
            raise InvalidParameter("from_size", f"Must be 0 to {to} (to_size).")
        with self._uow_factory(snapshot=True) as uow:
            roots = tree.hashes(uow, workspace_id, [(0, from_size), (0, to)])
            proof = tree.hashes(uow, workspace_id, consistency_ranges(from_size, to))
        return ConsistencyProof(from_size, to, roots[0], roots[1], proof)


@dataclass(frozen=True)
class Evidence:
    export_id: str
    key: LogKey
    first_sequence: int
    last_sequence: int
    row_count: int
    file_sha256: str
    checkpoint: str
    frontier: list[bytes] | None
    """Unfiltered: the compact range of the tree before the first row."""
    proofs: Iterator[tuple[str, list[bytes]]] | None
    """Filtered: each row's inclusion path in the checkpoint's tree, read as it is sent."""
    cosigned: tuple[str, list[bytes]] | None = None
    """The newest checkpoint every witness of the log cosigned, when it covers the
    export, and the consistency proof from the export's checkpoint to it."""


class ExportEvidence:
    """What proves an export offline: a checkpoint signed at its last row's size, and either
    the frontier before its first row (every row then rebuilds the signed root: nothing is
    missing, nothing altered) or, for a filtered one, each row's inclusion path."""

    def __init__(self, uow_factory: UnitOfWorkFactory, log: TransparencyLog) -> None:
        self._uow_factory = uow_factory
        self._log = log

    def execute(self, workspace_id: str, export_id: str,
                viewer_link_id: str | None = None) -> Evidence:
        with self._uow_factory(read_only=True) as uow:
            export = uow.exports.get(workspace_id, export_id, viewer_link_id)
        if export is None:
            raise NotFound("export", export_id)
        if export.status != COMPLETED:
            raise Conflict(f"The export is {export.status}: evidence exists for completed "
                           f"exports.")
        if export.first_sequence is None or export.last_sequence is None:
            raise Conflict("The export holds no event: there is nothing to prove.")
        first, last = export.first_sequence, export.last_sequence
        checkpoint = self._log.sign(workspace_id, last)
        filters = parse_filters(export.filters)
        frontier = proofs = None
        if filters.only("status"):
            with self._uow_factory(snapshot=True) as uow:
                frontier = tree.hashes(uow, workspace_id, [
                    (node[1] << node[0], (node[1] + 1) << node[0])
                    for node in perfect_cover(0, first - 1)])
        else:
            proofs = self._proofs(workspace_id, export.filters, first, last)
        return Evidence(export.id, self._log.key(workspace_id), first, last,
                        export.row_count or 0, export.sha256 or "", checkpoint.note,
                        frontier, proofs, self._cosigned(workspace_id, last))

    def _cosigned(self, workspace_id: str, last: int) -> tuple[str, list[bytes]] | None:
        """So that an auditor trusting the log's witnesses proves the export against what
        they cosigned, offline: a history shown to this auditor alone is not theirs."""
        with self._uow_factory(snapshot=True) as uow:
            try:
                cosigned, note = cosigned_checkpoint(uow, workspace_id, None)
            except NotCosigned:
                return None
            if cosigned.tree_size < last:
                return None  # the witnesses have yet to cosign what the export holds
            proof = tree.hashes(uow, workspace_id,
                                consistency_ranges(last, cosigned.tree_size))
        return note, proof

    def _proofs(self, workspace_id: str, filters_document: dict, first: int,
                last: int) -> Iterator[tuple[str, list[bytes]]]:
        filters = parse_filters(filters_document)
        after = first - 1
        while True:
            with self._uow_factory(snapshot=True) as uow:
                rows = uow.events.positions(workspace_id, filters, after, last, EVIDENCE_CHUNK)
                if not rows:
                    return
                ranges = {event_id: inclusion_ranges(sequence - 1, last)
                          for event_id, sequence in rows}
                tiles = uow.tree.tiles(workspace_id, tiles_for(nodes_needed(
                    r for paths in ranges.values() for r in paths)))
            node = tree.node_reader(tiles)
            for event_id, paths in ranges.items():
                yield event_id, [range_hash(a, b, node) for a, b in paths]
            after = rows[-1][1]

