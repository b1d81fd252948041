"""Encryption of tokens at rest, with key rotation.

``TOKEN_ENCRYPTION_KEYS`` holds Fernet keys, newest first: the newest
encrypts, every key decrypts, so adding a key in front rotates without
losing a connected account. With none configured, one key is derived from
``SECRET_KEY`` (HKDF-SHA256), so ``SECRET_KEY`` alone is enough to run.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

HKDF_INFO = b"tiktok-dashboard token encryption v1"


class TokenDecryptError(Exception):
    """A stored token could not be read with any configured key."""


def derive_key(secret_key: str) -> bytes:
    """A Fernet key derived from the app's secret key."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(
        secret_key.encode()
    )
    return base64.urlsafe_b64encode(raw)


class TokenCipher:
    """Encrypts with the newest key, decrypts with any."""

    def __init__(self, keys: list[bytes]):
        if not keys:
            raise ValueError("at least one key is needed")
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    @classmethod
    def from_config(cls, config) -> TokenCipher:
        configured = [
            k.strip().encode()
            for k in (config.get("TOKEN_ENCRYPTION_KEYS") or "").split(",")
            if k.strip()
        ]
        return cls(configured or [derive_key(config["SECRET_KEY"])])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise TokenDecryptError("stored token cannot be decrypted with the configured keys") from exc

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt under the newest key."""
        try:
            return self._fernet.rotate(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise TokenDecryptError("stored token cannot be decrypted with the configured keys") from exc
