"""What a seller may ship under: a registry carrier with a number of its formats (check digit
included), `other` with a name, a sandbox script; one number for one buyer of one shop; and
several parcels for one order, each holding what is not yet in another."""

import dataclasses

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import now
from tests.factories.accounts import buyer_user
from tests.factories.api import assert_problem, json_ok, parse_time
from tests.factories.orders import get_order, market, paid_order
from tests.factories.payments import reconcile_ok
from tests.logistics.parcels import (
    UPS_EXAMPLE,
    parcels,
    post_parcel,
    post_ship,
    post_tracking_event,
    tracking_event,
)


async def test_a_number_its_carrier_would_not_print_is_refused_and_the_order_stays_paid(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    _, order = await paid_order(client, market=m)
    oid = order["id"]
    wrong_check_digit = UPS_EXAMPLE[:-1] + str((int(UPS_EXAMPLE[-1]) + 1) % 10)

    refusals = [
        (
            await post_ship(
                client, who=m.seller, order_id=oid, carrier="x", tracking_number="1234"
            ),
            "unknown_carrier",
        ),
        (
            await post_ship(
                client, who=m.seller, order_id=oid, carrier="ups", tracking_number=wrong_check_digit
            ),
            "invalid_tracking_number",
        ),
        (
            await post_ship(
                client, who=m.seller, order_id=oid, carrier="other", tracking_number="ABC-1234"
            ),
            "carrier_name_required",
        ),
        (
            await post_ship(client, who=m.seller, order_id=oid, tracking_number="SBX1"),
            "invalid_tracking_number",
        ),
    ]

    for response, code in refusals:
        assert_problem(response, 422, code)
        found = await get_order(client, who=m.buyer, order_id=oid)
        assert (found["status"], found["carrier"], found["tracking_number"]) == ("paid", None, None)
    assert await parcels(client, who=m.seller, order_id=oid) == []

    shipped = await post_ship(
        client,
        who=m.seller,
        order_id=oid,
        carrier="other",
        carrier_name="Local courier",
        tracking_number="ABC-1234",
    )

    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["status"] == "shipped"
    assert (shipped.json()["carrier"], shipped.json()["tracking_number"]) == ("other", "ABC-1234")
    assert shipped.json()["tracking_url"] is None
    (local,) = await parcels(client, who=m.buyer, order_id=oid)
    assert (local["carrier"], local["carrier_name"], local["tracking_url"]) == (
        "other",
        "Local courier",
        None,
    )
    assert (local["status"], local["events"]) == ("label_created", [])
    await reconcile_ok(client, admin=m.admin)


async def test_a_number_belongs_to_one_buyer_of_one_shop(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await market(client, session)
    _, first = await paid_order(client, market=m)
    _, same_buyer = await paid_order(client, market=m)
    other = dataclasses.replace(m, buyer=await buyer_user(client))
    _, other_buyer = await paid_order(client, market=other)
    shipped = await post_ship(
        client, who=m.seller, order_id=first["id"], carrier="ups", tracking_number=UPS_EXAMPLE
    )
    assert shipped.status_code == 200, shipped.text

    taken = await post_ship(
        client, who=m.seller, order_id=other_buyer["id"], carrier="ups", tracking_number=UPS_EXAMPLE
    )

    assert_problem(taken, 409, "tracking_number_in_use")
    (ups,) = await parcels(client, who=m.seller, order_id=first["id"])
    stranger = await client.get(f"/v1/shipments/{ups['id']}", headers=other.buyer.headers)
    assert_problem(stranger, 404, "not_found")
    assert (await get_order(client, who=other.buyer, order_id=other_buyer["id"]))[
        "status"
    ] == "paid"

    # Spaces and case are normalized away: it is the same number, in the same box.
    one_box = await post_ship(
        client,
        who=m.seller,
        order_id=same_buyer["id"],
        carrier="UPS",
        tracking_number="1z 999 aa1 0123 4567 84",
    )

    assert one_box.status_code == 200, one_box.text
    assert (one_box.json()["carrier"], one_box.json()["tracking_number"]) == ("ups", UPS_EXAMPLE)
    await reconcile_ok(client, admin=m.admin)


async def test_an_order_in_two_parcels_is_delivered_when_both_are(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    m = await market(client, session)
    _, order = await paid_order(client, market=m, quantity=2)
    (line,) = order["lines"]
    assert line["quantity"] == 2
    silent = "SBX00000011-SILENT"

    shipped = await post_ship(
        client,
        who=m.seller,
        order_id=order["id"],
        tracking_number=silent,
        lines=[{"order_line_id": line["id"], "quantity": 1}],
    )
    assert shipped.status_code == 200, shipped.text
    second = await post_parcel(
        client, who=m.seller, order_id=order["id"], tracking_number="SBX00000012-DELIVERED-0"
    )

    assert second.status_code == 201, second.text
    assert second.json()["status"] == "delivered"
    assert second.json()["lines"] == [{"order_line_id": line["id"], "quantity": 1}]
    first, rest = await parcels(client, who=m.buyer, order_id=order["id"])
    assert (first["tracking_number"], first["status"]) == (silent, "label_created")
    assert first["lines"] == [{"order_line_id": line["id"], "quantity": 1}]
    assert rest == second.json()
    halfway = await get_order(client, who=m.buyer, order_id=order["id"])
    assert (halfway["status"], halfway["delivered_at"]) == ("shipped", None)
    assert (
        parse_time(halfway["auto_complete_at"])
        == parse_time(halfway["shipped_at"]) + settings.auto_complete_fallback
    )

    nothing_left = await post_parcel(
        client, who=m.seller, order_id=order["id"], tracking_number="SBX00000013-DELIVERED-0"
    )

    assert_problem(nothing_left, 422, "invalid_shipment_lines")
    assert len(await parcels(client, who=m.buyer, order_id=order["id"])) == 2

    arrived_at = now()
    assert arrived_at > parse_time(rest["delivered_at"])
    delivered = await post_tracking_event(
        client, tracking_event(silent, "delivered", arrived_at.isoformat())
    )

    assert json_ok(delivered) == {"applied": 1}
    done = await get_order(client, who=m.buyer, order_id=order["id"])
    # Delivered when the last of its parcels was.
    assert (done["status"], parse_time(done["delivered_at"])) == ("shipped", arrived_at)
    assert parse_time(done["auto_complete_at"]) == arrived_at + settings.auto_complete_after
    assert [p["status"] for p in await parcels(client, who=m.buyer, order_id=order["id"])] == [
        "delivered",
        "delivered",
    ]
    await reconcile_ok(client, admin=m.admin)


async def test_the_carrier_list_is_public_and_ends_with_other(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/carriers")

    carriers = json_ok(response)
    codes = [c["code"] for c in carriers]
    assert {"ups", "usps", "dhl_express", "sandbox", "other"} <= set(codes)
    assert codes[-1] == "other"
    assert len(codes) == len(set(codes))
    by_code = {c["code"]: c for c in carriers}
    assert by_code["sandbox"]["formats"][0]["example"] == "SBX00000001-DELIVERED-0"
    assert by_code["ups"]["formats"][0]["example"] == UPS_EXAMPLE
    assert (by_code["other"]["formats"], by_code["other"]["tracking_url_template"]) == ([], None)


async def test_an_order_is_delivered_once_every_unit_arrived_in_some_parcel(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    """A delivered parcel holding part of the order does not make the order delivered: the
    rest may never have been sent. The order waits on the fallback until the last unit's
    parcel is delivered too."""
    m = await market(client, session)
    _, order = await paid_order(client, market=m, quantity=2)
    (line,) = order["lines"]
    shipped = await post_ship(
        client,
        who=m.seller,
        order_id=order["id"],
        tracking_number="SBX00000021-DELIVERED-0",
        lines=[{"order_line_id": line["id"], "quantity": 1}],
    )
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["delivered_at"] is None  # one unit of two arrived
    assert (
        parse_time(shipped.json()["auto_complete_at"])
        == parse_time(shipped.json()["shipped_at"]) + settings.auto_complete_fallback
    )

    second = await post_parcel(
        client,
        who=m.seller,
        order_id=order["id"],
        carrier="sandbox",
        tracking_number="SBX00000022-DELIVERED-0",
    )

    assert second.status_code == 201, second.text
    assert second.json()["status"] == "delivered"
    done = await get_order(client, who=m.buyer, order_id=order["id"])
    delivered_at = parse_time(done["delivered_at"])
    assert parse_time(done["auto_complete_at"]) == delivered_at + settings.auto_complete_after
    await reconcile_ok(client, admin=m.admin)
