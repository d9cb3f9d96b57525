"""Auditrail's Python client: a typed API, a batching emitter, local proof checks and
the signature check for receiving its webhooks.

    from auditrail_client import Auditrail

    client = Auditrail("http://127.0.0.1:8080", api_key="ak_…")
    with client.emitter() as emitter:       # batches in a background thread
        emitter.emit({"action": "user.login", "actor": {"id": "usr_42", "type": "user"}})
"""

from __future__ import annotations

__version__ = "0.1.0"

from auditrail_client.client import Auditrail, metadata_filters
from auditrail_client.emitter import Emitter, EmitterStats
from auditrail_client.errors import (
    ApiError,
    AuditrailError,
    BadRequest,
    Conflict,
    Gone,
    LogDiverged,
    MonitorAlarm,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    QueryTimeout,
    RateLimited,
    ServerError,
    TransportError,
    Unauthenticated,
    ValidationFailed,
)
from auditrail_client.export_check import (
    ArchiveVerified,
    ExportVerified,
    verify_archive,
    verify_export,
)
from auditrail_client.monitor import Monitor
from auditrail_client.proofs import ProofInvalid
from auditrail_client.receipts import Receipt, ReceiptFolder, accepted_digest, check_receipt
from auditrail_client.webhooks import WebhookInvalid, verify_webhook

__all__ = [
    "ApiError", "ArchiveVerified", "Auditrail", "AuditrailError", "BadRequest", "Conflict",
    "Emitter", "EmitterStats", "ExportVerified", "Gone", "LogDiverged", "Monitor",
    "MonitorAlarm", "NotFound", "PayloadTooLarge", "PermissionDenied", "ProofInvalid",
    "QueryTimeout", "RateLimited", "Receipt", "ReceiptFolder", "ServerError",
    "TransportError", "Unauthenticated", "ValidationFailed", "WebhookInvalid", "__version__",
    "accepted_digest", "check_receipt", "metadata_filters", "verify_archive", "verify_export",
    "verify_webhook",
]
