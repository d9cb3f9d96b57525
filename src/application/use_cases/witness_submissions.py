"""Submitting each new checkpoint to the witnesses a workspace's log has (C2SP
tlog-witness add-checkpoint), waking them, and reporting how they answer."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from application import tree
from application.activity import ActivityLog
from application.ports.jobs import JobQueue
from application.ports.metrics import NO_METRICS, Metrics
from application.ports.repositories.transparency import Cosignature
from application.ports.signing import SignatureChecker
from application.ports.system import Clock, Randomness
from application.ports.unit_of_work import UnitOfWorkFactory
from application.ports.witnesses import WitnessAnswer, WitnessChannel, WitnessUnreachable
from application.transparency import TransparencyLog
from domain.activity import SYSTEM, witness_turned
from domain.checkpoints import SignedCheckpoint
from domain.cosignatures import cosigned_at
from domain.json_rules import CONTROL_CHARACTERS
from domain.log_witnesses import STATUSES, LogWitness
from domain.merkle import consistency_ranges
from domain.signed_notes import SIGNATURE_PREFIX, InvalidNote, parse_note
from domain.witnessing import MAX_PROOF_LINES, add_checkpoint_body

log = logging.getLogger(__name__)

COSIGNED = "cosigned"
REFUSED = "refused"
FAILED = "failed"
UNREACHABLE = "unreachable"
OUTCOMES = (COSIGNED, REFUSED, FAILED, UNREACHABLE)
"""How a submission ended, as the metrics count it."""

WAKE_LIMIT = 500
"""Witnesses woken by one sweep at most; the next sweep, a second later, wakes the rest."""

_ROUNDS = 3
"""Submissions of one checkpoint in a row while the witness answers with the size it
holds: a monitor feeding the same witness may move it between two requests."""
_QUOTED = 200


@dataclass(frozen=True)
class WitnessLag:
    witness: LogWitness
    lag_seconds: float
    """How long it has owed its log a cosignature."""


@dataclass(frozen=True)
class WitnessReport:
    counts: dict[str, int]
    """Every log's witnesses by status, each status present."""
    troubled: list[LogWitness]
    """Those refusing to cosign, then those failing."""
    lag_seconds: float = 0.0
    """How long the witness furthest behind has owed its log a cosignature (0: every one
    holds its log's latest checkpoint)."""
    behind: list[WitnessLag] = field(default_factory=list)
    """Those owing their log a cosignature, the longest owing first (when asked for)."""


class WitnessHealth:
    """Every log's witnesses by status, and how far behind the furthest is, for the
    operator's metrics and ``auditrail status``: a ``refused`` one means a log showed its
    witness another history (or was rewritten); a lag that grows while none fails, that
    submissions are not being made (no worker of a release that makes them, or workers
    too busy linking to give deliveries their share)."""

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow_factory = uow_factory
        self._clock = clock

    def execute(self, listed: int = 0) -> WitnessReport:
        """The counts and the lag; with ``listed``, that many of the witnesses refusing or
        failing, and of those furthest behind."""
        now = self._clock.now()
        with self._uow_factory(read_only=True) as uow:
            counts = uow.log_witnesses.statuses()
            troubled = uow.log_witnesses.troubled(listed) if listed else []
            found = uow.log_witnesses.furthest_behind(now, max(1, listed))
        behind = [WitnessLag(witness, max(0.0, (now - since).total_seconds()))
                  for witness, since in found]
        return WitnessReport({status: counts.get(status, 0) for status in STATUSES},
                             troubled, behind[0].lag_seconds if behind else 0.0,
                             behind[:listed])


class WakeWitnesses:
    """Every second, in every worker: a job for each witness whose log has a checkpoint
    it has not cosigned. The jobs are de-duplicated by the queue, and each takes a lease,
    so workers sweeping together submit once."""

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, queue: JobQueue) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._queue = queue

    def execute(self) -> int:
        with self._uow_factory(read_only=True) as uow:
            due = uow.log_witnesses.due(self._clock.now(), WAKE_LIMIT)
        if due:
            self._queue.enqueue_deliveries(due)
        return len(due)


@dataclass(frozen=True)
class _Answered:
    outcome: str
    error: str | None = None
    held: int | None = None
    line: str | None = None


class SubmitToWitness:
    """Submits the log's latest checkpoint to one witness (C2SP tlog-witness
    add-checkpoint), with a consistency proof from the size the witness holds, and keeps
    the cosignature it answers with. Nothing is sent inside a transaction: the first
    leases the witness, the request follows, the second records the answer."""

    def __init__(self, uow_factory: UnitOfWorkFactory, log: TransparencyLog,
                 channel: WitnessChannel, checker: SignatureChecker, queue: JobQueue,
                 clock: Clock, random: Randomness, lease: timedelta, activity: ActivityLog,
                 metrics: Metrics = NO_METRICS) -> None:
        self._uow_factory = uow_factory
        self._activity = activity
        self._log = log
        self._channel = channel
        self._checker = checker
        self._queue = queue
        self._clock = clock
        self._random = random
        self._lease = lease
        self._metrics = metrics

    def execute(self, witness_id: str) -> str | None:
        """The outcome (``OUTCOMES``); None when there was nothing to submit."""
        self._queue.claim_delivery(witness_id)
        claimed = self._claim(witness_id)
        if claimed is None:
            return None
        witness, checkpoint = claimed
        answered = self._submit(witness, checkpoint)
        self._record(witness, checkpoint, answered)
        return answered.outcome

    def _claim(self, witness_id: str) -> tuple[LogWitness, SignedCheckpoint] | None:
        with self._uow_factory() as uow:
            witness = uow.log_witnesses.lock(witness_id)
            now = self._clock.now()
            if witness is None or witness.sending.is_leased(now):
                return None
            if not witness.sending.is_due(now):
                wake_at = witness.sending.retry_at
                uow.commit()
                self._queue.schedule_delivery(witness_id, wake_at)
                return None
            latest = uow.checkpoints.latest(witness.workspace_id)
            if latest is None or not witness.needs(latest.tree_size):
                return None
            uow.log_witnesses.update(witness.with_sending(
                witness.sending.leased(now, self._lease)))
            uow.commit()
        # Through the log: a checkpoint signed before a rotation of its key is signed by
        # the current key too, which is the one the witness follows.
        return witness, self._log.latest(witness.workspace_id)

    def _submit(self, witness: LogWitness, checkpoint: SignedCheckpoint) -> _Answered:
        held, note = witness.held_size or 0, checkpoint.note
        for _ in range(_ROUNDS):
            if held > checkpoint.tree_size:
                return _Answered(FAILED, f"The witness holds a checkpoint of size {held}, "
                                 f"larger than this log's latest ({checkpoint.tree_size}).",
                                 held=held)
            body = add_checkpoint_body(held, self._proof(witness.workspace_id, held,
                                                         checkpoint.tree_size), note)
            try:
                answer = self._channel.add_checkpoint(witness.url, body)
            except WitnessUnreachable as exc:
                return _Answered(UNREACHABLE, str(exc))
            if answer.status != 409:
                return self._judged(witness, note, answer, held)
            text = answer.text.strip()
            if not text.isdigit():
                return _Answered(FAILED, "HTTP 409 without the size the witness holds.")
            held = int(text)
        return _Answered(FAILED, "The witness's size kept moving; trying again later.",
                         held=held)

    def _proof(self, workspace_id: str, old: int, new: int) -> list[bytes]:
        if not 0 < old < new:
            return []
        with self._uow_factory(snapshot=True) as uow:
            return tree.hashes(uow, workspace_id, consistency_ranges(old, new))[
                :MAX_PROOF_LINES]

    def _judged(self, witness: LogWitness, note: str, answer: WitnessAnswer,
                held: int) -> _Answered:
        if answer.status == 422:
            return _Answered(REFUSED, f"The witness refused to cosign: "
                             f"{_quoted(answer.text)}. It holds a checkpoint of this log "
                             f"that the log's latest does not extend: the log showed it "
                             f"another history, or was rewritten since.", held=held)
        if answer.status != 200:
            said = _quoted(answer.text)
            return _Answered(FAILED, f"HTTP {answer.status}" + (f": {said}" if said else "."),
                             held=held)
        prefix = f"{SIGNATURE_PREFIX}{witness.name} "
        own = "".join(f"{line}\n" for line in answer.text.split("\n")
                      if line.startswith(prefix))
        try:
            valid = cosigned_at(parse_note(note + own), witness.key,
                                self._checker.verify) is not None
        except InvalidNote:
            valid = False
        if not valid:
            return _Answered(FAILED, "The witness answered without a cosignature that "
                             "verifies with its key.", held=held)
        return _Answered(COSIGNED, held=held, line=own)

    def _record(self, sent: LogWitness, checkpoint: SignedCheckpoint,
                answered: _Answered) -> None:
        recorded = False
        with self._uow_factory() as uow:
            witness = uow.log_witnesses.lock(sent.id)
            now = self._clock.now()
            if witness is not None:
                before = witness
                if answered.held is not None:
                    witness = witness.holds(answered.held)
                if answered.line is not None:
                    uow.log_witnesses.keep(witness.workspace_id, Cosignature(
                        witness.id, checkpoint.tree_size, answered.line))
                    uow.log_witnesses.prune(witness.workspace_id)
                    witness = witness.cosigned(checkpoint.tree_size, now)
                else:
                    witness = witness.failed(now, answered.error or "Failed.",
                                             self._random(),
                                             refused=answered.outcome == REFUSED)
                uow.log_witnesses.update(witness)
                turned = witness_turned(before, witness, answered.outcome,
                                        checkpoint.tree_size)
                recorded = turned is not None and self._activity.record(
                    uow, witness.workspace_id, SYSTEM, turned)
            uow.commit()
        if recorded:
            self._activity.wake(sent.workspace_id)
        self._metrics.cosignature_requested(answered.outcome)
        if witness is None or answered.line is not None:
            return
        self._said(witness, answered, now)

    def _said(self, witness: LogWitness, answered: _Answered, now: datetime) -> None:
        retry_at = witness.sending.retry_at
        extra = {"witness": witness.id, "workspace_id": witness.workspace_id,
                 "outcome": answered.outcome, "failures": witness.sending.failures}
        if answered.outcome == REFUSED:
            log.error("a witness refused to cosign the log's checkpoint", extra=extra)
        else:
            log.warning("submitting a checkpoint to a witness failed; retrying in %.0fs",
                        (retry_at - now).total_seconds(), extra=extra)
        self._queue.schedule_delivery(witness.id, retry_at)


def _quoted(text: str) -> str:
    """What a witness said, on one line, short: it is shown back to the workspace."""
    return " ".join(CONTROL_CHARACTERS.sub(" ", text).split())[:_QUOTED]
