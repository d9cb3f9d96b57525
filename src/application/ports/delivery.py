"""Sending to destinations outside: the port behind which the HTTP client, the SSRF guard,
the body formats and the signatures live."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from domain.deliveries import Attempt

DELIVERED = "delivered"
HTTP_ERROR = "http_error"
TIMEOUT = "timeout"
CONNECTION_ERROR = "connection_error"
REFUSED = "refused"
"""The destination resolved to an address the operator does not allow."""
UNREADABLE_CREDENTIAL = "unreadable_credential"
OUTCOMES = (DELIVERED, HTTP_ERROR, TIMEOUT, CONNECTION_ERROR, REFUSED, UNREADABLE_CREDENTIAL)
"""How an attempt ended, as the metrics count it."""


@dataclass(frozen=True)
class Route:
    """Where a target sends: its type (as the formats and the metrics name it), its URL,
    and the settings its type takes besides (an S3 bucket's region and access key id)."""

    type: str
    url: str
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Destination:
    type: str
    url: str
    credential: str
    """The secret, token or API key, unsealed for this attempt only."""
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Parcel:
    """What one delivery carries; the adapter shapes it for the destination's type."""

    stream_id: str
    delivery_id: str
    number: int
    """The delivery's number within its stream; 0 for a test delivery."""
    events: Sequence[dict[str, Any]]
    """§5.3 event documents, in sequence order."""
    test: bool = False
    checkpoint: str | None = None
    """The log's latest signed checkpoint, which every destination type keeps."""


@dataclass(frozen=True)
class Notification:
    """An alert rule's webhook body: one triggered alert, its rule and its events."""

    alert_id: str
    document: dict[str, Any]


Payload = Parcel | Notification


@dataclass(frozen=True)
class SendResult:
    attempt: Attempt
    outcome: str


class Deliverer(Protocol):
    def send(self, destination: Destination, payload: Payload) -> SendResult:
        """One attempt: never raises for what the destination or the network did."""
        ...

    def refusal(self, url: str) -> str | None:
        """Why ``url``'s host resolves, right now, to an address that would be refused
        (None when it does not, or cannot be resolved yet): early advice when a URL is
        saved. Each connection is checked again, whatever this said."""
        ...


class CredentialUnreadable(Exception):
    """A sealed credential that the current key cannot open (the key was changed)."""


class CredentialVault(Protocol):
    """Encrypts stream credentials at rest with a key kept outside the database, so that a
    copy of the database does not hand out a tenant's SIEM tokens."""

    def seal(self, credential: str) -> bytes: ...

    def open(self, sealed: bytes) -> str:
        """The credential; ``CredentialUnreadable`` when the key cannot open it."""
        ...

    def reseal(self, sealed: bytes) -> bytes:
        """The same credential sealed with the current key (``CredentialUnreadable`` when
        no key it knows can open it): what lets a rotated-out key be dropped."""
        ...
