"""POST /v1/sellers and GET/PATCH /v1/sellers/me: applying to sell and keeping the profile."""

import logging
import re
import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.accounts import LoggedIn, admin_user, me, register_and_login
from tests.factories.api import assert_problem
from tests.factories.audit import AUDIT_LOG
from tests.factories.sellers import (
    ADMIN_SELLERS,
    GOOD_IBAN,
    MY_SELLER,
    PAYOUT_ACCOUNT,
    SELLERS,
    apply,
    apply_ok,
    approve,
    make_seller_in_state,
    my_profile,
    seller_application,
)


@pytest.fixture
async def applicant(client: httpx.AsyncClient) -> LoggedIn:
    return await register_and_login(client, display_name="Ada")


@pytest.fixture
async def admin(client: httpx.AsyncClient, session: AsyncSession) -> LoggedIn:
    return await admin_user(client, session)


def _assert_account_hidden(response: httpx.Response) -> None:
    """Neither the account as typed, nor as stored, nor any long part of it is in the body."""
    for form in (PAYOUT_ACCOUNT, GOOD_IBAN, GOOD_IBAN.lower(), GOOD_IBAN[:-4]):
        assert form not in response.text


def _error_fields(problem: dict[str, Any]) -> set[str]:
    errors = problem["errors"]
    assert isinstance(errors, list)
    assert errors
    fields = set()
    for error in errors:
        assert error["loc"][0] == "body"
        fields.add(str(error["loc"][1]))
    return fields


# --- applying -------------------------------------------------------------------------------


async def test_apply_creates_a_pending_profile(
    client: httpx.AsyncClient, applicant: LoggedIn
) -> None:
    body = seller_application(shop_name="Café Noir & Co.", seller_type="business", country="FR")

    response = await client.post(SELLERS, json=body, headers=applicant.headers)

    assert response.status_code == 201, response.text
    profile = response.json()
    uuid.UUID(profile["id"])
    assert profile["user_id"] == applicant.user_id
    assert profile["status"] == "pending_review"
    assert profile["status_reason"] is None
    assert profile["approved_at"] is None
    assert profile["shop_name"] == "Café Noir & Co."
    assert profile["slug"] == "cafe-noir-co"
    assert profile["seller_type"] == "business"
    assert profile["country"] == "FR"
    assert profile["legal_name"] == body["legal_name"]
    assert profile["description"] == body["description"]
    assert profile["contact_email"] == body["contact_email"]
    assert profile["contact_phone"] == body["contact_phone"]
    assert datetime.fromisoformat(profile["created_at"]).utcoffset() is not None
    # The owner can do nothing to a pending application but wait.
    assert profile["allowed_actions"] == []
    assert profile["payout_account_masked"].endswith(GOOD_IBAN[-4:])
    assert "payout_account" not in profile
    _assert_account_hidden(response)


async def test_applying_does_not_make_a_seller_yet(
    client: httpx.AsyncClient, applicant: LoggedIn
) -> None:
    assert (await me(client, who=applicant))["seller_status"] is None

    await apply_ok(client, who=applicant)

    account = await me(client, who=applicant)
    assert account["seller_status"] == "pending_review"
    assert account["roles"] == ["buyer"]


async def test_own_profile_reads_back_masked(
    client: httpx.AsyncClient, applicant: LoggedIn
) -> None:
    created = await apply_ok(client, who=applicant, shop_name="Lovelace Gadgets")

    response = await client.get(MY_SELLER, headers=applicant.headers)

    assert response.status_code == 200, response.text
    assert response.json() == created
    assert response.json()["payout_account_masked"].endswith("3000")
    _assert_account_hidden(response)


async def test_admin_views_and_audit_log_mask_the_payout_account(
    client: httpx.AsyncClient, applicant: LoggedIn, admin: LoggedIn
) -> None:
    seller_id = (await apply_ok(client, who=applicant))["id"]
    approved = await client.post(
        f"{ADMIN_SELLERS}/{seller_id}/approve", json={"reason": "ok"}, headers=admin.headers
    )
    suspended = await client.post(
        f"{ADMIN_SELLERS}/{seller_id}/suspend", json={"reason": "audit"}, headers=admin.headers
    )

    responses = [
        approved,
        suspended,
        await client.get(ADMIN_SELLERS, headers=admin.headers),
        await client.get(f"{ADMIN_SELLERS}/{seller_id}", headers=admin.headers),
        await client.get(AUDIT_LOG, params={"target_id": seller_id}, headers=admin.headers),
        await client.get(MY_SELLER, headers=applicant.headers),
    ]

    for response in responses:
        assert response.status_code == 200, response.text
        _assert_account_hidden(response)
    listed = responses[2].json()["items"]
    assert [p["id"] for p in listed] == [seller_id]
    assert listed[0]["payout_account_masked"].endswith("3000")
    assert responses[3].json()["payout_account_masked"].endswith("3000")
    assert len(responses[4].json()["items"]) == 2


async def test_payout_account_is_never_logged(
    client: httpx.AsyncClient, applicant: LoggedIn, caplog: pytest.LogCaptureFixture
) -> None:
    # The app replaces the root handlers when it starts: put pytest's capture back, at the
    # production default level (INFO) and with the app's own loggers fully verbose.
    root = logging.getLogger()
    root.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO), caplog.at_level(logging.DEBUG, logger="app"):
            await apply_ok(client, who=applicant)
            refused = await apply(client, who=applicant, payout_account="DE89-3704-0044-0532")
            await client.get(MY_SELLER, headers=applicant.headers)
    finally:
        root.removeHandler(caplog.handler)

    assert_problem(refused, 422, "validation_error")
    assert caplog.records, "the requests were not logged at all"
    for form in (PAYOUT_ACCOUNT, GOOD_IBAN, "DE89-3704-0044-0532"):
        assert form not in caplog.text


@pytest.mark.parametrize("state", ["pending_review", "approved", "suspended"])
async def test_applying_twice_is_409(
    client: httpx.AsyncClient, admin: LoggedIn, state: str
) -> None:
    user, seller_id = await make_seller_in_state(client, admin=admin, state=state)
    before = await my_profile(client, who=user)

    response = await apply(client, who=user, shop_name="A Second Shop")

    assert_problem(response, 409, "seller_profile_exists")
    after = await my_profile(client, who=user)
    assert after == before
    assert after["id"] == seller_id
    assert after["status"] == state


@pytest.mark.parametrize("second_name", ["Acme Shop", "acme shop", "ACME-SHOP", "acme-shop!"])
async def test_shop_name_taken_ignoring_case_and_punctuation(
    client: httpx.AsyncClient, applicant: LoggedIn, second_name: str
) -> None:
    await apply_ok(client, who=applicant, shop_name="Acme Shop")
    rival = await register_and_login(client)

    response = await apply(client, who=rival, shop_name=second_name)

    assert_problem(response, 409, "shop_name_taken")
    assert_problem(await client.get(MY_SELLER, headers=rival.headers), 404, "not_found")
    assert (await me(client, who=rival))["seller_status"] is None


async def test_similar_but_different_shop_names_are_fine(
    client: httpx.AsyncClient, applicant: LoggedIn
) -> None:
    await apply_ok(client, who=applicant, shop_name="Acme Shop")
    rival = await register_and_login(client)

    profile = await apply_ok(client, who=rival, shop_name="Acme Shops")

    assert profile["slug"] == "acme-shops"


async def test_shop_name_without_letters_or_digits_is_refused(
    client: httpx.AsyncClient, applicant: LoggedIn
) -> None:
    response = await apply(client, who=applicant, shop_name="!!! ???")

    assert_problem(response, 422, "invalid_shop_name")
    assert_problem(await client.get(MY_SELLER, headers=applicant.headers), 404, "not_found")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        pytest.param({"country": "Germany"}, "country", id="country-name"),
        pytest.param({"country": "de"}, "country", id="country-lowercase"),
        pytest.param({"country": "DEU"}, "country", id="country-alpha3"),
        pytest.param({"contact_phone": "call me maybe"}, "contact_phone", id="phone-words"),
        pytest.param({"contact_phone": "12"}, "contact_phone", id="phone-too-short"),
        pytest.param({"contact_email": "not-an-email"}, "contact_email", id="email"),
        pytest.param({"payout_account": "DE123"}, "payout_account", id="payout-too-short"),
        pytest.param({"payout_account": "DE89-3704-0044"}, "payout_account", id="payout-dashes"),
        pytest.param({"payout_account": "DE89$3704#0044"}, "payout_account", id="payout-symbols"),
        pytest.param({"payout_account": "D" * 35}, "payout_account", id="payout-too-long"),
        pytest.param({"payout_account": "DE89370400440532ü"}, "payout_account", id="payout-ascii"),
        pytest.param(
            {"payout_account": "DE89 " + " " * 60 + "370400"}, "payout_account", id="payout-65"
        ),
        pytest.param({"contact_email": "shop@mail.test"}, "contact_email", id="special-use-domain"),
        pytest.param({"seller_type": "corporation"}, "seller_type", id="seller-type"),
        pytest.param({"shop_name": "A"}, "shop_name", id="shop-name-too-short"),
        pytest.param({"shop_name": "A" * 81}, "shop_name", id="shop-name-too-long"),
        pytest.param({"status": "approved"}, "status", id="extra-status"),
        pytest.param({"approved_at": "2020-01-01T00:00:00Z"}, "approved_at", id="extra-date"),
    ],
)
async def test_invalid_application_is_422(
    client: httpx.AsyncClient, applicant: LoggedIn, overrides: dict[str, Any], field: str
) -> None:
    response = await apply(client, who=applicant, **overrides)

    problem = assert_problem(response, 422, "validation_error")
    assert _error_fields(problem) == {field}
    _assert_account_hidden(response)
    # Nothing was created: the applicant can fix the body and apply.
    assert_problem(await client.get(MY_SELLER, headers=applicant.headers), 404, "not_found")
    assert (await me(client, who=applicant))["seller_status"] is None


@pytest.mark.parametrize(
    "missing",
    [
        "shop_name",
        "legal_name",
        "seller_type",
        "country",
        "contact_email",
        "contact_phone",
        "payout_account",
    ],
)
async def test_missing_field_is_422(
    client: httpx.AsyncClient, applicant: LoggedIn, missing: str
) -> None:
    body = seller_application()
    del body[missing]

    response = await client.post(SELLERS, json=body, headers=applicant.headers)

    problem = assert_problem(response, 422, "validation_error")
    assert _error_fields(problem) == {missing}


async def test_description_is_optional(client: httpx.AsyncClient, applicant: LoggedIn) -> None:
    body = seller_application()
    del body["description"]

    response = await client.post(SELLERS, json=body, headers=applicant.headers)

    assert response.status_code == 201, response.text
    assert response.json()["description"] == ""


async def test_payout_account_spaces_are_dropped_and_letters_upper_cased(
    client: httpx.AsyncClient, applicant: LoggedIn
) -> None:
    profile = await apply_ok(client, who=applicant, payout_account="gb29 nwbk 6016 1331 9268 1x")

    assert profile["payout_account_masked"].endswith("681X")
    assert "GB29NWBK" not in str(profile)


PAYOUT_ACCOUNTS = [
    ("DE89 3704 0044 0532 0130 00", True),
    (" abc def ", True),
    ("A" * 34, True),
    ("A " * 30 + "AAAA", True),  # 64 characters, 34 of them letters
    ("A " * 34, False),  # 34 letters, but 68 characters
    ("ABCDE", False),
    ("A" * 35, False),
    ("DE89-3704-0044", False),
    ("DE89\t370400", False),
    ("ÄBCDEF", False),
    ("", False),
]


@pytest.mark.parametrize(("account", "valid"), PAYOUT_ACCOUNTS)
async def test_the_spec_states_the_payout_account_rule_the_api_applies(
    client: httpx.AsyncClient, applicant: LoggedIn, account: str, valid: bool
) -> None:
    """Found by the fuzzer: the rule (6 to 34 letters and digits, spaces ignored) was not in
    the spec, so schema-valid accounts were refused."""
    spec = (await client.get("/openapi.json")).json()
    schema = spec["components"]["schemas"]["SellerApply"]["properties"]["payout_account"]
    by_spec = schema["minLength"] <= len(account) <= schema["maxLength"] and bool(
        re.search(schema["pattern"], account)
    )

    response = await apply(client, who=applicant, payout_account=account)

    assert by_spec is valid
    assert response.status_code == (201 if valid else 422), response.text


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", SELLERS), ("GET", MY_SELLER), ("PATCH", MY_SELLER)],
)
async def test_anonymous_caller_is_401(client: httpx.AsyncClient, method: str, path: str) -> None:
    body = seller_application() if method == "POST" else {"description": "x"}
    response = await client.request(method, path, json=body if method != "GET" else None)

    assert_problem(response, 401, "invalid_token")


async def test_bad_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post(
        SELLERS, json=seller_application(), headers={"Authorization": "Bearer not-a-token"}
    )

    assert_problem(response, 401, "invalid_token")


# --- the own profile ------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PATCH"])
async def test_own_profile_is_404_before_applying(
    client: httpx.AsyncClient, applicant: LoggedIn, method: str
) -> None:
    body = {"description": "x"} if method == "PATCH" else None

    response = await client.request(method, MY_SELLER, json=body, headers=applicant.headers)

    assert_problem(response, 404, "not_found")
    assert (await me(client, who=applicant))["seller_status"] is None


async def test_patch_description_contact_and_payout(
    client: httpx.AsyncClient, applicant: LoggedIn
) -> None:
    created = await apply_ok(client, who=applicant)
    new_account = "FR14 2004 1010 0505 0001 3M02 606"
    changes = {
        "description": "Now also tablets",
        "contact_email": "hello@lovelace.example",
        "contact_phone": "+33 1 23 45 67 89",
        "payout_account": new_account,
    }

    response = await client.patch(MY_SELLER, json=changes, headers=applicant.headers)

    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["description"] == "Now also tablets"
    assert updated["contact_email"] == "hello@lovelace.example"
    assert updated["contact_phone"] == "+33 1 23 45 67 89"
    assert updated["payout_account_masked"] != created["payout_account_masked"]
    assert updated["payout_account_masked"].endswith("2606")
    for form in (new_account, new_account.replace(" ", ""), "FR1420041010050500013M02"):
        assert form not in response.text
    # What a seller may change needs no new review; the rest stays as it was.
    assert updated["status"] == "pending_review"
    for key in ("id", "shop_name", "slug", "legal_name", "country", "seller_type", "created_at"):
        assert updated[key] == created[key]
    assert await my_profile(client, who=applicant) == updated


async def test_patch_one_field_keeps_the_others(
    client: httpx.AsyncClient, applicant: LoggedIn
) -> None:
    created = await apply_ok(client, who=applicant)

    response = await client.patch(
        MY_SELLER, json={"description": "Only this"}, headers=applicant.headers
    )

    assert response.status_code == 200, response.text
    assert response.json() == {**created, "description": "Only this"}


async def test_patch_with_empty_body_changes_nothing(
    client: httpx.AsyncClient, applicant: LoggedIn
) -> None:
    created = await apply_ok(client, who=applicant)

    response = await client.patch(MY_SELLER, json={}, headers=applicant.headers)

    assert response.status_code == 200, response.text
    assert response.json() == created


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"shop_name": "Renamed Shop"}, id="shop_name"),
        pytest.param({"legal_name": "Someone Else"}, id="legal_name"),
        pytest.param({"country": "FR"}, id="country"),
        pytest.param({"status": "approved"}, id="status"),
        pytest.param({"payout_account": "12"}, id="bad-payout"),
        pytest.param({"contact_phone": "phone"}, id="bad-phone"),
    ],
)
async def test_patch_refuses_fields_that_need_review_or_are_invalid(
    client: httpx.AsyncClient, applicant: LoggedIn, body: dict[str, Any]
) -> None:
    created = await apply_ok(client, who=applicant)

    response = await client.patch(MY_SELLER, json=body, headers=applicant.headers)

    problem = assert_problem(response, 422, "validation_error")
    assert _error_fields(problem) == set(body)
    assert await my_profile(client, who=applicant) == created


async def test_approved_seller_may_patch_without_new_review(
    client: httpx.AsyncClient, applicant: LoggedIn, admin: LoggedIn
) -> None:
    seller_id = (await apply_ok(client, who=applicant))["id"]
    await approve(client, admin=admin, seller_id=seller_id)

    response = await client.patch(
        MY_SELLER, json={"description": "Summer sale"}, headers=applicant.headers
    )

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "approved"
    assert (await me(client, who=applicant))["roles"] == ["buyer", "seller"]


async def test_refused_reapplication_does_not_log_the_payout_account(
    client: httpx.AsyncClient,
    applicant: LoggedIn,
    admin: LoggedIn,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A re-application with a new account but a shop name someone else holds is refused;
    neither the answer nor any log line may carry the new account."""
    rival = await register_and_login(client)
    await apply_ok(client, who=rival, shop_name="Taken Name")
    seller_id = (await apply_ok(client, who=applicant))["id"]
    await client.post(
        f"{ADMIN_SELLERS}/{seller_id}/reject", json={"reason": "No"}, headers=admin.headers
    )
    new_account = "NL91ABNA0417164300"
    root = logging.getLogger()
    root.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO):
            response = await apply(
                client, who=applicant, shop_name="taken name", payout_account=new_account
            )
    finally:
        root.removeHandler(caplog.handler)

    assert_problem(response, 409, "shop_name_taken")
    assert new_account not in response.text
    assert new_account not in caplog.text
