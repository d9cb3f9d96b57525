"""The C2SP tlog-witness protocol's add-checkpoint: what a log (or a monitor) sends a
witness, and the checks that decide whether the witness cosigns.

A witness keeps, per log, only the latest checkpoint it cosigned, and cosigns a new one
only with a proof that it extends that one. Whoever is shown a history that the witness's
does not extend gets no cosignature for it: that is how a split view, invisible to each of
its readers alone, becomes a refusal someone sees.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from domain.errors import DomainError
from domain.merkle import EMPTY_ROOT, verify_consistency
from domain.signed_notes import (
    Checkpoint,
    InvalidNote,
    Note,
    SignatureCheck,
    VerifierKey,
    b64,
    parse_checkpoint,
    parse_note,
)

MAX_PROOF_LINES = 63
_OLD = re.compile(r"^old (0|[1-9][0-9]{0,18})$")


class Refusal(Enum):
    """Why a witness does not cosign, by the HTTP status the protocol gives each."""

    MALFORMED = 400
    NOT_SIGNED = 403
    UNKNOWN_LOG = 404
    STALE = 409
    INCONSISTENT = 422


class WitnessRefused(DomainError):
    def __init__(self, refusal: Refusal, message: str, latest_size: int | None = None) -> None:
        super().__init__(message)
        self.refusal = refusal
        self.latest_size = latest_size
        """With ``STALE``: the size of the checkpoint the witness cosigned last."""


@dataclass(frozen=True)
class AddCheckpoint:
    old_size: int
    proof: tuple[bytes, ...]
    note: str


@dataclass(frozen=True)
class Witnessed:
    """The latest checkpoint a witness cosigned for one log."""

    tree_size: int
    root_hash: bytes


def add_checkpoint_body(old_size: int, proof: Sequence[bytes], note: str) -> str:
    lines = [f"old {old_size}", *(b64(hash_) for hash_ in proof)]
    return "\n".join(lines) + "\n\n" + note


def parse_add_checkpoint(body: str) -> AddCheckpoint:
    head, separator, note = body.partition("\n\n")
    lines = head.split("\n")
    if not separator or not _OLD.fullmatch(lines[0]):
        raise WitnessRefused(Refusal.MALFORMED, "the body is an 'old <size>' line, the "
                             "consistency proof a hash a line, a blank line, a checkpoint")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise WitnessRefused(Refusal.MALFORMED, f"more than {MAX_PROOF_LINES} proof lines")
    try:
        proof = tuple(base64.b64decode(line.encode("ascii"), validate=True)
                      for line in lines[1:])
    except (binascii.Error, UnicodeError, ValueError):
        raise WitnessRefused(Refusal.MALFORMED, "a proof line is not base64") from None
    if any(len(hash_) != 32 for hash_ in proof):
        raise WitnessRefused(Refusal.MALFORMED, "a proof line is not a SHA-256 hash")
    return AddCheckpoint(int(lines[0].removeprefix("old ")), proof, note)


def signed_checkpoint(note: str, logs: Mapping[str, Sequence[VerifierKey]],
                      verify: SignatureCheck) -> tuple[Note, Checkpoint]:
    """The note and its checkpoint, when a key trusted for its origin signed it."""
    try:
        parsed = parse_note(note)
        checkpoint = parse_checkpoint(parsed.text)
    except InvalidNote as exc:
        raise WitnessRefused(Refusal.MALFORMED, f"not a signed checkpoint: {exc}") from None
    keys = logs.get(checkpoint.origin)
    if not keys:
        raise WitnessRefused(Refusal.UNKNOWN_LOG, f"this witness does not follow "
                             f"{checkpoint.origin}")
    signed = False
    for signature in parsed.signatures:
        for key in keys:
            if (signature.name, signature.key_id) != (key.name, key.key_id):
                continue
            if not verify(key.public_key, parsed.text.encode("utf-8"), signature.signature):
                raise WitnessRefused(Refusal.NOT_SIGNED, f"the signature of {key.name} "
                                     f"does not verify")
            signed = True
    if not signed:
        raise WitnessRefused(Refusal.NOT_SIGNED, "no signature by a key this witness "
                             f"trusts for {checkpoint.origin}")
    return parsed, checkpoint


def judge(request: AddCheckpoint, checkpoint: Checkpoint,
          latest: Witnessed | None) -> None:
    """Whether ``checkpoint`` may be cosigned given the latest one cosigned for its log,
    in the protocol's order of checks; ``WitnessRefused`` says why not."""
    if request.old_size > checkpoint.tree_size:
        raise WitnessRefused(Refusal.MALFORMED, f"old size {request.old_size} is above the "
                             f"checkpoint's size {checkpoint.tree_size}")
    known = latest.tree_size if latest else 0
    if request.old_size != known:
        raise WitnessRefused(Refusal.STALE, f"the latest checkpoint cosigned is of size "
                             f"{known}, not {request.old_size}", latest_size=known)
    if checkpoint.tree_size == 0 and checkpoint.root_hash != EMPTY_ROOT:
        raise WitnessRefused(Refusal.INCONSISTENT, "a tree of size 0 has the empty root")
    if latest is None or request.old_size == 0:
        if request.proof:
            raise WitnessRefused(Refusal.INCONSISTENT, "from size 0 no proof is needed, "
                                 "and none may be sent")
        return
    if request.old_size == checkpoint.tree_size:
        if checkpoint.root_hash != latest.root_hash:
            raise WitnessRefused(Refusal.INCONSISTENT, f"another root was cosigned for "
                                 f"size {checkpoint.tree_size}")
        return
    if not verify_consistency(latest.tree_size, checkpoint.tree_size, latest.root_hash,
                              checkpoint.root_hash, request.proof):
        raise WitnessRefused(Refusal.INCONSISTENT, f"the tree of size "
                             f"{checkpoint.tree_size} does not extend the one of size "
                             f"{latest.tree_size} cosigned before")
