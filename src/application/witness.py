"""A C2SP tlog-witness: cosigns a log's checkpoints, each only if it extends the last one
it cosigned (``auditrail witness serve``).

Run by someone other than the log's operator - an auditor, a customer, a peer - it turns
the operator's promise that the log only grows into something the operator cannot break
unseen: a rewritten or forked history gets no cosignature, and readers who demand one
notice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

from application.ports.signing import SignatureChecker, Signer
from application.ports.system import Clock
from application.ports.witness_ledger import HeldLog, WitnessLedger
from domain.cosignatures import cosignature_line, cosigned_message, cosigner_key
from domain.signed_notes import SIGNATURE_PREFIX, Note, VerifierKey, b64
from domain.witnessing import (
    Refusal,
    Witnessed,
    WitnessRefused,
    judge,
    parse_add_checkpoint,
    signed_checkpoint,
)


def origin_hash(origin: str) -> str:
    """How the monitoring URL names a log: the SHA-256 of its origin, lowercase hex."""
    return hashlib.sha256(origin.encode("utf-8")).hexdigest()


def logs_by_origin(keys: Iterable[VerifierKey]) -> dict[str, list[VerifierKey]]:
    """A checkpoint's origin is its log's key name, so each key names the log it signs."""
    logs: dict[str, list[VerifierKey]] = {}
    for key in keys:
        logs.setdefault(key.name, []).append(key)
    return logs


class Witness:
    def __init__(self, name: str, signer: Signer, checker: SignatureChecker,
                 ledger: WitnessLedger, clock: Clock,
                 logs: Mapping[str, Sequence[VerifierKey]]) -> None:
        self.name = name
        self._signer = signer
        self._checker = checker
        self._ledger = ledger
        self._clock = clock
        self._logs = logs

    @property
    def verifier_key(self) -> str:
        return cosigner_key(self.name, self._signer.public_key())

    def add_checkpoint(self, body: str) -> str:
        """The cosignature line for the checkpoint in ``body`` (an add-checkpoint request),
        once it is recorded as the latest; ``WitnessRefused`` otherwise."""
        request = parse_add_checkpoint(body)
        note, checkpoint = signed_checkpoint(request.note, self._logs, self._checker.verify)
        latest = self._ledger.latest(checkpoint.origin)
        judge(request, checkpoint, latest)
        timestamp = int(self._clock.now().timestamp())
        line = cosignature_line(self.name, self._signer.public_key(), timestamp,
                                self._signer.sign(cosigned_message(note.text, timestamp)))
        witnessed = Witnessed(checkpoint.tree_size, checkpoint.root_hash)
        if not self._ledger.advance(checkpoint.origin, latest, witnessed,
                                    self._kept(note, checkpoint.origin, line)):
            now = self._ledger.latest(checkpoint.origin)
            size = now.tree_size if now else 0
            raise WitnessRefused(Refusal.STALE, f"the latest checkpoint cosigned is of "
                                 f"size {size}, not {request.old_size}", latest_size=size)
        return line

    def checkpoint(self, hashed_origin: str) -> str | None:
        return self._ledger.note(hashed_origin)

    def held(self) -> list[HeldLog]:
        return self._ledger.held()

    def _kept(self, note: Note, origin: str, line: str) -> str:
        """The note as served to monitors: the log's signatures this witness checked, and
        its own; anything else the submitter attached is not passed on."""
        trusted = {(key.name, key.key_id) for key in self._logs[origin]}
        kept = [signature for signature in note.signatures
                if (signature.name, signature.key_id) in trusted]
        lines = "".join(f"{SIGNATURE_PREFIX}{s.name} {b64(s.key_id + s.signature)}\n"
                        for s in kept)
        return f"{note.text}\n{lines}{line}"
