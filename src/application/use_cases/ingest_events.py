"""Accept events: validate all, store all as pending in one insert, then ask for processing,
answering with a signed receipt when the sender wants one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from application.errors import Conflict
from application.log_keys import LogKeys
from application.ports.jobs import JobQueue
from application.ports.metadata_rules import MetadataRules
from application.ports.metrics import NO_METRICS, Metrics
from application.ports.repositories.events import IdempotencyKeyTaken
from application.ports.system import Clock, IdGenerator
from application.ports.unit_of_work import UnitOfWorkFactory
from domain.accepted_actions import AcceptedActions
from domain.errors import FieldError, ValidationFailed
from domain.events import Event, new_event
from domain.idempotency import KEY_LIFETIME, IdempotencyRecord, fingerprint
from domain.receipts import ReceiptEntry, accepted_digest, receipt_text
from domain.workspaces import Workspace


@dataclass(frozen=True)
class Accepted:
    """The ids the request was given; ``replayed`` when they come from an earlier request."""

    event_ids: tuple[str, ...]
    replayed: bool = False
    receipt: str | None = None
    """The signed receipt (``domain.receipts``) when one was asked for."""


class IngestEvents:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, ids: IdGenerator,
                 queue: JobQueue, keys: LogKeys, rules: MetadataRules,
                 metrics: Metrics = NO_METRICS) -> None:
        self._uow_factory = uow_factory
        self._rules = rules
        self._keys = keys
        self._clock = clock
        self._ids = ids
        self._queue = queue
        self._metrics = metrics

    def execute(self, workspace_id: str, bodies: list[dict[str, Any]], *,
                batch: bool = False, idempotency_key: str | None = None,
                receipt: bool = False, rules: Workspace | None = None) -> Accepted:
        """All-or-nothing: one invalid event rejects the request and nothing is stored,
        and so does one whose action the workspace does not list or whose metadata fails
        its action's schema (``rules``: the workspace as the caller holds it, with its
        ``accepted_actions`` and ``metadata_schemas``; None: neither).

        The events are durable when this returns; the job is only a wake-up call, so a queue
        outage delays processing (upkeep re-queues) but never loses an accepted event.
        A ``receipt`` is signed once the events are stored: it promises only what is.
        """
        operation = "events.batch" if batch else "events"
        request = fingerprint(operation, bodies) if idempotency_key else ""
        if idempotency_key:
            earlier = self._earlier(workspace_id, idempotency_key, request)
            if earlier:
                return self._with_receipt(workspace_id, earlier) if receipt else earlier
        events = self._build(workspace_id, bodies, batch=batch, rules=rules)
        try:
            self._store(workspace_id, events, idempotency_key, request)
        except IdempotencyKeyTaken:
            # A concurrent retry won the race; answer as it did (its events, not ours).
            earlier = self._earlier(workspace_id, idempotency_key or "", request)
            if earlier is None:
                raise
            return self._with_receipt(workspace_id, earlier) if receipt else earlier
        self._metrics.events_accepted(len(events))
        self._queue.request_processing([workspace_id])
        return Accepted(tuple(event.id for event in events),
                        receipt=self._receipt(workspace_id, events) if receipt else None)

    def check(self, workspace_id: str, bodies: list[dict[str, Any]], *,
              rules: Workspace | None = None) -> int:
        """How many of ``bodies`` ``execute`` would accept as a batch, or
        ``ValidationFailed`` as it would say it; nothing is stored. An integrator holds
        the events its code sends to the workspace's rules before deploying it, as one
        accepted could never be taken back."""
        return len(self._build(workspace_id, bodies, batch=True, rules=rules))

    def _receipt(self, workspace_id: str, events: list[Event]) -> str:
        entries = [ReceiptEntry(event.id, accepted_digest(event.core())) for event in events]
        text = receipt_text(self._keys.origin(workspace_id), events[0].received_at, entries)
        note = self._keys.sign_text(workspace_id, text)
        self._metrics.events_receipted(len(entries))
        return note

    def _with_receipt(self, workspace_id: str, earlier: Accepted) -> Accepted:
        """A retry's receipt, signed over the events as stored: the sender never saw the
        first answer, and an event already processed gives the same digest. When some are
        gone (the workspace's data erased meanwhile) no receipt is signed: it would
        promise events the log no longer holds."""
        with self._uow_factory(read_only=True) as uow:
            stored = {event.id: event
                      for event in uow.events.get_many(workspace_id, earlier.event_ids)}
        if len(stored) != len(earlier.event_ids):
            return earlier
        events = [stored[event_id] for event_id in earlier.event_ids]
        return Accepted(earlier.event_ids, replayed=True,
                        receipt=self._receipt(workspace_id, events))

    def _earlier(self, workspace_id: str, key: str, request: str) -> Accepted | None:
        with self._uow_factory(read_only=True) as uow:
            record = uow.idempotency.get(workspace_id, key)
        if record is None or not record.is_live(self._clock.now()):
            return None
        if not record.replays(request):
            raise Conflict("This Idempotency-Key was already used with a different request "
                           "in the last 24 hours.")
        return Accepted(record.event_ids, replayed=True)

    def _store(self, workspace_id: str, events: list[Event], key: str | None,
               request: str) -> None:
        now = self._clock.now()
        with self._uow_factory(single_write=not key) as uow:
            if key:
                # First, so that a losing concurrent retry fails before writing any event.
                uow.idempotency.add(
                    IdempotencyRecord(workspace_id, key, request,
                                      tuple(event.id for event in events), now),
                    expired_by=now - KEY_LIFETIME)
            uow.events.add_many(events)
            uow.commit()

    def _build(self, workspace_id: str, bodies: list[dict[str, Any]], *,
               batch: bool, rules: Workspace | None) -> list[Event]:
        received_at = self._clock.now()
        accepts = None if rules is None else rules.accepts
        schemas = None if rules is None else rules.metadata_schemas
        events: list[Event] = []
        found: list[list[FieldError]] = []
        for body in bodies:
            try:
                event = new_event(body, event_id=self._ids.new("evt"),
                                  workspace_id=workspace_id, received_at=received_at)
            except ValidationFailed as failure:
                found.append(list(failure.errors))
            else:
                events.append(event)
                found.append([] if schemas is None else
                             self._rules.violations(schemas, event.action, event.metadata))
        if accepts is not None:
            _refuse_actions(accepts, bodies, found)
        errors = [error.prefixed(f"events[{index}]") if batch else error
                  for index, said in enumerate(found) for error in said]
        if errors:
            raise ValidationFailed(errors)
        return events


def _refuse_actions(accepts: AcceptedActions, bodies: list[Any],
                    found: list[list[FieldError]]) -> None:
    """Add to each event's errors its action's refusal when the workspace does not list
    it: beside the body's other errors, so that one round trip fixes all, unless the
    action is itself malformed (said once, as such)."""
    actions = {index: body["action"] for index, body in enumerate(bodies)
               if isinstance(body, dict) and isinstance(body.get("action"), str)
               and not any(error.field == "action" for error in found[index])}
    refused = accepts.refusals(actions.values())
    for index, action in actions.items():
        if action in refused:
            found[index].append(FieldError("action", refused[action]))
