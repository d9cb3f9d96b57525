"""Checking an NDJSON export offline, against its evidence and the verifier key you
pinned: every row unaltered and in the log the key signed, and - for an unfiltered export -
none missing. The checks of ``auditrail verify FILE --evidence EVIDENCE --verifier-key``,
with nothing of the server installed.

The file is read a row at a time and the tree kept as O(log n) hashes, so an export larger
than the machine's memory is checked all the same.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from auditrail_client.proofs import (
    ProofInvalid,
    SignedCheckpoint,
    check_checkpoint,
    check_cosigned,
    event_chain_hash,
    event_core,
    event_leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from auditrail_client.receipts import accepted_digest, check_receipt

GENESIS_HASH = "0" * 64
"""The previous hash of a workspace's first event (sequence 1)."""

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class ExportVerified:
    rows: int
    origin: str
    """The log the rows are in (``<log name>/<workspace id>``)."""
    tree_size: int
    """The size of the signed tree they were proved in."""
    complete: bool
    """An unfiltered export, proved to hold every event of its sequence range."""
    receipted: int = 0
    """Rows that ``receipts`` named, each as the log accepted it."""
    not_in_file: tuple[str, ...] = ()
    """Events ``receipts`` named that the file does not hold: linked after it, filtered
    out, removed by retention, or never linked (``Events.verify_receipt`` asks the log)."""


def verify_export(path: PathLike, evidence: Mapping[str, Any] | PathLike,
                  verifier_key: str, *, witnesses: Sequence[str] = (),
                  quorum: int | None = None, receipts: Sequence[str] = ()
                  ) -> ExportVerified:
    """``path``: the export's file (gzip-compressed or not); ``evidence``: what
    ``client.exports.evidence(id)`` returned, or a file holding it; ``verifier_key``: the
    log's key as you pinned it (rotation notes in the evidence are followed from it).
    With ``witnesses`` (cosigner keys you trust), also that the evidence's checkpoint
    cosigned by the log's witnesses carries ``quorum`` (all by default) of their
    cosignatures and extends the export's: the rows are in the history they were shown.
    With ``receipts`` (ingest receipts the log signed, checked with the same key), also
    that every row one names is as the log accepted it.
    Raises ``ProofInvalid`` naming the first thing that does not hold."""
    document = _evidence(evidence)
    if witnesses:
        _cosigned_extension(document, verifier_key, witnesses, quorum)
    rotations = [note for note in document.get("rotations") or [] if isinstance(note, str)]
    checkpoint = check_checkpoint(_text(document, "checkpoint"), verifier_key, rotations)
    first, last = _number(document, "first_sequence"), _number(document, "last_sequence")
    if checkpoint.tree_size != last or not 1 <= first <= last:
        raise ProofInvalid(f"evidence: the checkpoint is of size {checkpoint.tree_size}; "
                           f"the export's rows are sequences {first}-{last}")
    if Path(path).is_dir():
        raise ValueError("verify_export proves an export's file; a folder of archive "
                         "objects is proved with verify_archive")
    expected = document.get("file_sha256")
    if expected and _sha256(Path(path)) != expected:
        raise ProofInvalid("the file is not the one the evidence describes (its sha256 "
                           "differs)")
    promised = {event_id: (digest, receipt.received_at)
                for receipt in (check_receipt(note, verifier_key, rotations)
                                for note in receipts)
                for event_id, digest in receipt.digests.items()}
    rows, met = _Rows(checkpoint, document, first), set()
    for row in _documents(Path(path)):
        rows.feed(row)
        event_id = row.get("id")
        promise = promised.get(event_id) if isinstance(event_id, str) else None
        if promise is not None:
            if accepted_digest(row) != promise[0]:
                raise ProofInvalid(f"row {rows.count} ({event_id}) is not the event the "
                                   f"log accepted at {promise[1]}: its fields changed since")
            met.add(event_id)
    rows.finish(_number(document, "row_count"))
    return ExportVerified(rows.count, checkpoint.origin, checkpoint.tree_size,
                          rows.frontier is not None, len(met),
                          tuple(event_id for event_id in promised if event_id not in met))


@dataclass(frozen=True)
class ArchiveVerified:
    rows: int
    """Every row of the file, each intact and chained to the one before from sequence 1."""
    proved: int
    """The first ``proved`` rows rebuild the signed tree (its size); the rest are chained
    to them."""
    origin: str


def verify_archive(path: PathLike, checkpoint: str, verifier_key: str, *,
                   rotations: Sequence[str] = ()) -> ArchiveVerified:
    """``path``: a file holding the chain from sequence 1 without evidence - an S3 stream's
    objects laid end to end in name order - or the folder holding those objects
    (``<number>.ndjson``, gzipped or not, read in name order); ``checkpoint``: a checkpoint
    the log signed (an object's ``auditrail-checkpoint`` metadata, base64-decoded, or
    ``client.log.checkpoint()``); ``verifier_key``: the log's key as you pinned it, with
    ``rotations`` (``GET /log/key``'s ``previous_keys[].rotation``) if it was rotated since.
    The rows the checkpoint covers must rebuild its root: none altered, added or left out.
    Raises ``ProofInvalid`` naming the first thing that does not hold. The checks of
    ``auditrail verify FILE --signed-checkpoint NOTE --verifier-key VKEY``."""
    signed = check_checkpoint(checkpoint, verifier_key, list(rotations))
    if signed.tree_size < 1:
        raise ProofInvalid("the checkpoint is of the empty log: it proves nothing")
    rows = _Rows(signed, {"frontier": []}, 1, prefix=True)
    for row in _documents(Path(path)):
        rows.feed(row)
    rows.finish_prefix()
    return ArchiveVerified(rows.count, signed.tree_size, signed.origin)


class _Rows:
    """The rows in file order: each one's hash, its link to the one before (unfiltered),
    and its place in the signed tree."""

    def __init__(self, checkpoint: SignedCheckpoint, evidence: Mapping[str, Any],
                 first: int, *, prefix: bool = False) -> None:
        self._checkpoint = checkpoint
        self._prefix = prefix  # the file may go on past the checkpoint: those rows chained
        self.count = 0
        self._previous: str | None = None
        self.frontier: _Frontier | None = None
        self._proofs: Mapping[str, Any] = {}
        if "frontier" in evidence:
            self.frontier = _Frontier.of(first - 1, evidence["frontier"])
        elif isinstance(evidence.get("proofs"), Mapping):
            self._proofs = evidence["proofs"]
        else:
            raise ProofInvalid("evidence: it has neither a frontier nor proofs")

    def feed(self, row: Mapping[str, Any]) -> None:
        self.count += 1
        sequence = row.get("sequence")
        where = f"row {self.count} (sequence {sequence})"
        try:  # the canonical core once: the chain's hash and the tree's leaf both hash it
            core = event_core(row)
            intact = isinstance(row.get("hash"), str) and \
                event_chain_hash(row, core) == row["hash"]
        except (KeyError, TypeError, ValueError):  # no prev_hash, or no canonical form
            intact = False
        if not intact:
            raise ProofInvalid(f"{where}: its hash does not match its content")
        if row.get("status") != "processed":  # not hashed, so held to what it must say
            raise ProofInvalid(f"{where}: its status is {row.get('status')!r}, yet only a "
                               f"processed event has a place in the log")
        if self.frontier is None:
            self._included(row, event_leaf_hash(row, core), where)
            return
        linked_to = GENESIS_HASH if sequence == 1 else self._previous
        if linked_to is not None and row.get("prev_hash") != linked_to:
            raise ProofInvalid(f"{where}: its prev_hash is not the hash of the event before")
        self._previous = row["hash"]
        expected = self.count if self._prefix else self.frontier.size + 1
        if sequence != expected:
            raise ProofInvalid(f"{where}: the log has sequence {expected} there: an event "
                               f"is missing or out of order")
        if sequence > self._checkpoint.tree_size:
            if self._prefix:
                return  # past the checkpoint: chained to what it proves
            raise ProofInvalid(f"{where}: past the checkpoint")
        self.frontier.append(event_leaf_hash(row, core))

    def finish(self, row_count: int) -> None:
        if self.count != row_count:
            raise ProofInvalid(f"the file has {self.count} rows, the evidence {row_count}")
        if self.frontier is None:
            if len(self._proofs) != self.count:
                raise ProofInvalid(f"the evidence proves {len(self._proofs)} events, the "
                                   f"file holds {self.count}")
            return
        if self.frontier.size != self._checkpoint.tree_size:
            raise ProofInvalid(f"the rows end at sequence {self.frontier.size}, the "
                               f"checkpoint at {self._checkpoint.tree_size}: events are "
                               f"missing")
        if self.frontier.root() != self._checkpoint.root_hash:
            raise ProofInvalid("the rows do not rebuild the signed root: an event was "
                               "altered, added or left out")

    def finish_prefix(self) -> None:
        if self.frontier is None or self.frontier.size < self._checkpoint.tree_size:
            raise ProofInvalid(f"the file ends at row {self.count}, before the checkpoint's "
                               f"tree of size {self._checkpoint.tree_size}: take a "
                               f"checkpoint it covers")
        self.finish(self.count)

    def _included(self, row: Mapping[str, Any], leaf: bytes, where: str) -> None:
        row_id = row.get("id")
        path = self._proofs.get(row_id) if isinstance(row_id, str) else None
        sequence = row.get("sequence")
        hashes = _hashes(path) if isinstance(path, list) else None
        if hashes is None or not isinstance(sequence, int) or not verify_inclusion(
                sequence - 1, self._checkpoint.tree_size, leaf, hashes,
                self._checkpoint.root_hash):
            raise ProofInvalid(f"{where}: not in the signed tree")


class _Frontier:
    """The roots of the perfect subtrees of leaves [0, size), left to right: enough to
    append the export's leaves and compute the root they make with those before them."""

    def __init__(self, size: int, hashes: list[bytes]) -> None:
        self.size = size
        self._hashes = hashes

    @classmethod
    def of(cls, size: int, encoded: Any) -> _Frontier:
        hashes = _hashes(encoded) if isinstance(encoded, list) else None
        if hashes is None or len(hashes) != bin(size).count("1"):
            raise ProofInvalid(f"evidence: the frontier of a tree of {size} leaves is "
                               f"{bin(size).count('1')} hashes")
        return cls(size, hashes)

    def append(self, leaf: bytes) -> None:
        self._hashes.append(leaf)
        self.size += 1
        for _ in range((self.size & -self.size).bit_length() - 1):  # its trailing zeros
            right = self._hashes.pop()
            self._hashes[-1] = node_hash(self._hashes[-1], right)

    def root(self) -> bytes:
        if not self._hashes:
            return hashlib.sha256(b"").digest()
        root = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            root = node_hash(left, root)
        return root


def _cosigned_extension(document: Mapping[str, Any], verifier_key: str,
                        witnesses: Sequence[str], quorum: int | None) -> None:
    rotations = [note for note in document.get("rotations") or [] if isinstance(note, str)]
    cosigned = document.get("cosigned")
    if not isinstance(cosigned, Mapping):
        raise ProofInvalid("evidence: it carries no checkpoint cosigned by the log's "
                           "witnesses (they had cosigned none covering the export when it "
                           "was fetched: fetch it again)")
    later = check_cosigned(_text(cosigned, "checkpoint"), verifier_key, witnesses,
                           quorum=quorum, rotations=rotations)
    export = check_checkpoint(_text(document, "checkpoint"), verifier_key, rotations)
    proof = _hashes(cosigned.get("consistency") or [])
    if proof is None or not verify_consistency(export.tree_size, later.tree_size,
                                               export.root_hash, later.root_hash, proof):
        raise ProofInvalid(f"evidence: the cosigned checkpoint of size {later.tree_size} "
                           f"does not extend the export's, of size {export.tree_size}")


ARCHIVE_OBJECT = re.compile(r"^[0-9]+\.ndjson(\.gz)?$")
"""An S3 stream's delivery object, gzipped or not (its test objects are in ``test/``)."""


def _documents(path: Path) -> Iterator[Mapping[str, Any]]:
    """Each row, split on "\\n" alone (a row may hold U+2028, a line break to
    ``str.splitlines``), read as bytes whether the file was gzip-compressed or not; a
    folder's archive objects one after another, in name order."""
    if path.is_dir():
        objects = sorted(found for found in path.iterdir()
                         if found.is_file() and ARCHIVE_OBJECT.match(found.name))
        if not objects:
            raise ProofInvalid(f"{path} holds no archive objects (<number>.ndjson or "
                               f"<number>.ndjson.gz)")
        for found in objects:
            yield from _file_documents(found)
        return
    yield from _file_documents(path)


def _file_documents(path: Path) -> Iterator[Mapping[str, Any]]:
    with path.open("rb") as raw:
        compressed = raw.read(2) == b"\x1f\x8b"
    opener = gzip.open if compressed else open
    with opener(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                raise ProofInvalid(f"line {number} is not JSON") from None
            if not isinstance(row, dict):
                raise ProofInvalid(f"line {number} is not an event")
            yield row


def _evidence(evidence: Mapping[str, Any] | PathLike) -> Mapping[str, Any]:
    if isinstance(evidence, Mapping):
        return evidence
    try:
        document = json.loads(Path(evidence).read_text(encoding="utf-8"))
    except ValueError:
        raise ProofInvalid("evidence: the file is not JSON") from None
    if not isinstance(document, dict):
        raise ProofInvalid("evidence: not a JSON object")
    return document


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _hashes(encoded: list[Any]) -> list[bytes] | None:
    try:
        hashes = [base64.b64decode(value, validate=True) for value in encoded]
    except (TypeError, ValueError, binascii.Error):
        return None
    return hashes if all(len(value) == 32 for value in hashes) else None


def _text(evidence: Mapping[str, Any], name: str) -> str:
    value = evidence.get(name)
    if not isinstance(value, str):
        raise ProofInvalid(f"evidence: it has no {name}")
    return value


def _number(evidence: Mapping[str, Any], name: str) -> int:
    value = evidence.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProofInvalid(f"evidence: it has no {name}")
    return value
