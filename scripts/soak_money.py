"""Money soak: randomized orders through 2 API processes and 2 workers, one worker killed and
restarted at random moments, then every cent traced.

    python scripts/soak_money.py [--orders 10000] [--clients 24] [--database-url URL] [--seed 1]

Recreates the database (loopback PostgreSQL only), migrates it, starts two API processes
(uvicorn, each on its own port; every request goes to one of them at random) and two
`marketplace worker` processes, with the time-driven settings shrunk to seconds (payment
expiry, ship-by, auto-completion, payout hold, the seller's response time) so the workers have
work all along. It seeds sellers (two of them with a payout account the sandbox refuses),
listings and buyers over HTTP, and registers a webhook endpoint per shop on a receiver inside
this script, which refuses one request in twenty.

Then `--clients` concurrent clients buy until `--orders` orders exist. A checkout holds 1-5
lines from 1-3 shops (one order per shop) and is paid with the sandbox's tokens: declines,
insufficient funds and provider errors, a retry with the same Idempotency-Key after an error,
the same successful request replayed to the other API process or sent to both at once,
abandoned checkouts left to expire, cancellations before payment. Each paid order then goes
one way: shipped and confirmed, shipped and left to auto-complete, cancelled by the seller or
(past the ship-by date) by the buyer, a return (approved by the seller or by the seller's
silence, shipped back, received with a replayed key, or rejected and then disputed), a
dispute before shipping, after shipping or after completion (resolved by an admin with a full
refund, a partial refund or a release, sometimes two decisions at once, or by the worker when
the seller stays silent), or left paid. Meanwhile sellers request payouts (replayed keys,
requests beyond the balance, two at once). A killer SIGKILLs one of the workers at random
moments and restarts it.

Afterwards the workers drain what is due, every seller is paid out, and the script checks:
the admin reconcile endpoint reports no violation; every order's money traced to the cent from
the ledger (paid into escrow = refunds + commission + seller share + escrow left; no escrow
left on a finished order; commission by the rule); every seller's accounts consistent with its
payouts; no job done twice (completion, hold release, refund, payout settlement, timeline
steps, outbox events, webhook deliveries); every webhook event delivered; stock consistent with
the orders; no unexpected answer and no traceback in the processes' logs. It prints a summary
and exits non-zero if any check failed.
"""

import argparse
import asyncio
import contextlib
import random
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Collection, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from pathlib import Path
from typing import IO, Any

# No stubs; `unused-ignore` keeps this valid where mypy is told to skip asyncpg instead.
import asyncpg  # type: ignore[import-untyped, unused-ignore]
import httpx
from bench_support import asyncpg_dsn, free_port
from scratch_market import (
    ADDRESS,
    CURRENCY,
    HTTP_TIMEOUT,
    Account,
    BenchError,
    api_server,
    approved_seller,
    bench_settings,
    bounded,
    checked_url,
    expect,
    fresh_database,
    leaf_category,
    live_listing,
    load,
    login,
    process_env,
    register,
    start_worker,
    stop,
    stop_on_sigterm,
    wait_until_ready,
)
from sqlalchemy.engine import URL

from app.config import Settings
from app.fees.commission import CommissionTerms

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/marketplace_soak_money"
SELLERS = 20
FAILING_SELLERS = 2
FAILING_ACCOUNT = "DE4450000000FAIL"  # the sandbox refuses payouts to accounts ending in FAIL
LISTINGS_PER_SELLER = 10
STOCK = 1_000_000
BUYERS = 100
API_PROCESSES = 2
WORKERS = 2
WEBHOOK_FAILURE_RATE = 0.05

# Seconds, so that every time-driven job comes due during the run.
SHIP_BY = 4.0
AUTO_COMPLETE_AFTER = 8.0
RESPONSE_TIME = 15.0
SOAK_SETTINGS = {
    "MARKETPLACE_PAYMENT_EXPIRY": "90",
    "MARKETPLACE_SHIP_BY": str(SHIP_BY),
    "MARKETPLACE_AUTO_COMPLETE_AFTER": str(AUTO_COMPLETE_AFTER),
    "MARKETPLACE_COMPLETION_REMINDER_BEFORE": "6",
    "MARKETPLACE_PAYOUT_HOLD": "3",
    "MARKETPLACE_DISPUTE_RESPONSE_TIME": str(RESPONSE_TIME),
    "MARKETPLACE_WORKER_INTERVAL": "0.5",
    "MARKETPLACE_WEBHOOK_RETRY_BASE": "1",
    "MARKETPLACE_WEBHOOK_TIMEOUT": "5",
}
KILL_EVERY = (2.0, 12.0)
"""Seconds between worker kills, drawn uniformly."""
MIN_LIFE = 15.0
"""Only a worker this old is killed: a loaded machine takes ~10 s to start one, and a worker
killed before it ever swept tests nothing."""
RESTART_AFTER = (0.0, 2.0)
POLL_INTERVAL = 1.0
WAIT_LIMIT = 180.0
RETRIES_ON_503 = 5
"""A 503 (no database connection in time on an overloaded machine) is retried as a client
should, after its Retry-After, with the same Idempotency-Key."""
"""The longest a client waits for the worker to move something (auto-approval, completion)."""

PAYMENT_FATES = {
    "pay": 54,
    "declined, then paid": 8,
    "provider error, retried with the same key": 8,
    "paid, replayed to the other API": 8,
    "paid twice at once": 6,
    "insufficient funds, abandoned": 4,
    "abandoned": 3,
    "cancelled before payment": 4,
    "one order cancelled, the rest paid": 5,
}
ORDER_FATES = {
    "shipped, confirmed": 22,
    "shipped, auto-completed": 14,
    "cancelled by the seller": 6,
    "cancelled by the buyer, seller late": 4,
    "left paid": 2,
    "returned": 14,
    "return rejected, disputed": 4,
    "disputed before shipping": 9,
    "disputed after shipping": 9,
    "disputed after confirmation": 9,
    "disputed after auto-completion": 7,
}
DISPUTE_OUTCOMES = {"refund_buyer": 35, "partial_refund": 35, "release_to_seller": 30}
DISPUTE_REASONS = ("not_received", "not_as_described", "damaged", "other")
RETURN_REASONS = ("not_as_described", "damaged", "wrong_item", "no_longer_needed")
FINISHED = {"completed", "cancelled", "refunded", "partially_refunded"}


def pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def new_key() -> str:
    return uuid.uuid4().hex


class FlowFailed(Exception):
    """An answer the flow did not expect; counted where it happened, the flow stops."""


# --- the webhook receiver ---------------------------------------------------------------------


@dataclass
class Receiver:
    """A loopback HTTP server that takes webhook requests, refusing some with 500."""

    rng: random.Random
    accepted: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(path, webhook-id) → requests answered 200."""
    first_accepted: dict[tuple[str, str], float] = field(default_factory=dict)
    again: list[tuple[float, float]] = field(default_factory=list)
    """(first 200, this one) for every event received again after a 200 (monotonic)."""
    refused: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            headers = {
                name.strip().lower(): value.strip()
                for name, _, value in (line.partition(":") for line in head[1:] if line)
            }
            await reader.readexactly(int(headers.get("content-length", "0")))
            path = head[0].split(" ")[1]
            if self.rng.random() < WEBHOOK_FAILURE_RATE:
                self.refused += 1
                status = b"500 Internal Server Error"
            else:
                received = (path, headers.get("webhook-id", "?"))
                self.accepted[received] += 1
                first = self.first_accepted.setdefault(received, time.monotonic())
                if self.accepted[received] > 1:
                    self.again.append((first, time.monotonic()))
                status = b"200 OK"
            writer.write(
                b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()


# --- the clients ------------------------------------------------------------------------------


@dataclass
class Tally:
    events: Counter[str] = field(default_factory=Counter)
    unexpected: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)
    orders: int = 0


class Api:
    """Requests to a random API process, at most `clients` at once; an answer outside the
    expected statuses is counted and stops the flow."""

    def __init__(
        self, client: httpx.AsyncClient, bases: Sequence[str], clients: int, tally: Tally
    ) -> None:
        self.client = client
        self.bases = list(bases)
        self.slots = asyncio.Semaphore(clients)
        self.tally = tally

    def other(self, base: str) -> str:
        return next((b for b in self.bases if b != base), base)

    async def call(
        self,
        label: str,
        method: str,
        path: str,
        who: Account,
        expected: Collection[int],
        *,
        json: dict[str, Any] | None = None,
        key: str | None = None,
        base: str | None = None,
    ) -> httpx.Response:
        headers = dict(who.headers)
        if key is not None:
            headers["Idempotency-Key"] = key
        url = (base or random.choice(self.bases)) + path
        for attempt in range(RETRIES_ON_503 + 1):
            async with self.slots:
                try:
                    response = await self.client.request(method, url, json=json, headers=headers)
                except httpx.HTTPError as error:
                    self.unexpected(label, type(error).__name__, f"{method} {url}: {error!r}")
                    raise FlowFailed(label) from error
            if response.status_code != 503 or 503 in expected or attempt == RETRIES_ON_503:
                break
            self.tally.events["answered 503, retried after Retry-After"] += 1
            await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
        if response.status_code not in expected:
            self.unexpected(
                label,
                str(response.status_code),
                f"{method} {path}: {response.status_code} {response.text[:300]}",
            )
            raise FlowFailed(label)
        return response

    def unexpected(self, label: str, what: str, sample: str) -> None:
        """Counts an answer (or a wait) that should not have happened; fails the run."""
        self.tally.unexpected[f"{label}: {what}"] += 1
        if len(self.tally.samples) < 20:
            self.tally.samples.append(sample)


@dataclass(frozen=True)
class Market:
    admin: Account
    sellers: list[Account]
    buyers: list[Account]
    listings: list[list[uuid.UUID]]
    """Per seller, its listings."""
    seller_of: dict[str, Account]
    """Listing id (text) → its seller."""


@dataclass
class Soak:
    api: Api
    market: Market
    tally: Tally

    async def wait_for(
        self, who: Account, path: str, wanted: Collection[str], label: str
    ) -> dict[str, Any]:
        """Polls `path` until its `status` is one of `wanted` (the worker's doing)."""
        deadline = time.monotonic() + WAIT_LIMIT
        while True:
            body: dict[str, Any] = (await self.api.call(label, "GET", path, who, {200})).json()
            if body["status"] in wanted:
                return body
            if time.monotonic() > deadline:
                self.api.unexpected(label, "timeout", f"{path} stayed {body['status']}")
                raise FlowFailed(label)
            await asyncio.sleep(POLL_INTERVAL)


@dataclass(frozen=True)
class CheckoutPlan:
    buyer: Account
    items: list[dict[str, Any]]
    payment: str
    seed: int


def plans(market: Market, orders: int, rng: random.Random) -> Iterator[CheckoutPlan]:
    """Checkouts until `orders` orders are planned (one order per shop in a checkout)."""
    planned = 0
    while planned < orders:
        shops = min(rng.choices((1, 2, 3), weights=(50, 30, 20))[0], orders - planned)
        sellers = rng.sample(range(len(market.sellers)), shops)
        lines = rng.randint(shops, 5)
        listings = [rng.choice(market.listings[s]) for s in sellers]
        pool = [listing for s in sellers for listing in market.listings[s]]
        while len(listings) < lines:
            candidate = rng.choice(pool)
            if candidate not in listings:
                listings.append(candidate)
        items = [{"listing_id": str(i), "quantity": rng.randint(1, 3)} for i in listings]
        planned += shops
        yield CheckoutPlan(
            rng.choice(market.buyers), items, pick(rng, PAYMENT_FATES), rng.randrange(2**32)
        )


async def pay(
    soak: Soak, buyer: Account, checkout_id: str, token: str, key: str, expected: set[int]
) -> httpx.Response:
    return await soak.api.call(
        f"pay ({token})",
        "POST",
        f"/v1/checkouts/{checkout_id}/pay",
        buyer,
        expected,
        json={"payment_token": token},
        key=key,
    )


async def cancel(soak: Soak, who: Account, order_id: str, label: str) -> None:
    await soak.api.call(
        label, "POST", f"/v1/orders/{order_id}/cancel", who, {200}, json={"reason": "soak"}
    )


async def checkout_flow(soak: Soak, plan: CheckoutPlan) -> None:
    rng = random.Random(plan.seed)
    buyer, api, events = plan.buyer, soak.api, soak.tally.events
    body = {"items": plan.items, "shipping_address": ADDRESS}
    created = (
        await api.call("checkout", "POST", "/v1/checkout", buyer, {201}, json=body, key=new_key())
    ).json()
    checkout_id, orders = created["id"], created["orders"]
    soak.tally.orders += len(orders)
    fate = plan.payment
    if fate == "one order cancelled, the rest paid" and len(orders) == 1:
        fate = "pay"
    events[f"checkout: {fate}"] += 1
    if fate == "abandoned":
        return
    if fate == "cancelled before payment":
        for order in orders:
            await cancel(soak, buyer, order["id"], "cancel unpaid order")
        return
    if fate == "one order cancelled, the rest paid":
        await cancel(soak, buyer, orders[0]["id"], "cancel unpaid order")
    if fate == "insufficient funds, abandoned":
        await pay(soak, buyer, checkout_id, "tok_insufficient_funds", new_key(), {402})
        events["payment: insufficient funds"] += 1
        return
    key = new_key()
    if fate == "declined, then paid":
        await pay(soak, buyer, checkout_id, "tok_declined", key, {402})
        events["payment: declined"] += 1
        key = new_key()
    if fate == "provider error, retried with the same key":
        # A failed attempt stores nothing, so the same key may carry the retry.
        await pay(soak, buyer, checkout_id, "tok_provider_error", key, {502})
        events["payment: provider error"] += 1
        events["payment: retried with the same key"] += 1
    if fate == "paid twice at once":
        first, second = await asyncio.gather(
            *(
                api.call(
                    "pay twice at once",
                    "POST",
                    f"/v1/checkouts/{checkout_id}/pay",
                    buyer,
                    {200, 409},
                    json={"payment_token": "tok_success"},
                    key=key,
                    base=base,
                )
                for base in api.bases
            )
        )
        answers = sorted((first.status_code, second.status_code))
        events[f"payment: two at once answered {answers}"] += 1
        paid = first if first.status_code == 200 else second
        if answers == [409, 409]:
            api.unexpected("pay twice at once", "409 twice", f"checkout {checkout_id}")
            raise FlowFailed("pay twice at once")
    else:
        base = random.choice(api.bases)
        paid = await api.call(
            "pay (tok_success)",
            "POST",
            f"/v1/checkouts/{checkout_id}/pay",
            buyer,
            {200},
            json={"payment_token": "tok_success"},
            key=key,
            base=base,
        )
        if fate == "paid, replayed to the other API":
            replay = await api.call(
                "pay replayed",
                "POST",
                f"/v1/checkouts/{checkout_id}/pay",
                buyer,
                {200},
                json={"payment_token": "tok_success"},
                key=key,
                base=api.other(base),
            )
            same = replay.json()["id"] == paid.json()["id"] and replay.headers.get(
                "Idempotent-Replayed"
            ) in {"true", "1"}
            events[f"payment: replayed {'as the first answer' if same else 'DIFFERENTLY'}"] += 1
            if not same:
                api.unexpected("pay replayed", "not a replay", replay.text[:300])
    paid_orders = [o for o in paid.json()["orders"] if o["status"] == "paid"]
    results = await asyncio.gather(
        *(order_flow(soak, random.Random(rng.random()), buyer, o) for o in paid_orders),
        return_exceptions=True,
    )
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, FlowFailed):
            raise result


def at(text: str) -> float:
    """Seconds from now until an RFC 3339 moment."""
    return (datetime.fromisoformat(text) - datetime.now(UTC)).total_seconds()


async def order_flow(soak: Soak, rng: random.Random, buyer: Account, order: dict[str, Any]) -> None:
    api, events = soak.api, soak.tally.events
    seller = soak.market.seller_of[order["lines"][0]["listing_id"]]
    order_id, total = order["id"], order["total"]["amount"]
    path = f"/v1/orders/{order_id}"
    fate = pick(rng, ORDER_FATES)
    events[f"order: {fate}"] += 1
    if fate == "left paid":
        return
    if fate == "cancelled by the seller":
        await cancel(soak, seller, order_id, "seller cancels paid order")
        return
    if fate == "cancelled by the buyer, seller late":
        await asyncio.sleep(max(0.0, at(order["ship_by"])) + 0.5)
        await cancel(soak, buyer, order_id, "buyer cancels late order")
        return
    if fate == "disputed before shipping":
        await dispute(soak, rng, buyer, order_id, total)
        return
    shipment = {"carrier": "sandbox", "tracking_number": "SBX00000001-DELIVERED-0"}
    await api.call("ship", "POST", f"{path}/ship", seller, {200}, json=shipment)
    if fate == "shipped, auto-completed":
        return
    if fate == "disputed after shipping":
        await dispute(soak, rng, buyer, order_id, total)
        return
    if fate == "disputed after auto-completion":
        await soak.wait_for(buyer, path, {"completed"}, "wait for auto-completion")
        await dispute(soak, rng, buyer, order_id, total)
        return
    # The worker may complete it first when the machine is slow: 409, and it is completed.
    confirmed = await api.call(
        "confirm receipt", "POST", f"{path}/confirm-receipt", buyer, {200, 409}
    )
    if confirmed.status_code == 409:
        events["confirm lost to auto-completion"] += 1
        await soak.wait_for(buyer, path, {"completed"}, "wait for auto-completion")
    if fate == "disputed after confirmation":
        if rng.random() < 0.5:  # after the payout hold, the proceeds are available, maybe paid out
            await asyncio.sleep(4)
        await dispute(soak, rng, buyer, order_id, total)
    elif fate == "returned":
        await return_flow(soak, rng, buyer, seller, order)
    elif fate == "return rejected, disputed":
        return_id = await request_return(soak, rng, buyer, order)
        await api.call(
            "reject return",
            "POST",
            f"/v1/returns/{return_id}/reject",
            seller,
            {200},
            json={"reason": "soak says no"},
        )
        await dispute(soak, rng, buyer, order_id, total)


async def request_return(
    soak: Soak, rng: random.Random, buyer: Account, order: dict[str, Any]
) -> str:
    lines = rng.sample(order["lines"], rng.randint(1, len(order["lines"])))
    body = {
        "reason": rng.choice(RETURN_REASONS),
        "items": [
            {"line_id": line["id"], "quantity": rng.randint(1, line["quantity"])} for line in lines
        ],
    }
    created = await soak.api.call(
        "request return", "POST", f"/v1/orders/{order['id']}/returns", buyer, {201}, json=body
    )
    return_id: str = created.json()["id"]
    return return_id


async def return_flow(
    soak: Soak, rng: random.Random, buyer: Account, seller: Account, order: dict[str, Any]
) -> None:
    api, events = soak.api, soak.tally.events
    return_id = await request_return(soak, rng, buyer, order)
    path = f"/v1/returns/{return_id}"
    if rng.random() < 0.25:
        events["return: approved by the seller's silence"] += 1
        await soak.wait_for(buyer, path, {"approved"}, "wait for auto-approval")
    else:
        # 409: the seller's silence outlasted a slow machine and the worker approved first.
        approved = await api.call("approve return", "POST", f"{path}/approve", seller, {200, 409})
        if approved.status_code == 409:
            events["return: seller lost the race to the worker"] += 1
            await soak.wait_for(buyer, path, {"approved"}, "approved by the worker")
    shipment = {"carrier": "sandbox", "tracking_number": "SBX00000002-SILENT"}
    await api.call("ship back", "POST", f"{path}/ship-back", buyer, {200}, json=shipment)
    key, base = new_key(), random.choice(api.bases)
    received = await api.call(
        "receive return", "POST", f"{path}/receive", seller, {200}, key=key, base=base
    )
    if rng.random() < 0.3:
        replay = await api.call(
            "receive replayed",
            "POST",
            f"{path}/receive",
            seller,
            {200},
            key=key,
            base=api.other(base),
        )
        same = replay.json() == received.json()
        events[f"return: receive replayed {'as the first answer' if same else 'DIFFERENTLY'}"] += 1
        if not same:
            api.unexpected("receive replayed", "not a replay", replay.text[:300])


async def dispute(
    soak: Soak, rng: random.Random, buyer: Account, order_id: str, total: int
) -> None:
    api, events, admin = soak.api, soak.tally.events, soak.market.admin
    claim: dict[str, Any] = {
        "reason": rng.choice(DISPUTE_REASONS),
        "description": "soak",
        "requested_outcome": "refund_buyer",
    }
    if rng.random() < 0.3:
        claim["requested_outcome"] = "partial_refund"
        claim["requested_amount"] = {"amount": rng.randint(1, total), "currency": CURRENCY}
    opened = await api.call(
        "open dispute", "POST", f"/v1/orders/{order_id}/disputes", buyer, {201}, json=claim
    )
    dispute_id = opened.json()["id"]
    if rng.random() < 0.15:
        events["dispute: left to the worker (seller silent)"] += 1
        return
    outcome = pick(rng, DISPUTE_OUTCOMES)
    decision: dict[str, Any] = {"outcome": outcome, "note": "soak"}
    if outcome == "partial_refund":
        decision["refund_amount"] = {"amount": rng.randint(1, total), "currency": CURRENCY}
    path = f"/v1/admin/disputes/{dispute_id}/resolve"
    mode = rng.random()
    if mode < 0.15:
        answers = await asyncio.gather(
            *(
                api.call(
                    "resolve twice at once",
                    "POST",
                    path,
                    admin,
                    {200, 409},
                    json=decision,
                    key=new_key(),
                    base=base,
                )
                for base in api.bases
            )
        )
        statuses = sorted(a.status_code for a in answers)
        events[f"dispute: two decisions at once answered {statuses}"] += 1
        if statuses == [409, 409]:
            await lost_to_worker(soak, buyer, dispute_id)
        elif statuses != [200, 409]:
            api.unexpected("resolve twice at once", str(statuses), f"dispute {dispute_id}")
        return
    key, base = new_key(), random.choice(api.bases)
    resolved = await api.call(
        "resolve dispute", "POST", path, admin, {200, 409}, json=decision, key=key, base=base
    )
    if resolved.status_code == 409:
        await lost_to_worker(soak, buyer, dispute_id)
        return
    events[f"dispute: resolved by an admin, {outcome}"] += 1
    if mode < 0.3:
        replay = await api.call(
            "resolve replayed",
            "POST",
            path,
            admin,
            {200},
            json=decision,
            key=key,
            base=api.other(base),
        )
        same = replay.json() == resolved.json()
        events[
            f"dispute: decision replayed {'as the first answer' if same else 'DIFFERENTLY'}"
        ] += 1
        if not same:
            api.unexpected("resolve replayed", "not a replay", replay.text[:300])


async def lost_to_worker(soak: Soak, buyer: Account, dispute_id: str) -> None:
    """A decision answered 409 is right only if the dispute is already resolved: the seller's
    silence outlasted a slow machine and the worker decided first."""
    soak.tally.events["dispute: admin lost the race to the worker"] += 1
    await soak.wait_for(buyer, f"/v1/disputes/{dispute_id}", {"resolved"}, "resolved by the worker")


# --- payouts ----------------------------------------------------------------------------------


async def available(soak: Soak, seller: Account) -> int:
    body = (await soak.api.call("balance", "GET", "/v1/sellers/me/balance", seller, {200})).json()
    amount: int = body["available"]["amount"]
    return amount


async def request_payout(
    soak: Soak,
    seller: Account,
    amount: int,
    expected: set[int],
    *,
    key: str | None = None,
    base: str | None = None,
) -> httpx.Response:
    return await soak.api.call(
        "request payout",
        "POST",
        "/v1/sellers/me/payouts",
        seller,
        expected,
        json={"amount": {"amount": amount, "currency": CURRENCY}},
        key=key or new_key(),
        base=base,
    )


async def one_payout(soak: Soak, rng: random.Random, seller: Account) -> None:
    api, events = soak.api, soak.tally.events
    money = await available(soak, seller)
    if money <= 0:
        return
    mode = rng.random()
    if mode < 0.1:
        # More than there is: refused, unless sales landed in between.
        answer = await request_payout(soak, seller, money + 1_000_000, {409})
        events["payout: refused, more than available"] += answer.status_code == 409
    elif mode < 0.2:
        answers = await asyncio.gather(
            *(request_payout(soak, seller, money, {201, 409}, base=base) for base in api.bases)
        )
        events[f"payout: two at once answered {sorted(a.status_code for a in answers)}"] += 1
    else:
        amount = money if rng.random() < 0.5 else rng.randint(1, money)
        key, base = new_key(), random.choice(api.bases)
        # 409: a refund or a dispute took from the balance since it was read.
        first = await request_payout(soak, seller, amount, {201, 409}, key=key, base=base)
        if first.status_code == 409:
            events["payout: refused, the balance fell meanwhile"] += 1
            if first.json()["code"] != "insufficient_balance":
                api.unexpected("request payout", first.json()["code"], first.text[:300])
            return
        events["payout: requested"] += 1
        if rng.random() < 0.2:
            replay = await request_payout(
                soak, seller, amount, {201}, key=key, base=api.other(base)
            )
            same = replay.json()["id"] == first.json()["id"]
            events[f"payout: replayed {'as the first answer' if same else 'DIFFERENTLY'}"] += 1
            if not same:
                api.unexpected("payout replayed", "not a replay", replay.text[:300])


async def payouts_until(soak: Soak, done: asyncio.Event, rng: random.Random) -> None:
    while not done.is_set():
        with contextlib.suppress(FlowFailed):
            await one_payout(soak, rng, rng.choice(soak.market.sellers))
        await asyncio.sleep(rng.uniform(0.05, 0.4))


async def pay_out_everything(soak: Soak) -> None:
    for seller in soak.market.sellers:
        money = await available(soak, seller)
        if money > 0:
            await request_payout(soak, seller, money, {201})
            soak.tally.events["payout: final, everything available"] += 1


# --- the workers and their killer -------------------------------------------------------------


class Workers:
    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.log: IO[bytes] = (logs / "workers.log").open("ab")
        self.processes = [start_worker(env, self.log) for _ in range(WORKERS)]
        self.started = [time.monotonic()] * WORKERS
        self.kills: list[float] = []
        """When each kill happened (monotonic)."""
        self.died: list[str] = []

    async def kill_now_and_then(self, done: asyncio.Event, rng: random.Random) -> None:
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), rng.uniform(*KILL_EVERY))
            if done.is_set():
                break
            self.check_alive()
            grown = [i for i, t in enumerate(self.started) if time.monotonic() - t >= MIN_LIFE]
            if not grown:
                continue
            index = rng.choice(grown)
            victim = self.processes[index]
            victim.send_signal(signal.SIGKILL)
            await asyncio.to_thread(victim.wait)
            self.kills.append(time.monotonic())
            await asyncio.sleep(rng.uniform(*RESTART_AFTER))
            self.restart(index)

    def restart(self, index: int) -> None:
        self.processes[index] = start_worker(self.env, self.log)
        self.started[index] = time.monotonic()

    def check_alive(self) -> None:
        """A worker that exited without being killed is a failure; it is restarted."""
        for index, process in enumerate(self.processes):
            if process.poll() is not None:
                self.died.append(f"worker exited by itself with {process.returncode}")
                self.restart(index)

    def stop(self) -> None:
        for process in self.processes:
            stop(process)
        self.log.close()


# --- seeding ----------------------------------------------------------------------------------


async def seed(
    client: httpx.AsyncClient, admin_email: str, receiver_port: int, rng: random.Random
) -> Market:
    admin = await login(client, admin_email)
    sellers = await bounded(
        16,
        [
            partial(
                approved_seller,
                client,
                admin,
                i,
                **({"payout_account": FAILING_ACCOUNT} if i < FAILING_SELLERS else {}),
            )
            for i in range(SELLERS)
        ],
    )
    listed = await client.get("/v1/webhooks/event-types", headers=sellers[0].headers)
    if listed.status_code != 200:
        raise BenchError(f"GET /v1/webhooks/event-types: {listed.status_code}")
    event_types = [e["type"] for e in listed.json()]
    for i, seller in enumerate(sellers):
        endpoint = {
            "url": f"http://127.0.0.1:{receiver_port}/hooks/{i}",
            "event_types": event_types,
        }
        expect(
            await client.post("/v1/webhooks/endpoints", json=endpoint, headers=seller.headers), 201
        )
    category_id = await leaf_category(client, admin)
    listings: list[list[uuid.UUID]] = []
    for s, seller in enumerate(sellers):
        listings.append(
            await bounded(
                16,
                [
                    partial(
                        live_listing,
                        client,
                        seller,
                        category_id,
                        s * LISTINGS_PER_SELLER + i,
                        STOCK,
                        price=rng.randint(100, 9999),
                        shipping_fee=rng.choice((0, 199, 499)),
                    )
                    for i in range(LISTINGS_PER_SELLER)
                ],
            )
        )
    buyers = await bounded(16, [partial(register, client, f"buyer{i}") for i in range(BUYERS)])
    return Market(
        admin=admin,
        sellers=sellers,
        buyers=buyers,
        listings=listings,
        seller_of={str(i): sellers[s] for s, own in enumerate(listings) for i in own},
    )


# --- draining ---------------------------------------------------------------------------------

DUE_WORK = """
SELECT
    (SELECT count(*) FROM checkouts WHERE status = 'pending_payment') AS unpaid_checkouts,
    (SELECT count(*) FROM orders WHERE status = 'shipped') AS shipped_orders,
    (SELECT count(*) FROM orders WHERE funds_release_at IS NOT NULL) AS held_proceeds,
    (SELECT count(*) FROM returns WHERE status = 'requested') AS unanswered_returns,
    (SELECT count(*) FROM disputes WHERE status <> 'resolved') AS open_disputes,
    (SELECT count(*) FROM payouts WHERE status = 'pending') AS pending_payouts,
    (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending') AS pending_deliveries
"""


async def drain(pool: Any, patience: float) -> dict[str, int]:
    """Waits until the workers have nothing left to do; what is still due after `patience`
    seconds."""
    deadline = time.monotonic() + patience
    while True:
        row = dict(await pool.fetchrow(DUE_WORK))
        if not any(row.values()) or time.monotonic() > deadline:
            return {name: count for name, count in row.items() if count}
        await asyncio.sleep(1)


# --- checks -----------------------------------------------------------------------------------

ORDER_MONEY = """
WITH moved AS (
    SELECT e.order_id,
           sum(e.amount) FILTER (WHERE e.account = 'escrow' AND t.kind = 'payment') AS paid_in,
           sum(e.amount) FILTER (WHERE e.account = 'escrow') AS escrow,
           sum(e.amount) FILTER (WHERE e.account = 'platform_commission') AS commission,
           sum(e.amount) FILTER (
               WHERE e.account IN ('seller_pending', 'seller_available', 'seller_reserved')
           ) AS seller_share,
           count(*) FILTER (
               WHERE e.account IN ('seller_pending', 'seller_available', 'seller_reserved')
                 AND e.owner_id IS DISTINCT FROM o.seller_id
           ) AS foreign_entries
    FROM ledger_entries e
    JOIN ledger_transactions t ON t.id = e.transaction_id
    JOIN orders o ON o.id = e.order_id
    GROUP BY e.order_id
), refunds AS (
    SELECT t.order_id, sum(e.amount) AS refunded, min(t.created_at) AS first_refund
    FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id
    WHERE t.kind = 'refund' AND e.account = 'external'
    GROUP BY t.order_id
), completions AS (
    SELECT order_id, min(created_at) AS completed FROM ledger_transactions
    WHERE kind = 'completion' GROUP BY order_id
)
SELECT o.id, o.status, o.seller_id, o.total_amount, o.refunded_amount,
       o.paid_at IS NOT NULL AS was_paid, o.completed_at IS NOT NULL AS was_completed,
       coalesce(m.paid_in, 0) AS paid_in, coalesce(m.escrow, 0) AS escrow,
       coalesce(m.commission, 0) AS commission, coalesce(m.seller_share, 0) AS seller_share,
       coalesce(m.foreign_entries, 0) AS foreign_entries, coalesce(r.refunded, 0) AS refunded,
       r.first_refund < c.completed AS refunded_before_completion
FROM orders o
LEFT JOIN moved m ON m.order_id = o.id
LEFT JOIN refunds r ON r.order_id = o.id
LEFT JOIN completions c ON c.order_id = o.id
"""

SELLER_MONEY = """
SELECT s.id,
       coalesce(sum(e.amount) FILTER (
           WHERE e.account IN ('seller_pending', 'seller_available', 'seller_reserved',
                               'payouts_in_transit')), 0) AS held,
       coalesce(sum(e.amount) FILTER (WHERE e.account = 'payouts_in_transit'), 0) AS in_transit,
       coalesce(sum(e.amount) FILTER (
           WHERE e.account = 'seller_available' AND e.order_id IS NULL), 0) AS paid_away,
       coalesce(sum(e.amount) FILTER (WHERE e.account = 'seller_reserved'), 0) AS reserved
FROM sellers s LEFT JOIN ledger_entries e ON e.owner_id = s.id
GROUP BY s.id
"""
PAYOUT_TOTALS = "SELECT seller_id, status, count(*), sum(amount) FROM payouts GROUP BY 1, 2"
PAYOUT_TRAIL = """
SELECT p.id, p.status, p.amount,
       count(t.id) FILTER (WHERE t.kind = 'payout_requested') AS requested,
       count(t.id) FILTER (WHERE t.kind = 'payout_paid') AS paid,
       count(t.id) FILTER (WHERE t.kind = 'payout_failed') AS failed,
       (SELECT count(*) FROM provider_operations op
        WHERE op.reference = 'payout:' || p.id::text) AS provider_calls,
       (SELECT bool_and(op.succeeded) FROM provider_operations op
        WHERE op.reference = 'payout:' || p.id::text) AS provider_paid
FROM payouts p LEFT JOIN ledger_transactions t ON t.payout_id = p.id
GROUP BY p.id
"""
DONE_TWICE = {
    "order settled twice (completion, hold release, dispute reserve/release)": """
        SELECT order_id, kind FROM ledger_transactions
        WHERE kind IN ('completion', 'hold_released', 'dispute_reserve', 'dispute_release')
        GROUP BY order_id, kind HAVING count(*) > 1
    """,
    "money moved twice under one reference (payment, refund)": """
        SELECT memo FROM ledger_transactions WHERE kind IN ('payment', 'refund')
        GROUP BY memo HAVING count(*) > 1
    """,
    "payment captured for a checkout that is not paid": """
        SELECT op.reference FROM provider_operations op
        JOIN checkouts c ON op.reference = 'checkout:' || c.id::text
        WHERE op.kind = 'capture' AND c.status <> 'paid'
    """,
    "timeline step recorded twice": """
        SELECT order_id FROM order_events
        GROUP BY order_id, subject, subject_id, action, from_status, to_status
        HAVING count(*) > 1
    """,
    "order event emitted twice": """
        SELECT type FROM outbox_events WHERE data->>'order_id' IS NOT NULL
        GROUP BY type, data->>'order_id', data->>'previous_status', data->>'status',
                 data->>'dispute_id', data->>'return_id'
        HAVING count(*) > 1
    """,
    "payout event emitted twice": """
        SELECT type FROM outbox_events WHERE data->>'payout_id' IS NOT NULL
        GROUP BY type, data->>'payout_id' HAVING count(*) > 1
    """,
    "event delivered to one endpoint as two deliveries": """
        SELECT event_id FROM webhook_deliveries GROUP BY event_id, endpoint_id
        HAVING count(*) > 1
    """,
    "event with no delivery to a subscribed endpoint": """
        SELECT e.id FROM outbox_events e
        JOIN webhook_endpoints w ON w.seller_id = e.seller_id
        WHERE e.occurred_at >= w.created_at AND w.event_types::jsonb ? e.type
          AND NOT EXISTS (
              SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.endpoint_id = w.id
          )
    """,
    "delivery not succeeded": "SELECT id FROM webhook_deliveries WHERE status <> 'succeeded'",
}
STOCK_CHECK = """
SELECT count(*) FROM listings l
LEFT JOIN (
    SELECT ol.listing_id, sum(ol.quantity) AS ordered
    FROM order_lines ol JOIN orders o ON o.id = ol.order_id
    WHERE o.status <> 'cancelled'
    GROUP BY ol.listing_id
) sold ON sold.listing_id = l.id
WHERE l.quantity < 0 OR l.quantity + coalesce(sold.ordered, 0) <> $1
"""
DELIVERED = """
SELECT w.url, d.event_id::text FROM webhook_deliveries d
JOIN webhook_endpoints w ON w.id = d.endpoint_id WHERE d.status = 'succeeded'
"""


def half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def expected_commission(settings: Settings, row: Any) -> int:
    """The commission the order's history leaves, by the rules: on completion, the rule on
    what is still in escrow; a refund after completion gives back the same share of it."""
    total, refunded = row["total_amount"], row["refunded"]
    if not row["was_completed"] or refunded >= total:
        return 0
    # The soak's orders have no discounts, no protection fee and no commission rules: the
    # default percent on everything they sold for.
    terms = CommissionTerms.of_lines(
        [(total, settings.commission_percent)], settings.commission_fixed
    )
    if not refunded or row["refunded_before_completion"]:
        return terms.due(total - refunded, total)
    full: int = terms.due(total, total)
    return full - half_up(Decimal(full) * refunded / total)


def order_problems(settings: Settings, row: Any) -> list[str]:
    """What is wrong with one order's money (nothing, for a healthy order)."""
    total, status = row["total_amount"], row["status"]
    paid_in, escrow, refunded = row["paid_in"], row["escrow"], row["refunded"]
    commission, share = row["commission"], row["seller_share"]
    problems = []
    if paid_in != (total if row["was_paid"] else 0):
        problems.append(f"paid {paid_in} into escrow for a total of {total}")
    if paid_in != refunded + commission + share + escrow:
        problems.append(
            f"paid {paid_in} != refunds {refunded} + commission {commission} "
            f"+ seller {share} + escrow {escrow}"
        )
    if refunded != row["refunded_amount"]:
        problems.append(f"refunds {refunded} but the order says {row['refunded_amount']}")
    open_escrow = status in {"paid", "shipped"} or (
        status == "disputed" and not row["was_completed"]
    )
    if escrow != (paid_in if open_escrow else 0):
        problems.append(f"{status} order holds {escrow} in escrow")
    if commission != expected_commission(settings, row):
        problems.append(f"commission {commission}, expected {expected_commission(settings, row)}")
    if row["foreign_entries"]:
        problems.append(f"{row['foreign_entries']} seller entries owned by another seller")
    return problems


@dataclass
class Check:
    name: str
    failures: int
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.failures == 0


async def money_checks(pool: Any, settings: Settings) -> tuple[list[Check], list[Any]]:
    checks = []
    rows = await pool.fetch(ORDER_MONEY)
    bad = [(row["id"], p) for row in rows for p in order_problems(settings, row)]
    checks.append(
        Check(
            "every order's money traced to the cent",
            len(bad),
            "; ".join(f"order {o}: {p}" for o, p in bad[:5]),
        )
    )
    shares: dict[uuid.UUID, int] = defaultdict(int)
    for row in rows:
        shares[row["seller_id"]] += row["seller_share"]
    payouts: dict[tuple[uuid.UUID, str], int] = defaultdict(int)
    for seller_id, status, _count, amount in await pool.fetch(PAYOUT_TOTALS):
        payouts[(seller_id, status)] = amount
    wrong = []
    for seller in await pool.fetch(SELLER_MONEY):
        sid = seller["id"]
        paid, pending = payouts[(sid, "paid")], payouts[(sid, "pending")]
        if seller["held"] != shares[sid] - paid:
            wrong.append(f"seller {sid} holds {seller['held']}, sales {shares[sid]} - paid {paid}")
        if seller["in_transit"] != pending:
            wrong.append(f"seller {sid}: {seller['in_transit']} in transit, {pending} pending")
        if seller["paid_away"] != -(paid + pending):
            wrong.append(f"seller {sid}: {seller['paid_away']} paid away, payouts {paid + pending}")
    checks.append(
        Check("seller accounts consistent with payouts", len(wrong), "; ".join(wrong[:5]))
    )
    trail_problems = []
    for p in await pool.fetch(PAYOUT_TRAIL):
        settled = p["paid"] + p["failed"]
        expected_settlement = {"pending": (0, 0), "paid": (1, 0), "failed": (0, 1)}[p["status"]]
        if (
            p["requested"] != 1
            or (p["paid"], p["failed"]) != expected_settlement
            or p["provider_calls"] != settled
            or (settled and p["provider_paid"] != (p["status"] == "paid"))
        ):
            trail_problems.append(f"payout {p['id']} {p['status']}: {dict(p)}")
    checks.append(
        Check(
            "each payout requested once, settled once",
            len(trail_problems),
            "; ".join(trail_problems[:3]),
        )
    )
    return checks, rows


async def job_checks(pool: Any, receiver: Receiver) -> list[Check]:
    checks = []
    for name, query in DONE_TWICE.items():
        found = await pool.fetch(query)
        checks.append(Check(name, len(found), ", ".join(str(tuple(r)) for r in found[:5])))
    delivered = await pool.fetch(DELIVERED)
    received = {(path, event) for path, event in receiver.accepted}
    missing = [
        (url, event) for url, event in delivered if (httpx.URL(url).path, event) not in received
    ]
    checks.append(
        Check("every delivered event reached the receiver", len(missing), str(missing[:3]))
    )
    return checks


def log_check(logs: Path) -> Check:
    tracebacks = 0
    last_lines: Counter[str] = Counter()
    for log in sorted(logs.glob("*.log")):
        lines = log.read_text(errors="replace").splitlines()
        for index, line in enumerate(lines):
            if line.startswith("Traceback"):
                tracebacks += 1
                tail = next(
                    (
                        lines[j]
                        for j in range(index + 1, len(lines))
                        if lines[j] and not lines[j].startswith((" ", "Traceback"))
                    ),
                    "?",
                )
                last_lines[f"{log.name}: {tail[:200]}"] += 1
    detail = "; ".join(f"{n}x {line}" for line, n in last_lines.most_common(5))
    return Check("no traceback in the API and worker logs", tracebacks, detail)


# --- report -----------------------------------------------------------------------------------


def table(title: str, rows: Sequence[tuple[str, object]]) -> None:
    print(f"\n{title}")
    width = max((len(name) for name, _ in rows), default=10)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


async def report(
    pool: Any,
    tally: Tally,
    workers: Workers,
    receiver: Receiver,
    checks: list[Check],
    elapsed: tuple[float, float],
) -> None:
    statuses = await pool.fetch("SELECT status, count(*) FROM orders GROUP BY 1 ORDER BY 2 DESC")
    checkouts = await pool.fetch(
        "SELECT status, count(*) FROM checkouts GROUP BY 1 ORDER BY 2 DESC"
    )
    refunds = await pool.fetch(
        """
        SELECT split_part(t.memo, ':', 3) AS why, count(DISTINCT t.id), sum(e.amount)
        FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id
        WHERE t.kind = 'refund' AND e.account = 'external' GROUP BY 1 ORDER BY 1
        """
    )
    payouts = await pool.fetch(
        "SELECT status, count(*), sum(amount) FROM payouts GROUP BY 1 ORDER BY 1"
    )
    disputes = await pool.fetch(
        """
        SELECT CASE WHEN resolved_by IS NULL THEN 'worker' ELSE 'admin' END, outcome, count(*)
        FROM disputes GROUP BY 1, 2 ORDER BY 1, 2
        """
    )
    returns = await pool.fetch("SELECT status, count(*) FROM returns GROUP BY 1 ORDER BY 1")
    webhooks = await pool.fetchrow(
        """
        SELECT (SELECT count(*) FROM outbox_events) AS events,
               (SELECT count(*) FROM webhook_deliveries) AS deliveries,
               (SELECT count(*) FROM webhook_attempts) AS attempts
        """
    )
    drive_s, total_s = elapsed
    table(
        "orders by final status",
        [(s, n) for s, n in statuses] + [("total", sum(n for _, n in statuses))],
    )
    table("checkouts by final status", [(s, n) for s, n in checkouts])
    table(
        "what the clients did",
        sorted(tally.events.items()),
    )
    table(
        "refunds (ledger)",
        [
            (f"{why or '?'}", f"{n} refunds, {total / 100:,.2f} {CURRENCY}")
            for why, n, total in refunds
        ],
    )
    table(
        "disputes (resolved by, outcome)", [(f"{by}, {outcome}", n) for by, outcome, n in disputes]
    )
    table("returns", [(s, n) for s, n in returns])
    table("payouts", [(s, f"{n}, {total / 100:,.2f} {CURRENCY}") for s, n, total in payouts])
    table(
        "webhooks",
        [
            ("outbox events", webhooks["events"]),
            ("deliveries", webhooks["deliveries"]),
            ("attempts", webhooks["attempts"]),
            ("refused by the receiver (then retried)", receiver.refused),
            ("received again after a 200 (at least once)", len(receiver.again)),
            (
                "... of which with no worker kill in between",
                sum(
                    not any(first <= kill <= again for kill in workers.kills)
                    for first, again in receiver.again
                ),
            ),
        ],
    )
    table(
        "processes",
        [
            ("API processes", API_PROCESSES),
            ("worker processes", WORKERS),
            ("worker kills (SIGKILL, restarted)", len(workers.kills)),
            ("workers that died by themselves", len(workers.died)),
            ("orders driven", f"{tally.orders} in {drive_s:.0f}s ({tally.orders / drive_s:.1f}/s)"),
            ("whole run (drain and checks included)", f"{total_s:.0f}s"),
            ("host", load()),
        ],
    )
    print("\nchecks")
    for check in checks:
        print(
            f"  {'ok  ' if check.ok else 'FAIL'}  {check.name}"
            + ("" if check.ok else f": {check.failures} — {check.detail}")
        )


# --- main -------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=24, help="concurrent requests")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--drain-timeout", type=float, default=300.0, help="seconds to wait for the workers"
    )
    parser.add_argument("--logs", type=Path, default=None, help="where the processes log")
    args = parser.parse_args(argv)
    if args.orders < 1 or args.clients < 1:
        parser.error("--orders and --clients must be positive")
    return args


async def run_flows(soak: Soak, orders: int, clients: int, rng: random.Random) -> None:
    """Every checkout plan, with up to `clients * 4` flows alive at once (a flow that waits
    for the clock holds no request slot)."""
    planned = iter(plans(soak.market, orders, rng))

    async def runner() -> None:
        for plan in planned:  # shared iterator: each plan is taken once
            with contextlib.suppress(FlowFailed):
                await checkout_flow(soak, plan)

    await asyncio.gather(*(runner() for _ in range(clients * 4)))


async def soak_run(
    args: argparse.Namespace, url: URL, bases: list[str], admin_email: str, logs: Path
) -> bool:
    """Seeds, drives, drains, checks and reports; False if any check failed."""
    started = time.perf_counter()
    rng = random.Random(args.seed)
    settings = bench_settings(url)
    receiver = Receiver(random.Random(rng.random()))
    receiver_port = free_port()
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", receiver_port)
    connections = args.clients * 2 + 8
    # Idle connections are dropped before uvicorn's 5 s keep-alive ends, or a request could
    # go out on a connection the server is closing ("disconnected without a response").
    limits = httpx.Limits(
        max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=2.0
    )
    pool = await asyncpg.create_pool(asyncpg_dsn(url), min_size=1, max_size=4)
    workers = Workers(process_env(url, SOAK_SETTINGS), logs)
    try:
        for base in bases:
            async with httpx.AsyncClient(base_url=base, timeout=HTTP_TIMEOUT) as probe:
                await wait_until_ready(probe)
        async with httpx.AsyncClient(
            base_url=bases[0], limits=limits, timeout=HTTP_TIMEOUT
        ) as seeding:
            market = await seed(seeding, admin_email, receiver_port, rng)
        print(
            f"seeded {SELLERS} sellers ({FAILING_SELLERS} with failing payouts), "
            f"{SELLERS * LISTINGS_PER_SELLER} listings, {BUYERS} buyers, a webhook endpoint "
            f"per shop in {time.perf_counter() - started:.1f}s",
            flush=True,
        )
        tally = Tally()
        async with httpx.AsyncClient(limits=limits, timeout=HTTP_TIMEOUT) as client:
            soak = Soak(Api(client, bases, args.clients, tally), market, tally)
            done = asyncio.Event()
            background = [
                asyncio.create_task(workers.kill_now_and_then(done, random.Random(rng.random()))),
                asyncio.create_task(payouts_until(soak, done, random.Random(rng.random()))),
            ]
            driving = time.perf_counter()
            await run_flows(soak, args.orders, args.clients, rng)
            drive_s = time.perf_counter() - driving
            done.set()
            await asyncio.gather(*background)
            workers.check_alive()
            print(
                f"drove {tally.orders} orders in {drive_s:.1f}s with {len(workers.kills)} worker "
                f"kills; draining",
                flush=True,
            )
            left = await drain(pool, args.drain_timeout)
            with contextlib.suppress(FlowFailed):
                await pay_out_everything(soak)
            left = left or await drain(pool, args.drain_timeout)
            workers.check_alive()
        async with httpx.AsyncClient(base_url=bases[-1], timeout=HTTP_TIMEOUT) as admin:
            reconcile = expect(
                await admin.get("/v1/admin/ledger/reconcile", headers=market.admin.headers), 200
            )
        checks = [
            Check("workers drained every due job", len(left), str(left)),
            Check(
                "reconcile reports 0 violations",
                len(reconcile["violations"]),
                "; ".join(v["detail"] for v in reconcile["violations"][:5]),
            ),
        ]
        money, _ = await money_checks(pool, settings)
        jobs = await job_checks(pool, receiver)
        stock = await pool.fetchval(STOCK_CHECK, STOCK)
        checks += [
            *money,
            *jobs,
            Check("stock equals what the orders took (no oversell)", stock),
            Check(
                "every answer as expected",
                sum(tally.unexpected.values()),
                "; ".join(f"{n}x {what}" for what, n in tally.unexpected.most_common(8))
                + (f" — e.g. {tally.samples[0]}" if tally.samples else ""),
            ),
            Check("no worker died by itself", len(workers.died), "; ".join(workers.died[:3])),
        ]
    finally:
        workers.stop()
        server.close()
        await pool.close()
    checks.append(log_check(logs))
    await report_after(url, tally, workers, receiver, checks, drive_s, started)
    return all(check.ok for check in checks)


async def report_after(
    url: URL,
    tally: Tally,
    workers: Workers,
    receiver: Receiver,
    checks: list[Check],
    drive_s: float,
    started: float,
) -> None:
    pool = await asyncpg.create_pool(asyncpg_dsn(url), min_size=1, max_size=2)
    try:
        await report(
            pool,
            tally,
            workers,
            receiver,
            checks,
            (drive_s, time.perf_counter() - started),
        )
    finally:
        await pool.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    stop_on_sigterm()
    try:
        url = checked_url(args.database_url)
        admin_email = fresh_database(url)
        logs = args.logs or Path(tempfile.mkdtemp(prefix="soak_money-"))
        logs.mkdir(parents=True, exist_ok=True)
        env = process_env(url, SOAK_SETTINGS)
        with ExitStack() as stack:
            bases = []
            for index in range(API_PROCESSES):
                output = stack.enter_context((logs / f"api{index}.log").open("ab"))
                bases.append(
                    stack.enter_context(api_server(url, free_port(), env=env, output=output))
                )
            print(f"logs in {logs}", flush=True)
            consistent = asyncio.run(soak_run(args, url, bases, admin_email, logs))
    except BenchError as error:
        print(f"soak_money: {error}", file=sys.stderr)
        return 1
    if not consistent:
        print("soak_money: a check FAILED", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
