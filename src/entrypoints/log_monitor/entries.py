"""Reading the log's entries (``--entries``) and holding retention to the days agreed
(``--retention-days``), against the signed tree and the signed retention anchor."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import httpx

from domain.retention_marks import OccurrenceMarks
from domain.signed_notes import InvalidNote, parse_anchor, parse_note
from domain.tile_paths import bundle_in_tree, leaf_tile, split_bundle
from domain.tiles import TILE_WIDTH
from entrypoints.log_monitor.asking import ask
from entrypoints.log_monitor.failures import MonitorFailed
from entrypoints.log_monitor.history import CheckedTree, consistent, signed_by_any


def entries_held(client: httpx.Client, read_up_to: object, before: object,
                  tree: CheckedTree, marks: OccurrenceMarks) -> str:
    """Read the entries the log added since ``read_up_to`` (where an earlier run stopped
    reading; the start on the first), a bundle at a time, each held to the checked tree
    by one inclusion proof: an event whose stored form someone changed after it was linked
    no longer hashes to its leaf, and is found here, by the auditor, whoever runs (or
    silences) the server's own checks. A run reads only what is new: what it read before
    is in a tree this one was proved to extend. A bundle the log does not serve must lie
    below the retention anchor it signed; above, it would be withholding events. When
    each event occurred goes to ``marks``."""
    size = tree.size
    start = read_up_to if isinstance(read_up_to, int) and 0 <= read_up_to <= size and \
        before is not None else 0
    if start == size:
        return "; no new entries"
    pruned, floor = 0, None
    for index in range(start // TILE_WIDTH, -(-size // TILE_WIDTH)):
        bundle, held = read_bundle(client, index, size, tree.root)
        if not held:
            raise MonitorFailed(f"the log's entry bundle {bundle_name(index, size)} is not "
                                f"what its signed tree of size {size} holds there: events "
                                f"it holds were changed after they were linked")
        if bundle:
            marks.read((index * TILE_WIDTH + offset + 1, entry_field(data, "occurred_at"))
                       for offset, data in enumerate(bundle))
            continue
        if floor is None or index * TILE_WIDTH >= floor:  # retention may have moved on
            floor = retention_floor(client, tree)
        if index * TILE_WIDTH >= floor:
            raise MonitorFailed(f"the log serves no entry bundle {bundle_name(index, size)}, "
                                f"{_above(floor)}: it withholds events of its signed tree "
                                f"of size {size}")
        pruned += 1
    said = f"; entries {start + 1}-{size} read, as it holds them"
    if pruned:
        said += f" ({pruned} bundle(s) below the retention anchor at sequence {floor}, " \
                f"whose events retention removed)"
    return said


def retention_held(client: httpx.Client, tree: CheckedTree, marks: OccurrenceMarks,
                    days: int) -> str:
    """Demand that retention removed no event younger than ``days``: the signed anchor
    must not lie past an event read (this run or an earlier one) that occurred since.
    Retention's anchor is signed by the log's own key, so this is what keeps an operator
    from erasing recent events as if retention had."""
    floor = retention_floor(client, tree)
    early = marks.removed_too_early(floor, datetime.now(UTC), days)
    if early is not None:
        raise MonitorFailed(f"the log removed events up to sequence {floor} as retention, "
                            f"among them the event at sequence {early.sequence}, which "
                            f"occurred at {moment_text(early.hour)} or later: within the "
                            f"{days} days they were to be kept, so before their time")
    marks.forget_below(floor)
    kept = (f"events up to sequence {floor} removed, none younger than {days} days"
            if floor else "nothing removed")
    return f"; retention held to {days} days ({kept}, by what was read)"


def _above(floor: int) -> str:
    return f"above the retention anchor it signed (sequence {floor})" if floor else \
        "and it signed no retention anchor"


def retention_floor(client: httpx.Client, tree: CheckedTree) -> int:
    """The sequence up to which retention removed events, by the anchor the log signed
    (0 when it serves none): signed by the log's key, for this log, and a tree that the
    checked one extends."""
    answer = ask(client, "/api/v1/log/anchor", answers=(200, 404))
    if answer.status_code == 404:
        return 0
    try:
        parsed = parse_note(answer.text)
        anchor = parse_anchor(parsed.text)
    except InvalidNote:
        raise MonitorFailed("the log's retention anchor is not a signed anchor") from None
    if not signed_by_any(parsed, tree.signers, tree.verify) or anchor.origin != tree.origin:
        raise MonitorFailed("the log's retention anchor is not signed by its key for this "
                            "log")
    if anchor.sequence > tree.size:  # retention ran past the tree while this run read
        consistent(client, tree.size, tree.root, anchor.sequence, anchor.root_hash,
                    "this run checked (at the retention anchor signed since)")
    else:
        consistent(client, anchor.sequence, anchor.root_hash, tree.size, tree.root,
                    "at the retention anchor")
    return anchor.sequence


def read_bundle(client: httpx.Client, index: int, size: int,
            root: bytes) -> tuple[list[bytes], bool]:
    """Entry bundle ``index`` as the log serves it for the tree of ``size``, and whether
    it is what that signed tree holds there; none where the log serves no bundle
    (pruned by retention, or an older release)."""
    answer = ask(client, f"/api/v1/log/tile/entries/{bundle_name(index, size)}")
    if answer.status_code != 200:
        return [], True
    try:
        entries = split_bundle(answer.content)
        proof = ask(client, f"/api/v1/events/{entry_id(entries[0])}/proof",
                     params={"tree_size": size}).json()
        path = [base64.b64decode(h) for h in proof["inclusion_path"]]
        return entries, proof["tree_size"] == size and \
            proof["leaf_index"] == index * TILE_WIDTH and \
            bundle_in_tree(index, size, entries, path, root)
    except (IndexError, KeyError, TypeError, ValueError):
        return [], False


def bundle_name(index: int, size: int) -> str:
    return leaf_tile(index, size).bundle_path


def entry_id(data: bytes) -> str | None:
    event_id = entry_field(data, "id")
    return event_id if isinstance(event_id, str) else None


def entry_field(data: bytes, name: str) -> Any:
    """A field of an event served as JSON bytes; None when they are not an object."""
    try:
        return json.loads(data).get(name)
    except (ValueError, AttributeError):
        return None


def moment_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
