"""The delivery engine: one destination's queue of things to send, one at a time, in order,
retried with backoff until accepted. Log streams (batches of events) and alert rules
(their triggered alerts) are its two producers.

One job sends to a destination at a time: it leases the destination (under its row lock)
with the items it claims - a stream's next batch, or several of a rule's alerts - and
releases it when it records what came of them, so a second job for the same destination -
woken by more work, or by upkeep - finds the lease and leaves; the holder looks for more
work after each success, so nothing woken meanwhile is left behind. A worker killed while
sending leaves a lease that runs out: upkeep then wakes the destination, and the items it
had not recorded (same ids, same bodies) are sent again.

Nothing is sent inside a transaction: one records the claimed items and the lease and
commits, the HTTP requests follow one by one, in order, up to the first that fails, and
the next transaction records what came of them - and, when all were accepted, claims what
comes after.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar, Generic, Protocol, Self, TypeVar

from application.activity import ActivityLog
from application.ports.delivery import (
    UNREADABLE_CREDENTIAL,
    CredentialUnreadable,
    CredentialVault,
    Deliverer,
    Destination,
    Payload,
    Route,
    SendResult,
)
from application.ports.jobs import JobQueue
from application.ports.metrics import NO_METRICS, Metrics
from application.ports.system import Clock, IdGenerator, Randomness
from application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from domain.activity import SYSTEM, Change, sending_turned
from domain.deliveries import Attempt
from domain.sending import Sending

log = logging.getLogger(__name__)

MAX_ROUNDS = 20
"""Claims one job sends before it re-queues itself, so destinations share the workers."""
TURN = timedelta(seconds=5)
"""How long one job goes on claiming: past it, it re-queues itself after the claim it is
sending, so a slow receiver holds a worker for about a claim's time more, not 20 claims'."""


class Target(Protocol):
    """A destination as the domain holds it: a stream, an alert rule."""

    @property
    def id(self) -> str: ...
    @property
    def workspace_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def sending(self) -> Sending: ...
    @property
    def paused(self) -> bool: ...
    def with_sending(self, sending: Sending) -> Self: ...


T = TypeVar("T", bound=Target)
Item = TypeVar("Item")


@dataclass(frozen=True)
class Claim(Generic[Item]):
    """What the engine sends next, and what it counts when it is accepted."""

    item: Item
    payload: Payload
    events: int


@dataclass(frozen=True)
class Sent(Generic[Item]):
    """A claimed item sent, and what came of it."""

    claim: Claim[Item]
    result: SendResult


class DeliveryEngine(ABC, Generic[T, Item]):
    KIND: ClassVar[str]
    """What the workspace's records call this kind of target (``log_stream``)."""

    def __init__(self, uow_factory: UnitOfWorkFactory, deliverer: Deliverer,
                 vault: CredentialVault, queue: JobQueue, clock: Clock, random: Randomness,
                 lease: timedelta, activity: ActivityLog,
                 metrics: Metrics = NO_METRICS) -> None:
        self._uow_factory = uow_factory
        self._activity = activity
        self._deliverer = deliverer
        self._vault = vault
        self._queue = queue
        self._clock = clock
        self._random = random
        self._lease = lease
        self._metrics = metrics

    def execute(self, target_id: str) -> int:
        """Send what is due; return how many items were accepted."""
        self._queue.claim_delivery(target_id)
        accepted = 0
        started = self._clock.now()
        claimed = self._claim(target_id)
        for round_ in range(1, MAX_ROUNDS + 1):
            if claimed is None:
                return accepted
            target, claims = claimed
            sent = self._send(target, claims)
            accepted += sum(1 for each in sent if each.result.attempt.ok)
            go_on = round_ < MAX_ROUNDS and self._clock.now() - started < TURN
            ok, claimed = self._record(target, sent, go_on=go_on)
            if not ok:
                return accepted
            if not go_on:
                break
        self._queue.enqueue_deliveries([target_id])  # more may wait; others get a turn first
        return accepted

    def _send(self, target: T, claims: list[Claim[Item]]) -> list[Sent[Item]]:
        """The claimed items in order, up to the first that fails, and none started once
        half the lease has gone: the lease is well past the longest one attempt may take,
        so the last one sent still ends before the lease does."""
        route, sealed = self._destination(target), self._sealed(target)
        last_start = target.sending.lease_ends - self._lease / 2
        sent: list[Sent[Item]] = []
        for claim in claims:
            if sent and self._clock.now() > last_start:
                break  # the rest are claimed again, in order, by the next transaction
            sent.append(Sent(claim, send(route, claim.payload, sealed, self._vault,
                                         self._deliverer)))
            if not sent[-1].result.attempt.ok:
                break
        return sent

    # -- what each producer decides ----------------------------------------------------------

    @abstractmethod
    def _lock(self, uow: UnitOfWork, target_id: str) -> T | None: ...

    @abstractmethod
    def _save(self, uow: UnitOfWork, target: T) -> None: ...

    @abstractmethod
    def _next(self, uow: UnitOfWork, target: T, now: datetime
              ) -> tuple[T, list[Claim[Item]], datetime | None]:
        """The items to send now, in order (recorded, if new), the target as that leaves
        it, and when to look again if nothing is ready yet."""

    @abstractmethod
    def _attempted(self, uow: UnitOfWork, attempts: list[tuple[Item, Attempt]],
                   now: datetime) -> None:
        """Record an attempt on each item."""

    @abstractmethod
    def _destination(self, target: T) -> Route:
        """Where the target sends, and as what type."""

    @abstractmethod
    def _sealed(self, target: T) -> bytes:
        """The target's credential, sealed."""

    def _metric_type(self, target: T) -> str:
        """How the delivery metrics name this kind of target."""
        return self._destination(target).type

    # -- the engine ------------------------------------------------------------------------

    def _claim(self, target_id: str) -> tuple[T, list[Claim[Item]]] | None:
        """The items to send now, leased; None when there is none (or not yet)."""
        with self._uow_factory() as uow:
            found = self._lock(uow, target_id)
            claimed, wake_at = self._claim_in(uow, found, found, self._clock.now())
            uow.commit()
        if wake_at is not None:
            self._queue.schedule_delivery(target_id, wake_at)
        return claimed

    def _claim_in(self, uow: UnitOfWork, target: T | None, stored: T | None, now: datetime
                  ) -> tuple[tuple[T, list[Claim[Item]]] | None, datetime | None]:
        """The items to send now, leased in ``uow``, and when to look again if none is
        ready; ``stored`` is the target as its locked row holds it, saved if it changed."""
        if target is None or target.paused or target.sending.is_leased(now):
            return None, None  # gone, paused, or another job is sending (and will look again)
        claims: list[Claim[Item]] = []
        wake_at = None
        if not target.sending.is_due(now):
            wake_at = target.sending.next_attempt_at
        else:
            target, claims, wake_at = self._next(uow, target, now)
            if claims:
                target = target.with_sending(target.sending.leased(now, self._lease))
        if target != stored:
            self._save(uow, target)
        return ((target, claims) if claims else None), wake_at

    def _record(self, sent_to: T, sent: list[Sent[Item]], go_on: bool
                ) -> tuple[bool, tuple[T, list[Claim[Item]]] | None]:
        """Store the attempts: whether all succeeded and the target may go on, and then
        (``go_on``) the next items, claimed in the same transaction: a transaction a claim
        rather than two, each locking the target's row."""
        last = sent[-1].result
        recorded = False
        following, wake_at = None, None
        with self._uow_factory() as uow:
            target = found = self._lock(uow, sent_to.id)
            now = self._clock.now()
            self._attempted(uow, [(each.claim.item, each.result.attempt) for each in sent],
                            now)
            if target is not None:
                sending, turns = self._after(target, sent, now)
                target = target.with_sending(sending)
                if last.attempt.ok and go_on:
                    following, wake_at = self._claim_in(uow, target, found, now)
                else:
                    self._save(uow, target)
                # every turn recorded (a list, not a generator any() would cut short)
                recorded = any([self._activity.record(uow, target.workspace_id, SYSTEM, turn)
                                for turn in turns])
            uow.commit()
        if recorded:
            self._activity.wake(sent_to.workspace_id)
        for each in sent:
            self._metrics.delivery_attempted(
                self._metric_type(sent_to), each.result.outcome,
                each.claim.events if each.result.attempt.ok else 0)
        if wake_at is not None:
            self._queue.schedule_delivery(sent_to.id, wake_at)
        if target is None:
            return False, None  # deleted while sending
        if not last.attempt.ok:
            self._retry_later(target, last, now)
            return False, None
        return True, following

    def _after(self, target: T, sent: list[Sent[Item]], now: datetime
               ) -> tuple[Sending, list[Change]]:
        """How the destination stands after a claim's attempts (successes, then perhaps
        one failure), and each turn they took, in order: a claim's first success may end
        a failing spell that a failure after it does not bring back."""
        sending, turns = target.sending, []
        for each in sent:
            attempt = each.result.attempt
            after = sending.succeeded(now) if attempt.ok else \
                sending.failed(now, attempt.error or "failed", self._random())
            turn = sending_turned(self.KIND, target.id, target.name, sending, after,
                                  each.result.outcome, attempt.http_status)
            turns += [turn] if turn is not None else []
            sending = after
        return sending, turns

    def _retry_later(self, target: T, failed: SendResult, now: datetime) -> None:
        retry_at = target.sending.retry_at
        log.warning("delivery failed; retrying in %.0fs", (retry_at - now).total_seconds(),
                    extra={"destination": target.id, "outcome": failed.outcome,
                           "failures": target.sending.failures})
        self._queue.schedule_delivery(target.id, retry_at)


def send(route: Route, payload: Payload, sealed: bytes, vault: CredentialVault,
         deliverer: Deliverer) -> SendResult:
    """One attempt to deliver ``payload``; the credential is unsealed for it alone. A
    credential the key cannot open is a failed attempt that says what to do, not an error:
    the destination fails until someone sets it again."""
    try:
        credential = vault.open(sealed)
    except CredentialUnreadable:
        return SendResult(Attempt(False, error="The credential cannot be read with the "
                                               "current AUDITRAIL_SECRET_KEY; set it again "
                                               "(PATCH)."), UNREADABLE_CREDENTIAL)
    return deliverer.send(Destination(route.type, route.url, credential, route.options),
                          payload)


class SampleSender:
    """Base of the test sends (a stream's, an alert rule's): one sample sent now, outside
    the engine's queue and bookkeeping, so that a receiver can be checked at will."""

    def __init__(self, uow_factory: UnitOfWorkFactory, deliverer: Deliverer,
                 vault: CredentialVault, clock: Clock, ids: IdGenerator,
                 metrics: Metrics = NO_METRICS) -> None:
        self._uow_factory = uow_factory
        self._deliverer = deliverer
        self._vault = vault
        self._clock = clock
        self._ids = ids
        self._metrics = metrics

    def _send_now(self, route: Route, payload: Payload, sealed: bytes,
                  metric_type: str) -> SendResult:
        """Send, and count the attempt (with no events: a sample is none)."""
        result = send(route, payload, sealed, self._vault, self._deliverer)
        self._metrics.delivery_attempted(metric_type, result.outcome, 0)
        return result
