"""Holding the log to one append-only history: pinned keys, key hand-overs, consistency
proofs from every checkpoint the monitor kept or was shown elsewhere."""

from __future__ import annotations

import base64
from collections.abc import Collection
from dataclasses import dataclass

import httpx

from domain.merkle import EMPTY_ROOT, verify_consistency
from domain.signed_notes import (
    Checkpoint,
    InvalidNote,
    Note,
    SignatureCheck,
    VerifierKey,
    parse_checkpoint,
    parse_note,
    parse_verifier_key,
    signature_by,
    successors,
)
from entrypoints.log_monitor.asking import get
from entrypoints.log_monitor.failures import MonitorFailed

SEEN = "seen elsewhere"
COSIGNED = "cosigned by the log's witnesses"


def verifier_keys(texts: list[str]) -> list[VerifierKey]:
    keys = []
    for text in texts:
        try:
            keys.append(parse_verifier_key(text))
        except InvalidNote:
            continue  # a state file edited by hand: those keys are simply not trusted
    return keys


class SeenProved:
    """The checkpoints seen elsewhere already proved in the log's history, by size (their
    roots in base64), kept in the state file so that a run asks for no proof again.

    Sound because the state's checkpoint moves only once proved consistent with the one
    before: what was in the history of the checkpoint kept last time is in that of every
    later one. Only those in this run's input are kept on, so receipts an auditor deletes
    leave the state as well, and a folder of receipts that grows costs each run only the
    requests of its new checkpoints."""

    def __init__(self, kept: object) -> None:
        self.before = {str(size): root for size, root in kept.items()
                       if isinstance(root, str)} if isinstance(kept, dict) else {}
        self.now: dict[str, str] = {}
        self.earlier = 0

    def already(self, size: int, root: bytes) -> bool:
        encoded = base64.b64encode(root).decode()
        if self.before.get(str(size)) != encoded:
            return False
        self.now[str(size)] = encoded
        self.earlier += 1
        return True

    def add(self, size: int, root: bytes) -> None:
        self.now[str(size)] = base64.b64encode(root).decode()


def seen_in_history(client: httpx.Client, notes: Collection[str],
                     signers: list[VerifierKey], origin: str, size: int, root: bytes,
                     verify: SignatureCheck, proved: SeenProved) -> str:
    """Demand that every checkpoint of this log seen elsewhere is in the history it serves
    now: one it signed that is not was shown to someone else as the truth (a split view),
    or rewritten since. Notes that are not this log's checkpoints signed by one of its keys
    prove nothing against it and are only counted."""
    roots: dict[int, bytes] = {}
    ignored = 0
    for note in notes:
        checkpoint = signed_checkpoint(note, signers, verify)
        if checkpoint is None or checkpoint.origin != origin:
            ignored += 1
            continue
        if roots.setdefault(checkpoint.tree_size, checkpoint.root_hash) != \
                checkpoint.root_hash:
            raise MonitorFailed(f"two different roots signed for size "
                                f"{checkpoint.tree_size}, both {SEEN}: a fork")
    for seen_size, seen_root in sorted(roots.items()):
        if not proved.already(seen_size, seen_root):
            consistent(client, seen_size, seen_root, size, root, SEEN)
            proved.add(seen_size, seen_root)
    if not notes:
        return ""
    if len(roots) == 1:
        [only] = roots
        found = f"; the checkpoint seen elsewhere (size {only}) is in its history"
    elif roots:
        found = (f"; all {len(roots)} checkpoints seen elsewhere (sizes {min(roots)} to "
                 f"{max(roots)}) are in its history")
    else:
        found = "; none of the notes seen elsewhere is a checkpoint of this log"
    if proved.earlier:
        found += f" ({proved.earlier} proved on earlier runs)"
    left = f" ({ignored} other note(s) ignored: not this log's, or not signed by its key)" \
        if ignored and roots else ""
    return found + left


@dataclass(frozen=True)
class CheckedTree:
    """The checked tree and what checks notes about it."""

    size: int
    root: bytes
    origin: str
    signers: list[VerifierKey]
    verify: SignatureCheck


def signed_by_any(parsed: Note, signers: list[VerifierKey], verify: SignatureCheck) -> bool:
    for key in signers:
        try:
            signature = signature_by(parsed, key)
        except InvalidNote:
            continue
        if verify(key.public_key, parsed.text.encode("utf-8"), signature):
            return True
    return False


def signed_checkpoint(note: str, signers: list[VerifierKey],
                       verify: SignatureCheck) -> Checkpoint | None:
    try:
        parsed = parse_note(note)
        checkpoint = parse_checkpoint(parsed.text)
    except InvalidNote:
        return None
    return checkpoint if signed_by_any(parsed, signers, verify) else None


def handed_over(client: httpx.Client, note: str, key: VerifierKey,
                 verify: SignatureCheck) -> list[VerifierKey]:
    """The keys the pinned one handed the log over to, oldest first, when the checkpoint
    is signed by another key besides (or instead of) it: the log publishes rotation notes
    leading there from the pinned key, each signed by the key before, and the last key
    they lead to signed the checkpoint. Empty otherwise (and the pinned key must have
    signed)."""
    try:
        signatures = parse_note(note).signatures
    except InvalidNote:
        return []  # reported by the check of the checkpoint
    if all((s.name, s.key_id) == (key.name, key.key_id) for s in signatures):
        return []
    try:
        previous = get(client, "/api/v1/log/key").json().get("previous_keys")
    except (ValueError, AttributeError):
        return []
    rotations = [entry["rotation"] for entry in previous or []
                 if isinstance(entry, dict) and isinstance(entry.get("rotation"), str)]
    chain = successors(key, rotations, verify)
    for end in range(len(chain), 0, -1):  # the newest first
        try:
            checked_checkpoint(note, chain[end - 1], verify)
        except MonitorFailed:
            continue  # not followed until the key it names signs what is served
        return chain[:end]
    return []


def checked_checkpoint(note: str, key: VerifierKey, verify: SignatureCheck) -> tuple[int, bytes]:
    try:
        parsed = parse_note(note)
        signature = signature_by(parsed, key)
        checkpoint = parse_checkpoint(parsed.text)
    except InvalidNote as exc:
        raise MonitorFailed(f"the checkpoint served is not one the pinned key signed: {exc}") \
            from None
    if not verify(key.public_key, parsed.text.encode("utf-8"), signature):
        raise MonitorFailed("the checkpoint's signature does not verify with the pinned key")
    if checkpoint.origin != key.name:
        raise MonitorFailed(f"the checkpoint is of log {checkpoint.origin}, not {key.name}")
    return checkpoint.tree_size, checkpoint.root_hash


def consistent(client: httpx.Client, old: int, old_root: bytes, new: int,
                new_root: bytes, source: str) -> None:
    """That the tree of size ``new`` extends the checkpoint of size ``old`` (``source``
    says where that one came from), by the log's RFC 9162 consistency proof."""
    split = ", or it shows other readers another history" if source in (SEEN, COSIGNED) \
        else ""
    if new < old:
        raise MonitorFailed(f"the log shrank: size {new}, where {old} was signed before "
                            f"({source}){split}")
    if new == old or old == 0:
        if old_root != (new_root if new == old else EMPTY_ROOT):
            raise MonitorFailed(f"two different roots signed for size {old}: a fork "
                                f"({source})")
        return
    proof = get(client, "/api/v1/log/consistency",
                 params={"from_size": old, "to_size": new}).json()
    hashes = [base64.b64decode(h) for h in proof.get("proof", [])]
    if not verify_consistency(old, new, old_root, new_root, hashes):
        raise MonitorFailed(f"the log of size {new} does not extend the one of size {old} "
                            f"{source}: its history was rewritten{split}")
