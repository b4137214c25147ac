"""Password hashing and JWTs, unit-tested; expiry is driven by app.core.clock."""

import asyncio
import base64
import hashlib
import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jose import jwt

from app.core import security
from app.core.clock import clock
from app.core.security import (
    InvalidToken,
    TokenType,
    decode_token,
    encode_token,
    hash_password,
    hash_token,
    password_needs_rehash,
    verify_password,
)

SECRET = "unit-test-secret-that-is-long-enough"
PASSWORD = "correct horse battery staple"


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def issue(
    token_type: TokenType = TokenType.access,
    ttl: timedelta = timedelta(minutes=15),
    **kwargs: Any,
) -> str:
    return encode_token(
        SECRET,
        subject="user-1",
        token_type=token_type,
        ttl=ttl,
        token_id=kwargs.pop("token_id", uuid.uuid4()),
        **kwargs,
    )


def claims_of(token: str) -> dict[str, Any]:
    return dict(jwt.get_unverified_claims(token))


# --- passwords ---------------------------------------------------------------------------


async def test_password_hash_is_argon2id_salted_and_verifies() -> None:
    first, second = await hash_password(PASSWORD), await hash_password(PASSWORD)

    assert first.startswith("$argon2id$")
    assert PASSWORD not in first
    assert first != second  # a fresh salt each time
    assert await verify_password(first, PASSWORD)
    assert await verify_password(second, PASSWORD)
    assert not password_needs_rehash(first)


@pytest.mark.parametrize("attempt", ["wrong password", PASSWORD.upper(), PASSWORD + " ", ""])
async def test_wrong_password_does_not_verify(attempt: str) -> None:
    assert not await verify_password(await hash_password(PASSWORD), attempt)


@pytest.mark.parametrize("stored", [None, "", "not-a-hash", "$argon2id$v=19$broken"])
async def test_missing_or_corrupt_hash_never_verifies(stored: str | None) -> None:
    assert await verify_password(stored, PASSWORD) is False


async def test_hashing_runs_off_the_event_loop_one_per_core(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While hashes run, the event loop keeps turning, and no more hashes run at once than
    there are cores (a login flood queues behind itself instead of stalling the server)."""
    running = 0
    most_at_once = 0
    guard = threading.Lock()
    real_hasher = security._hashing.hasher

    class SlowHasher:
        def hash(self, password: str) -> str:
            return slow_hash(password)

    def slow_hash(password: str) -> str:
        nonlocal running, most_at_once
        with guard:
            running += 1
            most_at_once = max(most_at_once, running)
        time.sleep(0.05)  # a real hash takes a core this long or longer
        with guard:
            running -= 1
        return real_hasher.hash(password)

    monkeypatch.setattr(security._hashing, "hasher", SlowHasher())
    ticks_while_hashing = 0

    async def heartbeat() -> None:
        nonlocal ticks_while_hashing
        while True:
            if running:
                ticks_while_hashing += 1
            await asyncio.sleep(0.005)

    beating = asyncio.create_task(heartbeat())
    try:
        hashes = await asyncio.gather(*(hash_password(PASSWORD) for _ in range(8)))
    finally:
        beating.cancel()

    assert all(h.startswith("$argon2id$") for h in hashes)
    assert most_at_once == min(8, security.HASHING_CONCURRENCY)
    # A hash run in the event loop would block it: no tick could see one running.
    assert ticks_while_hashing > 0


def test_token_digest_is_sha256_hex() -> None:
    assert hash_token("abc") == hashlib.sha256(b"abc").hexdigest()
    assert hash_token("abc") != hash_token("abd")


# --- tokens ------------------------------------------------------------------------------


def test_token_round_trips_with_its_claims() -> None:
    clock.freeze(datetime(2026, 5, 1, 10, 0, 0, tzinfo=UTC))
    token_id = uuid.uuid4()

    token = issue(TokenType.refresh, ttl=timedelta(days=30), token_id=token_id, extra={"fam": "f1"})
    claims = decode_token(SECRET, token, expected_type=TokenType.refresh)

    assert claims.subject == "user-1"
    assert claims.token_id == token_id
    assert claims.token_type is TokenType.refresh
    assert claims.issued_at == datetime(2026, 5, 1, 10, 0, 0, tzinfo=UTC)
    assert claims.expires_at == datetime(2026, 5, 31, 10, 0, 0, tzinfo=UTC)
    assert claims.extra == {"fam": "f1"}
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_extra_claims_cannot_override_the_required_ones() -> None:
    token = issue(extra={"sub": "admin", "type": "refresh", "exp": 9999999999})

    claims = decode_token(SECRET, token, expected_type=TokenType.access)

    assert claims.subject == "user-1"
    assert claims.token_type is TokenType.access
    assert claims.expires_at - claims.issued_at == timedelta(minutes=15)


def test_token_expires_by_the_app_clock() -> None:
    clock.freeze(datetime(2026, 5, 1, 10, 0, 0, tzinfo=UTC))
    token = issue(ttl=timedelta(minutes=15))

    clock.advance(timedelta(minutes=14, seconds=59))
    assert decode_token(SECRET, token, expected_type=TokenType.access).subject == "user-1"

    clock.advance(timedelta(seconds=1))
    with pytest.raises(InvalidToken, match="expired"):
        decode_token(SECRET, token, expected_type=TokenType.access)


def test_token_expires_with_a_moving_clock_too() -> None:
    token = issue(ttl=timedelta(minutes=15))

    clock.advance(timedelta(minutes=16))

    with pytest.raises(InvalidToken, match="expired"):
        decode_token(SECRET, token, expected_type=TokenType.access)


@pytest.mark.parametrize(
    ("issued", "expected"),
    [(TokenType.access, TokenType.refresh), (TokenType.refresh, TokenType.access)],
)
def test_token_of_the_wrong_type_is_refused(issued: TokenType, expected: TokenType) -> None:
    with pytest.raises(InvalidToken, match=f"expected a {expected.value} token"):
        decode_token(SECRET, issue(issued), expected_type=expected)


def test_token_signed_with_another_secret_is_refused() -> None:
    token = encode_token(
        "some-other-secret-of-sufficient-length",
        subject="user-1",
        token_type=TokenType.access,
        ttl=timedelta(minutes=5),
        token_id=uuid.uuid4(),
    )

    with pytest.raises(InvalidToken):
        decode_token(SECRET, token, expected_type=TokenType.access)


def test_unsigned_alg_none_token_is_refused() -> None:
    claims = claims_of(issue())
    claims["sub"] = "admin"
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."

    with pytest.raises(InvalidToken):
        decode_token(SECRET, unsigned, expected_type=TokenType.access)


def test_token_with_another_hmac_algorithm_is_refused() -> None:
    """The algorithm is pinned: a token in HS512 with the right key is still refused."""
    token = jwt.encode(claims_of(issue()), SECRET, algorithm="HS512")

    with pytest.raises(InvalidToken):
        decode_token(SECRET, token, expected_type=TokenType.access)


def test_tampered_payload_is_refused() -> None:
    header, _payload, signature = issue().split(".")
    claims = claims_of(issue())
    claims["sub"] = "someone-else"
    tampered = f"{header}.{b64(claims)}.{signature}"

    with pytest.raises(InvalidToken):
        decode_token(SECRET, tampered, expected_type=TokenType.access)


@pytest.mark.parametrize("missing", ["sub", "exp", "iat", "jti", "type"])
def test_token_missing_a_required_claim_is_refused(missing: str) -> None:
    claims = claims_of(issue())
    del claims[missing]

    with pytest.raises(InvalidToken):
        decode_token(
            SECRET, jwt.encode(claims, SECRET, algorithm="HS256"), expected_type=TokenType.access
        )


@pytest.mark.parametrize(
    ("claim", "value"), [("jti", "not-a-uuid"), ("exp", "tomorrow"), ("iat", [1])]
)
def test_token_with_malformed_claims_is_refused(claim: str, value: Any) -> None:
    claims = claims_of(issue())
    claims[claim] = value

    with pytest.raises(InvalidToken):
        decode_token(
            SECRET, jwt.encode(claims, SECRET, algorithm="HS256"), expected_type=TokenType.access
        )


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "Bearer x.y.z"])
def test_garbage_is_refused(garbage: str) -> None:
    with pytest.raises(InvalidToken):
        decode_token(SECRET, garbage, expected_type=TokenType.access)
