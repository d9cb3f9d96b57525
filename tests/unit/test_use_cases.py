"""Use cases against in-memory fakes: no database, no queue, no clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from application.activity import ActivityLog
from application.errors import Conflict, InsufficientScope, IpNotAllowed, NotFound, Unauthenticated
from application.transparency import TransparencyLog
from application.use_cases.api_keys import RevokeApiKey, RevokeKeyBySecret
from application.use_cases.authenticate import Authenticate
from application.use_cases.create_api_key import CreateApiKey
from application.use_cases.delete_workspace import DeleteWorkspace
from application.use_cases.get_event import GetEvent
from application.use_cases.ingest_events import IngestEvents
from application.use_cases.process_pending_events import ProcessPendingEvents
from application.use_cases.processing_status import (
    GetProcessingStatus,
    ProcessingStatus,
    WorkspaceLag,
)
from application.use_cases.purge_idempotency_keys import PurgeIdempotencyKeys
from application.use_cases.requeue_pending import RequeuePending
from application.use_cases.verify_chain import VerifyChain
from application.use_cases.viewer_links import RevokeViewerLink
from application.use_cases.workspaces import CreateWorkspace, UpdateWorkspacePlan
from domain.errors import ValidationFailed
from domain.event_rules import MISSING
from domain.event_search import EventFilters, search_entries
from domain.events import PENDING, PROCESSED
from domain.receipts import accepted_digest, parse_receipt
from domain.verification import HASH_MISMATCH, SEARCH_ENTRIES
from tests.factories import ExportFactory
from tests.fakes import (
    FakeBlobStore,
    FakeClock,
    FakeCredentialChanges,
    FakeGeo,
    FakeJobQueue,
    FakeMetadataRules,
    FakeSecrets,
    FakeSignatureChecker,
    FakeSigner,
    InMemoryUnitOfWork,
    SequentialIds,
    in_memory_uow,
)

MALFORMED = ("Dot-separated segments of letters, digits, '_' and '-' "
             "(e.g. 'user.login_failed').")


class World:
    def __init__(self) -> None:
        self.uow = in_memory_uow()
        self.clock = FakeClock()
        self.ids = SequentialIds()
        self.queue = FakeJobQueue()
        self.geo = FakeGeo({"203.0.113.7": {"country_code": "AU"}})
        self.secrets = FakeSecrets()
        self.activity = ActivityLog(self.clock, self.ids, self.queue)
        self.keys = CreateApiKey(self.uow, self.clock, self.ids, self.secrets, self.activity)
        self.workspace, self.admin = CreateWorkspace(
            self.uow, self.clock, self.ids, self.keys, self.activity).execute("Acme")
        self.signer = FakeSigner()
        self.log = TransparencyLog(self.uow, self.signer, FakeSignatureChecker(self.signer),
                                   self.clock, "log.example", timedelta(seconds=5))
        self.ingest = IngestEvents(self.uow, self.clock, self.ids, self.queue, self.log.keys,
                                   FakeMetadataRules())
        self.process = ProcessPendingEvents(self.uow, self.geo, chunk_size=3)
        self.authenticate = Authenticate(self.uow, self.clock)
        self.changes = FakeCredentialChanges()

    def event(self, **fields):  # type: ignore[no-untyped-def]
        return {"action": "user.login", "actor": {"id": "u1", "type": "user"}, **fields}


@pytest.fixture
def world() -> World:
    return World()


def test_ingest_stores_pending_in_one_insert_then_enqueues(world: World) -> None:
    accepted = world.ingest.execute(world.workspace.id, [world.event() for _ in range(5)],
                                    batch=True)
    assert len(accepted.event_ids) == 5 and not accepted.replayed
    assert world.queue.requested == [world.workspace.id]
    assert world.uow.events.inserts == 1
    stored = GetEvent(world.uow).execute(world.workspace.id, accepted.event_ids[0])
    assert stored.status == PENDING and stored.received_at == world.clock.now()


def test_batch_is_all_or_nothing_and_names_items(world: World) -> None:
    bad = [world.event(), world.event(action="bad action"), world.event(),
           world.event(actor={"type": "user"})]
    with pytest.raises(ValidationFailed) as failure:
        world.ingest.execute(world.workspace.id, bad, batch=True)
    assert [e.field for e in failure.value.errors] == ["events[1].action", "events[3].actor.id"]
    assert world.uow.commits == 1  # only the workspace creation
    assert world.queue.requested == []


def test_an_action_the_workspace_does_not_list_is_refused_beside_other_errors(
        world: World) -> None:
    """Said with the body's other errors, so one round trip fixes all; a malformed action
    is said once, as malformed."""
    rules = world.workspace.with_settings({"accepted_actions": ["user.login", "billing.*"]},
                                          "::1")
    batch = [world.event(), world.event(action="billing.paid"),
             world.event(action="user.logn"),
             world.event(action="user.logout", actor={"type": "user"}),
             world.event(action="bad action")]
    with pytest.raises(ValidationFailed) as failure:
        world.ingest.execute(world.workspace.id, batch, batch=True, rules=rules)
    refused = "Not one of this workspace's accepted actions"
    assert [(e.field, e.message[:len(refused)]) for e in failure.value.errors] == [
        ("events[2].action", refused), ("events[3].actor.id", MISSING[:len(refused)]),
        ("events[3].action", refused), ("events[4].action", MALFORMED[:len(refused)])]
    assert "did you mean 'user.login'?" in failure.value.errors[0].message
    assert world.uow.commits == 1 and world.queue.requested == []  # nothing stored
    accepted = world.ingest.execute(world.workspace.id, batch[:2], batch=True,
                                    rules=rules)
    assert len(accepted.event_ids) == 2
    with pytest.raises(ValidationFailed) as failure:
        world.ingest.execute(world.workspace.id, [world.event(action="user.logout")],
                             rules=rules)
    assert [e.field for e in failure.value.errors] == ["action"]  # a single event: unprefixed


def test_processing_links_all_pending_in_chunks_with_geo(world: World) -> None:
    world.ingest.execute(world.workspace.id,
                         [world.event(context={"ip_address": "203.0.113.7"})] * 7, batch=True)
    outcome = world.process.execute(world.workspace.id)
    assert (outcome.linked, outcome.drained) == (7, True)
    with world.uow as uow:
        chain = list(uow.events.iter_chain(world.workspace.id, 1, None, 100))
    assert [e.sequence for e in chain] == list(range(1, 8))
    assert all(e.status == PROCESSED and e.geo == {"country_code": "AU"} for e in chain)
    assert VerifyChain(world.uow, world.log).execute(world.workspace.id).valid


def test_verification_holds_search_entries_against_their_events(world: World) -> None:
    world.ingest.execute(world.workspace.id, [world.event()] * 4, batch=True)
    world.process.execute(world.workspace.id)
    with world.uow as uow:
        [third] = uow.events.iter_chain(world.workspace.id, 3, 3, 100)
    hidden = replace(search_entries(third), actor_id="usr_someone_else")
    world.uow.tamper_search_entries(third.id, hidden)
    report = VerifyChain(world.uow, world.log, chunk_size=2).execute(world.workspace.id)
    assert (report.valid, report.checked, report.first_invalid_sequence, report.event_id,
            report.reason, report.detail) == (False, 3, 3, third.id, HASH_MISMATCH,
                                              SEARCH_ENTRIES)


def test_verifying_the_whole_chain_counts_the_workspace_terms(world: World) -> None:
    world.ingest.execute(world.workspace.id, [world.event(targets=[{"id": "d", "type": "doc"}])]
                         * 3, batch=True)
    world.process.execute(world.workspace.id, max_chunks=1)  # linked
    world.ingest.execute(world.workspace.id, [world.event(targets=[{"id": "d", "type": "doc"}])])
    assert VerifyChain(world.uow, world.log).execute(world.workspace.id).valid  # one still pending
    world.uow.plant_terms(world.workspace.id, 1)
    report = VerifyChain(world.uow, world.log).execute(world.workspace.id)
    assert (report.valid, report.checked, report.first_invalid_sequence, report.reason,
            report.detail) == (False, 3, None, HASH_MISMATCH, SEARCH_ENTRIES)
    assert VerifyChain(world.uow, world.log).execute(world.workspace.id, from_sequence=1).valid


def test_bounded_drain_reports_more_pending(world: World) -> None:
    world.ingest.execute(world.workspace.id, [world.event()] * 7, batch=True)
    first = world.process.execute(world.workspace.id, max_chunks=2)
    assert (first.linked, first.drained) == (6, False)
    second = world.process.execute(world.workspace.id, max_chunks=2)
    assert (second.linked, second.drained) == (1, True)


def test_chunk_handlers_see_each_linked_chunk(world: World) -> None:
    seen: list[list[int]] = []
    process = ProcessPendingEvents(world.uow, world.geo, chunk_size=3,
                                   chunk_handlers=[lambda uow, evs: seen.append(
                                       [e.sequence for e in evs])])
    world.ingest.execute(world.workspace.id, [world.event()] * 4, batch=True)
    process.execute(world.workspace.id)
    assert seen == [[1, 2, 3], [4]]


def test_a_failing_chunk_links_nothing(world: World) -> None:
    def explode(uow: InMemoryUnitOfWork, events: object) -> None:
        raise RuntimeError("crash mid-chunk")
    world.ingest.execute(world.workspace.id, [world.event()] * 2, batch=True)
    with pytest.raises(RuntimeError):
        ProcessPendingEvents(world.uow, world.geo, chunk_handlers=[explode]).execute(
            world.workspace.id)
    assert world.process.execute(world.workspace.id).linked == 2
    assert VerifyChain(world.uow, world.log).execute(world.workspace.id).checked == 2


def test_requeue_only_stale_pending(world: World) -> None:
    upkeep = RequeuePending(world.uow, world.clock, world.queue,
                            stale_after=timedelta(seconds=30))
    world.ingest.execute(world.workspace.id, [world.event()])
    world.queue.requested.clear()
    assert upkeep.execute() == []
    world.clock.advance(seconds=31)
    assert upkeep.execute() == [world.workspace.id]
    assert world.queue.forced  # past a marker whose job may be lost
    world.process.execute(world.workspace.id)
    assert upkeep.execute() == []


def test_processing_status_names_the_workspaces_furthest_behind(world: World) -> None:
    status = GetProcessingStatus(world.uow, world.clock, world.queue)
    assert status.execute(workspaces=5) == ProcessingStatus(0, 0.0, 0, ())
    late, _ = CreateWorkspace(world.uow, world.clock, world.ids, world.keys,
                              world.activity).execute("Late")
    fine, _ = CreateWorkspace(world.uow, world.clock, world.ids, world.keys,
                              world.activity).execute("Fine")
    world.ingest.execute(late.id, [world.event()] * 2)
    world.clock.advance(seconds=30)
    world.ingest.execute(fine.id, [world.event()])
    world.ingest.execute(world.workspace.id, [world.event()])
    world.process.execute(world.workspace.id)  # caught up: not behind
    world.clock.advance(seconds=12)
    report = status.execute(workspaces=5)
    assert (report.pending_events, report.lag_seconds) == (3, 42.0)
    assert report.behind == (WorkspaceLag(late.id, 2, 42.0), WorkspaceLag(fine.id, 1, 12.0))
    assert status.execute(workspaces=1).behind == (WorkspaceLag(late.id, 2, 42.0),)
    assert status.execute().behind == ()  # the metrics scrape asks for none


def test_processing_status_counts_the_workers_the_queue_knows(world: World) -> None:
    status = GetProcessingStatus(world.uow, world.clock, world.queue)
    assert status.execute().workers is None  # the queue cannot tell
    world.queue.listening = 3
    assert status.execute().workers == 3


def test_authenticate_accepts_the_issued_key(world: World) -> None:
    principal = world.authenticate.execute(world.admin.secret, "198.51.100.1")
    assert principal.workspace_id == world.workspace.id
    principal.require("events:write")  # admin implies every scope


@pytest.mark.parametrize("secret", ["", "garbage", "ak_" + "x" * 40, "Basic abc"])
def test_authenticate_refuses_unknown_keys(world: World, secret: str) -> None:
    with pytest.raises(Unauthenticated):
        world.authenticate.execute(secret, "198.51.100.1")


def test_authenticate_refuses_expired_keys(world: World) -> None:
    issued = world.keys.execute(world.workspace.id, "short", ["events:read"],
                                world.clock.now() + timedelta(minutes=1))
    world.authenticate.execute(issued.secret, "198.51.100.1")
    world.clock.advance(minutes=1)
    with pytest.raises(Unauthenticated):
        world.authenticate.execute(issued.secret, "198.51.100.1")


def test_authenticate_checks_allowlist_after_the_key(world: World) -> None:
    from dataclasses import replace
    with world.uow as uow:
        uow.workspaces.update(replace(world.workspace, ip_allowlist=("10.0.0.0/8",)))
        uow.commit()
    with pytest.raises(IpNotAllowed):
        world.authenticate.execute(world.admin.secret, "198.51.100.1")
    assert world.authenticate.execute(world.admin.secret, "10.1.2.3")
    with pytest.raises(Unauthenticated):  # a bad key never learns about the allowlist
        world.authenticate.execute("ak_" + "y" * 40, "198.51.100.1")


def test_scopes_are_enforced(world: World) -> None:
    reader = world.keys.execute(world.workspace.id, "reader", ["events:read"])
    principal = world.authenticate.execute(reader.secret, "198.51.100.1")
    principal.require("events:read")
    with pytest.raises(InsufficientScope):
        principal.require("events:write")


def test_last_used_at_is_written_at_most_once_a_minute(world: World) -> None:
    for _ in range(3):
        world.authenticate.execute(world.admin.secret, "198.51.100.1")
    commits = world.uow.commits
    world.clock.advance(seconds=61)
    world.authenticate.execute(world.admin.secret, "198.51.100.1")
    assert world.uow.commits == commits + 1


def test_get_event_hides_other_workspaces(world: World) -> None:
    [event_id] = world.ingest.execute(world.workspace.id, [world.event()]).event_ids
    other, _ = CreateWorkspace(world.uow, world.clock, world.ids, world.keys,
                              world.activity).execute("Other")
    with pytest.raises(NotFound):
        GetEvent(world.uow).execute(other.id, event_id)


def test_plan_update(world: World) -> None:
    update = UpdateWorkspacePlan(world.uow, world.changes, world.activity)
    updated = update.execute(world.workspace.id, "enterprise", 7000)
    assert updated.rate_limit_per_minute == 7000
    assert update.execute(world.workspace.id, None, 8000).rate_limit_per_minute == 8000
    assert world.changes.announced == 2  # processes caching the old limit drop it
    with pytest.raises(NotFound):
        update.execute("ws_missing", "pro", None)


def test_a_key_is_revoked_from_its_secret_alone(world: World) -> None:
    _, bystander = CreateWorkspace(world.uow, world.clock, world.ids, world.keys,
                              world.activity).execute("B")
    revoke = RevokeKeyBySecret(world.uow,
                               RevokeApiKey(world.uow, world.clock, world.changes,
                                            world.activity),
                               RevokeViewerLink(world.uow, world.clock, world.changes,
                                                world.activity))
    key, already = revoke.execute(world.admin.secret)  # type: ignore[misc]
    assert (key.id, already, world.changes.announced) == (world.admin.key.id, False, 1)
    with pytest.raises(Unauthenticated):
        world.authenticate.execute(world.admin.secret, "198.51.100.1")
    assert world.authenticate.execute(bystander.secret, "198.51.100.1")
    assert revoke.execute(world.admin.secret)[1]  # type: ignore[index]  # already revoked
    assert revoke.execute("ak_" + "x" * 40) is None and revoke.execute("hunter2") is None


def test_deleting_a_workspace_ends_its_access_before_its_data_goes(world: World) -> None:
    other, _ = CreateWorkspace(world.uow, world.clock, world.ids, world.keys,
                              world.activity).execute("Other")
    for workspace_id in (world.workspace.id, other.id):
        world.ingest.execute(workspace_id, [world.event() for _ in range(5)],
                             idempotency_key="k1")
        world.process.execute(workspace_id)
    blobs = FakeBlobStore()
    blobs.blobs = {f"{world.workspace.id}/exp_1.csv": b"x", f"{other.id}/exp_2.csv": b"y"}
    world.uow._store.exports = {
        "exp_1": ExportFactory(id="exp_1", workspace_id=world.workspace.id, format="csv"),
        "exp_2": ExportFactory(id="exp_2", workspace_id=other.id, format="csv")}
    kept = {name: dict(table) for name, table in vars(world.uow._store).items()
            if isinstance(table, dict) and name != "exports"}
    seen_at_announcement: list[tuple[int, bool]] = []

    class Changes(FakeCredentialChanges):
        def announce(self) -> None:
            store = world.uow._store
            seen_at_announcement.append((len(store.events), all(
                key.revoked_at for key in store.api_keys.values()
                if key.workspace_id == world.workspace.id)))

    deletion = DeleteWorkspace(world.uow, blobs, world.clock, Changes(), chunk=2)
    contents = deletion.contents(world.workspace.id)
    assert (contents.events, contents.api_keys, contents.exports) == (5, 1, 1)

    commits = world.uow.commits
    removed = deletion.execute(world.workspace.id)

    assert seen_at_announcement == [(10, True)]  # revoked and announced, nothing deleted yet
    assert blobs.blobs == {f"{other.id}/exp_2.csv": b"y"}
    store = world.uow._store
    assert list(store.workspaces) == [other.id] and list(store.exports) == ["exp_2"]
    assert {event.workspace_id for event in store.events.values()} == {other.id}
    assert all(key.workspace_id == other.id for key in store.api_keys.values())
    assert removed == sum(len(table) - len(getattr(store, name))
                          for name, table in kept.items()) + 2  # its export, and the
    # row that stopped the scheduled checks of its chain (added by the deletion itself)
    assert world.workspace.id not in store.chain_checks
    assert world.uow.commits - commits > removed / 2  # transactions of two rows at most
    with pytest.raises(NotFound):
        deletion.execute(world.workspace.id)


def test_idempotent_retry_returns_the_original_ids_and_stores_nothing(world: World) -> None:
    first = world.ingest.execute(world.workspace.id, [world.event()], idempotency_key="k1")
    again = world.ingest.execute(world.workspace.id, [world.event()], idempotency_key="k1")
    assert again.event_ids == first.event_ids and again.replayed
    assert len(world.uow._store.events) == 1
    assert world.queue.requested == [world.workspace.id]


def test_a_receipt_names_each_accepted_event_and_its_digest_signed_by_the_log(
        world: World) -> None:
    accepted = world.ingest.execute(world.workspace.id, [world.event(), world.event()],
                                    batch=True, receipt=True)
    text = world.log.keys.signed_by_log(world.workspace.id, accepted.receipt or "")
    assert text is not None
    receipt = parse_receipt(text)
    events = [world.uow._store.events[event_id] for event_id in accepted.event_ids]
    assert receipt.origin == world.log.origin(world.workspace.id)
    assert receipt.received_at == events[0].received_at
    assert [(e.event_id, e.digest) for e in receipt.entries] == \
        [(event.id, accepted_digest(event.core())) for event in events]
    assert world.ingest.execute(world.workspace.id, [world.event()]).receipt is None


def test_a_retry_gets_the_receipt_of_the_stored_events_even_once_processed(
        world: World) -> None:
    first = world.ingest.execute(world.workspace.id, [world.event(), world.event()],
                                 batch=True, idempotency_key="k1", receipt=True)
    world.process.execute(world.workspace.id)
    again = world.ingest.execute(world.workspace.id, [world.event(), world.event()],
                                 batch=True, idempotency_key="k1", receipt=True)
    assert again.replayed and again.receipt == first.receipt
    assert world.ingest.execute(world.workspace.id, [world.event(), world.event()],
                                batch=True, idempotency_key="k1").receipt is None


def test_a_retry_whose_events_are_gone_gets_no_receipt(world: World) -> None:
    first = world.ingest.execute(world.workspace.id, [world.event(), world.event()],
                                 batch=True, idempotency_key="k1", receipt=True)
    del world.uow._store.events[first.event_ids[1]]
    again = world.ingest.execute(world.workspace.id, [world.event(), world.event()],
                                 batch=True, idempotency_key="k1", receipt=True)
    assert again.replayed and again.event_ids == first.event_ids
    assert again.receipt is None


def test_idempotency_key_with_another_body_conflicts(world: World) -> None:
    world.ingest.execute(world.workspace.id, [world.event()], idempotency_key="k1")
    with pytest.raises(Conflict):
        world.ingest.execute(world.workspace.id, [world.event(action="other")],
                             idempotency_key="k1")
    with pytest.raises(Conflict):  # same body, other endpoint
        world.ingest.execute(world.workspace.id, [world.event()], batch=True,
                             idempotency_key="k1")


def test_idempotency_keys_are_per_workspace_and_expire(world: World) -> None:
    other, _ = CreateWorkspace(world.uow, world.clock, world.ids, world.keys,
                              world.activity).execute("Other")
    first = world.ingest.execute(world.workspace.id, [world.event()], idempotency_key="k1")
    elsewhere = world.ingest.execute(other.id, [world.event()], idempotency_key="k1")
    assert elsewhere.event_ids != first.event_ids and not elsewhere.replayed
    world.clock.advance(hours=24)
    later = world.ingest.execute(world.workspace.id, [world.event(action="x")],
                                 idempotency_key="k1")
    assert not later.replayed
    assert PurgeIdempotencyKeys(world.uow, world.clock).execute() == 1  # "other"'s k1 expired


def test_invalid_requests_do_not_burn_the_key(world: World) -> None:
    with pytest.raises(ValidationFailed):
        world.ingest.execute(world.workspace.id, [world.event(action="bad action")],
                             idempotency_key="k1")
    assert not world.ingest.execute(world.workspace.id, [world.event()],
                                    idempotency_key="k1").replayed


def test_search_pages_through_everything_once_with_exact_totals(world: World) -> None:
    from application.use_cases.search_events import SearchEvents
    from domain.event_search import EventFilters
    world.ingest.execute(world.workspace.id, [world.event()] * 7, batch=True)
    world.process.execute(world.workspace.id)
    world.ingest.execute(world.workspace.id, [world.event(action="user.logout")] * 2,
                         batch=True)
    from application.counting import EventCounter
    search = SearchEvents(world.uow, EventCounter())
    seen, cursor = [], None
    while True:
        page = search.execute(world.workspace.id, EventFilters(), limit=4, cursor=cursor)
        assert page.total_count == 9
        seen += [event.id for event in page.items]
        if not page.has_more:
            assert page.next_cursor is None
            break
        cursor = page.next_cursor
    assert len(seen) == len(set(seen)) == 9
    assert search.execute(world.workspace.id, EventFilters(status="pending")).total_count == 2
    assert search.execute(world.workspace.id,
                          EventFilters(status="processed")).total_count == 7
    assert search.execute(world.workspace.id,
                          EventFilters(action="user.logout")).total_count == 2


def test_searches_and_stats_run_under_the_time_limit_they_are_given(world: World) -> None:
    from application.counting import EventCounter
    from application.use_cases.event_stats import CountEvents
    from application.use_cases.search_events import SearchEvents

    ws = world.workspace.id
    SearchEvents(world.uow, EventCounter(), time_limit=2.5).execute(ws, EventFilters())
    CountEvents(world.uow, time_limit=2.5).execute(ws, EventFilters(), "action")
    assert world.uow.time_limits[-2:] == [2.5, 2.5]
    SearchEvents(world.uow, EventCounter(), time_limit=0).execute(ws, EventFilters())
    CountEvents(world.uow).execute(ws, EventFilters(), "action")
    assert world.uow.time_limits[-2:] == [None, None]


def test_repeated_counts_are_incremental_and_exact(world: World) -> None:
    from application.counting import EventCounter
    from domain.event_search import EventFilters

    class Spy:
        def __init__(self, events) -> None:  # type: ignore[no-untyped-def]
            self.events, self.full = events, 0

        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(self.events, name)

        def count(self, workspace_id, filters):  # type: ignore[no-untyped-def]
            self.full += 1
            return self.events.count(workspace_id, filters)

    counter = EventCounter()
    filters = EventFilters(action="user.logout")
    world.ingest.execute(world.workspace.id, [world.event(action="user.logout")] * 4 +
                         [world.event()] * 3, batch=True)
    world.process.execute(world.workspace.id)
    with world.uow as uow:
        uow.events = spy = Spy(uow.events)
        assert counter.count(uow, world.workspace.id, filters) == 4
        assert spy.full == 1
    world.ingest.execute(world.workspace.id, [world.event(action="user.logout")] * 5,
                         batch=True)
    world.process.execute(world.workspace.id, max_chunks=1)  # 3 linked, 2 still pending
    with world.uow as uow:
        uow.events = spy = Spy(uow.events)
        assert counter.count(uow, world.workspace.id, filters) == 9
        assert counter.count(uow, world.workspace.id, EventFilters(
            action="user.logout", status="pending")) == 2
        assert spy.full == 0  # only the new slice and the pending ones were counted


def test_event_stats_count_the_largest_groups_and_the_rest(world: World) -> None:
    from application.use_cases.event_stats import CountEvents

    ws = world.workspace.id
    world.ingest.execute(ws, [world.event(actor={"id": f"u{n % 3}", "type": "user"})
                              for n in range(7)], batch=True)
    world.process.execute(ws)
    stats = CountEvents(world.uow).execute(ws, EventFilters(), "actor_id", limit=2)
    assert [(g.value, g.count) for g in stats.groups] == [("u0", 3), ("u1", 2)]
    assert (stats.total, stats.other) == (7, 2)
    narrowed = CountEvents(world.uow).execute(ws, EventFilters(actor_id="u2"), "action")
    assert [(g.value, g.count) for g in narrowed.groups] == [("user.login", 2)]
