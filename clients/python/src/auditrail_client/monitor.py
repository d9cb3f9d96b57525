"""``Monitor``: keep the last checkpoint checked and demand that each new one extends it -
what turns signed checkpoints into evidence that the log is append-only."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from auditrail_client.errors import AuditrailError
from auditrail_client.proofs import (
    ProofInvalid,
    SignedCheckpoint,
    VerifierKey,
    _split_note,
    check_checkpoint,
    check_cosignature,
    format_verifier_key,
    parse_cosigner_key,
    parse_verifier_key,
    successors,
)

_SEEN = "seen elsewhere"
_EMPTY_ROOT = hashlib.sha256(b"").digest()
_AHEAD_TRIES = 3


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
    cosigned_by: tuple[str, ...] = ()
    """The witnesses that cosigned the checkpoint in this check (their names)."""
    witness_problems: tuple[str, ...] = ()
    """Witnesses that could not be asked, or would not cosign for a reason that says
    nothing against the log (they do not follow it, or not its current key): the log was
    checked, and its state kept, all the same."""
    seen_proved_before: int = 0
    """Of ``seen_sizes``, those proved by an earlier check (the state keeps them): asked
    for no proof again."""

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

    def __init__(self, client: Any, verifier_key: str, state_path: str | os.PathLike[str],
                 witnesses: Iterable[tuple[str, str]] = ()) -> None:
        """``witnesses``: (verifier key, URL) of C2SP tlog-witnesses (``auditrail witness
        serve``) to submit each checked checkpoint to; a witness cosigns only what extends
        the last checkpoint it cosigned for anyone, so a log showing two monitors two
        histories is refused by the first witness they share (``MonitorAlarm``)."""
        self._client = client
        self._key_text = verifier_key.strip()
        parse_verifier_key(self._key_text)  # a malformed key fails here, not at a check
        self._path = Path(state_path)
        self._witnesses = [(parse_cosigner_key(key), key.strip(), url.rstrip("/"))
                           for key, url in witnesses]

    def check(self, seen: Iterable[str] = ()) -> MonitorResult:
        """Raises ``MonitorAlarm`` on any inconsistency; API and transport errors (the log
        could not be asked) propagate as they are and leave the state unchanged.

        ``seen``: signed checkpoints kept outside the log (the ``checkpoint`` of webhook
        deliveries and alert notifications your receivers saved, other auditors' state
        files), each of which must be in the history the log serves now: a log that
        showed different readers different histories (a split view) is caught so. Each
        distinct one costs a consistency proof, a request, once: the state keeps those
        proved (those no longer given leave it). They are all read before the log is
        asked: one signed after that could not be in what it answered."""
        kept_elsewhere = list(dict.fromkeys(seen))
        for attempt in range(1, _AHEAD_TRIES + 1):
            try:
                return self._check_once(kept_elsewhere)
            except _WitnessAhead as ahead:
                if attempt == _AHEAD_TRIES:
                    raise MonitorAlarm(
                        f"the log serves an older checkpoint than the one of size "
                        f"{ahead.size} it signed and a witness cosigned: it shows this "
                        f"reader a stale state") from None
                time.sleep(attempt)  # the log grew while this check ran: again
        raise AssertionError("unreachable")

    def _check_once(self, kept_elsewhere: list[str]) -> MonitorResult:
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
        proved = _SeenProved(state.get("seen_proved"))
        sizes, ignored = self._seen_in_history(kept_elsewhere, signers, latest, proved)
        known = state.get("witnessed")
        cosigning = _Cosigning(self._client, latest, signers,
                               known if isinstance(known, dict) else {})
        for witness in self._witnesses:
            cosigning.submit(*witness)
        rotated_to = None
        if successor is not None:
            retired.append(pinned)
            pinned = rotated_to = format_verifier_key(successor)
        self._keep(latest, cosigning, pinned, retired, proved.now)
        return MonitorResult(latest.tree_size, previous, rotated_to, sizes, ignored,
                             tuple(cosigning.cosigners), tuple(cosigning.problems),
                             seen_proved_before=proved.earlier)

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
                         latest: SignedCheckpoint,
                         proved: _SeenProved) -> tuple[tuple[int, ...], int]:
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
            if not proved.already(size, root):
                self._consistent(size, root, latest, _SEEN)
                proved.add(size, root)
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

    def _keep(self, checkpoint: SignedCheckpoint, cosigning: _Cosigning, pinned: str,
              retired: list[str], seen_proved: dict[str, str]) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=self._path.parent, prefix=".monitor-")
        with os.fdopen(descriptor, "w") as handle:
            json.dump({"verifier_key": pinned, "tree_size": checkpoint.tree_size,
                       "root_hash": base64.b64encode(checkpoint.root_hash).decode(),
                       "checkpoint": cosigning.note, "rotated_from": retired,
                       "witnessed": cosigning.sizes, "seen_proved": seen_proved}, handle,
                      indent=1)
        os.replace(temporary, self._path)


class _SeenProved:
    """The checkpoints seen elsewhere already proved in the log's history, by size (their
    roots in base64), as the state keeps them. Sound because the state's checkpoint moves
    only once proved consistent with the one before: what was in its history is in that
    of every later one. Only those given to this check are kept on."""

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


class _WitnessAhead(Exception):
    """A witness cosigned a newer checkpoint than the one the log served this check."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


class _WitnessTrouble(Exception):
    """A witness that could not be used this time; says nothing about the log."""


class _Cosigning:
    """Submits one checked checkpoint to witnesses (C2SP tlog-witness ``add-checkpoint``)
    and gathers their cosignatures onto it. The API key is never sent to them."""

    def __init__(self, client: Any, latest: SignedCheckpoint, signers: list[VerifierKey],
                 known: dict[str, Any]) -> None:
        self._client, self._latest, self._signers = client, latest, signers
        self.note = latest.note
        self.sizes = {name: size for name, size in known.items()
                      if isinstance(size, int) and not isinstance(size, bool)}
        self.cosigners: list[str] = []
        self.problems: list[str] = []

    def submit(self, key: VerifierKey, key_text: str, url: str) -> None:
        old = self.sizes.get(key_text, 0)
        try:
            with httpx.Client(base_url=url, timeout=30) as witness:
                for _ in range(3):  # another monitor may move it between two requests
                    response = witness.post("/add-checkpoint", content=self._body(old))
                    if response.status_code != 409:
                        break
                    old = self._latest_size(witness, response, key)
                self._cosigned(response, key, key_text)
        except _WitnessTrouble as trouble:
            self.problems.append(f"witness {key.name}: {trouble}")
        except httpx.HTTPError as exc:
            self.problems.append(f"could not reach witness {key.name} "
                                 f"({type(exc).__name__})")

    def _body(self, old: int) -> bytes:
        proof: list[str] = []
        if 0 < old < self._latest.tree_size:
            proof = self._client.log.consistency(old, self._latest.tree_size).proof
        return ("\n".join([f"old {old}", *proof]) + "\n\n" + self._latest.note).encode()

    def _latest_size(self, witness: httpx.Client, response: httpx.Response,
                     key: VerifierKey) -> int:
        """The size a 409 names. Above this check's, the witness has seen a newer
        checkpoint: fetched and checked, so that a witness's word alone alarms no one."""
        text = response.text.strip()
        if not text.isdigit():
            raise _WitnessTrouble("answered 409 without the size it holds")
        size = int(text)
        if size > self._latest.tree_size:
            origin = hashlib.sha256(self._latest.origin.encode()).hexdigest()
            ahead = _signed_checkpoint(witness.get(f"/{origin}/checkpoint").text,
                                       self._signers)
            if ahead is not None and ahead.tree_size > self._latest.tree_size:
                try:
                    check_cosignature(ahead.note, key)
                except ProofInvalid:
                    pass
                else:
                    raise _WitnessAhead(ahead.tree_size)
            raise _WitnessTrouble(f"says it cosigned size {size}, but serves no such "
                                  "checkpoint signed by the log and by itself")
        return size

    def _cosigned(self, response: httpx.Response, key: VerifierKey, key_text: str) -> None:
        said = "".join(ch for ch in response.text.strip() if ch.isprintable())[:200]
        if response.status_code == 422:
            raise MonitorAlarm(f"witness {key.name} refused to cosign the log's checkpoint "
                               f"of size {self._latest.tree_size}: {said}. The log showed "
                               f"it (or another monitor) another history: a split view")
        if response.status_code == 404:
            raise _WitnessTrouble(f"does not follow {self._latest.origin}")
        if response.status_code == 403:
            raise _WitnessTrouble(f"does not trust the key that signed the checkpoint "
                                  f"({said})")
        if response.status_code != 200:
            raise _WitnessTrouble(f"answered {response.status_code}: {said}")
        own = "".join(f"{line}\n" for line in response.text.split("\n")
                      if line.startswith(f"\u2014 {key.name} "))
        try:
            check_cosignature(self._latest.note + own, key)
        except ProofInvalid:
            raise _WitnessTrouble("answered without a cosignature that verifies with its "
                                  "key") from None
        self.note += own
        self.sizes[key_text] = self._latest.tree_size
        self.cosigners.append(key.name)


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
