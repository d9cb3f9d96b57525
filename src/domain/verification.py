"""Chain verification: one streaming pass that finds the first broken link.

The same verifier checks rows read from the database and lines read from an exported
NDJSON file, so the online and offline answers can never disagree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from domain.canonical_json import canonical_json
from domain.events import PROCESSED, Event
from domain.hash_chain import GENESIS_HASH, ChainHead, document_core, event_hash
from domain.merkle import leaf_hash

GENESIS = ChainHead(0, GENESIS_HASH)
"""Where a whole chain starts: before sequence 1, with 64 zeros as the previous hash."""

HASH_MISMATCH = "hash_mismatch"
PREV_HASH_MISMATCH = "prev_hash_mismatch"
SEQUENCE_GAP = "sequence_gap"
TREE_MISMATCH = "tree_mismatch"
"""The event is not the one the Merkle tree holds at its position: it was rewritten, even
if every chain hash after it was recomputed to match."""
CHECKPOINT_MISMATCH = "checkpoint_mismatch"
"""The stored tree no longer gives the root the log signed (``detail``: ``tree``), or the
stored checkpoint's signature is not the log's (``signature``)."""
ANCHOR_MISMATCH = "anchor_mismatch"
"""The retention anchor is not the one the log signed (``detail``: ``unsigned``,
``signature`` or ``tree``): someone moved it, or removed events before their time."""
REASONS = (HASH_MISMATCH, PREV_HASH_MISMATCH, SEQUENCE_GAP, TREE_MISMATCH,
           CHECKPOINT_MISMATCH, ANCHOR_MISMATCH)


@dataclass(frozen=True)
class VerificationReport:
    """The outcome of a verification, shaped like the contract's answer (§5.5)."""

    valid: bool
    checked: int
    from_sequence: int | None = None
    to_sequence: int | None = None
    head_hash: str | None = None
    first_invalid_sequence: int | None = None
    event_id: str | None = None
    reason: str | None = None
    anchor: ChainHead | None = None
    """Where a retained chain starts (events before it were removed by retention)."""
    detail: str | None = None
    """For a ``hash_mismatch`` found in what is stored beside the event (``SEARCH_ENTRIES``)
    rather than in the event itself, whose hash still matches."""


SEARCH_ENTRIES = "search_entries"
DETAILS = (SEARCH_ENTRIES, "signature", "tree", "unsigned")
STATUS = "status"
"""For a ``hash_mismatch`` in a document (an export's row) whose hash matches but whose
``status`` is not ``processed``: status is not hashed, yet only a linked event has a place
in a chain. Offline only: the service reads only linked events, so it is not in
``DETAILS``, the API's."""


class ChainVerifier:
    """Feeds on event documents in sequence order and stops at the first broken link.

    ``anchor`` is the link the first event must continue: the genesis for a whole chain, the
    retained anchor after retention, or ``None`` to accept the first event's stated
    ``prev_hash`` when only a slice of the chain is being checked.

    What was stored is held against what should be there, so that deleting whole events is
    caught wherever they were: ``start`` is the sequence a slice must begin at, ``stop`` the
    one it must reach, and ``head`` the stored chain head, where a check that reaches it
    must end - with the head's hash, and with nothing after it (an event past the head was
    added behind the service's back, or the head was wound back to disown the last ones).
    """

    def __init__(self, anchor: ChainHead | None = GENESIS, *, start: int | None = None,
                 stop: int | None = None, head: ChainHead | None = None) -> None:
        self._expected = anchor
        self._start = anchor.sequence + 1 if anchor is not None else start
        self._head = head
        self._end = _end(stop, head)
        self._checked = 0
        self._first: int | None = None
        self._failure: VerificationReport | None = None
        self._last_id: str | None = None
        self._data = b""

    def feed(self, document: dict[str, Any], *, findable: bool = True) -> bool:
        """Check one event; return False once the chain is known to be broken.

        ``findable``: whether what is stored for search beside the event matches it. A
        mismatch is a changed stored event (``hash_mismatch``), reported after any broken
        link of the event itself, with ``detail`` saying where the change is.
        """
        return self._check(document.get("id"), document.get("sequence"),
                           document.get("prev_hash"), document.get("hash"),
                           lambda: document_core(document), findable,
                           linked=document.get("status") == PROCESSED)

    def feed_event(self, event: Event, *, findable: bool = True) -> bool:
        """``feed(event.document())``, from the event as stored, without building the
        document only to take its core apart again."""
        return self._check(event.id, event.sequence, event.prev_hash, event.hash,
                           event.core, findable)

    def _check(self, event_id: Any, sequence: Any, prev_hash: Any, hash_: Any,
               core: Callable[[], dict[str, Any]], findable: bool,
               linked: bool = True) -> bool:
        if self._failure is not None:
            return False
        self._checked += 1
        if self._first is None:
            self._first = sequence if isinstance(sequence, int) else None
        reason = self._broken_link(sequence, prev_hash, hash_, core)
        beside = None if reason else SEARCH_ENTRIES if not findable else \
            STATUS if not linked else None
        if reason is not None or beside is not None:
            self._fail(sequence, event_id, reason or HASH_MISMATCH, beside)
            return False
        self._expected = ChainHead(sequence, hash_)
        self._last_id = event_id
        return True

    def _broken_link(self, sequence: Any, prev_hash: Any, hash_: Any,
                     core: Callable[[], dict[str, Any]]) -> str | None:
        """Why the event does not continue the chain, if it does not; its core is built
        only once its place in the chain is right."""
        expected = self._expected
        if not isinstance(sequence, int) or isinstance(sequence, bool):
            return SEQUENCE_GAP
        wanted = self._next_sequence()
        if wanted is not None and sequence != wanted:
            return SEQUENCE_GAP
        if self._head is not None and sequence > self._head.sequence:
            return SEQUENCE_GAP
        if expected is not None and prev_hash != expected.hash:
            return PREV_HASH_MISMATCH
        if not isinstance(prev_hash, str):
            return HASH_MISMATCH
        self._data = canonical_json(core())
        if hash_ != _chained(prev_hash, self._data):
            return HASH_MISMATCH
        return None

    @property
    def checked(self) -> int:
        """Events examined so far."""
        return self._checked

    @property
    def leaf(self) -> bytes:
        """The Merkle leaf hash of the last event fed that linked: canonicalised once for
        both, the costly part of each."""
        return leaf_hash(self._data)

    def _next_sequence(self) -> int | None:
        """The sequence the next event must have; None for a slice's first, which may be any."""
        return self._expected.sequence + 1 if self._expected is not None else self._start

    def _fail(self, sequence: Any, event_id: Any, reason: str,
              detail: str | None = None) -> None:
        self._failure = VerificationReport(
            valid=False, checked=self._checked,
            first_invalid_sequence=sequence if isinstance(sequence, int) else None,
            event_id=event_id if isinstance(event_id, str) else None, reason=reason,
            detail=detail)

    def finish(self) -> VerificationReport:
        """The report, once the stream has ended (or broke)."""
        if self._failure is None:
            self._check_the_end()
        if self._failure is not None:
            return self._failure
        last = self._expected
        return VerificationReport(
            valid=True, checked=self._checked, from_sequence=self._first,
            to_sequence=last.sequence if self._checked and last else None,
            head_hash=last.hash if self._checked and last else None)

    def _check_the_end(self) -> None:
        """Events missing between the last one read and where the chain should end (the
        tail, or all of a slice) are a gap at the first missing sequence; a last event
        other than the head's is a rewritten one."""
        last, wanted = self._expected, self._next_sequence()
        if self._end is not None and wanted is not None and wanted <= self._end:
            self._checked += 1
            self._fail(wanted, None, SEQUENCE_GAP)
        elif self._head is not None and last is not None \
                and last.sequence == self._head.sequence and last.hash != self._head.hash:
            self._fail(last.sequence, self._last_id, HASH_MISMATCH)


def _chained(prev_hash: str, data: bytes) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + data).hexdigest()


def with_stray_terms(report: VerificationReport) -> VerificationReport:
    """A whole chain that verified, while more terms are filed under its workspace than
    its events and pending events have: terms planted for events it does not hold. They
    put no event in a search page, yet count in the totals of term filters. No event of
    the chain is wrong, so none is named."""
    return VerificationReport(valid=False, checked=report.checked, reason=HASH_MISMATCH,
                              detail=SEARCH_ENTRIES, anchor=report.anchor)


def _end(stop: int | None, head: ChainHead | None) -> int | None:
    """The last sequence the stored events must reach: the head's, or ``stop`` before it."""
    if head is None:
        return stop
    return head.sequence if stop is None else min(stop, head.sequence)


def verify_documents(documents: Iterable[dict[str, Any]],
                     anchor: ChainHead | None = GENESIS,
                     head: ChainHead | None = None) -> VerificationReport:
    """Verify a stream of event documents in one pass, with constant memory."""
    verifier = ChainVerifier(anchor, head=head)
    for document in documents:
        if not verifier.feed(document):
            break
    return verifier.finish()


def verify_partial(documents: Iterable[dict[str, Any]]) -> VerificationReport:
    """Verify a filtered export: every event's hash against its own stated ``prev_hash``,
    sequences strictly increasing, and the link wherever two neighbours are adjacent.

    This proves each row is unaltered; it cannot prove that no matching row is missing -
    only a whole chain can - so callers must present the result as partial.
    """
    checked, first, last_sequence, last_hash = 0, None, None, None
    for document in documents:
        checked += 1
        sequence, prev_hash = document.get("sequence"), document.get("prev_hash")
        if not isinstance(sequence, int) or isinstance(sequence, bool) or (
                last_sequence is not None and sequence <= last_sequence):
            return _failure(checked, sequence, document, SEQUENCE_GAP)
        if last_sequence is not None and sequence == last_sequence + 1 \
                and prev_hash != last_hash:
            return _failure(checked, sequence, document, PREV_HASH_MISMATCH)
        if not isinstance(prev_hash, str) or document.get("hash") != event_hash(
                prev_hash, document_core(document)):
            return _failure(checked, sequence, document, HASH_MISMATCH)
        if document.get("status") != PROCESSED:
            return _failure(checked, sequence, document, HASH_MISMATCH, STATUS)
        first = sequence if first is None else first
        last_sequence, last_hash = sequence, document["hash"]
    return VerificationReport(valid=True, checked=checked, from_sequence=first,
                              to_sequence=last_sequence, head_hash=last_hash)


def _failure(checked: int, sequence: Any, document: dict[str, Any],
             reason: str, detail: str | None = None) -> VerificationReport:
    event_id = document.get("id")
    return VerificationReport(
        valid=False, checked=checked,
        first_invalid_sequence=sequence if isinstance(sequence, int) else None,
        event_id=event_id if isinstance(event_id, str) else None, reason=reason,
        detail=detail)
