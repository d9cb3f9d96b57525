"""Typed results. Each keeps the whole JSON object as ``raw``, so a field a newer server
adds is never lost to an older client."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Generic, TypeVar

T = TypeVar("T")


M = TypeVar("M", bound="_FromJson")


class _FromJson:
    """``from_json``: the known fields by name (None when absent), and all of it as ``raw``."""

    @classmethod
    def from_json(cls: type[M], data: Mapping[str, Any]) -> M:
        names = {f.name for f in fields(cls) if f.name != "raw"}  # type: ignore[arg-type]
        return cls(**{**{name: data.get(name) for name in names}, "raw": dict(data)})


@dataclass(frozen=True)
class Event(_FromJson):
    """An event as ``GET /events/{id}`` returns it (``sequence``, ``prev_hash``, ``hash``
    and ``geo`` are None while it is pending)."""

    id: str
    workspace_id: str
    action: str
    occurred_at: str
    received_at: str
    status: str
    actor: dict[str, Any]
    targets: list[dict[str, Any]]
    context: dict[str, Any]
    metadata: dict[str, Any]
    geo: dict[str, Any] | None
    sequence: int | None
    prev_hash: str | None
    hash: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class EventStats(_FromJson):
    """``GET /events/stats``: ``groups`` as ``{"value", "count"}``, largest first (days:
    the latest first); ``other`` counts the matching events in groups not listed."""

    group_by: str
    total: int
    groups: list[dict[str, Any]]
    other: int
    raw: dict[str, Any] = field(repr=False, compare=False)

    def counts(self) -> dict[Any, int]:
        """``{value: count}`` of the listed groups, in their order (a metadata key's
        values are strings, numbers or booleans; Python holds ``True`` and ``1`` as one
        key, so where a key holds both, read ``groups``)."""
        return {group["value"]: group["count"] for group in self.groups}


@dataclass(frozen=True)
class Accepted(_FromJson):
    """What ``POST /events`` answers: the event is durably stored, not yet processed."""

    id: str
    status: str
    receipt: str | None
    """The signed receipt, when asked for (``receipt=True``)."""
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class BatchAccepted(_FromJson):
    """What ``POST /events/batch`` answers when a receipt is asked for."""

    ids: list[str]
    count: int
    receipt: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class VerifyReport(_FromJson):
    """``GET /events/verify``: ``valid``, or the first invalid sequence and why."""

    valid: bool
    checked: int
    from_sequence: int | None
    to_sequence: int | None
    head_hash: str | None
    first_invalid_sequence: int | None
    event_id: str | None
    reason: str | None
    detail: str | None
    anchor: dict[str, Any] | None
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Export(_FromJson):
    id: str
    status: str
    format: str
    gzip: bool
    filters: dict[str, Any]
    row_count: int | None
    size_bytes: int | None
    sha256: str | None
    created_at: str
    started_at: str | None
    completed_at: str | None
    expires_at: str | None
    error: str | None
    viewer_link_id: str | None
    """The viewer link it was asked for through (None for an API key's)."""
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class ApiKey(_FromJson):
    """``secret`` is set only in the answer that created the key."""

    id: str
    name: str
    prefix: str
    scopes: list[str]
    created_at: str
    expires_at: str | None
    revoked_at: str | None
    last_used_at: str | None
    secret: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Workspace(_FromJson):
    id: str
    name: str
    plan: str
    rate_limit_per_minute: int
    ip_allowlist: list[str]
    retention_days: int | None
    record_activity: bool | None
    """Whether changes to the workspace are recorded as ``auditrail.*`` events in its log
    (None from a server older than the setting)."""
    created_at: str
    legal_hold: bool | None
    """Whether a legal hold keeps every event whatever the retention (None from a server
    older than the setting)."""
    accepted_actions: list[str] | None
    """The only actions its events may have, exact or like ``billing.*``; None: any (and
    from a server older than the setting)."""
    metadata_schemas: dict[str, Any] | None
    """By action (exact or like ``billing.*``), the JSON Schema its events' metadata must
    meet; None: none (and from a server older than the setting)."""
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class ChainCheck(_FromJson):
    """The latest check of the workspace's chain (the workers check it on a schedule, or
    when asked): ``status`` ``checking`` while one is queued or running, else ``idle``;
    ``valid`` None until the first check, and with ``valid`` False where it broke
    (``reason``, ``first_invalid_sequence``, ``event_id``) and since when
    (``invalid_since``)."""

    status: str
    checked_at: str | None
    valid: bool | None
    checked: int
    reason: str | None
    detail: str | None
    first_invalid_sequence: int | None
    event_id: str | None
    invalid_since: str | None
    next_check_at: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Usage(_FromJson):
    plan: str
    rate_limit: dict[str, Any]
    events: dict[str, Any]
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Stream(_FromJson):
    """``config`` shows credentials as hints; a generated webhook ``secret`` appears
    only in the answer that created the stream."""

    id: str
    name: str
    type: str
    config: dict[str, Any]
    filter: dict[str, Any] | None
    batch_seconds: int | None
    status: str
    created_at: str
    updated_at: str
    delivery: dict[str, Any]
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Delivery(_FromJson):
    id: str
    kind: str
    sequence: int | None
    status: str
    attempts: int
    http_status: int | None
    event_count: int
    first_sequence: int | None
    last_sequence: int | None
    error: str | None
    created_at: str
    last_attempt_at: str | None
    delivered_at: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class AlertRule(_FromJson):
    id: str
    name: str
    enabled: bool
    match: dict[str, Any]
    threshold: dict[str, Any] | None
    cooldown_seconds: int
    notify: dict[str, Any]
    created_at: str
    updated_at: str
    notification: dict[str, Any]
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Alert(_FromJson):
    id: str
    rule_id: str
    group_key: str
    count: int
    event_ids: list[str]
    triggered_at: str
    notification: dict[str, Any]
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Checkpoint(_FromJson):
    """A signed checkpoint as ``GET /log/checkpoints`` lists it; ``note`` is the signed
    text (check it with ``auditrail_client.proofs.check_checkpoint``)."""

    tree_size: int
    root_hash: str
    created_at: str
    note: str
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class LogWitness(_FromJson):
    """A witness the log submits its checkpoints to (``GET /log/witnesses``); ``status``
    is ``pending``, ``ok``, ``failing`` or ``refused`` (it refused to cosign: the log's
    checkpoint does not extend the one it holds)."""

    id: str
    name: str
    url: str
    verifier_key: str
    status: str
    created_at: str
    cosigned_size: int | None
    cosigned_at: str | None
    consecutive_failures: int
    next_attempt_at: str | None
    failing_since: str | None
    last_error: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class LogKey(_FromJson):
    origin: str
    key_name: str
    key_id: str
    algorithm: str
    public_key: str
    verifier_key: str
    previous_keys: list[dict[str, Any]] | None
    """Keys this one replaced: ``{key_id, public_key, verifier_key, rotation}`` each,
    ``rotation`` the signed note that hands the log over to this key."""
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class ViewerLink(_FromJson):
    """``url`` is set only in the answer that created the link: it holds the token."""

    id: str
    filters: dict[str, Any]
    allow_export: bool
    title: str | None
    created_at: str
    expires_at: str
    revoked_at: str | None
    status: str
    """``active``, ``expired`` or ``revoked``."""
    url: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)


class Pages(Generic[T]):
    """Every item of a listing, fetched a page at a time as you iterate (lazily: a
    listing of millions costs one page of memory). ``total_count`` is known once the
    first page is read."""

    def __init__(self, fetch: Callable[[str | None], Mapping[str, Any]],
                 build: Callable[[Mapping[str, Any]], T]) -> None:
        self._fetch = fetch
        self._build = build
        self.total_count: int | None = None

    def __iter__(self) -> Iterator[T]:
        cursor: str | None = None
        while True:
            page = self._fetch(cursor)
            self.total_count = page.get("total_count", self.total_count)
            for item in page.get("data", []):
                yield self._build(item)
            cursor = page.get("next_cursor")
            if not page.get("has_more") or not cursor:
                return
