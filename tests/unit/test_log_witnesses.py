"""The log submitting its checkpoints to witnesses, against in-memory witnesses that judge
as ``auditrail witness serve`` does: what is sent, what is kept, how each refusal and
failure shows, and which checkpoint is served as cosigned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from application.errors import Conflict, NotCosigned
from application.ports.witnesses import WitnessAnswer, WitnessUnreachable
from application.use_cases.log_witnesses import (
    AddLogWitness,
    CosignedCheckpoint,
    GetLogWitness,
    RemoveLogWitness,
    RetryLogWitness,
)
from application.use_cases.witness_submissions import (
    COSIGNED,
    FAILED,
    REFUSED,
    UNREACHABLE,
    SubmitToWitness,
    WakeWitnesses,
    WitnessHealth,
)
from application.witness import Witness, logs_by_origin
from domain.cosignatures import cosigned_at, parse_cosigner_key
from domain.errors import ValidationFailed
from domain.log_witnesses import (
    FAILING,
    MAX_WITNESSES_PER_WORKSPACE,
    OK,
    PENDING,
    LogWitness,
)
from domain.log_witnesses import REFUSED as STATUS_REFUSED
from domain.merkle import leaf_hash, root_of
from domain.signed_notes import (
    checkpoint_text,
    parse_checkpoint,
    parse_note,
    parse_verifier_key,
    signature_line,
)
from domain.witnessing import WitnessRefused, add_checkpoint_body
from tests.fakes import FakeClock, FakeMetadataRules, FakeSignatureChecker, FakeSigner
from tests.unit.test_use_cases import World
from tests.unit.test_witness import MemoryLedger

WITNESS_A, WITNESS_B, WITNESS_C = (FakeSigner(b"witness %c" % name) for name in b"abc")


class Channel:
    """Witnesses by URL, answering as the HTTP witness does; ``down`` ones do not."""

    def __init__(self) -> None:
        self.witnesses: dict[str, Witness] = {}
        self.down: set[str] = set()
        self.bodies: list[tuple[str, str]] = []
        self.forged: str | None = None
        """A line answered instead of the witness's own cosignature."""

    def add_checkpoint(self, url: str, body: str) -> WitnessAnswer:
        self.bodies.append((url, body))
        if url in self.down:
            raise WitnessUnreachable("Connection failed (ConnectError).")
        try:
            line = self.witnesses[url].add_checkpoint(body)
        except WitnessRefused as refused:
            text = str(refused.latest_size) if refused.latest_size is not None else \
                str(refused)
            return WitnessAnswer(refused.refusal.value, text)
        return WitnessAnswer(200, self.forged or line)

    def refusal(self, url: str) -> str | None:
        return None


class Setup:
    def __init__(self, world: World | None = None) -> None:
        self.world = world or World()
        self.channel = Channel()
        self.checker = FakeSignatureChecker(self.world.signer, WITNESS_A, WITNESS_B,
                                            WITNESS_C)
        self.add = AddLogWitness(self.world.uow, self.world.clock, self.world.ids,
                                 self.channel, self.world.queue, allow_private=True,
                                 activity=self.world.activity)
        self.submit = SubmitToWitness(self.world.uow, self.world.log, self.channel,
                                      self.checker, self.world.queue, self.world.clock,
                                      lambda: 0.0, timedelta(seconds=30),
                                      self.world.activity)
        self.cosigned = CosignedCheckpoint(self.world.uow)
        self.workspace_id = self.world.workspace.id

    def witness(self, name: str, signer: FakeSigner, url: str) -> tuple[str, Witness]:
        """A witness following this log, served at ``url``, and added to the log."""
        log_key = parse_verifier_key(self.world.log.key(self.workspace_id).verifier_key)
        witness = Witness(name, signer, self.checker, MemoryLedger(),
                          FakeClock(self.world.clock.now()), logs_by_origin([log_key]))
        self.channel.witnesses[url] = witness
        added = self.add.execute(self.workspace_id, {"url": url,
                                                     "verifier_key": witness.verifier_key})
        return added.id, witness

    def grow(self, count: int) -> int:
        """Link ``count`` more events and sign the tree; the new size."""
        self.world.ingest.execute(self.workspace_id, [self.world.event()] * count, batch=True)
        self.world.process.execute(self.workspace_id)
        return self.world.log.sign(self.workspace_id).tree_size

    def state(self, witness_id: str):  # type: ignore[no-untyped-def]
        return GetLogWitness(self.world.uow).execute(self.workspace_id, witness_id)


@pytest.fixture
def setup() -> Setup:
    return Setup()


def test_each_new_checkpoint_is_cosigned_with_a_proof_from_the_last(setup: Setup) -> None:
    witness_id, witness = setup.witness("witness.example/a", WITNESS_A, "https://a.example")
    assert setup.state(witness_id).status == PENDING
    size = setup.grow(5)
    assert setup.submit.execute(witness_id) == COSIGNED
    assert (setup.state(witness_id).status, setup.state(witness_id).cosigned_size) == (OK, 5)

    setup.grow(4)
    assert setup.submit.execute(witness_id) == COSIGNED
    old, *_ = setup.channel.bodies[-1][1].split("\n", 1)
    assert old == f"old {size}"  # proved consistent with what the witness held
    assert setup.state(witness_id).cosigned_size == 9
    assert setup.submit.execute(witness_id) is None  # nothing new: nothing sent
    assert len(setup.channel.bodies) == 2

    note = parse_note(setup.cosigned.execute(setup.workspace_id))
    assert parse_checkpoint(note.text).tree_size == 9
    assert cosigned_at(note, parse_cosigner_key(witness.verifier_key),
                       setup.checker.verify) is not None
    assert setup.world.log.signed_by_log(setup.workspace_id, str(
        setup.cosigned.execute(setup.workspace_id))) == note.text  # the log's own signature


def test_the_sweep_wakes_only_witnesses_behind_their_logs_latest(setup: Setup) -> None:
    wake = WakeWitnesses(setup.world.uow, setup.world.clock, setup.world.queue)
    witness_id, _ = setup.witness("witness.example/a", WITNESS_A, "https://a.example")
    setup.grow(3)
    setup.world.queue.deliveries.clear()
    assert wake.execute() == 1 and setup.world.queue.deliveries == [(witness_id, False)]
    setup.submit.execute(witness_id)
    assert wake.execute() == 0
    setup.grow(1)
    assert wake.execute() == 1


def test_a_witness_fed_by_a_monitor_first_is_answered_from_the_size_it_holds(
        setup: Setup) -> None:
    witness_id, witness = setup.witness("witness.example/a", WITNESS_A, "https://a.example")
    setup.grow(4)
    witness.add_checkpoint(add_checkpoint_body(0, [], setup.world.log.latest(
        setup.workspace_id).note))  # as a monitor would have
    setup.grow(3)
    assert setup.submit.execute(witness_id) == COSIGNED
    assert [body.split("\n", 1)[0] for _, body in setup.channel.bodies] == ["old 0", "old 4"]


def forged_history(setup: Setup, size: int) -> str:
    """A checkpoint of another history, signed with the log's key: what a log holding its
    key could show one reader."""
    origin = setup.world.log.origin(setup.workspace_id)
    text = checkpoint_text(origin, size, root_of([leaf_hash(b"x%d" % i) for i in range(size)]))
    signer = setup.world.signer
    return f"{text}\n{signature_line(origin, signer.public_key(), signer.sign(text.encode()))}"


def test_a_witness_shown_another_history_refuses_and_the_log_says_so(setup: Setup) -> None:
    witness_id, witness = setup.witness("witness.example/a", WITNESS_A, "https://a.example")
    witness.add_checkpoint(add_checkpoint_body(0, [], forged_history(setup, 3)))
    setup.grow(5)
    assert setup.submit.execute(witness_id) == REFUSED
    refused = setup.state(witness_id)
    assert refused.status == STATUS_REFUSED and refused.cosigned_size is None
    assert "refused to cosign" in refused.sending.last_error
    assert "does not extend" in refused.sending.last_error  # what the witness said
    assert setup.world.queue.scheduled[-1] == (witness_id, refused.sending.next_attempt_at)
    with pytest.raises(NotCosigned):
        setup.cosigned.execute(setup.workspace_id)
    setup.channel.down.add("https://a.example")
    setup.world.clock.advance(minutes=11)
    assert setup.submit.execute(witness_id) == UNREACHABLE
    assert setup.state(witness_id).status == STATUS_REFUSED  # it still holds that history


def test_a_refusal_is_on_record_once_as_it_starts() -> None:
    from tests.unit.test_activity import Recording
    setup = Setup(Recording())
    witness_id, witness = setup.witness("witness.example/a", WITNESS_A, "https://a.example")
    witness.add_checkpoint(add_checkpoint_body(0, [], forged_history(setup, 3)))
    size = setup.grow(5)
    for answer in (REFUSED, REFUSED, UNREACHABLE):
        if answer == UNREACHABLE:
            setup.channel.down.add("https://a.example")
        assert setup.submit.execute(witness_id) == answer
        setup.world.clock.advance(minutes=11)
    [refusal] = [event for event in setup.world.records()  # type: ignore[attr-defined]
                 if event.action.startswith("auditrail.log_witness.")]
    assert (refusal.action, refusal.actor["type"], refusal.targets) == (
        "auditrail.log_witness.refused", "system",
        [{"id": witness_id, "type": "log_witness", "name": "witness.example/a"}])
    assert refusal.metadata == {"tree_size": size, "held_size": 3}


def test_an_unreachable_witness_fails_then_recovers(setup: Setup) -> None:
    witness_id, _ = setup.witness("witness.example/a", WITNESS_A, "https://a.example")
    setup.grow(2)
    setup.channel.down.add("https://a.example")
    for attempt in range(5):
        assert setup.submit.execute(witness_id) == UNREACHABLE
        if attempt < 4:
            setup.world.clock.advance(minutes=11)  # past any backoff
    failing = setup.state(witness_id)
    assert failing.status == FAILING and failing.sending.failures == 5
    assert failing.sending.last_error == "Connection failed (ConnectError)."
    setup.channel.down.clear()
    assert setup.submit.execute(witness_id) is None  # waiting out its backoff
    retried = RetryLogWitness(setup.world.uow, setup.world.queue).execute(
        setup.workspace_id, witness_id)
    assert retried.sending.next_attempt_at is None
    assert setup.world.queue.deliveries[-1] == (witness_id, True)
    assert setup.submit.execute(witness_id) == COSIGNED
    recovered = setup.state(witness_id)
    assert (recovered.status, recovered.sending.failures) == (OK, 0)


def test_a_witness_waiting_out_its_backoff_is_not_sent_to(setup: Setup) -> None:
    witness_id, _ = setup.witness("witness.example/a", WITNESS_A, "https://a.example")
    setup.grow(2)
    setup.channel.down.add("https://a.example")
    setup.submit.execute(witness_id)
    sent = len(setup.channel.bodies)
    assert setup.submit.execute(witness_id) is None and len(setup.channel.bodies) == sent


def test_an_answer_without_a_valid_cosignature_is_not_kept(setup: Setup) -> None:
    witness_id, _ = setup.witness("witness.example/a", WITNESS_A, "https://a.example")
    setup.grow(2)
    setup.channel.forged = "— witness.example/a AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"  # noqa: E501
    assert setup.submit.execute(witness_id) == FAILED
    assert "without a cosignature that verifies" in setup.state(witness_id).sending.last_error
    with pytest.raises(NotCosigned):
        setup.cosigned.execute(setup.workspace_id)


def test_the_cosigned_checkpoint_has_every_witness_unless_fewer_are_asked_for(
        setup: Setup) -> None:
    a, _ = setup.witness("witness.example/a", WITNESS_A, "https://a.example")
    b, _ = setup.witness("witness.example/b", WITNESS_B, "https://b.example")
    setup.grow(3)
    setup.submit.execute(a)
    setup.submit.execute(b)
    setup.grow(2)
    setup.submit.execute(a)  # b has not cosigned size 5
    both = parse_note(setup.cosigned.execute(setup.workspace_id))
    assert parse_checkpoint(both.text).tree_size == 3
    assert [s.name for s in both.signatures][1:] == ["witness.example/a", "witness.example/b"]
    one = parse_note(setup.cosigned.execute(setup.workspace_id, 1))
    assert parse_checkpoint(one.text).tree_size == 5
    with pytest.raises(NotCosigned, match="fewer than the 3"):
        setup.cosigned.execute(setup.workspace_id, 3)

    RemoveLogWitness(setup.world.uow, setup.world.activity).execute(setup.workspace_id, b)
    alone = parse_note(setup.cosigned.execute(setup.workspace_id))
    assert parse_checkpoint(alone.text).tree_size == 5
    assert [s.name for s in alone.signatures][1:] == ["witness.example/a"]


def test_a_log_without_witnesses_has_no_cosigned_checkpoint(setup: Setup) -> None:
    with pytest.raises(NotCosigned, match="no witnesses"):
        setup.cosigned.execute(setup.workspace_id)


def test_adding_checks_the_url_and_the_key(setup: Setup) -> None:
    log_key = setup.world.log.key(setup.workspace_id).verifier_key
    with pytest.raises(ValidationFailed) as caught:
        setup.add.execute(setup.workspace_id, {"url": "ftp://a.example",
                                               "verifier_key": log_key, "extra": 1})
    assert [e.field for e in caught.value.errors] == ["extra", "url", "verifier_key"]
    private = AddLogWitness(setup.world.uow, setup.world.clock, setup.world.ids,
                            setup.channel, setup.world.queue, allow_private=False,
                            activity=setup.world.activity)
    with pytest.raises(ValidationFailed) as caught:
        private.execute(setup.workspace_id, {"url": "http://127.0.0.1:7380",
                                             "verifier_key": log_key})
    assert {e.field for e in caught.value.errors} == {"url", "verifier_key"}
    with pytest.raises(ValidationFailed, match="invalid") as caught:
        setup.add.execute(setup.workspace_id, {"url": "https://w.example/?log=1",
                                               "verifier_key": log_key})
    assert "base URL" in caught.value.errors[0].message


def test_a_witness_is_added_once_and_a_log_has_few(setup: Setup) -> None:
    _, witness = setup.witness("witness.example/a", WITNESS_A, "https://a.example")
    with pytest.raises(Conflict, match="already"):
        setup.add.execute(setup.workspace_id, {"url": "https://other.example",
                                               "verifier_key": witness.verifier_key})
    for number in range(1, MAX_WITNESSES_PER_WORKSPACE):
        setup.witness(f"witness.example/{number}", FakeSigner(b"%d" % number),
                      f"https://{number}.example")
    with pytest.raises(Conflict, match="the most it may have"):
        setup.witness("witness.example/last", FakeSigner(b"last"), "https://last.example")


def test_the_operator_sees_refusing_witnesses_first_then_failing_ones(setup: Setup) -> None:
    health = WitnessHealth(setup.world.uow, setup.world.clock)
    refusing, _ = setup.witness("witness.example/a", WITNESS_A, "https://a.example")
    failing, _ = setup.witness("witness.example/b", WITNESS_B, "https://b.example")
    fine, _ = setup.witness("witness.example/c", WITNESS_C, "https://c.example")
    setup.channel.witnesses["https://a.example"].add_checkpoint(
        add_checkpoint_body(0, [], forged_history(setup, 3)))
    setup.grow(5)
    setup.channel.down.add("https://b.example")
    for _ in range(5):
        for witness_id in (refusing, failing, fine):
            setup.submit.execute(witness_id)
        setup.world.clock.advance(minutes=11)
    report = health.execute(listed=10)
    assert report.counts == {PENDING: 0, OK: 1, FAILING: 1, STATUS_REFUSED: 1}
    assert [w.id for w in report.troubled] == [refusing, failing]
    assert health.execute().troubled == []  # none listed unless asked


def test_the_lag_is_how_long_the_witness_furthest_behind_has_owed_a_cosignature(
        setup: Setup) -> None:
    health = WitnessHealth(setup.world.uow, setup.world.clock)
    setup.grow(3)
    setup.world.clock.advance(hours=5)  # an older log: its past is not the witness's debt
    witness_id, _ = setup.witness("witness.example/a", WITNESS_A, "https://a.example")
    setup.world.clock.advance(seconds=20)
    assert health.execute().lag_seconds == 20.0
    setup.submit.execute(witness_id)
    assert health.execute().lag_seconds == 0.0

    setup.world.clock.advance(seconds=40)
    setup.grow(2)  # signed now: owed from here, however long since the last cosignature
    setup.world.clock.advance(seconds=7)
    setup.grow(1)  # a newer checkpoint: still owed since the first one not cosigned
    setup.world.clock.advance(seconds=5)
    assert health.execute().lag_seconds == 12.0
    setup.submit.execute(witness_id)
    assert health.execute().lag_seconds == 0.0


def test_the_witnesses_owing_longest_are_listed_first_as_many_as_asked(setup: Setup) -> None:
    health = WitnessHealth(setup.world.uow, setup.world.clock)
    setup.grow(3)
    first, _ = setup.witness("witness.example/a", WITNESS_A, "https://a.example")
    setup.world.clock.advance(seconds=30)
    second, _ = setup.witness("witness.example/b", WITNESS_B, "https://b.example")
    setup.world.clock.advance(seconds=10)
    caught_up, _ = setup.witness("witness.example/c", WITNESS_C, "https://c.example")
    setup.submit.execute(caught_up)
    report = health.execute(listed=10)
    assert [(lag.witness.id, lag.lag_seconds) for lag in report.behind] == [
        (first, 40.0), (second, 10.0)]
    assert report.lag_seconds == 40.0
    assert [lag.witness.id for lag in health.execute(listed=1).behind] == [first]
    unlisted = health.execute()
    assert (unlisted.behind, unlisted.lag_seconds) == ([], 40.0)  # the metric's: no listing


def test_a_checkpoint_dated_further_ahead_than_the_clocks_differ_owes_from_the_last_cosignature(
        ) -> None:
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    added = LogWitness("wit_1", "ws_1", "https://a.example", "key", now - timedelta(days=2))
    cosigned = added.cosigned(8, now - timedelta(hours=3))
    assert not cosigned.behind(8) and cosigned.behind(9) and added.behind(1)
    assert not added.behind(0)  # an empty log's checkpoint is owed nothing
    assert cosigned.owes_since(now - timedelta(minutes=2), now) == now - timedelta(minutes=2)
    assert cosigned.owes_since(now + timedelta(minutes=59), now) == now + timedelta(minutes=59)
    assert cosigned.owes_since(now + timedelta(hours=2), now) == now - timedelta(hours=3)
    assert added.owes_since(now + timedelta(days=9), now) == now - timedelta(days=2)
    assert added.owes_since(None, now) == now - timedelta(days=2)
    assert added.owes_since(now - timedelta(days=30), now) == now - timedelta(days=2)


def test_only_cosignatures_from_the_newest_every_witness_cosigned_are_kept(
        setup: Setup) -> None:
    a, _ = setup.witness("witness.example/a", WITNESS_A, "https://a.example")
    b, _ = setup.witness("witness.example/b", WITNESS_B, "https://b.example")
    for _ in range(3):
        setup.grow(2)
        setup.submit.execute(a)
        setup.submit.execute(b)
    setup.grow(2)
    setup.submit.execute(a)  # size 8 by a alone: 6 is the newest both cosigned
    kept = sorted((size, witness) for _, witness, size in setup.world.uow._store.cosignatures)
    assert kept == [(6, a), (6, b), (8, a)]
    assert parse_checkpoint(parse_note(setup.cosigned.execute(setup.workspace_id)).text
                            ).tree_size == 6
    assert parse_checkpoint(parse_note(setup.cosigned.execute(setup.workspace_id, 1)).text
                            ).tree_size == 8


def test_witnesses_added_and_removed_are_on_the_record_of_a_recording_workspace(
        setup: Setup) -> None:
    from application.counting import EventCounter
    from application.use_cases.search_events import SearchEvents
    from application.use_cases.workspace_settings import UpdateWorkspace
    from domain.activity import Actor
    from domain.event_search import EventFilters
    world, admin = setup.world, Actor("key_1", "api_key", "admin", "203.0.113.7")
    UpdateWorkspace(world.uow, world.changes, world.activity, FakeMetadataRules()).execute(
        world.authenticate.execute(world.admin.secret, "203.0.113.7"),
        {"record_activity": True}, "203.0.113.7", admin)
    witness = Witness("witness.example/a", WITNESS_A, setup.checker, MemoryLedger(),
                      FakeClock(world.clock.now()), logs_by_origin([]))
    added = setup.add.execute(setup.workspace_id, {"url": "https://w.example/base/",
                                                   "verifier_key": witness.verifier_key},
                              admin)
    RemoveLogWitness(world.uow, world.activity).execute(setup.workspace_id, added.id, admin)
    *_, on_record, off_record = SearchEvents(world.uow, EventCounter()).execute(
        setup.workspace_id, EventFilters(), order="asc").items
    assert (on_record.action, on_record.targets) == (
        "auditrail.log_witness.added",
        [{"id": added.id, "type": "log_witness", "name": "witness.example/a"}])
    assert on_record.metadata == {"verifier_key": witness.verifier_key,
                                  "submits_to": "w.example"}
    assert (off_record.action, off_record.metadata) == (
        "auditrail.log_witness.removed", {"verifier_key": witness.verifier_key})
