"""Ed25519 (RFC 8032) from ``cryptography``: the installation key that signs checkpoints,
and the check of a signature against a verifier key's public key."""

from __future__ import annotations

import base64
import binascii
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from adapters.private_files import written_once

SEED_BYTES = 32


class SigningKeyUnusable(ValueError):
    """``AUDITRAIL_SIGNING_KEY`` (or the key file) is not base64 of a 32-byte seed."""


def new_seed() -> str:
    """A new key for ``AUDITRAIL_SIGNING_KEY``: base64 of 32 random bytes."""
    return base64.b64encode(secrets.token_bytes(SEED_BYTES)).decode("ascii")


def seed_from(text: str) -> bytes:
    try:
        seed = base64.b64decode(text.strip().encode("ascii"), validate=True)
    except (binascii.Error, UnicodeError, ValueError):
        raise SigningKeyUnusable("not base64") from None
    if len(seed) != SEED_BYTES:
        raise SigningKeyUnusable(f"{len(seed)} bytes, not {SEED_BYTES}")
    return seed


def load_or_create_seed(path: Path) -> bytes:
    """The embedded profile's key: created once, readable by its owner only; concurrent
    first starts agree on one."""
    return seed_from(written_once(path, new_seed() + "\n"))


class Ed25519Signer:
    def __init__(self, seed: bytes) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self._public = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def public_key(self) -> bytes:
        return self._public

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def __repr__(self) -> str:  # never the key, whatever prints this object
        return "Ed25519Signer(…)"


class Ed25519Verifier:
    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True
