"""A witness (C2SP tlog-witness, tlog-cosignature): it cosigns a log's checkpoint only
when it extends the last one it cosigned, and refuses everything else with the status the
protocol gives, leaving what it remembers as it was."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from application.witness import Witness, logs_by_origin, origin_hash
from domain.cosignatures import (
    COSIGNATURE_V1,
    cosigned_at,
    cosigned_message,
    cosigner_key,
    parse_cosigner_key,
)
from domain.merkle import (
    EMPTY_ROOT,
    consistency_ranges,
    hashes_of,
    leaf_hash,
    perfect_nodes_from_leaves,
    root_of,
)
from domain.signed_notes import (
    InvalidNote,
    checkpoint_text,
    key_id,
    parse_note,
    parse_verifier_key,
    signature_line,
    verifier_key,
)
from domain.witnessing import (
    MAX_PROOF_LINES,
    Refusal,
    Witnessed,
    WitnessRefused,
    add_checkpoint_body,
)
from tests.fakes import FakeClock, FakeSignatureChecker, FakeSigner

ORIGIN = "log.example/ws_1"
LOG, STRANGER, WITNESS = FakeSigner(b"log"), FakeSigner(b"stranger"), FakeSigner(b"witness")
CHECK = FakeSignatureChecker(LOG, STRANGER, WITNESS)
NAME = "witness.example/w1"
LEAVES = [leaf_hash(f"event {i}".encode()) for i in range(20)]
FORKED = [*LEAVES[:7], *(leaf_hash(f"rewritten {i}".encode()) for i in range(7, 20))]


class MemoryLedger:
    def __init__(self) -> None:
        self.rows: dict[str, tuple[Witnessed, str]] = {}
        self.lose_races = False
        self.meanwhile: Callable[[], None] = lambda: None
        """What happens between a request's judging and its recording."""

    def latest(self, origin: str) -> Witnessed | None:
        row = self.rows.get(origin)
        return row[0] if row else None

    def advance(self, origin: str, held: Witnessed | None, witnessed: Witnessed,
                note: str) -> bool:
        self.meanwhile()
        if self.lose_races or self.latest(origin) != held:
            return False
        self.rows[origin] = (witnessed, note)
        return True

    def note(self, hashed: str) -> str | None:
        for origin, (_, note) in self.rows.items():
            if origin_hash(origin) == hashed:
                return note
        return None


def checkpoint(size: int, leaves: list[bytes] = LEAVES, signer: FakeSigner = LOG,
               origin: str = ORIGIN) -> str:
    text = checkpoint_text(origin, size, root_of(leaves[:size]))
    return f"{text}\n{signature_line(origin, signer.public_key(), signer.sign(text.encode()))}"


def proof(old: int, new: int, leaves: list[bytes] = LEAVES) -> list[bytes]:
    nodes = perfect_nodes_from_leaves(leaves[:new])
    return hashes_of(consistency_ranges(old, new), nodes.__getitem__)


@pytest.fixture
def ledger() -> MemoryLedger:
    return MemoryLedger()


@pytest.fixture
def witness(ledger: MemoryLedger) -> Witness:
    logs = logs_by_origin([parse_verifier_key(verifier_key(ORIGIN, LOG.public_key()))])
    return Witness(NAME, WITNESS, CHECK, ledger,
                   FakeClock(datetime(2026, 12, 5, 12, 0, tzinfo=UTC)), logs)


def refused(witness: Witness, body: str) -> WitnessRefused:
    with pytest.raises(WitnessRefused) as caught:
        witness.add_checkpoint(body)
    return caught.value


def test_the_first_checkpoint_is_cosigned_and_remembered(witness: Witness,
                                                         ledger: MemoryLedger) -> None:
    note = checkpoint(5)
    line = witness.add_checkpoint(add_checkpoint_body(0, [], note))
    key = parse_cosigner_key(witness.verifier_key)
    timestamp = int(datetime(2026, 12, 5, 12, 0, tzinfo=UTC).timestamp())
    assert cosigned_at(parse_note(note + line), key, CHECK.verify) == timestamp
    assert ledger.latest(ORIGIN) == Witnessed(5, root_of(LEAVES[:5]))


def test_a_checkpoint_that_extends_the_last_is_cosigned(witness: Witness,
                                                        ledger: MemoryLedger) -> None:
    witness.add_checkpoint(add_checkpoint_body(0, [], checkpoint(5)))
    witness.add_checkpoint(add_checkpoint_body(5, proof(5, 13), checkpoint(13)))
    assert ledger.latest(ORIGIN) == Witnessed(13, root_of(LEAVES[:13]))


def test_another_history_gets_no_cosignature(witness: Witness, ledger: MemoryLedger) -> None:
    witness.add_checkpoint(add_checkpoint_body(0, [], checkpoint(10)))
    fork = refused(witness, add_checkpoint_body(10, proof(10, 16, FORKED),
                                                checkpoint(16, FORKED)))
    assert fork.refusal is Refusal.INCONSISTENT
    assert "does not extend the one of size 10" in str(fork)
    same_size = refused(witness, add_checkpoint_body(10, [], checkpoint(10, FORKED)))
    assert same_size.refusal is Refusal.INCONSISTENT
    assert ledger.latest(ORIGIN) == Witnessed(10, root_of(LEAVES[:10]))


def test_the_same_checkpoint_again_is_cosigned_again(witness: Witness) -> None:
    witness.add_checkpoint(add_checkpoint_body(0, [], checkpoint(10)))
    assert witness.add_checkpoint(add_checkpoint_body(10, [], checkpoint(10)))


def test_a_stale_old_size_is_answered_with_the_size_cosigned(witness: Witness) -> None:
    witness.add_checkpoint(add_checkpoint_body(0, [], checkpoint(10)))
    stale = refused(witness, add_checkpoint_body(5, proof(5, 12), checkpoint(12)))
    assert (stale.refusal, stale.latest_size) == (Refusal.STALE, 10)
    restart = refused(witness, add_checkpoint_body(0, [], checkpoint(12)))
    assert (restart.refusal, restart.latest_size) == (Refusal.STALE, 10)


def test_a_request_that_lost_the_race_is_stale(witness: Witness,
                                               ledger: MemoryLedger) -> None:
    ledger.lose_races = True
    lost = refused(witness, add_checkpoint_body(0, [], checkpoint(3)))
    assert (lost.refusal, lost.latest_size) == (Refusal.STALE, 0)


def test_a_request_judged_against_a_history_forgotten_meanwhile_is_stale(
        witness: Witness, ledger: MemoryLedger) -> None:
    """The operator ran ``witness forget`` and another history of the same size was
    cosigned while a request that extends the first was being judged: same size, another
    root, so it must not be recorded on top."""
    witness.add_checkpoint(add_checkpoint_body(0, [], checkpoint(10)))
    other = Witnessed(10, root_of(FORKED[:10]))
    ledger.meanwhile = lambda: ledger.rows.update({ORIGIN: (other, "the other history")})
    stale = refused(witness, add_checkpoint_body(10, proof(10, 16), checkpoint(16)))
    assert (stale.refusal, stale.latest_size) == (Refusal.STALE, 10)
    assert ledger.latest(ORIGIN) == other


def test_only_the_logs_keys_count(witness: Witness) -> None:
    unknown = refused(witness, add_checkpoint_body(0, [], checkpoint(3, origin="other/ws")))
    assert unknown.refusal is Refusal.UNKNOWN_LOG
    stranger = refused(witness, add_checkpoint_body(0, [], checkpoint(3, signer=STRANGER)))
    assert stranger.refusal is Refusal.NOT_SIGNED
    text = checkpoint_text(ORIGIN, 3, root_of(LEAVES[:3]))
    forged = f"{text}\n{signature_line(ORIGIN, LOG.public_key(), bytes(64))}"
    assert refused(witness, add_checkpoint_body(0, [], forged)).refusal is Refusal.NOT_SIGNED


def test_a_log_key_replaced_after_a_loss_must_extend_what_the_witness_held(
        witness: Witness, ledger: MemoryLedger) -> None:
    """A log whose key was lost for good: its witness is given the new key in place of
    the old under the same name, and keeps what it cosigned by that name, so the new
    key's log too must extend it; the lost key signs nothing it accepts any more."""
    witness.add_checkpoint(add_checkpoint_body(0, [], checkpoint(10)))
    replaced = Witness(NAME, WITNESS, CHECK, ledger,
                       FakeClock(datetime(2026, 12, 6, 12, 0, tzinfo=UTC)),
                       logs_by_origin([parse_verifier_key(
                           verifier_key(ORIGIN, STRANGER.public_key()))]))
    fork = refused(replaced, add_checkpoint_body(10, proof(10, 16, FORKED),
                                                 checkpoint(16, FORKED, signer=STRANGER)))
    assert fork.refusal is Refusal.INCONSISTENT
    assert replaced.add_checkpoint(add_checkpoint_body(10, proof(10, 16),
                                                       checkpoint(16, signer=STRANGER)))
    lost = refused(replaced, add_checkpoint_body(16, proof(16, 20), checkpoint(20)))
    assert lost.refusal is Refusal.NOT_SIGNED
    assert ledger.latest(ORIGIN) == Witnessed(16, root_of(LEAVES[:16]))


def test_malformed_requests_are_bad_requests(witness: Witness) -> None:
    note = checkpoint(5)
    for body in (note, f"old 05\n\n{note}", f"old 1\nnot base64!\n\n{note}",
                 f"old 1\n{'AAAA'}\n\n{note}", add_checkpoint_body(6, [], note),
                 add_checkpoint_body(1, [bytes(32)] * (MAX_PROOF_LINES + 1), note),
                 add_checkpoint_body(0, [], "not a note\n")):
        assert refused(witness, body).refusal is Refusal.MALFORMED, body


def test_the_empty_tree_and_proofs_from_it(witness: Witness) -> None:
    text = checkpoint_text(ORIGIN, 0, bytes(32))
    wrong_root = f"{text}\n{signature_line(ORIGIN, LOG.public_key(), LOG.sign(text.encode()))}"
    assert refused(witness, add_checkpoint_body(0, [], wrong_root)).refusal is \
        Refusal.INCONSISTENT
    assert refused(witness, add_checkpoint_body(0, [bytes(32)], checkpoint(4))).refusal is \
        Refusal.INCONSISTENT
    empty = checkpoint_text(ORIGIN, 0, EMPTY_ROOT)
    signed = signature_line(ORIGIN, LOG.public_key(), LOG.sign(empty.encode()))
    witness.add_checkpoint(add_checkpoint_body(0, [], f"{empty}\n{signed}"))
    witness.add_checkpoint(add_checkpoint_body(0, [], checkpoint(4)))


def test_monitors_get_the_log_signature_and_the_cosignature_only(witness: Witness) -> None:
    text = checkpoint_text(ORIGIN, 3, root_of(LEAVES[:3]))
    extra = signature_line("stranger.example", STRANGER.public_key(),
                           STRANGER.sign(text.encode()))
    witness.add_checkpoint(add_checkpoint_body(0, [], checkpoint(3) + extra))
    served = witness.checkpoint(hashlib.sha256(ORIGIN.encode()).hexdigest())
    assert served is not None
    signers = [signature.name for signature in parse_note(served).signatures]
    assert signers == [ORIGIN, NAME]
    assert witness.checkpoint("0" * 64) is None


def test_cosigner_keys_are_of_their_own_type() -> None:
    key = cosigner_key(NAME, WITNESS.public_key())
    parsed = parse_cosigner_key(key)
    assert parsed.key_id == key_id(NAME, WITNESS.public_key(), COSIGNATURE_V1)
    assert parsed.key_id != key_id(NAME, WITNESS.public_key())
    with pytest.raises(InvalidNote):
        parse_verifier_key(key)  # a log's key it is not
    with pytest.raises(InvalidNote):
        parse_cosigner_key(verifier_key(NAME, WITNESS.public_key()))


def test_the_cosigned_message_is_the_header_the_time_and_the_checkpoint() -> None:
    text = checkpoint_text(ORIGIN, 3, root_of(LEAVES[:3]))
    assert cosigned_message(text, 1679315147) == \
        b"cosignature/v1\ntime 1679315147\n" + text.encode()
    with pytest.raises(InvalidNote):
        cosigned_message(text, 0)
