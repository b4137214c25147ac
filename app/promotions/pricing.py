"""The pure arithmetic of discounts: which lines a promotion reaches, how much it takes off,
and how that amount is split over the lines, cent-exact. No database, no clock: the service
loads the promotions and hands them here as `Terms`.

Rules (the API documents them):
- A promotion reaches a line when the line passes every restriction it has: its shop
  (`seller_ids`; a shop-funded promotion reaches only its own shop's lines), its category
  (`category_ids`, a category including its descendants) and the listing itself
  (`listing_ids`). Within one restriction any entry matches; an empty one matches all.
- Minimums (`min_order_amount`, a threshold's tiers) are measured on what the reached lines
  cost before any discount, so whether a coupon applies never depends on the other
  discounts of the checkout.
- The amount is taken from what is left of the reached lines after the discounts applied
  before it: a percentage of what is left (rounded half up), capped by `max_discount`; a
  fixed amount or a tier's discount, at most what is left. A line therefore never gets more
  off than it costs.
- The amount is split over the reached lines in proportion to what is left of each; the
  cents that do not divide go one each to the lines with the largest remainders, the
  earliest line first among equals.
"""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from app.promotions.models import FundedBy, PromotionKind


@dataclass(frozen=True, slots=True)
class PricedLine:
    listing_id: uuid.UUID
    seller_id: uuid.UUID
    category_id: uuid.UUID
    amount: int
    """Minor units: unit price times quantity (goods only, shipping excluded)."""


@dataclass(frozen=True, slots=True)
class AppliedDiscount:
    promotion_id: uuid.UUID
    name: str
    code: str | None
    funded_by: FundedBy
    seller_id: uuid.UUID | None
    """The funding shop (shop-funded only)."""
    amount: int
    """Total, minor units, > 0."""
    per_line: dict[uuid.UUID, int]
    """listing_id -> share (positive shares only); sums to `amount`; each share at most
    what was left of that line."""
    line_sellers: Mapping[uuid.UUID, uuid.UUID] = field(default_factory=dict, compare=False)
    """listing_id -> its shop, for each line of `per_line` (so that `redeem` knows which
    order carries which share without reading the listings again)."""


@dataclass(frozen=True, slots=True)
class Tier:
    min_subtotal: int
    discount: int


@dataclass(frozen=True, slots=True)
class Terms:
    """A promotion as the arithmetic reads it."""

    id: uuid.UUID
    name: str
    code: str | None
    funded_by: FundedBy
    seller_id: uuid.UUID | None
    kind: PromotionKind
    percent: int | None = None
    max_discount: int | None = None
    fixed_amount: int | None = None
    tiers: tuple[Tier, ...] = ()
    min_order_amount: int = 0
    seller_ids: frozenset[uuid.UUID] = frozenset()
    category_ids: frozenset[uuid.UUID] = frozenset()
    listing_ids: frozenset[uuid.UUID] = frozenset()


Ancestry = Mapping[uuid.UUID, frozenset[uuid.UUID]]
"""A category -> itself and all its ancestors (what a category restriction is checked
against)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one promotion does to the lines: the discount, or why it does not apply."""

    discount: AppliedDiscount | None
    reason: str | None = None


def reaches(terms: Terms, line: PricedLine, ancestry: Ancestry) -> bool:
    if terms.funded_by is FundedBy.shop and line.seller_id != terms.seller_id:
        return False
    if terms.seller_ids and line.seller_id not in terms.seller_ids:
        return False
    if terms.listing_ids and line.listing_id not in terms.listing_ids:
        return False
    if terms.category_ids:
        lineage = ancestry.get(line.category_id, frozenset({line.category_id}))
        if not lineage & terms.category_ids:
            return False
    return True


def _raw_amount(terms: Terms, *, subtotal: int, left: int) -> int:
    """The discount before it is held to what is left; `subtotal`: the reached lines'
    undiscounted cost."""
    if terms.kind is PromotionKind.percent:
        assert terms.percent is not None
        amount = (left * terms.percent + 50) // 100
        return amount if terms.max_discount is None else min(amount, terms.max_discount)
    if terms.kind is PromotionKind.fixed:
        assert terms.fixed_amount is not None
        return terms.fixed_amount
    reached = [tier for tier in terms.tiers if subtotal >= tier.min_subtotal]
    return reached[-1].discount if reached else 0


def split(amount: int, weights: Sequence[tuple[uuid.UUID, int]]) -> dict[uuid.UUID, int]:
    """`amount` over the keys in proportion to their weights (largest remainder; among equal
    remainders the earliest key first). Keys with a zero share are left out. Needs
    0 <= amount <= sum of weights, so no share exceeds its weight."""
    total = sum(weight for _, weight in weights)
    assert 0 <= amount <= total
    if amount == 0:
        return {}
    shares = [(key, amount * weight // total, amount * weight % total) for key, weight in weights]
    leftover = amount - sum(share for _, share, _ in shares)
    by_remainder = sorted(range(len(shares)), key=lambda i: (-shares[i][2], i))
    bonus = set(by_remainder[:leftover])
    result = {key: share + (1 if i in bonus else 0) for i, (key, share, _) in enumerate(shares)}
    return {key: share for key, share in result.items() if share > 0}


def evaluate(
    terms: Terms, lines: Sequence[PricedLine], left: Mapping[uuid.UUID, int], ancestry: Ancestry
) -> Outcome:
    """What `terms` takes off `lines`, given what is `left` of each line (by listing id)."""
    reached = [line for line in lines if reaches(terms, line, ancestry)]
    if not reached:
        return Outcome(None, "none of the items is one the promotion applies to")
    subtotal = sum(line.amount for line in reached)
    if subtotal < terms.min_order_amount:
        return Outcome(
            None,
            f"the items it applies to come to {subtotal}, below its minimum order of "
            f"{terms.min_order_amount} (minor units)",
        )
    if terms.kind is PromotionKind.threshold and subtotal < terms.tiers[0].min_subtotal:
        return Outcome(
            None,
            f"the items it applies to come to {subtotal}, below its first tier of "
            f"{terms.tiers[0].min_subtotal} (minor units)",
        )
    remaining = sum(left[line.listing_id] for line in reached)
    amount = min(_raw_amount(terms, subtotal=subtotal, left=remaining), remaining)
    if amount <= 0:
        return Outcome(None, "nothing is left to take off the items it applies to")
    per_line = split(amount, [(line.listing_id, left[line.listing_id]) for line in reached])
    return Outcome(
        AppliedDiscount(
            promotion_id=terms.id,
            name=terms.name,
            code=terms.code,
            funded_by=terms.funded_by,
            seller_id=terms.seller_id,
            amount=amount,
            per_line=per_line,
            line_sellers={line.listing_id: line.seller_id for line in reached},
        )
    )


@dataclass(frozen=True, slots=True)
class Refusal:
    """A code the checkout named that does not apply, and why."""

    code: str
    reason: str


def apply_all(
    lines: Sequence[PricedLine],
    *,
    automatic: Sequence[Terms],
    coded: Sequence[Terms],
    ancestry: Ancestry,
) -> tuple[list[AppliedDiscount], list[Refusal]]:
    """The discounts of a checkout, in the order they apply, and the codes that do not apply.

    Stacking: of the automatic promotions at most one per shop among shop-funded ones and
    one platform-funded, each the best for the buyer (the largest amount; on a tie the
    oldest); every code given applies on top. Shop-funded promotions apply first (automatic,
    then codes), then platform-funded ones, each on what the ones before it left."""
    if len({line.listing_id for line in lines}) != len(lines):
        raise ValueError("a listing appears on more than one line")
    left = {line.listing_id: line.amount for line in lines}
    applied: list[AppliedDiscount] = []
    refused: list[Refusal] = []

    def take(discount: AppliedDiscount) -> None:
        for listing_id, share in discount.per_line.items():
            left[listing_id] -= share
        applied.append(discount)

    shop_auto: dict[uuid.UUID | None, list[Terms]] = {}
    for terms in automatic:
        if terms.funded_by is FundedBy.shop:
            shop_auto.setdefault(terms.seller_id, []).append(terms)
    platform_auto = [t for t in automatic if t.funded_by is FundedBy.platform]
    stages: list[tuple[FundedBy, list[list[Terms]]]] = [
        (FundedBy.shop, [shop_auto[seller] for seller in sorted(shop_auto, key=str)]),
        (FundedBy.platform, [platform_auto]),
    ]
    for funder, groups in stages:
        for group in groups:
            best = _best(group, lines, left, ancestry)
            if best is not None:
                take(best)
        for terms in (t for t in coded if t.funded_by is funder):
            outcome = evaluate(terms, lines, left, ancestry)
            if outcome.discount is None:
                refused.append(Refusal(terms.code or terms.name, outcome.reason or ""))
            else:
                take(outcome.discount)
    return applied, refused


def _best(
    group: Sequence[Terms],
    lines: Sequence[PricedLine],
    left: Mapping[uuid.UUID, int],
    ancestry: Ancestry,
) -> AppliedDiscount | None:
    """The automatic promotion of `group` that takes the most off (on a tie the oldest: ids
    are time-ordered)."""
    best: AppliedDiscount | None = None
    for terms in sorted(group, key=lambda t: str(t.id)):
        discount = evaluate(terms, lines, left, ancestry).discount
        if discount is not None and (best is None or discount.amount > best.amount):
            best = discount
    return best
