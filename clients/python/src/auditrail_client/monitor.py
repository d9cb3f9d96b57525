"""``Monitor``: keep the last checkpoint checked and demand that each new one extends it -
what turns signed checkpoints into evidence that the log is append-only."""

from __future__ import annotations

import base64
import json
import os
import tempfile
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


class MonitorAlarm(AuditrailError):
    """The log is inconsistent with what was kept: rewritten, forked, shrunk, or signed
    by another key. Do not trust it until someone finds out why; keep the state file."""


@dataclass(frozen=True)
class MonitorResult:
    tree_size: int
    previous_size: int | None
    rotated_to: str | None = None
    """The verifier key pinned from now on, when this check followed a key rotation."""

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

    def check(self) -> MonitorResult:
        """Raises ``MonitorAlarm`` on any inconsistency; API and transport errors (the log
        could not be asked) propagate as they are and leave the state unchanged."""
        state = self._state()
        pinned = state.get("verifier_key", self._key_text)
        retired = list(state.get("rotated_from") or [])
        if self._key_text not in (pinned, *retired):
            raise MonitorAlarm("the verifier key differs from the one pinned in the state")
        key = parse_verifier_key(pinned)
        note = self._client.log.checkpoint()
        successor = self._successor(note, key)
        try:
            latest = check_checkpoint(note, successor or key)
        except ProofInvalid as exc:
            raise MonitorAlarm(f"the latest checkpoint: {exc}") from None
        previous = state.get("tree_size")
        if previous is not None:
            self._consistent(int(previous), base64.b64decode(state["root_hash"]), latest)
        rotated_to = None
        if successor is not None:
            retired.append(pinned)
            pinned = rotated_to = format_verifier_key(successor)
        self._keep(latest, pinned, retired)
        return MonitorResult(latest.tree_size, previous, rotated_to)

    def _successor(self, note: str, key: VerifierKey) -> VerifierKey | None:
        """The key the pinned one handed the log over to, once the checkpoint carries a
        signature by another key and that key signed it; None otherwise."""
        try:
            check_checkpoint(note, key)
            signed_by_pinned = True
        except ProofInvalid:
            signed_by_pinned = False
        if signed_by_pinned and len(_split_note(note)[1]) == 1:
            return None  # the pinned key alone: nothing was rotated
        chain = successors(key, [entry.get("rotation", "") for entry in
                                 self._client.log.key().previous_keys or []
                                 if isinstance(entry, dict)])
        for successor in reversed(chain):  # the newest first
            try:
                check_checkpoint(note, successor)
            except ProofInvalid:
                continue  # not followed until the key it names signs what is served
            return successor
        return None

    def _consistent(self, size: int, root: bytes, latest: SignedCheckpoint) -> None:
        if latest.tree_size < size:
            raise MonitorAlarm(f"the log shrank: size {latest.tree_size}, where {size} was "
                               f"signed before")
        if latest.tree_size == size:
            if latest.root_hash != root:
                raise MonitorAlarm(f"two different roots signed for size {size}: a fork")
            return
        proof = self._client.log.consistency(size, latest.tree_size)
        try:
            proof.verify(root, latest.root_hash)
        except ProofInvalid:
            raise MonitorAlarm(f"the log of size {latest.tree_size} does not extend the one "
                               f"of size {size} kept before: its history was rewritten") \
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
