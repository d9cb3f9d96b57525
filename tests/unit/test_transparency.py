"""The transparency log's service and proof reader against in-memory fakes: when it signs,
what it refuses to sign, and what the proofs it serves verify against."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from application import tree
from application.errors import InvalidParameter, NotCheckpointed
from application.transparency import TransparencyLog
from application.tree import TreeDiverged
from application.use_cases.countersign_log import CountersignLog
from application.use_cases.log_proofs import LogReader
from application.use_cases.process_pending_events import ProcessPendingEvents
from application.use_cases.processing_status import GetProcessingStatus, SigningLag
from application.use_cases.workspaces import CreateWorkspace
from domain.merkle import verify_consistency, verify_inclusion
from domain.signed_notes import (
    InvalidNote,
    anchor_text,
    checkpoint_text,
    parse_checkpoint,
    parse_note,
    parse_verifier_key,
    signature_by,
    successor_of,
    successors,
)
from domain.timestamps import CLOCK_SKEW
from tests.fakes import FakeSignatureChecker, FakeSigner, _CheckpointRepo
from tests.unit.test_use_cases import World


@pytest.fixture
def world() -> World:
    return World()


def linked(world: World, count: int) -> list[str]:
    ids = world.ingest.execute(world.workspace.id, [world.event()] * count,
                               batch=True).event_ids
    world.process.execute(world.workspace.id)
    return list(ids)


def sizes(world: World) -> list[int]:
    with world.uow as uow:
        return [c.tree_size for c in uow.checkpoints.page(world.workspace.id, "asc", None, 99)]


def test_a_size_is_signed_once_and_its_note_says_what_is_stored(world: World) -> None:
    linked(world, 7)
    first = world.log.sign(world.workspace.id)
    world.clock.advance(seconds=60)
    again = world.log.sign(world.workspace.id, 7)
    assert again == first and sizes(world) == [7]
    parsed = parse_checkpoint(parse_note(first.note).text)
    assert (parsed.origin, parsed.tree_size, parsed.root_hash) == (
        f"log.example/{world.workspace.id}", 7, first.root_hash)
    assert world.log.signed_by_log(world.workspace.id, first.note) is not None
    assert world.log.signed_by_log("ws_other", first.note) is None  # another origin's key


def test_a_workspace_without_events_shows_a_signed_empty_tree(world: World) -> None:
    latest = world.log.latest(world.workspace.id)
    assert latest.tree_size == 0 and sizes(world) == [0]


def signing(world: World) -> World:
    """Processing as the container wires it: the log signs in the chunk's transaction."""
    world.process = ProcessPendingEvents(world.uow, world.geo, chunk_size=3,
                                         chunk_handlers=[world.log.sign_linked])
    return world


def test_processing_signs_at_once_then_no_more_often_than_the_cadence(world: World) -> None:
    world.ingest.execute(world.workspace.id, [world.event()] * 3, batch=True)
    commits = world.uow.commits
    signing(world).process.execute(world.workspace.id)
    assert sizes(world) == [3]
    assert world.uow.commits == commits + 1  # signed in the chunk's own transaction
    linked(world, 2)
    assert sizes(world) == [3]  # too soon for 5: the sweep covers it
    assert world.log.sweep() == 0
    world.clock.advance(seconds=4)  # the cadence (5 s) less the sweep's one-second tick
    assert world.log.sweep() == 1 and sizes(world) == [3, 5]
    world.clock.advance(seconds=60)
    assert world.log.sweep() == 0  # nothing new to cover
    linked(world, 7)  # three chunks: the first is due, the next two are too soon
    assert sizes(world) == [3, 5, 8]


def test_the_sweep_signs_trees_with_leaves_not_every_new_workspace(world: World) -> None:
    assert world.log.sweep() == 0 and sizes(world) == []  # asked for, it would be signed
    linked(world, 3)  # processed without the chunk's signing (as before the log existed)
    assert world.log.sweep() == 1 and sizes(world) == [3]


def test_processing_links_but_does_not_sign_over_a_changed_tree(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    linked(signing(world), 5)  # chunks of 3 and 2: 3 signed, 5 too soon
    world.uow.tamper_leaf(world.workspace.id, 0, bytes(32))
    world.clock.advance(seconds=60)
    linked(world, 1)
    with world.uow as uow:
        assert uow.chains.retained(world.workspace.id).head.sequence == 6
    assert sizes(world) == [3]
    assert "not signing the log of" in caplog.text


def test_status_shows_how_long_processed_events_have_waited_for_a_checkpoint(
        world: World) -> None:
    status = GetProcessingStatus(world.uow, world.clock, world.queue)
    ws = world.workspace.id
    linked(signing(world), 3)  # signed at once
    assert status.execute(workspaces=5).unsigned_events == 0
    world.clock.advance(seconds=1)
    linked(world, 2)  # too soon to sign: owed since these arrived, a second after
    world.clock.advance(seconds=2)
    report = status.execute(workspaces=5)
    assert (report.unsigned_events, report.checkpoint_lag_seconds) == (2, 2.0)
    assert report.unsigned == (SigningLag(ws, 2, 2.0),)
    world.clock.advance(seconds=2)
    assert world.log.sweep() == 1
    report = status.execute(workspaces=5)
    assert (report.unsigned_events, report.checkpoint_lag_seconds, report.unsigned) == (
        0, 0.0, ())
    world.uow.tamper_leaf(ws, 0, bytes(32))  # now nothing is signed over it
    world.clock.advance(seconds=60)
    linked(world, 1)  # arrived 60 s after the last checkpoint: owed since it arrived
    world.clock.advance(seconds=30)
    assert world.log.sweep() == 0
    report = status.execute(workspaces=5)
    assert (report.unsigned_events, report.checkpoint_lag_seconds) == (1, 30.0)
    assert report.unsigned == (SigningLag(ws, 1, 30.0),)


def _dated_ahead(world: World, ahead: timedelta) -> None:
    """As someone writing to the database might: the stored checkpoints' time moved on."""
    store = world.uow._store.checkpoints
    for key, checkpoint in store.items():
        store[key] = replace(checkpoint, created_at=world.clock.now() + ahead)


def test_a_checkpoint_dated_ahead_holds_back_neither_signing_nor_its_alarm(
        world: World) -> None:
    """One UPDATE of its time would otherwise stop the log's signing until then, and
    quiet the lag that watches signing; clocks that differ by less change nothing."""
    status = GetProcessingStatus(world.uow, world.clock, world.queue)
    ws = world.workspace.id
    linked(signing(world), 3)
    _dated_ahead(world, CLOCK_SKEW)
    linked(world, 2)
    assert sizes(world) == [3]  # within the skew: believed, so too soon to sign
    _dated_ahead(world, timedelta(days=365))
    linked(world, 1)
    assert sizes(world) == [3, 6]  # not believed: signed at once
    _dated_ahead(world, timedelta(days=365))
    world.uow.tamper_leaf(ws, 0, bytes(32))  # now nothing is signed over it
    linked(world, 1)
    world.clock.advance(seconds=30)
    assert world.log.sweep() == 0
    report = status.execute(workspaces=5)
    assert (report.unsigned_events, report.checkpoint_lag_seconds) == (1, 30.0)
    assert report.unsigned == (SigningLag(ws, 1, 30.0),)


def test_status_lists_the_logs_waiting_longest_for_a_checkpoint_first() -> None:
    world = World()  # processing that does not sign, as before the log existed
    status = GetProcessingStatus(world.uow, world.clock, world.queue)
    older = world.workspace.id
    linked(world, 4)
    world.clock.advance(seconds=10)
    world.log.sign(older)  # 4 signed, 10 s after they arrived
    world.clock.advance(seconds=5)
    linked(world, 1)  # owed since it arrived, after that checkpoint
    world.workspace = CreateWorkspace(world.uow, world.clock, world.ids,
                                      world.keys, world.activity).execute("Beta")[0]
    newer = world.workspace.id
    world.clock.advance(seconds=1)
    linked(world, 2)  # never signed: owed since its first event arrived
    world.clock.advance(seconds=3)
    report = status.execute(workspaces=5)
    assert report.unsigned == (SigningLag(older, 1, 4.0), SigningLag(newer, 2, 3.0))
    assert (report.unsigned_events, report.checkpoint_lag_seconds) == (3, 4.0)
    assert status.execute(workspaces=1).unsigned == (SigningLag(older, 1, 4.0),)
    assert status.execute().unsigned == ()  # the metrics scrape asks for none


def test_a_changed_tree_is_logged_once_a_minute_not_at_every_sweep(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    linked(signing(world), 3)
    world.uow.tamper_leaf(world.workspace.id, 0, bytes(32))
    world.clock.advance(seconds=60)
    linked(world, 1)  # its chunk refuses to sign: logged
    for _ in range(30):  # a sweep every second meets it too
        world.clock.advance(seconds=1)
        assert world.log.sweep() == 0
    assert caplog.text.count("not signing the log of") == 1
    world.clock.advance(seconds=30)
    assert world.log.sweep() == 0
    assert caplog.text.count("not signing the log of") == 2


def test_processing_signs_an_old_anchor_with_the_first_checkpoint(world: World) -> None:
    linked(world, 6)
    retained_before_the_log(world, 2)
    linked(signing(world), 1)
    assert sizes(world) == [7] and verified(world) == (True, None, None)


def test_a_tree_changed_behind_the_logs_back_is_never_signed_over(world: World) -> None:
    linked(world, 5)
    world.log.sign(world.workspace.id)
    world.uow.tamper_leaf(world.workspace.id, 0, bytes(32))
    linked(world, 2)
    world.clock.advance(seconds=60)
    with pytest.raises(TreeDiverged):
        world.log.sign(world.workspace.id)
    assert world.log.sweep() == 0 and sizes(world) == [5]


def test_a_tree_whose_tiles_were_removed_is_refused_not_crashed_on(world: World) -> None:
    """Missing hashes are tampering too: named by verify, never signed over, and a proof
    says what the log found rather than failing on a missing key."""
    from application.use_cases.verify_chain import VerifyChain
    [event_id, *_] = linked(world, 3)
    world.log.sign(world.workspace.id)
    world.uow.drop_tiles(world.workspace.id)
    report = VerifyChain(world.uow, world.log).execute(world.workspace.id)
    assert (report.valid, report.reason, report.first_invalid_sequence) == (
        False, "tree_mismatch", 1)
    with pytest.raises(TreeDiverged, match="lacks hashes"):
        LogReader(world.uow, world.log).inclusion(world.workspace.id, event_id)
    world.ingest.execute(world.workspace.id, [world.event()] * 2, batch=True)
    with pytest.raises(TreeDiverged):  # no leaf is linked without its place in the tree
        world.process.execute(world.workspace.id)
    with world.uow as uow:
        assert len(uow.events.pending_chunk(world.workspace.id, 10)) == 2
    world.clock.advance(seconds=60)
    assert world.log.sweep() == 0 and sizes(world) == [3]


def test_inclusion_proofs_verify_against_the_signed_root(world: World) -> None:
    ids = linked(world, 11)
    world.log.sign(world.workspace.id)
    ids += linked(world, 6)
    latest = world.log.sign(world.workspace.id)
    reader = LogReader(world.uow, world.log)
    for index, event_id in enumerate(ids):
        proof = reader.inclusion(world.workspace.id, event_id)
        assert (proof.leaf_index, proof.tree_size, proof.checkpoint) == (index, 17, latest.note)
        assert verify_inclusion(index, 17, proof.leaf_hash, proof.path, latest.root_hash)
    old = reader.inclusion(world.workspace.id, ids[10], tree_size=11)
    assert verify_inclusion(10, 11, old.leaf_hash, old.path, old.root_hash)
    with pytest.raises(InvalidParameter, match="larger"):
        reader.inclusion(world.workspace.id, ids[11], tree_size=11)
    with pytest.raises(InvalidParameter, match="No checkpoint of size 12"):
        reader.inclusion(world.workspace.id, ids[0], tree_size=12)


def test_an_event_not_yet_covered_is_not_checkpointed(world: World) -> None:
    linked(world, 2)
    world.log.sign(world.workspace.id)
    [newer] = linked(world, 1)
    [pending] = world.ingest.execute(world.workspace.id, [world.event()], batch=True).event_ids
    reader = LogReader(world.uow, world.log)
    for event_id in (newer, pending):
        with pytest.raises(NotCheckpointed) as refused:
            reader.inclusion(world.workspace.id, event_id)
        assert refused.value.retry_after == 6


def test_consistency_proofs_link_every_earlier_size_to_the_latest(world: World) -> None:
    linked(world, 9)
    latest = world.log.sign(world.workspace.id)
    reader = LogReader(world.uow, world.log)
    for from_size in range(10):
        proof = reader.consistency(world.workspace.id, from_size)
        assert proof.to_root == latest.root_hash
        assert verify_consistency(from_size, 9, proof.from_root, proof.to_root, proof.proof)
    for from_size, to_size in ((10, None), (-1, None), (3, 2), (0, 10)):
        with pytest.raises(InvalidParameter):
            reader.consistency(world.workspace.id, from_size, to_size)


def retained_before_the_log(world: World, up_to: int) -> None:
    """What retention left before the log existed: events removed, an unsigned anchor."""
    from domain.hash_chain import ChainHead
    with world.uow as uow:
        last = next(e for e in uow.events.iter_chain(world.workspace.id, up_to, up_to, 1))
        uow.events.delete_linked(world.workspace.id, up_to)
        uow.chains.save_anchor(world.workspace.id, ChainHead(up_to, last.hash), None)
        uow.commit()


def verified(world: World) -> tuple[bool, str | None, str | None]:
    from application.use_cases.verify_chain import VerifyChain
    report = VerifyChain(world.uow, world.log).execute(world.workspace.id)
    return report.valid, report.reason, report.detail


def test_an_anchor_older_than_the_log_is_adopted_with_the_first_checkpoint(
        world: World) -> None:
    linked(world, 6)
    retained_before_the_log(world, 2)
    assert verified(world) == (False, "anchor_mismatch", "unsigned")
    world.log.latest(world.workspace.id)
    assert verified(world) == (True, None, None)


def test_an_anchor_unsigned_once_the_log_exists_is_never_adopted(world: World) -> None:
    """Someone who moves the anchor and clears its note does not get it signed later."""
    linked(world, 6)
    world.log.sign(world.workspace.id)
    retained_before_the_log(world, 2)
    linked(world, 2)
    world.clock.advance(seconds=60)
    world.log.sign(world.workspace.id)
    assert verified(world) == (False, "anchor_mismatch", "unsigned")


NEXT_KEY = FakeSigner(b"the next key")


def rotated(world: World, *, keep_previous: bool = True) -> None:
    """The world's log restarted with ``NEXT_KEY``, the old one listed as previous (or
    not: changed without listing it)."""
    previous = [world.signer] if keep_previous else []
    world.log = log_of(world, NEXT_KEY, *previous)


def log_of(world: World, signer: FakeSigner, *previous: FakeSigner,
           name: str = "log.example") -> TransparencyLog:
    return TransparencyLog(world.uow, signer, FakeSignatureChecker(signer, *previous),
                           world.clock, name, timedelta(seconds=5), previous=previous)


def verifies(public_key: bytes, message: bytes, signature: bytes) -> bool:
    return FakeSignatureChecker(NEXT_KEY, World().signer).verify(public_key, message,
                                                                signature)


def signers(world: World, note: str) -> list[str]:
    """The key ids whose signature the note carries, checked."""
    key = world.log.key(world.workspace.id)
    found = []
    for vkey in (key.verifier_key, *(old.verifier_key for old in key.previous)):
        parsed_key = parse_verifier_key(vkey)
        try:
            signature = signature_by(parse_note(note), parsed_key)
        except InvalidNote:
            continue
        if verifies(parsed_key.public_key, parse_note(note).text.encode(), signature):
            found.append(parsed_key.key_id.hex())
    return found


def test_after_a_rotation_both_keys_sign_and_the_old_one_hands_the_log_over(
        world: World) -> None:
    linked(world, 5)
    before = world.log.sign(world.workspace.id)
    rotated(world)
    key = world.log.key(world.workspace.id)
    old_id, new_id = key.previous[0].key_id, key.key_id
    assert old_id != new_id and signers(world, before.note) == [old_id]
    # The latest, signed before, is countersigned when asked for (and kept so), so an
    # auditor who pins the new key need not wait for the log to grow.
    latest = world.log.latest(world.workspace.id)
    assert latest.tree_size == 5 and latest.note.startswith(before.note)
    assert signers(world, latest.note) == [new_id, old_id]
    with world.uow as uow:
        assert uow.checkpoints.get(world.workspace.id, 5) == latest
    linked(world, 3)
    world.clock.advance(seconds=60)
    grown = world.log.sign(world.workspace.id)
    assert grown.tree_size == 8 and signers(world, grown.note) == [new_id, old_id]
    assert verified(world) == (True, None, None)
    # The old key names its successor in a note only it could sign.
    handed = successor_of(parse_verifier_key(key.previous[0].verifier_key),
                          [key.previous[0].rotation], verifies)
    assert handed == parse_verifier_key(key.verifier_key)


def test_once_the_old_key_is_dropped_the_log_still_verifies(world: World) -> None:
    linked(world, 4)
    world.log.sign(world.workspace.id)
    rotated(world)
    world.log.latest(world.workspace.id)  # countersigned while both were listed
    world.log = log_of(world, NEXT_KEY)
    assert world.log.key(world.workspace.id).previous == ()
    assert verified(world) == (True, None, None)


def test_a_checkpoint_no_known_key_signed_is_never_countersigned(world: World) -> None:
    """A note planted in the database is served as stored, for whoever checks it to
    catch; the new key does not vouch for it."""
    linked(world, 4)
    world.log.sign(world.workspace.id)
    stranger = log_of(world, FakeSigner(b"someone else"))
    with world.uow as uow:
        stored = uow.checkpoints.get(world.workspace.id, 4)
        assert stored is not None
        forged = stranger.sign_text(world.workspace.id, parse_note(stored.note).text[:-1])
        uow.checkpoints.countersign([(stored, forged)])
        uow.commit()
    rotated(world)
    assert world.log.latest(world.workspace.id).note == forged
    assert verified(world)[:2] == (False, "checkpoint_mismatch")
    outcome = CountersignLog(world.uow, world.log.keys, world.clock).execute()
    assert (outcome.checkpoints, outcome.unreadable) == (
        0, [f"{world.workspace.id}: checkpoint of size 4"])


def test_countersigning_leaves_nothing_stored_that_needs_the_old_key(world: World) -> None:
    linked(world, 6)
    retained_before_the_log(world, 2)
    world.log.sign(world.workspace.id)  # size 6, and the anchor retention had set
    linked(world, 3)
    world.clock.advance(seconds=60)
    world.log.sign(world.workspace.id)  # size 9
    rotated(world)
    seen: list[tuple[int, int, int]] = []
    outcome = CountersignLog(world.uow, world.log.keys, world.clock).execute(
        lambda so_far, read: seen.append((read, so_far.checkpoints, so_far.anchors)))
    assert (outcome.checkpoints, outcome.anchors, outcome.unreadable) == (2, 1, [])
    assert seen == [(2, 2, 0), (3, 2, 1)]  # after the checkpoints' batch, the anchors'
    again = CountersignLog(world.uow, world.log.keys, world.clock).execute()
    assert (again.checkpoints, again.anchors) == (0, 0)  # a rerun finds them done
    world.log = log_of(world, NEXT_KEY)  # the old key dropped
    assert verified(world) == (True, None, None)
    with world.uow as uow:
        for checkpoint in uow.checkpoints.page(world.workspace.id, "asc", None, 9):
            assert world.log.signed_by_log(world.workspace.id, checkpoint.note) is not None


def test_without_countersigning_dropping_the_old_key_loses_the_anchor(world: World) -> None:
    """What ``auditrail signing-key countersign`` is for."""
    linked(world, 6)
    retained_before_the_log(world, 2)
    world.log.sign(world.workspace.id)
    rotated(world)
    world.log.latest(world.workspace.id)  # the latest is countersigned when read anyway
    world.log = log_of(world, NEXT_KEY)
    assert verified(world) == (False, "anchor_mismatch", "signature")


def test_without_a_previous_key_nothing_is_countersigned(world: World) -> None:
    """A key changed without listing the old one: what it signed is not the log's."""
    linked(world, 4)
    before = world.log.sign(world.workspace.id)
    rotated(world, keep_previous=False)
    assert world.log.latest(world.workspace.id).note == before.note
    assert verified(world) == (False, "checkpoint_mismatch", "signature")


def test_after_a_key_lost_for_good_countersigning_adopts_what_the_tree_gives(
        world: World) -> None:
    """AUDITRAIL_SIGNING_KEY_LOST: a quiet workspace's checkpoints and anchor, signed by
    the lost key alone, would stay unverifiable under the new key until its log grew."""
    linked(world, 6)
    retained_before_the_log(world, 2)
    world.log.sign(world.workspace.id)  # size 6, and the anchor, by the key now lost
    linked(world, 3)
    world.clock.advance(seconds=60)
    world.log.sign(world.workspace.id)  # size 9
    rotated(world, keep_previous=False)
    assert verified(world) == (False, "checkpoint_mismatch", "signature")
    assert world.log.stranger() == world.workspace.id  # serve needs SIGNING_KEY_LOST
    refused = CountersignLog(world.uow, world.log.keys, world.clock).execute()
    assert (refused.checkpoints, len(refused.unreadable)) == (0, 3)  # not without adopt
    outcome = CountersignLog(world.uow, world.log.keys, world.clock).execute(adopt=True)
    assert (outcome.checkpoints, outcome.anchors, outcome.adopted, outcome.unreadable) == \
        (2, 1, 3, [])
    assert verified(world) == (True, None, None)
    linked(world, 1)
    world.clock.advance(seconds=60)
    world.log.sign(world.workspace.id)
    assert world.log.stranger() is None  # signed on: the flag is no longer needed
    again = CountersignLog(world.uow, world.log.keys, world.clock).execute(adopt=True)
    assert (again.checkpoints, again.anchors, again.adopted) == (0, 0, 0)


def test_adopted_counts_only_what_this_run_wrote(world: World,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Two operators countersigning at once: the checkpoints the other run wrote first are
    not counted as this one's."""
    linked(world, 6)
    retained_before_the_log(world, 2)
    world.log.sign(world.workspace.id)  # size 6, and the anchor, by the key now lost
    rotated(world, keep_previous=False)
    monkeypatch.setattr(_CheckpointRepo, "countersign", lambda self, notes: 0)
    outcome = CountersignLog(world.uow, world.log.keys, world.clock).execute(adopt=True)
    assert (outcome.checkpoints, outcome.anchors, outcome.adopted) == (0, 1, 1)


def test_adopting_never_signs_a_note_the_stored_tree_and_chain_do_not_give(
        world: World) -> None:
    """Nothing can check the lost key's signatures: notes planted in the database under
    it are refused for what they say - a checkpoint's root the tree does not have, an
    anchor's chain hash the chain does not have."""
    ws = world.workspace.id
    linked(world, 4)
    retained_before_the_log(world, 2)
    world.log.sign(ws)  # size 4, and the anchor at 2
    origin = world.log.origin(ws)
    with world.uow as uow:
        stored = uow.checkpoints.get(ws, 4)
        assert stored is not None
        planted = world.log.sign_text(ws, checkpoint_text(origin, 4, bytes(32)))
        uow.checkpoints.countersign([(stored, planted)])  # by the key now lost
        [(_, anchor)] = uow.chains.signed_anchors(None, 1)
        moved = world.log.sign_text(ws, anchor_text(origin, 2, "0" * 64,
                                                    tree.root(uow, ws, 2)))
        assert uow.chains.countersign_anchor(ws, anchor, moved)
        uow.commit()
    rotated(world, keep_previous=False)
    outcome = CountersignLog(world.uow, world.log.keys, world.clock).execute(adopt=True)
    assert (outcome.checkpoints, outcome.anchors, outcome.adopted, outcome.unreadable) == (
        0, 0, 0, [f"{ws}: checkpoint of size 4", f"{ws}: retention anchor"])
    assert verified(world)[:2] == (False, "checkpoint_mismatch")


def test_a_log_last_signed_by_a_key_the_process_lacks_is_named(world: World) -> None:
    """What ``serve`` and ``worker`` check at start (they refuse it, naming the way out)."""
    assert world.log.stranger() is None  # nothing signed yet
    linked(world, 3)
    world.log.sign(world.workspace.id)
    assert world.log.stranger() is None
    old = world.log
    rotated(world)
    assert world.log.stranger() is None  # signed by the key it replaced
    linked(world, 2)
    world.clock.advance(seconds=60)
    world.log.sign(world.workspace.id)  # the new key first, the old one co-signing
    assert world.log.stranger() is None
    assert old.stranger() == world.workspace.id  # a machine still on the old key alone
    assert log_of(world, FakeSigner(b"a typo")).stranger() == world.workspace.id
    renamed = log_of(world, NEXT_KEY, name="audit.example")
    assert renamed.stranger() == world.workspace.id  # the same key under another name


THIRD_KEY = FakeSigner(b"the key after the next")


def test_countersigning_keeps_the_rotation_notes_that_outlive_the_old_key(
        world: World) -> None:
    linked(world, 4)
    world.log.sign(world.workspace.id)
    rotated(world)
    outcome = CountersignLog(world.uow, world.log.keys, world.clock).execute()
    assert outcome.rotations == 1
    assert CountersignLog(world.uow, world.log.keys, world.clock).execute().rotations == 0
    listed = world.log.key(world.workspace.id).previous
    world.log = log_of(world, NEXT_KEY)  # the old key dropped from the settings
    key = world.log.key(world.workspace.id)
    assert key.previous == listed  # served from what was kept, the same note
    assert successor_of(parse_verifier_key(key.previous[0].verifier_key),
                        [key.previous[0].rotation], verifies) == \
        parse_verifier_key(key.verifier_key)
    # With nothing kept, the dropped key would be gone from GET /log/key.
    other = CreateWorkspace(world.uow, world.clock, world.ids,
                            world.keys, world.activity).execute("Other")[0]
    assert world.log.key(other.id).previous == ()


def test_rotation_notes_kept_over_two_rotations_lead_from_the_first_key_to_the_last(
        world: World) -> None:
    first = world.signer
    linked(world, 4)
    world.log.sign(world.workspace.id)
    rotated(world)
    CountersignLog(world.uow, world.log.keys, world.clock).execute()
    world.clock.advance(days=30)
    world.log = log_of(world, THIRD_KEY, NEXT_KEY)  # the first key dropped, then rotated
    CountersignLog(world.uow, world.log.keys, world.clock).execute()
    world.log = log_of(world, THIRD_KEY)
    key = world.log.key(world.workspace.id)
    assert [parse_verifier_key(old.verifier_key).public_key for old in key.previous] == \
        [NEXT_KEY.public_key(), first.public_key()]  # the newest first
    check = FakeSignatureChecker(first, NEXT_KEY, THIRD_KEY).verify
    start = parse_verifier_key(key.previous[1].verifier_key)
    assert successors(start, [old.rotation for old in key.previous], check) == \
        [parse_verifier_key(key.previous[0].verifier_key), parse_verifier_key(key.verifier_key)]
    assert verified(world) == (True, None, None)


def test_a_process_with_the_new_key_alone_starts_on_a_countersigned_checkpoint(
        world: World) -> None:
    """Rotated, countersigned and the old key dropped before anything new was signed: the
    latest checkpoint is still first-signed by the old key, but the log handed it over."""
    linked(world, 3)
    world.log.sign(world.workspace.id)
    rotated(world)
    CountersignLog(world.uow, world.log.keys, world.clock).execute()
    world.log = log_of(world, NEXT_KEY)
    assert world.log.stranger() is None
    # A machine left on a key retired since still finds another key's signature last.
    world.log = log_of(world, THIRD_KEY, NEXT_KEY)
    CountersignLog(world.uow, world.log.keys, world.clock).execute()
    assert log_of(world, NEXT_KEY).stranger() == world.workspace.id
    assert log_of(world, THIRD_KEY).stranger() is None
    assert log_of(world, FakeSigner(b"a typo")).stranger() == world.workspace.id


def test_without_countersigning_a_process_with_the_new_key_alone_is_refused(
        world: World) -> None:
    linked(world, 3)
    world.log.sign(world.workspace.id)
    rotated(world)
    world.log.latest(world.workspace.id)  # countersigned, but no rotation note kept
    assert log_of(world, NEXT_KEY).stranger() == world.workspace.id


def test_tiles_and_bundles_reach_as_far_as_the_latest_checkpoint(world: World) -> None:
    from application.errors import NotFound
    from application.use_cases.log_tiles import LogTiles
    from domain.merkle import leaf_hash
    from domain.tile_paths import TilePath, split_bundle

    ws = world.workspace.id
    linked(world, 300)
    world.log.sign(ws)
    linked(world, 10)  # linked, not signed yet
    tiles = LogTiles(world.uow, world.log)
    full, edge = tiles.tile(ws, TilePath(0, 0)), tiles.tile(ws, TilePath(0, 1, 44))
    assert (len(full), len(edge)) == (256 * 32, 44 * 32)
    leaves = [full[i:i + 32] for i in range(0, len(full), 32)]
    with world.uow as uow:
        assert tiles.tile(ws, TilePath(1, 0, 1)) == tree.root(uow, ws, 256)
    assert tiles.tile(ws, TilePath(0, 1, 3)) == edge[:96]
    entries = split_bundle(tiles.entries(ws, TilePath(0, 0)))
    assert [leaf_hash(entry) for entry in entries] == leaves
    assert len(split_bundle(tiles.entries(ws, TilePath(0, 1, 44)))) == 44
    for beyond in (TilePath(0, 1, 45), TilePath(0, 1), TilePath(1, 0), TilePath(2, 0, 1)):
        with pytest.raises(NotFound):
            tiles.tile(ws, beyond)
    with pytest.raises(NotFound):
        tiles.entries(ws, TilePath(0, 1, 50))  # the ten newest wait for a checkpoint
    world.log.sign(ws)
    assert len(split_bundle(tiles.entries(ws, TilePath(0, 1, 54)))) == 54
