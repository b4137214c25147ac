"""Entity tags and the If-Match / If-None-Match comparisons (RFC 9110 §8.8.3, §13.1)."""

import uuid

import pytest
from pydantic import SecretStr

from app.core.etag import entity_tag, if_match_holds, if_none_match_holds
from app.sellers.models import SellerProfile, SellerStatus, SellerType
from app.sellers.schemas import SellerRead

CURRENT = '"abc"'


@pytest.mark.parametrize(
    ("header", "holds"),
    [
        (None, True),  # unconditional
        ("*", True),
        ('"abc"', True),
        ('"x", "abc"', True),
        (' "x" ,"abc" ', True),
        ('W/"abc"', False),  # If-Match compares strongly
        ('"abd"', False),
        ("abc", False),  # not a quoted tag: malformed, so nothing matches
        ('"abc", junk', False),
        ("", False),
    ],
)
def test_if_match(header: str | None, holds: bool) -> None:
    assert if_match_holds(header, CURRENT) is holds


@pytest.mark.parametrize(
    ("header", "full_answer"),
    [
        (None, True),
        ("*", False),
        ('"abc"', False),
        ('W/"abc"', False),  # If-None-Match compares weakly
        ('"x", W/"abc"', False),
        ('"x"', True),
        ("garbage", True),
    ],
)
def test_if_none_match(header: str | None, full_answer: bool) -> None:
    assert if_none_match_holds(header, CURRENT) is full_answer


def _profile(payout_account: str) -> SellerProfile:
    return SellerProfile(
        id=uuid.UUID("01a24ec9-aa0a-7076-8e5a-9218feaf39f7"),
        user_id=uuid.UUID("01a24ec9-aa0a-7076-8e5a-9218feaf39f8"),
        shop_name="Shop",
        slug="shop",
        description="",
        legal_name="Ada",
        seller_type=SellerType.individual,
        country="DE",
        contact_email="shop@example.com",
        contact_phone="+49 30 1234567",
        payout_account=payout_account,
        status=SellerStatus.approved,
    )


def test_a_tag_covers_the_stored_row_and_is_keyed() -> None:
    secret = SecretStr("one deployment's secret")
    profile = _profile("DE89370400440532013000")
    view = SellerRead.model_validate(
        {
            **{k: getattr(profile, k, None) for k in SellerRead.model_fields},
            "payout_account_masked": "••••3000",
            "created_at": "2026-01-01T00:00:00Z",
            "allowed_actions": [],
        }
    )

    tag = entity_tag(secret, view, profile)

    assert tag == entity_tag(secret, view, profile)
    # The same view of another stored state (an account with the same last digits)...
    assert tag != entity_tag(secret, view, _profile("DE02120300000000203000"))
    # ...and another deployment's key give other tags: a tag tells nothing of the account.
    assert tag != entity_tag(SecretStr("another deployment"), view, profile)
