"""The delivery engine against fakes: batching, order, retries, failing, leases, filters,
retention - every decision on an injected clock."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from application.ports.delivery import (
    DELIVERED,
    HTTP_ERROR,
    CredentialUnreadable,
    Destination,
    Parcel,
    SendResult,
)
from application.use_cases.apply_retention import ApplyRetention
from application.use_cases.deliver_stream import DeliverStream
from application.use_cases.delivery_upkeep import DeliveryUpkeep
from application.use_cases.process_pending_events import ProcessPendingEvents
from application.use_cases.stream_deliveries import ReplayStream, SendTestDelivery
from application.use_cases.stream_fanout import StreamFanout
from application.use_cases.streams import CreateStream, UpdateStream
from domain.deliveries import DELIVERED as DELIVERY_DELIVERED
from domain.deliveries import FAILED, PENDING, SKIPPED, Attempt
from domain.errors import ValidationFailed
from domain.sending import FAILING_AFTER, backoff
from domain.streams import ACTIVE, FAILING, MAX_BATCH, MAX_BATCH_BYTES
from domain.timestamps import format_timestamp
from tests.unit.test_use_cases import World

LINGER = timedelta(seconds=1)
LEASE = timedelta(seconds=30)


class FakeDeliverer:
    def __init__(self) -> None:
        self.sent: list[tuple[Destination, Parcel]] = []
        self.answers: list[Attempt] = []
        self.during_send: Callable[[], None] | None = None
        self.refused: dict[str, str] = {}

    def send(self, destination: Destination, parcel: Any) -> SendResult:
        self.sent.append((destination, parcel))
        if self.during_send is not None:
            self.during_send()
        attempt = self.answers.pop(0) if self.answers else Attempt(True, 200)
        return SendResult(attempt, DELIVERED if attempt.ok else HTTP_ERROR)

    def refusal(self, url: str) -> str | None:
        return self.refused.get(url)

    def numbers(self) -> list[int]:
        return [parcel.number for _, parcel in self.sent]

    def sequences(self) -> list[int]:
        return [event["sequence"] for _, parcel in self.sent for event in parcel.events]


class FakeVault:
    def __init__(self) -> None:
        self.broken = False

    def seal(self, credential: str) -> bytes:
        return b"sealed:" + credential.encode()[::-1]

    def open(self, sealed: bytes) -> str:
        if self.broken:
            raise CredentialUnreadable("changed key")
        return sealed.removeprefix(b"sealed:")[::-1].decode()


class Streams(World):
    def __init__(self) -> None:
        super().__init__()
        self.deliverer = FakeDeliverer()
        self.vault = FakeVault()
        self.jitter = 0.5
        self.fanout = StreamFanout(self.queue)
        self.process = ProcessPendingEvents(self.uow, self.geo, chunk_size=MAX_BATCH,
                                            chunk_handlers=[self.fanout, self.log.sign_linked])
        self.create = CreateStream(self.uow, self.clock, self.ids, _Secrets(), self.vault,
                                   self.deliverer, allow_private=False,
                                   activity=self.activity)
        self.update = UpdateStream(self.uow, self.clock, self.queue, self.vault,
                                   self.deliverer, allow_private=False, activity=self.activity)
        self.engine = DeliverStream(self.uow, self.deliverer, self.vault, self.queue,
                                    self.clock, self.ids, lambda: self.jitter, LINGER, LEASE,
                                    self.activity)

    def stream(self, **body: Any) -> str:
        body = {"name": "SIEM", "type": "webhook",
                "config": {"url": "https://siem.example.com/in"}, **body}
        return self.create.execute(self.workspace.id, body).stream.id

    def events(self, count: int, **fields: Any) -> None:
        for start in range(0, count, 1000):
            self.ingest.execute(self.workspace.id,
                                [self.event(**fields)] * min(1000, count - start), batch=True)
        self.process.execute(self.workspace.id)

    def get(self, stream_id: str) -> Any:
        with self.uow as uow:
            return uow.streams.get(self.workspace.id, stream_id)

    def delivery_log(self, stream_id: str) -> list[Any]:
        with self.uow as uow:
            return list(uow.deliveries.page(self.workspace.id, stream_id, "asc", None, 1000))


class _Secrets:
    def new_api_key(self) -> str:
        return "ak_" + "k" * 40

    def new_signing_secret(self) -> str:
        return "whsec_generated_secret_0000"


@pytest.fixture
def world() -> Streams:
    return Streams()


def test_events_go_out_in_order_in_full_batches_numbered_one_by_one(world: Streams) -> None:
    stream_id = world.stream()
    world.events(1200)
    world.clock.advance(seconds=2)  # the last batch is not full: it waits out the linger
    assert world.engine.execute(stream_id) == 3
    assert world.deliverer.numbers() == [1, 2, 3]
    assert [len(parcel.events) for _, parcel in world.deliverer.sent] == [500, 500, 200]
    assert world.deliverer.sequences() == list(range(1, 1201))
    destination = world.deliverer.sent[0][0]
    assert destination.credential == "whsec_generated_secret_0000"  # unsealed to send only
    assert world.get(stream_id).position == 1200
    assert [(d.status, d.first_sequence, d.last_sequence, d.event_count)
            for d in world.delivery_log(stream_id)] == [
        (DELIVERY_DELIVERED, 1, 500, 500), (DELIVERY_DELIVERED, 501, 1000, 500),
        (DELIVERY_DELIVERED, 1001, 1200, 200)]
    assert world.engine.execute(stream_id) == 0  # caught up: nothing more


def test_a_new_stream_sends_what_is_processed_after_it_exists(world: Streams) -> None:
    world.events(5)
    stream_id = world.stream()
    world.events(2)
    world.clock.advance(seconds=2)
    world.engine.execute(stream_id)
    assert world.deliverer.sequences() == [6, 7]


def test_a_small_batch_lingers_then_goes(world: Streams) -> None:
    stream_id = world.stream()
    world.events(3)
    assert world.engine.execute(stream_id) == 0
    assert world.deliverer.sent == []
    assert world.queue.scheduled == [(stream_id, world.clock.now() + LINGER)]
    world.clock.advance(seconds=1)
    assert world.engine.execute(stream_id) == 1
    assert world.deliverer.sequences() == [1, 2, 3]


def test_a_stream_may_let_its_batches_wait_longer_or_not_at_all(world: Streams) -> None:
    archive = world.stream(batch_seconds=60)  # an object a minute rather than a second
    at_once = world.stream(batch_seconds=0)
    world.events(3)
    assert world.engine.execute(at_once) == 1
    assert world.engine.execute(archive) == 0
    assert world.queue.scheduled[-1] == (archive, world.clock.now() + timedelta(seconds=60))
    world.clock.advance(seconds=59)
    assert world.engine.execute(archive) == 0
    world.clock.advance(seconds=1)
    assert world.engine.execute(archive) == 1
    assert world.deliverer.sequences() == [1, 2, 3, 1, 2, 3]
    update = world.update.execute(world.workspace.id, archive, {"batch_seconds": None})
    assert update.batch_seconds is None  # the server's setting again


@pytest.mark.parametrize("value", [-1, 901, 1.5, "60", True])
def test_batch_seconds_are_whole_seconds_up_to_a_quarter_hour(world: Streams,
                                                              value: object) -> None:
    with pytest.raises(ValidationFailed) as failure:
        world.stream(batch_seconds=value)
    assert [error.field for error in failure.value.errors] == ["batch_seconds"]


def test_processing_wakes_active_streams_after_its_commit(world: Streams) -> None:
    active = world.stream()
    paused = world.stream(status="paused")
    world.events(2)
    assert (active, False) in world.queue.deliveries
    assert all(stream_id != paused for stream_id, _ in world.queue.deliveries)


def test_a_failed_attempt_is_retried_with_the_same_delivery_after_its_backoff(
        world: Streams) -> None:
    stream_id = world.stream()
    world.events(2)
    world.clock.advance(seconds=2)
    world.deliverer.answers = [Attempt(False, 503, "HTTP 503: busy")]
    assert world.engine.execute(stream_id) == 0
    stream = world.get(stream_id)
    retry_at = world.clock.now() + backoff(1, world.jitter)
    assert (stream.sending.failures, stream.sending.next_attempt_at,
            stream.sending.last_error) == (1, retry_at, "HTTP 503: busy")
    assert world.queue.scheduled[-1] == (stream_id, retry_at)
    assert world.engine.execute(stream_id) == 0  # not due yet: nothing sent
    assert len(world.deliverer.sent) == 1
    world.clock.current = retry_at
    assert world.engine.execute(stream_id) == 1
    (_, first), (_, second) = world.deliverer.sent
    assert (second.delivery_id, second.number, second.events) == \
        (first.delivery_id, first.number, first.events)
    [delivery] = world.delivery_log(stream_id)
    assert (delivery.status, delivery.attempts, delivery.http_status) == \
        (DELIVERY_DELIVERED, 2, 200)
    assert world.get(stream_id).sending.failures == 0


def test_a_run_of_failures_makes_the_stream_failing_and_it_keeps_its_backlog(
        world: Streams) -> None:
    stream_id = world.stream()
    world.events(2)
    world.deliverer.answers = [Attempt(False, None, "Connection failed")] * FAILING_AFTER
    for _ in range(FAILING_AFTER):
        world.clock.advance(minutes=11)
        world.engine.execute(stream_id)
    stream = world.get(stream_id)
    assert stream.status == FAILING and stream.sending.failures == FAILING_AFTER
    world.events(3)  # more arrives meanwhile: kept, not dropped
    world.clock.advance(minutes=11)
    assert world.engine.execute(stream_id) == 2  # recovers by itself when a retry works
    assert world.get(stream_id).status == ACTIVE
    assert world.deliverer.sequences()[-5:] == [1, 2, 3, 4, 5]


def test_setting_a_failing_stream_active_retries_at_once(world: Streams) -> None:
    stream_id = world.stream()
    world.events(1)
    world.clock.advance(seconds=2)
    world.deliverer.answers = [Attempt(False, 500, "HTTP 500")]
    world.engine.execute(stream_id)
    world.queue.deliveries.clear()
    world.update.execute(world.workspace.id, stream_id, {"status": "active"})
    assert world.queue.deliveries == [(stream_id, True)]
    assert world.engine.execute(stream_id) == 1


def test_pausing_stops_sending_and_resuming_catches_up(world: Streams) -> None:
    stream_id = world.stream()
    world.update.execute(world.workspace.id, stream_id, {"status": "paused"})
    world.events(1200)
    world.clock.advance(seconds=2)
    assert world.engine.execute(stream_id) == 0 and world.deliverer.sent == []
    world.update.execute(world.workspace.id, stream_id, {"status": "active"})
    assert (stream_id, True) in world.queue.deliveries
    assert world.engine.execute(stream_id) == 3
    assert world.deliverer.sequences() == list(range(1, 1201))


def test_a_leased_stream_is_left_to_the_job_that_holds_it(world: Streams) -> None:
    stream_id = world.stream()
    world.events(600)

    def second_job_meanwhile() -> None:
        world.deliverer.during_send = None
        assert world.engine.execute(stream_id) == 0  # finds the lease and leaves

    world.deliverer.during_send = second_job_meanwhile
    world.clock.advance(seconds=2)
    assert world.engine.execute(stream_id) == 2  # the holder sends the rest itself
    assert world.deliverer.numbers() == [1, 2]


def test_a_lease_left_by_a_dead_worker_runs_out_and_the_delivery_is_sent_again(
        world: Streams) -> None:
    stream_id = world.stream()
    world.events(2)
    world.clock.advance(seconds=2)
    claim = world.engine._claim(stream_id)  # a worker takes it, then dies before sending
    assert claim is not None
    assert world.engine.execute(stream_id) == 0  # leased
    upkeep = DeliveryUpkeep(world.uow, world.clock, world.queue, timedelta(days=30))
    assert upkeep.execute().woken == 0  # upkeep leaves a leased stream alone
    world.clock.advance(seconds=31)
    assert upkeep.execute().woken == 1
    assert world.queue.deliveries[-1] == (stream_id, True)
    assert world.engine.execute(stream_id) == 1
    [(_, parcel)] = world.deliverer.sent
    assert parcel.delivery_id == claim[1][0].item.id and parcel.number == 1


def test_a_filter_sends_matching_events_and_passes_over_the_rest(world: Streams) -> None:
    stream_id = world.stream(filter={"actions": ["admin.*", "user.deleted"]})
    world.events(3, action="user.login")
    world.events(1, action="admin.user.create")
    world.events(2, action="user.deleted")
    world.clock.advance(seconds=2)
    world.engine.execute(stream_id)
    assert world.deliverer.sequences() == [4, 5, 6]
    world.events(4, action="user.login")
    world.engine.execute(stream_id)
    assert world.get(stream_id).position == 10  # looked at, nothing to send
    assert len(world.deliverer.sent) == 1


def test_a_retry_keeps_the_filter_its_delivery_was_cut_with(world: Streams) -> None:
    stream_id = world.stream(filter={"actions": ["user.*"]})
    world.events(1, action="user.login")
    world.events(1, action="admin.x")
    world.events(1, action="user.logout")
    world.clock.advance(seconds=2)
    world.deliverer.answers = [Attempt(False, 500, "HTTP 500")]
    world.engine.execute(stream_id)
    world.update.execute(world.workspace.id, stream_id, {"filter": None})
    world.clock.advance(seconds=5)
    world.engine.execute(stream_id)
    first, retry = (parcel for _, parcel in world.deliverer.sent)
    assert [event["sequence"] for event in retry.events] == [1, 3]
    assert retry.events == first.events


def test_replay_sends_again_from_a_sequence_after_the_delivery_in_flight(
        world: Streams) -> None:
    stream_id = world.stream()
    world.events(4)
    world.clock.advance(seconds=2)
    world.engine.execute(stream_id)
    replay = ReplayStream(world.uow, world.clock, world.queue, world.activity)
    replay.execute(world.workspace.id, stream_id, 2)
    assert world.queue.deliveries[-1] == (stream_id, True)
    world.engine.execute(stream_id)
    assert world.deliverer.sequences() == [1, 2, 3, 4, 2, 3, 4]
    assert world.deliverer.numbers() == [1, 2]
    with pytest.raises(ValidationFailed) as refused:
        replay.execute(world.workspace.id, stream_id, 6)
    assert refused.value.errors[0].field == "from_sequence"


def test_events_removed_by_retention_before_delivery_are_recorded_as_skipped(
        world: Streams) -> None:
    stream_id = world.stream()
    old = format_timestamp(world.clock.now() - timedelta(days=40))
    world.update.execute(world.workspace.id, stream_id, {"status": "paused"})
    world.events(3, occurred_at=old)
    world.events(2)
    assert ApplyRetention(world.uow, world.clock, world.log).execute() == 3  # free plan: 30 days
    world.update.execute(world.workspace.id, stream_id, {"status": "active"})
    world.clock.advance(seconds=2)
    world.engine.execute(stream_id)
    assert world.deliverer.sequences() == [4, 5]
    skipped, sent = world.delivery_log(stream_id)
    assert (skipped.status, skipped.first_sequence, skipped.last_sequence, skipped.sequence) \
        == (SKIPPED, 1, 3, None)
    assert "removed by the workspace's retention" in skipped.error
    assert sent.sequence == 1  # a skipped range takes no delivery number


def test_retention_keeps_the_events_of_a_delivery_in_flight(world: Streams) -> None:
    stream_id = world.stream()
    old = format_timestamp(world.clock.now() - timedelta(days=40))
    world.events(3, occurred_at=old)
    world.clock.advance(seconds=2)
    world.deliverer.answers = [Attempt(False, 500, "HTTP 500")]
    world.engine.execute(stream_id)
    assert ApplyRetention(world.uow, world.clock, world.log).execute() == 0
    world.clock.advance(seconds=5)
    world.engine.execute(stream_id)
    first, retry = (parcel for _, parcel in world.deliverer.sent)
    assert retry.events == first.events and len(retry.events) == 3
    # delivered: now it may go
    assert ApplyRetention(world.uow, world.clock, world.log).execute() == 3


def test_an_unreadable_credential_is_a_failed_attempt_that_says_what_to_do(
        world: Streams) -> None:
    stream_id = world.stream()
    world.events(1)
    world.clock.advance(seconds=2)
    world.vault.broken = True
    world.engine.execute(stream_id)
    assert world.deliverer.sent == []
    assert "set it again" in world.get(stream_id).sending.last_error


def test_a_deleted_stream_sends_nothing_more(world: Streams) -> None:
    stream_id = world.stream()
    world.events(1)
    with world.uow as uow:
        uow.streams.delete(world.workspace.id, stream_id)
        uow.commit()
    assert world.engine.execute(stream_id) == 0 and world.deliverer.sent == []


def test_a_test_delivery_is_logged_and_changes_nothing_of_the_stream(world: Streams) -> None:
    stream_id = world.stream()
    test = SendTestDelivery(world.uow, world.deliverer, world.vault, world.clock, world.ids)
    world.deliverer.answers = [Attempt(False, 404, "HTTP 404")]
    failed = test.execute(world.workspace.id, stream_id)
    assert (failed.status, failed.http_status, failed.sequence) == (FAILED, 404, None)
    [(_, parcel)] = world.deliverer.sent
    assert parcel.test and parcel.number == 0
    assert parcel.events[0]["action"] == "auditrail.stream.test"
    assert world.get(stream_id).sending.failures == 0
    assert test.execute(world.workspace.id, stream_id).status == DELIVERY_DELIVERED
    assert [d.status for d in world.delivery_log(stream_id)] == [FAILED, DELIVERY_DELIVERED]


def test_streams_refuse_destinations_that_resolve_to_private_addresses(
        world: Streams) -> None:
    world.deliverer.refused["https://internal.example.com/"] = "10.0.0.7, a private address"
    with pytest.raises(ValidationFailed) as failure:
        world.stream(config={"url": "https://internal.example.com/"})
    assert failure.value.errors[0].field == "config.url"
    assert "10.0.0.7" in failure.value.errors[0].message


def test_a_workspace_has_a_bounded_number_of_streams(world: Streams) -> None:
    from application.errors import Conflict
    from domain.streams import MAX_STREAMS_PER_WORKSPACE
    for _ in range(MAX_STREAMS_PER_WORKSPACE):
        world.stream()
    with pytest.raises(Conflict):
        world.stream()


def test_a_pending_delivery_is_the_only_one_in_flight(world: Streams) -> None:
    stream_id = world.stream()
    world.events(600)
    world.clock.advance(seconds=2)
    world.deliverer.answers = [Attempt(False, 500, "HTTP 500")]
    world.engine.execute(stream_id)
    assert [d.status for d in world.delivery_log(stream_id)] == [PENDING]
    world.clock.advance(seconds=5)
    world.engine.execute(stream_id)
    assert [d.status for d in world.delivery_log(stream_id)] == [DELIVERY_DELIVERED] * 2
    assert world.get(stream_id).status == ACTIVE


def test_large_events_go_in_batches_a_receiver_accepts(world: Streams) -> None:
    """500 events of 30 KiB would be a 15 MB request, refused (413) by nginx's default
    limit or Datadog's intake on every retry: batches are cut by size too, in order."""
    stream_id = world.stream()
    world.events(600, metadata={"blob": "x" * 30_000})
    while world.engine.execute(stream_id):  # full by size: none waits for the linger
        pass
    each = len(json.dumps(world.deliverer.sent[0][1].events[0], separators=(",", ":")))
    per_batch = MAX_BATCH_BYTES // each
    sizes = [len(parcel.events) for _, parcel in world.deliverer.sent]
    assert set(sizes) == {per_batch} and 600 - per_batch <= sum(sizes) < 600
    world.clock.advance(seconds=2)  # the rest fits in one: it waits out the linger
    world.engine.execute(stream_id)
    sizes = [len(parcel.events) for _, parcel in world.deliverer.sent]
    assert sum(sizes) == 600
    assert all(len(json.dumps(parcel.events, separators=(",", ":"))) <= MAX_BATCH_BYTES
               for _, parcel in world.deliverer.sent)
    assert world.deliverer.sequences() == list(range(1, 601))
    assert world.deliverer.numbers() == list(range(1, len(sizes) + 1))
    log = world.delivery_log(stream_id)
    assert [(d.first_sequence, d.last_sequence) for d in log][:2] == [(1, sizes[0]), (
        sizes[0] + 1, sizes[0] + sizes[1])]


def test_a_retry_of_a_batch_cut_by_size_sends_the_same_events(world: Streams) -> None:
    stream_id = world.stream()
    world.events(100, metadata={"blob": "x" * 30_000})
    world.deliverer.answers = [Attempt(False, 503, "busy")]
    world.engine.execute(stream_id)
    world.clock.advance(seconds=600)
    world.engine.execute(stream_id)
    first, again = world.deliverer.sent[0][1], world.deliverer.sent[1][1]
    assert again.delivery_id == first.delivery_id and again.events == first.events
    assert len(first.events) < 100
