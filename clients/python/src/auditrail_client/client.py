"""``Auditrail(url, api_key)``: the contract's resources, one attribute each."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal, overload

import httpx

from auditrail_client._bundles import as_accepted, located
from auditrail_client._transport import Transport, gzipped
from auditrail_client.errors import ApiError, AuditrailError, Conflict, NotFound, error_from
from auditrail_client.models import (
    Accepted,
    Alert,
    AlertRule,
    ApiKey,
    BatchAccepted,
    ChainCheck,
    Checkpoint,
    Delivery,
    Event,
    EventStats,
    Export,
    LogKey,
    LogWitness,
    Pages,
    Stream,
    Usage,
    VerifyReport,
    ViewerLink,
    Workspace,
)
from auditrail_client.proofs import (
    ProofInvalid,
    VerifierKey,
    b64decode_all,
    bundle_path,
    check_checkpoint,
    check_cosigned,
    event_leaf_hash,
    split_bundle,
    tile_path,
    verify_consistency,
    verify_inclusion,
)
from auditrail_client.receipts import Receipt, accepted_digest, check_receipt

if TYPE_CHECKING:
    from auditrail_client.emitter import Emitter

Json = dict[str, Any]
_BUNDLED_FROM = 4
"""Receipts naming this many events or more are read by entry bundle: below, two requests
an event cost no more than the bundle's request, its proof and the first event's."""
VERIFY_TIMEOUT = 600.0
"""Seconds ``events.verify`` waits for the server's answer by default."""


class Auditrail:
    """A client for one workspace (the API key's). Thread-safe: share one per process.

    ``timeout`` is per request (default 30 s, 5 s to connect); ``max_retries`` retries GETs
    and event creation (which always carries an Idempotency-Key) after connection
    failures, 429 (after its Retry-After) and 502-504.
    """

    def __init__(self, url: str, api_key: str, *, timeout: float | httpx.Timeout | None = None,
                 max_retries: int = 2, user_agent: str | None = None,
                 http_transport: httpx.BaseTransport | None = None) -> None:
        self._transport = Transport(url, api_key, timeout=timeout, max_retries=max_retries,
                                    user_agent=user_agent, http_transport=http_transport)
        t = self._transport
        self.events = Events(t)
        self.exports = Exports(t)
        self.api_keys = ApiKeys(t)
        self.workspace = WorkspaceResource(t)
        self.usage = UsageResource(t)
        self.chain_check = ChainCheckResource(t)
        self.streams = Streams(t)
        self.alert_rules = AlertRules(t)
        self.alerts = Alerts(t)
        self.log = Log(t)
        self.viewer_links = ViewerLinks(t)

    def emitter(self, **options: Any) -> Emitter:
        """A batching emitter for this client (options: see ``auditrail_client.Emitter``)."""
        from auditrail_client.emitter import Emitter
        return Emitter(self._transport, **options)

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Auditrail:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class _Resource:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def _pages(self, path: str, build: Callable[[Mapping[str, Any]], Any],
               params: Mapping[str, Any]) -> Pages[Any]:
        def fetch(cursor: str | None) -> Mapping[str, Any]:
            return self._t.json("GET", path, params={**params, "cursor": cursor})
        return Pages(fetch, build)


# -- events -----------------------------------------------------------------------------------


def metadata_filters(metadata: Mapping[str, Any] | None) -> dict[str, str]:
    """``{"plan": "pro", "amount": 12}`` as the filters the server takes
    (``metadata.plan``, ``metadata.amount``), each value written as JSON: a string then
    matches that string only, and a number, ``True``, ``False`` or ``None`` that value or
    the same text as a string (``12`` finds ``12`` and ``"12"``). Give them to an export's
    or a viewer link's ``filters`` as well."""
    found = {}
    for key, value in (metadata or {}).items():
        if isinstance(value, (dict, list, tuple)):
            raise TypeError(f"metadata[{key!r}]: a filter compares one value (a string, a "
                            f"number, True, False or None)")
        found[f"metadata.{key}"] = json.dumps(value, ensure_ascii=False)
    return found


@dataclass(frozen=True)
class InclusionProof:
    """``GET /events/{id}/proof``. ``verify`` checks it locally against a key you pinned."""

    event_id: str
    leaf_index: int
    leaf_hash: str
    tree_size: int
    root_hash: str
    inclusion_path: list[str]
    checkpoint: str

    def verify(self, verifier_key: str | VerifierKey,
               event: Event | Mapping[str, Any] | None = None, *,
               rotations: Sequence[str] = (), witnesses: Sequence[str | VerifierKey] = (),
               quorum: int | None = None) -> None:
        """Raise ``ProofInvalid`` unless the checkpoint is signed by ``verifier_key``, says
        this proof's size and root, and the leaf is in that tree at its index; with
        ``event``, also unless the leaf is that event (as you hold it); with
        ``witnesses`` (their cosigner keys: a proof fetched with ``witnesses=``), also
        unless ``quorum`` of them (all by default) cosigned the checkpoint. A key pinned
        before the log's key was rotated checks with the key its ``rotations`` (``GET
        /log/key``'s ``previous_keys[].rotation``) lead to."""
        signed = (check_cosigned(self.checkpoint, verifier_key, witnesses, quorum=quorum,
                                 rotations=rotations) if witnesses else
                  check_checkpoint(self.checkpoint, verifier_key, rotations))
        leaf, root = b64decode_all([self.leaf_hash, self.root_hash])
        path = b64decode_all(self.inclusion_path)
        if (signed.tree_size, signed.root_hash) != (self.tree_size, root):
            raise ProofInvalid("the proof's size and root are not the checkpoint's")
        if not verify_inclusion(self.leaf_index, self.tree_size, leaf, path, root):
            raise ProofInvalid(f"event {self.event_id} is not at leaf {self.leaf_index} of "
                               f"the signed tree of size {self.tree_size}")
        if event is not None:
            document = event.raw if isinstance(event, Event) else event
            if document.get("id") != self.event_id or event_leaf_hash(document) != leaf:
                raise ProofInvalid(f"the event held is not the one the log holds as "
                                   f"{self.event_id}")


class Events(_Resource):
    def create(self, event: Mapping[str, Any], *, idempotency_key: str | None = None,
               receipt: bool = False) -> Accepted:
        """Store one event (202: durable, processed soon). An Idempotency-Key is always
        sent (a new one unless given), so the automatic retries never store it twice.
        With ``receipt``, the answer carries the log's signed receipt for it."""
        return Accepted.from_json(self._t.json("POST", "/api/v1/events", json=event,
                                               headers=_ingest_headers(idempotency_key,
                                                                       receipt)))

    @overload
    def create_batch(self, events: Iterable[Mapping[str, Any]], *,
                     idempotency_key: str | None = None, receipt: Literal[False] = False,
                     compress: bool = False) -> list[str]: ...

    @overload
    def create_batch(self, events: Iterable[Mapping[str, Any]], *,
                     idempotency_key: str | None = None, receipt: Literal[True],
                     compress: bool = False) -> BatchAccepted: ...

    def create_batch(self, events: Iterable[Mapping[str, Any]], *,
                     idempotency_key: str | None = None, receipt: bool = False,
                     compress: bool = False) -> list[str] | BatchAccepted:
        """Store 1-1,000 events at once, all or none; their ids in input order - or,
        with ``receipt``, the ids and the log's signed receipt for them. ``compress``
        sends the batch gzip-compressed, a tenth of its bytes or less."""
        headers = _ingest_headers(idempotency_key, receipt)
        payload = {"events": list(events)}
        if compress:
            content, coding = gzipped(json.dumps(  # as httpx would write it, and the emitter
                payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False
            ).encode("utf-8"))
            body = self._t.json("POST", "/api/v1/events/batch", content=content,
                                headers={**headers, **coding})
        else:
            body = self._t.json("POST", "/api/v1/events/batch", json=payload, headers=headers)
        return BatchAccepted.from_json(body) if receipt else list(body["ids"])

    def validate(self, events: Iterable[Mapping[str, Any]]) -> int:
        """Check 1-1,000 events as ``create_batch`` would, storing none: how many were
        checked, or ``ValidationFailed`` naming each field the workspace would refuse
        (its accepted actions and metadata schemas included). For a test suite or a
        deploy step, before code sends events the log could never take back."""
        body = self._t.json("POST", "/api/v1/events/validate", json={"events": list(events)})
        return int(body["count"])

    def verify_receipt(self, receipt: str | Receipt, verifier_key: str | VerifierKey, *,
                       rotations: Sequence[str] = (), wait: float = 0.0) -> ReceiptVerified:
        """Prove that the log holds every event ``receipt`` names, as it accepted it: the
        receipt signed by ``verifier_key`` (the key you pinned, or the key its
        ``rotations`` lead to), each event's accepted fields hashing to the receipt's
        digest, and each event in a tree the key signed (``wait`` seconds at most, in all,
        for events still being linked: then ``Conflict`` with code ``not_checkpointed``).
        ``ProofInvalid`` names the first event that fails: one the log no longer holds
        (dropped - or removed by retention since, so check receipts within the retention
        period) or one changed after it was accepted.

        A receipt of more than a few events is read from the log's entry bundles, each
        held to the signed tree by one proof (a thousand events: about a dozen requests);
        an event found in none costs two requests of its own."""
        note = receipt.note if isinstance(receipt, Receipt) else receipt
        checked = check_receipt(note, verifier_key, rotations)
        deadline = time.monotonic() + wait
        found, largest = self._in_bundles(checked, verifier_key, rotations, wait)
        for event_id, digest in checked.digests.items():
            if event_id in found:
                as_accepted(found[event_id], event_id, digest, checked, ProofInvalid)
                continue
            try:
                proof = self.proof(event_id, wait=max(0.0, deadline - time.monotonic()))
                event = self.get(event_id)
            except NotFound:
                raise ProofInvalid(f"the log accepted {event_id} at {checked.received_at} "
                                   f"(its receipt says so) but holds no such event"
                                   ) from None
            if accepted_digest(event.raw) != digest:
                raise ProofInvalid(f"{event_id} is not the event the log accepted at "
                                   f"{checked.received_at}: its fields changed since")
            proof.verify(verifier_key, event, rotations=rotations)
            largest = max(largest, proof.tree_size)
        return ReceiptVerified(checked, largest)

    def _in_bundles(self, receipt: Receipt, verifier_key: str | VerifierKey,
                    rotations: Sequence[str], wait: float) -> tuple[dict[str, bytes], int]:
        """The receipt's events as the entry bundles of a signed tree hold them, and that
        tree's size. The tree is one that holds the receipt's last event or, when that
        one is not checkpointed within ``wait``, the latest: what it covers is still read
        by bundle, and the first event it does not fails at once (the wait is spent)
        rather than after two requests for each event before it. None for a receipt too
        small to gain by it, or whose last event the log does not hold (the
        event-by-event path says so)."""
        if len(receipt.digests) < _BUNDLED_FROM:
            return {}, 0
        try:
            note = self.proof(receipt.event_ids[-1], wait=wait).checkpoint
        except NotFound:
            return {}, 0
        except Conflict as exc:
            if exc.code != "not_checkpointed":
                return {}, 0
            note = Log(self._t).checkpoint()
        latest = check_checkpoint(note, verifier_key, rotations)
        return located(self, Log(self._t), receipt, latest, ProofInvalid), latest.tree_size

    def get(self, event_id: str) -> Event:
        return Event.from_json(self._t.json("GET", f"/api/v1/events/{event_id}"))

    def list(self, *, action: str | None = None, actor_id: str | None = None,
             actor_type: str | None = None, target_id: str | None = None,
             target_type: str | None = None, ip_address: str | None = None,
             country_code: str | None = None, since: str | None = None,
             until: str | None = None, status: str | None = None,
             metadata: Mapping[str, Any] | None = None, order: str = "desc",
             page_size: int = 100) -> Pages[Event]:
        """Every matching event, fetched lazily a page at a time (``total_count`` on the
        result once iteration began). ``metadata``: top-level keys and the value each
        must hold (see ``metadata_filters``)."""
        params = {"action": action, "actor_id": actor_id, "actor_type": actor_type,
                  "target_id": target_id, "target_type": target_type,
                  "ip_address": ip_address, "country_code": country_code, "since": since,
                  "until": until, "status": status, "order": order, "limit": page_size,
                  **metadata_filters(metadata)}
        return self._pages("/api/v1/events", Event.from_json, params)

    def stats(self, group_by: str, *, limit: int = 10, action: str | None = None,
              actor_id: str | None = None, actor_type: str | None = None,
              target_id: str | None = None, target_type: str | None = None,
              ip_address: str | None = None, country_code: str | None = None,
              since: str | None = None, until: str | None = None,
              status: str | None = None,
              metadata: Mapping[str, Any] | None = None) -> EventStats:
        """How the matching events divide by ``group_by`` (``action``, ``actor_id``,
        ``actor_type``, ``ip_address``, ``country_code``, ``status``, ``day`` or
        ``metadata.<key>``): the ``limit`` largest groups, the total and the rest,
        counted by the server."""
        params = {"group_by": group_by, "limit": limit, "action": action,
                  "actor_id": actor_id, "actor_type": actor_type, "target_id": target_id,
                  "target_type": target_type, "ip_address": ip_address,
                  "country_code": country_code, "since": since, "until": until,
                  "status": status, **metadata_filters(metadata)}
        return EventStats.from_json(self._t.json("GET", "/api/v1/events/stats",
                                                 params=params))

    def verify(self, *, from_sequence: int | None = None, to_sequence: int | None = None,
               timeout: float = VERIFY_TIMEOUT) -> VerifyReport:
        """The server's recomputation of the chain (all of it by default), which takes it
        about a second per 25,000 events: ``timeout`` is how long to wait for the answer
        (10 minutes, some 15 million events; pass slices by sequence beyond that). One
        that times out is not asked again, as the server is still at it."""
        return VerifyReport.from_json(self._t.json(
            "GET", "/api/v1/events/verify", read_timeout=timeout,
            params={"from_sequence": from_sequence, "to_sequence": to_sequence}))

    def proof(self, event_id: str, *, tree_size: int | None = None,
              witnesses: int | None = None, wait: float = 0.0) -> InclusionProof:
        """The event's inclusion proof; ``wait`` seconds at most for it to be covered by
        a checkpoint (else ``Conflict`` with code ``not_checkpointed``). With
        ``witnesses``, in the newest tree that many of the log's witnesses cosigned, the
        checkpoint carrying their cosignatures (check them with ``verify(witnesses=)``);
        ``wait`` then also waits for them to cosign (``not_cosigned``), but not for
        witnesses the log does not have."""
        deadline = time.monotonic() + wait
        while True:
            try:
                body = self._t.json("GET", f"/api/v1/events/{event_id}/proof",
                                    params={"tree_size": tree_size, "witnesses": witnesses})
                return InclusionProof(**{k: body[k] for k in (
                    "event_id", "leaf_index", "leaf_hash", "tree_size", "root_hash",
                    "inclusion_path", "checkpoint")})
            except Conflict as exc:
                soon = exc.code == "not_checkpointed" or (
                    exc.code == "not_cosigned" and exc.retry_after is not None)
                if not soon or time.monotonic() >= deadline:
                    raise
                time.sleep(min(exc.retry_after or 1.0, 1.0,
                               max(0.0, deadline - time.monotonic())))


@dataclass(frozen=True)
class ReceiptVerified:
    """A receipt whose every event is in the log as accepted: ``tree_size``, the largest
    signed tree the proofs were checked in."""

    receipt: Receipt
    tree_size: int


def _ingest_headers(idempotency_key: str | None, receipt: bool) -> dict[str, str]:
    headers = {"Idempotency-Key": idempotency_key or _new_key()}
    if receipt:
        headers["Prefer"] = "receipt"
    return headers


# -- exports ----------------------------------------------------------------------------------


class ExportFailed(AuditrailError):
    """The export ended ``failed`` (``export.error`` says why) or ``expired``."""

    def __init__(self, export: Export) -> None:
        super().__init__(f"export {export.id} is {export.status}: {export.error or ''}")
        self.export = export


class Exports(_Resource):
    def create(self, *, format: str = "ndjson", filters: Mapping[str, Any] | None = None,
               gzip: bool = False) -> Export:
        return Export.from_json(self._t.json("POST", "/api/v1/exports", json={
            "format": format, "filters": dict(filters or {}), "gzip": gzip}))

    def get(self, export_id: str) -> Export:
        return Export.from_json(self._t.json("GET", f"/api/v1/exports/{export_id}"))

    def list(self, *, order: str = "desc", page_size: int = 100) -> Pages[Export]:
        return self._pages("/api/v1/exports", Export.from_json,
                           {"order": order, "limit": page_size})

    def wait(self, export_id: str, *, timeout: float = 600.0, poll: float = 1.0) -> Export:
        """The export once completed; ``ExportFailed`` if it failed or expired,
        ``TimeoutError`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            export = self.get(export_id)
            if export.status == "completed":
                return export
            if export.status in ("failed", "expired"):
                raise ExportFailed(export)
            if time.monotonic() >= deadline:
                raise TimeoutError(f"export {export_id} is still {export.status}")
            time.sleep(poll)

    def download(self, export_id: str, path: str | os.PathLike[str]) -> Path:
        """Stream the file to ``path`` (never whole in memory), check its SHA-256 against
        the export's, and only then move it into place; ``ProofInvalid`` if it differs."""
        export = self.get(export_id)
        link = self._t.request("GET", f"/api/v1/exports/{export_id}/download")
        target = Path(path)
        descriptor, partial = tempfile.mkstemp(dir=target.parent or ".",
                                               prefix=f".{target.name}.")
        digest = hashlib.sha256()
        try:
            with os.fdopen(descriptor, "wb") as out, \
                    self._t.new_http_client().stream("GET", link.headers["Location"]) as body:
                if body.status_code != 200:
                    raise _error_of(body)
                for chunk in body.iter_bytes(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
            if export.sha256 and digest.hexdigest() != export.sha256:
                raise ProofInvalid(f"the downloaded file's sha256 {digest.hexdigest()} is "
                                   f"not the export's {export.sha256}")
            os.replace(partial, target)
        finally:
            if os.path.exists(partial):
                os.unlink(partial)
        return target

    def evidence(self, export_id: str) -> Json:
        """What proves the export offline: ``auditrail verify FILE --evidence``."""
        return dict(self._t.json("GET", f"/api/v1/exports/{export_id}/evidence"))


def _error_of(response: httpx.Response) -> ApiError:
    response.read()
    try:
        body = response.json()
    except ValueError:
        body = None
    return error_from(response.status_code, body, response.headers)


# -- workspace ----------------------------------------------------------------------------------


class ApiKeys(_Resource):
    def create(self, name: str, scopes: Iterable[str], *, expires_at: str | None = None
               ) -> ApiKey:
        """The new key; its ``secret`` is shown only here."""
        body: Json = {"name": name, "scopes": list(scopes)}
        if expires_at is not None:
            body["expires_at"] = expires_at
        return ApiKey.from_json(self._t.json("POST", "/api/v1/api-keys", json=body))

    def list(self, *, order: str = "desc", page_size: int = 100) -> Pages[ApiKey]:
        return self._pages("/api/v1/api-keys", ApiKey.from_json,
                           {"order": order, "limit": page_size})

    def get(self, key_id: str) -> ApiKey:
        return ApiKey.from_json(self._t.json("GET", f"/api/v1/api-keys/{key_id}"))

    def revoke(self, key_id: str) -> ApiKey:
        return ApiKey.from_json(self._t.json("DELETE", f"/api/v1/api-keys/{key_id}"))

    def roll(self, key_id: str, *, expires_in_seconds: int = 0,
             expires_at: str | None = None) -> ApiKey:
        """A new key with the old one's name and scopes (its ``secret`` shown only here); the
        old key keeps working for ``expires_in_seconds`` (0: it stops at once; at most 7
        days). ``raw["replaces"]`` is the old key, with the expiry it now has."""
        body: Json = {"expires_in_seconds": expires_in_seconds}
        if expires_at is not None:
            body["expires_at"] = expires_at
        return ApiKey.from_json(self._t.json("POST", f"/api/v1/api-keys/{key_id}/roll",
                                             json=body))


class WorkspaceResource(_Resource):
    def get(self) -> Workspace:
        return Workspace.from_json(self._t.json("GET", "/api/v1/workspace"))

    def update(self, **changes: Any) -> Workspace:
        """Any of ``name``, ``ip_allowlist``, ``retention_days``, ``record_activity``,
        ``legal_hold``, ``accepted_actions``, ``metadata_schemas``."""
        return Workspace.from_json(self._t.json("PATCH", "/api/v1/workspace", json=changes))


class ChainCheckResource(_Resource):
    def get(self) -> ChainCheck:
        """The latest check of the workspace's chain, and whether one is under way."""
        return ChainCheck.from_json(self._t.json("GET", "/api/v1/chain-check"))

    def request(self) -> ChainCheck:
        """Check the whole chain now, in the background (scope ``events:read``):
        ``RateLimited`` within 5 minutes of the last check (or as long as the operator
        set; ``retry_after`` says when), ``ServerError`` (503) while
        the deployment checks as many chains as it may; asking while one is under way
        returns it."""
        return ChainCheck.from_json(self._t.json("POST", "/api/v1/chain-check"))

    def wait(self, *, timeout: float = 600.0, poll: float = 1.0) -> ChainCheck:
        """The check once none is queued or running (``TimeoutError`` after ``timeout``
        seconds): after ``request()``, its outcome."""
        deadline = time.monotonic() + timeout
        while (check := self.get()).status == "checking":
            if time.monotonic() >= deadline:
                raise TimeoutError("the chain is still being checked")
            time.sleep(poll)
        return check


class UsageResource(_Resource):
    def get(self) -> Usage:
        return Usage.from_json(self._t.json("GET", "/api/v1/usage"))


# -- streams and alerts ---------------------------------------------------------------------------


class Streams(_Resource):
    def create(self, name: str, type: str, config: Mapping[str, Any], *,
               filter: Mapping[str, Any] | None = None) -> Stream:
        body: Json = {"name": name, "type": type, "config": dict(config)}
        if filter is not None:
            body["filter"] = dict(filter)
        return Stream.from_json(self._t.json("POST", "/api/v1/streams", json=body))

    def list(self, *, order: str = "desc", page_size: int = 100) -> Pages[Stream]:
        return self._pages("/api/v1/streams", Stream.from_json,
                           {"order": order, "limit": page_size})

    def get(self, stream_id: str) -> Stream:
        return Stream.from_json(self._t.json("GET", f"/api/v1/streams/{stream_id}"))

    def update(self, stream_id: str, **changes: Any) -> Stream:
        return Stream.from_json(self._t.json("PATCH", f"/api/v1/streams/{stream_id}",
                                             json=changes))

    def delete(self, stream_id: str) -> None:
        self._t.request("DELETE", f"/api/v1/streams/{stream_id}")

    def test(self, stream_id: str) -> Json:
        """Send a signed sample delivery now; the answer says how it went."""
        return dict(self._t.json("POST", f"/api/v1/streams/{stream_id}/test"))

    def replay(self, stream_id: str, from_sequence: int) -> Stream:
        return Stream.from_json(self._t.json("POST", f"/api/v1/streams/{stream_id}/replay",
                                             json={"from_sequence": from_sequence}))

    def deliveries(self, stream_id: str, *, order: str = "desc",
                   page_size: int = 100) -> Pages[Delivery]:
        return self._pages(f"/api/v1/streams/{stream_id}/deliveries", Delivery.from_json,
                           {"order": order, "limit": page_size})


class AlertRules(_Resource):
    def create(self, **rule: Any) -> AlertRule:
        """``name``, ``match``, ``notify`` and optionally ``threshold``,
        ``cooldown_seconds``, ``enabled`` (contract §7)."""
        return AlertRule.from_json(self._t.json("POST", "/api/v1/alert-rules", json=rule))

    def list(self, *, order: str = "desc", page_size: int = 100) -> Pages[AlertRule]:
        return self._pages("/api/v1/alert-rules", AlertRule.from_json,
                           {"order": order, "limit": page_size})

    def get(self, rule_id: str) -> AlertRule:
        return AlertRule.from_json(self._t.json("GET", f"/api/v1/alert-rules/{rule_id}"))

    def update(self, rule_id: str, **changes: Any) -> AlertRule:
        return AlertRule.from_json(self._t.json("PATCH", f"/api/v1/alert-rules/{rule_id}",
                                                json=changes))

    def delete(self, rule_id: str) -> None:
        self._t.request("DELETE", f"/api/v1/alert-rules/{rule_id}")

    def test(self, rule_id: str) -> Json:
        """Send the rule's webhook a signed sample notification now (``"test": true``,
        no alert recorded); the answer says how it went."""
        return dict(self._t.json("POST", f"/api/v1/alert-rules/{rule_id}/test"))


class Alerts(_Resource):
    def list(self, *, rule_id: str | None = None, group_key: str | None = None,
             notification_status: str | None = None, since: str | None = None,
             until: str | None = None, order: str = "desc",
             page_size: int = 100) -> Pages[Alert]:
        """``group_key`` as alerts name their group: ``actor_id:usr_42``,
        ``ip_address:203.0.113.7`` or ``workspace``; ``notification_status``:
        ``pending`` (the receiver has not accepted it yet), ``delivered`` or
        ``cancelled``."""
        return self._pages("/api/v1/alerts", Alert.from_json, {
            "rule_id": rule_id, "group_key": group_key,
            "notification_status": notification_status, "since": since, "until": until,
            "order": order, "limit": page_size})

    def get(self, alert_id: str) -> Alert:
        return Alert.from_json(self._t.json("GET", f"/api/v1/alerts/{alert_id}"))


# -- the transparency log -----------------------------------------------------------------


@dataclass(frozen=True)
class ConsistencyProof:
    from_size: int
    to_size: int
    from_root: str
    to_root: str
    proof: list[str]

    def verify(self, old_root: bytes, new_root: bytes) -> None:
        """Raise ``ProofInvalid`` unless the tree of ``new_root`` extends the one of
        ``old_root`` (roots you took from checkpoints you checked, not from this proof)."""
        if not verify_consistency(self.from_size, self.to_size, old_root, new_root,
                                  b64decode_all(self.proof)):
            raise ProofInvalid(f"the log of size {self.to_size} does not extend the one "
                               f"of size {self.from_size}")


class Log(_Resource):
    def key(self) -> LogKey:
        """The log's key. Pin its ``verifier_key`` once, from a channel you trust: every
        check then uses the pinned key, never one the server offers later."""
        return LogKey.from_json(self._t.json("GET", "/api/v1/log/key"))

    def checkpoint(self) -> str:
        """The latest checkpoint, the signed note's exact text."""
        return self._t.request("GET", "/api/v1/log/checkpoint").text

    def checkpoints(self, *, order: str = "desc", page_size: int = 100) -> Pages[Checkpoint]:
        return self._pages("/api/v1/log/checkpoints", Checkpoint.from_json,
                           {"order": order, "limit": page_size})

    def checkpoint_at(self, tree_size: int) -> Checkpoint:
        """The checkpoint the log signed at ``tree_size`` (``NotFound`` for a size it never
        signed)."""
        return Checkpoint.from_json(self._t.json("GET", f"/api/v1/log/checkpoints/{tree_size}"))

    def cosigned_checkpoint(self, *, witnesses: int | None = None) -> str:
        """The newest checkpoint cosigned by ``witnesses`` of the log's witnesses (all of
        them by default), their cosignature lines below the log's signature; check it
        with ``auditrail_client.proofs.check_cosigned`` and the keys you trust."""
        return self._t.request("GET", "/api/v1/log/cosigned-checkpoint",
                               params={"witnesses": witnesses}).text

    def witnesses(self, *, order: str = "desc", page_size: int = 100) -> Pages[LogWitness]:
        """The witnesses the log submits its checkpoints to, and where each stands."""
        return self._pages("/api/v1/log/witnesses", LogWitness.from_json,
                           {"order": order, "limit": page_size})

    def witness(self, witness_id: str) -> LogWitness:
        return LogWitness.from_json(self._t.json("GET", f"/api/v1/log/witnesses/{witness_id}"))

    def add_witness(self, url: str, verifier_key: str) -> LogWitness:
        """(scope ``admin``) Submit every new checkpoint to the witness at ``url`` from now
        on; ``verifier_key`` is its cosigner key."""
        return LogWitness.from_json(self._t.json(
            "POST", "/api/v1/log/witnesses", json={"url": url, "verifier_key": verifier_key}))

    def retry_witness(self, witness_id: str) -> LogWitness:
        """(scope ``admin``) Submit to the witness now rather than at the end of its
        backoff, once whoever runs it fixed it."""
        return LogWitness.from_json(self._t.json(
            "POST", f"/api/v1/log/witnesses/{witness_id}/retry"))

    def remove_witness(self, witness_id: str) -> None:
        self._t.request("DELETE", f"/api/v1/log/witnesses/{witness_id}")

    def anchor(self) -> str:
        """Where retention cut the chain, the signed note (``proofs.check_anchor``):
        events up to its sequence are gone; ``NotFound`` while retention removed none."""
        return self._t.request("GET", "/api/v1/log/anchor").text

    def tile(self, level: int, index: int, width: int | None = None) -> list[bytes]:
        """A tile of the tree (C2SP tlog-tiles): the 256 hashes of ``level`` it holds, or
        the first ``width`` of a partial one, as far as the latest checkpoint reaches."""
        data = self._t.request("GET", f"/api/v1/log/tile/{tile_path(level, index, width)}"
                               ).content
        return [data[i:i + 32] for i in range(0, len(data), 32)]

    def entries(self, index: int, width: int | None = None) -> list[bytes]:
        """The entries leaf tile ``index`` hashes: each event's ``JCS(core)``, the bytes
        its leaf hash covers (``json.loads`` gives the event). Check them against a
        checkpoint with ``proofs.bundle_in_tree`` and one ``events.proof``."""
        return split_bundle(self._t.request(
            "GET", f"/api/v1/log/tile/entries/{bundle_path(index, width)}").content)

    def consistency(self, from_size: int, to_size: int | None = None) -> ConsistencyProof:
        body = self._t.json("GET", "/api/v1/log/consistency",
                            params={"from_size": from_size, "to_size": to_size})
        return ConsistencyProof(**{k: body[k] for k in (
            "from_size", "to_size", "from_root", "to_root", "proof")})


def _new_key() -> str:
    return f"auditrail-client-{uuid.uuid4()}"


# -- viewer links ---------------------------------------------------------------------------------


class ViewerLinks(_Resource):
    """Read-only links to the embeddable viewer, for your own customers (scope ``admin``):
    mint one per visit from your backend and put its ``url`` in an iframe or a link."""

    def create(self, *, filters: Mapping[str, Any] | None = None,
               expires_in_seconds: int = 900, allow_export: bool = False,
               title: str | None = None) -> ViewerLink:
        """``filters`` (as ``events.list`` takes them) bound every search the link makes."""
        body: Json = {"filters": dict(filters or {}), "expires_in_seconds": expires_in_seconds,
                      "allow_export": allow_export}
        if title is not None:
            body["title"] = title
        return ViewerLink.from_json(self._t.json("POST", "/api/v1/viewer-links", json=body))

    def list(self, *, order: str = "desc", page_size: int = 100) -> Pages[ViewerLink]:
        return self._pages("/api/v1/viewer-links", ViewerLink.from_json,
                           {"order": order, "limit": page_size})

    def get(self, link_id: str) -> ViewerLink:
        return ViewerLink.from_json(self._t.json("GET", f"/api/v1/viewer-links/{link_id}"))

    def revoke(self, link_id: str) -> ViewerLink:
        """Effective at once: the link's next request is refused."""
        return ViewerLink.from_json(self._t.json("DELETE", f"/api/v1/viewer-links/{link_id}"))
