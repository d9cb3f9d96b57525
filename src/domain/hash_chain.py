"""The per-workspace hash chain (contract §5.5).

``hash = sha256_hex(prev_hash + "\\n" + JCS(core))``. RFC 8785 canonical JSON makes the
hash independent of key order and number formatting, so anyone holding the exported
events can recompute it with any conforming JCS implementation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from domain.canonical_json import canonical_json
from domain.events import Event
from domain.merkle import leaf_hash

GENESIS_HASH = "0" * 64
MAX_SEQUENCE = 2**63 - 1
"""Sequences are signed 64-bit integers wherever they are stored or sent."""


@dataclass(frozen=True)
class ChainHead:
    """Where a workspace's chain ends: the last sequence and its hash."""

    sequence: int = 0
    hash: str = GENESIS_HASH


def event_hash(prev_hash: str, core: dict[str, Any]) -> str:
    """The hash of one event's core document, chained to its predecessor."""
    payload = prev_hash.encode("ascii") + b"\n" + canonical_json(core)
    return hashlib.sha256(payload).hexdigest()


def link(head: ChainHead, events: Sequence[Event]) -> tuple[list[Event], ChainHead]:
    """Append ``events`` to the chain in the order given; return them processed and the new head."""
    linked, head, _ = link_with_leaves(head, events)
    return linked, head


def link_with_leaves(head: ChainHead, events: Sequence[Event]
                     ) -> tuple[list[Event], ChainHead, list[bytes]]:
    """``link``, and each event's Merkle leaf hash (RFC 9162, over the same canonical
    core): canonicalising is most of a link's cost, so it is done once for both."""
    linked: list[Event] = []
    leaves: list[bytes] = []
    for event in events:
        sequence = head.sequence + 1
        core = event.core()
        core["sequence"] = sequence
        data = canonical_json(core)
        digest = hashlib.sha256(head.hash.encode("ascii") + b"\n" + data).hexdigest()
        linked.append(event.processed(sequence=sequence, prev_hash=head.hash, hash_=digest))
        leaves.append(leaf_hash(data))
        head = ChainHead(sequence, digest)
    return linked, head, leaves


def event_entry(event: Event) -> bytes:
    """A linked event as the log's entry: the data its leaf hashes, and what an entry
    bundle holds."""
    return canonical_json(event.core())


def event_leaf(event: Event) -> bytes:
    """The Merkle leaf hash of a linked event: anyone holding it can compute this."""
    return leaf_hash(event_entry(event))


def document_core(document: dict[str, Any]) -> dict[str, Any]:
    """The hashed part of an event document as found in an export or an API response."""
    return {key: value for key, value in document.items()
            if key not in ("status", "prev_hash", "hash")}

