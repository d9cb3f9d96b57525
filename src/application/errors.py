"""Application errors: why a use case refused, mapped to HTTP codes by the entrypoints."""

from __future__ import annotations

from domain.errors import DomainError
from domain.rate_limit import Decision


class Unauthenticated(DomainError):
    """Missing, malformed, unknown, revoked or expired credentials. Never says which."""


class IpNotAllowed(DomainError):
    """The key is valid but the client address is outside the workspace's allowlist."""


class InsufficientScope(DomainError):
    """The key lacks the scope the operation needs."""

    def __init__(self, scope: str, message: str | None = None) -> None:
        self.scope = scope
        super().__init__(message or f"This API key lacks the '{scope}' scope.")


class NotFound(DomainError):
    """No such resource in the caller's workspace (another workspace's is not revealed)."""

    def __init__(self, kind: str, identifier: str, by: str = "id") -> None:
        self.kind = kind
        super().__init__(f"No {kind} with {by} '{identifier}'.")


class Conflict(DomainError):
    """The request contradicts stored state (e.g. an idempotency key reused with another body)."""


class DeletedMeanwhile(Conflict):
    """A write whose parent row (its workspace, during an offboarding) was deleted between
    the request's checks and the write: the database refused it, and nothing was stored."""

    MESSAGE = ("Something the request refers to (its workspace, a stream, an alert rule or "
               "a viewer link) was deleted while it ran; nothing was stored.")

    def __init__(self) -> None:
        super().__init__(self.MESSAGE)


class UnderLegalHold(Conflict):
    """A workspace whose events a legal hold keeps cannot be deleted until it is released."""

    def __init__(self, workspace_id: str) -> None:
        super().__init__(f"{workspace_id} is under a legal hold: its events are kept as "
                         "evidence and it cannot be deleted. Release the hold first "
                         f"(auditrail workspaces update {workspace_id} --no-legal-hold, or "
                         'its admin\'s PATCH /workspace {"legal_hold": false}).')


class RateLimited(DomainError):
    """Over the limit; nothing was done. Carries the decision for the response headers."""

    def __init__(self, decision: Decision, reason: str) -> None:
        self.decision = decision
        super().__init__(reason)


class InvalidParameter(DomainError):
    """A query parameter that means nothing here (400 ``invalid_parameter``); names it."""

    def __init__(self, parameter: str, message: str) -> None:
        self.parameter = parameter
        super().__init__(f"Invalid query parameter '{parameter}': {message}")


class NotCosigned(DomainError):
    """No checkpoint carries the witnesses' cosignatures asked for (409 ``not_cosigned``):
    the log has no (or too few) witnesses, or they have not cosigned yet - then
    ``retry_after`` seconds is worth waiting."""

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class NotCheckpointed(DomainError):
    """Not yet covered by a signed checkpoint (409 ``not_checkpointed``): one will be
    signed within ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class QueryTimedOut(DomainError):
    """A read the server stopped at its time limit (503 ``query_timeout``). Asking again
    would cost the database as much and fail alike, so the remedy is a narrower question
    (or an export, which runs in the background without a limit)."""

    def __init__(self, limit_seconds: float) -> None:
        self.limit_seconds = limit_seconds
        super().__init__(f"The query took longer than this server allows "
                         f"({limit_seconds:g} s). Narrow it with since/until or more "
                         "filters, or export the events (POST /api/v1/exports), which has "
                         "no time limit.")


class AskedTooSoon(DomainError):
    """Asked again sooner than this kind of request may be (429 ``rate_limited``, with
    ``Retry-After``); nothing was done."""

    def __init__(self, message: str, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class Busy(DomainError):
    """The deployment already runs as many jobs of this kind as it allows (503
    ``unavailable``, with ``Retry-After``); nothing was done."""

    def __init__(self, message: str, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class WritesRefused(DomainError):
    """The database takes no writes now: a failover left the address, or the pooler, on a
    standby for the moments until they follow the new primary. Unavailable for writes as
    when it is down (503 ``unavailable``, retried), not the server's own failure."""

    def __init__(self) -> None:
        super().__init__("The database takes no writes (a standby?).")

