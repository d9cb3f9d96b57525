"""Storage ports. Every method that reads tenant data takes the workspace id explicitly."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol

from domain.action_patterns import ActionPatterns
from domain.alert_evaluation import Key, WindowState
from domain.alert_rules import AlertRule
from domain.alerts import Alert
from domain.api_keys import ApiKey
from domain.chain_checks import ChainCheck
from domain.checkpoints import KeyRotation, SignedCheckpoint
from domain.cursor import Position
from domain.deliveries import Delivery
from domain.event_search import EventFilters, SearchEntries
from domain.event_stats import EventStats
from domain.events import Event
from domain.exports import Export, WrittenRows
from domain.hash_chain import ChainHead
from domain.idempotency import IdempotencyRecord
from domain.log_witnesses import LogWitness
from domain.streams import Stream
from domain.tiles import TileKey
from domain.viewer_links import ViewerLink
from domain.workspaces import Workspace


@dataclass(frozen=True)
class WorkspaceBacklog:
    """One workspace's pending events: how many, and when the oldest arrived."""

    workspace_id: str
    pending_events: int
    oldest_received_at: datetime


@dataclass(frozen=True)
class UnsignedLog:
    """A workspace whose tree has grown past its latest signed checkpoint."""

    workspace_id: str
    unsigned_events: int
    waiting_since: datetime | None
    """Since when a checkpoint over them has been owed: the later of the latest
    checkpoint's signing and the first unsigned event's arrival (None if neither is
    known: a log that predates checkpoints, its first events removed by retention)."""


@dataclass(frozen=True)
class RetainedChain:
    """Where a workspace's retained chain starts (the retention anchor: the last removed
    event, or the genesis) and where it ends (the head); sequences anchor+1..head exist."""

    anchor: ChainHead
    head: ChainHead
    anchor_note: str | None = None
    """The anchor as the log's key signed it when retention set it (None at the genesis,
    or for an anchor set before the transparency log)."""

    @property
    def linked(self) -> int:
        """How many events it holds: every sequence in between, gapless by construction."""
        return self.head.sequence - self.anchor.sequence


class WorkspaceRepository(Protocol):
    def add(self, workspace: Workspace) -> None: ...
    def get(self, workspace_id: str) -> Workspace | None: ...
    def update(self, workspace: Workspace) -> None: ...
    def list(self) -> list[Workspace]: ...

    def retention_periods(self) -> dict[str, int]:
        """Each workspace's effective retention in days, for those that have one and no
        legal hold: what every retention run reads, without building every workspace."""
        ...

    def erase_some(self, workspace_id: str, limit: int) -> int:
        """Delete up to ``limit`` of the workspace's stored rows, those that refer to
        others first and the workspace itself last; return how many (0: it is gone)."""
        ...


class ApiKeyRepository(Protocol):
    def add(self, key: ApiKey) -> None: ...
    def get(self, workspace_id: str, key_id: str) -> ApiKey | None: ...
    def update(self, key: ApiKey) -> None: ...

    def page(self, workspace_id: str, order: str, after: Position | None,
             limit: int) -> list[ApiKey]:
        """Up to ``limit`` keys after ``after`` in ``(created_at, id)`` order."""
        ...

    def count(self, workspace_id: str) -> int: ...

    def find_by_hash(self, secret_hash: str) -> tuple[ApiKey, Workspace] | None:
        """The key with this hash and its workspace, in one lookup (the hot path of auth)."""
        ...
    def stamp_usage(self, key_id: str, now: datetime, not_since: datetime) -> None:
        """Set ``last_used_at`` unless another process already did after ``not_since``."""
        ...

    def revoke_all(self, workspace_id: str, now: datetime) -> int:
        """Revoke every key of the workspace not yet revoked, viewer links' included;
        return how many."""
        ...


class EventRepository(Protocol):
    def add_many(self, events: Sequence[Event]) -> None:
        """Store new pending events in one set-based insert, atomically even outside a
        transaction (a ``single_write`` unit of work)."""
        ...

    def get(self, workspace_id: str, event_id: str) -> Event | None: ...

    def get_many(self, workspace_id: str, event_ids: Sequence[str]) -> list[Event]:
        """The workspace's events among ``event_ids`` (at most a batch's 1,000), in one
        query, in no particular order; ids it does not hold are left out."""
        ...

    def pending_chunk(self, workspace_id: str, limit: int) -> list[Event]:
        """The oldest pending events of one workspace, in arrival order."""
        ...

    def mark_processed(self, events: Sequence[Event]) -> None:
        """Store geo, sequence and hashes of events just linked into the chain."""
        ...

    def iter_chain(self, workspace_id: str, from_sequence: int, to_sequence: int | None,
                   chunk_size: int) -> Iterator[Event]:
        """Processed events in sequence order, fetched lazily in chunks."""
        ...

    def verifiable_chain(self, workspace_id: str, from_sequence: int,
                         to_sequence: int | None, chunk_size: int,
                         ) -> Iterator[Iterable[tuple[Event, SearchEntries | None]]]:
        """``iter_chain``'s events in chunks, each beside what is stored for search beside
        it (None when nothing is): what verification reads, in as few statements as the
        database allows. A chunk may be built as it is iterated, and be iterable once."""
        ...

    def filed_terms(self, workspace_id: str) -> tuple[int, int]:
        """How many term rows are filed under the workspace, and how many of those belong
        to its pending events."""
        ...

    def search(self, workspace_id: str, filters: EventFilters, order: str,
               after: Position | None, limit: int) -> list[Event]:
        """Up to ``limit`` matching events after ``after`` in ``(occurred_at, id)`` order."""
        ...

    def count(self, workspace_id: str, filters: EventFilters) -> int: ...

    def stats(self, workspace_id: str, filters: EventFilters, group_by: str,
              limit: int) -> EventStats:
        """The ``limit`` largest groups of the matching events by ``group_by`` (one of
        ``domain.event_stats.GROUPS``), and how many matched in all: one aggregate over
        the filtered range, whatever its size."""
        ...

    def count_narrow(self, workspace_id: str, filters: EventFilters,
                     after_sequence: int | None = None) -> int:
        """Like ``count`` but for a small slice: pending events (``filters.status``), or
        events linked after ``after_sequence``; cost follows the slice, not the matches."""
        ...

    def write_export(self, workspace_id: str, filters: EventFilters, format_: str,
                     sink: BinaryIO, on_progress: Callable[[], None]) -> WrittenRows:
        """Write the processed events matching ``filters``, in sequence order, as NDJSON
        lines or CSV rows (``domain.export_rows`` defines both); return how many, and the
        first and last sequence. Streams: memory stays flat whatever the count.
        ``on_progress`` is called now and then."""
        ...

    def pending_backlog(self) -> tuple[int, datetime | None]:
        """All workspaces: how many events are pending, and when the oldest arrived."""
        ...

    def backlog_by_workspace(self, limit: int) -> list[WorkspaceBacklog]:
        """The ``limit`` workspaces whose oldest pending event has waited longest, that
        one first: where an operator looks when processing falls behind."""
        ...

    def linked_batch(self, workspace_id: str, after_sequence: int, up_to_sequence: int,
                     actions: ActionPatterns, limit: int) -> list[Event]:
        """Up to ``limit`` processed events with sequences in ``(after, up_to]`` whose
        action matches, in sequence order: what a stream delivers next, or again."""
        ...

    def positions(self, workspace_id: str, filters: EventFilters, after_sequence: int,
                  up_to_sequence: int, limit: int) -> list[tuple[str, int]]:
        """(id, sequence) of the processed events matching ``filters`` in
        ``(after, up_to]``, in sequence order: what a filtered export holds, for its
        evidence."""
        ...

    def by_ids(self, workspace_id: str, event_ids: Sequence[str]) -> list[Event]:
        """These events of the workspace (those that exist), in sequence order."""
        ...

    def oldest_linked(self, workspace_id: str, after_sequence: int,
                      limit: int) -> list[Event]:
        """The first ``limit`` processed events after ``after_sequence``, in chain order."""
        ...

    def oldest_retained(self) -> dict[str, datetime]:
        """Per workspace, ``occurred_at`` of the first event after its retention anchor."""
        ...

    def delete_linked(self, workspace_id: str, up_to_sequence: int) -> int:
        """Delete processed events with sequence <= ``up_to_sequence`` (and their terms)."""
        ...

    def workspaces_with_pending(self, received_before: datetime) -> list[str]:
        """Workspaces holding pending events that arrived before ``received_before``."""
        ...


class ChainHeadRepository(Protocol):
    def create(self, workspace_id: str) -> None: ...

    def lock(self, workspace_id: str) -> ChainHead:
        """Read the head and hold it until commit, serialising one workspace's processing."""
        ...

    def save(self, workspace_id: str, head: ChainHead) -> None: ...

    def retained(self, workspace_id: str) -> RetainedChain:
        """Anchor and head in one read: readers want both, and each is a round trip."""
        ...

    def linked_counts(self) -> dict[str, int]:
        """Every workspace's retained linked events (``RetainedChain.linked``), in one read
        of the heads."""
        ...

    def anchor(self, workspace_id: str) -> ChainHead:
        """Where the retained chain starts: the last event removed by retention (sequence
        and hash), or the genesis when nothing was removed."""
        ...

    def save_anchor(self, workspace_id: str, anchor: ChainHead,
                    note: str | None = None) -> None: ...

    def adopt_anchor(self, workspace_id: str, anchor: ChainHead, note: str) -> bool:
        """Sign an anchor set before the transparency log: ``note`` is stored only while
        the anchor is still ``anchor`` and unsigned (retention may have moved it)."""
        ...

    def signed_anchors(self, after: str | None, limit: int) -> list[tuple[str, str]]:
        """Every workspace's signed retention anchor note, by workspace id after ``after``:
        only for countersigning them after a rotation of the signing key."""
        ...

    def countersign_anchor(self, workspace_id: str, before: str, note: str) -> bool:
        """Replace the anchor's note ``before`` with ``note`` (one more signature), unless
        retention moved the anchor meanwhile."""
        ...


class ChainCheckRepository(Protocol):
    def claim_due(self, now: datetime, checked_before: datetime, until: datetime,
                  limit: int) -> list[str]:
        """Claim (until ``until``) up to ``limit`` chains whose latest check finished
        before ``checked_before`` or never, and that no live claim holds: the longest
        unchecked first. Every workspace with a chain takes part: new ones get their row
        here, even with ``limit`` 0."""
        ...

    def claimed(self, now: datetime) -> int:
        """Chains whose check is queued or running (a live claim)."""
        ...

    def start(self, workspace_id: str, until: datetime) -> ChainCheck | None:
        """Claim the chain until ``until`` for a check that starts now, claimed by upkeep
        or not (an operator's), adding its row if it has none; a workspace being deleted
        is left as it is, and one that is gone gives None."""
        ...

    def lock(self, workspace_id: str) -> ChainCheck | None:
        """Read the check and hold it until commit; None once the workspace is gone."""
        ...

    def get(self, workspace_id: str) -> ChainCheck | None:
        """Read the check; None while the chain has none (never claimed)."""
        ...

    def save(self, check: ChainCheck) -> None: ...

    def retire(self, workspace_id: str) -> None:
        """Check the chain no more: its workspace is being deleted, and a check would take
        the events going for tampering. The row goes with the workspace's last rows."""
        ...

    def invalid(self, limit: int) -> list[ChainCheck]:
        """The chains whose latest check found them invalid, the longest invalid first
        (workspaces being deleted left out, as in ``summary``)."""
        ...

    def summary(self, checked_before: datetime | None) -> tuple[int, int | None]:
        """``(invalid, due)``: chains whose latest check found them invalid, and chains
        whose latest check finished before ``checked_before`` or never (None: not
        counted, the checks being off)."""
        ...


class IdempotencyKeyTaken(Exception):
    """Another request recorded the same key first (raised by ``IdempotencyRepository.add``)."""


class IdempotencyRepository(Protocol):
    def get(self, workspace_id: str, key: str) -> IdempotencyRecord | None: ...

    def add(self, record: IdempotencyRecord, expired_by: datetime) -> None:
        """Record a key, replacing a record created at or before ``expired_by``; raise
        ``IdempotencyKeyTaken`` if a live one exists (concurrent retries race here, and
        exactly one of them wins)."""
        ...

    def purge(self, expired_by: datetime, limit: int) -> int:
        """Delete up to ``limit`` records created at or before ``expired_by``; return how many."""
        ...


@dataclass(frozen=True)
class SealedCredential:
    kind: str
    """``stream`` or ``alert_rule``."""
    id: str
    sealed: bytes


class SealedCredentialRepository(Protocol):
    """Every workspace's sealed credentials: only for re-sealing them under a new key."""

    def page(self, after: SealedCredential | None, limit: int) -> list[SealedCredential]: ...

    def replace(self, credential: SealedCredential) -> None: ...


class ExportRepository(Protocol):
    """``viewer_link_id`` narrows a read to the exports one viewer link asked for."""

    def add(self, export: Export) -> None: ...

    def get(self, workspace_id: str, export_id: str,
            viewer_link_id: str | None = None) -> Export | None: ...

    def find(self, export_id: str) -> Export | None:
        """By id alone - only for a signed link, whose signature is the authorization."""
        ...

    def lock(self, export_id: str) -> Export | None:
        """Read and hold until commit: one worker moves an export at a time."""
        ...

    def update(self, export: Export) -> None: ...

    def page(self, workspace_id: str, order: str, after: Position | None, limit: int,
             viewer_link_id: str | None = None) -> list[Export]: ...

    def count(self, workspace_id: str, viewer_link_id: str | None = None) -> int: ...

    def count_active(self, workspace_id: str, viewer_link_id: str | None = None) -> int:
        """Exports of the workspace (or of one of its links) still queued or running."""
        ...

    def queued_backlog(self) -> tuple[int, datetime | None]:
        """All workspaces: how many exports wait for a worker, and when the oldest was
        asked for."""
        ...

    def needing_upkeep(self, expire_by: datetime, silent_since: datetime,
                       queued_before: datetime, limit: int) -> list[Export]:
        """Completed exports due to expire, running ones whose heartbeat stopped, and queued
        ones whose job may have been lost."""
        ...


@dataclass(frozen=True)
class StreamProgress:
    """How far one stream is behind its workspace's chain (for the metrics)."""

    stream_id: str
    workspace_id: str
    type: str
    status: str
    backlog: int
    """Linked events not yet delivered (counted in sequences: events the filter will pass
    over count too, until the stream has looked at them)."""
    oldest_undelivered_at: datetime | None
    """When the oldest of them was received (its ``received_at``)."""


class StreamRepository(Protocol):
    def add(self, stream: Stream) -> None: ...
    def get(self, workspace_id: str, stream_id: str) -> Stream | None: ...

    def lock(self, stream_id: str) -> Stream | None:
        """Read and hold until commit, by id alone: for the delivery job, which is given
        nothing else (every read it makes afterwards names the stream's workspace)."""
        ...

    def update(self, stream: Stream) -> None: ...

    def delete(self, workspace_id: str, stream_id: str) -> bool:
        """Remove the stream and its delivery log; False when there was none."""
        ...

    def page(self, workspace_id: str, order: str, after: Position | None,
             limit: int) -> list[Stream]: ...

    def count(self, workspace_id: str) -> int: ...

    def active_ids(self, workspace_id: str) -> list[str]:
        """The streams to wake when the workspace's chain grows."""
        ...

    def needing_delivery(self, now: datetime, limit: int) -> list[str]:
        """Streams with something to send, not paused, not waiting out a backoff and not
        leased: whatever their job became, they should have one (upkeep)."""
        ...

    def progress(self) -> list[StreamProgress]:
        """Every stream's backlog and delivery lag, in one read."""
        ...


class DeliveryRepository(Protocol):
    def add(self, delivery: Delivery) -> None: ...
    def update(self, delivery: Delivery) -> None: ...

    def pending(self, stream_id: str) -> Delivery | None:
        """The stream's delivery in flight (there is at most one)."""
        ...

    def page(self, workspace_id: str, stream_id: str, order: str, after: Position | None,
             limit: int) -> list[Delivery]: ...

    def count(self, workspace_id: str, stream_id: str) -> int: ...

    def held_from(self, workspace_id: str) -> int | None:
        """The first sequence a pending delivery of the workspace still has to send:
        retention keeps it and what follows, so that a retry's body is the first one's."""
        ...

    def purge(self, finished_before: datetime, limit: int) -> int:
        """Delete up to ``limit`` finished deliveries created before ``finished_before``
        (the delivery log's retention); pending ones are never deleted."""
        ...


@dataclass(frozen=True)
class AlertFilters:
    rule_id: str | None = None
    group_key: str | None = None
    since: datetime | None = None
    """triggered_at >= since"""
    until: datetime | None = None
    """triggered_at < until"""


class AlertRuleRepository(Protocol):
    def add(self, rule: AlertRule) -> None: ...
    def get(self, workspace_id: str, rule_id: str) -> AlertRule | None: ...

    def lock(self, rule_id: str) -> AlertRule | None:
        """Read and hold until commit, by id alone: for the notification job."""
        ...

    def update(self, rule: AlertRule) -> None: ...
    def delete(self, workspace_id: str, rule_id: str) -> bool: ...

    def page(self, workspace_id: str, order: str, after: Position | None,
             limit: int) -> list[AlertRule]: ...

    def count(self, workspace_id: str) -> int: ...

    def enabled(self, workspace_id: str) -> list[AlertRule]:
        """The rules processing evaluates, in evaluation order (created_at, id)."""
        ...

    def enabled_versions(self, workspace_id: str) -> list[tuple[str, datetime]]:
        """(id, updated_at) of ``enabled``'s rules, in the same order: whether they
        changed, for the price of a read of the primary key's columns."""
        ...

    def needing_delivery(self, now: datetime, limit: int) -> list[str]:
        """Rules with a notification pending that are neither leased nor backing off."""
        ...


class AlertRepository(Protocol):
    def add_many(self, alerts: Sequence[Alert]) -> None: ...
    def update(self, alert: Alert) -> None: ...
    def get(self, workspace_id: str, alert_id: str) -> Alert | None: ...

    def next_pending(self, rule_id: str) -> Alert | None:
        """The rule's oldest alert whose notification is not yet accepted."""
        ...

    def page(self, workspace_id: str, filters: AlertFilters, order: str,
             after: Position | None, limit: int) -> list[Alert]:
        """In ``(triggered_at, id)`` order."""
        ...

    def count(self, workspace_id: str, filters: AlertFilters) -> int: ...

    def held_from(self, workspace_id: str) -> int | None:
        """The first sequence a pending notification of the workspace still sends."""
        ...

    def cancel_pending(self, workspace_id: str, rule_id: str, now: datetime) -> int:
        """Its rule is gone: pending notifications will never be sent."""
        ...

    def pending_count(self) -> int:
        """Notifications not yet accepted, all workspaces (for the metrics)."""
        ...


class AlertWindowRepository(Protocol):
    def load(self, workspace_id: str, keys: Iterable[Key]) -> dict[Key, WindowState]:
        """The states of these (rule, group) pairs that exist, in one read."""
        ...

    def save(self, workspace_id: str, states: Mapping[Key, WindowState],
             now: datetime) -> None:
        """Insert or replace these states, in one statement."""
        ...

    def forget_rule(self, rule_id: str) -> None:
        """A changed rule counts afresh."""
        ...

    def purge(self, horizon_before: datetime, limit: int) -> int:
        """Delete up to ``limit`` states whose ``WindowState.horizon`` is before
        ``horizon_before`` (``alert_evaluation.expired_before``: every event still to be
        linked forgets them)."""
        ...


class TreeRepository(Protocol):
    """The workspace's Merkle tree, stored as tiles (``domain.tiles``)."""

    def tiles(self, workspace_id: str, keys: Iterable[TileKey]) -> dict[TileKey, bytes]:
        """These tiles (those that exist), in one read."""
        ...

    def save(self, workspace_id: str, tiles: Mapping[TileKey, bytes]) -> None:
        """Insert or replace these tiles, in one statement."""
        ...


class CheckpointRepository(Protocol):
    def add(self, checkpoint: SignedCheckpoint) -> SignedCheckpoint:
        """Store it, unless that size was signed already: then the stored one, which the
        caller must find identical (one size is never signed with two roots). Either way
        it is the workspace's latest from then on, unless a larger one is (``due`` and
        the unsigned backlog compare chain heads with the latest)."""
        ...

    def countersign(self, notes: Sequence[tuple[SignedCheckpoint, str]]) -> int:
        """Replace each checkpoint's note with the one beside it (the same text with one
        more signature), in one statement, unless another process replaced it first; how
        many were replaced."""
        ...

    def most_recent(self) -> SignedCheckpoint | None:
        """The checkpoint signed last, of any workspace."""
        ...

    def every(self, after: SignedCheckpoint | None, limit: int) -> list[SignedCheckpoint]:
        """Every workspace's checkpoints, by workspace and size, after ``after``: only for
        countersigning them after a rotation of the signing key."""
        ...

    def keep_rotations(self, rotations: Sequence[KeyRotation]) -> int:
        """Store each rotation note unless one of that workspace and retired key is stored
        already (a rerun, another process); how many were new."""
        ...

    def rotations(self, workspace_id: str) -> list[KeyRotation]:
        """The workspace's kept rotation notes, the newest first."""
        ...

    def get(self, workspace_id: str, tree_size: int) -> SignedCheckpoint | None: ...
    def latest(self, workspace_id: str) -> SignedCheckpoint | None: ...

    def page(self, workspace_id: str, order: str, after_size: int | None,
             limit: int) -> list[SignedCheckpoint]:
        """By tree size."""
        ...

    def count(self, workspace_id: str) -> int: ...

    def due(self, signed_by: datetime, limit: int) -> list[str]:
        """Workspaces whose tree grew past their latest checkpoint, and whose latest was
        signed at ``signed_by`` or earlier (or never: then only if it has leaves - an empty
        tree is signed when someone asks for it, not for every workspace created); those
        waiting longest first."""
        ...

    def unsigned_backlog(self) -> tuple[int, datetime | None]:
        """All workspaces: how many processed events no checkpoint covers yet, and the
        earliest ``UnsignedLog.waiting_since`` among them."""
        ...

    def unsigned_by_workspace(self, limit: int) -> list[UnsignedLog]:
        """The ``limit`` workspaces that have waited longest for a checkpoint, that one
        first: where an operator looks when signing stops (a stored tree changed behind
        the service's back is never signed over)."""
        ...


@dataclass(frozen=True)
class Cosignature:
    """One witness's cosignature on one of the log's checkpoints: its signature line."""

    witness_id: str
    tree_size: int
    line: str


class LogWitnessRepository(Protocol):
    def add(self, witness: LogWitness) -> None: ...
    def get(self, workspace_id: str, witness_id: str) -> LogWitness | None: ...

    def lock(self, witness_id: str) -> LogWitness | None:
        """The witness, its row locked until the transaction ends: one submission at a
        time."""
        ...

    def update(self, witness: LogWitness) -> None: ...

    def delete(self, workspace_id: str, witness_id: str) -> bool:
        """The witness and the cosignatures it gave; whether it existed."""
        ...

    def page(self, workspace_id: str, order: str, after: Position | None,
             limit: int) -> list[LogWitness]: ...

    def count(self, workspace_id: str) -> int: ...

    def due(self, now: datetime, limit: int) -> list[str]:
        """Witnesses, of any workspace, that have not cosigned their log's latest
        checkpoint, are not waiting out a backoff, and are not being submitted to."""
        ...

    def keep(self, workspace_id: str, cosignature: Cosignature) -> None:
        """Store it, unless that witness's cosignature of that size is stored already."""
        ...

    def prune(self, workspace_id: str) -> int:
        """Drop the cosignatures of sizes below the newest one every witness of the
        workspace cosigned: nothing served reads them (a cosigned checkpoint is the newest
        with enough cosignatures), and a busy log would keep one a witness every few
        seconds for ever. How many went."""
        ...

    def statuses(self) -> dict[str, int]:
        """Every workspace's witnesses, counted by status (those with none left out)."""
        ...

    def troubled(self, limit: int) -> list[LogWitness]:
        """Witnesses of any workspace that refuse to cosign, then those failing (the
        longest first): where an operator looks."""
        ...

    def cosigned(self, workspace_id: str, witnesses: int) -> tuple[int, list[str]] | None:
        """The largest tree size that at least ``witnesses`` of the workspace's witnesses
        cosigned, and their signature lines (in the order the witnesses were added);
        None when no size has that many."""
        ...


class ViewerLinkRepository(Protocol):
    def add(self, link: ViewerLink) -> None: ...
    def get(self, workspace_id: str, link_id: str) -> ViewerLink | None: ...
    def update(self, link: ViewerLink) -> None:
        """Its revocation: the only thing about a link that changes."""
        ...

    def page(self, workspace_id: str, order: str, after: Position | None,
             limit: int) -> list[ViewerLink]: ...

    def count(self, workspace_id: str) -> int: ...
