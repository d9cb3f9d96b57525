"""``auditrail log monitor``: an auditor's cron job over one workspace's log.

What turns signatures into append-only evidence: a log could sign a second, rewritten
history as readily as the first, but not one consistent with the checkpoint a monitor kept
from before. The state file holds the pinned verifier key and the last checkpoint checked;
nothing the server says replaces either, except a rotation note the pinned key signed
itself, naming the key it handed the log over to (or the auditor, with ``--key-lost``,
when the operator lost the key for good: the kept checkpoint stays). Checkpoints kept
elsewhere (``--seen``) are held to the same history: a log showing different readers
different histories, each of which only grows, is caught as soon as any of them is
compared. Witnesses (``--witness``) remember the latest checkpoint for every monitor that
submits to them: a log showing two auditors two histories is refused a cosignature by the
first witness they share. Ingest receipts its applications kept (``--receipts``) are held
to the same log: every event one names must be in the checked tree, as accepted; entries
read (``--entries``), to what the tree holds, and retention to the days agreed
(``--retention-days``).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Collection, Sequence
from pathlib import Path

import httpx

from domain.retention_marks import OccurrenceMarks
from domain.signed_notes import InvalidNote, SignatureCheck, VerifierKey, parse_verifier_key
from domain.signed_notes import verifier_key as verifier_key_of
from entrypoints.log_monitor.asking import get
from entrypoints.log_monitor.entries import entries_held, retention_held
from entrypoints.log_monitor.failures import LogUnreachable, MonitorFailed
from entrypoints.log_monitor.history import (
    CheckedTree,
    SeenProved,
    checked_checkpoint,
    consistent,
    handed_over,
    seen_in_history,
    verifier_keys,
)
from entrypoints.log_monitor.receipts import KeptReceipts, receipts_honoured
from entrypoints.log_monitor.state import read_state, write_state
from entrypoints.log_monitor.witnesses import (
    Cosigning,
    WitnessAhead,
    WitnessesUnavailable,
    WitnessTarget,
    cosigned_in_history,
    log_cosigned_note,
    witness_target,
)

__all__ = ["LogUnreachable", "MonitorFailed", "WitnessTarget", "WitnessesUnavailable",
           "run_monitor", "witness_target"]

_WITNESS_AHEAD_TRIES = 3


def run_monitor(url: str, api_key: str, state_file: Path, verifier_key: str | None,
                verify: SignatureCheck, seen: Collection[str] = (),
                witnesses: Sequence[WitnessTarget] = (),
                cosigners: Sequence[VerifierKey] = (), receipts: Collection[str] = (),
                entries: str | None = None, retention_days: int | None = None,
                key_lost: bool = False) -> str:
    """Check the log once; return the line to print. ``seen`` are signed notes gathered
    elsewhere (``seen_checkpoints``): each must be in the history the log serves now. The
    checkpoint, once checked, is submitted to each of ``witnesses`` for its cosignature.
    With ``cosigners``, the checkpoint the log's own witnesses cosigned (``GET
    /log/cosigned-checkpoint``) must carry a valid cosignature of each and be in the
    history this monitor is served. Every event ``receipts`` (ingest receipts signed by
    the log) name must be in the checked tree as it was accepted. ``entries``: ``new``
    reads the events added since the last run, ``all`` every one the log holds; each
    must be what the tree holds. ``retention_days``: retention may have removed only
    events that occurred longer ago than that, by what reading them showed. ``key_lost``:
    ``verifier_key`` replaces the pinned key, which the log's operator lost for good; the
    checkpoint kept stays, so the new key's log must extend what the lost one signed."""
    for attempt in range(1, _WITNESS_AHEAD_TRIES + 1):
        try:
            return _run_once(url, api_key, state_file, verifier_key, verify, seen,
                             witnesses, cosigners, receipts, entries, retention_days,
                             key_lost)
        except WitnessAhead as ahead:
            if attempt == _WITNESS_AHEAD_TRIES:
                raise MonitorFailed(
                    f"the log serves an older checkpoint than the one of size {ahead.size} "
                    f"it signed and a witness cosigned: it shows this reader a stale "
                    f"state. Its note:\n{ahead.note}") from None
            time.sleep(attempt)  # the log grew while this run checked it: again
    raise AssertionError("unreachable")


def _key_to_check(pinned: str | None, retired: Sequence[str], given: str | None,
                  key_lost: bool) -> tuple[str, str | None]:
    """The verifier key this run holds the log to, and the pinned key it replaces when the
    operator lost theirs (``--key-lost``); a key given that the state does not know is
    refused otherwise, so a server that changed keys is not followed unseen."""
    lost = None
    if pinned and given and given not in (pinned, *retired):
        if not key_lost:
            raise MonitorFailed("--verifier-key differs from the key pinned in the state "
                                "file (if the log's operator lost its signing key for good, "
                                "add --key-lost to pin the new one in its place)")
        lost, pinned = pinned, None  # the new key's log must extend what the lost one signed
    key_text = pinned or given
    if not key_text:
        raise MonitorFailed("no verifier key: pin one with --verifier-key on the first run")
    return key_text, lost


def _run_once(url: str, api_key: str, state_file: Path, verifier_key: str | None,
              verify: SignatureCheck, seen: Collection[str],
              witnesses: Sequence[WitnessTarget], cosigners: Sequence[VerifierKey],
              receipts: Collection[str], entries: str | None,
              retention_days: int | None, key_lost: bool) -> str:
    state = read_state(state_file)
    retired = state.get("rotated_from") or []
    key_text, lost = _key_to_check(state.get("verifier_key"), retired, verifier_key, key_lost)
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
        cosigned_note = log_cosigned_note(client, cosigners, problems)
        note = get(client, "/api/v1/log/checkpoint").text
        handed_to = handed_over(client, note, key, verify)
        successor = handed_to[-1] if handed_to else None
        size, root = checked_checkpoint(note, successor or key, verify)
        before = state.get("tree_size")
        if before is not None:
            consistent(client, before, base64.b64decode(state["root_hash"]), size, root,
                        "kept last time")
        signers = [key, *verifier_keys(retired), *handed_to]
        proved = SeenProved(state.get("seen_proved"))
        elsewhere = seen_in_history(client, seen, signers, key.name, size, root, verify,
                                     proved)
        tree = CheckedTree(size, root, key.name, signers, verify)
        kept = KeptReceipts(state.get("receipts_proved"))
        promised = receipts_honoured(client, receipts, tree, kept)
        read_up_to = state.get("entries_read")
        read = ""
        marks = OccurrenceMarks.from_state(state.get("occurred_marks"))
        if entries is not None:
            read = entries_held(client, read_up_to if entries == "new" else 0, before, tree,
                                 marks)
            read_up_to = size
        if retention_days is not None:
            read += retention_held(client, tree, marks, retention_days)
        vouched = cosigned_in_history(client, cosigned_note, signers, cosigners, verify,
                                       key.name, size, root, problems)
        known = witnessed if isinstance(witnessed := state.get("witnessed"), dict) else {}
        cosigned = Cosigning(client, note, size, signers, verify, known)
        for witness in witnesses:
            cosigned.submit(witness)
    if successor is not None:  # the key given on the first run is still accepted
        retired, key_text = [*retired, key_text], verifier_key_of(successor.name,
                                                                  successor.public_key)
    write_state(state_file, {"verifier_key": key_text, "tree_size": size,
                              "root_hash": base64.b64encode(root).decode(),
                              "checkpoint": cosigned.note, "rotated_from": retired,
                              "witnessed": cosigned.sizes, "seen_proved": proved.now,
                              "receipts_proved": sorted(kept.now),
                              "entries_read": read_up_to,
                              "occurred_marks": marks.to_state()})
    grown = "" if before is None else f", consistent with size {before}"
    rotated = "" if successor is None else \
        f"; the log's key was rotated: now pinned {key_text}"
    if lost is not None:
        rotated += f"; pinned in place of the lost key {lost}"
    said = (f"ok: {key.name} at size {size}{grown}{elsewhere}{promised}{read}{vouched}"
            f"{cosigned.summary()}{rotated}")
    if problems or cosigned.problems:
        raise WitnessesUnavailable(said, [*problems, *cosigned.problems])
    return said
