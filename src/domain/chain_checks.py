"""Scheduled checks of each workspace's chain, so that tampering is found when it happens
rather than when someone next asks.

``GET /events/verify`` proves a chain to whoever calls it; a row rewritten in the database
stays unseen until then, which may be the audit a year later. The workers therefore verify
every chain on a schedule, as that endpoint does, and keep the latest outcome: an invalid
chain is reported (metrics, ``auditrail status``, the worker's log, and a record in the
workspace's own log) as soon as a check meets it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from domain.timestamps import CLOCK_SKEW
from domain.verification import VerificationReport

LONGEST_CLAIM = timedelta(hours=1)
"""A claim gives a queued check an hour to start, and a running one holds its chain ten
minutes at a time: none lies further ahead, bar the clocks' skew. One that does was not
made by a check, and is none: believed, two would take both of the deployment's slots and
stop every chain's checks until then."""
ASKED_AGAIN_AFTER = timedelta(minutes=5)
"""How soon, by default, a workspace may ask for another check of its chain (``POST
/chain-check``): a check reads the whole chain, and two run at once in a whole deployment
(the operator may ask for longer: ``AUDITRAIL_CHAIN_CHECK_REQUEST_MINUTES``)."""


@dataclass(frozen=True)
class ChainCheck:
    """The latest scheduled check of one workspace's chain, and the claim on the next."""

    workspace_id: str
    checked_at: datetime | None = None
    """When the latest check finished; None: never checked."""
    valid: bool | None = None
    checked: int = 0
    """Events the latest check recomputed."""
    reason: str | None = None
    first_invalid_sequence: int | None = None
    event_id: str | None = None
    detail: str | None = None
    invalid_since: datetime | None = None
    """When checks began to find the chain invalid: the first check that did, kept while
    the next ones do too."""
    claimed_until: datetime | None = None
    """A check is queued or running until then; once it passes, the claim has lapsed (the
    worker died) and the chain may be claimed again."""
    deleting: bool = False
    """The workspace is being deleted: its chain loses its events chunk by chunk, which a
    check would take for tampering."""

    def due(self, now: datetime, every: timedelta) -> bool:
        """Whether the chain should be checked now: its latest check is ``every`` old (or
        there was none, or it is dated in the future) and no check holds a live claim on
        it."""
        return self.unchecked_since(now - every, now) and not self.checking(now) \
            and not self.deleting

    def unchecked_since(self, checked_before: datetime, now: datetime) -> bool:
        """Its latest check finished before ``checked_before``, or never: a check dated
        past ``now`` and ``CLOCK_SKEW`` was not made when it says."""
        return self.checked_at is None or self.checked_at <= checked_before or \
            self.checked_at > now + CLOCK_SKEW

    def claimed(self, until: datetime) -> ChainCheck:
        return replace(self, claimed_until=until)

    def found(self, report: VerificationReport, now: datetime) -> ChainCheck:
        """The check after ``report``, made at ``now``; the claim is released."""
        failing_since = None if report.valid else self.invalid_since or now
        return replace(self, checked_at=now, valid=report.valid, checked=report.checked,
                       reason=report.reason, first_invalid_sequence=report.first_invalid_sequence,
                       event_id=report.event_id, detail=report.detail,
                       invalid_since=failing_since, claimed_until=None)

    def checking(self, now: datetime) -> bool:
        """A check is queued or running: its claim is live (and no further ahead than
        ``LONGEST_CLAIM`` and the clocks' skew)."""
        return self.claimed_until is not None and \
            now < self.claimed_until <= now + LONGEST_CLAIM + CLOCK_SKEW

    def asked_too_soon(self, now: datetime,
                       again_after: timedelta = ASKED_AGAIN_AFTER) -> timedelta | None:
        """How long until the workspace may ask for another check, ``again_after`` the
        latest ended; None: it may now."""
        if self.checked_at is None:
            return None
        wait = self.checked_at + again_after - now
        return wait if wait > timedelta(0) else None

    @property
    def invalid(self) -> bool:
        return self.valid is False

    def described(self) -> str:
        """The finding in a line, for the operator: what broke, and where."""
        if not self.invalid:
            return f"valid, {self.checked:,} events"
        where = (f" at sequence {self.first_invalid_sequence}"
                 if self.first_invalid_sequence is not None else "")
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.reason}{detail}{where}"
