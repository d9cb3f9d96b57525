"""Ingest receipts: the log's signed promise of what it accepted, before it links it.

Between the 202 and the linking transaction an event is pending: no chain hash or
checkpoint covers it yet, so whoever holds the database could change or drop it unseen.
A receipt closes that gap the way Certificate Transparency's SCTs do: a signed note, by
the key that signs the log's checkpoints, naming each accepted event and the digest of
what was accepted. The sender keeps it; later the event must be in the log, unaltered, or
the receipt proves the log broke its word.

What an event was at acceptance is its core without what processing adds (``geo``,
``sequence``): anyone holding the event - from the API, an export or a stream - computes
the same digest, with or without processing having happened.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.canonical_json import canonical_json
from domain.errors import DomainError
from domain.signed_notes import (
    InvalidNote,
    SignatureCheck,
    VerifierKey,
    b64,
    checked_key_name,
    parse_note,
    signature_by,
    successors,
    unb64,
)
from domain.timestamps import format_timestamp, parse_timestamp

RECEIPT_LINE = "ingest receipt"
ACCEPTED_FIELDS = ("id", "workspace_id", "action", "occurred_at", "received_at", "actor",
                   "targets", "context", "metadata")
"""An event's fields fixed at acceptance: its core (contract §5.5) but for ``geo`` and
``sequence``, which processing adds."""
_ENTRY = re.compile(r"^([A-Za-z0-9_-]{1,64}) ([A-Za-z0-9+/]{43}=)$")


@dataclass(frozen=True)
class ReceiptEntry:
    event_id: str
    digest: bytes
    """SHA-256 of the RFC 8785 form of the event's accepted fields."""


@dataclass(frozen=True)
class Receipt:
    origin: str
    received_at: datetime
    entries: tuple[ReceiptEntry, ...]


def accepted_form(core: Mapping[str, Any]) -> dict[str, Any]:
    """The accepted fields of an event's core or of its document as the API returns it."""
    return {name: core[name] for name in ACCEPTED_FIELDS}


def accepted_digest(core: Mapping[str, Any]) -> bytes:
    return hashlib.sha256(canonical_json(accepted_form(core))).digest()


def receipt_text(origin: str, received_at: datetime,
                 entries: Sequence[ReceiptEntry]) -> str:
    """Neither a checkpoint, an anchor nor a rotation (its second line is its own), so no
    reader of those can take a receipt for one of them."""
    lines = "".join(f"{entry.event_id} {b64(entry.digest)}\n" for entry in entries)
    return f"{checked_key_name(origin)}\n{RECEIPT_LINE}\n" \
           f"{format_timestamp(received_at)}\n{lines}"


def parse_receipt(text: str) -> Receipt:
    lines = text.split("\n")
    if len(lines) < 5 or lines[1] != RECEIPT_LINE or lines[-1] != "":
        raise InvalidNote("not an ingest receipt")
    checked_key_name(lines[0])
    try:
        received_at = parse_timestamp(lines[2])
    except ValueError:
        raise InvalidNote(f"not a timestamp: {lines[2][:40]!r}") from None
    entries = []
    for line in lines[3:-1]:
        match = _ENTRY.fullmatch(line)
        if match is None:
            raise InvalidNote(f"not an event and its digest: {line[:80]!r}")
        entries.append(ReceiptEntry(match[1], unb64(match[2], 32)))
    return Receipt(lines[0], received_at, tuple(entries))


class ReceiptBroken(DomainError):
    """A receipt the log signed that the events at hand do not honour."""


@dataclass
class ReceiptLedger:
    """What a set of receipts promised, checked against events as they stream past (an
    export's rows): each promised event met must hash as accepted. Holds a digest per
    promised event, not the events."""

    promised: dict[str, tuple[bytes, datetime]]
    receipts: int
    met: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, notes: Iterable[str], pinned: VerifierKey, verify: SignatureCheck,
           rotations: Sequence[str] = ()) -> ReceiptLedger:
        """The receipts once each is signed by ``pinned`` or by a key its ``rotations``
        lead to; ``ReceiptBroken`` names the first that is not."""
        keys = [pinned, *successors(pinned, rotations, verify)]
        promised: dict[str, tuple[bytes, datetime]] = {}
        count = 0
        for count, note in enumerate(notes, start=1):
            try:
                receipt = signed_receipt(note, keys, verify)
            except ReceiptBroken as exc:
                raise ReceiptBroken(f"receipt {count} {exc}") from None
            for entry in receipt.entries:
                promised[entry.event_id] = (entry.digest, receipt.received_at)
        return cls(promised, count)

    def feed(self, document: Mapping[str, Any]) -> None:
        event_id = document.get("id")
        if not isinstance(event_id, str) or (promise := self.promised.get(event_id)) is None:
            return
        try:
            digest = accepted_digest(document)
        except KeyError as missing:
            raise ReceiptBroken(f"{event_id} lacks its {missing.args[0]}") from None
        if digest != promise[0]:
            raise ReceiptBroken(f"{event_id} is not the event the log accepted at "
                                f"{format_timestamp(promise[1])}: its fields changed since")
        self.met.add(event_id)

    def absent(self) -> list[str]:
        """The promised events not met, in the receipts' order."""
        return [event_id for event_id in self.promised if event_id not in self.met]


def signed_receipt(note: str, keys: Sequence[VerifierKey],
                   verify: SignatureCheck) -> Receipt:
    """The receipt in ``note`` once one of ``keys`` (the log's pinned key and those it
    handed the log over to) signed it, for its own log; ``ReceiptBroken`` otherwise."""
    try:
        parsed = parse_note(note)
        receipt = parse_receipt(parsed.text)
    except InvalidNote as exc:
        raise ReceiptBroken(f"is not one ({exc})") from None
    message = parsed.text.encode("utf-8")
    for key in keys:
        try:
            signature = signature_by(parsed, key)
        except InvalidNote:
            continue
        if receipt.origin == key.name and verify(key.public_key, message, signature):
            return receipt
    raise ReceiptBroken(f"is not signed by the log's key (of {keys[0].name})")
