"""A receipt's events read from the log's entry bundles, each bundle held to a signed tree
by one inclusion proof: a batch's events are linked one after another, so a thousand
take a handful of requests rather than two each. Shared by ``Events.verify_receipt`` and
the ``Monitor``, each raising its own error."""

from __future__ import annotations

import json
from typing import Any

from auditrail_client.errors import AuditrailError, BadRequest, Conflict, NotFound
from auditrail_client.proofs import (
    TILE_WIDTH,
    ProofInvalid,
    SignedCheckpoint,
    b64decode_all,
    bundle_in_tree,
    bundle_path,
    bundle_width,
)
from auditrail_client.receipts import Receipt, accepted_digest


def located(events: Any, log: Any, receipt: Receipt, latest: SignedCheckpoint,
            alarm: type[AuditrailError]) -> dict[str, bytes]:
    """The receipt's events found in the bundles of ``latest``'s tree, as the bundles hold
    them (check each with ``as_accepted``). Read from the first event's sequence on while
    bundles hold some of them; those not found are for the caller to ask for one by one.
    ``alarm`` when a bundle is not what the signed tree holds (naming first a receipted
    event it changed)."""
    wanted = set(receipt.digests)
    try:
        sequence = events.get(next(iter(receipt.digests))).sequence
    except NotFound:
        return {}
    size = latest.tree_size
    if not isinstance(sequence, int) or not 0 < sequence <= size:
        return {}
    found: dict[str, bytes] = {}
    index = (sequence - 1) // TILE_WIDTH
    while bundle_width(index, size) and len(found) < len(wanted):
        entries, held = read_bundle(events, log, index, latest)
        hits = {event_id: data for data in entries if (event_id := entry_id(data)) in wanted}
        if not held:
            for event_id, data in hits.items():  # a receipted event changed says most
                as_accepted(data, event_id, receipt.digests[event_id], receipt, alarm)
            raise alarm(f"the log's entry bundle {bundle_name(index, size)} is not what its "
                        f"signed tree of size {size} holds there")
        if not hits:
            break
        found.update(hits)
        index += 1
    return found


def read_bundle(events: Any, log: Any, index: int,
                latest: SignedCheckpoint) -> tuple[list[bytes], bool]:
    """Entry bundle ``index`` as the log serves it for ``latest``'s tree, and whether it
    is what that signed tree holds there; none where the log serves no bundle (retention
    pruned it, or an older release)."""
    size = latest.tree_size
    try:
        entries = log.entries(index, bundle_width(index, size))
    except NotFound:
        return [], True
    except ProofInvalid:  # a bundle cut short
        return [], False
    try:
        proof = events.proof(entry_id(entries[0]) or "-", tree_size=size)
        return entries, proof.tree_size == size and \
            proof.leaf_index == index * TILE_WIDTH and bundle_in_tree(
                index, size, entries, b64decode_all(proof.inclusion_path), latest.root_hash)
    except (IndexError, NotFound, Conflict, BadRequest, ProofInvalid, TypeError,
            ValueError):
        return [], False


def as_accepted(data: bytes, event_id: str, digest: bytes, receipt: Receipt,
                alarm: type[AuditrailError]) -> bool:
    """The event as a checked bundle holds it (so in the tree), demanded as accepted."""
    try:
        held = accepted_digest(json.loads(data))
    except (ProofInvalid, TypeError, ValueError, KeyError):
        held = None
    if held != digest:
        raise alarm(f"{event_id} is not the event the log accepted at "
                    f"{receipt.received_at} (a receipt it signed says so): its fields "
                    f"changed since")
    return True


def entry_id(data: bytes) -> str | None:
    try:
        event_id = json.loads(data).get("id")
    except (ValueError, AttributeError):
        return None
    return event_id if isinstance(event_id, str) else None


def bundle_name(index: int, size: int) -> str:
    """The path of bundle ``index`` of a tree of ``size``, under ``tile/entries/``."""
    return bundle_path(index, bundle_width(index, size))
