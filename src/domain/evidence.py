"""Checking an export against its evidence, offline (contract §10): that every row is in
the log the verifier key signed, and - for an unfiltered export - that none is missing.

It is fed each row with its Merkle leaf hash (the chain check computes both from the same
canonical bytes), in file order, and keeps O(log n) state: a multi-gigabyte export is
checked in constant memory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from domain.cosignatures import cosigned_at
from domain.errors import DomainError
from domain.merkle import CompactRange, verify_consistency, verify_inclusion
from domain.signed_notes import (
    Checkpoint,
    InvalidNote,
    Note,
    SignatureCheck,
    VerifierKey,
    parse_checkpoint,
    parse_note,
    signature_by,
    successors,
    unb64,
)


class EvidenceFailed(DomainError):
    """The first thing that does not hold; the message says what and where."""


@dataclass
class EvidenceCheck:
    checkpoint: Checkpoint
    first_sequence: int
    last_sequence: int
    row_count: int
    frontier: CompactRange | None
    proofs: Mapping[str, list[str]] | None
    rows: int = 0
    signed_by: VerifierKey | None = None
    """The key whose signature was checked: the one pinned, or one it was rotated to."""
    cosigned: Any = None
    """The evidence's ``cosigned``, as it came (``cosigned_extension`` checks it)."""
    prefix: bool = False
    """The file may go on past the checkpoint (an archive a stream keeps writing): the
    rows it covers are proved, those after it are only chained to them."""

    @classmethod
    def of(cls, evidence: Mapping[str, Any], key: VerifierKey, verify: SignatureCheck, *,
           naming: str = "the evidence's checkpoint: ") -> EvidenceCheck:
        """The evidence read and its checkpoint's signature checked with ``key`` - or,
        when the log's key was rotated since it was pinned, with the key its rotation
        notes lead to, each signed by the key before - before any row is: a checkpoint
        the key did not sign proves nothing. ``naming`` begins what is said of a note
        that does not hold (the caller of a bare checkpoint names it itself)."""
        try:
            note = parse_note(_text(evidence, "checkpoint"))
            key = _signer(note, key, evidence.get("rotations"), verify)
            signature = signature_by(note, key)
            checkpoint = parse_checkpoint(note.text)
        except InvalidNote as exc:
            raise EvidenceFailed(f"{naming}{exc}") from None
        if not verify(key.public_key, note.text.encode("utf-8"), signature):
            raise EvidenceFailed("the checkpoint's signature does not verify with the "
                                 "verifier key")
        if checkpoint.origin != key.name:
            raise EvidenceFailed(f"the checkpoint is of log {checkpoint.origin}, the key "
                                 f"of {key.name}")
        first, last = _number(evidence, "first_sequence"), _number(evidence, "last_sequence")
        if checkpoint.tree_size != last or not 1 <= first <= last:
            raise EvidenceFailed(f"the checkpoint is of size {checkpoint.tree_size}; the "
                                 f"export's rows are sequences {first}-{last}")
        frontier = proofs = None
        try:
            if "frontier" in evidence:
                frontier = CompactRange.from_frontier(
                    first - 1, [unb64(h, 32) for h in evidence["frontier"]])
            elif isinstance(evidence.get("proofs"), Mapping):
                proofs = evidence["proofs"]
            else:
                raise EvidenceFailed("the evidence has neither a frontier nor proofs")
        except (InvalidNote, ValueError, TypeError) as exc:
            raise EvidenceFailed(f"the evidence's frontier: {exc}") from None
        return cls(checkpoint, first, last, _number(evidence, "row_count"), frontier, proofs,
                   signed_by=key, cosigned=evidence.get("cosigned"))

    @classmethod
    def of_checkpoint(cls, note: str, key: VerifierKey, verify: SignatureCheck,
                      rotations: Sequence[str] = ()) -> EvidenceCheck:
        """A signed checkpoint alone, for a file that starts at sequence 1: its first
        ``tree_size`` rows must rebuild the signed root, the ones after it are not proved.
        ``rotations``: the log's rotation notes, which lead from ``key`` to the key that
        signed a checkpoint after a rotation (each checked, as evidence's are)."""
        try:
            size = parse_checkpoint(parse_note(note).text).tree_size
        except InvalidNote as exc:
            raise EvidenceFailed(f"the checkpoint: {exc}") from None
        if size < 1:
            raise EvidenceFailed("the checkpoint is of the empty log: it proves nothing")
        check = cls.of({"checkpoint": note, "first_sequence": 1, "last_sequence": size,
                        "row_count": size, "frontier": [], "rotations": list(rotations)},
                       key, verify, naming="")
        check.prefix = True
        return check

    def feed(self, document: Mapping[str, Any], leaf: bytes) -> None:
        """One row, in file order, with its leaf hash."""
        if self.prefix and self.rows == self.row_count:
            return  # past the checkpoint: chained to what it proved, not proved itself
        self.rows += 1
        sequence = document.get("sequence")
        if self.frontier is not None:
            if sequence != self.frontier.size + 1:
                raise EvidenceFailed(f"row {self.rows} is sequence {sequence}, where the "
                                     f"log has {self.frontier.size + 1}: an event is "
                                     f"missing or out of order")
            if sequence > self.last_sequence:
                raise EvidenceFailed(f"row {self.rows} (sequence {sequence}) is past the "
                                     f"checkpoint")
            self.frontier.append(leaf)
            return
        event_id = document.get("id")
        path = (self.proofs or {}).get(event_id) if isinstance(event_id, str) else None
        if path is None or not isinstance(sequence, int) or not verify_inclusion(
                sequence - 1, self.checkpoint.tree_size, leaf, _hashes(path),
                self.checkpoint.root_hash):
            raise EvidenceFailed(f"row {self.rows} (event {event_id}, sequence {sequence}) "
                                 f"is not in the signed tree")

    def finish(self) -> None:
        if self.prefix and self.rows < self.row_count:
            raise EvidenceFailed(f"the file ends at row {self.rows}, before the checkpoint's "
                                 f"tree of size {self.row_count}: take a checkpoint it covers")
        if self.rows != self.row_count:
            raise EvidenceFailed(f"the file has {self.rows} rows, the evidence "
                                 f"{self.row_count}")
        if self.frontier is not None:
            if self.frontier.size != self.last_sequence:
                raise EvidenceFailed(f"the rows end at sequence {self.frontier.size}, the "
                                     f"checkpoint at {self.last_sequence}: events are "
                                     f"missing")
            if self.frontier.root() != self.checkpoint.root_hash:
                raise EvidenceFailed("the rows do not rebuild the signed root: an event "
                                     "was altered, added or left out")
        elif self.proofs is not None and len(self.proofs) != self.rows:
            raise EvidenceFailed(f"the evidence proves {len(self.proofs)} events, the file "
                                 f"holds {self.rows}")


def cosigned_extension(cosigned: Any, checkpoint: Checkpoint, signer: VerifierKey,
                       cosigners: Sequence[VerifierKey],
                       verify: SignatureCheck) -> Checkpoint:
    """The checkpoint the log's witnesses cosigned, which the evidence carries as
    ``cosigned``: signed by the key that signed the export's checkpoint, cosigned by every
    one of ``cosigners`` and proved to extend the export's checkpoint. An auditor who
    trusts those witnesses then knows the export is in the history they were shown, not
    in one shown to this auditor alone."""
    if not isinstance(cosigned, Mapping):
        raise EvidenceFailed("it carries no checkpoint cosigned by the log's witnesses (they "
                             "had cosigned none covering the export when it was fetched: "
                             "fetch it again)")
    try:
        note = parse_note(_text(cosigned, "checkpoint"))
        signature = signature_by(note, signer)
        later = parse_checkpoint(note.text)
        proof = _hashes(cosigned.get("consistency"))
    except (InvalidNote, EvidenceFailed) as exc:
        raise EvidenceFailed(f"the cosigned checkpoint: {exc}") from None
    if later.origin != checkpoint.origin or not verify(
            signer.public_key, note.text.encode("utf-8"), signature):
        raise EvidenceFailed("the cosigned checkpoint is not signed by the key that signed "
                             "the export's")
    missing = [key.name for key in cosigners if cosigned_at(note, key, verify) is None]
    if missing:
        raise EvidenceFailed(f"the checkpoint of size {later.tree_size} carries no valid "
                             f"cosignature by {', '.join(missing)}")
    if later.tree_size < checkpoint.tree_size or not verify_consistency(
            checkpoint.tree_size, later.tree_size, checkpoint.root_hash, later.root_hash,
            proof):
        raise EvidenceFailed(f"the cosigned checkpoint of size {later.tree_size} does not "
                             f"extend the export's, of size {checkpoint.tree_size}")
    return later


def _signer(note: Note, pinned: VerifierKey, rotations: Any,
            verify: SignatureCheck) -> VerifierKey:
    """``pinned``, unless the note carries no signature of it and the evidence's rotation
    notes lead from it to a key whose signature it carries (the newest such)."""
    if _signature_of(note, pinned) is not None or not isinstance(rotations, list):
        return pinned
    notes = [rotation for rotation in rotations if isinstance(rotation, str)]
    for successor in reversed(successors(pinned, notes, verify)):
        if _signature_of(note, successor) is not None:
            return successor
    return pinned


def _signature_of(note: Note, key: VerifierKey) -> bytes | None:
    try:
        return signature_by(note, key)
    except InvalidNote:
        return None


def _text(evidence: Mapping[str, Any], name: str) -> str:
    value = evidence.get(name)
    if not isinstance(value, str):
        raise EvidenceFailed(f"the evidence has no {name}")
    return value


def _number(evidence: Mapping[str, Any], name: str) -> int:
    value = evidence.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise EvidenceFailed(f"the evidence has no {name}")
    return value


def _hashes(path: Any) -> list[bytes]:
    try:
        return [unb64(h, 32) for h in path]
    except (InvalidNote, TypeError):
        return []
