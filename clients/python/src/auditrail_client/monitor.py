"""``Monitor``: keep the last checkpoint checked and demand that each new one extends it -
what turns signed checkpoints into evidence that the log is append-only."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditrail_client.errors import AuditrailError
from auditrail_client.proofs import (
    ProofInvalid,
    SignedCheckpoint,
    VerifierKey,
    _split_note,
    check_checkpoint,
    format_verifier_key,
    parse_verifier_key,
    successors,
)

_SEEN = "seen elsewhere"
_EMPTY_ROOT = hashlib.sha256(b"").digest()


class MonitorAlarm(AuditrailError):
    """The log is inconsistent with what was kept: rewritten, forked, shrunk, or signed
    by another key. Do not trust it until someone finds out why; keep the state file."""


@dataclass(frozen=True)
class MonitorResult:
    tree_size: int
    previous_size: int | None
    rotated_to: str | None = None
    """The verifier key pinned from now on, when this check followed a key rotation."""
    seen_sizes: tuple[int, ...] = ()
    """The sizes of the checkpoints seen elsewhere that were proved in the log's history."""
    seen_ignored: int = 0
    """Notes seen elsewhere that are not this log's checkpoints signed by its key."""

    @property
    def grew(self) -> bool:
        return self.previous_size is None or self.tree_size > self.previous_size


class Monitor:
    """``Monitor(client, verifier_key, state_path).check()`` from a scheduled job: fetches
    the latest checkpoint, checks its signature with the pinned key, demands a consistency
    proof from the checkpoint kept last time, then keeps the new one (atomically). The
    state file pins the key too: a later run with another key is an alarm. When the log's
    signing key is rotated, the monitor follows the pinned key's own rotation note to the
    new key (``MonitorResult.rotated_to``) and pins that one from then on."""

    def __init__(self, client: Any, verifier_key: str, state_path: str | os.PathLike[str]
                 ) -> None:
        self._client = client
        self._key_text = verifier_key.strip()
        parse_verifier_key(self._key_text)  # a malformed key fails here, not at a check
        self._path = Path(state_path)

    def check(self, seen: Iterable[str] = ()) -> MonitorResult:
        """Raises ``MonitorAlarm`` on any inconsistency; API and transport errors (the log
        could not be asked) propagate as they are and leave the state unchanged.

        ``seen``: signed checkpoints kept outside the log (the ``checkpoint`` of webhook
        deliveries and alert notifications your receivers saved, other auditors' state
        files), each of which must be in the history the log serves now: a log that
        showed different readers different histories (a split view) is caught so. Each
        distinct one costs a consistency proof, a request. They are all read before the
        log is asked: one signed after that could not be in what it answered."""
        kept_elsewhere = list(dict.fromkeys(seen))
        state = self._state()
        pinned = state.get("verifier_key", self._key_text)
        retired = list(state.get("rotated_from") or [])
        if self._key_text not in (pinned, *retired):
            raise MonitorAlarm("the verifier key differs from the one pinned in the state")
        key = parse_verifier_key(pinned)
        note = self._client.log.checkpoint()
        handed_to = self._handed_over(note, key)
        successor = handed_to[-1] if handed_to else None
        try:
            latest = check_checkpoint(note, successor or key)
        except ProofInvalid as exc:
            raise MonitorAlarm(f"the latest checkpoint: {exc}") from None
        previous = state.get("tree_size")
        if previous is not None:
            self._consistent(int(previous), base64.b64decode(state["root_hash"]), latest,
                             "kept before")
        signers = [key, *_keys(retired), *handed_to]
        sizes, ignored = self._seen_in_history(kept_elsewhere, signers, latest)
        rotated_to = None
        if successor is not None:
            retired.append(pinned)
            pinned = rotated_to = format_verifier_key(successor)
        self._keep(latest, pinned, retired)
        return MonitorResult(latest.tree_size, previous, rotated_to, sizes, ignored)

    def _handed_over(self, note: str, key: VerifierKey) -> list[VerifierKey]:
        """The keys the pinned one handed the log over to, oldest first, once the
        checkpoint carries a signature by another key and the last of them signed it;
        empty otherwise."""
        try:
            check_checkpoint(note, key)
            signed_by_pinned = True
        except ProofInvalid:
            signed_by_pinned = False
        if signed_by_pinned and len(_split_note(note)[1]) == 1:
            return []  # the pinned key alone: nothing was rotated
        chain = successors(key, [entry.get("rotation", "") for entry in
                                 self._client.log.key().previous_keys or []
                                 if isinstance(entry, dict)])
        for end in range(len(chain), 0, -1):  # the newest first
            try:
                check_checkpoint(note, chain[end - 1])
            except ProofInvalid:
                continue  # not followed until the key it names signs what is served
            return chain[:end]
        return []

    def _seen_in_history(self, notes: Iterable[str], signers: list[VerifierKey],
                         latest: SignedCheckpoint) -> tuple[tuple[int, ...], int]:
        """Prove each distinct checkpoint of this log seen elsewhere in the history it
        serves now; notes that are not this log's, signed by one of its keys, prove
        nothing against it and are only counted."""
        roots: dict[int, bytes] = {}
        ignored = 0
        for note in notes:
            checkpoint = _signed_checkpoint(note, signers)
            if checkpoint is None or checkpoint.origin != latest.origin:
                ignored += 1
                continue
            if roots.setdefault(checkpoint.tree_size, checkpoint.root_hash) != \
                    checkpoint.root_hash:
                raise MonitorAlarm(f"two different roots signed for size "
                                   f"{checkpoint.tree_size}, both {_SEEN}: a fork")
        for size, root in sorted(roots.items()):
            self._consistent(size, root, latest, _SEEN)
        return tuple(sorted(roots)), ignored

    def _consistent(self, size: int, root: bytes, latest: SignedCheckpoint,
                    source: str) -> None:
        split = ", or it shows other readers another history" if source == _SEEN else ""
        if latest.tree_size < size:
            raise MonitorAlarm(f"the log shrank: size {latest.tree_size}, where {size} was "
                               f"signed before ({source}){split}")
        if latest.tree_size == size or size == 0:
            if root != (latest.root_hash if latest.tree_size == size else _EMPTY_ROOT):
                raise MonitorAlarm(f"two different roots signed for size {size}: a fork "
                                   f"({source})")
            return
        proof = self._client.log.consistency(size, latest.tree_size)
        try:
            proof.verify(root, latest.root_hash)
        except ProofInvalid:
            raise MonitorAlarm(f"the log of size {latest.tree_size} does not extend the one "
                               f"of size {size} {source}: its history was rewritten{split}") \
                from None

    def _state(self) -> dict[str, Any]:
        if not self._path.exists():
            return {}
        try:
            state = json.loads(self._path.read_text())
        except ValueError:
            raise MonitorAlarm(f"the state file {self._path} is not JSON") from None
        if not isinstance(state, dict):
            raise MonitorAlarm(f"the state file {self._path} is not a monitor's")
        return state

    def _keep(self, checkpoint: SignedCheckpoint, pinned: str, retired: list[str]) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=self._path.parent, prefix=".monitor-")
        with os.fdopen(descriptor, "w") as handle:
            json.dump({"verifier_key": pinned, "tree_size": checkpoint.tree_size,
                       "root_hash": base64.b64encode(checkpoint.root_hash).decode(),
                       "checkpoint": checkpoint.note, "rotated_from": retired}, handle,
                      indent=1)
        os.replace(temporary, self._path)


def _keys(texts: list[str]) -> list[VerifierKey]:
    keys = []
    for text in texts:
        try:
            keys.append(parse_verifier_key(text))
        except (ProofInvalid, ValueError):
            continue  # a state file edited by hand: those keys are simply not trusted
    return keys


def _signed_checkpoint(note: Any, signers: list[VerifierKey]) -> SignedCheckpoint | None:
    if not isinstance(note, str):
        return None
    for key in signers:
        try:
            return check_checkpoint(note, key)
        except ProofInvalid:
            continue
    return None
