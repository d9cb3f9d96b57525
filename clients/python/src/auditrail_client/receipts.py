"""Ingest receipts, checked locally: the note the log's key signs when it accepts events
(``Prefer: receipt``), naming each event and the SHA-256 of its accepted fields.

Keep the receipts your application gets; ``Events.verify_receipt`` later proves that
each event so promised is in the log, as accepted, under a checkpoint the key signed. An
event changed or dropped while it waited to be linked - the one moment no chain hash or
checkpoint covers it - fails that check, with the log's own signature as the evidence.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from auditrail_client.proofs import (
    ProofInvalid,
    VerifierKey,
    canonical_json,
    parse_verifier_key,
    signed_text,
    successors,
)

RECEIPT_LINE = "ingest receipt"
ACCEPTED_FIELDS = ("id", "workspace_id", "action", "occurred_at", "received_at", "actor",
                   "targets", "context", "metadata")
"""The fields an event has from acceptance on: all but ``geo`` and ``sequence`` (added
when it is processed) and ``status``, ``prev_hash``, ``hash``."""
_ENTRY = re.compile(r"^([A-Za-z0-9_-]{1,64}) ([A-Za-z0-9+/]{43}=)$")
PathLike = Union[str, "os.PathLike[str]"]
_SIGNATURE_PREFIX = "\u2014 "


@dataclass(frozen=True)
class Receipt:
    origin: str
    """The log's origin, ``<log name>/<workspace id>``."""
    received_at: str
    digests: dict[str, bytes]
    """Each accepted event's id and the SHA-256 of its accepted fields, in request order."""
    note: str

    @property
    def event_ids(self) -> list[str]:
        return list(self.digests)


def accepted_digest(event: Mapping[str, Any]) -> bytes:
    """SHA-256 of the RFC 8785 form of the event's accepted fields, from the event as the
    API returns it (pending or processed), as an export or a log stream holds it."""
    try:
        accepted = {name: event[name] for name in ACCEPTED_FIELDS}
    except KeyError as exc:
        raise ProofInvalid(f"not an event as the API returns it: no {exc.args[0]}") from None
    return hashlib.sha256(canonical_json(accepted).encode("utf-8")).digest()


def check_receipt(note: str, key: VerifierKey | str, rotations: Sequence[str] = ()
                  ) -> Receipt:
    """The receipt in ``note`` once its signature by ``key`` (the log's verifier key you
    pinned, or the key its ``rotations`` lead to) verifies; ``ProofInvalid`` otherwise."""
    pinned = parse_verifier_key(key) if isinstance(key, str) else key
    failure: ProofInvalid | None = None
    for candidate in (pinned, *reversed(successors(pinned, rotations))):
        try:
            return _receipt(signed_text(note, candidate, "the receipt"), note, candidate)
        except ProofInvalid as exc:
            failure = failure or exc
    raise failure  # type: ignore[misc]


def _receipt(text: str, note: str, key: VerifierKey) -> Receipt:
    lines = text.split("\n")
    if len(lines) < 5 or lines[1] != RECEIPT_LINE or lines[-1] != "":
        raise ProofInvalid("the signed note is not an ingest receipt")
    if lines[0] != key.name:
        raise ProofInvalid(f"the receipt is of log {lines[0]}, not {key.name}")
    digests: dict[str, bytes] = {}
    for line in lines[3:-1]:
        match = _ENTRY.fullmatch(line)
        if match is None:
            raise ProofInvalid(f"not an event and its digest: {line[:80]!r}")
        try:
            digests[match[1]] = base64.b64decode(match[2], validate=True)
        except binascii.Error:
            raise ProofInvalid(f"not base64: {match[2]!r}") from None
    return Receipt(lines[0], lines[2], digests, note)


class ReceiptFolder:
    """Keeps receipts in a folder, one after another in a file a day (UTC), as
    ``auditrail log monitor --receipts`` and ``auditrail verify --receipts`` read them:
    ``client.emitter(on_receipt=ReceiptFolder("/var/lib/app/receipts"))``.

    Each receipt is appended in one ``write`` to a file opened for appending, so the
    processes of one application (gunicorn's workers, forked children) can share the
    folder without interleaving. With ``fsync``, a receipt is on the disk when the call
    returns. The files are the owner's alone (0600)."""

    def __init__(self, folder: PathLike, *, fsync: bool = False) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync

    def receipts(self) -> list[str]:
        """Every receipt kept in the folder, oldest file first."""
        return [note for file in sorted(self.folder.glob("receipts-*.txt"))
                for note in split_receipts(file.read_text(encoding="utf-8"))]

    def __call__(self, note: str) -> None:
        day = time.strftime("%Y-%m-%d", time.gmtime())
        data = note.encode("utf-8")
        descriptor = os.open(self.folder / f"receipts-{day}.txt",
                             os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            written = os.write(descriptor, data)
            if written != len(data):  # a full disk: what is there is cut short, say so
                raise OSError(f"only {written} of a receipt's {len(data)} bytes written")
            if self.fsync:
                os.fsync(descriptor)
        finally:
            os.close(descriptor)


def split_receipts(text: str) -> list[str]:
    """Receipts kept one after another: each ends where, after its signature lines, a
    line that is not one begins; blank lines between them are allowed."""
    notes: list[list[str]] = []
    signed = False
    for line in text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"):
        signature = line.startswith(_SIGNATURE_PREFIX)
        if not notes or (signed and not signature):
            if not line.strip():
                continue
            notes.append([])
            signed = False
        notes[-1].append(line + "\n")
        signed = signed or signature
    return ["".join(lines) for lines in notes]
