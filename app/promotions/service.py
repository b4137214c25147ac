"""Promotions: the admins' (platform-funded) and the shops' own (shop-funded), and the engine
checkout calls — `discounts_for` (what a checkout gets), `redeem` (count the uses, in the
checkout's transaction) and `release` (a cancelled order gives its use back)."""

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.catalog import service as catalog_service
from app.catalog.category_tree import load_tree
from app.config import Settings
from app.core.audit import record_audit
from app.core.clock import now
from app.core.errors import InvalidTransition, NotFound, ValidationFailed
from app.core.ids import uuid7
from app.core.money import Money, require_currency
from app.core.pagination import PageParams, SortKey, paginate
from app.promotions.exceptions import (
    CouponCodeTaken,
    CouponExhausted,
    CouponInvalid,
    CouponNotApplicable,
    PromotionNotFound,
    ShopPromotionReadOnly,
)
from app.promotions.models import FundedBy, Promotion, PromotionRedemption
from app.promotions.pricing import (
    AppliedDiscount,
    PricedLine,
    Terms,
    Tier,
    apply_all,
)
from app.promotions.repository import PromotionRepository
from app.promotions.schemas import (
    AdminPromotionCreate,
    AdminPromotionUpdate,
    PromotionCreate,
    PromotionUpdate,
    TierIn,
    check_terms,
)
from app.sellers import service as seller_service
from app.sellers.models import SellerProfile

__all__ = [
    "AppliedDiscount",
    "FundedBy",
    "PricedLine",
    "discounts_for",
    "redeem",
    "release",
]

AUDIT_TARGET = "promotion"


def normalize_code(code: str) -> str:
    """Codes are matched whatever their case (and surrounding white space)."""
    return code.strip().upper()


def has_ended(promotion: Promotion, moment: datetime) -> bool:
    return promotion.ends_at is not None and promotion.ends_at <= moment


def has_started(promotion: Promotion, moment: datetime) -> bool:
    return promotion.starts_at is None or promotion.starts_at <= moment


# --- checking what a body says ---------------------------------------------------------------


def _unique(ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    return list(dict.fromkeys(ids))


async def _check_restrictions(
    session: AsyncSession,
    *,
    category_ids: Sequence[uuid.UUID],
    listing_ids: Sequence[uuid.UUID],
    seller_ids: Sequence[uuid.UUID],
    shop_id: uuid.UUID | None,
) -> None:
    """Every id names something that exists; a shop names only its own listings."""
    if category_ids:
        tree = await load_tree(session)
        for index, category_id in enumerate(category_ids):
            if category_id not in tree.nodes:
                raise ValidationFailed(
                    ["body", "category_ids", index], f"no category {category_id}"
                )
    if listing_ids:
        found = await catalog_service.many(session, list(listing_ids))
        for index, listing_id in enumerate(listing_ids):
            listing = found.get(listing_id)
            if listing is None or (shop_id is not None and listing.seller_id != shop_id):
                whose = "of your shop " if shop_id is not None else ""
                raise ValidationFailed(
                    ["body", "listing_ids", index], f"no listing {whose}{listing_id}"
                )
    for index, seller_id in enumerate(seller_ids):
        try:
            await seller_service.get(session, seller_id)
        except NotFound as error:
            raise ValidationFailed(["body", "seller_ids", index], f"no shop {seller_id}") from error


def _check_future(ends_at: datetime | None) -> None:
    if ends_at is not None and ends_at <= now():
        raise ValidationFailed(
            ["body", "ends_at"],
            "must be in the future (to stop a promotion now, end it: POST .../end)",
        )


def _minor(money: Money | None, settings: Settings) -> int | None:
    return None if money is None else require_currency(money, settings.currency)


def _tiers(tiers: Sequence[TierIn] | None, settings: Settings) -> list[dict[str, int]] | None:
    if tiers is None:
        return None
    return [
        {
            "min_subtotal": require_currency(tier.min_subtotal, settings.currency),
            "discount": require_currency(tier.discount, settings.currency),
        }
        for tier in tiers
    ]


def _apply(promotion: Promotion, values: Mapping[str, Any], settings: Settings) -> None:
    """Writes the body's `values` (fields by name, parsed) on the row."""
    simple = ("name", "percent", "starts_at", "ends_at", "max_redemptions", "max_per_buyer")
    for name in simple:
        if name in values:
            setattr(promotion, name, values[name])
    if "code" in values:
        promotion.code = None if values["code"] is None else normalize_code(values["code"])
    if "max_discount" in values:
        promotion.max_discount_amount = _minor(values["max_discount"], settings)
    if "amount_off" in values:
        promotion.fixed_amount = _minor(values["amount_off"], settings)
    if "tiers" in values:
        promotion.tiers = _tiers(values["tiers"], settings)
    if "min_order_amount" in values:
        promotion.min_order_amount = _minor(values["min_order_amount"], settings) or 0
    for name in ("seller_ids", "category_ids", "listing_ids"):
        if name in values:
            setattr(promotion, name, [str(i) for i in _unique(values[name])])


def _code_taken(code: str | None) -> CouponCodeTaken:
    return CouponCodeTaken(f"another promotion has the code {code}: codes are unique")


# --- creating ---------------------------------------------------------------------------------


async def _create(
    session: AsyncSession,
    settings: Settings,
    data: PromotionCreate,
    *,
    funded_by: FundedBy,
    shop_id: uuid.UUID | None,
    seller_ids: Sequence[uuid.UUID],
) -> Promotion:
    _check_future(data.ends_at)
    await _check_restrictions(
        session,
        category_ids=data.category_ids,
        listing_ids=data.listing_ids,
        seller_ids=seller_ids,
        shop_id=shop_id,
    )
    promotion = Promotion(
        id=uuid7(),
        kind=data.kind,
        funded_by=funded_by,
        seller_id=shop_id,
        currency=settings.currency,
        redemptions=0,
        min_order_amount=0,
    )
    values: dict[str, Any] = {**dict(data), "seller_ids": list(seller_ids)}
    if "max_per_buyer" not in data.model_fields_set:
        # A code is usually one use per buyer; an automatic promotion reaches everyone.
        values["max_per_buyer"] = 1 if data.code is not None else None
    values.pop("kind")
    _apply(promotion, values, settings)
    return await PromotionRepository(session).save_unique(promotion, _code_taken(promotion.code))


async def create_platform(
    session: AsyncSession, settings: Settings, admin: Principal, data: AdminPromotionCreate
) -> Promotion:
    """A platform-funded promotion, audited."""
    promotion = await _create(
        session,
        settings,
        data,
        funded_by=FundedBy.platform,
        shop_id=None,
        seller_ids=_unique(data.seller_ids),
    )
    await record_audit(
        session,
        actor_id=admin.user_id,
        action="promotion.create",
        target_type=AUDIT_TARGET,
        target_id=promotion.id,
        details={"name": promotion.name, "kind": promotion.kind.value, "code": promotion.code},
    )
    return promotion


async def create_for_shop(
    session: AsyncSession, settings: Settings, seller: SellerProfile, data: PromotionCreate
) -> Promotion:
    """A promotion the shop `seller` (which may sell now) pays for, on its own listings."""
    return await _create(
        session, settings, data, funded_by=FundedBy.shop, shop_id=seller.id, seller_ids=()
    )


# --- reading ----------------------------------------------------------------------------------


async def list_own(
    session: AsyncSession, principal: Principal, page: PageParams
) -> tuple[list[Promotion], str | None]:
    """The caller's shop's promotions, newest first."""
    statement = PromotionRepository(session).of_seller(seller_service.require_shop(principal))
    return await paginate(
        session, statement, keys=[SortKey(Promotion.id, descending=True)], page=page
    )


async def list_all(
    session: AsyncSession, page: PageParams, *, funded_by: FundedBy | None
) -> tuple[list[Promotion], str | None]:
    """Every promotion (of one funder, when named), newest first."""
    statement = PromotionRepository(session).listed(funded_by)
    return await paginate(
        session,
        statement,
        keys=[SortKey(Promotion.id, descending=True)],
        page=page,
        tag=f"funded_by={funded_by}",
    )


async def get_own(
    session: AsyncSession, principal: Principal, promotion_id: uuid.UUID, *, lock: bool
) -> Promotion:
    """One of the caller's shop's promotions; another shop's (or the platform's) is a 404,
    decided by the query."""
    promotion = await PromotionRepository(session).get_of_seller(
        promotion_id, seller_service.require_shop(principal), lock=lock
    )
    if promotion is None:
        raise PromotionNotFound()
    return promotion


async def get_for_admin(session: AsyncSession, promotion_id: uuid.UUID, *, lock: bool) -> Promotion:
    """Any promotion: admins oversee the shops' too."""
    promotion = await PromotionRepository(session).get_any(promotion_id, lock=lock)
    if promotion is None:
        raise PromotionNotFound()
    return promotion


# --- changing and ending ----------------------------------------------------------------------


def _current(promotion: Promotion) -> dict[str, Any]:
    """The row's fields as a body carries them, for checking the promotion an edit leaves."""
    currency = promotion.currency

    def money(amount: int | None) -> Money | None:
        return None if amount is None else Money(amount=amount, currency=currency)

    return {
        "kind": promotion.kind,
        "percent": promotion.percent,
        "max_discount": money(promotion.max_discount_amount),
        "amount_off": money(promotion.fixed_amount),
        "tiers": None
        if promotion.tiers is None
        else [
            TierIn.model_construct(
                min_subtotal=Money(amount=tier["min_subtotal"], currency=currency),
                discount=Money(amount=tier["discount"], currency=currency),
            )
            for tier in promotion.tiers
        ],
        "starts_at": promotion.starts_at,
        "ends_at": promotion.ends_at,
    }


async def _update(
    session: AsyncSession,
    settings: Settings,
    promotion: Promotion,
    data: PromotionUpdate,
    *,
    shop_id: uuid.UUID | None,
) -> dict[str, Any]:
    """Changes the locked `promotion` as `data` says: the fields it changed, as given."""
    if has_ended(promotion, now()):
        raise InvalidTransition("the promotion has ended: an ended promotion does not change")
    changes = {name: getattr(data, name) for name in data.model_fields_set}
    try:
        check_terms({**_current(promotion), **changes})
    except ValueError as error:
        raise ValidationFailed(["body"], str(error)) from error
    if "ends_at" in changes:
        _check_future(changes["ends_at"])
    limit = changes.get("max_redemptions")
    if limit is not None and limit < promotion.redemptions:
        raise ValidationFailed(
            ["body", "max_redemptions"],
            f"{promotion.redemptions} checkouts already use it: the limit cannot be lower",
        )
    await _check_restrictions(
        session,
        category_ids=changes.get("category_ids") or (),
        listing_ids=changes.get("listing_ids") or (),
        seller_ids=changes.get("seller_ids") or (),
        shop_id=shop_id,
    )
    _apply(promotion, changes, settings)
    # Restrictions live in JSON columns: a change of them alone still changes the promotion.
    promotion.updated_at = now()
    await PromotionRepository(session).save_unique(promotion, _code_taken(promotion.code))
    return changes


async def update_own(
    session: AsyncSession, settings: Settings, promotion: Promotion, data: PromotionUpdate
) -> Promotion:
    """The shop's locked promotion, changed."""
    await _update(session, settings, promotion, data, shop_id=promotion.seller_id)
    return promotion


async def update_platform(
    session: AsyncSession,
    settings: Settings,
    admin: Principal,
    promotion: Promotion,
    data: AdminPromotionUpdate,
) -> Promotion:
    """A platform-funded promotion, changed and audited. A shop-funded one is its shop's to
    change (403); an admin may end it."""
    if promotion.funded_by is not FundedBy.platform:
        raise ShopPromotionReadOnly(
            "a shop-funded promotion is changed by its shop; an admin may only end it"
        )
    changes = await _update(session, settings, promotion, data, shop_id=None)
    await record_audit(
        session,
        actor_id=admin.user_id,
        action="promotion.update",
        target_type=AUDIT_TARGET,
        target_id=promotion.id,
        details={"fields": sorted(changes)},
    )
    return promotion


async def end(session: AsyncSession, promotion: Promotion) -> Promotion:
    """Ends the locked promotion now: no checkout gets it from now on; orders keep what they
    were given. An ended one is 409 `invalid_transition`."""
    moment = now()
    if has_ended(promotion, moment):
        raise InvalidTransition("the promotion has already ended")
    promotion.ends_at = moment
    if promotion.starts_at is not None and promotion.starts_at > moment:
        # Ended before it began: it never runs.
        promotion.starts_at = moment
    await session.flush()
    return promotion


async def end_as_admin(
    session: AsyncSession, admin: Principal, promotion: Promotion, reason: str | None
) -> Promotion:
    """Any promotion, a shop's included (e.g. one that breaks the rules), ended and
    audited."""
    await end(session, promotion)
    await record_audit(
        session,
        actor_id=admin.user_id,
        action="promotion.end",
        target_type=AUDIT_TARGET,
        target_id=promotion.id,
        reason=reason,
        details={"funded_by": promotion.funded_by.value, "seller_id": _text(promotion.seller_id)},
    )
    return promotion


def _text(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


# --- the engine checkout calls -------------------------------------------------------------


def terms_of(promotion: Promotion) -> Terms:
    return Terms(
        id=promotion.id,
        name=promotion.name,
        code=promotion.code,
        funded_by=promotion.funded_by,
        seller_id=promotion.seller_id,
        kind=promotion.kind,
        percent=promotion.percent,
        max_discount=promotion.max_discount_amount,
        fixed_amount=promotion.fixed_amount,
        tiers=tuple(Tier(t["min_subtotal"], t["discount"]) for t in promotion.tiers or ()),
        min_order_amount=promotion.min_order_amount,
        seller_ids=frozenset(uuid.UUID(i) for i in promotion.seller_ids),
        category_ids=frozenset(uuid.UUID(i) for i in promotion.category_ids),
        listing_ids=frozenset(uuid.UUID(i) for i in promotion.listing_ids),
    )


def _label(code: str | None, name: str) -> str:
    return f"coupon {code}" if code is not None else f"promotion '{name}'"


def _check_code(promotion: Promotion | None, code: str, moment: datetime) -> Promotion:
    """The promotion of a code a buyer entered, if it runs now and is not used up."""
    if promotion is None:
        raise CouponInvalid(f"no coupon has the code {code}")
    if not has_started(promotion, moment):
        assert promotion.starts_at is not None
        raise CouponInvalid(
            f"coupon {code} is not valid yet: it starts at {promotion.starts_at.isoformat()}"
        )
    if has_ended(promotion, moment):
        assert promotion.ends_at is not None
        raise CouponInvalid(f"coupon {code} has ended (at {promotion.ends_at.isoformat()})")
    if promotion.max_redemptions is not None and promotion.redemptions >= promotion.max_redemptions:
        raise CouponExhausted(f"coupon {code} has been used as often as it may be")
    return promotion


async def discounts_for(
    session: AsyncSession,
    *,
    buyer_id: uuid.UUID,
    lines: Sequence[PricedLine],
    codes: Sequence[str],
) -> list[AppliedDiscount]:
    """The discounts a checkout of `lines` (one per listing) gets, in the order they apply:
    the best automatic promotion of each shop among shop-funded ones and the best
    platform-funded automatic one, plus every code given (matched whatever its case; the
    same code twice counts once). A code that does not exist or does not run now is 422
    `coupon_invalid`, one used up (in all, or by this buyer) 409 `coupon_exhausted`, one
    that reaches none of the lines or whose minimum they do not reach 422
    `coupon_not_applicable`. An automatic promotion that does not apply is simply left out.
    Reads only: nothing is counted until `redeem`."""
    if not lines:
        return []
    moment = now()
    wanted = list(dict.fromkeys(normalize_code(code) for code in codes))
    repository = PromotionRepository(session)
    found = await repository.for_checkout(
        moment=moment, seller_ids={line.seller_id for line in lines}, codes=wanted
    )
    by_code = {p.code: p for p in found if p.code is not None}
    coded = [_check_code(by_code.get(code), code, moment) for code in wanted]
    automatic = [p for p in found if p.code is None]
    limited = [p for p in (*automatic, *coded) if p.max_per_buyer is not None]
    uses = await repository.uses_of(buyer_id, [p.id for p in limited]) if limited else {}

    def used_up(promotion: Promotion) -> bool:
        limit = promotion.max_per_buyer
        return limit is not None and uses.get(promotion.id, 0) >= limit

    for promotion in coded:
        if used_up(promotion):
            raise CouponExhausted(
                f"you have used coupon {promotion.code} as often as one buyer may "
                f"({promotion.max_per_buyer})"
            )
    automatic = [p for p in automatic if not used_up(p)]
    ancestry: dict[uuid.UUID, frozenset[uuid.UUID]] = {}
    if any(p.category_ids for p in (*automatic, *coded)):
        tree = await load_tree(session)
        for category_id in {line.category_id for line in lines}:
            lineage = frozenset(node.id for node in tree.path(category_id))
            ancestry[category_id] = lineage or frozenset({category_id})
    applied, refused = apply_all(
        lines,
        automatic=[terms_of(p) for p in automatic],
        coded=[terms_of(p) for p in coded],
        ancestry=ancestry,
    )
    if refused:
        first = refused[0]
        raise CouponNotApplicable(f"coupon {first.code} does not apply: {first.reason}")
    return applied


async def redeem(
    session: AsyncSession,
    *,
    buyer_id: uuid.UUID,
    checkout_id: uuid.UUID,
    discounts: Sequence[AppliedDiscount],
    order_of_seller: Mapping[uuid.UUID, uuid.UUID],
) -> None:
    """Counts the checkout's use of each promotion of `discounts`, in the caller's
    transaction (flushed, never committed): once per promotion, against its total limit and
    the buyer's, each by compare-and-set; and records the share each order carries
    (`order_of_seller`: each line's shop -> its order, already flushed). A limit reached
    (a concurrent checkout may have taken the last use) is 409 `coupon_exhausted`: the
    caller's transaction then rolls everything back. Promotions are counted in id order, so
    two checkouts never wait on each other in a circle."""
    if not discounts:
        return
    repository = PromotionRepository(session)
    by_promotion: dict[uuid.UUID, list[AppliedDiscount]] = {}
    for discount in discounts:
        by_promotion.setdefault(discount.promotion_id, []).append(discount)
    sellers = await _sellers_of_lines(session, discounts)
    rows: list[PromotionRedemption] = []
    for promotion_id in sorted(by_promotion):
        first = by_promotion[promotion_id][0]
        label = _label(first.code, first.name)
        counted = await repository.count_redemption(promotion_id)
        if counted is None:
            raise CouponExhausted(f"{label} has been used as often as it may be")
        if not await repository.count_use(promotion_id, buyer_id, counted.max_per_buyer):
            raise CouponExhausted(f"you have used {label} as often as one buyer may")
        per_order: dict[uuid.UUID, int] = {}
        for discount in by_promotion[promotion_id]:
            for listing_id, share in discount.per_line.items():
                seller_id = sellers[listing_id]
                if seller_id not in order_of_seller:
                    raise ValueError(f"no order for shop {seller_id} of listing {listing_id}")
                order_id = order_of_seller[seller_id]
                per_order[order_id] = per_order.get(order_id, 0) + share
        rows.extend(
            PromotionRedemption(
                promotion_id=promotion_id,
                checkout_id=checkout_id,
                order_id=order_id,
                buyer_id=buyer_id,
                amount=amount,
            )
            for order_id, amount in per_order.items()
            if amount > 0
        )
    await repository.add_redemptions(rows)


async def _sellers_of_lines(
    session: AsyncSession, discounts: Sequence[AppliedDiscount]
) -> dict[uuid.UUID, uuid.UUID]:
    """Each discounted listing's shop: as `discounts_for` noted it, else read (discounts
    made by hand)."""
    sellers: dict[uuid.UUID, uuid.UUID] = {}
    for discount in discounts:
        sellers.update(discount.line_sellers)
    missing = [
        listing_id for d in discounts for listing_id in d.per_line if listing_id not in sellers
    ]
    if missing:
        found = await catalog_service.many(session, missing)
        sellers.update({listing_id: listing.seller_id for listing_id, listing in found.items()})
    return sellers


async def release(session: AsyncSession, *, order_id: uuid.UUID) -> None:
    """An order cancelled before shipping gives its redemptions back: its rows go, and a
    promotion that no order of the checkout carries any more counts one use fewer, in all
    and for the buyer. The promotions' rows are locked first, so two orders of one checkout
    cancelled at once give the use back exactly once."""
    repository = PromotionRepository(session)
    redeemed = await repository.redemptions_of_order(order_id)
    if not redeemed:
        return
    await repository.lock_many({r.promotion_id for r in redeemed})
    await repository.drop_redemptions_of_order(order_id)
    for row in sorted(redeemed, key=lambda r: r.promotion_id):
        if await repository.redemptions_left(row.promotion_id, row.checkout_id) == 0:
            await repository.give_back(row.promotion_id, row.buyer_id)
