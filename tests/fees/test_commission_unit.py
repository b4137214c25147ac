"""The commission arithmetic and the refund split, exact to the cent."""

import uuid
from decimal import Decimal
from fractions import Fraction

import pytest

from app.fees.commission import CommissionTerms, hundredths, percent_of, round_half_up
from app.payments.service import OrderMoney


def _money(refunded: int) -> OrderMoney:
    return OrderMoney(uuid.uuid4(), uuid.uuid4(), "USD", goods=5748, fee=357, refunded=refunded)


ORDER = _money(0)


def test_lines_at_different_percents_are_weighed_then_rounded_once() -> None:
    terms = CommissionTerms.of_lines([(4498, Decimal("7.5")), (1250, Decimal(12))], fixed=30)

    # 337.35 + 150 = 487.35 -> 487, plus 30.
    assert (terms.base, terms.weight) == (5748, 4498 * 750 + 1250 * 1200)
    assert terms.due(5748, 5748) == 517


def test_a_refunded_share_scales_the_percent_part_but_not_the_fixed_fee() -> None:
    terms = CommissionTerms.of_lines([(1000, Decimal(10))], fixed=50)

    assert terms.due(1000, 1000) == 150
    assert terms.due(500, 1000) == 100  # 50 + 50
    assert terms.due(0, 1000) == 0
    assert terms.due(40, 1000) == 40  # never more than what is left


@pytest.mark.parametrize(
    ("value", "expected"),
    [(Fraction(1, 2), 1), (Fraction(3, 2), 2), (Fraction(149, 100), 1), (Fraction(0), 0)],
)
def test_rounding_is_half_up(value: Fraction, expected: int) -> None:
    assert round_half_up(value) == expected


def test_percents_have_at_most_two_decimals() -> None:
    assert hundredths(Decimal("12.5")) == 1250
    with pytest.raises(ValueError, match="two decimals"):
        hundredths(Decimal("1.005"))


def test_the_protection_fee_shape() -> None:
    assert percent_of(5748, Decimal(5), 70) == 357  # 287.4 + 70
    assert percent_of(1010, Decimal(5), 0) == 51  # 50.5 rounds up


def test_refunds_draw_on_the_goods_first_and_the_fee_last() -> None:
    assert ORDER.split(1000) == (1000, 0)
    assert ORDER.split(6105) == (5748, 357)
    partly = _money(5748)
    assert (partly.goods_left, partly.fee_left) == (0, 357)
    assert partly.split(357) == (0, 357)
