"""Stream credentials sealed with Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``).

The Fernet key is derived from ``AUDITRAIL_SECRET_KEY`` with HKDF, under a label of its
own, so the same secret never serves two purposes directly (it also signs download links).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from application.ports.delivery import CredentialUnreadable

_PURPOSE = b"auditrail stream credentials v1"


class FernetVault:
    """Seals with the current key; opens with it or any previous one (being rotated out)."""

    def __init__(self, secret_key: bytes, previous_keys: Sequence[bytes] = ()) -> None:
        self._fernet = MultiFernet([_fernet(key) for key in (secret_key, *previous_keys)])

    def seal(self, credential: str) -> bytes:
        return self._fernet.encrypt(credential.encode("utf-8"))

    def open(self, sealed: bytes) -> str:
        try:
            return self._fernet.decrypt(sealed).decode("utf-8")
        except InvalidToken:
            raise CredentialUnreadable("sealed with another key") from None

    def reseal(self, sealed: bytes) -> bytes:
        try:
            return self._fernet.rotate(sealed)
        except InvalidToken:
            raise CredentialUnreadable("sealed with another key") from None


def _fernet(secret_key: bytes) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=_PURPOSE).derive(secret_key)
    return Fernet(base64.urlsafe_b64encode(derived))
