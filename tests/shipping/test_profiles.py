"""A shop's shipping profiles: made, read, replaced and deleted by their shop only, checked
on the way in (currency, destinations), and refused deletion while listings charge by them."""

import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.accounts import buyer_user
from tests.factories.api import assert_problem, json_ok, only_page, usd
from tests.factories.api_keys import integration_of
from tests.factories.catalog import act, create_listing, patch_listing, read_own_listing
from tests.factories.orders import market
from tests.factories.sellers import approved_seller
from tests.factories.shipping import (
    SHIPPING_PROFILES,
    create_profile,
    listing_on_profile,
    post_profile,
    profile_body,
    rate,
)


async def test_a_seller_makes_reads_replaces_and_deletes_a_profile(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    body = profile_body(
        rate("DE", first=490, additional=150, free_over=5000),
        rate("EU", "CH", first=990, additional=300),
        name="Standard parcel",
    )

    created = json_ok(await post_profile(client, seller=m.seller, body=body), 201)

    assert created["name"] == "Standard parcel"
    assert created["currency"] == "USD"
    assert created["rates"] == [
        {
            "destinations": ["DE"],
            "first_item": usd(490),
            "additional_item": usd(150),
            "free_over": usd(5000),
        },
        {
            "destinations": ["EU", "CH"],
            "first_item": usd(990),
            "additional_item": usd(300),
            "free_over": None,
        },
    ]
    url = f"{SHIPPING_PROFILES}/{created['id']}"
    read = await client.get(url, headers=m.seller.headers)
    assert json_ok(read) == created
    assert only_page(await client.get(SHIPPING_PROFILES, headers=m.seller.headers)) == [created]

    replaced = json_ok(
        await client.put(
            url,
            json=profile_body(rate("*", first=1500, additional=0), name="Flat worldwide"),
            headers={**m.seller.headers, "If-Match": read.headers["ETag"]},
        )
    )
    assert replaced["id"] == created["id"]
    assert replaced["name"] == "Flat worldwide"
    assert replaced["rates"] == [
        {
            "destinations": ["*"],
            "first_item": usd(1500),
            "additional_item": usd(0),
            "free_over": None,
        }
    ]
    assert replaced["created_at"] == created["created_at"]
    assert json_ok(await client.get(url, headers=m.seller.headers)) == replaced

    # The tag read before the replacement is stale now: nothing changes.
    stale = await client.put(
        url,
        json=profile_body(name="Late edit"),
        headers={**m.seller.headers, "If-Match": read.headers["ETag"]},
    )
    assert_problem(stale, 412, "precondition_failed")

    deleted = await client.delete(url, headers=m.seller.headers)
    assert deleted.status_code == 204
    assert_problem(await client.get(url, headers=m.seller.headers), 404, "not_found")
    assert only_page(await client.get(SHIPPING_PROFILES, headers=m.seller.headers)) == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        pytest.param(
            profile_body(currency="EUR"), 422, "currency_not_supported", id="not-the-platforms"
        ),
        pytest.param(
            profile_body(
                {
                    "destinations": ["DE"],
                    "first_item": usd(500),
                    "additional_item": {"amount": 200, "currency": "EUR"},
                    "free_over": None,
                }
            ),
            422,
            "currency_not_supported",
            id="an-amount-in-another-currency",
        ),
        pytest.param(
            profile_body(
                rate("DE", "FR", first=500, additional=200), rate("FR", first=900, additional=300)
            ),
            422,
            "duplicate_destination",
            id="duplicate-across-rates",
        ),
        pytest.param(
            profile_body(rate("DE", "DE", first=500, additional=200)),
            422,
            "duplicate_destination",
            id="duplicate-within-a-rate",
        ),
        pytest.param(
            profile_body(rate("*", first=1, additional=1), rate("*", first=2, additional=2)),
            422,
            "duplicate_destination",
            id="everywhere-twice",
        ),
        pytest.param(
            profile_body(rate("UK", first=500, additional=200)),
            422,
            "unknown_destination",
            id="not-a-country-code",
        ),
        pytest.param(
            profile_body(rate("de", first=500, additional=200)),
            422,
            "validation_error",
            id="lower-case",
        ),
        pytest.param(profile_body(rates=[]), 422, "validation_error", id="no-rates"),
        pytest.param(
            profile_body(rate(first=500, additional=200)), 422, "validation_error", id="nowhere"
        ),
        pytest.param(
            profile_body(rate("DE", first=-1, additional=200)),
            422,
            "validation_error",
            id="negative",
        ),
        pytest.param(
            profile_body(rate("DE", first=500, additional=200, free_over=0)),
            422,
            "validation_error",
            id="free-over-nothing",
        ),
        pytest.param(profile_body(name=" "), 422, "validation_error", id="blank-name"),
        pytest.param(
            {**profile_body(), "handling": "fast"}, 422, "validation_error", id="unknown-field"
        ),
    ],
)
async def test_a_profile_that_makes_no_sense_is_refused(
    client: httpx.AsyncClient,
    session: AsyncSession,
    body: dict[str, object],
    status: int,
    code: str,
) -> None:
    m = await market(client, session)

    refused = assert_problem(await post_profile(client, seller=m.seller, body=body), status, code)

    assert only_page(await client.get(SHIPPING_PROFILES, headers=m.seller.headers)) == []
    if code == "duplicate_destination":
        assert "each destination has one rate" in str(refused["detail"])


async def test_a_duplicate_destination_is_refused_on_replacement_too_and_nothing_changes(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    created = await create_profile(
        client, seller=m.seller, rates=[rate("DE", first=500, additional=200)]
    )
    url = f"{SHIPPING_PROFILES}/{created['id']}"

    response = await client.put(
        url,
        json=profile_body(
            rate("EU", first=900, additional=300), rate("EU", first=800, additional=300)
        ),
        headers=m.seller.headers,
    )

    assert_problem(response, 422, "duplicate_destination")
    assert json_ok(await client.get(url, headers=m.seller.headers)) == created


async def test_profile_names_are_unique_within_a_shop_only(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    other, _ = await approved_seller(client, session, admin=m.admin)
    json_ok(await post_profile(client, seller=m.seller, body=profile_body(name="Standard")), 201)

    again = await post_profile(client, seller=m.seller, body=profile_body(name="Standard"))
    elsewhere = await post_profile(client, seller=other, body=profile_body(name="Standard"))

    assert_problem(again, 409, "shipping_profile_name_taken")
    assert elsewhere.status_code == 201, elsewhere.text


async def test_another_shops_profile_is_not_found_and_cannot_be_used(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    other, _ = await approved_seller(client, session, admin=m.admin)
    theirs = await create_profile(client, seller=other, rates=[rate("DE", first=1, additional=1)])
    url = f"{SHIPPING_PROFILES}/{theirs['id']}"

    assert_problem(await client.get(url, headers=m.seller.headers), 404, "not_found")
    assert_problem(
        await client.put(url, json=profile_body(), headers=m.seller.headers), 404, "not_found"
    )
    assert_problem(await client.delete(url, headers=m.seller.headers), 404, "not_found")
    assert only_page(await client.get(SHIPPING_PROFILES, headers=m.seller.headers)) == []
    # A listing may point only to its own shop's profiles: another's is as unknown as none.
    for profile_id in (theirs["id"], str(uuid.uuid4())):
        refused = await client.post(
            "/v1/listings",
            json={
                "title": "Blue ceramic mug",
                "price": usd(1999),
                "condition": "new",
                "category_id": m.category_id,
                "shipping_profile_id": profile_id,
            },
            headers=m.seller.headers,
        )
        assert_problem(refused, 422, "unknown_shipping_profile")
    assert json_ok(await client.get(url, headers=other.headers)) == theirs


async def test_a_listing_points_to_a_profile_and_can_go_back_to_its_flat_fee(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    profile = await create_profile(
        client, seller=m.seller, rates=[rate("DE", first=1, additional=1)]
    )
    draft = await create_listing(
        client,
        seller=m.seller,
        category_id=m.category_id,
        shipping_fee=usd(450),
        shipping_profile_id=profile["id"],
    )
    assert draft["shipping_profile_id"] == profile["id"]
    assert draft["shipping_fee"] == usd(450)

    detached = await patch_listing(
        client, seller=m.seller, listing_id=draft["id"], shipping_profile_id=None
    )

    assert detached["shipping_profile_id"] is None
    own = await read_own_listing(client, seller=m.seller, listing_id=draft["id"])
    assert own["shipping_profile_id"] is None
    # The public page shows no profile id (a shop's own business), only the flat fee.
    public = json_ok(await client.get(f"/v1/listings/{draft['id']}", headers=m.seller.headers))
    assert "shipping_profile_id" not in public


async def test_a_profile_in_use_is_not_deleted_until_its_listings_can_no_longer_sell(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    profile = await create_profile(
        client, seller=m.seller, rates=[rate("DE", first=1, additional=1)]
    )
    url = f"{SHIPPING_PROFILES}/{profile['id']}"
    live = await listing_on_profile(
        client, seller=m.seller, category_id=m.category_id, profile_id=profile["id"]
    )
    draft = await create_listing(
        client, seller=m.seller, category_id=m.category_id, shipping_profile_id=profile["id"]
    )

    refused = assert_problem(
        await client.delete(url, headers=m.seller.headers), 409, "shipping_profile_in_use"
    )
    assert "2 listings use this profile" in str(refused["detail"])
    await patch_listing(client, seller=m.seller, listing_id=draft["id"], shipping_profile_id=None)
    assert_problem(
        await client.delete(url, headers=m.seller.headers), 409, "shipping_profile_in_use"
    )
    await act(client, who=m.seller, action="archive", listing_id=live["id"], expected="archived")

    deleted = await client.delete(url, headers=m.seller.headers)

    assert deleted.status_code == 204, deleted.text
    archived = await read_own_listing(client, seller=m.seller, listing_id=live["id"])
    assert archived["shipping_profile_id"] is None
    assert_problem(await client.get(url, headers=m.seller.headers), 404, "not_found")


async def test_only_an_approved_shop_manages_profiles(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    buyer = await buyer_user(client)

    assert_problem(
        await client.get(SHIPPING_PROFILES, headers=buyer.headers), 403, "seller_required"
    )
    assert_problem(
        await post_profile(client, seller=buyer, body=profile_body()), 403, "seller_required"
    )
    assert_problem(await client.get(SHIPPING_PROFILES), 401, "invalid_token")
    assert only_page(await client.get(SHIPPING_PROFILES, headers=m.seller.headers)) == []


async def test_an_integration_with_listing_scopes_manages_profiles(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """A profile is what its listings' shipping costs: the `listings` scopes reach it."""
    m = await market(client, session)
    reader = await integration_of(client, owner=m.seller, scopes=["listings:read"])
    writer = await integration_of(client, owner=m.seller, scopes=["listings:write"])
    shop_reader = await integration_of(client, owner=m.seller, scopes=["shop:read"])

    created = json_ok(await post_profile(client, seller=writer, body=profile_body()), 201)

    assert only_page(await client.get(SHIPPING_PROFILES, headers=reader.headers)) == [created]
    assert_problem(
        await post_profile(client, seller=reader, body=profile_body()), 403, "insufficient_scope"
    )
    assert_problem(
        await client.get(SHIPPING_PROFILES, headers=shop_reader.headers), 403, "insufficient_scope"
    )
