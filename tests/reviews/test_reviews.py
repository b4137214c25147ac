"""Reviews through the HTTP API: who may write one and when, the double-blind publication
(both sides together, or the worker when the window closes), replies, admin hiding, and the
reputation aggregates of shops and buyers. The clock is moved, never slept on."""

from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import clock
from app.core.db import Database
from tests.factories.accounts import LoggedIn, buyer_user, me, relogin
from tests.factories.api import Json, assert_problem, json_ok, parse_time
from tests.factories.disputes import completed_order, shipped_order
from tests.factories.orders import Market, market, order_events, paid_order
from tests.factories.reviews import post_review, write_review
from tests.factories.worker import sweep

REVIEWS = "/v1/reviews"
NO_RATINGS: Json = {
    "average": 0.0,
    "count": 0,
    "positive_share": 0.0,
    "distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0},
}


# --- helpers ----------------------------------------------------------------------------------


async def get_review(
    client: httpx.AsyncClient, who: LoggedIn | None, review_id: str
) -> httpx.Response:
    headers = who.headers if who is not None else {}
    return await client.get(f"{REVIEWS}/{review_id}", headers=headers)


async def read_review(client: httpx.AsyncClient, who: LoggedIn | None, review_id: str) -> Json:
    review: Json = json_ok(await get_review(client, who, review_id))
    return review


async def order_review_ids(client: httpx.AsyncClient, who: LoggedIn, order_id: str) -> list[str]:
    response = await client.get(f"/v1/orders/{order_id}/reviews", headers=who.headers)
    assert response.status_code == 200, response.text
    return [r["id"] for r in response.json()]


async def post_reply(
    client: httpx.AsyncClient, who: LoggedIn, review_id: str, text: str = "Thank you!"
) -> httpx.Response:
    return await client.post(
        f"{REVIEWS}/{review_id}/reply", json={"reply": text}, headers=who.headers
    )


async def post_hide(
    client: httpx.AsyncClient, who: LoggedIn, review_id: str, reason: str = "abusive language"
) -> httpx.Response:
    return await client.post(
        f"/v1/admin/reviews/{review_id}/hide", json={"reason": reason}, headers=who.headers
    )


async def storefront_rating(client: httpx.AsyncClient, seller_id: str) -> Json:
    response = await client.get(f"/v1/sellers/{seller_id}")
    assert response.status_code == 200, response.text
    rating: Json = response.json()["rating"]
    return rating


async def buyer_rating(client: httpx.AsyncClient, user_id: str) -> Json:
    response = await client.get(f"/v1/users/{user_id}")
    assert response.status_code == 200, response.text
    profile: Json = response.json()
    assert profile["id"] == user_id
    rating: Json = profile["buyer_rating"]
    return rating


async def seller_review_ids(client: httpx.AsyncClient, seller_id: str) -> list[str]:
    response = await client.get(f"/v1/sellers/{seller_id}/reviews", params={"limit": 100})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next_cursor"] is None
    return [r["id"] for r in body["items"]]


async def both_reviewed(
    client: httpx.AsyncClient, m: Market, *, buyer_rates: int = 5, seller_rates: int = 4
) -> tuple[str, Json, Json]:
    """A completed order both parties reviewed (so both reviews are published):
    (order id, the buyer's review of the seller, the seller's review of the buyer)."""
    order = await completed_order(client, market=m)
    by_buyer = await write_review(
        client, who=m.buyer, order_id=order["id"], rating=buyer_rates, comment="Well packed"
    )
    by_seller = await write_review(
        client, who=m.seller, order_id=order["id"], rating=seller_rates, comment="Paid fast"
    )
    return order["id"], await read_review(client, m.buyer, by_buyer["id"]), by_seller


def period(average: float, count: int, share: float, distribution: list[int]) -> Json:
    return {
        "average": average,
        "count": count,
        "positive_share": share,
        "distribution": {str(r): n for r, n in zip(range(1, 6), distribution, strict=True)},
    }


# --- writing ----------------------------------------------------------------------------------


async def test_each_party_of_a_completed_order_reviews_the_other_unpublished(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)
    assert order["completed_at"] is not None
    assert parse_time(order["review_deadline"]) == parse_time(order["completed_at"]) + timedelta(
        days=14
    )

    review = await write_review(
        client, who=m.buyer, order_id=order["id"], rating=4, comment="Well packed"
    )

    assert review == {
        "id": review["id"],
        "order_id": order["id"],
        "author_id": m.buyer.user_id,
        "author_display_name": (await me(client, who=m.buyer))["display_name"],
        "subject_user_id": m.seller.user_id,
        "about": "seller",
        "shop_id": m.seller_id,
        "shop_name": json_ok(await client.get(f"/v1/sellers/{m.seller_id}"))["shop_name"],
        "items": [
            {"listing_id": line["listing_id"], "title": line["title"]} for line in order["lines"]
        ],
        "rating": 4,
        "comment": "Well packed",
        "created_at": review["created_at"],
        "published": False,
        "published_at": None,
        "hidden": False,
        "hidden_reason": None,
        "reply": None,
        "replied_at": None,
    }
    assert await read_review(client, m.buyer, review["id"]) == review
    assert await order_review_ids(client, m.buyer, order["id"]) == [review["id"]]


async def test_the_seller_reviews_the_buyer(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)

    review = await write_review(
        client, who=m.seller, order_id=order["id"], rating=2, comment="Slow to answer"
    )

    assert review["author_id"] == m.seller.user_id
    assert review["subject_user_id"] == m.buyer.user_id
    assert (review["about"], review["rating"], review["comment"]) == ("buyer", 2, "Slow to answer")
    assert review["published"] is False


async def test_an_order_not_yet_completed_cannot_be_reviewed(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    _listing, paid = await paid_order(client, market=m)
    shipped = await shipped_order(client, market=m)

    for order_id in (paid["id"], shipped["id"]):
        for who in (m.buyer, m.seller):
            assert_problem(
                await post_review(client, who=who, order_id=order_id), 409, "order_not_completed"
            )
        assert await order_review_ids(client, m.buyer, order_id) == []


async def test_a_review_is_accepted_until_the_window_closes(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)

    clock.advance(settings.review_window - timedelta(minutes=1))
    seller = await relogin(client, who=m.seller)
    review = await write_review(client, who=seller, order_id=order["id"], rating=5)

    clock.advance(timedelta(minutes=2))
    late_buyer = await relogin(client, who=m.buyer)
    response = await post_review(client, who=late_buyer, order_id=order["id"], rating=5)

    body = assert_problem(response, 409, "review_window_closed")
    assert order["review_deadline"][:19] in str(body["detail"])
    assert await order_review_ids(client, late_buyer, order["id"]) == []
    assert (await read_review(client, seller, review["id"]))["published"] is False


async def test_a_party_reviews_an_order_only_once(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)
    first = await write_review(client, who=m.buyer, order_id=order["id"], rating=5, comment="First")

    assert_problem(
        await post_review(client, who=m.buyer, order_id=order["id"], rating=1, comment="Again"),
        409,
        "already_reviewed",
    )

    assert await order_review_ids(client, m.buyer, order["id"]) == [first["id"]]
    assert (await read_review(client, m.buyer, first["id"]))["rating"] == 5
    # Still refused once both are published.
    await write_review(client, who=m.seller, order_id=order["id"], rating=4)
    for who in (m.buyer, m.seller):
        assert_problem(
            await post_review(client, who=who, order_id=order["id"], rating=3),
            409,
            "already_reviewed",
        )


async def test_a_stranger_gets_404_and_an_admin_who_is_no_party_gets_403(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)
    stranger = await buyer_user(client)

    assert_problem(await post_review(client, who=stranger, order_id=order["id"]), 404, "not_found")
    assert_problem(
        await post_review(client, who=m.admin, order_id=order["id"]), 403, "not_order_party"
    )
    missing = "01900000-0000-7000-8000-000000000000"
    assert_problem(await post_review(client, who=m.buyer, order_id=missing), 404, "not_found")
    assert await order_review_ids(client, m.buyer, order["id"]) == []


async def test_writing_a_review_needs_a_login(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)

    response = await client.post(
        f"/v1/orders/{order['id']}/review", json={"rating": 5, "comment": "Great"}
    )

    assert response.status_code == 401, response.text
    assert await order_review_ids(client, m.buyer, order["id"]) == []


@pytest.mark.parametrize(
    "body",
    [
        {"rating": 0, "comment": "Bad"},
        {"rating": 6, "comment": "Too good"},
        {"rating": -1, "comment": "Bad"},
        {"rating": "5", "comment": "A string"},
        {"rating": 4.5, "comment": "A float"},
        {"rating": 5},
        {"comment": "No rating"},
        {"rating": 5, "comment": ""},
        {"rating": 5, "comment": "x" * 2001},
        {"rating": 5, "comment": "Great", "published": True},
    ],
    ids=[
        "rating-0",
        "rating-6",
        "rating-negative",
        "rating-string",
        "rating-float",
        "no-comment",
        "no-rating",
        "empty-comment",
        "comment-too-long",
        "unknown-field",
    ],
)
async def test_an_invalid_review_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, body: Json
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)

    response = await client.post(
        f"/v1/orders/{order['id']}/review", json=body, headers=m.buyer.headers
    )

    assert_problem(response, 422, "validation_error")
    assert await order_review_ids(client, m.buyer, order["id"]) == []


async def test_the_bounds_of_rating_and_comment_are_accepted(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)

    low = await write_review(
        client, who=m.buyer, order_id=order["id"], rating=1, comment="x" * 2000
    )
    high = await write_review(client, who=m.seller, order_id=order["id"], rating=5, comment="y")

    assert (low["rating"], len(low["comment"])) == (1, 2000)
    assert (high["rating"], high["comment"]) == (5, "y")


# --- double-blind publication -----------------------------------------------------------------


async def test_the_first_review_stays_blind_until_the_other_party_writes(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)
    stranger = await buyer_user(client)
    first = await write_review(client, who=m.buyer, order_id=order["id"], rating=3, comment="So-so")

    for who in (m.seller, stranger, None):
        assert_problem(await get_review(client, who, first["id"]), 404, "not_found")
    assert await order_review_ids(client, m.seller, order["id"]) == []
    assert await order_review_ids(client, m.buyer, order["id"]) == [first["id"]]
    assert await seller_review_ids(client, m.seller_id) == []
    assert await storefront_rating(client, m.seller_id) == {
        **NO_RATINGS,
        "last_12_months": NO_RATINGS,
    }

    second = await write_review(
        client, who=m.seller, order_id=order["id"], rating=5, comment="Perfect buyer"
    )

    assert second["published"] is True
    assert second["published_at"] is not None
    published_first = await read_review(client, m.seller, first["id"])
    assert published_first == {
        **first,
        "published": True,
        "published_at": second["published_at"],
    }
    assert await read_review(client, None, first["id"]) == published_first
    assert await read_review(client, stranger, second["id"]) == second
    for who in (m.buyer, m.seller):
        assert await order_review_ids(client, who, order["id"]) == [first["id"], second["id"]]
    assert await seller_review_ids(client, m.seller_id) == [first["id"]]


async def test_a_stranger_cannot_list_the_reviews_of_an_order(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order_id, _by_buyer, _by_seller = await both_reviewed(client, m)
    stranger = await buyer_user(client)

    response = await client.get(f"/v1/orders/{order_id}/reviews", headers=stranger.headers)

    assert_problem(response, 404, "not_found")


async def test_the_worker_publishes_a_lone_review_when_the_window_closes(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)
    review = await write_review(client, who=m.buyer, order_id=order["id"], rating=4)

    clock.advance(settings.review_window - timedelta(minutes=1))
    early = await sweep(database, settings)
    assert early["publish_due_reviews"] == 0
    assert_problem(await get_review(client, None, review["id"]), 404, "not_found")

    clock.advance(timedelta(minutes=2))
    done = await sweep(database, settings)

    assert done["publish_due_reviews"] == 1
    published = await read_review(client, None, review["id"])
    assert published == {**review, "published": True, "published_at": published["published_at"]}
    assert parse_time(published["published_at"]) >= parse_time(order["review_deadline"])
    seller = await relogin(client, who=m.seller)
    assert await order_review_ids(client, seller, order["id"]) == [review["id"]]
    assert await seller_review_ids(client, m.seller_id) == [review["id"]]
    assert (await storefront_rating(client, m.seller_id))["count"] == 1
    assert (await sweep(database, settings))["publish_due_reviews"] == 0
    assert_problem(
        await post_review(client, who=seller, order_id=order["id"], rating=5),
        409,
        "review_window_closed",
    )


async def test_the_timeline_shows_who_wrote_and_when_published_never_the_rating(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)
    by_buyer = await write_review(
        client, who=m.buyer, order_id=order["id"], rating=2, comment="Scratched"
    )

    fields = ("subject_id", "action", "actor_role", "actor_id", "from_status", "to_status")

    def review_steps(events: list[Json]) -> list[tuple[object, ...]]:
        return [(*(e[f] for f in fields), e["details"]) for e in events if e["subject"] == "review"]

    assert review_steps(await order_events(client, who=m.seller, order_id=order["id"])) == [
        (by_buyer["id"], "write", "buyer", m.buyer.user_id, None, "written", {}),
    ]

    by_seller = await write_review(
        client, who=m.seller, order_id=order["id"], rating=5, comment="Kind buyer"
    )

    expected: list[tuple[object, ...]] = [
        (by_buyer["id"], "write", "buyer", m.buyer.user_id, None, "written", {}),
        (by_seller["id"], "write", "seller", m.seller.user_id, None, "written", {}),
        (by_buyer["id"], "publish", "system", None, "written", "published", {"about": "seller"}),
        (by_seller["id"], "publish", "system", None, "written", "published", {"about": "buyer"}),
    ]
    for who in (m.buyer, m.seller):
        events = await order_events(client, who=who, order_id=order["id"])
        assert review_steps(events) == expected
        assert events[-1]["subject"] == "review"  # after the order's own steps
        assert all("rating" not in e["details"] for e in events)


async def test_the_worker_publication_is_on_the_timeline(
    client: httpx.AsyncClient, session: AsyncSession, database: Database, settings: Settings
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)
    review = await write_review(client, who=m.seller, order_id=order["id"], rating=1)

    clock.advance(settings.review_window + timedelta(seconds=1))
    await sweep(database, settings)

    events = await order_events(
        client, who=await relogin(client, who=m.buyer), order_id=order["id"]
    )
    assert [
        (e["subject_id"], e["action"], e["actor_role"], e["actor_id"], e["to_status"], e["details"])
        for e in events
        if e["subject"] == "review"
    ] == [
        (review["id"], "write", "seller", m.seller.user_id, "written", {}),
        (review["id"], "publish", "system", None, "published", {"about": "buyer"}),
    ]


# --- replies ----------------------------------------------------------------------------------


async def test_the_reviewed_person_replies_once(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    _order_id, by_buyer, by_seller = await both_reviewed(client, m)

    response = await post_reply(client, m.seller, by_buyer["id"], "Glad you liked it")

    assert response.status_code == 200, response.text
    replied = response.json()
    assert replied == {
        **by_buyer,
        "reply": "Glad you liked it",
        "replied_at": replied["replied_at"],
    }
    assert parse_time(replied["replied_at"]) >= parse_time(replied["published_at"])
    assert await read_review(client, None, by_buyer["id"]) == replied
    again = await post_reply(client, m.seller, by_buyer["id"], "Another")
    assert_problem(again, 409, "already_replied")
    assert (await read_review(client, None, by_buyer["id"]))["reply"] == "Glad you liked it"
    # The buyer answers the seller's review of them.
    answer = await post_reply(client, m.buyer, by_seller["id"], "Thanks")
    assert answer.status_code == 200, answer.text
    assert answer.json()["reply"] == "Thanks"


async def test_only_the_reviewed_person_may_reply(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    _order_id, by_buyer, _by_seller = await both_reviewed(client, m)
    stranger = await buyer_user(client)

    for who in (m.buyer, stranger, m.admin):
        assert_problem(await post_reply(client, who, by_buyer["id"]), 403, "not_review_subject")

    assert (await read_review(client, None, by_buyer["id"]))["reply"] is None


async def test_an_unpublished_review_cannot_be_replied_to(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)
    review = await write_review(client, who=m.buyer, order_id=order["id"], rating=5)

    for who in (m.seller, m.buyer):
        assert_problem(await post_reply(client, who, review["id"]), 404, "not_found")

    assert (await read_review(client, m.buyer, review["id"]))["reply"] is None


@pytest.mark.parametrize("body", [{"reply": ""}, {"reply": "x" * 2001}, {}])
async def test_an_invalid_reply_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, body: Json
) -> None:
    m = await market(client, session)
    _order_id, by_buyer, _by_seller = await both_reviewed(client, m)

    response = await client.post(
        f"{REVIEWS}/{by_buyer['id']}/reply", json=body, headers=m.seller.headers
    )

    assert_problem(response, 422, "validation_error")
    assert (await read_review(client, None, by_buyer["id"]))["reply"] is None


# --- admin hiding -----------------------------------------------------------------------------


async def test_an_admin_hides_a_review_from_the_public_and_the_aggregates(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    _order_id, by_buyer, by_seller = await both_reviewed(client, m, buyer_rates=1)
    stranger = await buyer_user(client)
    assert await seller_review_ids(client, m.seller_id) == [by_buyer["id"]]
    assert (await storefront_rating(client, m.seller_id))["count"] == 1

    response = await post_hide(client, m.admin, by_buyer["id"], "insults the seller")

    assert response.status_code == 200, response.text
    hidden = response.json()
    assert hidden == {**by_buyer, "hidden": True, "hidden_reason": "insults the seller"}
    assert await seller_review_ids(client, m.seller_id) == []
    assert await storefront_rating(client, m.seller_id) == {
        **NO_RATINGS,
        "last_12_months": NO_RATINGS,
    }
    for who in (stranger, None):
        assert_problem(await get_review(client, who, by_buyer["id"]), 404, "not_found")
    for party in (m.buyer, m.seller, m.admin):
        assert await read_review(client, party, by_buyer["id"]) == hidden
    # The other review of the order is untouched.
    assert (await read_review(client, None, by_seller["id"]))["hidden"] is False
    assert (await buyer_rating(client, m.buyer.user_id))["count"] == 1


async def test_hiding_is_audited(client: httpx.AsyncClient, session: AsyncSession) -> None:
    m = await market(client, session)
    _order_id, by_buyer, _by_seller = await both_reviewed(client, m)

    hidden = await post_hide(client, m.admin, by_buyer["id"], "spam link")
    assert hidden.status_code == 200, hidden.text

    response = await client.get(
        "/v1/admin/audit-log",
        params={"target_type": "review", "target_id": by_buyer["id"]},
        headers=m.admin.headers,
    )
    assert response.status_code == 200, response.text
    (entry,) = response.json()["items"]
    assert (entry["action"], entry["actor_id"], entry["target_type"], entry["target_id"]) == (
        "review.hide",
        m.admin.user_id,
        "review",
        by_buyer["id"],
    )
    assert entry["reason"] == "spam link"


async def test_only_admins_hide_reviews(client: httpx.AsyncClient, session: AsyncSession) -> None:
    m = await market(client, session)
    _order_id, by_buyer, _by_seller = await both_reviewed(client, m)
    stranger = await buyer_user(client)

    for who in (m.buyer, m.seller, stranger):
        assert_problem(await post_hide(client, who, by_buyer["id"]), 403, "admin_required")

    assert (await read_review(client, None, by_buyer["id"]))["hidden"] is False
    assert await seller_review_ids(client, m.seller_id) == [by_buyer["id"]]


async def test_an_unpublished_review_cannot_be_hidden(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    order = await completed_order(client, market=m)
    review = await write_review(client, who=m.buyer, order_id=order["id"], rating=1)

    assert_problem(await post_hide(client, m.admin, review["id"]), 404, "not_found")

    assert (await read_review(client, m.buyer, review["id"]))["hidden"] is False


# --- reputation -------------------------------------------------------------------------------


async def test_a_shop_reputation_aggregates_its_buyers_reviews(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    for buyer_rates in (5, 4, 2):
        await both_reviewed(client, m, buyer_rates=buyer_rates, seller_rates=5)

    rating = await storefront_rating(client, m.seller_id)

    expected = period(3.67, 3, 0.6667, [0, 1, 0, 1, 1])
    assert rating == {**expected, "last_12_months": expected}


async def test_last_12_months_forgets_old_reviews_while_all_time_keeps_them(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    for buyer_rates in (5, 4, 2):
        await both_reviewed(client, m, buyer_rates=buyer_rates, seller_rates=3)

    clock.advance(timedelta(days=400))

    all_time = period(3.67, 3, 0.6667, [0, 1, 0, 1, 1])
    assert await storefront_rating(client, m.seller_id) == {
        **all_time,
        "last_12_months": NO_RATINGS,
    }
    buyer_all_time = period(3.0, 3, 0.0, [0, 0, 3, 0, 0])
    assert await buyer_rating(client, m.buyer.user_id) == {
        **buyer_all_time,
        "last_12_months": NO_RATINGS,
    }


async def test_a_buyer_reputation_comes_from_sellers_reviews(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    assert await buyer_rating(client, m.buyer.user_id) == {
        **NO_RATINGS,
        "last_12_months": NO_RATINGS,
    }
    for seller_rates in (5, 5, 3):
        await both_reviewed(client, m, buyer_rates=1, seller_rates=seller_rates)

    rating = await buyer_rating(client, m.buyer.user_id)

    expected = period(4.33, 3, 0.6667, [0, 0, 1, 0, 2])
    assert rating == {**expected, "last_12_months": expected}
    # The seller's user is reviewed as a seller, not as a buyer.
    assert await buyer_rating(client, m.seller.user_id) == {
        **NO_RATINGS,
        "last_12_months": NO_RATINGS,
    }


async def test_a_buyer_reviews_are_listed_newest_first_page_by_page(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    by_sellers = [(await both_reviewed(client, m))[2]["id"] for _ in range(3)]
    url = f"/v1/users/{m.buyer.user_id}/reviews"

    first = await client.get(url, params={"limit": 2})
    assert first.status_code == 200, first.text
    first_page = first.json()
    assert [r["id"] for r in first_page["items"]] == [by_sellers[2], by_sellers[1]]
    assert first_page["next_cursor"] is not None
    second = await client.get(url, params={"limit": 2, "cursor": first_page["next_cursor"]})
    assert second.status_code == 200, second.text
    second_page = second.json()
    assert [r["id"] for r in second_page["items"]] == [by_sellers[0]]
    assert second_page["next_cursor"] is None
    items = first_page["items"] + second_page["items"]
    assert {(r["about"], r["subject_user_id"], r["author_id"]) for r in items} == {
        ("buyer", m.buyer.user_id, m.seller.user_id)
    }
    # The buyer's own reviews of the shop are not about them.
    everything = await client.get(url, params={"limit": 100})
    assert [r["id"] for r in everything.json()["items"]] == by_sellers[::-1]


async def test_a_forged_cursor_is_refused(client: httpx.AsyncClient, session: AsyncSession) -> None:
    m = await market(client, session)

    response = await client.get(
        f"/v1/users/{m.buyer.user_id}/reviews", params={"cursor": "not-a-cursor"}
    )

    assert_problem(response, 422, "invalid_cursor")


async def test_the_shop_reviews_are_listed_newest_first(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    by_buyer = [(await both_reviewed(client, m))[1]["id"] for _ in range(3)]

    assert await seller_review_ids(client, m.seller_id) == by_buyer[::-1]
    page = await client.get(f"/v1/sellers/{m.seller_id}/reviews", params={"limit": 1})
    assert page.status_code == 200, page.text
    assert [r["id"] for r in page.json()["items"]] == [by_buyer[2]]
    assert page.json()["next_cursor"] is not None


async def test_the_profiles_of_unknown_people_and_shops_are_not_found(
    client: httpx.AsyncClient,
) -> None:
    missing = "01900000-0000-7000-8000-000000000000"

    for url in (f"/v1/users/{missing}", f"/v1/sellers/{missing}", f"/v1/sellers/{missing}/reviews"):
        assert_problem(await client.get(url), 404, "not_found")
