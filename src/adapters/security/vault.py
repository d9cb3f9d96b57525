"""Stream credentials sealed with Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``).

The Fernet key is derived from ``AUDITRAIL_SECRET_KEY`` with HKDF, under a label of its
own, so the same secret never serves two purposes directly (it also signs download links).
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from application.ports.delivery import CredentialUnreadable

_PURPOSE = b"auditrail stream credentials v1"


class FernetVault:
    def __init__(self, secret_key: bytes) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                       info=_PURPOSE).derive(secret_key)
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, credential: str) -> bytes:
        return self._fernet.encrypt(credential.encode("utf-8"))

    def open(self, sealed: bytes) -> str:
        try:
            return self._fernet.decrypt(sealed).decode("utf-8")
        except InvalidToken:
            raise CredentialUnreadable("sealed with another key") from None
