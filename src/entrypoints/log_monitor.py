"""``auditrail log monitor``: an auditor's cron job over one workspace's log.

What turns signatures into append-only evidence: a log could sign a second, rewritten
history as readily as the first, but not one consistent with the checkpoint a monitor kept
from before. The state file holds the pinned verifier key and the last checkpoint checked;
nothing the server says replaces either, except a rotation note the pinned key signed
itself, naming the key it handed the log over to. Checkpoints kept elsewhere (``--seen``)
are held to the same history: a log showing different readers different histories, each
of which only grows, is caught as soon as any of them is compared. Witnesses (``--witness``)
remember the latest checkpoint for every monitor that submits to them: a log showing two
auditors two histories is refused a cosignature by the first witness they share.
Ingest receipts its applications kept (``--receipts``) are held to the same log: every
event one names must be in the checked tree, as accepted.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from application.witness import origin_hash
from domain.canonical_json import canonical_json
from domain.cosignatures import cosigned_at, cosigner_key, parse_cosigner_key
from domain.hash_chain import document_core
from domain.merkle import EMPTY_ROOT, leaf_hash, verify_consistency, verify_inclusion
from domain.receipts import Receipt, ReceiptBroken, ReceiptEntry, accepted_digest, signed_receipt
from domain.retention_marks import OccurrenceMarks
from domain.signed_notes import (
    SIGNATURE_PREFIX,
    Checkpoint,
    InvalidNote,
    Note,
    SignatureCheck,
    VerifierKey,
    parse_anchor,
    parse_checkpoint,
    parse_note,
    parse_verifier_key,
    signature_by,
    successors,
)
from domain.signed_notes import verifier_key as verifier_key_of
from domain.tile_paths import bundle_in_tree, bundle_width, leaf_tile, split_bundle
from domain.tiles import TILE_WIDTH
from domain.witnessing import MAX_PROOF_LINES, add_checkpoint_body

SEEN = "seen elsewhere"
COSIGNED = "cosigned by the log's witnesses"
UNLINKED_FOR_TOO_LONG = timedelta(days=1)
"""A receipted event in no checkpoint this long after it was accepted is an alarm: the log
promised a checkpoint within seconds of linking, and linking within seconds of the 202."""
_RATE_LIMITED_TRIES = 20
_WITNESS_AHEAD_TRIES = 3


class MonitorFailed(Exception):
    """What did not hold; the log must not be trusted until someone finds out why."""


class LogUnreachable(MonitorFailed):
    """The log could not be asked (network, an error answer): nothing was checked, so
    nothing is known to be wrong either; the next run tries again from the same state."""


class WitnessesUnavailable(LogUnreachable):
    """The log was checked and its state kept (``checked`` says so), but a witness could
    not be asked or gave no usable answer: nothing is known to be wrong with the log, and
    the next run submits again."""

    def __init__(self, checked: str, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.checked = checked
        self.problems = problems


@dataclass(frozen=True)
class WitnessTarget:
    """A witness to submit checkpoints to: its cosigner key (type 0x04) and the URL its
    add-checkpoint and monitoring paths are under."""

    key: VerifierKey
    url: str


def witness_target(key: str, url: str) -> WitnessTarget:
    try:
        parsed = parse_cosigner_key(key)
    except InvalidNote as exc:
        raise MonitorFailed(f"the witness key {key[:60]}: {exc}") from None
    if not url.startswith(("http://", "https://")):
        raise MonitorFailed(f"the witness URL {url[:60]} is not http(s)")
    return WitnessTarget(parsed, url.rstrip("/"))


class _WitnessAhead(Exception):
    """A witness cosigned a checkpoint newer than the one the log served this run."""

    def __init__(self, note: str, size: int) -> None:
        super().__init__(size)
        self.note, self.size = note, size


def run_monitor(url: str, api_key: str, state_file: Path, verifier_key: str | None,
                verify: SignatureCheck, seen: Collection[str] = (),
                witnesses: Sequence[WitnessTarget] = (),
                cosigners: Sequence[VerifierKey] = (), receipts: Collection[str] = (),
                entries: str | None = None, retention_days: int | None = None) -> str:
    """Check the log once; return the line to print. ``seen`` are signed notes gathered
    elsewhere (``seen_checkpoints``): each must be in the history the log serves now. The
    checkpoint, once checked, is submitted to each of ``witnesses`` for its cosignature.
    With ``cosigners``, the checkpoint the log's own witnesses cosigned (``GET
    /log/cosigned-checkpoint``) must carry a valid cosignature of each and be in the
    history this monitor is served. Every event ``receipts`` (ingest receipts signed by
    the log) name must be in the checked tree as it was accepted. ``entries``: ``new``
    reads the events added since the last run, ``all`` every one the log holds; each
    must be what the tree holds. ``retention_days``: retention may have removed only
    events that occurred longer ago than that, by what reading them showed."""
    for attempt in range(1, _WITNESS_AHEAD_TRIES + 1):
        try:
            return _run_once(url, api_key, state_file, verifier_key, verify, seen,
                             witnesses, cosigners, receipts, entries, retention_days)
        except _WitnessAhead as ahead:
            if attempt == _WITNESS_AHEAD_TRIES:
                raise MonitorFailed(
                    f"the log serves an older checkpoint than the one of size {ahead.size} "
                    f"it signed and a witness cosigned: it shows this reader a stale "
                    f"state. Its note:\n{ahead.note}") from None
            time.sleep(attempt)  # the log grew while this run checked it: again
    raise AssertionError("unreachable")


def _run_once(url: str, api_key: str, state_file: Path, verifier_key: str | None,
              verify: SignatureCheck, seen: Collection[str],
              witnesses: Sequence[WitnessTarget], cosigners: Sequence[VerifierKey],
              receipts: Collection[str], entries: str | None,
              retention_days: int | None) -> str:
    state = _read_state(state_file)
    pinned = state.get("verifier_key")
    retired = state.get("rotated_from") or []
    if pinned and verifier_key and verifier_key not in (pinned, *retired):
        raise MonitorFailed("--verifier-key differs from the key pinned in the state file")
    key_text = pinned or verifier_key
    if not key_text:
        raise MonitorFailed("no verifier key: pin one with --verifier-key on the first run")
    try:
        key = parse_verifier_key(key_text)
    except InvalidNote as exc:
        raise MonitorFailed(f"the verifier key: {exc}") from None
    with httpx.Client(base_url=url.rstrip("/"), timeout=30,
                      headers={"Authorization": f"Bearer {api_key}"}) as client:
        problems: list[str] = []
        # Asked first, as checkpoints seen elsewhere are read first: one the witnesses
        # cosigned while this run read (a long --entries) would be newer than the tree it
        # checked, and taken for a stale view.
        cosigned_note = _cosigned_note(client, cosigners, problems)
        note = _get(client, "/api/v1/log/checkpoint").text
        handed_to = _handed_over(client, note, key, verify)
        successor = handed_to[-1] if handed_to else None
        size, root = _checked(note, successor or key, verify)
        before = state.get("tree_size")
        if before is not None:
            _consistent(client, before, base64.b64decode(state["root_hash"]), size, root,
                        "kept last time")
        signers = [key, *_keys(retired), *handed_to]
        proved = _SeenProved(state.get("seen_proved"))
        elsewhere = _seen_in_history(client, seen, signers, key.name, size, root, verify,
                                     proved)
        tree = _Tree(size, root, key.name, signers, verify)
        kept = _Kept(state.get("receipts_proved"))
        promised = _receipts_honoured(client, receipts, tree, kept)
        read_up_to = state.get("entries_read")
        read = ""
        marks = OccurrenceMarks.from_state(state.get("occurred_marks"))
        if entries is not None:
            read = _entries_held(client, read_up_to if entries == "new" else 0, before, tree,
                                 marks)
            read_up_to = size
        if retention_days is not None:
            read += _retention_held(client, tree, marks, retention_days)
        vouched = _cosigned_in_history(client, cosigned_note, signers, cosigners, verify,
                                       key.name, size, root, problems)
        known = state.get("witnessed") if isinstance(state.get("witnessed"), dict) else {}
        cosigned = _Cosigning(client, note, size, signers, verify, known)
        for witness in witnesses:
            cosigned.submit(witness)
    if successor is not None:  # the key given on the first run is still accepted
        retired, key_text = [*retired, key_text], verifier_key_of(successor.name,
                                                                  successor.public_key)
    _write_state(state_file, {"verifier_key": key_text, "tree_size": size,
                              "root_hash": base64.b64encode(root).decode(),
                              "checkpoint": cosigned.note, "rotated_from": retired,
                              "witnessed": cosigned.sizes, "seen_proved": proved.now,
                              "receipts_proved": sorted(kept.now),
                              "entries_read": read_up_to,
                              "occurred_marks": marks.to_state()})
    grown = "" if before is None else f", consistent with size {before}"
    rotated = "" if successor is None else \
        f"; the log's key was rotated: now pinned {key_text}"
    said = (f"ok: {key.name} at size {size}{grown}{elsewhere}{promised}{read}{vouched}"
            f"{cosigned.summary()}{rotated}")
    if problems or cosigned.problems:
        raise WitnessesUnavailable(said, [*problems, *cosigned.problems])
    return said


def _cosigned_note(client: httpx.Client, cosigners: Sequence[VerifierKey],
                   problems: list[str]) -> str | None:
    """The checkpoint the log's witnesses cosigned, when this monitor trusts some; None
    (and a problem said) when the log has none to serve."""
    if not cosigners:
        return None
    try:
        return _get(client, "/api/v1/log/cosigned-checkpoint").text
    except LogUnreachable as exc:
        problems.append(f"the log's cosigned checkpoint: {exc}")
        return None


def _cosigned_in_history(client: httpx.Client, note: str | None, signers: list[VerifierKey],
                         cosigners: Sequence[VerifierKey], verify: SignatureCheck,
                         origin: str, size: int, root: bytes, problems: list[str]) -> str:
    """The checkpoint the log's witnesses cosigned (``note``, asked for before the tree
    of ``size`` was), checked with the keys of those this monitor trusts, must be in the
    history this monitor is served: a log showing its witnesses one history and this
    reader another is caught here, by either side's signatures. A log without such a
    checkpoint (no witness, not cosigned yet) is a problem to report, not evidence of
    anything."""
    if note is None:
        return ""
    checkpoint = _signed_checkpoint(note, signers, verify)
    if checkpoint is None or checkpoint.origin != origin:
        problems.append("the log's cosigned checkpoint is not a checkpoint its key signed")
        return ""
    parsed = parse_note(note)
    missing = [key.name for key in cosigners if cosigned_at(parsed, key, verify) is None]
    if missing:
        problems.append(f"the log's cosigned checkpoint of size {checkpoint.tree_size} "
                        f"carries no valid cosignature by {', '.join(missing)}")
        return ""
    _consistent(client, checkpoint.tree_size, checkpoint.root_hash, size, root, COSIGNED)
    names = ", ".join(key.name for key in cosigners)
    return f"; the checkpoint its witnesses cosigned (size {checkpoint.tree_size}, by " \
           f"{names}) is in its history"


class _Cosigning:
    """Submits one checkpoint, already checked, to witnesses (C2SP tlog-witness), and
    gathers their cosignatures onto it. The Auditrail API key is never sent to them."""

    def __init__(self, log: httpx.Client, note: str, size: int,
                 signers: list[VerifierKey], verify: SignatureCheck,
                 known: dict[str, Any]) -> None:
        self._log, self._size = log, size
        self._signers, self._verify = signers, verify
        self._served = note
        self.note = note
        """The checkpoint with the cosignatures gathered so far."""
        self.sizes = {name: value for name, value in known.items()
                      if isinstance(value, int) and not isinstance(value, bool)}
        """The size each witness cosigned last, as far as this monitor knows."""
        self.cosigners: list[str] = []
        self.problems: list[str] = []

    def submit(self, witness: WitnessTarget) -> None:
        name = cosigner_key(witness.key.name, witness.key.public_key)
        old = self.sizes.get(name, 0)
        try:
            with httpx.Client(base_url=witness.url, timeout=30) as client:
                for _ in range(3):  # another monitor may move it between two requests
                    response = self._post(client, old)
                    if response.status_code != 409:
                        break
                    old = self._latest_size(client, response, witness)
                self._cosigned(client, response, witness, name)
        except _WitnessTrouble as trouble:
            self.problems.append(f"witness {witness.key.name}: {trouble}")
        except httpx.HTTPError as exc:
            self.problems.append(f"could not reach witness {witness.key.name} "
                                 f"({type(exc).__name__})")

    def summary(self) -> str:
        if not self.cosigners:
            return ""
        return f"; cosigned by {', '.join(self.cosigners)}"

    def _post(self, client: httpx.Client, old: int) -> httpx.Response:
        proof: list[bytes] = []
        if 0 < old < self._size:
            answer = _get(self._log, "/api/v1/log/consistency",
                          params={"from_size": old, "to_size": self._size}).json()
            proof = [base64.b64decode(h) for h in answer.get("proof", [])][:MAX_PROOF_LINES]
        body = add_checkpoint_body(old, proof, self._served)
        return client.post("/add-checkpoint", content=body.encode(),
                           headers={"Content-Type": "text/plain; charset=utf-8"})

    def _latest_size(self, client: httpx.Client, response: httpx.Response,
                     witness: WitnessTarget) -> int:
        """The size a 409 names; above this run's, the witness has seen a newer
        checkpoint (fetched and checked, so that a witness's word alone alarms no one)."""
        text = response.text.strip()
        if not text.isdigit():
            raise _WitnessTrouble("answered 409 without the size it holds")
        size = int(text)
        if size > self._size:
            ahead = client.get(f"/{origin_hash(self._signers[0].name)}/checkpoint").text
            signed = _signed_checkpoint(ahead, self._signers, self._verify)
            if signed is not None and signed.tree_size > self._size and \
                    cosigned_at(parse_note(ahead), witness.key, self._verify) is not None:
                raise _WitnessAhead(ahead, signed.tree_size)
            raise _WitnessTrouble(f"says it cosigned size {size}, but serves no such "
                                  "checkpoint signed by the log and by itself")
        return size

    def _cosigned(self, client: httpx.Client, response: httpx.Response,
                  witness: WitnessTarget, name: str) -> None:
        if response.status_code == 422:
            raise MonitorFailed(
                f"witness {witness.key.name} refused to cosign the log's checkpoint of size "
                f"{self._size}: {_plain(response.text)}. The log showed it (or another "
                f"monitor) another history: a split view")
        if response.status_code != 200:
            raise _WitnessTrouble(_refused(response, self._signers[0].name))
        own = "".join(f"{line}\n" for line in response.text.split("\n")
                      if line.startswith(f"{SIGNATURE_PREFIX}{witness.key.name} "))
        try:
            cosigned = cosigned_at(parse_note(self._served + own), witness.key, self._verify)
        except InvalidNote:
            cosigned = None
        if cosigned is None:
            raise _WitnessTrouble("answered without a cosignature that verifies with its key")
        self.note += own
        self.sizes[name] = self._size
        self.cosigners.append(witness.key.name)


class _WitnessTrouble(Exception):
    """A witness that could not be used this run; says nothing about the log."""


def _refused(response: httpx.Response, origin: str) -> str:
    """What a witness's refusal means for whoever runs the monitor."""
    said = _plain(response.text)
    if response.status_code == 404:
        return f"does not follow {origin} (start it with --log and this log's verifier key)"
    if response.status_code == 403:
        return f"does not trust the key that signed the checkpoint ({said}): give it the " \
               "log's current verifier key"
    return f"answered {response.status_code}" + (f": {said}" if said else "")


def _plain(text: str) -> str:
    """A witness's words, printable and short: it is not trusted to write to a terminal."""
    return "".join(ch for ch in text.strip() if ch.isprintable())[:200]



def _keys(texts: list[str]) -> list[VerifierKey]:
    keys = []
    for text in texts:
        try:
            keys.append(parse_verifier_key(text))
        except InvalidNote:
            continue  # a state file edited by hand: those keys are simply not trusted
    return keys


class _SeenProved:
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


def _seen_in_history(client: httpx.Client, notes: Collection[str],
                     signers: list[VerifierKey], origin: str, size: int, root: bytes,
                     verify: SignatureCheck, proved: _SeenProved) -> str:
    """Demand that every checkpoint of this log seen elsewhere is in the history it serves
    now: one it signed that is not was shown to someone else as the truth (a split view),
    or rewritten since. Notes that are not this log's checkpoints signed by one of its keys
    prove nothing against it and are only counted."""
    roots: dict[int, bytes] = {}
    ignored = 0
    for note in notes:
        checkpoint = _signed_checkpoint(note, signers, verify)
        if checkpoint is None or checkpoint.origin != origin:
            ignored += 1
            continue
        if roots.setdefault(checkpoint.tree_size, checkpoint.root_hash) != \
                checkpoint.root_hash:
            raise MonitorFailed(f"two different roots signed for size "
                                f"{checkpoint.tree_size}, both {SEEN}: a fork")
    for seen_size, seen_root in sorted(roots.items()):
        if not proved.already(seen_size, seen_root):
            _consistent(client, seen_size, seen_root, size, root, SEEN)
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


class _Kept:
    """The receipts already proved honoured (by the SHA-256 of their notes), kept in the
    state file so that a run asks nothing about them again: each of their events is in a
    tree every later checked one extends, so it stays there. Only those in this run's
    input are kept on."""

    def __init__(self, kept: object) -> None:
        self.before = {item for item in kept if isinstance(item, str)} \
            if isinstance(kept, list) else set()
        self.now: set[str] = set()
        self.earlier = 0

    def already(self, note: str) -> bool:
        digest = _note_digest(note)
        if digest not in self.before:
            return False
        self.now.add(digest)
        self.earlier += 1
        return True

    def add(self, note: str) -> None:
        self.now.add(_note_digest(note))


def _note_digest(note: str) -> str:
    return hashlib.sha256(note.encode("utf-8")).hexdigest()


def _receipts_honoured(client: httpx.Client, notes: Collection[str], tree: _Tree,
                       kept: _Kept) -> str:
    """Demand that every event the log's receipts name is in the checked tree as it was
    accepted: one changed or dropped before it was linked - the one moment no hash
    covered it - is caught here. Events not linked yet wait for a later run, unless they
    were accepted too long ago. Notes that are not receipts signed by the log's keys
    prove nothing against it and are only counted."""
    if not notes:
        return ""
    proved, waiting, ignored = 0, [], 0
    for note in notes:
        if kept.already(note):
            continue
        try:
            receipt = signed_receipt(note, tree.signers, tree.verify)
        except ReceiptBroken:
            ignored += 1
            continue
        # Every entry asked (a list, not a generator): one changed is an alarm even
        # while another waits to be linked.
        located = _located(client, receipt, tree.size, tree.root)
        if all([_honoured_in(located, entry, receipt) if entry.event_id in located
                else _honoured(client, entry, receipt, tree)
                for entry in receipt.entries]):
            kept.add(note)
            proved += 1
        else:
            waiting.append(receipt)
    said = f"; {proved + kept.earlier} receipt(s) honoured: their events are in it as " \
           f"accepted" + (f" ({kept.earlier} proved on earlier runs)" if kept.earlier else "")
    if waiting:
        oldest = min(receipt.received_at for receipt in waiting)
        if datetime.now(UTC) - oldest > UNLINKED_FOR_TOO_LONG:
            raise MonitorFailed(f"events the log accepted at {_moment(oldest)} (a receipt "
                                f"it signed says so) are still in no checkpoint: it "
                                f"promised them, and links within seconds")
        said += f"; {len(waiting)} wait for their events to be checkpointed (accepted " \
                f"from {_moment(oldest)})"
    if ignored:
        said += f" ({ignored} other note(s) ignored: not receipts its key signed)"
    return said


@dataclass(frozen=True)
class _Tree:
    """The checked tree and what checks notes about it."""

    size: int
    root: bytes
    origin: str
    signers: list[VerifierKey]
    verify: SignatureCheck


def _entries_held(client: httpx.Client, read_up_to: object, before: object,
                  tree: _Tree, marks: OccurrenceMarks) -> str:
    """Read the entries the log added since ``read_up_to`` (where an earlier run stopped
    reading; the start on the first), a bundle at a time, each held to the checked tree
    by one inclusion proof: an event whose stored form someone changed after it was linked
    no longer hashes to its leaf, and is found here, by the auditor, whoever runs (or
    silences) the server's own checks. A run reads only what is new: what it read before
    is in a tree this one was proved to extend. A bundle the log does not serve must lie
    below the retention anchor it signed; above, it would be withholding events. When
    each event occurred goes to ``marks``."""
    size = tree.size
    start = read_up_to if isinstance(read_up_to, int) and 0 <= read_up_to <= size and \
        before is not None else 0
    if start == size:
        return "; no new entries"
    pruned, floor = 0, None
    for index in range(start // TILE_WIDTH, -(-size // TILE_WIDTH)):
        bundle, held = _bundle(client, index, size, tree.root)
        if not held:
            raise MonitorFailed(f"the log's entry bundle {_bundle_name(index, size)} is not "
                                f"what its signed tree of size {size} holds there: events "
                                f"it holds were changed after they were linked")
        if bundle:
            marks.read((index * TILE_WIDTH + offset + 1, _entry_field(data, "occurred_at"))
                       for offset, data in enumerate(bundle))
            continue
        if floor is None or index * TILE_WIDTH >= floor:  # retention may have moved on
            floor = _retention_floor(client, tree)
        if index * TILE_WIDTH >= floor:
            raise MonitorFailed(f"the log serves no entry bundle {_bundle_name(index, size)}, "
                                f"{_above(floor)}: it withholds events of its signed tree "
                                f"of size {size}")
        pruned += 1
    said = f"; entries {start + 1}-{size} read, as it holds them"
    if pruned:
        said += f" ({pruned} bundle(s) below the retention anchor at sequence {floor}, " \
                f"whose events retention removed)"
    return said


def _retention_held(client: httpx.Client, tree: _Tree, marks: OccurrenceMarks,
                    days: int) -> str:
    """Demand that retention removed no event younger than ``days``: the signed anchor
    must not lie past an event read (this run or an earlier one) that occurred since.
    Retention's anchor is signed by the log's own key, so this is what keeps an operator
    from erasing recent events as if retention had."""
    floor = _retention_floor(client, tree)
    early = marks.removed_too_early(floor, datetime.now(UTC), days)
    if early is not None:
        raise MonitorFailed(f"the log removed events up to sequence {floor} as retention, "
                            f"among them the event at sequence {early.sequence}, which "
                            f"occurred at {_moment(early.hour)} or later: within the "
                            f"{days} days they were to be kept, so before their time")
    marks.forget_below(floor)
    kept = (f"events up to sequence {floor} removed, none younger than {days} days"
            if floor else "nothing removed")
    return f"; retention held to {days} days ({kept}, by what was read)"


def _above(floor: int) -> str:
    return f"above the retention anchor it signed (sequence {floor})" if floor else \
        "and it signed no retention anchor"


def _retention_floor(client: httpx.Client, tree: _Tree) -> int:
    """The sequence up to which retention removed events, by the anchor the log signed
    (0 when it serves none): signed by the log's key, for this log, and a tree that the
    checked one extends."""
    answer = _ask(client, "/api/v1/log/anchor", answers=(200, 404))
    if answer.status_code == 404:
        return 0
    try:
        parsed = parse_note(answer.text)
        anchor = parse_anchor(parsed.text)
    except InvalidNote:
        raise MonitorFailed("the log's retention anchor is not a signed anchor") from None
    if not _signed_by_any(parsed, tree.signers, tree.verify) or anchor.origin != tree.origin:
        raise MonitorFailed("the log's retention anchor is not signed by its key for this "
                            "log")
    if anchor.sequence > tree.size:  # retention ran past the tree while this run read
        _consistent(client, tree.size, tree.root, anchor.sequence, anchor.root_hash,
                    "this run checked (at the retention anchor signed since)")
    else:
        _consistent(client, anchor.sequence, anchor.root_hash, tree.size, tree.root,
                    "at the retention anchor")
    return anchor.sequence


def _signed_by_any(parsed: Note, signers: list[VerifierKey], verify: SignatureCheck) -> bool:
    for key in signers:
        try:
            signature = signature_by(parsed, key)
        except InvalidNote:
            continue
        if verify(key.public_key, parsed.text.encode("utf-8"), signature):
            return True
    return False


def _located(client: httpx.Client, receipt: Receipt, size: int,
             root: bytes) -> dict[str, bytes]:
    """The receipt's events found in the log's entry bundles, each bundle checked against
    the signed tree by one inclusion proof: a batch's events are linked one after another,
    so its thousand events take a handful of requests rather than two each. Found from
    the first event's sequence on, a bundle at a time while bundles hold some of them;
    those not found are asked for one by one."""
    first = _ask(client, f"/api/v1/events/{receipt.entries[0].event_id}")
    sequence = _entry_field(first.content, "sequence") if first.status_code == 200 else None
    if not isinstance(sequence, int) or not 0 < sequence <= size:
        return {}
    wanted = {entry.event_id for entry in receipt.entries}
    found: dict[str, bytes] = {}
    index = (sequence - 1) // TILE_WIDTH
    while bundle_width(index, size) and len(found) < len(wanted):
        entries, held = _bundle(client, index, size, root)
        hits = {event_id: data for data in entries if (event_id := _entry_id(data)) in wanted}
        if not held:
            for entry in receipt.entries:  # a receipted event changed says most: named first
                if entry.event_id in hits:
                    _honoured_in(hits, entry, receipt)
            raise MonitorFailed(f"the log's entry bundle {_bundle_name(index, size)} is not "
                                f"what its signed tree of size {size} holds there")
        if not hits:
            break
        found.update(hits)
        index += 1
    return found


def _bundle(client: httpx.Client, index: int, size: int,
            root: bytes) -> tuple[list[bytes], bool]:
    """Entry bundle ``index`` as the log serves it for the tree of ``size``, and whether
    it is what that signed tree holds there; none where the log serves no bundle
    (pruned by retention, or an older release)."""
    answer = _ask(client, f"/api/v1/log/tile/entries/{_bundle_name(index, size)}")
    if answer.status_code != 200:
        return [], True
    try:
        entries = split_bundle(answer.content)
        proof = _ask(client, f"/api/v1/events/{_entry_id(entries[0])}/proof",
                     params={"tree_size": size}).json()
        path = [base64.b64decode(h) for h in proof["inclusion_path"]]
        return entries, proof["tree_size"] == size and \
            proof["leaf_index"] == index * TILE_WIDTH and \
            bundle_in_tree(index, size, entries, path, root)
    except (IndexError, KeyError, TypeError, ValueError):
        return [], False


def _bundle_name(index: int, size: int) -> str:
    return leaf_tile(index, size).bundle_path


def _entry_id(data: bytes) -> str | None:
    event_id = _entry_field(data, "id")
    return event_id if isinstance(event_id, str) else None


def _entry_field(data: bytes, name: str) -> Any:
    """A field of an event served as JSON bytes; None when they are not an object."""
    try:
        return json.loads(data).get(name)
    except (ValueError, AttributeError):
        return None


def _honoured_in(located: dict[str, bytes], entry: ReceiptEntry, receipt: Receipt) -> bool:
    """The event as a checked bundle holds it: in the tree; demanded as accepted."""
    if _digest(json.loads(located[entry.event_id])) != entry.digest:
        raise MonitorFailed(f"{entry.event_id} is not the event the log accepted at "
                            f"{_moment(receipt.received_at)} (a receipt it signed says "
                            f"so): its fields changed since")
    return True


def _honoured(client: httpx.Client, entry: ReceiptEntry, receipt: Receipt,
              tree: _Tree) -> bool:
    """True once the event is in the tree as accepted; False when it is not in it yet
    (still pending, or linked after it); ``MonitorFailed`` when it cannot be."""
    when = _moment(receipt.received_at)
    size, root = tree.size, tree.root
    answer = _ask(client, f"/api/v1/events/{entry.event_id}/proof",
                  params={"tree_size": size})
    if answer.status_code in (400, 409):
        return False
    if answer.status_code == 404:
        floor = _retention_floor(client, tree)
        raise MonitorFailed(f"the log holds no event {entry.event_id}, which it accepted at "
                            f"{when} (a receipt it signed says so): " + (
                                f"dropped before it was linked, or removed by retention "
                                f"since (which removed events up to sequence {floor})"
                                if floor else "dropped: it signed no retention anchor, so "
                                              "retention removed none of its events"))
    event = _get(client, f"/api/v1/events/{entry.event_id}").json()
    if _digest(event) != entry.digest:
        raise MonitorFailed(f"{entry.event_id} is not the event the log accepted at {when} "
                            f"(a receipt it signed says so): its fields changed since")
    proof = answer.json()
    try:
        path = [base64.b64decode(h) for h in proof["inclusion_path"]]
        included = proof["tree_size"] == size and verify_inclusion(
            proof["leaf_index"], size, leaf_hash(canonical_json(document_core(event))),
            path, root)
    except (KeyError, TypeError, ValueError):
        included = False
    if not included:
        raise MonitorFailed(f"{entry.event_id}, which the log accepted at {when}, is not in "
                            f"its signed tree of size {size}, by the proof it serves")
    return True


def _digest(event: Any) -> bytes | None:
    """The accepted digest of what the log served as an event; None when it is not one."""
    try:
        return accepted_digest(event)
    except (KeyError, TypeError, ValueError):
        return None


def _moment(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _signed_checkpoint(note: str, signers: list[VerifierKey],
                       verify: SignatureCheck) -> Checkpoint | None:
    try:
        parsed = parse_note(note)
        checkpoint = parse_checkpoint(parsed.text)
    except InvalidNote:
        return None
    return checkpoint if _signed_by_any(parsed, signers, verify) else None


def _handed_over(client: httpx.Client, note: str, key: VerifierKey,
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
        previous = _get(client, "/api/v1/log/key").json().get("previous_keys")
    except (ValueError, AttributeError):
        return []
    rotations = [entry.get("rotation") for entry in previous or []
                 if isinstance(entry, dict) and isinstance(entry.get("rotation"), str)]
    chain = successors(key, rotations, verify)
    for end in range(len(chain), 0, -1):  # the newest first
        try:
            _checked(note, chain[end - 1], verify)
        except MonitorFailed:
            continue  # not followed until the key it names signs what is served
        return chain[:end]
    return []


def _checked(note: str, key: VerifierKey, verify: SignatureCheck) -> tuple[int, bytes]:
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


def _consistent(client: httpx.Client, old: int, old_root: bytes, new: int,
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
    proof = _get(client, "/api/v1/log/consistency",
                 params={"from_size": old, "to_size": new}).json()
    hashes = [base64.b64decode(h) for h in proof.get("proof", [])]
    if not verify_consistency(old, new, old_root, new_root, hashes):
        raise MonitorFailed(f"the log of size {new} does not extend the one of size {old} "
                            f"{source}: its history was rewritten{split}")


def _get(client: httpx.Client, path: str, **kwargs: Any) -> httpx.Response:
    """A GET that waits out the workspace's rate limit (``Retry-After``): checking many
    checkpoints seen elsewhere takes a request each, more than a small plan's minute."""
    return _ask(client, path, (200,), **kwargs)


def _ask(client: httpx.Client, path: str, answers: Collection[int] = (200, 400, 404, 409),
         **kwargs: Any) -> httpx.Response:
    """``_get``, taking the ``answers`` given as answers (a proof's 404 or 409 says
    something of the log); any other is ``LogUnreachable``."""
    for _ in range(_RATE_LIMITED_TRIES):
        try:
            response = client.get(path, **kwargs)
        except httpx.HTTPError as exc:
            raise LogUnreachable(f"could not reach the log ({type(exc).__name__})") \
                from None
        if response.status_code != 429:
            break
        time.sleep(_retry_after(response))
    if response.status_code not in answers:
        if _error_field(response, "code") == "log_diverged":
            raise MonitorFailed(f"the log says it no longer holds what it signed (GET {path}"
                                f"{_said(response)})")
        raise LogUnreachable(f"GET {path} answered {response.status_code}{_said(response)}")
    return response


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(max(float(response.headers.get("Retry-After", "1")), 0.1), 60.0)
    except ValueError:
        return 1.0


def _said(response: httpx.Response) -> str:
    """The error's message, in the API's error shape: a revoked key or a deleted
    workspace (401) reads differently from a log that is down (503)."""
    message = _error_field(response, "message")
    if message is None:
        return ""
    # The log is the party under watch: nothing it says reaches the terminal as control
    # characters, nor at any length.
    return ": " + "".join(ch for ch in message if ch.isprintable())[:200]


def _error_field(response: httpx.Response, name: str) -> str | None:
    try:
        value = response.json()["error"][name]
    except (ValueError, KeyError, TypeError):
        return None
    return value if isinstance(value, str) else None


def _read_state(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        state = json.loads(path.read_text())
    except ValueError:
        raise MonitorFailed(f"the state file {path} is not JSON") from None
    return state if isinstance(state, dict) else {}


def _write_state(path: Path, state: dict[str, Any]) -> None:
    """Atomically: a run killed while writing leaves the previous state."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".monitor-")
    with os.fdopen(descriptor, "w") as handle:
        json.dump(state, handle, indent=1)
    os.replace(temporary, path)
