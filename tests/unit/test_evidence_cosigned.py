"""An export's evidence checked against the checkpoint the log's witnesses cosigned: only a
checkpoint the log's key signed, the named witnesses cosigned and a consistency proof ties
to the export's is accepted."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from domain.cosignatures import cosignature_line, cosigned_message, cosigner_key, parse_cosigner_key
from domain.evidence import EvidenceFailed, cosigned_extension
from domain.merkle import root_of
from domain.signed_notes import (
    VerifierKey,
    b64,
    checkpoint_text,
    key_id,
    parse_checkpoint,
    parse_note,
    signature_line,
)
from tests.fakes import FakeSignatureChecker, FakeSigner
from tests.unit.test_witness import LEAVES, proof

ORIGIN = "log.example/ws_1"
LOG, WITNESS, OTHER = FakeSigner(b"log"), FakeSigner(b"witness"), FakeSigner(b"other")
CHECK = FakeSignatureChecker(LOG, WITNESS, OTHER)
WITNESS_KEY = parse_cosigner_key(cosigner_key("witness.example/w", WITNESS.public_key()))
OTHER_KEY = parse_cosigner_key(cosigner_key("witness.example/o", OTHER.public_key()))
NOW = int(datetime(2026, 12, 5, tzinfo=UTC).timestamp())


def note(size: int, leaves: list[bytes] = LEAVES, *cosigners: tuple[str, FakeSigner]) -> str:
    text = checkpoint_text(ORIGIN, size, root_of(leaves[:size]))
    lines = signature_line(ORIGIN, LOG.public_key(), LOG.sign(text.encode()))
    for name, signer in cosigners:
        lines += cosignature_line(name, signer.public_key(), NOW,
                                  signer.sign(cosigned_message(text, NOW)))
    return f"{text}\n{lines}"


def evidence(cosigned: str, consistency: list[bytes]) -> dict[str, Any]:
    return {"cosigned": {"checkpoint": cosigned, "consistency": [b64(h) for h in consistency]}}


def check(document: dict[str, Any], *cosigners: Any) -> int:
    log = VerifierKey(ORIGIN, key_id(ORIGIN, LOG.public_key()), LOG.public_key())
    exported = parse_checkpoint(parse_note(note(5)).text)
    return cosigned_extension(document.get("cosigned"), exported, log,
                              cosigners or (WITNESS_KEY,), CHECK.verify).tree_size


def test_a_cosigned_checkpoint_extending_the_exports_is_accepted() -> None:
    cosigned = note(9, LEAVES, ("witness.example/w", WITNESS))
    assert check(evidence(cosigned, proof(5, 9))) == 9
    assert check(evidence(note(5, LEAVES, ("witness.example/w", WITNESS)), [])) == 5


def test_what_does_not_tie_the_export_to_what_the_witnesses_saw_is_refused() -> None:
    forked = [*LEAVES[:3], *(b"\x07" * 32 for _ in range(17))]
    cases = {
        "carries no checkpoint cosigned": {},
        "does not extend the export's, of size 5": evidence(
            note(9, forked, ("witness.example/w", WITNESS)), proof(5, 9, forked)),
        "no valid cosignature by witness.example/w": evidence(note(9), proof(5, 9)),
        "the cosigned checkpoint: ": evidence("not a note", []),
    }
    for said, document in cases.items():
        with pytest.raises(EvidenceFailed, match=re.escape(said)):
            check(document)
    both = evidence(note(9, LEAVES, ("witness.example/w", WITNESS)), proof(5, 9))
    with pytest.raises(EvidenceFailed, match=r"no valid cosignature by witness\.example/o"):
        check(both, WITNESS_KEY, OTHER_KEY)  # every witness named must have cosigned
    shorter = evidence(note(4, LEAVES, ("witness.example/w", WITNESS)), [])
    with pytest.raises(EvidenceFailed, match="does not extend"):
        check(shorter)

