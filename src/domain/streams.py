"""Log streams: where a workspace's processed events are sent, and how far they got.

A stream does not copy events into an outbox. Processed events never change and join
their chain in sequence order, so "what this stream still owes" is every linked event after
its ``position`` (the last sequence handed to a delivery), and the processing step writes
nothing per stream: a crash can neither lose a delivery (the events are committed before
anyone looks) nor invent one (uncommitted events are seen by no one).

This module decides everything about a stream's state from an injected clock: when it may
send next, when a run of failures makes it ``failing``, how it recovers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from domain.action_patterns import ActionPatterns, action_patterns, checked_patterns
from domain.destinations import checked_url
from domain.errors import DomainError, FieldError, ValidationFailed
from domain.names import checked_name
from domain.sending import ACTIVE, FAILING, Sending

WEBHOOK = "webhook"
SPLUNK_HEC = "splunk_hec"
DATADOG = "datadog"
S3 = "s3"
TYPES = (WEBHOOK, SPLUNK_HEC, DATADOG, S3)
CREDENTIAL_FIELDS = {WEBHOOK: "secret", SPLUNK_HEC: "token", DATADOG: "api_key",
                     S3: "secret_access_key"}
"""The write-only field of each type's ``config``: shown once, then as a masked hint."""
OPTION_FIELDS: dict[str, tuple[str, ...]] = {S3: ("region", "access_key_id")}
"""The other fields a type's ``config`` requires: settings, not secrets, shown as set."""
OPTIONAL_FIELDS: dict[str, tuple[str, ...]] = {S3: ("compression",)}
"""Settings a type's ``config`` may add, shown as set (absent: the default)."""
COMPRESSIONS = ("gzip", "none")
"""An S3 stream's objects: gzip-compressed (``.ndjson.gz``, a tenth of the bytes or less,
for years of archive), or plain NDJSON, the default."""
_REGION = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
_ACCESS_KEY_ID = re.compile(r"^[A-Za-z0-9+/=._-]{3,128}$")

PAUSED = "paused"
STATUSES = (ACTIVE, PAUSED, FAILING)
SETTABLE_STATUSES = (ACTIVE, PAUSED)
"""Only the system sets ``failing``."""

MAX_BATCH = 500
"""Events in one delivery at most (contract §8)."""
MAX_BATCH_BYTES = 768 * 1024
"""Bytes of event JSON in one delivery at most: 500 events of up to 32 KiB each would make
16 MB, which a receiver behind nginx's default limit (1 MB), or Datadog's intake (5 MB, with
each event escaped into a string), refuses - and a retry sends the same bytes, so a batch
refused for its size would be refused for ever and the stream stall."""
MAX_BATCH_SECONDS = 900
"""How long a stream may let a batch wait for more events: an archive writing an object a
minute rather than a second, never an event held a quarter of an hour."""
MAX_STREAMS_PER_WORKSPACE = 20
"""Every active stream is woken after each processed chunk of its workspace; a bound keeps
that cost, and the workers one tenant can keep busy, small."""
CREDENTIAL_MIN_LENGTH = 16
CREDENTIAL_MAX_LENGTH = 512


class ReplayRefused(DomainError):
    """A replay that would skip events rather than re-deliver them, or start before what
    retention kept; names ``from_sequence``."""


def credential_hint(credential: str) -> str:
    """Enough to tell two credentials apart, never enough to use one: its last four
    characters (none of a short one)."""
    return "…" + (credential[-4:] if len(credential) >= CREDENTIAL_MIN_LENGTH else "")


def checked_credential(value: object, field: str) -> str:
    if not isinstance(value, str) or not (
            CREDENTIAL_MIN_LENGTH <= len(value) <= CREDENTIAL_MAX_LENGTH):
        raise ValidationFailed([FieldError(field, f"{CREDENTIAL_MIN_LENGTH}-"
                                                  f"{CREDENTIAL_MAX_LENGTH} characters.")])
    if not value.isascii() or not value.isprintable() or " " in value:
        raise ValidationFailed([FieldError(field, "Visible ASCII characters only (it is "
                                                  "sent in an HTTP header).")])
    return value


@dataclass(frozen=True)
class Stream:
    id: str
    workspace_id: str
    name: str
    type: str
    url: str
    credential: bytes
    """Sealed by the credential vault: the database never holds it in the clear."""
    credential_hint: str
    actions: tuple[str, ...] | None
    """The filter's action patterns; None takes every action."""
    created_at: datetime
    updated_at: datetime
    status: str = ACTIVE
    position: int = 0
    """The last sequence handed to a delivery (or passed over by the filter)."""
    deliveries_made: int = 0
    """The number of the last delivery: receivers see 1, 2, 3… and can spot a gap."""
    sending: Sending = field(default_factory=Sending)
    options: Mapping[str, str] = field(default_factory=dict)
    """The type's ``OPTION_FIELDS`` (an S3 bucket's region and access key id), and the
    ``OPTIONAL_FIELDS`` set (its objects' compression)."""
    batch_seconds: int | None = None
    """How long a batch that is not full waits for more; None: the server's setting."""

    @property
    def patterns(self) -> ActionPatterns:
        return action_patterns(self.actions or ())

    @property
    def paused(self) -> bool:
        return self.status == PAUSED

    def with_sending(self, sending: Sending) -> Stream:
        """The destination's new state; ``failing`` follows it unless the stream is
        paused (a paused stream stays paused whatever its attempts come to)."""
        status = self.status if self.status == PAUSED else sending.status
        return replace(self, sending=sending, status=status)

    def handed_out(self, up_to_sequence: int) -> Stream:
        """Events up to ``up_to_sequence`` now belong to a delivery (or match no filter)."""
        return replace(self, position=max(self.position, up_to_sequence))

    def numbered(self) -> tuple[Stream, int]:
        """The next delivery's number, and the stream that counted it."""
        number = self.deliveries_made + 1
        return replace(self, deliveries_made=number), number

    def with_status(self, status: str, now: datetime) -> Stream:
        """``PATCH status``: ``paused`` stops sending and keeps the backlog; ``active``
        resumes - a failing stream is retried at once (its failure count is kept, so a
        retry that fails again makes it ``failing`` again straight away)."""
        if status not in SETTABLE_STATUSES:
            raise ValidationFailed([FieldError("status", "Must be active or paused (only "
                                                         "the system sets failing).")])
        if status == PAUSED:
            return replace(self, status=PAUSED, updated_at=now)
        if self.status == ACTIVE and self.sending.next_attempt_at is None:
            return self
        return replace(self, status=ACTIVE, sending=self.sending.retry_now(), updated_at=now)

    def replayed(self, from_sequence: int, retained_from: int) -> Stream:
        """Deliver again every matching event from ``from_sequence`` on (after a SIEM
        outage). Only backwards: moving forward would skip events nobody received."""
        if from_sequence > self.position + 1:
            raise ReplayRefused(f"The stream has handed out events up to sequence "
                                f"{self.position}; replay re-delivers from {self.position + 1} "
                                f"or earlier, it never skips events.")
        if from_sequence < retained_from:
            raise ReplayRefused(f"Events before sequence {retained_from} were removed by "
                                f"retention; replay from {retained_from} or later.")
        return replace(self, position=from_sequence - 1)

    def edited(self, changes: Mapping[str, Any], now: datetime) -> Stream:
        """Name, URL, credential, options and filter, already checked by the caller; the
        options given replace those of the same name."""
        if "options" in changes:
            changes = {**changes, "options": {**self.options, **changes["options"]}}
        return replace(self, updated_at=now, **changes)


def stream_settings(body: Mapping[str, Any], *, type_: str, allow_private: bool,
                    creating: bool) -> dict[str, Any]:
    """A create or PATCH body's ``name``, ``config`` (``url`` and the type's credential),
    ``filter`` and ``status``, checked together so that every bad field is named at once.

    Returns what changes, with the credential still in the clear (under ``credential``):
    the caller seals it. ``filter: null`` clears the filter (every action again).
    """
    errors: list[FieldError] = []
    found: dict[str, Any] = {}

    def check(name: str, step: Any) -> None:
        try:
            found[name] = step()
        except ValidationFailed as failure:
            errors.extend(failure.errors)

    if "name" in body or creating:
        check("name", lambda: checked_name(body.get("name") or "", "name"))
    config = body.get("config") or {}
    credential_field = CREDENTIAL_FIELDS[type_]
    a_stream = f"{'an' if type_ == S3 else 'a'} {type_} stream"  # "an ess-three"
    optional = OPTIONAL_FIELDS.get(type_, ())
    takes = ("url", *OPTION_FIELDS.get(type_, ()), credential_field, *optional)
    errors.extend(FieldError(f"config.{key}", f"{a_stream.capitalize()} takes "
                                              f"{', '.join(takes[:-1])} and {takes[-1]}.")
                  for key in config if key not in takes)
    options: dict[str, str] = {}
    for names, required in ((OPTION_FIELDS.get(type_, ()), creating), (optional, False)):
        try:
            options.update(_options(config, names, required, a_stream))
        except ValidationFailed as failure:
            errors.extend(failure.errors)
    if options:
        found["options"] = options
    if "url" in config or creating:
        check("url", lambda: checked_url(config.get("url"), "config.url", allow_private))
    if credential_field in config:
        check("credential", lambda: checked_credential(config[credential_field],
                                                       f"config.{credential_field}"))
    elif creating and type_ != WEBHOOK:  # a webhook without one gets a generated secret
        errors.append(FieldError(f"config.{credential_field}", f"Required for {a_stream}."))
    if "filter" in body:
        stream_filter = body["filter"]
        if stream_filter is None:
            found["actions"] = None
        else:
            check("actions", lambda: checked_patterns(stream_filter.get("actions") or [],
                                                      "filter.actions"))
    if "batch_seconds" in body:
        check("batch_seconds", lambda: _batch_seconds(body["batch_seconds"]))
    if "status" in body and body["status"] not in SETTABLE_STATUSES:
        errors.append(FieldError("status", "Must be active or paused (only the system sets "
                                           "failing)."))
    if errors:
        raise ValidationFailed(errors)
    return found


def _batch_seconds(value: object) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)
                         and 0 <= value <= MAX_BATCH_SECONDS):
        return value
    raise ValidationFailed([FieldError("batch_seconds", f"Whole seconds, 0-{MAX_BATCH_SECONDS} "
                                                        f"(null: the server's setting).")])


def _options(config: Mapping[str, Any], names: tuple[str, ...], creating: bool,
             a_stream: str) -> dict[str, str]:
    """The type's options the body sets (all of them, when creating)."""
    errors, found = [], {}
    for name in names:
        if name not in config:
            if creating:
                errors.append(FieldError(f"config.{name}", f"Required for {a_stream}."))
            continue
        problem = _option_problem(name, config[name])
        if problem is None:
            found[name] = config[name]
        else:
            errors.append(FieldError(f"config.{name}", problem))
    if errors:
        raise ValidationFailed(errors)
    return found


def _option_problem(name: str, value: object) -> str | None:
    if name == "compression":
        return None if value in COMPRESSIONS else "gzip, or none (the default)."
    if name == "region":
        if isinstance(value, str) and _REGION.fullmatch(value):
            return None
        return "The bucket's region, such as eu-west-1 (auto for Cloudflare R2)."
    if isinstance(value, str) and _ACCESS_KEY_ID.fullmatch(value):
        return None
    return "3-128 letters, digits and + / = . _ - (an access key id, such as AKIA…)."
