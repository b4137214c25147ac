"""TOTP secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from
`MARKETPLACE_TOTP_ENCRYPTION_KEY`, so a copy of the database alone yields no second factor."""

import base64
import hashlib

from cryptography.fernet import Fernet
from pydantic import SecretStr


def _fernet(key: SecretStr) -> Fernet:
    # The setting is any long random text; Fernet wants 32 bytes, url-safe base64.
    digest = hashlib.sha256(key.get_secret_value().encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(key: SecretStr, secret: str) -> str:
    return _fernet(key).encrypt(secret.encode()).decode()


def decrypt(key: SecretStr, stored: str) -> str:
    """The secret; raises `cryptography.fernet.InvalidToken` if it was encrypted under
    another key (the setting was changed: every enrolled factor is lost with it)."""
    return _fernet(key).decrypt(stored.encode()).decode()
