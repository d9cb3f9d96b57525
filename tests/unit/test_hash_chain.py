from datetime import UTC, datetime

from domain.events import PROCESSED, Event
from domain.hash_chain import GENESIS_HASH, ChainHead, event_hash, link
from tests.factories import EventFactory

FIXED = Event(
    id="evt_01JD0000000000000000000000", workspace_id="ws_01JD0000000000000000000000",
    action="user.login_failed",
    occurred_at=datetime(2026, 11, 26, 13, 31, 45, 123456, tzinfo=UTC),
    received_at=datetime(2026, 11, 26, 13, 31, 46, tzinfo=UTC),
    actor={"id": "usr_42", "type": "user", "name": "Jane Roe", "metadata": {"role": "admin"}},
    targets=[{"id": "doc_7", "type": "document", "name": "Q4 plan", "metadata": {}}],
    context={"ip_address": "203.0.113.7", "user_agent": "Mozilla/5.0"},
    metadata={"reason": "bad_password", "attempt": 3, "score": 0.5, "ünï": "cödé"},
    geo={"country_code": "AU", "country": "Australia", "region": None, "city": None,
         "latitude": -33.494, "longitude": 143.2104, "timezone": "Australia/Sydney"},
)

PINNED_HASH = "f4cd1d26a5c3688e27b66ba1954c3444e09b2d30862a7e48e3e1d228b5fdc72b"


def test_pinned_hash_of_a_fixed_event_never_drifts() -> None:
    """If this fails, the canonical form changed and every stored chain would break."""
    [linked], head = link(ChainHead(), [FIXED])
    assert linked.hash == PINNED_HASH
    assert head == ChainHead(1, PINNED_HASH)


def test_hash_is_sha256_of_prev_newline_jcs_core() -> None:
    import hashlib
    core = {"b": 1.0, "a": "x"}
    assert event_hash(GENESIS_HASH, core) == hashlib.sha256(
        (GENESIS_HASH + '\n{"a":"x","b":1}').encode()).hexdigest()


def test_link_numbers_and_chains_in_order() -> None:
    events = EventFactory.build_batch(3)
    linked, head = link(ChainHead(), events)
    assert [e.sequence for e in linked] == [1, 2, 3]
    assert all(e.status == PROCESSED for e in linked)
    assert linked[0].prev_hash == GENESIS_HASH
    assert linked[1].prev_hash == linked[0].hash and linked[2].prev_hash == linked[1].hash
    assert head == ChainHead(3, linked[2].hash)
    more, _ = link(head, EventFactory.build_batch(1))
    assert more[0].sequence == 4 and more[0].prev_hash == head.hash


def test_hash_covers_every_returned_field() -> None:
    [base], _ = link(ChainHead(), [FIXED])
    document = base.document()
    for key in document:
        if key in ("status", "prev_hash", "hash"):
            continue
        tampered = {k: v for k, v in document.items()
                    if k not in ("status", "prev_hash", "hash")}
        tampered[key] = "changed"
        assert event_hash(GENESIS_HASH, tampered) != base.hash, key
