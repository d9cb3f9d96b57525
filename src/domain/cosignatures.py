"""C2SP tlog-cosignature (v1, Ed25519): a witness's statement that the checkpoint it signs
is the largest consistent one it has seen of that log.

A log's own signature says "this is my state"; a log holding its key can say it twice,
differently, to two readers. A cosignature from a witness the reader trusts adds "and no
one was shown a history this one does not extend": the split view a lone reader cannot
see. Key ids and verifier keys are signed-note's, with signature type 0x04.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from domain.signed_notes import (
    SIGNATURE_PREFIX,
    InvalidNote,
    Note,
    SignatureCheck,
    VerifierKey,
    b64,
    checked_key_name,
    key_id,
    parse_verifier_key,
    verifier_key,
)

COSIGNATURE_V1 = 0x04
"""The signature type byte of Ed25519 cosignatures in key ids and verifier keys."""
_HEADER = "cosignature/v1"
_SIGNATURE_BYTES = 64
_LARGEST_TIMESTAMP = 2**63 - 1


def cosigner_key(name: str, public_key: bytes) -> str:
    """The verifier key a witness publishes: ``<name>+<key id>+<base64(0x04 || key)>``."""
    return verifier_key(name, public_key, COSIGNATURE_V1)


def parse_cosigner_key(text: str) -> VerifierKey:
    return parse_verifier_key(text, COSIGNATURE_V1)


def cosigned_message(note_text: str, timestamp: int) -> bytes:
    """What the witness signs: a header line, the time, then the checkpoint's text (every
    line above the blank line, extension lines included)."""
    if not 0 < timestamp <= _LARGEST_TIMESTAMP:
        raise InvalidNote("a cosignature's time is a POSIX timestamp above zero")
    return f"{_HEADER}\ntime {timestamp}\n{note_text}".encode()


def cosignature_line(name: str, public_key: bytes, timestamp: int, signature: bytes) -> str:
    """A signature line whose bytes are the key id, the time (8 bytes, big-endian) and the
    Ed25519 signature of ``cosigned_message``."""
    raw = key_id(checked_key_name(name), public_key, COSIGNATURE_V1) + \
        struct.pack(">Q", timestamp) + signature
    return f"{SIGNATURE_PREFIX}{name} {b64(raw)}\n"


@dataclass(frozen=True)
class Cosignature:
    timestamp: int
    signature: bytes


def cosignature_by(note: Note, key: VerifierKey) -> Cosignature:
    """The cosignature ``key`` put on the note (other signatures ignored, as signed-note
    says); ``InvalidNote`` when there is none, or it is not one of this format."""
    for signature in note.signatures:
        if (signature.name, signature.key_id) != (key.name, key.key_id):
            continue
        if len(signature.signature) != 8 + _SIGNATURE_BYTES:
            raise InvalidNote(f"the signature of {key.name} is not a cosignature/v1")
        (timestamp,) = struct.unpack(">Q", signature.signature[:8])
        return Cosignature(timestamp, signature.signature[8:])
    raise InvalidNote(f"the note carries no cosignature by {key.name}+{key.key_id.hex()}")


def cosigned_at(note: Note, key: VerifierKey, verify: SignatureCheck) -> int | None:
    """When ``key`` cosigned the note, if it did and its signature verifies; else None."""
    try:
        cosignature = cosignature_by(note, key)
        message = cosigned_message(note.text, cosignature.timestamp)
    except InvalidNote:
        return None
    return cosignature.timestamp \
        if verify(key.public_key, message, cosignature.signature) else None
