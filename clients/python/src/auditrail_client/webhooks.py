"""Receiving Auditrail's webhooks: log-stream deliveries and alert notifications.

Both come signed, ``Auditrail-Signature: t=<unix seconds>,v1=<hex>``: HMAC-SHA256 with the
stream's or the rule's secret over ``<t>.<raw body>``. ``verify_webhook`` makes the check a
receiver owes before it trusts a byte of the request, the way it has to be made: over the
raw body (a body parsed and serialised again is other bytes), in constant time (so the
answer's timing tells a forger nothing), and refusing a timestamp far from now (so a
captured request cannot be replayed at the receiver later).

    from auditrail_client.webhooks import WebhookInvalid, verify_webhook

    try:
        delivery = verify_webhook(request.get_data(), request.headers.get(
            "Auditrail-Signature"), secret)
    except WebhookInvalid:
        abort(401)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Sequence
from typing import Any, Union

from auditrail_client.errors import AuditrailError

SIGNATURE_HEADER = "Auditrail-Signature"
DEFAULT_TOLERANCE = 300.0
"""Seconds a signature's timestamp may be from the receiver's clock, either way: every
attempt, retries included, is signed as it is sent, so this only has to cover clocks that
disagree, and is short enough that a replayed capture goes stale."""


class WebhookInvalid(AuditrailError):
    """The request is not one Auditrail signed with this secret, or not recently: answer
    it ``401`` and keep nothing of it (a genuine delivery refused is sent again)."""


Secret = Union[str, bytes]  # the client runs on Python 3.9


def verify_webhook(body: bytes, signature: str | None,
                   secret: Secret | Sequence[Secret], *,
                   tolerance: float = DEFAULT_TOLERANCE,
                   now: float | None = None) -> dict[str, Any]:
    """The delivery's JSON document, once ``signature`` (the ``Auditrail-Signature``
    header's value) proves that ``body`` (the request's raw bytes) was signed with
    ``secret`` within ``tolerance`` seconds of ``now`` (default: this clock); raises
    ``WebhookInvalid`` saying why not.

    ``secret`` may be several: while a stream's or a rule's secret is being changed,
    accept the new one and the old, so that no delivery signed with either is refused.

    A stream's delivery reads ``{"stream_id", "delivery_id", "sequence", "events",
    "checkpoint"}``, an alert notification ``{"type": "alert.triggered", "alert", "rule",
    "events", "checkpoint"}``. Either may come twice (at least once): drop a
    ``delivery_id`` (``alert.id``) already stored.
    """
    if isinstance(body, str):
        raise TypeError("verify_webhook needs the raw body as bytes, as it was received")
    timestamp, digests = _parse(signature)
    signed = f"{timestamp}.".encode("ascii") + body
    expected = [hmac.new(key, signed, hashlib.sha256).hexdigest() for key in _keys(secret)]
    if not any(hmac.compare_digest(mine, digest) for mine in expected for digest in digests):
        raise WebhookInvalid("the signature does not match: another secret signed it, or "
                             "the body was changed on the way")
    age = (time.time() if now is None else now) - timestamp
    if abs(age) > tolerance:
        when = "old" if age > 0 else "ahead of this clock"
        raise WebhookInvalid(f"the signature is {abs(age):.0f} s {when}, more than the "
                             f"{tolerance:.0f} s allowed: a replayed request, or a clock "
                             f"to set right")
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise WebhookInvalid("the signed body is not a JSON object")
    return document


def _keys(secret: Secret | Sequence[Secret]) -> list[bytes]:
    secrets = [secret] if isinstance(secret, (str, bytes)) else list(secret)
    if not secrets:
        raise ValueError("verify_webhook needs a secret")
    return [key.encode("utf-8") if isinstance(key, str) else key for key in secrets]


def _parse(signature: str | None) -> tuple[int, list[str]]:
    """The timestamp and the ``v1`` digests of ``t=…,v1=…`` (the format allows several
    ``v1``: any one matching is enough)."""
    if not signature:
        raise WebhookInvalid(f"the request carries no {SIGNATURE_HEADER} header")
    timestamps, digests = [], []
    for part in signature.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            timestamps.append(value)
        elif name == "v1" and value.isascii():  # hex; compare_digest takes ASCII only
            digests.append(value)
    stamp = timestamps[0] if len(timestamps) == 1 else ""
    if not (stamp.isascii() and stamp.isdigit()) or not digests:
        raise WebhookInvalid(f"the {SIGNATURE_HEADER} header is not t=<unix seconds>,"
                             f"v1=<hex>")
    return int(stamp), digests
