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

from auditrail_client._bundles import as_accepted, bundle_name, located, read_bundle
from auditrail_client._proved import Honoured, SeenProved
from auditrail_client._retention import OccurrenceMarks
from auditrail_client._signers import (
    has_cosignature,
    signed_by_any,
    signed_checkpoint,
    signed_receipt,
    trusted_keys,
)
from auditrail_client._witnessing import Cosigning, WitnessAhead
from auditrail_client.errors import (
    BadRequest,
    Conflict,
    LogDiverged,
    MonitorAlarm,
    NotFound,
)
from auditrail_client.proofs import (
    TILE_WIDTH,
    ProofInvalid,
    SignedCheckpoint,
    VerifierKey,
    _split_note,
    b64decode_all,
    check_anchor,
    check_checkpoint,
    event_leaf_hash,
    format_verifier_key,
    parse_cosigner_key,
    parse_verifier_key,
    successors,
    verify_inclusion,
)
from auditrail_client.receipts import Receipt, accepted_digest

_SEEN = "seen elsewhere"
_COSIGNED = "cosigned by the log's witnesses"
_EMPTY_ROOT = hashlib.sha256(b"").digest()
_AHEAD_TRIES = 3


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
    receipts_honoured: int = 0
    """Receipts whose every event is in the checked tree as accepted (those proved by an
    earlier check included: ``receipts_proved_before``)."""
    receipts_proved_before: int = 0
    receipts_waiting: int = 0
    """Receipts with events not linked into the checked tree yet: checked again next time."""
    receipts_ignored: int = 0
    """Notes given as receipts that are not receipts the log's key signed."""
    entries_read: tuple[int, int] | None = None
    """With ``entries``: the first and last sequence of the events read this check (None
    when there was nothing new to read)."""
    entries_pruned: int = 0
    """Entry bundles not served, all below the retention anchor the log signed: retention
    removed events of them."""
    log_cosigned_size: int | None = None
    """With ``cosigned_by``: the size of the checkpoint the log's witnesses cosigned,
    proved in the history this check holds."""
    retention_anchor: int | None = None
    """With ``retention_days``: the sequence up to which retention removed events (0:
    none), each older than those days by what the monitor read of them."""
    lost_key: str | None = None
    """With ``key_lost``: the key this check replaced (it is trusted no more)."""

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
                 witnesses: Iterable[tuple[str, str]] = (),
                 cosigned_by: Iterable[str] = (), key_lost: bool = False) -> None:
        """``witnesses``: (verifier key, URL) of C2SP tlog-witnesses (``auditrail witness
        serve``) to submit each checked checkpoint to; a witness cosigns only what extends
        the last checkpoint it cosigned for anyone, so a log showing two monitors two
        histories is refused by the first witness they share (``MonitorAlarm``).

        ``cosigned_by``: cosigner keys of witnesses the log submits to itself
        (``POST /log/witnesses``) that you trust: the checkpoint they cosigned (``GET
        /log/cosigned-checkpoint``) must carry each one's valid cosignature and be in the
        history this monitor is served; a log showing its witnesses one history and you
        another is ``MonitorAlarm``. One not cosigned yet is a ``witness_problems``
        entry, evidence of nothing.

        ``key_lost``: the log's operator lost its signing key for good (and signs on with
        ``AUDITRAIL_SIGNING_KEY_LOST``): ``verifier_key``, the new key it publishes,
        replaces the key pinned in the state, whose checkpoint stays kept - the new key's
        log must still extend what the lost key signed. The lost key is trusted no
        more."""
        self._client = client
        self._key_text = verifier_key.strip()
        parse_verifier_key(self._key_text)  # a malformed key fails here, not at a check
        self._path = Path(state_path)
        self._witnesses = [(parse_cosigner_key(key), key.strip(), url.rstrip("/"))
                           for key, url in witnesses]
        self._cosigners = [parse_cosigner_key(key) for key in cosigned_by]
        self._key_lost = key_lost

    def check(self, seen: Iterable[str] = (), receipts: Iterable[str] = (),
              entries: str | None = None, retention_days: int | None = None
              ) -> MonitorResult:
        """Raises ``MonitorAlarm`` on any inconsistency, and when the log answers
        ``log_diverged`` (it says itself that it no longer holds what it signed); other
        API and transport errors (the log could not be asked) propagate as they are and
        leave the state unchanged.

        ``seen``: signed checkpoints kept outside the log (the ``checkpoint`` of webhook
        deliveries and alert notifications your receivers saved, other auditors' state
        files), each of which must be in the history the log serves now: a log that
        showed different readers different histories (a split view) is caught so. Each
        distinct one costs a consistency proof, a request, once: the state keeps those
        proved (those no longer given leave it). They are all read before the log is
        asked: one signed after that could not be in what it answered.

        ``receipts``: ingest receipts the log signed (``Prefer: receipt``; the emitter's
        ``on_receipt``): every event each names must be in the checked tree as it was
        accepted, or ``MonitorAlarm`` - one changed or dropped while it waited to be
        linked, or still in no checkpoint a day after it was accepted. A receipt proved
        is kept in the state and not asked about again (its events are read from the
        log's entry bundles, each held to the tree by one proof: about a dozen requests
        for a thousand events, once); one whose events are not linked yet waits for a
        later check.

        ``entries``: ``"new"`` reads the events the log added since the last check that
        read them, ``"all"`` every one it holds, as entry bundles of 256, each held to the
        checked tree by one proof: an event someone changed after it was linked (its
        chain hashes recomputed, the signed tree left alone) is ``MonitorAlarm`` here, on
        your machine, whoever runs the server's own checks.

        ``retention_days`` (with ``entries``): the days the log is to keep events, as
        agreed with its operator. The retention anchor the log signs (with the operator's
        key) must not lie past an event read, by this check or an earlier one, that
        occurred since: ``MonitorAlarm`` otherwise, where an operator erased recent
        events as if retention had."""
        if entries not in (None, "new", "all"):
            raise ValueError("entries is 'new', 'all' or None")
        if retention_days is not None and (entries is None or retention_days < 1):
            raise ValueError("retention_days is a number of days, and needs entries: "
                             "the monitor learns when events occurred by reading them")
        kept_elsewhere = list(dict.fromkeys(seen))
        promised = list(dict.fromkeys(receipts))
        for attempt in range(1, _AHEAD_TRIES + 1):
            try:
                return self._check_once(kept_elsewhere, promised, entries, retention_days)
            except LogDiverged as diverged:
                raise MonitorAlarm(f"the log says it no longer holds what it signed: "
                                   f"{diverged.message}") from None
            except WitnessAhead as ahead:
                if attempt == _AHEAD_TRIES:
                    raise MonitorAlarm(
                        f"the log serves an older checkpoint than the one of size "
                        f"{ahead.size} it signed and a witness cosigned: it shows this "
                        f"reader a stale state") from None
                time.sleep(attempt)  # the log grew while this check ran: again
        raise AssertionError("unreachable")

    def _check_once(self, kept_elsewhere: list[str], promised: list[str],
                    entries: str | None, retention_days: int | None) -> MonitorResult:
        state = self._state()
        pinned = state.get("verifier_key", self._key_text)
        retired = list(state.get("rotated_from") or [])
        lost = None
        if self._key_text not in (pinned, *retired):
            if not self._key_lost:
                raise MonitorAlarm("the verifier key differs from the one pinned in the "
                                   "state (if the log's operator lost its signing key for "
                                   "good, pass key_lost=True to pin the new one in its "
                                   "place)")
            lost, pinned = pinned, self._key_text
        key = parse_verifier_key(pinned)
        problems: list[str] = []
        # Asked first: one the witnesses cosigned while this check read would be newer
        # than the tree it checks, and taken for a stale view.
        vouched = self._cosigned_note(problems)
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
        signers = [key, *trusted_keys(retired), *handed_to]
        proved = SeenProved(state.get("seen_proved"))
        sizes, ignored = self._seen_in_history(kept_elsewhere, signers, latest, proved)
        honoured = Honoured(state.get("receipts_proved"))
        for note in promised:
            self._honour(note, signers, latest, honoured)
        read_up_to = state.get("entries_read")
        read, pruned, anchor = None, 0, None
        marks = OccurrenceMarks(state.get("occurred_marks"))
        if entries is not None:
            start = read_up_to if entries == "new" and previous is not None and \
                isinstance(read_up_to, int) and 0 <= read_up_to <= latest.tree_size else 0
            pruned = self._entries_held(start, latest, signers, marks)
            read = (start + 1, latest.tree_size) if latest.tree_size > start else None
            read_up_to = latest.tree_size
        if retention_days is not None:
            anchor = self._retention_held(latest, signers, marks, retention_days)
        cosigned_size = self._cosigned_in_history(vouched, signers, latest, problems)
        known = state.get("witnessed")
        cosigning = Cosigning(self._client, latest, signers,
                               known if isinstance(known, dict) else {})
        for witness in self._witnesses:
            cosigning.submit(*witness)
        rotated_to = None
        if successor is not None:
            retired.append(pinned)
            pinned = rotated_to = format_verifier_key(successor)
        honoured.too_late()
        self._keep(latest, cosigning, pinned, retired, proved.now, sorted(honoured.now),
                   read_up_to, marks.to_state())
        return MonitorResult(latest.tree_size, previous, rotated_to, sizes, ignored,
                             tuple(cosigning.cosigners),
                             tuple(problems + cosigning.problems),
                             seen_proved_before=proved.earlier,
                             receipts_honoured=len(honoured.now),
                             receipts_proved_before=honoured.earlier,
                             receipts_waiting=len(honoured.waiting),
                             entries_read=read, entries_pruned=pruned,
                             retention_anchor=anchor, log_cosigned_size=cosigned_size,
                             receipts_ignored=honoured.ignored, lost_key=lost)

    def _cosigned_note(self, problems: list[str]) -> str | None:
        if not self._cosigners:
            return None
        try:
            return self._client.log.cosigned_checkpoint()
        except (Conflict, NotFound) as exc:  # no witness yet, or none has cosigned
            problems.append(f"the log's cosigned checkpoint: {exc.message}")
            return None

    def _cosigned_in_history(self, note: str | None, signers: list[VerifierKey],
                             latest: SignedCheckpoint, problems: list[str]) -> int | None:
        """The size of the checkpoint the log's witnesses cosigned, once it carries the
        cosignature of each trusted one and is in the history this check holds."""
        if note is None:
            return None
        checkpoint = signed_checkpoint(note, signers)
        if checkpoint is None or checkpoint.origin != latest.origin:
            problems.append("the log's cosigned checkpoint is not a checkpoint its key "
                            "signed")
            return None
        missing = [key.name for key in self._cosigners if not has_cosignature(note, key)]
        if missing:
            problems.append(f"the log's cosigned checkpoint of size {checkpoint.tree_size} "
                            f"carries no valid cosignature by {', '.join(missing)}")
            return None
        self._consistent(checkpoint.tree_size, checkpoint.root_hash, latest, _COSIGNED)
        return checkpoint.tree_size

    def _honour(self, note: str, signers: list[VerifierKey], latest: SignedCheckpoint,
                honoured: Honoured) -> None:
        if honoured.already(note):
            return
        receipt = signed_receipt(note, signers)
        if receipt is None or receipt.origin != latest.origin:
            honoured.ignored += 1
            return
        # Every event asked (a list): one changed is an alarm even while another waits.
        found = located(self._client.events, self._client.log, receipt, latest,
                        MonitorAlarm)
        if all([as_accepted(found[event_id], event_id, digest, receipt, MonitorAlarm)
                if event_id in found else self._in_tree(event_id, digest, receipt, latest,
                                                        signers)
                for event_id, digest in receipt.digests.items()]):
            honoured.add(note)
        else:
            honoured.waiting.append(receipt)

    def _entries_held(self, start: int, latest: SignedCheckpoint,
                      signers: list[VerifierKey], marks: OccurrenceMarks) -> int:
        """Read the bundles holding events ``start + 1`` on, each held to the checked
        tree; how many were not served, which must lie below the retention anchor the log
        signed (above it, the log would be withholding events)."""
        size, pruned, floor = latest.tree_size, 0, None
        if start == size:
            return 0
        for index in range(start // TILE_WIDTH, -(-size // TILE_WIDTH)):
            bundle, held = read_bundle(self._client.events, self._client.log, index, latest)
            name = bundle_name(index, size)
            if not held:
                raise MonitorAlarm(f"the log's entry bundle {name} is not what its signed "
                                   f"tree of size {size} holds there: events it holds were "
                                   f"changed after they were linked")
            if bundle:
                marks.read((index * TILE_WIDTH + offset + 1, _occurred_at(data))
                           for offset, data in enumerate(bundle))
                continue
            if floor is None or index * TILE_WIDTH >= floor:  # retention may have moved on
                floor = self._retention_floor(latest, signers)
            if index * TILE_WIDTH >= floor:
                where = f"above the retention anchor it signed (sequence {floor})" \
                    if floor else "and it signed no retention anchor"
                raise MonitorAlarm(f"the log serves no entry bundle {name}, {where}: it "
                                   f"withholds events of its signed tree of size {size}")
            pruned += 1
        return pruned

    def _retention_held(self, latest: SignedCheckpoint, signers: list[VerifierKey],
                        marks: OccurrenceMarks, days: int) -> int:
        """The signed retention anchor's sequence, once no event read that occurred
        within ``days`` lies under it."""
        floor = self._retention_floor(latest, signers)
        early = marks.removed_too_early(floor, days)
        if early is not None:
            sequence, hour = early
            raise MonitorAlarm(f"the log removed events up to sequence {floor} as "
                               f"retention, among them the event at sequence {sequence}, "
                               f"which occurred at {hour:%Y-%m-%dT%H:%M:%SZ} or later: "
                               f"within the {days} days they were to be kept, so before "
                               f"their time")
        marks.forget_below(floor)
        return floor

    def _retention_floor(self, latest: SignedCheckpoint, signers: list[VerifierKey]) -> int:
        """The sequence up to which retention removed events, by the anchor the log
        signed (0 when it serves none): signed by its key, for this log, at a tree the
        checked one extends."""
        try:
            note = self._client.log.anchor()
        except NotFound:
            return 0
        anchor = signed_by_any(check_anchor, note, signers)
        if anchor is None or anchor.origin != latest.origin:
            raise MonitorAlarm("the log's retention anchor is not signed by its key for "
                               "this log")
        if anchor.sequence > latest.tree_size:  # retention ran on while this check read
            proof = self._client.log.consistency(latest.tree_size, anchor.sequence)
            try:
                proof.verify(latest.root_hash, anchor.root_hash)
            except ProofInvalid:
                raise MonitorAlarm(f"the log's retention anchor at sequence "
                                   f"{anchor.sequence} is of a tree that does not extend the "
                                   f"one of size {latest.tree_size} this check holds: its "
                                   f"history was rewritten") from None
        else:
            self._consistent(anchor.sequence, anchor.root_hash, latest,
                             "the retention anchor")
        return anchor.sequence

    def _in_tree(self, event_id: str, digest: bytes, receipt: Receipt,
                 latest: SignedCheckpoint, signers: list[VerifierKey]) -> bool:
        """True once the event is in the checked tree as accepted; False while it is not
        linked into it yet; ``MonitorAlarm`` when it cannot be."""
        when = receipt.received_at
        try:
            proof = self._client.events.proof(event_id, tree_size=latest.tree_size)
        except (Conflict, BadRequest):
            return False  # still pending, or linked after this checkpoint
        except NotFound:
            floor = self._retention_floor(latest, signers)
            raise MonitorAlarm(f"the log holds no event {event_id}, which it accepted at "
                               f"{when} (a receipt it signed says so): " + (
                                   f"dropped before it was linked, or removed by retention "
                                   f"since (which removed events up to sequence {floor})"
                                   if floor else "dropped: it signed no retention anchor, so "
                                                 "retention removed none of its events")
                               ) from None
        event = self._client.events.get(event_id)
        try:
            held = accepted_digest(event.raw)
        except (ProofInvalid, TypeError, ValueError):
            held = None  # not an event as the API returns one
        if held != digest:
            raise MonitorAlarm(f"{event_id} is not the event the log accepted at {when} (a "
                               f"receipt it signed says so): its fields changed since")
        try:
            included = proof.tree_size == latest.tree_size and verify_inclusion(
                proof.leaf_index, latest.tree_size, event_leaf_hash(event.raw),
                b64decode_all(proof.inclusion_path), latest.root_hash)
        except (ProofInvalid, TypeError, ValueError):
            included = False
        if not included:
            raise MonitorAlarm(f"{event_id}, which the log accepted at {when}, is not in its "
                               f"signed tree of size {latest.tree_size}, by the proof it "
                               f"serves")
        return True

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
                         proved: SeenProved) -> tuple[tuple[int, ...], int]:
        """Prove each distinct checkpoint of this log seen elsewhere in the history it
        serves now; notes that are not this log's, signed by one of its keys, prove
        nothing against it and are only counted."""
        roots: dict[int, bytes] = {}
        ignored = 0
        for note in notes:
            checkpoint = signed_checkpoint(note, signers)
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
        split = ", or it shows other readers another history" \
            if source in (_SEEN, _COSIGNED) else ""
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

    def _keep(self, checkpoint: SignedCheckpoint, cosigning: Cosigning, pinned: str,
              retired: list[str], seen_proved: dict[str, str],
              receipts_proved: list[str], entries_read: object,
              occurred_marks: list[list[Any]]) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=self._path.parent, prefix=".monitor-")
        with os.fdopen(descriptor, "w") as handle:
            json.dump({"verifier_key": pinned, "tree_size": checkpoint.tree_size,
                       "root_hash": base64.b64encode(checkpoint.root_hash).decode(),
                       "checkpoint": cosigning.note, "rotated_from": retired,
                       "witnessed": cosigning.sizes, "seen_proved": seen_proved,
                       "receipts_proved": receipts_proved,
                       "entries_read": entries_read, "occurred_marks": occurred_marks},
                      handle, indent=1)
        os.replace(temporary, self._path)


def _occurred_at(data: bytes) -> Any:
    try:
        return json.loads(data).get("occurred_at")
    except (ValueError, AttributeError):
        return None

