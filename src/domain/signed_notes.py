"""C2SP signed notes (signed-note), transparency-log checkpoints (tlog-checkpoint) and the
retention anchors Auditrail signs the same way: their text, key ids and verifier keys.

The signature itself (Ed25519, RFC 8032) is made and checked by an adapter; everything
else - what is signed, byte for byte, and how a note is read back - is here, so the server
and the offline verifier cannot disagree about it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from domain.errors import DomainError

ED25519 = 0x01
"""The signature type byte of Ed25519 in key ids and verifier keys."""
SIGNATURE_PREFIX = "\u2014 "
"""An em dash and a space begin every signature line."""
_KEY_NAME = re.compile(r"^[^\s+]+$")
_DECIMAL = re.compile(r"^(0|[1-9][0-9]{0,18})$")
ANCHOR_LINE = "retention anchor"
ROTATION_LINE = "key rotation"

SignatureCheck = Callable[[bytes, bytes, bytes], bool]
"""(public key, message, signature) -> whether it verifies (Ed25519)."""


class InvalidNote(DomainError):
    """Text that is not a signed note, checkpoint or anchor as these specifications say."""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str, length: int | None = None) -> bytes:
    """Standard base64 with padding (RFC 4648 §4), strictly."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidNote(f"not base64: {text[:60]!r}") from None
    if length is not None and len(data) != length:
        raise InvalidNote(f"expected {length} bytes, found {len(data)}")
    return data


def checked_key_name(name: str) -> str:
    if not _KEY_NAME.fullmatch(name):
        raise InvalidNote("a key name is non-empty, with no spaces and no '+'")
    return name


def key_id(name: str, public_key: bytes, signature_type: int = ED25519) -> bytes:
    """SHA-256(key name || 0x0A || type || public key)[:4]; the type is 0x01 for the log's
    own Ed25519 signatures."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([signature_type]) +
                          public_key).digest()[:4]


def verifier_key(name: str, public_key: bytes, signature_type: int = ED25519) -> str:
    """``<name>+<hex key id>+<base64(type || public key)>``."""
    return f"{checked_key_name(name)}+{key_id(name, public_key, signature_type).hex()}+" \
           f"{b64(bytes([signature_type]) + public_key)}"


@dataclass(frozen=True)
class VerifierKey:
    name: str
    key_id: bytes
    public_key: bytes


def parse_verifier_key(text: str, signature_type: int = ED25519) -> VerifierKey:
    parts = text.strip().split("+", 2)  # the key's base64 may hold "+" itself
    if len(parts) != 3:
        raise InvalidNote("a verifier key is <name>+<key id>+<key>")
    name, hex_id, encoded = parts
    checked_key_name(name)
    material = unb64(encoded)
    if len(material) != 33 or material[0] != signature_type:
        raise InvalidNote(f"expected an Ed25519 verifier key of type 0x{signature_type:02x} "
                          f"(32 bytes)")
    public_key = material[1:]
    if hex_id != key_id(name, public_key, signature_type).hex():
        raise InvalidNote("the verifier key's id does not match its name and key")
    return VerifierKey(name, bytes.fromhex(hex_id), public_key)


@dataclass(frozen=True)
class Signature:
    name: str
    key_id: bytes
    signature: bytes


@dataclass(frozen=True)
class Note:
    text: str
    """Everything above the blank line, final newline included: what is signed."""
    signatures: tuple[Signature, ...]


def signature_line(name: str, public_key: bytes, signature: bytes) -> str:
    return f"{SIGNATURE_PREFIX}{name} {b64(key_id(name, public_key) + signature)}\n"


def parse_note(note: str) -> Note:
    if any(ord(c) < 0x20 and c != "\n" for c in note) or not note.endswith("\n"):
        raise InvalidNote("a note is lines of text, each ending in a newline")
    text, separator, signed = note.rpartition("\n\n")
    if not separator or not text:
        raise InvalidNote("no blank line between the text and its signatures")
    signatures = []
    for line in signed.split("\n")[:-1]:
        if not line.startswith(SIGNATURE_PREFIX):
            raise InvalidNote("a signature line begins with an em dash")
        name, _, encoded = line[len(SIGNATURE_PREFIX):].partition(" ")
        checked_key_name(name)
        raw = unb64(encoded)
        if len(raw) < 5:
            raise InvalidNote("a signature is a key id and signature bytes")
        signatures.append(Signature(name, raw[:4], raw[4:]))
    if not signatures:
        raise InvalidNote("a note has at least one signature")
    return Note(text + "\n", tuple(signatures))


def signature_by(note: Note, key: VerifierKey) -> bytes:
    """The signature the note carries from ``key`` (other keys' are ignored, as the
    specification says); ``InvalidNote`` when it has none."""
    for signature in note.signatures:
        if signature.name == key.name and signature.key_id == key.key_id:
            return signature.signature
    raise InvalidNote(f"the note carries no signature by {key.name}+{key.key_id.hex()}")


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    tree_size: int
    root_hash: bytes


def checkpoint_text(origin: str, tree_size: int, root_hash: bytes) -> str:
    return f"{checked_key_name(origin)}\n{tree_size}\n{b64(root_hash)}\n"


def parse_checkpoint(text: str) -> Checkpoint:
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "" or any(not line for line in lines[:-1]):
        raise InvalidNote("a checkpoint is an origin, a size and a root, one a line")
    if not _DECIMAL.fullmatch(lines[1]):
        raise InvalidNote(f"not a tree size: {lines[1][:30]!r}")
    return Checkpoint(lines[0], int(lines[1]), unb64(lines[2], 32))


@dataclass(frozen=True)
class Anchor:
    """Where retention cut a chain, as the log's key signed it: the last removed event's
    sequence and chain hash, and the tree's root at that size."""

    origin: str
    sequence: int
    chain_hash: str
    root_hash: bytes


def anchor_text(origin: str, sequence: int, chain_hash: str, root_hash: bytes) -> str:
    """Not a checkpoint (its second line is not a number), so no checkpoint reader can
    take one for the other."""
    return f"{checked_key_name(origin)}\n{ANCHOR_LINE}\n{sequence}\n{chain_hash}\n" \
           f"{b64(root_hash)}\n"


def parse_anchor(text: str) -> Anchor:
    lines = text.split("\n")
    if len(lines) != 6 or lines[1] != ANCHOR_LINE or lines[-1] != "" \
            or not _DECIMAL.fullmatch(lines[2]) or not re.fullmatch(r"[0-9a-f]{64}", lines[3]):
        raise InvalidNote("not a retention anchor")
    return Anchor(lines[0], int(lines[2]), lines[3], unb64(lines[4], 32))


@dataclass(frozen=True)
class Rotation:
    """A retired key's hand-over of its log to the key that signs it now."""

    origin: str
    successor: VerifierKey


def rotation_text(origin: str, successor: str) -> str:
    """What a retired key signs to name its successor (a verifier key of the same name).
    Neither a checkpoint nor an anchor: its second line is neither a number nor theirs."""
    return f"{checked_key_name(origin)}\n{ROTATION_LINE}\n{successor}\n"


def parse_rotation(text: str) -> Rotation:
    lines = text.split("\n")
    if len(lines) != 4 or lines[1] != ROTATION_LINE or lines[-1] != "":
        raise InvalidNote("not a key rotation")
    successor = parse_verifier_key(lines[2])
    if successor.name != lines[0]:
        raise InvalidNote("a rotation names a key of its own log")
    return Rotation(lines[0], successor)


def successor_of(pinned: VerifierKey, rotations: Iterable[str],
                 verify: SignatureCheck) -> VerifierKey | None:
    """The key ``pinned`` handed its log to, by a rotation note ``pinned`` itself signed;
    None when no note is one. Whoever could forge such a note could sign checkpoints with
    the pinned key anyway, so following it trusts no one new."""
    for note in rotations:
        try:
            parsed = parse_note(note)
            signature = signature_by(parsed, pinned)
            rotation = parse_rotation(parsed.text)
        except InvalidNote:
            continue
        if rotation.origin == pinned.name and rotation.successor != pinned and \
                verify(pinned.public_key, parsed.text.encode("utf-8"), signature):
            return rotation.successor
    return None


def successors(pinned: VerifierKey, rotations: Iterable[str],
               verify: SignatureCheck) -> list[VerifierKey]:
    """The keys the log went to from ``pinned``, oldest first, each named in a rotation
    note signed by the one before it: a key rotated twice while a monitor slept, or an
    export proven with the key pinned before both rotations, still leads to the key that
    signs now."""
    notes, chain, current = list(rotations), [], pinned
    while (following := successor_of(current, notes, verify)) is not None and \
            following not in chain and following != pinned:
        chain.append(following)
        current = following
    return chain
