"""Ingest receipts held to the log: every event a receipt the log signed names must be in
the checked tree as it was accepted."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from domain.canonical_json import canonical_json
from domain.hash_chain import document_core
from domain.merkle import leaf_hash, verify_inclusion
from domain.receipts import Receipt, ReceiptBroken, ReceiptEntry, accepted_digest, signed_receipt
from domain.tile_paths import bundle_width
from domain.tiles import TILE_WIDTH
from entrypoints.log_monitor.asking import ask, get
from entrypoints.log_monitor.entries import (
    bundle_name,
    entry_field,
    entry_id,
    moment_text,
    read_bundle,
    retention_floor,
)
from entrypoints.log_monitor.failures import MonitorFailed
from entrypoints.log_monitor.history import CheckedTree

UNLINKED_FOR_TOO_LONG = timedelta(days=1)
"""A receipted event in no checkpoint this long after it was accepted is an alarm: the log
promised a checkpoint within seconds of linking, and linking within seconds of the 202."""


class KeptReceipts:
    """The receipts already proved honoured (by the SHA-256 of their notes), kept in the
    state file so that a run asks nothing about them again: each of their events is in a
    tree every later checked one extends, so it stays there. Only those in this run's
    input are kept on."""

    def __init__(self, kept: object) -> None:
        self.before = {item for item in kept if isinstance(item, str)} \
            if isinstance(kept, list) else set()
        self.now: set[str] = set()
        self.earlier = 0

    def already(self, note: str) -> bool:
        digest = _note_digest(note)
        if digest not in self.before:
            return False
        self.now.add(digest)
        self.earlier += 1
        return True

    def add(self, note: str) -> None:
        self.now.add(_note_digest(note))


def _note_digest(note: str) -> str:
    return hashlib.sha256(note.encode("utf-8")).hexdigest()


def receipts_honoured(client: httpx.Client, notes: Collection[str], tree: CheckedTree,
                       kept: KeptReceipts) -> str:
    """Demand that every event the log's receipts name is in the checked tree as it was
    accepted: one changed or dropped before it was linked - the one moment no hash
    covered it - is caught here. Events not linked yet wait for a later run, unless they
    were accepted too long ago. Notes that are not receipts signed by the log's keys
    prove nothing against it and are only counted."""
    if not notes:
        return ""
    proved, waiting, ignored = 0, [], 0
    for note in notes:
        if kept.already(note):
            continue
        try:
            receipt = signed_receipt(note, tree.signers, tree.verify)
        except ReceiptBroken:
            ignored += 1
            continue
        # Every entry asked (a list, not a generator): one changed is an alarm even
        # while another waits to be linked.
        located = _located(client, receipt, tree.size, tree.root)
        if all([_honoured_in(located, entry, receipt) if entry.event_id in located
                else _honoured(client, entry, receipt, tree)
                for entry in receipt.entries]):
            kept.add(note)
            proved += 1
        else:
            waiting.append(receipt)
    said = f"; {proved + kept.earlier} receipt(s) honoured: their events are in it as " \
           f"accepted" + (f" ({kept.earlier} proved on earlier runs)" if kept.earlier else "")
    if waiting:
        oldest = min(receipt.received_at for receipt in waiting)
        if datetime.now(UTC) - oldest > UNLINKED_FOR_TOO_LONG:
            raise MonitorFailed(f"events the log accepted at {moment_text(oldest)} (a receipt "
                                f"it signed says so) are still in no checkpoint: it "
                                f"promised them, and links within seconds")
        said += f"; {len(waiting)} wait for their events to be checkpointed (accepted " \
                f"from {moment_text(oldest)})"
    if ignored:
        said += f" ({ignored} other note(s) ignored: not receipts its key signed)"
    return said


def _located(client: httpx.Client, receipt: Receipt, size: int,
             root: bytes) -> dict[str, bytes]:
    """The receipt's events found in the log's entry bundles, each bundle checked against
    the signed tree by one inclusion proof: a batch's events are linked one after another,
    so its thousand events take a handful of requests rather than two each. Found from
    the first event's sequence on, a bundle at a time while bundles hold some of them;
    those not found are asked for one by one."""
    first = ask(client, f"/api/v1/events/{receipt.entries[0].event_id}")
    sequence = entry_field(first.content, "sequence") if first.status_code == 200 else None
    if not isinstance(sequence, int) or not 0 < sequence <= size:
        return {}
    wanted = {entry.event_id for entry in receipt.entries}
    found: dict[str, bytes] = {}
    index = (sequence - 1) // TILE_WIDTH
    while bundle_width(index, size) and len(found) < len(wanted):
        entries, held = read_bundle(client, index, size, root)
        hits = {event_id: data for data in entries if (event_id := entry_id(data)) in wanted}
        if not held:
            for entry in receipt.entries:  # a receipted event changed says most: named first
                if entry.event_id in hits:
                    _honoured_in(hits, entry, receipt)
            raise MonitorFailed(f"the log's entry bundle {bundle_name(index, size)} is not "
                                f"what its signed tree of size {size} holds there")
        if not hits:
            break
        found.update(hits)
        index += 1
    return found


def _honoured_in(located: dict[str, bytes], entry: ReceiptEntry, receipt: Receipt) -> bool:
    """The event as a checked bundle holds it: in the tree; demanded as accepted."""
    if _digest(json.loads(located[entry.event_id])) != entry.digest:
        raise MonitorFailed(f"{entry.event_id} is not the event the log accepted at "
                            f"{moment_text(receipt.received_at)} (a receipt it signed says "
                            f"so): its fields changed since")
    return True


def _honoured(client: httpx.Client, entry: ReceiptEntry, receipt: Receipt,
              tree: CheckedTree) -> bool:
    """True once the event is in the tree as accepted; False when it is not in it yet
    (still pending, or linked after it); ``MonitorFailed`` when it cannot be."""
    when = moment_text(receipt.received_at)
    size, root = tree.size, tree.root
    answer = ask(client, f"/api/v1/events/{entry.event_id}/proof",
                  params={"tree_size": size})
    if answer.status_code in (400, 409):
        return False
    if answer.status_code == 404:
        floor = retention_floor(client, tree)
        raise MonitorFailed(f"the log holds no event {entry.event_id}, which it accepted at "
                            f"{when} (a receipt it signed says so): " + (
                                f"dropped before it was linked, or removed by retention "
                                f"since (which removed events up to sequence {floor})"
                                if floor else "dropped: it signed no retention anchor, so "
                                              "retention removed none of its events"))
    event = get(client, f"/api/v1/events/{entry.event_id}").json()
    if _digest(event) != entry.digest:
        raise MonitorFailed(f"{entry.event_id} is not the event the log accepted at {when} "
                            f"(a receipt it signed says so): its fields changed since")
    proof = answer.json()
    try:
        path = [base64.b64decode(h) for h in proof["inclusion_path"]]
        included = proof["tree_size"] == size and verify_inclusion(
            proof["leaf_index"], size, leaf_hash(canonical_json(document_core(event))),
            path, root)
    except (KeyError, TypeError, ValueError):
        included = False
    if not included:
        raise MonitorFailed(f"{entry.event_id}, which the log accepted at {when}, is not in "
                            f"its signed tree of size {size}, by the proof it serves")
    return True


def _digest(event: Any) -> bytes | None:
    """The accepted digest of what the log served as an event; None when it is not one."""
    try:
        return accepted_digest(event)
    except (KeyError, TypeError, ValueError):
        return None
