"""The batching emitter: ``emit(event)`` returns at once; background threads send the
events in batches, each batch under its own Idempotency-Key.

What it guarantees, and what not:

* An event ``emit`` accepted is delivered once (the batch's Idempotency-Key makes a retry
  after a lost answer store nothing twice), or handed to ``on_drop`` / ``on_invalid``
  with the reason - never lost in silence. The callbacks run in a sender thread.
* 429 waits what ``Retry-After`` says; 5xx, timeouts and refused connections back off
  exponentially with jitter, and the batch is retried for as long as the emitter is open.
* The queue is bounded (``max_queue``): ``overflow="block"`` makes ``emit`` wait for room,
  ``overflow="drop"`` drops the new event, counts it and calls ``on_drop``.
* 422: the server names each bad event (``events[i]``); those go to ``on_invalid`` with
  the server's details and the rest are sent again. Other 4xx answers (a revoked key, a
  missing scope) cannot succeed by retrying: the batch goes to ``on_drop``.
* ``flush()`` waits until everything emitted so far is delivered or given up;
  ``close()`` (also at interpreter exit) flushes, for at most ``close_timeout`` seconds,
  then gives up what is left to ``on_drop``. A process killed outright loses what was
  still queued in memory: call ``flush()`` where that matters, or give the emitter a
  ``spool`` folder (``auditrail_client.spool``): each event is then on disk when
  ``emit`` returns, what ``close`` could not send stays there, and the next emitter
  opening the folder - after a crash, a restart, in another process - sends it, once.
* ``on_receipt``: each batch is sent with ``Prefer: receipt`` and the log's signed
  receipt for it handed to the callback (keep them: ``Events.verify_receipt`` checks them
  later). With a spool, every delivered batch's receipt reaches it at least once.
* ``compress=True`` sends each batch gzip-compressed (``Content-Encoding: gzip``): a tenth
  of the bytes on the wire or less, for about 1 ms of a sender's CPU a 1,000-event batch.
  Servers before the release that reads gzip bodies refuse them.
* Thread-safe. Fork-safe: a child process starts with an empty queue and its own sender
  (what the parent had queued is the parent's to send), and its own spool slot.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import re
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Callable

import httpx

from auditrail_client._transport import Transport, backoff, gzipped, send
from auditrail_client.errors import (
    ApiError,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    TransportError,
    ValidationFailed,
)
from auditrail_client.spool import PathLike, Spool

log = logging.getLogger("auditrail_client")

MAX_BATCH = 1000
MAX_BODY_BYTES = 4 * 1024 * 1024  # the server takes 5 MiB; room for the envelope
_INDEX = re.compile(r"^events\[(\d+)\]")

DropCallback = Callable[[Sequence[Mapping[str, Any]], str], None]
InvalidCallback = Callable[[Mapping[str, Any], Sequence[Mapping[str, Any]]], None]
DeliveredCallback = Callable[[Sequence[Mapping[str, Any]], Sequence[str]], None]
ReceiptCallback = Callable[[str], None]


@dataclass(frozen=True)
class EmitterStats:
    """Counts since the emitter was made (or since the fork, in a child)."""

    emitted: int
    delivered: int
    dropped: int
    invalid: int
    retries: int
    batches: int
    queued: int
    recovered: int = 0
    """Events a spool slot held when this emitter took it (left by an earlier one)."""
    spooled: int = 0
    """Events ``close`` left in the spool, for the next emitter to send."""


@dataclass
class _Item:
    event: Mapping[str, Any]
    body: bytes
    at: float  # when it was emitted (monotonic): its batch leaves flush_interval later
    row: int | None = None  # its row in the spool, when there is one


class Emitter:
    def __init__(self, transport: Transport, *, max_batch: int = MAX_BATCH,
                 flush_interval: float = 1.0, max_queue: int = 100_000,
                 overflow: str = "block", senders: int = 2,
                 on_drop: DropCallback | None = None,
                 on_invalid: InvalidCallback | None = None,
                 on_delivered: DeliveredCallback | None = None,
                 on_receipt: ReceiptCallback | None = None,
                 close_timeout: float = 30.0, min_backoff: float = 0.5,
                 max_backoff: float = 30.0, spool: PathLike | None = None,
                 spool_fsync: bool = False, compress: bool = False) -> None:
        if not 1 <= max_batch <= MAX_BATCH:
            raise ValueError(f"max_batch must be 1-{MAX_BATCH}")
        if overflow not in ("block", "drop"):
            raise ValueError('overflow must be "block" or "drop"')
        if max_queue < max_batch or senders < 1 or flush_interval < 0:
            raise ValueError("max_queue must hold a batch, senders >= 1, flush_interval >= 0")
        if not 0 < min_backoff <= max_backoff:
            raise ValueError("0 < min_backoff <= max_backoff")
        if spool_fsync and spool is None:
            raise ValueError("spool_fsync needs a spool folder")
        self._transport = transport
        self.max_batch, self.flush_interval, self.max_queue = max_batch, flush_interval, max_queue
        self.overflow, self.senders, self.close_timeout = overflow, senders, close_timeout
        self.min_backoff, self.max_backoff = min_backoff, max_backoff
        self._on_drop = on_drop or _log_drop
        self._on_invalid = on_invalid or _log_invalid
        self._on_delivered = on_delivered
        self._on_receipt = on_receipt
        self._spool_folder = spool
        self._spool_fsync = spool_fsync
        self.compress = compress
        self._spool: Spool | None = None
        self._start()
        if spool is not None:
            self._open_spool()
        _live.add(self)

    def _start(self) -> None:
        """Fresh state: at creation, and in a forked child (whose spool slot is taken at
        its first ``emit``: a child that never emits holds none)."""
        if getattr(self, "_spool", None) is not None:
            self._spool.forsake()  # type: ignore[union-attr]
            self._spool = None
        self._pid = os.getpid()
        self._cond = threading.Condition()
        self._queue: deque[_Item] = deque()
        # Batches an earlier emitter had under way, sent first under their own keys.
        self._resends: deque[tuple[str, list[_Item]]] = deque()
        self._in_flight = 0
        self._landing = 0  # events being written to the spool, their room in the queue held
        self._flushing = 0
        self._closing = False
        self._closed = False
        self._deadline: float | None = None  # set by close(): retries stop there
        self._threads: list[threading.Thread] = []
        self._counts = dict.fromkeys(("emitted", "delivered", "dropped", "invalid",
                                      "retries", "batches", "recovered", "spooled"), 0)

    def _open_spool(self) -> None:
        """Take a slot and queue what it holds: the batches under way, to be sent again
        as they were, then the events no batch had taken."""
        self._spool = Spool(self._spool_folder, self.max_batch,  # type: ignore[arg-type]
                            MAX_BODY_BYTES, fsync=self._spool_fsync)
        held = self._spool.held()
        now = time.monotonic()
        batches: dict[str, list[_Item]] = {}
        for found in held:
            item = _Item(json.loads(found.body), found.body, now, found.row)
            if found.batch is None:
                self._queue.append(item)
            else:
                batches.setdefault(found.batch, []).append(item)
        self._resends.extend(batches.items())
        self._counts["recovered"] = len(held)
        if held and len(self._threads) < self.senders:
            self._spawn()

    # -- the caller's side ----------------------------------------------------------------

    def emit(self, event: Mapping[str, Any]) -> bool:
        """Queue one event (a §5.1 body) and return at once: True when queued, False
        when dropped because the queue is full (``overflow="drop"``). The event is
        serialised here, so a value JSON cannot hold raises ``TypeError`` at once."""
        if os.getpid() != self._pid:
            self._start()
        body = json.dumps(event, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode("utf-8")
        item = _Item(event, body, time.monotonic())
        with self._cond:
            if self._closing:
                raise RuntimeError("the emitter is closed")
            if self._spool_folder is not None and self._spool is None:
                self._open_spool()  # a forked child's first event
            if not self._wait_for_room():
                self._counts["dropped"] += 1
                dropped = True
            elif self._spool is None:
                self._queued(item)
                return True
            else:
                dropped = False
                self._landing += 1  # its room is held while it is written down
                spool = self._spool
        if dropped:
            _call(self._on_drop, [event], "queue_full")
            return False
        try:
            # On disk before emit returns; other emits (whose commits join this one's) and
            # the senders go on meanwhile.
            item.row = spool.add(body)
        finally:
            with self._cond:
                self._landing -= 1
                self._cond.notify_all()
        with self._cond:
            if self._closed:  # close gave up waiting: the next emitter sends it
                self._counts["emitted"] += 1
                self._counts["spooled"] += 1
            else:
                self._queued(item)
        return True

    def _wait_for_room(self) -> bool:
        """Under the lock: False when the queue is full and events are dropped."""
        while len(self._queue) + self._landing >= self.max_queue:
            if self.overflow == "drop":
                return False
            self._cond.wait()
            if self._closing:
                raise RuntimeError("the emitter is closed")
        return True

    def _queued(self, item: _Item) -> None:
        """Under the lock."""
        self._queue.append(item)
        self._counts["emitted"] += 1
        if len(self._queue) == 1 or len(self._queue) >= self.max_batch:
            self._cond.notify_all()
        if len(self._threads) < self.senders:
            self._spawn()

    def flush(self, timeout: float | None = None) -> bool:
        """Send what is queued now, without waiting for ``flush_interval``, and wait until
        it is delivered or given up: True when nothing is left, False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._flushing += 1
            self._cond.notify_all()
            try:
                while self._queue or self._resends or self._in_flight or self._landing:
                    if not self._threads:
                        self._spawn()
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return False
                    self._cond.wait(remaining)
                return True
            finally:
                self._flushing -= 1

    def close(self, timeout: float | None = None) -> None:
        """Flush for at most ``timeout`` seconds (default ``close_timeout``), stop the
        senders, and hand whatever is left to ``on_drop`` (reason ``close_timeout``)."""
        if os.getpid() != self._pid or self._closed:
            return
        timeout = self.close_timeout if timeout is None else timeout
        with self._cond:
            self._closing = True
            self._deadline = time.monotonic() + timeout
            self._cond.notify_all()
        self.flush(timeout)
        with self._cond:
            left = [item.event for item in self._queue]
            left += [item.event for _, items in self._resends for item in items]
            self._queue.clear()
            self._resends.clear()
            self._closed = True
            self._cond.notify_all()
            threads = list(self._threads)
            if self._spool is not None:  # kept for the next emitter, not given up
                self._counts["spooled"] += len(left)
                left = []
            else:
                self._counts["dropped"] += len(left)
        for thread in threads:
            thread.join(max(0.0, (self._deadline or 0) - time.monotonic()) + 1)
        if self._spool is not None:
            self._spool.close()
        if left:
            _call(self._on_drop, left, "close_timeout")
        _live.discard(self)

    @property
    def spool(self) -> Spool | None:
        """The slot this emitter holds, when it has a spool folder (and has taken one)."""
        return self._spool

    def stats(self) -> EmitterStats:
        with self._cond:
            waiting = sum(len(batch) for _, batch in self._resends)
            return EmitterStats(queued=len(self._queue) + waiting + self._in_flight,
                                **self._counts)

    def __enter__(self) -> Emitter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- the senders ----------------------------------------------------------------------

    def _spawn(self) -> None:
        thread = threading.Thread(target=self._run, name="auditrail-emitter", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _run(self) -> None:
        client = self._transport.new_http_client()
        try:
            while True:
                taken = self._next_batch()
                if taken is None:
                    return
                batch, key = taken
                try:
                    self._deliver(client, batch, key)
                except Exception as exc:  # a bug here must not lose events in silence
                    log.exception("auditrail emitter failed to send a batch")
                    self._give_up(batch, f"client error: {type(exc).__name__}")
                finally:
                    with self._cond:
                        self._in_flight -= len(batch)
                        self._cond.notify_all()
        finally:
            client.close()

    def _next_batch(self) -> tuple[list[_Item], str | None] | None:
        """A batch to send again under its key, or the next batch once it is full, its
        oldest event waited ``flush_interval``, or someone flushes; None once closed."""
        with self._cond:
            while True:
                if self._closed:
                    return None
                if self._resends:
                    key, batch = self._resends.popleft()
                    self._in_flight += len(batch)
                    return batch, key
                if self._queue:
                    wait = self._queue[0].at + self.flush_interval - time.monotonic()
                    if len(self._queue) >= self.max_batch or wait <= 0 or self._flushing \
                            or self._closing:
                        break
                    self._cond.wait(wait)
                else:
                    self._cond.wait()
            batch = [self._queue.popleft() for _ in range(min(self.max_batch,
                                                              len(self._queue)))]
            self._in_flight += len(batch)
            self._cond.notify_all()  # room for emitters that wait
            return batch, None

    def _deliver(self, client: httpx.Client, batch: list[_Item], key: str | None) -> None:
        if key is not None:  # sent before, as it is: under its key, the same body
            self._send(client, batch, key)
            return
        for part in _by_size(batch):
            self._send(client, part)

    def _send(self, client: httpx.Client, batch: list[_Item], key: str | None = None
              ) -> None:
        """One batch under one Idempotency-Key until accepted or given up. With a spool,
        the key is written down with the batch's events before the first attempt."""
        body = b'{"events":[' + b",".join(item.body for item in batch) + b"]}"
        if key is None:
            key = f"auditrail-emitter-{uuid.uuid4()}"
            self._spooled(batch, key)
        headers = {"Idempotency-Key": key, "Content-Type": "application/json"}
        if self.compress:  # the key covers the JSON, not the wire
            body, coding = gzipped(body)
            headers.update(coding)
        if self._on_receipt is not None:
            headers["Prefer"] = "receipt"
        attempt = 0
        while True:
            try:
                response = send(client, "POST", "/api/v1/events/batch", content=body,
                                headers=headers)
            except RateLimited as exc:
                wait = exc.retry_after
            except (TransportError, ServerError) as exc:
                wait = backoff(attempt, getattr(exc, "retry_after", None),
                               base=self.min_backoff, cap=self.max_backoff)
            except ValidationFailed as exc:
                self._invalid(client, batch, exc)
                return
            except PayloadTooLarge:
                if len(batch) == 1:
                    self._unspool(batch)
                    self._count("invalid", 1)
                    _call(self._on_invalid, batch[0].event, [
                        {"field": "events[0]", "message": "the event is too large"}])
                    return
                half = len(batch) // 2
                self._send(client, batch[:half])
                self._send(client, batch[half:])
                return
            except ApiError as exc:
                self._give_up(batch, f"{exc.status} {exc.code}: {exc.message}")
                return
            else:
                answer = response.json()
                ids = answer.get("ids", [])
                if self._on_receipt is not None and answer.get("receipt"):
                    # Before the spool lets go of the batch: a crash in between sends it
                    # again under its key, and the server signs its receipt again.
                    _call(self._on_receipt, answer["receipt"])
                self._unspool(batch)
                self._count("delivered", len(batch), batches=1)
                if self._on_delivered is not None:
                    _call(self._on_delivered, [item.event for item in batch], ids)
                return
            if self._deadline is not None and time.monotonic() + wait > self._deadline:
                if self._spool is not None:  # stays, under its key, for the next emitter
                    self._count("spooled", len(batch))
                else:
                    self._give_up(batch, "close_timeout")
                return
            self._count("retries", 1)
            attempt += 1
            time.sleep(wait)

    def _invalid(self, client: httpx.Client, batch: list[_Item], error: ValidationFailed
                 ) -> None:
        """Report the events the server named; send the others again (another body, so
        another key)."""
        named: dict[int, list[Mapping[str, Any]]] = {}
        for detail in error.details:
            match = _INDEX.match(str(detail.get("field", "")))
            if match and int(match.group(1)) < len(batch):
                named.setdefault(int(match.group(1)), []).append(detail)
        if not named:  # nothing points at an event: the batch as a whole is refused
            named = {index: list(error.details) for index in range(len(batch))}
        self._unspool([batch[index] for index in named])
        for index, details in sorted(named.items()):
            _call(self._on_invalid, batch[index].event, details)
        self._count("invalid", len(named))
        rest = [item for index, item in enumerate(batch) if index not in named]
        if rest:
            self._send(client, rest)

    def _give_up(self, batch: list[_Item], reason: str) -> None:
        self._unspool(batch)
        self._count("dropped", len(batch))
        _call(self._on_drop, [item.event for item in batch], reason)

    def _spooled(self, batch: list[_Item], key: str) -> None:
        if self._spool is not None:
            self._spool.batched([item.row for item in batch if item.row is not None], key)

    def _unspool(self, batch: list[_Item]) -> None:
        if self._spool is not None:
            self._spool.remove([item.row for item in batch if item.row is not None])

    def _count(self, name: str, value: int, batches: int = 0) -> None:
        with self._cond:
            self._counts[name] += value
            self._counts["batches"] += batches


def _by_size(batch: list[_Item]) -> list[list[_Item]]:
    """The batch cut so that no request body passes the server's limit."""
    parts: list[list[_Item]] = [[]]
    size = 0
    for item in batch:
        if parts[-1] and size + len(item.body) + 1 > MAX_BODY_BYTES:
            parts.append([])
            size = 0
        parts[-1].append(item)
        size += len(item.body) + 1
    return parts


def _call(callback: Callable[..., None], *args: Any) -> None:
    """A callback's failure is logged, never allowed to stop a sender."""
    try:
        callback(*args)
    except Exception:
        log.exception("an auditrail emitter callback failed")


def _log_drop(events: Sequence[Mapping[str, Any]], reason: str) -> None:
    log.warning("auditrail emitter dropped %d event(s): %s", len(events), reason)


def _log_invalid(event: Mapping[str, Any], details: Sequence[Mapping[str, Any]]) -> None:
    log.warning("auditrail refused an event as invalid: %s",
                "; ".join(f"{d.get('field')}: {d.get('message')}" for d in details))


_live: weakref.WeakSet[Emitter] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for emitter in list(_live):
        emitter._start()


def _close_all() -> None:
    for emitter in list(_live):
        emitter.close()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_close_all)
