"""The arithmetic of discounts, without a database: what a promotion reaches, how much it
takes off, how several stack, and how an amount is split over lines to the cent."""

import uuid

import pytest

from app.promotions.models import FundedBy, PromotionKind
from app.promotions.pricing import (
    PricedLine,
    Terms,
    Tier,
    apply_all,
    evaluate,
    split,
)

SHOP_A = uuid.UUID("00000000-0000-7000-8000-00000000000a")
SHOP_B = uuid.UUID("00000000-0000-7000-8000-00000000000b")
ROOT = uuid.UUID("00000000-0000-7000-8000-000000000100")
LEAF = uuid.UUID("00000000-0000-7000-8000-000000000101")
OTHER_LEAF = uuid.UUID("00000000-0000-7000-8000-000000000200")
ANCESTRY = {
    LEAF: frozenset({LEAF, ROOT}),
    ROOT: frozenset({ROOT}),
    OTHER_LEAF: frozenset({OTHER_LEAF}),
}


def _id(n: int) -> uuid.UUID:
    return uuid.UUID(f"00000000-0000-7000-8000-{n:012d}")


def priced(
    n: int, amount: int, *, seller: uuid.UUID = SHOP_A, category: uuid.UUID = LEAF
) -> PricedLine:
    return PricedLine(listing_id=_id(n), seller_id=seller, category_id=category, amount=amount)


def terms(n: int = 900, **fields: object) -> Terms:
    values: dict[str, object] = {
        "id": _id(n),
        "name": f"promotion {n}",
        "code": None,
        "funded_by": FundedBy.platform,
        "seller_id": None,
        "kind": PromotionKind.percent,
        "percent": 10,
    }
    values.update(fields)
    return Terms(**values)  # type: ignore[arg-type]


def fixed(n: int = 900, amount: int = 500, **fields: object) -> Terms:
    return terms(n, kind=PromotionKind.fixed, percent=None, fixed_amount=amount, **fields)


def threshold(n: int = 900, **fields: object) -> Terms:
    tiers = (Tier(5000, 500), Tier(10000, 1500), Tier(20000, 4000))
    return terms(n, kind=PromotionKind.threshold, percent=None, tiers=tiers, **fields)


def amount_of(t: Terms, lines: list[PricedLine]) -> int | None:
    outcome = evaluate(t, lines, {line.listing_id: line.amount for line in lines}, ANCESTRY)
    return None if outcome.discount is None else outcome.discount.amount


# --- each kind --------------------------------------------------------------------------------


def test_percent_rounds_half_up() -> None:
    assert amount_of(terms(percent=10), [priced(1, 1995)]) == 200  # 199.5 -> 200
    assert amount_of(terms(percent=10), [priced(1, 1994)]) == 199  # 199.4 -> 199
    assert amount_of(terms(percent=100), [priced(1, 1234)]) == 1234


def test_percent_is_capped_by_max_discount() -> None:
    capped = terms(percent=50, max_discount=1500)
    assert amount_of(capped, [priced(1, 2000)]) == 1000
    assert amount_of(capped, [priced(1, 3000)]) == 1500
    assert amount_of(capped, [priced(1, 3001)]) == 1500


def test_fixed_never_takes_more_than_the_eligible_subtotal() -> None:
    assert amount_of(fixed(amount=500), [priced(1, 2000)]) == 500
    assert amount_of(fixed(amount=500), [priced(1, 300)]) == 300
    # Only the reached lines count: the other shop's line is not taken from.
    limited = fixed(amount=500, seller_ids=frozenset({SHOP_A}))
    assert amount_of(limited, [priced(1, 300), priced(2, 5000, seller=SHOP_B)]) == 300


@pytest.mark.parametrize(
    ("subtotal", "expected"),
    [
        (4999, None),
        (5000, 500),
        (9999, 500),
        (10000, 1500),
        (19999, 1500),
        (20000, 4000),
        (99999, 4000),
    ],
)
def test_threshold_takes_the_highest_tier_reached(subtotal: int, expected: int | None) -> None:
    assert amount_of(threshold(), [priced(1, subtotal)]) == expected


def test_min_order_is_measured_on_the_reached_lines() -> None:
    t = terms(percent=10, min_order_amount=3000, category_ids=frozenset({ROOT}))
    assert amount_of(t, [priced(1, 2999), priced(2, 9000, category=OTHER_LEAF)]) is None
    assert amount_of(t, [priced(1, 3000), priced(2, 9000, category=OTHER_LEAF)]) == 300


def test_the_reason_a_promotion_does_not_apply_is_said() -> None:
    t = terms(min_order_amount=3000)
    outcome = evaluate(t, [priced(1, 2000)], {_id(1): 2000}, ANCESTRY)
    assert outcome.discount is None
    assert outcome.reason == (
        "the items it applies to come to 2000, below its minimum order of 3000 (minor units)"
    )
    nothing = evaluate(
        terms(listing_ids=frozenset({_id(7)})), [priced(1, 2000)], {_id(1): 2000}, ANCESTRY
    )
    assert nothing.reason == "none of the items is one the promotion applies to"


# --- restrictions -----------------------------------------------------------------------------


def test_a_category_restriction_reaches_its_descendants_only() -> None:
    t = terms(percent=10, category_ids=frozenset({ROOT}))
    outcome = evaluate(
        t,
        [priced(1, 1000, category=LEAF), priced(2, 1000, category=OTHER_LEAF)],
        {_id(1): 1000, _id(2): 1000},
        ANCESTRY,
    )
    assert outcome.discount is not None
    assert outcome.discount.per_line == {_id(1): 100}
    # The leaf itself does not reach its parent's other children.
    assert (
        amount_of(terms(category_ids=frozenset({LEAF})), [priced(1, 1000, category=ROOT)]) is None
    )


def test_shop_and_listing_restrictions() -> None:
    lines = [priced(1, 1000), priced(2, 2000, seller=SHOP_B), priced(3, 4000)]
    by_shop = terms(percent=10, seller_ids=frozenset({SHOP_B}))
    assert amount_of(by_shop, lines) == 200
    by_listing = terms(percent=10, listing_ids=frozenset({_id(1), _id(3)}))
    assert amount_of(by_listing, lines) == 500
    # Every restriction must hold: shop A's listing 2 does not exist, so nothing is reached.
    both = terms(percent=10, seller_ids=frozenset({SHOP_A}), listing_ids=frozenset({_id(2)}))
    assert amount_of(both, lines) is None


def test_a_shop_funded_promotion_reaches_only_its_shop() -> None:
    lines = [priced(1, 1000), priced(2, 2000, seller=SHOP_B)]
    own = terms(funded_by=FundedBy.shop, seller_id=SHOP_B, percent=50)
    outcome = evaluate(own, lines, {_id(1): 1000, _id(2): 2000}, ANCESTRY)
    assert outcome.discount is not None
    assert outcome.discount.per_line == {_id(2): 1000}
    assert outcome.discount.line_sellers == {_id(2): SHOP_B}


# --- splitting --------------------------------------------------------------------------------


def test_split_is_proportional_and_cent_exact() -> None:
    assert split(300, [(_id(1), 1000), (_id(2), 2000)]) == {_id(1): 100, _id(2): 200}
    # 100 over three equal lines: the odd cent to the earliest.
    assert split(100, [(_id(1), 100), (_id(2), 100), (_id(3), 100)]) == {
        _id(1): 34,
        _id(2): 33,
        _id(3): 33,
    }
    # Largest remainder first: 10 over (10, 20, 40) = 1.43, 2.86, 5.71 -> 1, 3, 6.
    assert split(10, [(_id(1), 10), (_id(2), 20), (_id(3), 40)]) == {
        _id(1): 1,
        _id(2): 3,
        _id(3): 6,
    }


def test_split_never_gives_a_line_more_than_its_weight_and_leaves_out_zero_shares() -> None:
    weights = [(_id(1), 1), (_id(2), 999), (_id(3), 1)]
    assert split(1001, weights) == {_id(1): 1, _id(2): 999, _id(3): 1}
    assert split(1, weights) == {_id(2): 1}
    assert split(0, weights) == {}
    for amount in range(1002):
        shares = split(amount, weights)
        assert sum(shares.values()) == amount
        assert all(shares[key] <= weight for key, weight in weights if key in shares)


# --- stacking ---------------------------------------------------------------------------------


def test_best_automatic_per_shop_and_best_platform_one() -> None:
    lines = [priced(1, 10000), priced(2, 10000, seller=SHOP_B)]
    a_small = terms(901, funded_by=FundedBy.shop, seller_id=SHOP_A, percent=5)
    a_big = terms(902, funded_by=FundedBy.shop, seller_id=SHOP_A, percent=20)
    b_only = fixed(903, amount=700, funded_by=FundedBy.shop, seller_id=SHOP_B)
    p_small = fixed(904, amount=100)
    p_big = fixed(905, amount=1000)
    applied, refused = apply_all(
        lines, automatic=[a_small, a_big, b_only, p_small, p_big], coded=[], ancestry=ANCESTRY
    )
    assert refused == []
    assert [(d.promotion_id, d.amount) for d in applied] == [
        (_id(902), 2000),
        (_id(903), 700),
        (_id(905), 1000),
    ]
    # The platform's applies on what the shops' left: 8000 and 9300.
    assert applied[2].per_line == {_id(1): 462, _id(2): 538}
    assert sum(d.per_line[_id(1)] for d in applied if _id(1) in d.per_line) == 2462


def test_on_a_tie_the_oldest_automatic_promotion_wins() -> None:
    applied, _ = apply_all(
        [priced(1, 1000)],
        automatic=[fixed(907, amount=100), fixed(906, amount=100)],
        coded=[],
        ancestry=ANCESTRY,
    )
    assert [d.promotion_id for d in applied] == [_id(906)]


def test_codes_stack_on_top_and_shop_discounts_come_first() -> None:
    lines = [priced(1, 10000)]
    platform_code = terms(910, code="PLAT", percent=50)
    shop_code = fixed(911, amount=2000, code="SHOP", funded_by=FundedBy.shop, seller_id=SHOP_A)
    auto_platform = fixed(912, amount=1000)
    applied, refused = apply_all(
        lines, automatic=[auto_platform], coded=[platform_code, shop_code], ancestry=ANCESTRY
    )
    assert refused == []
    # Shop code (2000) first, then the platform's automatic (1000), then 50 % of 7000.
    assert [(d.code, d.amount) for d in applied] == [("SHOP", 2000), (None, 1000), ("PLAT", 3500)]


def test_stacked_discounts_never_take_more_than_a_line_costs() -> None:
    lines = [priced(1, 999), priced(2, 1)]
    applied, refused = apply_all(
        lines,
        automatic=[fixed(920, amount=900)],
        coded=[terms(921, code="ALL", percent=100), fixed(922, amount=50, code="MORE")],
        ancestry=ANCESTRY,
    )
    taken: dict[uuid.UUID, int] = {}
    for discount in applied:
        assert sum(discount.per_line.values()) == discount.amount
        for listing_id, share in discount.per_line.items():
            taken[listing_id] = taken.get(listing_id, 0) + share
    assert taken == {_id(1): 999, _id(2): 1}
    # Nothing was left for the last code: it does not apply, and says so.
    assert [(r.code, r.reason) for r in refused] == [
        ("MORE", "nothing is left to take off the items it applies to")
    ]


def test_a_code_that_reaches_nothing_is_refused_with_its_reason() -> None:
    applied, refused = apply_all(
        [priced(1, 1000)],
        automatic=[],
        coded=[terms(930, code="BSHOP", funded_by=FundedBy.shop, seller_id=SHOP_B)],
        ancestry=ANCESTRY,
    )
    assert applied == []
    assert [(r.code, r.reason) for r in refused] == [
        ("BSHOP", "none of the items is one the promotion applies to")
    ]


def test_the_same_listing_on_two_lines_is_refused() -> None:
    with pytest.raises(ValueError, match="more than one line"):
        apply_all([priced(1, 10), priced(1, 20)], automatic=[], coded=[], ancestry=ANCESTRY)
