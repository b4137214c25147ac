"""Issue 15: a listing's page stays readable when the listing stops being for sale (its state,
with its shop's folded in, says why), shows the public nothing only insiders see, and its
seller's and admins' complete views live at their own URLs. A shop's page likewise."""

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories.accounts import LoggedIn
from tests.factories.api import assert_problem, json_ok
from tests.factories.catalog import (
    LISTINGS,
    MY_LISTINGS,
    act,
    create_listing,
    get_listing,
    live_listing,
    patch_listing,
    read_admin_listing,
    read_own_listing,
)
from tests.factories.privacy import deleted
from tests.factories.sellers import SELLERS, approved_seller, decide_ok

INSIDER_FIELDS = {"allowed_actions", "low_stock_threshold", "status_reason", "shop_status"}


async def test_every_way_out_of_sale_keeps_the_page_readable_with_its_reason(
    client: httpx.AsyncClient,
    session: AsyncSession,
    admin: LoggedIn,
    seller: LoggedIn,
    buyer: LoggedIn,
    category_id: str,
) -> None:
    sold_out = await live_listing(client, seller=seller, category_id=category_id)
    await patch_listing(client, seller=seller, listing_id=sold_out["id"], quantity=0)
    paused = await live_listing(client, seller=seller, category_id=category_id)
    await act(client, who=seller, action="pause", listing_id=paused["id"], expected="paused")
    archived = await live_listing(client, seller=seller, category_id=category_id)
    await act(client, who=seller, action="archive", listing_id=archived["id"], expected="archived")
    removed = await live_listing(client, seller=seller, category_id=category_id)
    await act(client, who=admin, action="remove", listing_id=removed["id"], expected="removed")
    on_sale = await live_listing(client, seller=seller, category_id=category_id)
    expected = {
        sold_out["id"]: "sold_out",
        paused["id"]: "paused",
        archived["id"]: "archived",
        removed["id"]: "removed",
        on_sale["id"]: "active",
    }

    for listing_id, status in expected.items():
        for who in (None, buyer):
            page = json_ok(await get_listing(client, listing_id=listing_id, who=who))
            assert page["status"] == status
            assert page["for_sale"] is (status == "active")
            assert page["title"] == on_sale["title"]
            assert page["price"] == on_sale["price"]
            assert not INSIDER_FIELDS & set(page)

    # A removed listing keeps what a link needs (title, price, shop) and withholds the rest.
    removed_page = json_ok(await get_listing(client, listing_id=removed["id"]))
    assert removed_page["description"] == ""
    assert removed_page["images"] == []
    own = await read_own_listing(client, seller=seller, listing_id=removed["id"])
    assert own["description"] == removed["description"]


@pytest.mark.parametrize(("decision", "status"), [("suspend", "shop_suspended")])
async def test_a_suspended_shops_listing_reads_as_such_and_its_shop_page_too(
    client: httpx.AsyncClient,
    admin: LoggedIn,
    seller_and_id: tuple[LoggedIn, str],
    category_id: str,
    decision: str,
    status: str,
) -> None:
    seller, shop_id = seller_and_id
    listing = await live_listing(client, seller=seller, category_id=category_id)

    await decide_ok(client, admin=admin, seller_id=shop_id, action=decision, reason="checks")

    page = json_ok(await get_listing(client, listing_id=listing["id"]))
    assert (page["status"], page["for_sale"]) == (status, False)
    shop = json_ok(await client.get(f"{SELLERS}/{shop_id}"))
    assert (shop["status"], shop["accepting_orders"]) == ("suspended", False)
    own = await read_own_listing(client, seller=seller, listing_id=listing["id"])
    assert (own["status"], own["shop_status"], own["for_sale"]) == ("active", "suspended", False)


async def test_a_closed_shops_listing_stays_readable_and_its_shop_page_goes(
    client: httpx.AsyncClient, session: AsyncSession, admin: LoggedIn, category_id: str
) -> None:
    seller, shop_id = await approved_seller(client, session, admin=admin)
    listing = await live_listing(client, seller=seller, category_id=category_id)

    await deleted(client, who=seller)

    page = json_ok(await get_listing(client, listing_id=listing["id"]))
    assert (page["status"], page["for_sale"]) == ("shop_closed", False)
    assert page["title"] == listing["title"]
    # The shop went with its owner's account (privacy); its listings' pages say so.
    assert_problem(await client.get(f"{SELLERS}/{shop_id}"), 404, "not_found")


async def test_a_draft_is_404_to_others_and_a_dateless_preview_to_its_seller(
    client: httpx.AsyncClient,
    admin: LoggedIn,
    seller: LoggedIn,
    other_seller: LoggedIn,
    buyer: LoggedIn,
    category_id: str,
) -> None:
    draft = await create_listing(
        client, seller=seller, category_id=category_id, low_stock_threshold=2
    )

    for outsider in (None, buyer, other_seller):
        response = await get_listing(client, listing_id=draft["id"], who=outsider)
        assert_problem(response, 404, "not_found")
        if outsider is not None:
            response = await client.get(f"{MY_LISTINGS}/{draft['id']}", headers=outsider.headers)
            assert response.status_code in (403, 404), response.text
    preview = json_ok(await get_listing(client, listing_id=draft["id"], who=seller))
    assert (preview["status"], preview["published_at"], preview["for_sale"]) == (
        "draft",
        None,
        False,
    )
    assert not INSIDER_FIELDS & set(preview)
    own = await read_own_listing(client, seller=seller, listing_id=draft["id"])
    assert own["published_at"] is None
    assert own["low_stock_threshold"] == 2
    assert sorted(own["allowed_actions"]) == ["archive", "publish"]
    moderated = await read_admin_listing(client, admin=admin, listing_id=draft["id"])
    assert moderated["report_count"] == 0

    published = json_ok(
        await client.post(f"{LISTINGS}/{draft['id']}/publish", headers=seller.headers)
    )
    assert published["published_at"] is not None


async def test_the_spec_gives_the_public_page_and_the_owners_view_one_schema_each(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()

    def schema_of(path: str, method: str = "get") -> str:
        content = spec["paths"][path][method]["responses"]["200"]["content"]
        ref: str = content["application/json"]["schema"]["$ref"]
        return ref.rsplit("/", 1)[-1]

    assert schema_of("/v1/listings/{listing_id}") == "ListingPublic"
    assert schema_of("/v1/sellers/me/listings/{listing_id}") == "ListingRead"
    assert schema_of("/v1/listings/{listing_id}", "patch") == "ListingRead"
    public = spec["components"]["schemas"]["ListingPublic"]["properties"]
    assert not INSIDER_FIELDS & set(public)
    assert {"for_sale", "status"} <= set(public)


async def test_the_sellers_listings_tab_counts_each_state_and_finds_by_title(
    client: httpx.AsyncClient, seller: LoggedIn, other_seller: LoggedIn, category_id: str
) -> None:
    mug = await live_listing(client, seller=seller, category_id=category_id, title="Blue mug")
    await live_listing(client, seller=seller, category_id=category_id, title="Red mug")
    await create_listing(client, seller=seller, category_id=category_id, title="Green MUG")
    await create_listing(client, seller=seller, category_id=category_id, title="Teapot")
    await act(client, who=seller, action="pause", listing_id=mug["id"], expected="paused")
    await live_listing(client, seller=other_seller, category_id=category_id, title="Other mug")

    everything = json_ok(await client.get(MY_LISTINGS, headers=seller.headers))
    mugs = json_ok(
        await client.get(
            MY_LISTINGS, params={"q": "mug", "status": "draft"}, headers=seller.headers
        )
    )

    assert everything["counts"] == {"active": 1, "paused": 1, "draft": 2}
    assert len(everything["items"]) == 4
    assert [i["title"] for i in mugs["items"]] == ["Green MUG"]
    assert mugs["counts"] == {"active": 1, "paused": 1, "draft": 1}  # the tabs, under `q`
