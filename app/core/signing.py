"""Standard Webhooks signatures (https://www.standardwebhooks.com), for the webhooks we send
and the carrier events we receive: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`
under the shared secret."""

import base64
import hashlib
import hmac
import re
import secrets

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24


_TIMESTAMP = re.compile(r"[0-9]{1,12}", re.ASCII)
"""Unix seconds, as digits a sender writes (not any Unicode digit, not 5,000 of them)."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(
    secret: str,
    *,
    message_id: str,
    timestamp: str,
    signatures: str,
    body: bytes,
    now: int,
    tolerance: int,
) -> bool:
    """Whether a received message is signed with `secret` and was sent within `tolerance`
    seconds of `now` (either way), so a captured request cannot be replayed later.
    `signatures` is the header's space-separated list: a sender rotating its secret signs
    with both."""
    if _TIMESTAMP.fullmatch(timestamp) is None or abs(now - int(timestamp)) > tolerance:
        return False
    expected = signature(secret, message_id, int(timestamp), body).encode()
    # As bytes: a header may hold any character, and compare_digest refuses non-ASCII text.
    return any(
        hmac.compare_digest(expected, given.encode("utf-8", "replace"))
        for given in signatures.split()
    )
