"""Which of the log's keys signed a note, for the monitor: a note none of them signed is
no evidence, whatever it says."""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from auditrail_client.proofs import (
    ProofInvalid,
    SignedCheckpoint,
    VerifierKey,
    check_checkpoint,
    check_cosignature,
    parse_verifier_key,
)
from auditrail_client.receipts import Receipt, check_receipt


def trusted_keys(texts: list[str]) -> list[VerifierKey]:
    keys = []
    for text in texts:
        try:
            keys.append(parse_verifier_key(text))
        except (ProofInvalid, ValueError):
            continue  # a state file edited by hand: those keys are simply not trusted
    return keys


def signed_checkpoint(note: Any, signers: list[VerifierKey]) -> SignedCheckpoint | None:
    return signed_by_any(check_checkpoint, note, signers)


def has_cosignature(note: str, key: VerifierKey) -> bool:
    try:
        check_cosignature(note, key)
    except ProofInvalid:
        return False
    return True


def signed_receipt(note: Any, signers: list[VerifierKey]) -> Receipt | None:
    return signed_by_any(check_receipt, note, signers)


T = TypeVar("T")


def signed_by_any(check: Callable[[str, VerifierKey], T], note: Any,
                   signers: list[VerifierKey]) -> T | None:
    """What ``check`` reads from ``note`` once one of the log's keys signed it; None when
    none did (or it is no text)."""
    if not isinstance(note, str):
        return None
    for key in signers:
        try:
            return check(note, key)
        except ProofInvalid:
            continue
    return None
