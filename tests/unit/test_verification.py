from typing import Any

import pytest

from domain.hash_chain import ChainHead, link
from domain.verification import (
    HASH_MISMATCH,
    PREV_HASH_MISMATCH,
    SEQUENCE_GAP,
    verify_documents,
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
    from domain.hash_chain import document_core, event_hash
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


def test_missing_fields_do_not_crash(chain: list[dict[str, Any]]) -> None:
    del chain[0]["hash"]
    assert verify_documents(chain).reason == HASH_MISMATCH
    assert verify_documents([{"sequence": "1"}]).reason == SEQUENCE_GAP
