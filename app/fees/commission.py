"""The commission arithmetic, exact to the cent: pure functions, no database.

An order records, at checkout, its commission base (what its lines sold for: price and
shipping less the discounts its shop funds), its weight (the sum over its lines of base times
the line's percent, in hundredths of a percent, an integer) and the fixed fee. What the
platform takes when the order completes is weight / 10 000, scaled by the share of the
buyer's money for the goods not refunded, rounded half up once, plus the fixed fee, never
more than that share of the base. With one percent for every line and nothing refunded,
that is base * percent / 100 rounded half up, plus the fixed fee."""

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

HUNDREDTHS = 100
"""A percent is kept in hundredths (Numeric(5, 2)): 12.5 % is 1250."""


def hundredths(percent: Decimal) -> int:
    scaled = percent * HUNDREDTHS
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{percent}: at most two decimals")
    return int(scaled)


def round_half_up(value: Fraction) -> int:
    """To the nearest integer, halves away from zero (amounts here are never negative)."""
    return int(value + Fraction(1, 2)) if value >= 0 else -int(-value + Fraction(1, 2))


@dataclass(frozen=True, slots=True)
class CommissionTerms:
    """What an order's commission is reckoned from (see the module docstring)."""

    base: int
    """Minor units: what the lines sold for, less shop-funded discounts."""
    weight: int
    """Sum of each line's base times its percent in hundredths."""
    fixed: int
    """Minor units, once per order."""

    @classmethod
    def of_lines(cls, lines: list[tuple[int, Decimal]], fixed: int) -> "CommissionTerms":
        """From each line's base (minor units) and percent."""
        return cls(
            base=sum(base for base, _ in lines),
            weight=sum(base * hundredths(percent) for base, percent in lines),
            fixed=fixed,
        )

    def due(self, goods_left: int, goods: int) -> int:
        """The commission when `goods_left` of the `goods` the buyer paid for is not refunded
        (both minor units, the protection fee excluded)."""
        if goods <= 0:  # the buyer paid nothing (a platform discount paid it all)
            share = Fraction(1)
        elif goods_left <= 0:
            return 0
        else:
            share = Fraction(goods_left, goods)
        percent_part = round_half_up(Fraction(self.weight, HUNDREDTHS * HUNDREDTHS) * share)
        return min(round_half_up(self.base * share), percent_part + self.fixed)


def percent_of(amount: int, percent: Decimal, fixed: int = 0) -> int:
    """`percent` of `amount` rounded half up, plus `fixed` (the protection fee's shape)."""
    return round_half_up(Fraction(amount) * Fraction(percent) / 100) + fixed
