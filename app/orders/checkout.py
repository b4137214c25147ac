"""Cart and checkout: from a cart (or explicit items) to one order per seller with stock
reserved, then one payment that puts every order's money in escrow."""

import dataclasses
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.catalog import service as catalog_service
from app.catalog.exceptions import InsufficientStock
from app.catalog.models import Listing, ListingStatus
from app.config import Settings
from app.core.clock import add_business_days, now
from app.core.errors import Conflict, InvalidTransition, NotFound
from app.core.guards import Guarded
from app.core.ids import uuid7
from app.core.money import MAX_AMOUNT
from app.fees import service as fees
from app.orders import pricing
from app.orders import service as order_service
from app.orders.exceptions import CartEmpty, CheckoutExpired, CheckoutNotFound, OrderTooLarge
from app.orders.models import (
    CartItem,
    Checkout,
    CheckoutStatus,
    Order,
    OrderLine,
    OrderStatus,
)
from app.orders.related import Action
from app.orders.repository import CartRepository, CheckoutRepository
from app.orders.schemas import CheckoutCreate, CheckoutItem
from app.orders.state import OrderAction, OrderActor
from app.payments import service as payments
from app.payments.provider import PaymentProvider
from app.promotions import service as promotions
from app.promotions.exceptions import CouponNotApplicable
from app.shipping import profiles as shipping_profiles
from app.shipping.exceptions import DestinationNotServed
from app.shipping.quote import Profile, ProfileCharge, Quote, QuoteLine, quote

_BUYER = frozenset({OrderActor.buyer})

# --- cart -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CartEntry:
    """A line of the cart with its listing, why it cannot be bought now (None: it can) and
    its share of its shop's shipping."""

    listing: Listing
    quantity: int
    unavailable_reason: str | None
    shipping_fee: int
    """Minor units: a line that can be bought, its share of its shop's shipping to the
    group's country; one that cannot, its listing's flat fee (zero on a profile)."""


@dataclass(frozen=True, slots=True)
class CartShipping:
    """How one shop's lines in a cart ship, and what they cost together."""

    country: str
    """Where to: the country asked for, else the shop's own."""
    charges: tuple[ProfileCharge, ...]
    price: pricing.OrderCharge
    """The buyable lines as checkout would charge them."""


@dataclass(frozen=True, slots=True)
class CartView:
    entries: list[CartEntry]
    shipping: dict[uuid.UUID, CartShipping]
    """By shop."""


async def cart(
    session: AsyncSession,
    principal: Principal,
    *,
    settings: Settings,
    country: str | None = None,
    coupon_codes: Sequence[str] = (),
) -> CartView:
    """The caller's cart, each shop's lines charged what checkout to `country` would charge
    them (no country: shipping to the shop's own, a domestic estimate), with the coupons
    given and the automatic promotions. Lines that can no longer be bought, or not shipped
    there, stay, marked as such."""
    items = await CartRepository(session).items(principal.user_id)
    listings = await catalog_service.many(session, [i.listing_id for i in items])
    profiles = await _profiles_of(session, listings.values())
    reasons = {i.listing_id: _unavailable_reason(listings[i.listing_id], i.quantity) for i in items}
    by_shop: dict[uuid.UUID, list[CartItem]] = defaultdict(list)
    for item in items:
        by_shop[listings[item.listing_id].seller_id].append(item)
    shares: dict[uuid.UUID, int] = {}
    quoted_shops: dict[uuid.UUID, tuple[str, list[QuoteLine], Quote]] = {}
    for seller_id, shop_items in by_shop.items():
        destination = country or listings[shop_items[0].listing_id].seller.country
        # In the order checkout quotes them (the listings', by id), so that an odd cent of a
        # split fee falls on the same line in both.
        buyable = sorted(
            (i for i in shop_items if reasons[i.listing_id] is None), key=lambda i: i.listing_id
        )
        lines = [_quote_line(listings[i.listing_id], i.quantity, profiles) for i in buyable]
        try:
            quoted = quote(lines, destination)
        except DestinationNotServed as refused:
            for listing_id in refused.listing_ids:
                reasons[listing_id] = f"not shipped to {destination}"
            lines = [line for line in lines if line.listing_id not in refused.listing_ids]
            quoted = quote(lines, destination)
        if _too_large(settings, sum(line.unit_price * line.units for line in lines) + quoted.total):
            # More than one order may hold (checkout would refuse it): shown, not counted.
            for line in lines:
                reasons[line.listing_id] = "more than one order may hold: buy fewer"
            lines, quoted = [], quote([], destination)
        shares.update(zip((line.listing_id for line in lines), quoted.fees, strict=True))
        quoted_shops[seller_id] = (destination, lines, quoted)
    # Discounted as checkout will: the lines by listing id, grouped by shop in that order.
    buyable_lines = [
        (listings[line.listing_id], line.units)
        for _, lines, _ in quoted_shops.values()
        for line in lines
    ]
    in_checkout_order: dict[uuid.UUID, list[tuple[Listing, int]]] = defaultdict(list)
    for listing, units in sorted(buyable_lines, key=lambda bought: bought[0].id):
        in_checkout_order[listing.seller_id].append((listing, units))
    discounts = await _discounts(session, principal.user_id, in_checkout_order, {}, coupon_codes)
    shipping: dict[uuid.UUID, CartShipping] = {}
    for seller_id, (destination, lines, quoted) in quoted_shops.items():
        charges = [
            pricing.LineCharge(line.listing_id, line.units, line.unit_price, fee)
            for line, fee in zip(lines, quoted.fees, strict=True)
        ]
        price = pricing.charge(settings, _discounted(charges, discounts))
        shipping[seller_id] = CartShipping(destination, quoted.charges, price)
    entries = [
        CartEntry(
            listings[i.listing_id],
            i.quantity,
            reasons[i.listing_id],
            shares[i.listing_id] if i.listing_id in shares else _flat_fee(listings[i.listing_id]),
        )
        for i in items
    ]
    return CartView(entries, shipping)


def _too_large(settings: Settings, goods: int) -> bool:
    """Whether goods and shipping coming to `goods` (minor units), with the protection fee
    on them, are more than one order may hold."""
    return goods + fees.protection_fee(settings, goods) > MAX_AMOUNT


def _flat_fee(listing: Listing) -> int:
    """What a line that cannot be bought shows as its shipping: its listing's flat fee, or
    nothing on a profile (its share depends on what it would ship with)."""
    return 0 if listing.shipping_profile_id is not None else listing.shipping_fee_amount


async def set_cart_quantity(
    session: AsyncSession,
    principal: Principal,
    listing_id: uuid.UUID,
    quantity: int,
    *,
    settings: Settings,
) -> CartView:
    """Put a listing in the cart (or change its quantity), checked against the stock now;
    the cart as it is then (shipping to each shop's own country)."""
    listing = await catalog_service.purchasable(session, listing_id, principal.user)
    if quantity > listing.quantity:
        raise InsufficientStock(f"only {listing.quantity} in stock")
    if _too_large(settings, listing.price_amount * quantity + listing.shipping_fee_amount):
        raise OrderTooLarge(f"a line may come to at most {MAX_AMOUNT} minor units")
    carts = CartRepository(session)
    item = await carts.find(principal.user_id, listing_id)
    if item is None:
        await carts.save_unique(
            CartItem(buyer_id=principal.user_id, listing_id=listing_id, quantity=quantity),
            Conflict("the cart changed concurrently; retry"),
        )
    else:
        item.quantity = quantity
        await session.flush()
    return await cart(session, principal, settings=settings)


async def remove_from_cart(
    session: AsyncSession, principal: Principal, listing_id: uuid.UUID
) -> None:
    if not await CartRepository(session).remove(principal.user_id, [listing_id]):
        raise NotFound("that listing is not in your cart")


def _for_sale(listing: Listing) -> bool:
    return listing.status is ListingStatus.active and listing.seller_approved


def _unavailable_reason(listing: Listing, quantity: int) -> str | None:
    if not _for_sale(listing):
        return f"no longer for sale ({listing.status.value})"
    if quantity > listing.quantity:
        return f"only {listing.quantity} left"
    return None


# --- shipping ---------------------------------------------------------------------------------


async def _profiles_of(
    session: AsyncSession, listings: Iterable[Listing]
) -> dict[uuid.UUID, Profile]:
    """The shipping profiles the listings charge by, read in one statement (none without)."""
    wanted = {listing.shipping_profile_id for listing in listings}
    return await shipping_profiles.terms_of(session, {p for p in wanted if p is not None})


def _price(listing: Listing, prices: Mapping[uuid.UUID, int]) -> int:
    """A unit's price: the agreed one, if any, else the listing's."""
    return prices.get(listing.id, listing.price_amount)


def _quote_line(
    listing: Listing,
    quantity: int,
    profiles: dict[uuid.UUID, Profile],
    prices: Mapping[uuid.UUID, int] = {},
) -> QuoteLine:
    profile_id = listing.shipping_profile_id
    return QuoteLine(
        listing_id=listing.id,
        title=listing.title,
        units=quantity,
        unit_price=_price(listing, prices),
        flat_fee=listing.shipping_fee_amount,
        profile=None if profile_id is None else profiles[profile_id],
    )


def _shipping(
    by_seller: dict[uuid.UUID, list[tuple[Listing, int]]],
    profiles: dict[uuid.UUID, Profile],
    country: str,
    prices: Mapping[uuid.UUID, int],
) -> dict[uuid.UUID, Quote]:
    """Each shop's shipping to `country`; DestinationNotServed naming every line, of any
    shop, that is not shipped there."""
    quotes: dict[uuid.UUID, Quote] = {}
    unserved: list[DestinationNotServed] = []
    for seller_id, lines in by_seller.items():
        try:
            quotes[seller_id] = quote(
                [_quote_line(listing, quantity, profiles, prices) for listing, quantity in lines],
                country,
            )
        except DestinationNotServed as refused:
            unserved.append(refused)
    if unserved:
        raise DestinationNotServed(
            country=country,
            titles=[title for refused in unserved for title in refused.titles],
            listing_ids=[i for refused in unserved for i in refused.listing_ids],
        )
    return quotes


# --- checkout ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Wanted:
    listing_id: uuid.UUID
    quantity: int


async def _wanted_items(
    session: AsyncSession, buyer_id: uuid.UUID, items: list[CheckoutItem] | None
) -> list[_Wanted]:
    if items is not None:
        merged: dict[uuid.UUID, int] = defaultdict(int)
        for item in items:
            merged[item.listing_id] += item.quantity
        return [_Wanted(listing_id, quantity) for listing_id, quantity in merged.items()]
    cart = await CartRepository(session).items(buyer_id)
    listings = await catalog_service.many(session, [i.listing_id for i in cart])
    # Lines no longer for sale stay in the cart and the rest are bought; a line asking for
    # more than the stock fails the checkout (409) so the buyer can decide.
    wanted = [_Wanted(i.listing_id, i.quantity) for i in cart if _for_sale(listings[i.listing_id])]
    if not wanted:
        raise CartEmpty("nothing in your cart can be bought now; add items or send `items`")
    return wanted


@dataclass(frozen=True, slots=True)
class AgreedPrice:
    """An accepted offer: `quantity` units of one listing at `unit_price`, their stock
    already reserved for the buyer, payable until `pay_by`."""

    listing_id: uuid.UUID
    quantity: int
    unit_price: int
    """Minor units."""
    pay_by: datetime


async def create_checkout(
    session: AsyncSession,
    principal: Principal,
    data: CheckoutCreate,
    *,
    settings: Settings,
    agreed: AgreedPrice | None = None,
) -> "CheckoutView":
    """Reserve stock for every item and split the purchase into one order per seller; the
    new checkout, with the caller as its buyer. With `agreed` (an accepted offer) it buys
    that instead of `data.items` or the cart, at the agreed price, from the stock the offer
    reserved, and must be paid by the offer's deadline.

    Its cost does not grow with the cart: the listings are locked and their stock taken in
    two statements (see `catalog_service.take_stock`: any shortfall aborts the whole
    checkout), and the checkout, its orders, lines, timeline entries and events are written
    in one flush, one INSERT per table.
    """
    buyer_id = principal.user_id
    prices: dict[uuid.UUID, int] = {}
    expires_at = now() + settings.payment_expiry
    if agreed is None:
        wanted = {
            w.listing_id: w.quantity for w in await _wanted_items(session, buyer_id, data.items)
        }
        listings = await catalog_service.take_stock(session, principal, wanted)
    else:
        wanted = {agreed.listing_id: agreed.quantity}
        listings = await catalog_service.lock_reserved(session, [agreed.listing_id])
        prices[agreed.listing_id] = agreed.unit_price
        expires_at = min(expires_at, agreed.pay_by)
    by_seller: dict[uuid.UUID, list[tuple[Listing, int]]] = defaultdict(list)
    for listing in listings:
        by_seller[listing.seller_id].append((listing, wanted[listing.id]))
    # After the stock is taken, from the listings as locked: a destination not served
    # refuses the whole checkout, and the request's rollback gives the stock back.
    shipping = _shipping(
        by_seller, await _profiles_of(session, listings), data.shipping_address.country, prices
    )
    commissions = await fees.commissions_for(
        session,
        settings,
        [fees.SoldLine(listing.id, listing.seller_id, listing.category_id) for listing in listings],
    )
    if agreed is not None and data.coupon_codes:
        raise CouponNotApplicable("an accepted offer's price is already agreed: no coupon")
    discounts = (
        []
        if agreed is not None
        else await _discounts(session, buyer_id, by_seller, prices, data.coupon_codes)
    )

    checkout = Checkout(
        id=uuid7(),
        buyer_id=buyer_id,
        status=CheckoutStatus.pending_payment,
        currency=settings.currency,
        expires_at=expires_at,
    )
    address = data.shipping_address.model_dump()
    orders = [
        _order(
            checkout,
            seller_id,
            lines,
            address,
            _discounted(_line_charges(lines, shipping[seller_id], prices), discounts),
            commissions,
            _breakdown(discounts, seller_id, lines),
            shipping[seller_id],
            settings,
        )
        for seller_id, lines in by_seller.items()
    ]
    checkout.total_amount = sum(order.total_amount for order in orders)
    undiscounted = sum(order.items_amount + order.shipping_amount for order in orders)
    if max(checkout.total_amount, undiscounted) > MAX_AMOUNT:  # one payment carries them all
        raise OrderTooLarge(f"a checkout may come to at most {MAX_AMOUNT} minor units")
    session.add(checkout)
    session.add_all(orders)
    await session.flush()  # before their timelines: no relationship tells the flush the order
    await order_service.announce_created(session, orders, actor_id=buyer_id)
    await promotions.redeem(
        session,
        buyer_id=buyer_id,
        checkout_id=checkout.id,
        discounts=discounts,
        order_of_seller={order.seller_id: order.id for order in orders},
    )
    if agreed is None:
        await CartRepository(session).remove(buyer_id, list(wanted))
    created = await get_visible(session, principal, checkout.id, lock=False)
    return await view(session, principal, created, settings=settings)


def _line_charges(
    lines: list[tuple[Listing, int]],
    shipping: Quote,
    prices: Mapping[uuid.UUID, int],
) -> list[pricing.LineCharge]:
    """One shop's lines priced (at the agreed `prices`, if any), with their share of its
    shipping."""
    return [
        pricing.LineCharge(
            listing_id=listing.id,
            units=quantity,
            unit_price=_price(listing, prices),
            shipping_fee=fee,
        )
        for (listing, quantity), fee in zip(lines, shipping.fees, strict=True)
    ]


async def _discounts(
    session: AsyncSession,
    buyer_id: uuid.UUID,
    by_seller: Mapping[uuid.UUID, list[tuple[Listing, int]]],
    prices: Mapping[uuid.UUID, int],
    codes: Sequence[str],
) -> list[promotions.AppliedDiscount]:
    """The coupons given and the automatic promotions, applied to every shop's lines."""
    return await promotions.discounts_for(
        session,
        buyer_id=buyer_id,
        lines=[
            promotions.PricedLine(
                listing.id, listing.seller_id, listing.category_id, _price(listing, prices) * units
            )
            for lines in by_seller.values()
            for listing, units in lines
        ],
        codes=codes,
    )


def _discounted(
    lines: list[pricing.LineCharge], discounts: Sequence[promotions.AppliedDiscount]
) -> list[pricing.LineCharge]:
    """The lines with their shares of the discounts: all of them, and the shop-funded
    ones."""
    return [
        dataclasses.replace(
            line,
            discount=sum(d.per_line.get(line.listing_id, 0) for d in discounts),
            shop_discount=sum(
                d.per_line.get(line.listing_id, 0)
                for d in discounts
                if d.funded_by is promotions.FundedBy.shop
            ),
        )
        for line in lines
    ]


def _breakdown(
    discounts: Sequence[promotions.AppliedDiscount],
    seller_id: uuid.UUID,
    lines: list[tuple[Listing, int]],
) -> list[dict[str, object]]:
    """What each discount takes off one shop's order (those that take anything), as the
    order keeps it (`Order.discounts`)."""
    ids = [listing.id for listing, _ in lines]
    shares = [(d, sum(d.per_line.get(i, 0) for i in ids)) for d in discounts]
    return [
        {
            "promotion_id": str(d.promotion_id),
            "name": d.name,
            "code": d.code,
            "funded_by": d.funded_by.value,
            "amount": share,
        }
        for d, share in shares
        if share
    ]


def _order(
    checkout: Checkout,
    seller_id: uuid.UUID,
    lines: list[tuple[Listing, int]],
    address: dict[str, str | None],
    line_charges: list[pricing.LineCharge],
    commissions: Mapping[uuid.UUID, fees.AppliedCommission],
    discounts: list[dict[str, object]],
    shipping: Quote,
    settings: Settings,
) -> Order:
    """One seller's part of a checkout as `line_charges` price its `lines` (in their order),
    with the commission `commissions` apply, its shipping as quoted."""
    charge = pricing.charge(settings, line_charges)
    terms = pricing.commission(settings, line_charges, commissions)
    if charge.items + charge.shipping > MAX_AMOUNT or charge.total > MAX_AMOUNT:
        raise OrderTooLarge(f"one shop's part may come to at most {MAX_AMOUNT} minor units")
    return Order(
        id=uuid7(),  # known before the flush: its timeline entry and event name it
        checkout_id=checkout.id,
        buyer_id=checkout.buyer_id,
        seller_id=seller_id,
        status=OrderStatus.pending_payment,
        currency=checkout.currency,
        items_amount=charge.items,
        shipping_amount=charge.shipping,
        shipping_breakdown=[profile.as_json() for profile in shipping.charges],
        shop_discount_amount=charge.shop_discount,
        platform_discount_amount=charge.platform_discount,
        discounts=discounts,
        protection_fee_amount=charge.protection_fee,
        total_amount=charge.total,
        commission_base=terms.base,
        commission_weight=terms.weight,
        commission_fixed=terms.fixed,
        shipping_address=address,
        # The slowest line sets the pace: the seller ships the order as one parcel.
        handling_days=max(listing.handling_days for listing, _ in lines),
        lines=[
            OrderLine(
                listing_id=listing.id,
                title=listing.title,
                unit_price=line.unit_price,
                quantity=line.units,
                shipping_fee=line.shipping_fee,
                discount_amount=line.discount,
                shop_discount_amount=line.shop_discount,
                commission_percent=commissions[listing.id].percent,
                commission_rule_id=commissions[listing.id].rule_id,
            )
            for (listing, _), line in zip(lines, charge.lines, strict=True)
        ],
    )


async def get_visible(
    session: AsyncSession, principal: Principal, checkout_id: uuid.UUID, *, lock: bool
) -> Guarded[Checkout, OrderActor]:
    """One of the caller's checkouts with its orders (only its buyer sees it; 404 otherwise,
    decided by the query). `lock` holds its row for the rest of the transaction."""
    checkout = await CheckoutRepository(session).get_visible(principal, checkout_id, lock=lock)
    if checkout is None:
        raise CheckoutNotFound()
    return Guarded(checkout, _BUYER)


@dataclass(frozen=True, slots=True)
class CheckoutView:
    """A checkout with its orders as their screens show them."""

    checkout: Checkout
    orders: list[order_service.OrderView]
    actions: tuple[Action, ...]


async def view(
    session: AsyncSession,
    principal: Principal,
    checkout: Guarded[Checkout, OrderActor],
    *,
    settings: Settings,
) -> CheckoutView:
    """One of the caller's checkouts, its orders as the buyer's screens show them."""
    orders = [Guarded(o, checkout.roles) for o in checkout.subject.orders]
    return CheckoutView(
        checkout.subject,
        await order_service.views_of(session, principal, orders, settings=settings),
        _actions(checkout.subject),
    )


def _actions(checkout: Checkout) -> tuple[Action, ...]:
    """The buyer may pay an unpaid checkout until it expires (if any order is left to pay)."""
    payable = checkout.status is CheckoutStatus.pending_payment and any(
        o.status is OrderStatus.pending_payment for o in checkout.orders
    )
    if payable and now() < checkout.expires_at:
        return (Action("pay", checkout.expires_at),)
    return ()


async def pay(
    session: AsyncSession,
    principal: Principal,
    checkout: Guarded[Checkout, OrderActor],
    *,
    provider: PaymentProvider,
    settings: Settings,
    token: str,
) -> CheckoutView:
    """Capture the checkout's total once; every order becomes `paid` with its share in
    escrow. Any failure (declined, provider error) rolls all of it back: retry is safe.
    The checkout's guard holds its row lock."""
    paying = checkout.subject
    if paying.status is CheckoutStatus.pending_payment and paying.expires_at <= now():
        raise CheckoutExpired()
    # Orders the buyer cancelled before paying are not charged.
    payable = [o for o in paying.orders if o.status is OrderStatus.pending_payment]
    if paying.status is not CheckoutStatus.pending_payment or not payable:
        raise InvalidTransition(f"the checkout is {paying.status.value}")
    await payments.capture_into_escrow(
        session,
        provider,
        token=token,
        currency=paying.currency,
        reference=f"checkout:{paying.id}",
        shares=[
            payments.EscrowShare(o.id, o.total_amount, o.platform_discount_amount) for o in payable
        ],
    )
    # Everything the orders and the checkout change is set before the one flush that
    # writes the transitions, so each table gets one statement however many orders there are.
    paying.total_amount = sum(o.total_amount for o in payable)
    paid_at = now()
    for order in payable:
        order.paid_at = paid_at
        order.ship_by = _ship_by(paid_at, order.handling_days, settings=settings)
    paying.status = CheckoutStatus.paid
    paying.paid_at = paid_at
    await order_service.transition_all(
        session,
        payable,
        OrderAction.pay,
        order_service.SYSTEM,
        actor_id=principal.user_id,
        acting_for=OrderActor.buyer,
    )
    return await view(session, principal, checkout, settings=settings)


def _ship_by(paid_at: datetime, handling_days: int, *, settings: Settings) -> datetime:
    """When an order paid at `paid_at` must have shipped: its handling days later in business
    days (weekends skipped, holidays not; see `add_business_days`), but never later than the
    `ship_by` setting allows, a cap on any listing's promise."""
    return min(add_business_days(paid_at, handling_days), paid_at + settings.ship_by)


async def expire(session: AsyncSession, provider: PaymentProvider, checkout: Checkout) -> None:
    """Worker: an unpaid checkout past its expiry gives its stock back; it is `expired`, its
    orders `cancelled` with the reason saying they expired."""
    for order in checkout.orders:
        if order.status is not OrderStatus.pending_payment:
            continue  # already cancelled by the buyer
        await order_service.expire(session, order, provider=provider)
    checkout.status = CheckoutStatus.expired
    await session.flush()
