"""Moving-average cost per item × location: the arithmetic, free of the database.

The rules (docs/inventory.md has the golden numbers the tests check exactly):
- Values are rounded half-even to 4 places (the money column); average cost to 10 places.
- An inbound move (receipt, transfer in, production, adjustment up) with unit cost c and
  quantity q into on-hand Q with value V:
    * Q > 0: V += q·c and the average becomes V / (Q + q).
    * Q ≤ 0: the stock that went below zero (and any value left at zero) is re-priced at c:
      a price-variance move of Q·c − V is booked first, then the receipt at q·c; the new value
      is (Q + q)·c and the average is c.
- An outbound move (consumption, waste, transfer out, adjustment down) of quantity q leaves at
  the current average a: value −q·a. When it takes on-hand to exactly zero, it takes the whole
  remaining value (−V) so no rounding residue stays behind. An item never received has a = 0.
- A reversal takes back exactly the quantity and value of the move it reverses.
- A revaluation (quantity 0) changes the value only; the average is recomputed when Q > 0.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from backroom.kernel.money import MONEY_PLACES

ZERO = Decimal(0)
COST_STEP = Decimal(1).scaleb(-10)
MONEY_STEP = Decimal(1).scaleb(-MONEY_PLACES)


def money(amount: Decimal) -> Decimal:
    """Storage precision, half-even (as `quantize_money(amount, storage=True)`)."""
    return amount.quantize(MONEY_STEP, rounding=ROUND_HALF_EVEN)


def cost(amount: Decimal) -> Decimal:
    return amount.quantize(COST_STEP, rounding=ROUND_HALF_EVEN)


@dataclass
class Valuation:
    """Quantity, value and average cost of one item at one location."""

    quantity: Decimal = ZERO
    value: Decimal = ZERO
    average_cost: Decimal | None = None

    def _reaverage(self) -> None:
        if self.quantity > 0:
            self.average_cost = max(cost(self.value / self.quantity), ZERO)

    def receive(
        self, quantity: Decimal, unit_cost: Decimal, total: Decimal | None = None
    ) -> tuple[Decimal, Decimal]:
        """Book an inbound quantity at `unit_cost` (or for exactly `total`).

        Returns (move value, price variance value).
        """
        variance = ZERO
        if self.quantity <= 0:
            variance = money(self.quantity * unit_cost - self.value)
            self.value += variance
        move_value = money(quantity * unit_cost) if total is None else money(total)
        self.quantity += quantity
        self.value += move_value
        if self.quantity > 0:
            self._reaverage()
        else:
            self.average_cost = cost(unit_cost)
        return move_value, variance

    def issue(self, quantity: Decimal) -> tuple[Decimal, Decimal]:
        """Book an outbound quantity (> 0) at the average; returns (signed value, unit cost)."""
        unit_cost = self.average_cost if self.average_cost is not None else ZERO
        if self.quantity > 0 and quantity == self.quantity:
            move_value = -self.value
        elif self.quantity > 0 and quantity > self.quantity:
            move_value = -self.value - money((quantity - self.quantity) * unit_cost)
        else:
            move_value = -money(quantity * unit_cost)
        self.quantity -= quantity
        self.value += move_value
        return move_value, unit_cost

    def apply_exact(self, quantity: Decimal, value: Decimal) -> None:
        """Book a move with a given quantity and value (a reversal)."""
        self.quantity += quantity
        self.value += value
        self._reaverage()

    def revalue(self, value: Decimal) -> None:
        """Book a value-only move."""
        self.value += value
        self._reaverage()


# --- the same rules in scaled integers (the ledger's hot path) ---------------------------------
#
# Quantities are held in millionths (the quantity column's 6 places), values in ten-thousandths
# (the money column's 4 places) and costs in units of 10⁻¹⁰ (the cost column's 10 places), so
# sums are exact integer additions and each rounding is one integer division. Every result is
# the one `Valuation` gives, including the rounding of Decimal's default context (28
# significant digits, half-even): a product is exact in Decimal when its integer form stays
# below 10²⁸, and the average cost is rounded twice, to 28 digits and then to 10 places, as
# `cost(value / quantity)` does. Outside that range the step is done with `Decimal` itself.

QUANTITY_SCALE = 10**6
MONEY_SCALE = 10**4
COST_SCALE = 10**10
_PRODUCT_TO_MONEY = QUANTITY_SCALE * COST_SCALE // MONEY_SCALE  # 10¹², a quantity × cost → money
_EXACT_LIMIT = 10**28  # Decimal's default precision: smaller integers are exact coefficients
_SIGNIFICANT = 28
_POWERS_OF_TEN = [10**exponent for exponent in range(_SIGNIFICANT + 1)]


def round_half_even(numerator: int, denominator: int) -> int:
    """`numerator / denominator` rounded half-even to an integer (`denominator` > 0)."""
    quotient, remainder = divmod(numerator, denominator)
    twice = remainder + remainder
    if twice > denominator or (twice == denominator and quotient & 1):
        return quotient + 1
    return quotient


def to_decimal_scaled(number: int, scale: int) -> Decimal:
    """A scaled integer as a Decimal with the column's places (`scale` is 10**places)."""
    return Decimal(number).scaleb(-_PLACES[scale])


def from_decimal_scaled(amount: Decimal, scale: int) -> int:
    """A Decimal as a scaled integer; it must have at most the scale's places (ValueError)."""
    scaled = amount.scaleb(_PLACES[scale])
    number = int(scaled)
    if number != scaled:
        raise ValueError(f"{amount} has more than {_PLACES[scale]} decimal places.")
    return number


_PLACES = {QUANTITY_SCALE: 6, MONEY_SCALE: MONEY_PLACES, COST_SCALE: 10}


def scaled_money(quantity: int, unit_cost: int) -> int:
    """`money(quantity × unit_cost)` for a scaled quantity and cost, as a scaled value."""
    product = quantity * unit_cost
    if -_EXACT_LIMIT < product < _EXACT_LIMIT:
        # round_half_even(product, _PRODUCT_TO_MONEY), inline (once or twice per line)
        quotient, remainder = divmod(product, _PRODUCT_TO_MONEY)
        twice = remainder + remainder
        if twice > _PRODUCT_TO_MONEY or (twice == _PRODUCT_TO_MONEY and quotient & 1):
            return quotient + 1
        return quotient
    return from_decimal_scaled(
        money(
            to_decimal_scaled(quantity, QUANTITY_SCALE) * to_decimal_scaled(unit_cost, COST_SCALE)
        ),
        MONEY_SCALE,
    )


def scaled_average(value: int, quantity: int) -> int:
    """`max(cost(value / quantity), 0)` for a scaled value and a scaled quantity > 0."""
    if value <= 0:
        return 0
    numerator = value * (COST_SCALE * QUANTITY_SCALE // MONEY_SCALE)  # in 10⁻¹⁰ per unit
    whole = numerator // quantity
    # The number of digits of `whole` (0 for 0), without formatting it.
    digits = bisect_right(_POWERS_OF_TEN, whole)
    extra = _SIGNIFICANT - digits
    if whole and extra > 0:
        # Decimal rounds the quotient to 28 significant digits, then `cost` to 10 places:
        # round_half_even(round_half_even(numerator * step, quantity), step), inline.
        step = _POWERS_OF_TEN[extra]
        rounded, remainder = divmod(numerator * step, quantity)
        twice = remainder + remainder
        if twice > quantity or (twice == quantity and rounded & 1):
            rounded += 1
        average, remainder = divmod(rounded, step)
        twice = remainder + remainder
        if twice > step or (twice == step and average & 1):
            average += 1
        return average
    average = cost(
        to_decimal_scaled(value, MONEY_SCALE) / to_decimal_scaled(quantity, QUANTITY_SCALE)
    )
    return max(from_decimal_scaled(average, COST_SCALE), 0)


class ScaledValuation:
    """`Valuation` in scaled integers (quantity, value, average cost; average None when never
    costed). The attributes `quantity`, `value` and `average_cost` give Decimals."""

    __slots__ = ("average", "q", "v")

    def __init__(self, quantity: int = 0, value: int = 0, average: int | None = None) -> None:
        self.q = quantity
        self.v = value
        self.average = average

    @classmethod
    def of(cls, quantity: Decimal, value: Decimal, average_cost: Decimal | None) -> ScaledValuation:
        return cls(
            from_decimal_scaled(quantity, QUANTITY_SCALE),
            from_decimal_scaled(value, MONEY_SCALE),
            None if average_cost is None else from_decimal_scaled(average_cost, COST_SCALE),
        )

    @property
    def quantity(self) -> Decimal:
        return to_decimal_scaled(self.q, QUANTITY_SCALE)

    @property
    def value(self) -> Decimal:
        return to_decimal_scaled(self.v, MONEY_SCALE)

    @property
    def average_cost(self) -> Decimal | None:
        return None if self.average is None else to_decimal_scaled(self.average, COST_SCALE)

    def receive(self, quantity: int, unit_cost: int, total: int | None = None) -> tuple[int, int]:
        """`Valuation.receive` with a scaled quantity, cost (10 places) and total (4 places)."""
        variance = 0
        if self.q <= 0:
            product = self.q * unit_cost
            difference = product - self.v * _PRODUCT_TO_MONEY
            if -_EXACT_LIMIT < product < _EXACT_LIMIT and -_EXACT_LIMIT < difference < _EXACT_LIMIT:
                variance = round_half_even(difference, _PRODUCT_TO_MONEY)
            else:
                variance = from_decimal_scaled(
                    money(self.quantity * to_decimal_scaled(unit_cost, COST_SCALE) - self.value),
                    MONEY_SCALE,
                )
            self.v += variance
        move_value = scaled_money(quantity, unit_cost) if total is None else total
        self.q += quantity
        self.v += move_value
        if self.q > 0:
            self.average = scaled_average(self.v, self.q)
        else:
            self.average = unit_cost
        return move_value, variance

    def issue(self, quantity: int) -> tuple[int, int]:
        """`Valuation.issue` with a scaled quantity (> 0); returns (signed value, unit cost)."""
        unit_cost = self.average if self.average is not None else 0
        on_hand = self.q
        if on_hand > 0 and quantity == on_hand:
            move_value = -self.v
        elif on_hand > 0 and quantity > on_hand:
            move_value = -self.v - scaled_money(quantity - on_hand, unit_cost)
        else:
            move_value = -scaled_money(quantity, unit_cost)
        self.q = on_hand - quantity
        self.v += move_value
        return move_value, unit_cost

    def apply_exact(self, quantity: int, value: int) -> None:
        self.q += quantity
        self.v += value
        if self.q > 0:
            self.average = scaled_average(self.v, self.q)

    def revalue(self, value: int) -> None:
        self.v += value
        if self.q > 0:
            self.average = scaled_average(self.v, self.q)
