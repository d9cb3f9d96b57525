from dataclasses import replace
from typing import Any

import pytest

from domain.hash_chain import ChainHead, document_core, event_hash, link
from domain.verification import (
    HASH_MISMATCH,
    PREV_HASH_MISMATCH,
    SEARCH_ENTRIES,
    SEQUENCE_GAP,
    STATUS,
    ChainVerifier,
    VerificationReport,
    verify_documents,
    verify_partial,
)
from tests.factories import EventFactory


@pytest.fixture
def chain() -> list[dict[str, Any]]:
    linked, _ = link(ChainHead(), EventFactory.build_batch(6))
    return [event.document() for event in linked]


def test_intact_chain_is_valid(chain: list[dict[str, Any]]) -> None:
    report = verify_documents(chain)
    assert report.valid and report.checked == 6
    assert (report.from_sequence, report.to_sequence) == (1, 6)
    assert report.head_hash == chain[-1]["hash"]


def test_changed_byte_in_any_field_is_a_hash_mismatch(chain: list[dict[str, Any]]) -> None:
    chain[2]["actor"]["id"] = "usr_2"
    report = verify_documents(chain)
    assert not report.valid
    assert (report.reason, report.first_invalid_sequence, report.checked) == \
        (HASH_MISMATCH, 3, 3)
    assert report.event_id == chain[2]["id"]


def test_unfindable_event_is_a_hash_mismatch_in_its_search_entries(
        chain: list[dict[str, Any]]) -> None:
    verifier = ChainVerifier()
    assert verifier.feed(chain[0]) and not verifier.feed(chain[1], findable=False)
    report = verifier.finish()
    assert (report.reason, report.detail, report.first_invalid_sequence, report.checked) == \
        (HASH_MISMATCH, SEARCH_ENTRIES, 2, 2)


@pytest.mark.parametrize("check", [verify_documents, verify_partial])
def test_a_document_whose_status_is_not_processed_has_no_place_in_a_chain(
        chain: list[dict[str, Any]], check: Any) -> None:
    """Status is not hashed (it changes on processing), so it is held to what every linked
    event says; its hash matching is what the detail tells."""
    chain[3]["status"] = "pending"
    report = check(chain)
    assert (report.valid, report.reason, report.detail, report.first_invalid_sequence) == \
        (False, HASH_MISMATCH, STATUS, 4)
    del chain[3]["status"]
    assert (check(chain).reason, check(chain).detail) == (HASH_MISMATCH, STATUS)


def test_a_broken_link_is_reported_before_the_search_entries(
        chain: list[dict[str, Any]]) -> None:
    chain[1]["metadata"] = {"forged": True}
    verifier = ChainVerifier()
    verifier.feed(chain[0])
    verifier.feed(chain[1], findable=False)
    assert (verifier.finish().reason, verifier.finish().detail) == (HASH_MISMATCH, None)


@pytest.mark.parametrize("tamper", [
    lambda event: event,
    lambda event: replace(event, metadata={"forged": True}),
    lambda event: replace(event, prev_hash="0" * 64),
    lambda event: replace(event, sequence=9),
    lambda event: replace(event, hash="f" * 64),
])
def test_an_event_as_stored_verifies_as_its_document(tamper: Any) -> None:
    """The database path feeds events, files feed documents: same answers, same leaves."""
    linked, _ = link(ChainHead(), EventFactory.build_batch(4))
    linked[2] = tamper(linked[2])
    by_event, by_document = ChainVerifier(), ChainVerifier()
    for event in linked:
        fed = by_event.feed_event(event)
        assert fed == by_document.feed(event.document())
        if not fed:
            break
        assert by_event.leaf == by_document.leaf
    assert by_event.finish() == by_document.finish()


def test_deleted_event_is_a_gap_at_the_next_sequence(chain: list[dict[str, Any]]) -> None:
    del chain[3]
    report = verify_documents(chain)
    assert (report.reason, report.first_invalid_sequence) == (SEQUENCE_GAP, 5)


def test_swapped_pair_is_caught(chain: list[dict[str, Any]]) -> None:
    chain[1], chain[2] = chain[2], chain[1]
    report = verify_documents(chain)
    assert not report.valid and report.first_invalid_sequence == 3


def test_rewritten_event_with_recomputed_hash_breaks_the_next_link(
        chain: list[dict[str, Any]]) -> None:
    chain[2]["metadata"] = {"forged": True}
    chain[2]["hash"] = event_hash(chain[2]["prev_hash"], document_core(chain[2]))
    report = verify_documents(chain)
    assert (report.reason, report.first_invalid_sequence) == (PREV_HASH_MISMATCH, 4)


def test_tail_deletion_is_caught_against_the_head(chain: list[dict[str, Any]]) -> None:
    head = ChainHead(6, chain[-1]["hash"])
    report = verify_documents(chain[:-1], head=head)
    assert (report.reason, report.first_invalid_sequence) == (SEQUENCE_GAP, 6)


def test_a_slice_trusts_its_first_prev_hash(chain: list[dict[str, Any]]) -> None:
    assert verify_documents(chain[2:], anchor=None).valid
    assert not verify_documents(chain[2:]).valid  # from genesis it is a gap


def slice_of(documents: list[dict[str, Any]], **bounds: Any) -> VerificationReport:
    verifier = ChainVerifier(None, **bounds)
    for document in documents:
        if not verifier.feed(document):
            break
    return verifier.finish()


def test_a_slice_must_start_where_it_was_asked_to(chain: list[dict[str, Any]]) -> None:
    assert slice_of(chain[1:4], start=2, stop=4).valid
    report = slice_of(chain[2:4], start=2, stop=4)  # sequence 2 deleted
    assert (report.reason, report.first_invalid_sequence, report.event_id) == \
        (SEQUENCE_GAP, 3, chain[2]["id"])


def test_a_slice_must_reach_its_stop_or_the_head(chain: list[dict[str, Any]]) -> None:
    head = ChainHead(6, chain[-1]["hash"])
    report = slice_of(chain[1:3], start=2, stop=4, head=head)  # sequence 4 deleted
    assert (report.reason, report.first_invalid_sequence, report.event_id,
            report.checked) == (SEQUENCE_GAP, 4, None, 3)
    assert slice_of(chain[3:5], start=4, head=head).first_invalid_sequence == 6
    empty = slice_of([], start=4, stop=9, head=head)  # every event from 4 deleted
    assert (empty.valid, empty.first_invalid_sequence) == (False, 4)
    assert slice_of([], start=7, head=head).valid  # past the head: nothing to hold


def test_an_event_past_the_head_is_outside_the_chain(chain: list[dict[str, Any]]) -> None:
    wound_back = ChainHead(5, chain[4]["hash"])
    report = verify_documents(chain, head=wound_back)
    assert (report.reason, report.first_invalid_sequence, report.event_id) == \
        (SEQUENCE_GAP, 6, chain[5]["id"])
    assert verify_documents(chain[:5], head=wound_back).valid


def test_a_rewritten_last_event_is_caught_against_the_head(
        chain: list[dict[str, Any]]) -> None:
    """The last event has no successor whose prev_hash would expose a recomputed hash: the
    stored head does."""
    head = ChainHead(6, chain[-1]["hash"])
    chain[-1]["metadata"] = {"forged": True}
    chain[-1]["hash"] = event_hash(chain[-1]["prev_hash"], document_core(chain[-1]))
    assert verify_documents(chain).valid  # without the head nothing can tell
    report = verify_documents(chain, head=head)
    assert (report.reason, report.first_invalid_sequence, report.event_id) == \
        (HASH_MISMATCH, 6, chain[-1]["id"])


def test_a_filtered_export_verifies_as_partial(chain: list[dict[str, Any]]) -> None:
    report = verify_partial([chain[0], chain[2], chain[3], chain[5]])
    assert (report.valid, report.checked, report.from_sequence, report.to_sequence) == \
        (True, 4, 1, 6)


def test_partial_verification_catches_a_changed_byte(chain: list[dict[str, Any]]) -> None:
    chain[2]["actor"]["id"] = "usr_2"
    report = verify_partial([chain[0], chain[2], chain[4]])
    assert (report.valid, report.reason, report.first_invalid_sequence, report.checked) == \
        (False, HASH_MISMATCH, 3, 2)


def test_partial_verification_checks_links_between_neighbours(
        chain: list[dict[str, Any]]) -> None:
    """A rewritten event with a recomputed hash passes its own check; its neighbour's
    prev_hash exposes it whenever the neighbour is in the file."""
    chain[2]["metadata"] = {"forged": True}
    chain[2]["hash"] = event_hash(chain[2]["prev_hash"], document_core(chain[2]))
    assert verify_partial([chain[0], chain[2], chain[5]]).valid  # no neighbour: cannot tell
    report = verify_partial([chain[0], chain[2], chain[3]])
    assert (report.reason, report.first_invalid_sequence) == (PREV_HASH_MISMATCH, 4)


@pytest.mark.parametrize("order", [[0, 2, 1], [0, 2, 2], [0, "x"]])
def test_partial_verification_needs_rising_sequences(chain: list[dict[str, Any]],
                                                     order: list[Any]) -> None:
    documents = [chain[i] if isinstance(i, int) else {**chain[3], "sequence": i}
                 for i in order]
    report = verify_partial(documents)
    assert (report.valid, report.reason, report.checked) == (False, SEQUENCE_GAP, len(order))


def test_missing_fields_do_not_crash(chain: list[dict[str, Any]]) -> None:
    del chain[0]["hash"]
    assert verify_documents(chain).reason == HASH_MISMATCH
    assert verify_documents([{"sequence": "1"}]).reason == SEQUENCE_GAP
