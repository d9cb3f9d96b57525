"""Rotation notes (docs/transparency.md, "Rotating the signing key"): a monitor follows a
key's hand-over only when that key signed it, for its own log, to another key."""

from __future__ import annotations

import pytest

from domain.signed_notes import (
    InvalidNote,
    parse_rotation,
    parse_verifier_key,
    rotation_text,
    signature_line,
    successor_of,
    verifier_key,
)
from tests.fakes import FakeSignatureChecker, FakeSigner

ORIGIN = "log.example/ws_1"
OLD, NEW, STRANGER = FakeSigner(b"old"), FakeSigner(b"new"), FakeSigner(b"stranger")
CHECK = FakeSignatureChecker(OLD, NEW, STRANGER).verify


def vkey(signer: FakeSigner, origin: str = ORIGIN) -> str:
    return verifier_key(origin, signer.public_key())


def rotation(signer: FakeSigner, successor: str, origin: str = ORIGIN) -> str:
    text = rotation_text(origin, successor)
    return f"{text}\n{signature_line(origin, signer.public_key(), signer.sign(text.encode()))}"


def test_the_old_key_hands_its_log_to_the_new_one() -> None:
    pinned = parse_verifier_key(vkey(OLD))
    assert successor_of(pinned, [rotation(OLD, vkey(NEW))], CHECK) == \
        parse_verifier_key(vkey(NEW))


@pytest.mark.parametrize("note", [
    rotation(STRANGER, vkey(STRANGER)),  # signed by someone else, naming themselves
    rotation(OLD, vkey(NEW, "log.example/ws_2"), "log.example/ws_2"),  # another log's
    rotation(OLD, vkey(OLD)),  # to itself
    rotation(OLD, vkey(NEW)).replace("key rotation", "key  rotation"),
    rotation(OLD, vkey(NEW))[:-2] + "A\n",  # its signature altered
    "not a note",
])
def test_anything_else_is_not_followed(note: str) -> None:
    assert successor_of(parse_verifier_key(vkey(OLD)), [note], CHECK) is None


def test_a_rotation_names_a_key_of_its_own_log() -> None:
    with pytest.raises(InvalidNote, match="its own log"):
        parse_rotation(rotation_text(ORIGIN, vkey(NEW, "log.example/ws_2")))
    assert parse_rotation(rotation_text(ORIGIN, vkey(NEW))).origin == ORIGIN
