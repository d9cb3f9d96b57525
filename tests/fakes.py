"""In-memory fakes of the application ports, for unit tests of use cases."""

from __future__ import annotations

import collections
import copy
import csv
import hashlib
import hmac
import io
import itertools
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from application.ports.rate_limits import VersionedDecision
from application.ports.repositories.alerts import AlertFilters, RuleBacklog
from application.ports.repositories.chains import RetainedChain
from application.ports.repositories.events import IdempotencyKeyTaken, WorkspaceBacklog
from application.ports.repositories.streams import StreamProgress
from application.ports.repositories.transparency import Cosignature, UnsignedLog
from domain.action_patterns import ActionPatterns
from domain.alert_evaluation import WindowState
from domain.alert_rules import AlertRule
from domain.alerts import PENDING as ALERT_PENDING
from domain.alerts import Alert
from domain.api_keys import ApiKey
from domain.chain_checks import ChainCheck
from domain.checkpoints import KeyRotation, SignedCheckpoint
from domain.cursor import Position
from domain.deliveries import PENDING as DELIVERY_PENDING
from domain.deliveries import Delivery
from domain.errors import FieldError
from domain.event_search import EventFilters, SearchEntries, search_entries, search_terms
from domain.event_stats import EventStats, Group, grouped_value, metadata_group
from domain.events import PENDING, PROCESSED, Event
from domain.export_rows import CSV_COLUMNS, csv_row, ndjson_line
from domain.exports import ACTIVE, Export, WrittenRows
from domain.hash_chain import ChainHead
from domain.idempotency import IdempotencyRecord
from domain.json_rules import compared_value
from domain.log_witnesses import LogWitness
from domain.metadata_schemas import SchemaIndex
from domain.rate_limit import Decision
from domain.streams import ACTIVE as STREAM_ACTIVE
from domain.streams import PAUSED, Stream
from domain.timestamps import CLOCK_SKEW, from_micros
from domain.viewer_links import ViewerLink
from domain.workspaces import Workspace


class FakeClock:
    def __init__(self, start: datetime = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


class SequentialIds:
    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def new(self, prefix: str) -> str:
        return f"{prefix}_{next(self._counter):026d}"


class FakeSecrets:
    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def new_api_key(self) -> str:
        return f"ak_{next(self._counter):040d}"


class FakeJobQueue:
    def __init__(self) -> None:
        self.enqueued: list[str] = []
        self.requested: list[str] = []
        self.claimed: list[str] = []
        self.exports: list[str] = []
        self.chain_checks: list[str] = []
        self.deliveries: list[tuple[str, bool]] = []
        self.scheduled: list[tuple[str, datetime]] = []
        self.delivery_claims: list[str] = []
        self.listening: int | None = None

    def enqueue_processing(self, workspace_ids: Iterable[str], *, force: bool = False) -> None:
        self.enqueued.extend(workspace_ids)
        self.forced = force

    def request_processing(self, workspace_ids: Iterable[str]) -> None:
        self.requested.extend(workspace_ids)

    def enqueue_export(self, export_id: str) -> None:
        self.exports.append(export_id)

    def enqueue_chain_checks(self, workspace_ids: Iterable[str]) -> None:
        self.chain_checks.extend(workspace_ids)

    def enqueue_deliveries(self, stream_ids: Iterable[str], *, force: bool = False) -> None:
        self.deliveries.extend((stream_id, force) for stream_id in stream_ids)

    def schedule_delivery(self, stream_id: str, at: datetime) -> None:
        self.scheduled.append((stream_id, at))

    def claim_delivery(self, stream_id: str) -> None:
        self.delivery_claims.append(stream_id)

    def depth(self) -> int:
        return 0

    def claim(self, workspace_id: str) -> None:
        self.claimed.append(workspace_id)

    def ping(self) -> bool:
        return True

    def workers(self) -> int | None:
        return self.listening

    def eviction(self) -> str | None:
        return None


class SharedLimiter:
    """A rate-limit store shared by several "processes", with a credentials version, like
    the Redis one; ``down`` makes it fail open as that one does."""

    def __init__(self, limiter: Any) -> None:
        self._limiter = limiter
        self._versions = itertools.count(1)
        self.version = "v0"
        self.down = False
        self.spent = 0
        self.failed_open = 0

    def hit(self, key: str, limit: int) -> Any:
        self.spent += 1
        return self._limiter.hit(key, limit)

    def peek(self, key: str, limit: int) -> Any:
        return self._limiter.peek(key, limit)

    def hit_if_current(self, key: str, limit: int, version: str | None) -> VersionedDecision:
        if self.down:
            self.failed_open += 1
            return VersionedDecision(Decision(True, limit, limit, 0.0, 0.0, 0.0), None)
        if version is not None and version != self.version:
            return VersionedDecision(None, self.version)
        return VersionedDecision(self.hit(key, limit), self.version)

    def announce(self) -> None:
        self.version = f"v{next(self._versions)}"


class FakeCredentialChanges:
    def __init__(self) -> None:
        self.announced = 0

    def announce(self) -> None:
        self.announced += 1


class FakeMetadataRules:
    """Schemas as lists of required keys (``{"required": ["amount"]}``): enough for the use
    cases' part - which events are held to what, said how; what JSON Schema means is the
    jsonschema adapter's, tested against the library (tests/integration)."""

    def schema_problems(self, schemas: Mapping[str, Any]) -> list[FieldError]:
        return [FieldError(f"metadata_schemas.{pattern}", "Not a schema.")
                for pattern, schema in schemas.items() if not isinstance(schema, dict)]

    def violations(self, schemas: str, action: str,
                   metadata: Mapping[str, Any]) -> list[FieldError]:
        parsed = json.loads(schemas)
        pattern = SchemaIndex(parsed).pattern_for(action)
        required = parsed[pattern].get("required", []) if pattern else []
        return [FieldError("metadata", f"'{key}' is a required property")
                for key in required if key not in metadata]


class FakeGeo:
    def __init__(self, table: dict[str, dict[str, Any]] | None = None) -> None:
        self.table = table or {}
        self.lookups: list[str] = []

    def locate(self, ip_address: str) -> dict[str, Any] | None:
        self.lookups.append(ip_address)
        return self.table.get(ip_address)


class _Store:
    """The committed state shared by every unit of work of one test."""

    def __init__(self) -> None:
        self.workspaces: dict[str, Workspace] = {}
        self.api_keys: dict[str, ApiKey] = {}
        self.events: dict[str, Event] = {}
        self.search_tampered: dict[str, SearchEntries] = {}
        self.stray_terms: dict[str, int] = {}
        self.heads: dict[str, ChainHead] = {}
        self.idempotency: dict[tuple[str, str], IdempotencyRecord] = {}
        self.exports: dict[str, Export] = {}
        self.anchors: dict[str, ChainHead] = {}
        self.streams: dict[str, Stream] = {}
        self.deliveries: dict[str, Delivery] = {}
        self.alert_rules: dict[str, AlertRule] = {}
        self.alerts: dict[str, Alert] = {}
        self.alert_windows: dict[tuple[str, str], tuple[str, WindowState]] = {}
        self.tiles: dict[tuple[str, int, int], bytes] = {}
        self.checkpoints: dict[tuple[str, int], SignedCheckpoint] = {}
        self.rotations: dict[tuple[str, str], KeyRotation] = {}
        self.anchor_notes: dict[str, str | None] = {}
        self.viewer_links: dict[str, ViewerLink] = {}
        self.log_witnesses: dict[str, LogWitness] = {}
        self.cosignatures: dict[tuple[str, str, int], str] = {}
        self.chain_checks: dict[str, ChainCheck] = {}


class _WorkspaceRepo:
    def __init__(self, state: _Store) -> None:
        self._s = state

    def add(self, workspace: Workspace) -> None:
        self._s.workspaces[workspace.id] = workspace

    def get(self, workspace_id: str) -> Workspace | None:
        return self._s.workspaces.get(workspace_id)

    def update(self, workspace: Workspace) -> None:
        self._s.workspaces[workspace.id] = workspace

    def list(self) -> list[Workspace]:
        return sorted(self._s.workspaces.values(), key=lambda w: (w.created_at, w.id))

    def retention_periods(self) -> dict[str, int]:
        return {w.id: w.effective_retention_days for w in self._s.workspaces.values()
                if w.effective_retention_days is not None and not w.legal_hold}

    def erase_some(self, workspace_id: str, limit: int) -> int:
        for name in _TABLES[1:] + _TABLES[:1]:  # the workspace itself last
            table = getattr(self._s, name)
            doomed = [key for key, value in table.items()
                      if _belongs(key, value, workspace_id)][:limit]
            for key in doomed:
                del table[key]
            if doomed:
                return len(doomed)
        return 0


def _belongs(key: Any, value: Any, workspace_id: str) -> bool:
    """Whether a stored row is the workspace's, whichever way the store keys it."""
    if key == workspace_id or (isinstance(key, tuple) and key[0] == workspace_id):
        return True  # the workspace, its chain head, idempotency keys, tiles, checkpoints
    if getattr(value, "workspace_id", None) == workspace_id:
        return True
    return isinstance(value, tuple) and value[:1] == (workspace_id,)  # an alert window


class _ApiKeyRepo:
    def __init__(self, state: _Store) -> None:
        self._s = state

    def add(self, key: ApiKey) -> None:
        self._s.api_keys[key.id] = key

    def get(self, workspace_id: str, key_id: str) -> ApiKey | None:
        key = self._s.api_keys.get(key_id)
        return key if key and key.workspace_id == workspace_id else None

    def find_by_hash(self, secret_hash: str) -> tuple[ApiKey, Workspace] | None:
        key = next((k for k in self._s.api_keys.values() if k.secret_hash == secret_hash),
                   None)
        return (key, self._s.workspaces[key.workspace_id]) if key else None

    def update(self, key: ApiKey) -> None:
        self._s.api_keys[key.id] = key

    def page(self, workspace_id: str, order: str, after: Position | None,
             limit: int) -> list[ApiKey]:
        keys = sorted((k for k in self._s.api_keys.values() if k.workspace_id == workspace_id
                       and not k.id.startswith("vwl_")),
                      key=lambda k: (k.created_at, k.id), reverse=order == "desc")
        if after is not None:
            mark = (after.at, after.id)
            keys = [k for k in keys if ((k.created_at, k.id) > mark) == (order == "asc")
                    and (k.created_at, k.id) != mark]
        return keys[:limit]

    def count(self, workspace_id: str) -> int:
        return sum(k.workspace_id == workspace_id and not k.id.startswith("vwl_")
                   for k in self._s.api_keys.values())

    def stamp_usage(self, key_id: str, now: datetime, not_since: datetime) -> None:
        key = self._s.api_keys[key_id]
        if key.last_used_at is None or key.last_used_at < not_since:
            self._s.api_keys[key_id] = replace(key, last_used_at=now)

    def revoke_all(self, workspace_id: str, now: datetime) -> int:
        live = [key for key in self._s.api_keys.values()
                if key.workspace_id == workspace_id and key.revoked_at is None]
        for key in live:
            self._s.api_keys[key.id] = key.revoked(now)
        return len(live)


class _EventRepo:
    def __init__(self, state: _Store) -> None:
        self._s = state
        self.inserts = 0

    def add_many(self, events: Sequence[Event]) -> None:
        self.inserts += 1
        for event in events:
            self._s.events[event.id] = event

    def get(self, workspace_id: str, event_id: str) -> Event | None:
        event = self._s.events.get(event_id)
        return event if event and event.workspace_id == workspace_id else None

    def get_many(self, workspace_id: str, event_ids: Sequence[str]) -> list[Event]:
        return [event for event_id in set(event_ids)
                if (event := self.get(workspace_id, event_id)) is not None]

    def pending_chunk(self, workspace_id: str, limit: int) -> list[Event]:
        pending = [e for e in self._s.events.values()
                   if e.workspace_id == workspace_id and e.status == PENDING]
        return sorted(pending, key=lambda e: (e.received_at, e.id))[:limit]

    def mark_processed(self, events: Sequence[Event]) -> None:
        for event in events:
            assert self._s.events[event.id].status == PENDING
            assert event.status == PROCESSED
            self._s.events[event.id] = event

    def iter_chain(self, workspace_id: str, from_sequence: int, to_sequence: int | None,
                   chunk_size: int) -> Iterator[Event]:
        chain = sorted((e for e in self._s.events.values()
                        if e.workspace_id == workspace_id and e.sequence is not None
                        and e.status == PROCESSED and e.sequence >= from_sequence
                        and (to_sequence is None or e.sequence <= to_sequence)),
                       key=lambda e: e.sequence)
        return iter(chain)

    def verifiable_chain(self, workspace_id: str, from_sequence: int,
                         to_sequence: int | None, chunk_size: int,
                         ) -> Iterator[Iterable[tuple[Event, SearchEntries | None]]]:
        """Entries as derived when stored, unless a test tampered with them
        (``search_tampered``); each chunk iterable once, as the port allows."""
        chain = list(self.iter_chain(workspace_id, from_sequence, to_sequence, chunk_size))
        for start in range(0, len(chain), chunk_size):
            yield iter([(event, self._s.search_tampered.get(event.id) or search_entries(event))
                        for event in chain[start:start + chunk_size]])

    def filed_terms(self, workspace_id: str) -> tuple[int, int]:
        """The terms of the workspace's events, plus any a test planted (``stray_terms``)."""
        mine = [e for e in self._s.events.values() if e.workspace_id == workspace_id]
        pending = sum(len(search_terms(e)) for e in mine if e.status == PENDING)
        filed = sum(len(search_terms(e)) for e in mine) + self._s.stray_terms.get(workspace_id, 0)
        return filed, pending

    def oldest_links(self, workspace_id: str, after_sequence: int,
                     limit: int) -> list[tuple[datetime, ChainHead]]:
        return [(event.occurred_at, ChainHead(event.linked.sequence, event.linked.hash))
                for event in list(self.iter_chain(workspace_id, after_sequence + 1, None,
                                                  limit))[:limit]]

    def oldest_retained(self) -> dict[str, datetime]:
        found: dict[str, datetime] = {}
        for workspace_id, anchor in {**dict.fromkeys(self._s.heads, ChainHead()),
                                     **self._s.anchors}.items():
            first = self.oldest_links(workspace_id, anchor.sequence, 1)
            if first:
                found[workspace_id] = first[0][0]
        return found

    def delete_linked(self, workspace_id: str, up_to_sequence: int) -> int:
        doomed = [e.id for e in self._s.events.values() if e.workspace_id == workspace_id
                  and e.sequence is not None and e.sequence <= up_to_sequence]
        for event_id in doomed:
            del self._s.events[event_id]
        return len(doomed)

    def pending_backlog(self) -> tuple[int, datetime | None]:
        pending = [e.received_at for e in self._s.events.values() if e.status == PENDING]
        return len(pending), min(pending, default=None)

    def backlog_by_workspace(self, limit: int) -> list[WorkspaceBacklog]:
        waiting: dict[str, list[datetime]] = {}
        for event in self._s.events.values():
            if event.status == PENDING:
                waiting.setdefault(event.workspace_id, []).append(event.received_at)
        backlog = [WorkspaceBacklog(workspace_id, len(times), min(times))
                   for workspace_id, times in waiting.items()]
        return sorted(backlog, key=lambda b: (b.oldest_received_at, b.workspace_id))[:limit]

    def workspaces_with_pending(self, received_before: datetime) -> list[str]:
        return sorted({e.workspace_id for e in self._s.events.values()
                       if e.status == PENDING and e.received_at < received_before})

    def _matching(self, workspace_id: str, filters: EventFilters) -> list[Event]:
        def matches(event: Event) -> bool:
            plain = {"action": event.action, "actor_id": event.actor["id"],
                     "actor_type": event.actor["type"], "ip_address": event.ip_address,
                     "country_code": (event.geo or {}).get("country_code"),
                     "status": event.status}
            return (event.workspace_id == workspace_id
                    and all(getattr(filters, k) in (None, v) for k, v in plain.items())
                    and set(filters.terms()) <= set(search_terms(event))
                    and (filters.since is None or event.occurred_at >= filters.since)
                    and (filters.until is None or event.occurred_at < filters.until))
        return [event for event in self._s.events.values() if matches(event)]

    def search(self, workspace_id: str, filters: EventFilters, order: str,
               after: Position | None, limit: int) -> list[Event]:
        found = sorted(self._matching(workspace_id, filters),
                       key=lambda e: (e.occurred_at, e.id), reverse=order == "desc")
        if after is not None:
            key = (after.at, after.id)
            found = [e for e in found if ((e.occurred_at, e.id) > key) == (order == "asc")
                     and (e.occurred_at, e.id) != key]
        return found[:limit]

    def count(self, workspace_id: str, filters: EventFilters) -> int:
        return len(self._matching(workspace_id, filters))

    def stats(self, workspace_id: str, filters: EventFilters, group_by: str,
              limit: int) -> EventStats:
        found = self._matching(workspace_id, filters)
        # keyed as JSON compares values: true apart from 1, 1 and 1.0 alike
        counts = collections.Counter(compared_value(_grouped(event, group_by))
                                     for event in found)
        if group_by == "day":
            ordered = sorted(counts.items(), reverse=True)
        else:  # most first, then by value (metadata's as JSON text), none last
            ordered = sorted(counts.items(), key=lambda item: (
                -item[1], item[0][1] is None, json.dumps(item[0][1])))
        return EventStats(group_by, len(found),
                          tuple(Group(value, count) for (_, value), count in ordered[:limit]))

    def write_export(self, workspace_id: str, filters: EventFilters, format_: str,
                     sink: Any, on_progress: Any) -> WrittenRows:
        found = sorted((e for e in self._matching(workspace_id, filters)
                        if e.status == PROCESSED), key=lambda e: e.sequence)
        if format_ == "csv":
            text = io.StringIO(newline="")
            writer = csv.writer(text)
            writer.writerow(CSV_COLUMNS)
            writer.writerows(csv_row(event) for event in found)
            sink.write(text.getvalue().encode())
        else:
            sink.write(b"".join(ndjson_line(event) for event in found))
        if not found:
            return WrittenRows(0)
        return WrittenRows(len(found), found[0].sequence, found[-1].sequence)

    def count_narrow(self, workspace_id: str, filters: EventFilters,
                     after_sequence: int | None = None) -> int:
        return sum(after_sequence is None or (e.sequence or 0) > after_sequence
                   for e in self._matching(workspace_id, filters))

    def positions(self, workspace_id: str, filters: EventFilters, after_sequence: int,
                  up_to_sequence: int, limit: int) -> list[tuple[str, int]]:
        found = sorted((e.sequence, e.id) for e in self._matching(workspace_id, filters)
                       if e.status == PROCESSED and after_sequence < e.sequence <= up_to_sequence)  # type: ignore[operator]
        return [(event_id, sequence) for sequence, event_id in found[:limit]]  # type: ignore[misc]

    def by_ids(self, workspace_id: str, event_ids: Sequence[str]) -> list[Event]:
        found = [self._s.events[i] for i in event_ids if i in self._s.events
                 and self._s.events[i].workspace_id == workspace_id]
        return sorted(found, key=lambda e: e.sequence or 0)

    def linked_batch(self, workspace_id: str, after_sequence: int, up_to_sequence: int,
                     actions: ActionPatterns, limit: int) -> list[Event]:
        return list(itertools.islice((
            e for e in self.iter_chain(workspace_id, after_sequence + 1, up_to_sequence, 0)
            if actions.matches(e.action)), limit))


def _grouped(event: Event, group_by: str) -> Any:
    """The value ``stats`` counts ``event`` under, as the database reads its columns."""
    key = metadata_group(group_by)
    if key is not None:
        return grouped_value(event.metadata, key)
    if group_by == "day":
        return event.occurred_at.strftime("%Y-%m-%d")
    entries = search_entries(event)
    return {"action": event.action, "actor_id": entries.actor_id,
            "actor_type": entries.actor_type, "ip_address": entries.ip_address,
            "country_code": entries.country_code, "status": event.status}[group_by]


class _ChainRepo:
    def __init__(self, state: _Store) -> None:
        self._s = state

    def create(self, workspace_id: str) -> None:
        self._s.heads[workspace_id] = ChainHead()

    def lock(self, workspace_id: str) -> ChainHead:
        return self._s.heads.get(workspace_id, ChainHead())

    def retained(self, workspace_id: str) -> RetainedChain:
        return RetainedChain(self.anchor(workspace_id), self.lock(workspace_id),
                             self._s.anchor_notes.get(workspace_id))

    def save(self, workspace_id: str, head: ChainHead) -> None:
        self._s.heads[workspace_id] = head

    def anchor(self, workspace_id: str) -> ChainHead:
        return self._s.anchors.get(workspace_id, ChainHead())

    def linked_counts(self) -> dict[str, int]:
        return {workspace_id: head.sequence - self.anchor(workspace_id).sequence
                for workspace_id, head in self._s.heads.items()}

    def save_anchor(self, workspace_id: str, anchor: ChainHead,
                    note: str | None = None) -> None:
        self._s.anchors[workspace_id] = anchor
        self._s.anchor_notes[workspace_id] = note

    def adopt_anchor(self, workspace_id: str, anchor: ChainHead, note: str) -> bool:
        if self.anchor(workspace_id) != anchor or self._s.anchor_notes.get(workspace_id):
            return False
        self._s.anchor_notes[workspace_id] = note
        return True

    def signed_anchors(self, after: str | None, limit: int) -> list[tuple[str, str]]:
        return sorted((w, note) for w, note in self._s.anchor_notes.items()
                      if note is not None and (after is None or w > after))[:limit]

    def countersign_anchor(self, workspace_id: str, before: str, note: str) -> bool:
        if self._s.anchor_notes.get(workspace_id) != before:
            return False
        self._s.anchor_notes[workspace_id] = note
        return True


class _ChainCheckRepo:
    def __init__(self, state: _Store) -> None:
        self._s = state

    def claim_due(self, now: datetime, checked_before: datetime, until: datetime,
                  limit: int) -> list[str]:
        for workspace_id in self._s.heads:
            self._s.chain_checks.setdefault(workspace_id, ChainCheck(workspace_id))
        every = now - checked_before
        due = sorted((c for c in self._s.chain_checks.values() if c.due(now, every)),
                     key=lambda c: (c.checked_at is not None, c.checked_at or now,
                                    c.workspace_id))[:limit]
        for check in due:
            self._s.chain_checks[check.workspace_id] = check.claimed(until)
        return [check.workspace_id for check in due]

    def claimed(self, now: datetime) -> int:
        return sum(1 for c in self._s.chain_checks.values() if c.checking(now))

    def start(self, workspace_id: str, until: datetime) -> ChainCheck | None:
        if workspace_id not in self._s.workspaces:
            return None
        check = self._s.chain_checks.setdefault(workspace_id, ChainCheck(workspace_id))
        if not check.deleting:
            check = self._s.chain_checks[workspace_id] = check.claimed(until)
        return check

    def lock(self, workspace_id: str) -> ChainCheck | None:
        return self._s.chain_checks.get(workspace_id)

    def get(self, workspace_id: str) -> ChainCheck | None:
        return self._s.chain_checks.get(workspace_id)

    def save(self, check: ChainCheck) -> None:
        if check.workspace_id in self._s.chain_checks:
            self._s.chain_checks[check.workspace_id] = check

    def retire(self, workspace_id: str) -> None:
        before = self._s.chain_checks.get(workspace_id, ChainCheck(workspace_id))
        self._s.chain_checks[workspace_id] = replace(before, deleting=True)

    def invalid(self, limit: int) -> list[ChainCheck]:
        return sorted((c for c in self._s.chain_checks.values()
                       if c.invalid and not c.deleting),
                      key=lambda c: (c.invalid_since, c.workspace_id))[:limit]

    def summary(self, checked_before: datetime | None,
                now: datetime) -> tuple[int, int | None]:
        checks = self._s.chain_checks
        if checked_before is None:
            return len(self.invalid(len(checks))), None
        due = sum(1 for w in self._s.heads
                  if w not in checks or checks[w].unchecked_since(checked_before, now))
        return len(self.invalid(len(checks))), due


class _IdempotencyRepo:
    def __init__(self, state: _Store) -> None:
        self._s = state

    def get(self, workspace_id: str, key: str) -> IdempotencyRecord | None:
        return self._s.idempotency.get((workspace_id, key))

    def add(self, record: IdempotencyRecord, expired_by: datetime) -> None:
        existing = self._s.idempotency.get((record.workspace_id, record.key))
        if existing and existing.created_at > expired_by:
            raise IdempotencyKeyTaken(record.key)
        self._s.idempotency[(record.workspace_id, record.key)] = record

    def purge(self, expired_by: datetime, limit: int) -> int:
        doomed = [k for k, r in self._s.idempotency.items() if r.created_at <= expired_by]
        for key in doomed[:limit]:
            del self._s.idempotency[key]
        return len(doomed[:limit])


class _ExportRepo:
    def __init__(self, state: _Store) -> None:
        self._s = state

    def add(self, export: Export) -> None:
        self._s.exports[export.id] = export

    def get(self, workspace_id: str, export_id: str,
            viewer_link_id: str | None = None) -> Export | None:
        export = self._s.exports.get(export_id)
        return export if export and self._mine(export, workspace_id, viewer_link_id) else None

    def find(self, export_id: str) -> Export | None:
        return self._s.exports.get(export_id)

    lock = find

    def update(self, export: Export) -> None:
        self._s.exports[export.id] = export

    def page(self, workspace_id: str, order: str, after: Position | None, limit: int,
             viewer_link_id: str | None = None) -> list[Export]:
        found = sorted((e for e in self._s.exports.values()
                        if self._mine(e, workspace_id, viewer_link_id)),
                       key=lambda e: (e.created_at, e.id), reverse=order == "desc")
        return found[:limit]

    def count(self, workspace_id: str, viewer_link_id: str | None = None) -> int:
        return sum(self._mine(e, workspace_id, viewer_link_id)
                   for e in self._s.exports.values())

    def count_active(self, workspace_id: str, viewer_link_id: str | None = None) -> int:
        return sum(self._mine(e, workspace_id, viewer_link_id) and e.status in ACTIVE
                   for e in self._s.exports.values())

    @staticmethod
    def _mine(export: Export, workspace_id: str, viewer_link_id: str | None) -> bool:
        return export.workspace_id == workspace_id and (
            viewer_link_id is None or export.viewer_link_id == viewer_link_id)

    def queued_backlog(self) -> tuple[int, datetime | None]:
        queued = [e.created_at for e in self._s.exports.values() if e.status == "queued"]
        return len(queued), min(queued, default=None)

    def needing_upkeep(self, expire_by: datetime, silent_since: datetime,
                       queued_before: datetime, limit: int) -> list[Export]:
        return [e for e in self._s.exports.values()
                if (e.status == "completed" and e.expires_at <= expire_by)
                or (e.status == "running" and e.heartbeat_at <= silent_since)
                or (e.status == "queued" and e.created_at <= queued_before)][:limit]


class _StreamRepo:
    def __init__(self, state: _Store) -> None:
        self._s = state

    def add(self, stream: Stream) -> None:
        self._s.streams[stream.id] = stream

    def get(self, workspace_id: str, stream_id: str) -> Stream | None:
        stream = self._s.streams.get(stream_id)
        return stream if stream and stream.workspace_id == workspace_id else None

    def lock(self, stream_id: str) -> Stream | None:
        return self._s.streams.get(stream_id)

    def update(self, stream: Stream) -> None:
        self._s.streams[stream.id] = stream

    def delete(self, workspace_id: str, stream_id: str) -> bool:
        if self.get(workspace_id, stream_id) is None:
            return False
        del self._s.streams[stream_id]
        self._s.deliveries = {k: d for k, d in self._s.deliveries.items()
                              if d.stream_id != stream_id}
        return True

    def page(self, workspace_id: str, order: str, after: Position | None,
             limit: int) -> list[Stream]:
        found = sorted((s for s in self._s.streams.values() if s.workspace_id == workspace_id),
                       key=lambda s: (s.created_at, s.id), reverse=order == "desc")
        return found[:limit]

    def count(self, workspace_id: str) -> int:
        return sum(s.workspace_id == workspace_id for s in self._s.streams.values())

    def active_ids(self, workspace_id: str) -> list[str]:
        return [s.id for s in self._s.streams.values()
                if s.workspace_id == workspace_id and s.status == STREAM_ACTIVE]

    def needing_delivery(self, now: datetime, limit: int) -> list[str]:
        def owes(stream: Stream) -> bool:
            head = self._s.heads.get(stream.workspace_id, ChainHead()).sequence
            return stream.position < head or any(
                d.stream_id == stream.id and d.status == DELIVERY_PENDING
                for d in self._s.deliveries.values())
        return sorted(s.id for s in self._s.streams.values()
                      if s.status != PAUSED and not s.sending.is_leased(now)
                      and s.sending.is_due(now) and owes(s))[:limit]

    def progress(self) -> list[StreamProgress]:
        found = []
        for stream in sorted(self._s.streams.values(), key=lambda s: s.id):
            head = self._s.heads.get(stream.workspace_id, ChainHead()).sequence
            pending = _DeliveryRepo(self._s).pending(stream.id)
            first = pending.first_sequence if pending else stream.position + 1
            if head < first and stream.status == "active":  # caught up
                continue
            event = next((e for e in self._s.events.values()
                          if e.workspace_id == stream.workspace_id and e.sequence == first),
                         None)
            found.append(StreamProgress(stream.id, stream.workspace_id, stream.type,
                                        stream.status, max(0, head - first + 1),  # type: ignore[operator]
                                        event.received_at if event else None))
        return found


class _DeliveryRepo:
    def __init__(self, state: _Store) -> None:
        self._s = state

    def add(self, delivery: Delivery) -> None:
        self._s.deliveries[delivery.id] = delivery

    def update(self, delivery: Delivery) -> None:
        if delivery.id in self._s.deliveries:
            self._s.deliveries[delivery.id] = delivery

    def pending(self, stream_id: str) -> Delivery | None:
        return min((d for d in self._s.deliveries.values()
                    if d.stream_id == stream_id and d.status == DELIVERY_PENDING),
                   key=lambda d: (d.created_at, d.id), default=None)

    def page(self, workspace_id: str, stream_id: str, order: str, after: Position | None,
             limit: int) -> list[Delivery]:
        found = sorted((d for d in self._s.deliveries.values()
                        if (d.workspace_id, d.stream_id) == (workspace_id, stream_id)),
                       key=lambda d: (d.created_at, d.id), reverse=order == "desc")
        return found[:limit]

    def count(self, workspace_id: str, stream_id: str) -> int:
        return len(self.page(workspace_id, stream_id, "asc", None, 10**9))

    def held_from(self, workspace_id: str) -> int | None:
        return min((d.first_sequence for d in self._s.deliveries.values()
                    if d.workspace_id == workspace_id and d.status == DELIVERY_PENDING),
                   default=None)  # type: ignore[type-var]

    def purge(self, finished_before: datetime, limit: int) -> int:
        doomed = [k for k, d in self._s.deliveries.items()
                  if d.created_at < finished_before and d.status != DELIVERY_PENDING][:limit]
        for key in doomed:
            del self._s.deliveries[key]
        return len(doomed)


class _AlertRuleRepo:
    def __init__(self, state: _Store) -> None:
        self._s = state

    def add(self, rule: AlertRule) -> None:
        self._s.alert_rules[rule.id] = rule

    def get(self, workspace_id: str, rule_id: str) -> AlertRule | None:
        rule = self._s.alert_rules.get(rule_id)
        return rule if rule and rule.workspace_id == workspace_id else None

    def lock(self, rule_id: str) -> AlertRule | None:
        return self._s.alert_rules.get(rule_id)

    def update(self, rule: AlertRule) -> None:
        self._s.alert_rules[rule.id] = rule

    def delete(self, workspace_id: str, rule_id: str) -> bool:
        return self._s.alert_rules.pop(rule_id, None) is not None

    def page(self, workspace_id: str, order: str, after: Position | None,
             limit: int) -> list[AlertRule]:
        found = sorted((r for r in self._s.alert_rules.values()
                        if r.workspace_id == workspace_id),
                       key=lambda r: (r.created_at, r.id), reverse=order == "desc")
        return found[:limit]

    def count(self, workspace_id: str) -> int:
        return len(self.page(workspace_id, "asc", None, 10**9))

    def enabled(self, workspace_id: str) -> list[AlertRule]:
        return [r for r in self.page(workspace_id, "asc", None, 10**9) if r.enabled]

    def enabled_versions(self, workspace_id: str) -> list[tuple[str, datetime]]:
        return [(r.id, r.updated_at) for r in self.page(workspace_id, "asc", None, 10**9)
                if r.enabled]

    def needing_delivery(self, now: datetime, limit: int) -> list[str]:
        pending = {a.rule_id for a in self._s.alerts.values() if a.status == ALERT_PENDING}
        return sorted(r.id for r in self._s.alert_rules.values()
                      if r.id in pending and not r.sending.is_leased(now)
                      and r.sending.is_due(now))[:limit]


class _AlertRepo:
    def __init__(self, state: _Store) -> None:
        self._s = state

    def add_many(self, alerts: Sequence[Alert]) -> None:
        for alert in alerts:
            self._s.alerts[alert.id] = alert

    def get(self, workspace_id: str, alert_id: str) -> Alert | None:
        alert = self._s.alerts.get(alert_id)
        return alert if alert and alert.workspace_id == workspace_id else None

    def update_notifications(self, alerts: Sequence[Alert]) -> None:
        for alert in alerts:
            self._s.alerts[alert.id] = alert

    def pending(self, rule_id: str, limit: int) -> list[Alert]:
        return sorted((a for a in self._s.alerts.values()
                       if a.rule_id == rule_id and a.status == ALERT_PENDING),
                      key=lambda a: a.trigger_sequence)[:limit]

    def _matching(self, workspace_id: str, filters: AlertFilters) -> list[Alert]:
        return [a for a in self._s.alerts.values() if a.workspace_id == workspace_id
                and filters.rule_id in (None, a.rule_id)
                and filters.group_key in (None, a.group_key)
                and (filters.since is None or a.triggered_at >= filters.since)
                and (filters.until is None or a.triggered_at < filters.until)
                and filters.notification_status in (None, a.status)]

    def page(self, workspace_id: str, filters: AlertFilters, order: str,
             after: Position | None, limit: int) -> list[Alert]:
        found = sorted(self._matching(workspace_id, filters),
                       key=lambda a: (a.triggered_at, a.id), reverse=order == "desc")
        if after is not None:
            key = (after.at, after.id)
            found = [a for a in found if ((a.triggered_at, a.id) > key) == (order == "asc")
                     and (a.triggered_at, a.id) != key]
        return found[:limit]

    def count(self, workspace_id: str, filters: AlertFilters) -> int:
        return len(self._matching(workspace_id, filters))

    def held_from(self, workspace_id: str) -> int | None:
        return min((a.first_sequence for a in self._s.alerts.values()
                    if a.workspace_id == workspace_id and a.status == ALERT_PENDING),
                   default=None)

    def cancel_pending(self, workspace_id: str, rule_id: str, now: datetime) -> int:
        doomed = [a for a in self._s.alerts.values() if a.workspace_id == workspace_id
                  and a.rule_id == rule_id and a.status == ALERT_PENDING]
        for alert in doomed:
            self._s.alerts[alert.id] = replace(alert, status="cancelled",
                                               last_error="The alert rule was deleted.")
        return len(doomed)

    def delete_through(self, workspace_id: str, sequence: int) -> int:
        doomed = [a.id for a in self._s.alerts.values() if a.workspace_id == workspace_id
                  and a.trigger_sequence <= sequence and a.status != ALERT_PENDING]
        for alert_id in doomed:
            del self._s.alerts[alert_id]
        return len(doomed)

    def pending_count(self) -> int:
        return sum(a.status == ALERT_PENDING for a in self._s.alerts.values())

    def rules_behind(self, limit: int) -> list[RuleBacklog]:
        waiting: dict[str, list[Alert]] = collections.defaultdict(list)
        for alert in self._s.alerts.values():
            if alert.status == ALERT_PENDING:
                waiting[alert.rule_id].append(alert)
        behind = [RuleBacklog(rule_id, alerts[0].workspace_id,
                              rule_id in self._s.alert_rules
                              and self._s.alert_rules[rule_id].sending.failing,
                              len(alerts), min(a.triggered_at for a in alerts))
                  for rule_id, alerts in waiting.items()]
        return sorted(behind, key=lambda b: (b.oldest_triggered_at, b.rule_id))[:limit]


class _AlertWindowRepo:
    def __init__(self, state: _Store) -> None:
        self._s = state
        self.loads = 0

    def load(self, workspace_id: str, keys: Iterable[tuple[str, str]]
             ) -> dict[tuple[str, str], WindowState]:
        self.loads += 1
        return {key: self._s.alert_windows[key][1] for key in keys
                if key in self._s.alert_windows
                and self._s.alert_windows[key][0] == workspace_id}

    def save(self, workspace_id: str, states: Any, now: datetime) -> None:
        for key, state in states.items():
            self._s.alert_windows[key] = (workspace_id, state)

    def forget_rule(self, rule_id: str) -> None:
        self._s.alert_windows = {k: v for k, v in self._s.alert_windows.items()
                                 if k[0] != rule_id}

    def purge(self, horizon_before: datetime, limit: int) -> int:
        doomed = [k for k, (_, state) in self._s.alert_windows.items()
                  if state.horizon is not None
                  and from_micros(state.horizon) < horizon_before][:limit]
        for key in doomed:
            del self._s.alert_windows[key]
        return len(doomed)


class _TreeRepo:
    def __init__(self, state: _Store) -> None:
        self._s = state

    def tiles(self, workspace_id: str, keys: Iterable[tuple[int, int]]
              ) -> dict[tuple[int, int], bytes]:
        return {key: self._s.tiles[(workspace_id, *key)] for key in keys
                if (workspace_id, *key) in self._s.tiles}

    def save(self, workspace_id: str, tiles: Any) -> None:
        for (level, index), data in tiles.items():
            self._s.tiles[(workspace_id, level, index)] = data


class _CheckpointRepo:
    def __init__(self, state: _Store) -> None:
        self._s = state

    def add(self, checkpoint: SignedCheckpoint) -> SignedCheckpoint:
        key = (checkpoint.workspace_id, checkpoint.tree_size)
        return self._s.checkpoints.setdefault(key, checkpoint)

    def countersign(self, notes: Sequence[tuple[SignedCheckpoint, str]]) -> int:
        replaced = 0
        for checkpoint, note in notes:
            key = (checkpoint.workspace_id, checkpoint.tree_size)
            if self._s.checkpoints[key].note == checkpoint.note:
                self._s.checkpoints[key] = replace(checkpoint, note=note)
                replaced += 1
        return replaced

    def most_recent(self) -> SignedCheckpoint | None:
        return max(self._s.checkpoints.values(), key=lambda c: c.created_at, default=None)

    def every(self, after: SignedCheckpoint | None, limit: int) -> list[SignedCheckpoint]:
        start = None if after is None else (after.workspace_id, after.tree_size)
        return [self._s.checkpoints[key] for key in sorted(self._s.checkpoints)
                if start is None or key > start][:limit]

    def keep_rotations(self, rotations: Sequence[KeyRotation]) -> int:
        new = [r for r in rotations if (r.workspace_id, r.key_id) not in self._s.rotations]
        self._s.rotations.update({(r.workspace_id, r.key_id): r for r in new})
        return len(new)

    def rotations(self, workspace_id: str) -> list[KeyRotation]:
        return sorted((r for (w, _), r in self._s.rotations.items() if w == workspace_id),
                      key=lambda r: r.created_at, reverse=True)

    def get(self, workspace_id: str, tree_size: int) -> SignedCheckpoint | None:
        return self._s.checkpoints.get((workspace_id, tree_size))

    def _of(self, workspace_id: str) -> list[SignedCheckpoint]:
        return sorted((c for (w, _), c in self._s.checkpoints.items() if w == workspace_id),
                      key=lambda c: c.tree_size)

    def latest(self, workspace_id: str) -> SignedCheckpoint | None:
        found = self._of(workspace_id)
        return found[-1] if found else None

    def page(self, workspace_id: str, order: str, after_size: int | None,
             limit: int) -> list[SignedCheckpoint]:
        found = self._of(workspace_id)
        if order == "desc":
            found = found[::-1]
        if after_size is not None:
            found = [c for c in found
                     if (c.tree_size > after_size) == (order == "asc")
                     and c.tree_size != after_size]
        return found[:limit]

    def count(self, workspace_id: str) -> int:
        return len(self._of(workspace_id))

    def due(self, signed_by: datetime, now: datetime, limit: int) -> list[str]:
        due = []
        for workspace_id, head in self._s.heads.items():
            latest = self.latest(workspace_id)
            if (latest is None and head.sequence > 0) or (
                    latest is not None and head.sequence > latest.tree_size
                    and not latest.signed_within(now - signed_by, now)):
                due.append((latest.created_at if latest else datetime.min.replace(tzinfo=UTC),
                            workspace_id))
        return [workspace_id for _, workspace_id in sorted(due)[:limit]]

    def unsigned_backlog(self, now: datetime) -> tuple[int, datetime | None]:
        logs = self._unsigned(now)
        since = [log.waiting_since for log in logs if log.waiting_since is not None]
        return sum(log.unsigned_events for log in logs), min(since, default=None)

    def unsigned_by_workspace(self, now: datetime, limit: int) -> list[UnsignedLog]:
        return sorted(self._unsigned(now), key=lambda log: (
            log.waiting_since is None, log.waiting_since or datetime.min.replace(tzinfo=UTC),
            log.workspace_id))[:limit]

    def _unsigned(self, now: datetime) -> list[UnsignedLog]:
        logs = []
        for workspace_id, head in self._s.heads.items():
            latest = self.latest(workspace_id)
            signed = latest.tree_size if latest else 0
            if head.sequence <= signed:
                continue
            first = next((e.received_at for e in self._s.events.values()
                          if e.workspace_id == workspace_id and e.sequence == signed + 1),
                         None)
            signed_at = latest.created_at if latest and latest.created_at <= now + CLOCK_SKEW \
                else None
            known = [t for t in (signed_at, first) if t is not None]
            logs.append(UnsignedLog(workspace_id, head.sequence - signed,
                                    max(known, default=None)))
        return logs


class FakeBlobStore:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    @contextmanager
    def writer(self, key: str) -> Iterator[io.BytesIO]:
        buffer = io.BytesIO()
        yield buffer
        self.blobs[key] = buffer.getvalue()

    def open(self, key: str) -> io.BytesIO:
        if key not in self.blobs:
            raise FileNotFoundError(key)
        return io.BytesIO(self.blobs[key])

    def delete(self, key: str) -> None:
        self.blobs.pop(key, None)

    def sweep_partials(self, older_than_seconds: float) -> int:
        return 0


class _ViewerLinkRepo:
    def __init__(self, state: _Store) -> None:
        self._s = state

    def add(self, link: ViewerLink) -> None:
        self._s.viewer_links[link.id] = link

    def get(self, workspace_id: str, link_id: str) -> ViewerLink | None:
        link = self._s.viewer_links.get(link_id)
        return link if link is not None and link.workspace_id == workspace_id else None

    def update(self, link: ViewerLink) -> None:
        self._s.viewer_links[link.id] = link

    def page(self, workspace_id: str, order: str, after: Position | None,
             limit: int) -> list[ViewerLink]:
        links = sorted((k for k in self._s.viewer_links.values()
                        if k.workspace_id == workspace_id),
                       key=lambda k: (k.created_at, k.id), reverse=order == "desc")
        if after is not None:
            mark = (after.at, after.id)
            links = [k for k in links if ((k.created_at, k.id) > mark) == (order == "asc")
                     and (k.created_at, k.id) != mark]
        return links[:limit]

    def count(self, workspace_id: str) -> int:
        return sum(link.workspace_id == workspace_id for link in self._s.viewer_links.values())


class _LogWitnessRepo:
    def __init__(self, state: _Store) -> None:
        self._s = state

    def add(self, witness: LogWitness) -> None:
        self._s.log_witnesses[witness.id] = witness

    def get(self, workspace_id: str, witness_id: str) -> LogWitness | None:
        witness = self._s.log_witnesses.get(witness_id)
        return witness if witness is not None and witness.workspace_id == workspace_id \
            else None

    def lock(self, witness_id: str) -> LogWitness | None:
        return self._s.log_witnesses.get(witness_id)

    def update(self, witness: LogWitness) -> None:
        self._s.log_witnesses[witness.id] = witness

    def delete(self, workspace_id: str, witness_id: str) -> bool:
        if self.get(workspace_id, witness_id) is None:
            return False
        del self._s.log_witnesses[witness_id]
        self._s.cosignatures = {key: line for key, line in self._s.cosignatures.items()
                                if key[1] != witness_id}
        return True

    def page(self, workspace_id: str, order: str, after: Position | None,
             limit: int) -> list[LogWitness]:
        found = sorted((w for w in self._s.log_witnesses.values()
                        if w.workspace_id == workspace_id),
                       key=lambda w: (w.created_at, w.id), reverse=order == "desc")
        if after is not None:
            mark = (after.at, after.id)
            found = [w for w in found if ((w.created_at, w.id) > mark) == (order == "asc")
                     and (w.created_at, w.id) != mark]
        return found[:limit]

    def count(self, workspace_id: str) -> int:
        return sum(w.workspace_id == workspace_id for w in self._s.log_witnesses.values())

    def due(self, now: datetime, limit: int) -> list[str]:
        latest: dict[str, int] = {}
        for workspace_id, size in self._s.checkpoints:
            latest[workspace_id] = max(size, latest.get(workspace_id, 0))
        return sorted(w.id for w in self._s.log_witnesses.values()
                      if w.workspace_id in latest and not w.sending.is_leased(now)
                      and w.sending.is_due(now) and w.needs(latest[w.workspace_id]))[:limit]

    def keep(self, workspace_id: str, cosignature: Cosignature) -> None:
        self._s.cosignatures.setdefault(
            (workspace_id, cosignature.witness_id, cosignature.tree_size), cosignature.line)

    def statuses(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for witness in self._s.log_witnesses.values():
            counts[witness.status] = counts.get(witness.status, 0) + 1
        return counts

    def prune(self, workspace_id: str) -> int:
        count = self.count(workspace_id)
        found = self.cosigned(workspace_id, count) if count else None
        if found is None:
            return 0
        doomed = [key for key in self._s.cosignatures
                  if key[0] == workspace_id and key[2] < found[0]]
        for key in doomed:
            del self._s.cosignatures[key]
        return len(doomed)

    def troubled(self, limit: int) -> list[LogWitness]:
        found = [w for w in self._s.log_witnesses.values()
                 if w.refused or w.sending.failing_since is not None]
        found.sort(key=lambda w: (not w.refused, w.sending.failing_since or w.created_at,
                                  w.id))
        return found[:limit]

    def furthest_behind(self, now: datetime, limit: int) -> list[tuple[LogWitness, datetime]]:
        signed: dict[str, dict[int, datetime]] = {}
        for (workspace_id, size), checkpoint in self._s.checkpoints.items():
            signed.setdefault(workspace_id, {})[size] = checkpoint.created_at
        owed = []
        for witness in self._s.log_witnesses.values():
            sizes = signed.get(witness.workspace_id, {})
            if sizes and witness.behind(max(sizes)):
                first = min(size for size in sizes if size > (witness.cosigned_size or 0))
                owed.append((witness, witness.owes_since(sizes[first], now)))
        return sorted(owed, key=lambda found: (found[1], found[0].id))[:limit]

    def cosigned(self, workspace_id: str, witnesses: int) -> tuple[int, list[str]] | None:
        by_size: dict[int, list[tuple[str, str]]] = {}
        for (owner, witness_id, size), line in self._s.cosignatures.items():
            if owner == workspace_id:
                by_size.setdefault(size, []).append((witness_id, line))
        sizes = [size for size, lines in by_size.items() if len(lines) >= witnesses]
        if not sizes:
            return None
        order = {w.id: (w.created_at, w.id) for w in self._s.log_witnesses.values()}
        size = max(sizes)
        return size, [line for _, line in sorted(by_size[size],
                                                 key=lambda found: order[found[0]])]


_TABLES = ("workspaces", "api_keys", "events", "heads", "idempotency", "exports", "anchors",
           "streams", "deliveries", "alert_rules", "alerts", "alert_windows", "tiles",
           "checkpoints", "anchor_notes", "viewer_links", "rotations", "log_witnesses",
           "cosignatures", "chain_checks")


class InMemoryUnitOfWork:
    """Works on a copy of the committed state; ``commit`` publishes it, exit drops it."""

    def __init__(self, store: _Store) -> None:
        self._store = store
        self.commits = 0
        self.time_limits: list[float | None] = []

    def __call__(self, read_only: bool = False, snapshot: bool = False,
                 single_write: bool = False,
                 time_limit: float | None = None) -> InMemoryUnitOfWork:
        self.time_limits.append(time_limit)
        return self

    def tamper_search_entries(self, event_id: str, entries: SearchEntries) -> None:
        """As someone holding the database could, behind the service's back."""
        self._store.search_tampered[event_id] = entries

    def tamper_leaf(self, workspace_id: str, index: int, leaf: bytes) -> None:
        """Rewrite a leaf hash in the stored tree, as someone holding the database could."""
        key = (workspace_id, 0, index // 256)
        data, offset = self._store.tiles[key], index % 256 * 32
        self._store.tiles[key] = data[:offset] + leaf + data[offset + 32:]

    def leaf(self, workspace_id: str, index: int) -> bytes:
        """A leaf hash as the stored tree holds it."""
        data, offset = self._store.tiles[(workspace_id, 0, index // 256)], index % 256 * 32
        return data[offset:offset + 32]

    def drop_tiles(self, workspace_id: str) -> None:
        """Remove the stored tree, as someone holding the database could."""
        self._store.tiles = {key: data for key, data in self._store.tiles.items()
                             if key[0] != workspace_id}

    def plant_terms(self, workspace_id: str, count: int) -> None:
        """Term rows for events the workspace does not have."""
        self._store.stray_terms[workspace_id] = count

    def __enter__(self) -> InMemoryUnitOfWork:
        self._working = copy.copy(self._store)
        for name in _TABLES:
            setattr(self._working, name, dict(getattr(self._store, name)))
        self.workspaces = _WorkspaceRepo(self._working)
        self.api_keys = _ApiKeyRepo(self._working)
        self.events = _EventRepo(self._working)
        self.chains = _ChainRepo(self._working)
        self.chain_checks = _ChainCheckRepo(self._working)
        self.idempotency = _IdempotencyRepo(self._working)
        self.exports = _ExportRepo(self._working)
        self.streams = _StreamRepo(self._working)
        self.deliveries = _DeliveryRepo(self._working)
        self.alert_rules = _AlertRuleRepo(self._working)
        self.alerts = _AlertRepo(self._working)
        self.alert_windows = _AlertWindowRepo(self._working)
        self.tree = _TreeRepo(self._working)
        self.checkpoints = _CheckpointRepo(self._working)
        self.viewer_links = _ViewerLinkRepo(self._working)
        self.log_witnesses = _LogWitnessRepo(self._working)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._working = None  # type: ignore[assignment]

    def commit(self) -> None:
        for name in _TABLES:
            setattr(self._store, name, dict(getattr(self._working, name)))
        self.commits += 1


def in_memory_uow() -> InMemoryUnitOfWork:
    return InMemoryUnitOfWork(_Store())


class FakeSigner:
    """Stands in for the Ed25519 key in unit tests: an HMAC the fake checker recomputes."""

    def __init__(self, secret: bytes = b"fake signing key") -> None:
        self._secret = secret

    def public_key(self) -> bytes:
        return hashlib.sha256(b"public:" + self._secret).digest()

    def sign(self, message: bytes) -> bytes:
        return hmac.new(self._secret, message, hashlib.sha512).digest()


class FakeSignatureChecker:
    """Knows the fake keys it is given (a rotated log's current and previous keys)."""

    def __init__(self, *signers: FakeSigner) -> None:
        self._signers = {signer.public_key(): signer for signer in signers}

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        signer = self._signers.get(public_key)
        return signer is not None and hmac.compare_digest(signature, signer.sign(message))
