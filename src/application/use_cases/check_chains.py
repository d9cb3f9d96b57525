"""Scheduled checks of every workspace's chain (``domain.chain_checks``).

Upkeep, in every worker, claims the chains whose latest check is older than the interval
and queues a job for each; the job verifies the chain as ``GET /events/verify`` does and
keeps the outcome. A claim lasts an hour for the job to start (a job lost with the queue
delays the check that long, no more); a running check then holds it ten minutes at a
time, renewed each minute as it reads, so a check cut short - a worker killed, or stopped
by a deploy before an hour-long check of a large chain could end - leaves the chain to be
claimed again within minutes, however long the check would have run. At most
``concurrency`` checks are queued or running: a check reads the whole chain, and the
deployment's processing comes first. A workspace's own team may ask for a check now
(``ScheduleChainChecks.request``): claimed and queued the same way, within the same bound.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from application.activity import ActivityLog
from application.errors import AskedTooSoon, Busy, NotFound
from application.ports.jobs import JobQueue
from application.ports.metrics import NO_METRICS, Metrics
from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWorkFactory
from application.use_cases.verify_chain import VerifyChain
from domain.activity import SYSTEM, chain_turned
from domain.chain_checks import ASKED_AGAIN_AFTER, LONGEST_CLAIM, ChainCheck
from domain.timestamps import format_timestamp

log = logging.getLogger(__name__)

CONCURRENCY = 2
TO_START = LONGEST_CLAIM
WHILE_RUNNING = timedelta(minutes=10)
"""A running check's hold on its chain, renewed every ``RENEW_EVERY`` as it reads: longer
than any one step of a check (a chunk of events, the count of the workspace's terms)."""
RENEW_EVERY = timedelta(minutes=1)
BUSY_RETRY_SECONDS = 60
QUEUED, ALREADY, TOO_SOON, BUSY = "queued", "already", "too_soon", "busy"
REQUEST_OUTCOMES = (QUEUED, ALREADY, TOO_SOON, BUSY)
"""How a workspace's request for a check ended (``Metrics.chain_check_requested``)."""


class ScheduleChainChecks:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, queue: JobQueue,
                 every: timedelta | None, concurrency: int = CONCURRENCY,
                 claim: timedelta = TO_START, metrics: Metrics = NO_METRICS,
                 asked_again_after: timedelta = ASKED_AGAIN_AFTER) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._queue = queue
        self._every = every
        self._concurrency = concurrency
        self._claim = claim
        self._metrics = metrics
        self._asked_again_after = asked_again_after

    def execute(self) -> list[str]:
        """Claim and queue the chains now due, up to the concurrency; return their ids.
        Three statements when none is due, which is nearly every run: the live claims,
        the rows of new chains, and the due ones."""
        if self._every is None:
            return []
        now = self._clock.now()
        with self._uow_factory() as uow:
            # Even without room for a check, the new chains get their rows (limit 0): the
            # claims of checks queued where no worker takes them hold until they lapse.
            room = max(0, self._concurrency - uow.chain_checks.claimed(now))
            chosen = uow.chain_checks.claim_due(now, now - self._every, now + self._claim,
                                                room)
            uow.commit()
        if chosen:
            self._queue.enqueue_chain_checks(chosen)
        return chosen

    def request(self, workspace_id: str) -> ChainCheckStatus:
        """A check of the workspace's chain now, for its own team rather than on the
        schedule: queued like upkeep's, within the same deployment-wide bound, and at most
        once in ``asked_again_after`` of the latest (a check reads the whole chain). The
        check as it stands once one is queued, or was already."""
        now = self._clock.now()
        with self._uow_factory() as uow:
            check = uow.chain_checks.lock(workspace_id) or ChainCheck(workspace_id)
            if check.checking(now):
                self._metrics.chain_check_requested(ALREADY)
                return _status(check, now, self._every)
            wait = check.asked_too_soon(now, self._asked_again_after)
            if wait is not None:
                self._metrics.chain_check_requested(TOO_SOON)
                minutes = round(self._asked_again_after.total_seconds() / 60)
                raise AskedTooSoon(f"The chain was checked less than {minutes} minutes ago; "
                                   f"ask for another check after "
                                   f"{format_timestamp(now + wait)}.",
                                   retry_after=math.ceil(wait.total_seconds()))
            if uow.chain_checks.claimed(now) >= self._concurrency:
                self._metrics.chain_check_requested(BUSY)
                raise Busy(f"This deployment is checking {self._concurrency} chains already "
                           f"(each reads a whole chain); retry in a minute.",
                           retry_after=BUSY_RETRY_SECONDS)
            started = uow.chain_checks.start(workspace_id, now + self._claim)
            if started is None or started.deleting:
                raise NotFound("workspace", workspace_id)
            uow.commit()
        self._queue.enqueue_chain_checks([workspace_id])
        self._metrics.chain_check_requested(QUEUED)
        return _status(started, now, self._every)


class CheckChain:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, verify: VerifyChain,
                 activity: ActivityLog, claim: timedelta = WHILE_RUNNING,
                 renew_every: timedelta = RENEW_EVERY) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._verify = verify
        self._activity = activity
        self._claim = claim
        self._renew_every = renew_every

    def execute(self, workspace_id: str) -> ChainCheck | None:
        """Verify the workspace's whole chain and keep the outcome; None when the workspace
        is gone or going (deleted after its check was queued). Upkeep's jobs run it, and
        so does an operator who wants a chain checked now (``auditrail chains check``)."""
        if not self._hold(workspace_id, self._clock.now()):
            return None
        report = self._verify.execute(workspace_id, progress=self._renewing(workspace_id))
        with self._uow_factory() as uow:
            before = uow.chain_checks.lock(workspace_id)
            if before is None or before.deleting:
                return None
            after = before.found(report, self._clock.now())
            uow.chain_checks.save(after)
            # Under the row's lock, so a turn is recorded once however many checks race.
            change = chain_turned(before, after)
            recorded = change is not None and self._activity.record(uow, workspace_id,
                                                                     SYSTEM, change)
            uow.commit()
        if recorded:
            self._activity.wake(workspace_id)
        _report(before, after)
        return after

    def _hold(self, workspace_id: str, now: datetime) -> bool:
        """Hold the claim for the next ``claim`` (at the start, then at each renewal);
        False when the workspace is gone or going."""
        with self._uow_factory() as uow:
            check = uow.chain_checks.start(workspace_id, now + self._claim)
            uow.commit()
        return check is not None and not check.deleting

    def _renewing(self, workspace_id: str) -> Callable[[], None]:
        """What the check calls after each chunk it reads: at most once a ``renew_every``,
        a short transaction of its own (the check reads in a snapshot) moves the claim on."""
        renewed = self._clock.now()

        def renew() -> None:
            nonlocal renewed
            now = self._clock.now()
            if now - renewed >= self._renew_every:
                renewed = now
                self._hold(workspace_id, now)
        return renew


@dataclass(frozen=True)
class ChainCheckStatus:
    """What a workspace sees of the checks of its chain."""

    check: ChainCheck
    checking: bool
    """A check is queued or running now."""
    next_check_at: datetime | None
    """When the schedule checks it next (None: checks off, or never checked yet)."""


def _status(check: ChainCheck, now: datetime, every: timedelta | None) -> ChainCheckStatus:
    due = check.checked_at + every if every is not None and check.checked_at else None
    return ChainCheckStatus(check, check.checking(now), due)


def _report(before: ChainCheck, after: ChainCheck) -> None:
    """An invalid chain is an error every time a check finds it: it stands until someone
    restores or explains the database, and the log is where an operator looks."""
    if after.invalid:
        log.error("the chain of %s is invalid: %s (GET /api/v1/events/verify shows it; "
                  "see docs/operations.md, An invalid chain)", after.workspace_id,
                  after.described())
    elif before.invalid:
        log.warning("the chain of %s verifies again (%s)", after.workspace_id,
                    after.described())


@dataclass(frozen=True)
class ChainHealth:
    """What an operator watches of the scheduled checks."""

    invalid: int
    """Chains whose latest check found them invalid."""
    overdue: int | None
    """Chains not checked for twice the interval (or never, as a new workspace's until
    upkeep claims it); None when the checks are off."""
    troubled: tuple[ChainCheck, ...] = ()
    """The invalid ones, the longest invalid first (when asked for)."""


class GetChainHealth:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock,
                 every: timedelta | None) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._every = every

    def execute(self, chains: int = 0) -> ChainHealth:
        """The counts, and up to ``chains`` invalid chains. A check that falls behind
        shows as overdue chains: twice the interval leaves a whole interval's slack."""
        now = self._clock.now()
        overdue_before = None if self._every is None else now - 2 * self._every
        with self._uow_factory(read_only=True) as uow:
            invalid, overdue = uow.chain_checks.summary(overdue_before, now)
            troubled = uow.chain_checks.invalid(chains) if chains else []
        return ChainHealth(invalid, overdue, tuple(troubled))

    def workspace(self, workspace_id: str) -> ChainCheckStatus:
        """What the workspace's own team sees of the checks of its chain."""
        with self._uow_factory(read_only=True) as uow:
            check = uow.chain_checks.get(workspace_id) or ChainCheck(workspace_id)
        return _status(check, self._clock.now(), self._every)
