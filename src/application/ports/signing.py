"""Signing the log's state: a port, so the key stays in the process (or an HSM), never in
the database."""

from __future__ import annotations

from typing import Protocol


class Signer(Protocol):
    def public_key(self) -> bytes:
        """The 32-byte Ed25519 public key."""
        ...

    def sign(self, message: bytes) -> bytes:
        """An Ed25519 signature of ``message``."""
        ...


class SignatureChecker(Protocol):
    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool: ...
