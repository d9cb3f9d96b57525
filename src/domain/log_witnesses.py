"""The witnesses a workspace's log submits its checkpoints to, and what each answered.

A monitor's witness remembers what that monitor was shown. A witness the log itself submits
to remembers what the log signed, checkpoint after checkpoint, and hands back a cosignature
for each one that extends the last: readers who run no monitor of their own (a viewer, a
client checking a proof) can then demand a checkpoint cosigned by witnesses they trust,
and a log that shows them another history than the witnesses saw gets no cosignature.

The log never tells a witness anything it did not sign, so a witness configured here can
be the auditor's own: the log's operator cannot make it cosign a rewritten history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from domain.cosignatures import parse_cosigner_key
from domain.destinations import checked_url
from domain.errors import FieldError, ValidationFailed
from domain.sending import Sending
from domain.signed_notes import InvalidNote, VerifierKey
from domain.timestamps import CLOCK_SKEW

MAX_WITNESSES_PER_WORKSPACE = 10
"""Each new checkpoint is one request a witness: a bound keeps that, and what a cosigned
checkpoint carries, small."""

PENDING = "pending"
OK = "ok"
FAILING = "failing"
REFUSED = "refused"
STATUSES = (PENDING, OK, FAILING, REFUSED)

_FIELDS = frozenset({"url", "verifier_key"})


@dataclass(frozen=True)
class LogWitness:
    id: str
    workspace_id: str
    url: str
    verifier_key: str
    """The witness's cosigner key (signed-note text, type 0x04): what its cosignatures
    are checked with, here and by every reader."""
    created_at: datetime
    held_size: int | None = None
    """The size of the latest checkpoint of this log the witness holds, as far as the log
    knows: what the next submission proves consistency from."""
    cosigned_size: int | None = None
    cosigned_at: datetime | None = None
    refused: bool = False
    """Its last answer was a refusal to cosign (the log's checkpoint does not extend the one
    it holds): a split view, or a rewritten log, until a later checkpoint is cosigned."""
    sending: Sending = field(default_factory=Sending)

    @property
    def key(self) -> VerifierKey:
        return parse_cosigner_key(self.verifier_key)

    @property
    def name(self) -> str:
        return self.key.name

    @property
    def status(self) -> str:
        if self.refused:
            return REFUSED
        if self.sending.failing:
            return FAILING
        return OK if self.cosigned_size is not None else PENDING

    def with_sending(self, sending: Sending) -> LogWitness:
        return replace(self, sending=sending)

    def needs(self, tree_size: int) -> bool:
        """Whether the log's checkpoint of ``tree_size`` is still to be submitted."""
        return self.held_size is None or self.held_size < tree_size or \
            (self.held_size == tree_size and self.cosigned_size != tree_size)

    def behind(self, log_size: int) -> bool:
        """Whether the witness has yet to cosign the log's latest checkpoint, of
        ``log_size`` (an empty log's it owes nothing)."""
        return (self.cosigned_size or 0) < log_size

    def owes_since(self, signed_at: datetime | None, now: datetime) -> datetime:
        """Since when the witness, ``behind`` its log, has owed it a cosignature: since the
        log signed the first checkpoint it has not cosigned (``signed_at``), but not before
        it was added, since it owes nothing of an older log's past. A checkpoint dated
        further ahead than the clocks can differ, or none, counts from the witness's last
        cosignature: believed, it would hide the wait."""
        if signed_at is None or signed_at > now + CLOCK_SKEW:
            signed_at = self.cosigned_at or self.created_at
        return max(signed_at, self.created_at)

    def cosigned(self, tree_size: int, now: datetime) -> LogWitness:
        return replace(self, held_size=tree_size, cosigned_size=tree_size, cosigned_at=now,
                       refused=False, sending=self.sending.succeeded(now))

    def holds(self, tree_size: int) -> LogWitness:
        """The witness said it holds ``tree_size`` (its 409): the next proof starts there."""
        return replace(self, held_size=tree_size)

    def failed(self, now: datetime, error: str, jitter: float, *,
               refused: bool = False) -> LogWitness:
        """A refusal stands until a cosignature: a witness that refused, then could not be
        reached, still holds a history the log does not extend."""
        return replace(self, refused=self.refused or refused,
                       sending=self.sending.failed(now, error, jitter))


def witness_settings(body: Mapping[str, Any], allow_private: bool) -> dict[str, str]:
    """The ``url`` and ``verifier_key`` of a witness to add, checked; every problem at
    once, each naming its field."""
    errors = [FieldError(name, "Unknown field.") for name in sorted(set(body) - _FIELDS)]
    found: dict[str, str] = {}
    try:
        found["url"] = checked_url(body.get("url"), "url", allow_private)
        if urlsplit(found["url"]).query:
            errors.append(FieldError("url", "Must not have a ?query: it is the witness's "
                                     "base URL, checkpoints go to <url>/add-checkpoint."))
    except ValidationFailed as exc:
        errors.extend(exc.errors)
    key = body.get("verifier_key")
    if not isinstance(key, str):
        errors.append(FieldError("verifier_key", "Required: the witness's cosigner key "
                                 "(<name>+<key id>+<base64 key>), as `auditrail witness "
                                 "verifier-key` prints it."))
    else:
        try:
            parse_cosigner_key(key)
            found["verifier_key"] = key.strip()
        except InvalidNote as exc:
            errors.append(FieldError("verifier_key", f"Not a witness's cosigner key: {exc}."))
    if errors:
        raise ValidationFailed(errors)
    return found
