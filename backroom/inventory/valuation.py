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
