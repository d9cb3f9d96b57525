"""Checking what the log signed, locally: C2SP signed notes and checkpoints (Ed25519),
RFC 9162 inclusion and consistency proofs, and an event's leaf hash (RFC 8785 JSON).

Self-contained on purpose: an auditor's check must not depend on the server's code.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from auditrail_client.errors import AuditrailError

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
"""A witness's key type (C2SP tlog-cosignature): Ed25519 over a timestamped message."""
NOT_CORE = ("status", "prev_hash", "hash")


class ProofInvalid(AuditrailError):
    """What does not hold, in words: do not trust the log's answer."""


@dataclass(frozen=True)
class VerifierKey:
    name: str
    key_id: bytes
    public_key: bytes


@dataclass(frozen=True)
class SignedCheckpoint:
    origin: str
    tree_size: int
    root_hash: bytes
    note: str


def parse_verifier_key(text: str, key_type: int = ED25519) -> VerifierKey:
    """``<name>+<key id hex>+<base64(0x01 ‖ public key)>``, the form ``GET /log/key``
    gives as ``verifier_key``; its key id must match its name and key."""
    try:
        name, key_hex, encoded = text.strip().split("+", 2)
        key_id, material = bytes.fromhex(key_hex), base64.b64decode(encoded, validate=True)
    except (ValueError, binascii.Error):
        raise ProofInvalid("not a verifier key (<name>+<key id>+<base64 key>)") from None
    if len(key_id) != 4 or len(material) != 33 or material[0] != key_type:
        raise ProofInvalid(f"not an Ed25519 verifier key of type 0x{key_type:02x}")
    if _key_id(name, material[1:], key_type) != key_id:
        raise ProofInvalid("the verifier key's id does not match its name and key")
    return VerifierKey(name, key_id, material[1:])


def parse_cosigner_key(text: str) -> VerifierKey:
    """A witness's verifier key (``auditrail witness verifier-key``): type 0x04."""
    return parse_verifier_key(text, COSIGNATURE_V1)


def check_cosignature(note: str, key: VerifierKey | str) -> int:
    """When the witness ``key`` cosigned the checkpoint in ``note`` (C2SP
    tlog-cosignature/v1: that it was the largest consistent one it had seen of that log),
    as a POSIX timestamp; raises ``ProofInvalid`` when it did not."""
    if isinstance(key, str):
        key = parse_cosigner_key(key)
    text, signatures = _split_note(note, 4 + 8 + 64)
    signed = [sig for name, sig in signatures if name == key.name and sig[:4] == key.key_id]
    if not signed:
        raise ProofInvalid(f"the checkpoint has no cosignature by {key.name}")
    timestamp = int.from_bytes(signed[0][4:12], "big")
    message = f"cosignature/v1\ntime {timestamp}\n{text}".encode()
    try:
        Ed25519PublicKey.from_public_bytes(key.public_key).verify(signed[0][12:], message)
    except InvalidSignature:
        raise ProofInvalid(f"the cosignature of {key.name} does not verify") from None
    return timestamp


def check_cosigned(note: str, key: VerifierKey | str,
                   witnesses: Sequence[VerifierKey | str], *, quorum: int | None = None,
                   rotations: Sequence[str] = ()) -> SignedCheckpoint:
    """``check_checkpoint``, and that at least ``quorum`` (all of them by default) of the
    ``witnesses`` you trust cosigned the note: the log showed them this history, and they
    had seen none it does not extend. Raises ``ProofInvalid`` naming what is missing."""
    signed = check_checkpoint(note, key, rotations)
    wanted = len(witnesses) if quorum is None else quorum
    if not 0 < wanted <= len(witnesses):
        raise ValueError(f"quorum must be 1 to {len(witnesses)} (the witnesses given)")
    missing = []
    for witness in witnesses:
        try:
            check_cosignature(note, witness)
        except ProofInvalid as exc:
            missing.append(str(exc))
    if len(witnesses) - len(missing) < wanted:
        raise ProofInvalid(f"the checkpoint of size {signed.tree_size} is cosigned by "
                           f"{len(witnesses) - len(missing)} of the witnesses given, not "
                           f"{wanted}: {'; '.join(missing)}")
    return signed


def format_verifier_key(key: VerifierKey) -> str:
    return f"{key.name}+{key.key_id.hex()}+" \
           f"{base64.b64encode(bytes([ED25519]) + key.public_key).decode('ascii')}"


def check_checkpoint(note: str, key: VerifierKey | str,
                     rotations: Sequence[str] = ()) -> SignedCheckpoint:
    """The checkpoint in ``note`` once its signature by ``key`` (the one you pinned)
    verifies - or, when the log's key was rotated since you pinned it, by the newest key
    ``rotations`` (``GET /log/key``'s ``previous_keys[].rotation``) lead to from it, each
    note signed by the key before; raises ``ProofInvalid`` otherwise."""
    if isinstance(key, str):
        key = parse_verifier_key(key)
    try:
        return _checkpoint(note, key)
    except ProofInvalid:
        for successor in reversed(successors(key, rotations)):
            try:
                return _checkpoint(note, successor)
            except ProofInvalid:
                continue
        raise


def _checkpoint(note: str, key: VerifierKey) -> SignedCheckpoint:
    text = signed_text(note, key, "the checkpoint")
    lines = text.split("\n")
    try:
        origin, size, root = lines[0], int(lines[1]), base64.b64decode(lines[2],
                                                                         validate=True)
    except (IndexError, ValueError, binascii.Error):
        raise ProofInvalid("the signed note is not a checkpoint") from None
    if origin != key.name:
        raise ProofInvalid(f"the checkpoint is of log {origin}, not {key.name}")
    if size < 0 or len(root) != 32:
        raise ProofInvalid("the signed note is not a checkpoint")
    return SignedCheckpoint(origin, size, root, note)


def successor_of(pinned: VerifierKey | str, rotations: Sequence[str]) -> VerifierKey | None:
    """The key ``pinned`` handed its log over to when the signing key was rotated: named
    in a rotation note (``GET /log/key``'s ``previous_keys[].rotation``) that ``pinned``
    itself signed; None when no note is one. Following it trusts no one new: whoever
    could forge such a note could sign checkpoints with the pinned key anyway."""
    if isinstance(pinned, str):
        pinned = parse_verifier_key(pinned)
    for note in rotations:
        try:
            origin, kind, successor, end = signed_text(note, pinned, "the rotation"
                                                        ).split("\n")
            key = parse_verifier_key(successor)
        except (ProofInvalid, ValueError):
            continue
        if (origin, kind, end) == (pinned.name, "key rotation", "") and \
                key.name == pinned.name and key != pinned:
            return key
    return None


def successors(pinned: VerifierKey | str, rotations: Sequence[str]) -> list[VerifierKey]:
    """The keys the log went to from ``pinned``, oldest first, each named in a rotation
    note signed by the key before it: a key rotated twice while a monitor slept still
    leads to the key that signs now."""
    first = parse_verifier_key(pinned) if isinstance(pinned, str) else pinned
    chain: list[VerifierKey] = []
    key = successor_of(first, rotations)
    while key is not None and key != first and key not in chain:
        chain.append(key)
        key = successor_of(key, rotations)
    return chain


@dataclass(frozen=True)
class SignedAnchor:
    """Where retention cut a log's chain, as its key signed it: events up to ``sequence``
    are gone, and the tree had ``root_hash`` at that size."""

    origin: str
    sequence: int
    chain_hash: str
    root_hash: bytes


def check_anchor(note: str, key: VerifierKey | str) -> SignedAnchor:
    """The retention anchor ``GET /log/anchor`` serves, once ``key`` signed it
    (``ProofInvalid`` otherwise)."""
    key = parse_verifier_key(key) if isinstance(key, str) else key
    lines = signed_text(note, key, "the retention anchor").split("\n")
    if len(lines) != 6 or lines[1] != "retention anchor" or not lines[2].isdigit() \
            or lines[-1] != "":
        raise ProofInvalid("not a retention anchor")
    try:
        root = base64.b64decode(lines[4], validate=True)
    except ValueError:
        raise ProofInvalid("the retention anchor's root is not base64") from None
    if len(root) != 32:
        raise ProofInvalid("the retention anchor's root is not a hash")
    return SignedAnchor(lines[0], int(lines[2]), lines[3], root)


def signed_text(note: str, key: VerifierKey, what: str) -> str:
    """The note's text once ``key``'s signature over it verifies."""
    text, signatures = _split_note(note)
    signed = [sig for name, sig in signatures if name == key.name and sig[:4] == key.key_id]
    if not signed:
        raise ProofInvalid(f"{what} has no signature by {key.name}")
    try:
        Ed25519PublicKey.from_public_bytes(key.public_key).verify(signed[0][4:],
                                                                  text.encode("utf-8"))
    except InvalidSignature:
        raise ProofInvalid(f"{what}'s signature does not verify with the key") from None
    return text


# -- RFC 9162 ------------------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes],
                     root: bytes) -> bool:
    """RFC 9162 §2.1.3.2."""
    if index >= size or index < 0:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def tree_hash(leaves: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.1: the Merkle tree hash of ``leaves`` (leaf hashes)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    split = 1 << (len(leaves) - 1).bit_length() - 1
    return node_hash(tree_hash(leaves[:split]), tree_hash(leaves[split:]))


# -- C2SP tlog-tiles -----------------------------------------------------------------------

TILE_WIDTH = 256


def tile_path(level: int, index: int, width: int | None = None) -> str:
    """``<L>/<N>[.p/<W>]`` as tlog-tiles spells it: 1234067 is ``x001/x234/067``."""
    digits = str(index)
    digits = digits.zfill(-(-len(digits) // 3) * 3)
    groups = [digits[i:i + 3] for i in range(0, len(digits), 3)]
    partial = "" if width is None or width == TILE_WIDTH else f".p/{width}"
    return f"{level}/" + "/".join([*(f"x{g}" for g in groups[:-1]), groups[-1]]) + partial


def bundle_path(index: int, width: int | None = None) -> str:
    """``<N>[.p/<W>]``: where leaf tile ``index``'s entry bundle is, after
    ``tile/entries/``."""
    return tile_path(0, index, width).removeprefix("0/")


def bundle_width(index: int, tree_size: int) -> int:
    """How many entries leaf tile ``index`` has in a tree of ``tree_size`` (0: none)."""
    return max(0, min(TILE_WIDTH, tree_size - index * TILE_WIDTH))


def bundle_in_tree(index: int, tree_size: int, entries: Sequence[bytes],
                   path: Sequence[bytes], root: bytes) -> bool:
    """Whether ``entries`` (an entry bundle's) are exactly the leaves of tile ``index``
    in the tree of ``tree_size`` and ``root``; ``path`` is the inclusion path of the
    tile's first leaf (``events.proof`` of its event). The tile's leaves hash to one node
    of the tree, and the path's part above it leads to the root: one proof a bundle."""
    width = bundle_width(index, tree_size)
    if width == 0 or len(entries) != width:
        return False
    inside = (width - 1).bit_length()  # a first leaf's path within its own tile
    node = tree_hash([leaf_hash(entry) for entry in entries])
    tiles = -(-tree_size // TILE_WIDTH)  # above the tiles, each one is a leaf
    return verify_inclusion(index, tiles, node, path[inside:], root)


def split_bundle(bundle: bytes) -> list[bytes]:
    """The entries of a tlog-tiles entry bundle, each after a big-endian uint16 length
    (``ProofInvalid`` if it is cut)."""
    entries, at = [], 0
    while at < len(bundle):
        size = int.from_bytes(bundle[at:at + 2], "big")
        if at + 2 > len(bundle) or at + 2 + size > len(bundle):
            raise ProofInvalid("the entry bundle is cut short")
        entries.append(bundle[at + 2:at + 2 + size])
        at += 2 + size
    return entries


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2."""
    if old < 0 or old > new:
        return False
    if old == new:
        return not proof and old_root == new_root
    if old == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if old & (old - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


# -- events ---------------------------------------------------------------------------------


def event_core(event: Mapping[str, Any]) -> bytes:
    """JCS(core) as UTF-8, where core is the event as ``GET /events/{id}`` returns it
    without status, prev_hash and hash: what its chain hash and its leaf both hash."""
    return canonical_json({k: v for k, v in event.items() if k not in NOT_CORE}).encode()


def event_leaf_hash(event: Mapping[str, Any], core: bytes | None = None) -> bytes:
    """The leaf an event is in the log: SHA-256(0x00 ‖ JCS(core)); ``core`` when already
    computed (``event_core``)."""
    return leaf_hash(event_core(event) if core is None else core)


def event_chain_hash(event: Mapping[str, Any], core: bytes | None = None) -> str:
    """The event's hash in the workspace's chain: sha256_hex(prev_hash ‖ "\\n" ‖ JCS(core));
    ``core`` when already computed."""
    data = f"{event['prev_hash']}\n".encode() + (event_core(event) if core is None else core)
    return hashlib.sha256(data).hexdigest()


def canonical_json(value: Any) -> str:
    """RFC 8785 (JCS): sorted keys (by UTF-16 code units), no whitespace, numbers as
    ECMAScript prints them.

    Through the C encoder when that writes the same text - string escapes and integers
    always do, floats of moderate magnitude too once integral ones are ints, keys sorted by
    code point as by UTF-16 unless one lies outside the Basic Multilingual Plane - and
    through ``jcs``, the rules written out, otherwise: a large export is checked three
    times as fast so."""
    try:
        if _holds_integral_floats(value):
            value = _prepared(value)
    except _NeedsReference:
        return jcs(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def jcs(value: Any) -> str:
    """RFC 8785 written out, for any JSON value: the reference ``canonical_json`` must
    equal."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _es_number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:"
                              f"{jcs(value[k])}" for k in keys) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(jcs(item) for item in value) + "]"
    raise TypeError(f"not JSON: {type(value).__name__}")


_MAX_SAFE_INTEGER = 2**53 - 1


class _NeedsReference(Exception):
    pass


def _holds_integral_floats(value: Any) -> bool:
    """Whether the C encoder prints ``value`` as JCS does once its integral floats are
    ints; raises ``_NeedsReference`` where it cannot. Exact types only, and nothing copied:
    few documents hold an integral float."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return False
    if kind is dict:
        found = False
        for key, item in value.items():
            if type(key) is not str or (not key.isascii() and max(map(ord, key)) > 0xFFFF):
                raise _NeedsReference
            if type(item) is not str and _holds_integral_floats(item):
                found = True
        return found
    if kind is list:
        found = False
        for item in value:
            if type(item) is not str and _holds_integral_floats(item):
                found = True
        return found
    if kind is int:
        if -_MAX_SAFE_INTEGER <= value <= _MAX_SAFE_INTEGER:
            return False
        raise _NeedsReference
    if kind is float:
        return type(_prepared_float(value)) is int
    raise _NeedsReference


def _prepared(value: Any) -> Any:
    """A copy with integral floats as ints (JCS prints ``1.0`` as ``1``)."""
    kind = type(value)
    if kind is float:
        return _prepared_float(value)
    if kind is dict:
        return {key: _prepared(item) for key, item in value.items()}
    if kind is list:
        return [_prepared(item) for item in value]
    return value  # checked by _holds_integral_floats already


def _prepared_float(number: float) -> float | int:
    """Python's repr and ECMAScript agree on the shortest digits; only notation differs,
    outside [1e-4, 1e16)."""
    magnitude = abs(number)
    if number.is_integer():
        if magnitude <= _MAX_SAFE_INTEGER:
            return int(number)  # 1.0 prints 1, and -0.0 prints 0
        raise _NeedsReference
    if 1e-4 <= magnitude < 1e16:
        return number
    raise _NeedsReference


def _es_number(number: float) -> str:
    """ECMAScript's Number::toString, from Python's shortest round-trip digits."""
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError("NaN and Infinity are not JSON")
    if number == 0:
        return "0"
    sign, digits, exponent = Decimal(repr(number)).normalize().as_tuple()
    text = "".join(map(str, digits))
    k, n = len(text), len(text) + int(exponent)  # the point goes after n digits
    if k <= n <= 21:
        body = text + "0" * (n - k)
    elif 0 < n <= 21:
        body = f"{text[:n]}.{text[n:]}"
    elif -6 < n <= 0:
        body = f"0.{'0' * -n}{text}"
    else:
        mantissa = text if k == 1 else f"{text[0]}.{text[1:]}"
        body = f"{mantissa}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"
    return ("-" if sign else "") + body


# -- signed notes ---------------------------------------------------------------------------


def _split_note(note: str, length: int = 68) -> tuple[str, list[tuple[str, bytes]]]:
    """The signed text, and the signatures of ``length`` bytes (key id included): 68 for
    a log's Ed25519 signature, 76 for a cosignature."""
    text, separator, signature_block = note.rpartition("\n\n")
    if not separator or not note.endswith("\n"):
        raise ProofInvalid("not a signed note")
    signatures = []
    for line in signature_block.rstrip("\n").split("\n"):
        if not line.startswith("\u2014 "):
            raise ProofInvalid("not a signed note")
        try:
            name, encoded = line[2:].rsplit(" ", 1)
            signature = base64.b64decode(encoded, validate=True)
        except (ValueError, binascii.Error):
            raise ProofInvalid("a signature line is malformed") from None
        if len(signature) != length:
            continue  # another algorithm's signature: not ours to check
        signatures.append((name, signature))
    return text + "\n", signatures


def _key_id(name: str, public_key: bytes, key_type: int = ED25519) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([key_type]) + public_key
                          ).digest()[:4]


def b64decode_all(values: Sequence[str]) -> list[bytes]:
    try:
        return [base64.b64decode(v, validate=True) for v in values]
    except (binascii.Error, TypeError):
        raise ProofInvalid("a proof hash is not base64") from None
