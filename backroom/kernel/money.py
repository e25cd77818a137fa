"""Decimal money and quantity helpers. Never float: floats are refused outright."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.db import models

from backroom.kernel.exceptions import ValidationFailed

MONEY_DIGITS, MONEY_PLACES = 18, 4
QUANTITY_DIGITS, QUANTITY_PLACES = 18, 6
FACTOR_DIGITS, FACTOR_PLACES = 24, 12

# ISO 4217 minor units for the currencies chains in the region use; default 2.
_MINOR_UNITS = {"JPY": 0, "KRW": 0, "VND": 0, "TWD": 2, "CNY": 2, "HKD": 2, "USD": 2, "EUR": 2}
CURRENCIES = ["CNY", "HKD", "USD", "EUR", "JPY", "SGD", "TWD", "MOP", "GBP", "KRW", "VND"]


def to_decimal(value: Any, *, field: str = "value") -> Decimal:
    """Parse an exact decimal from str/int/Decimal; floats are refused (they are not exact)."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ValidationFailed({field: ["Use an exact decimal, not a floating-point number."]})
    try:
        result = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationFailed({field: [f"“{value}” is not a number."]}) from None
    if not result.is_finite():
        raise ValidationFailed({field: ["The number must be finite."]})
    return result


def quantize_money(
    amount: Decimal, currency: str | None = None, *, storage: bool = False
) -> Decimal:
    """Round to the currency's minor unit (or to storage precision), half-even (banker's)."""
    places = MONEY_PLACES if storage or currency is None else _MINOR_UNITS.get(currency, 2)
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def allocate(amount: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """Split `amount` over `weights` pro rata at storage precision; the rounding remainder goes
    to the largest weight, so the parts add up exactly (all to it when the weights add up to
    nothing)."""
    zero = Decimal(0)
    if not weights:
        return []
    parts = [zero] * len(weights)
    if not amount:
        return parts
    total = sum(weights, zero)
    largest = max(range(len(weights)), key=lambda index: (weights[index], -index))
    if total <= 0:
        parts[largest] = amount
        return parts
    parts = [quantize_money(amount * weight / total, storage=True) for weight in weights]
    parts[largest] += amount - sum(parts, zero)
    return parts


def quantize_quantity(quantity: Decimal, places: int = QUANTITY_PLACES) -> Decimal:
    return quantity.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in one currency. Arithmetic across currencies is an error, never a guess."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", to_decimal(self.amount, field="amount"))
        if self.currency not in CURRENCIES and not (
            len(self.currency) == 3 and self.currency.isupper()
        ):
            raise ValidationFailed({"currency": [f"“{self.currency}” is not an ISO 4217 code."]})

    def _check(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError("Money can only be combined with Money")
        if other.currency != self.currency:
            raise ValidationFailed(
                {"currency": [f"Cannot combine {self.currency} with {other.currency}."]}
            )

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        return Money(self.amount * to_decimal(factor, field="factor"), self.currency)

    def rounded(self) -> Money:
        return Money(quantize_money(self.amount, self.currency), self.currency)

    def __str__(self) -> str:
        return f"{quantize_money(self.amount, self.currency):,} {self.currency}"


def MoneyField(**kwargs: Any) -> models.DecimalField:
    """A money amount column: Decimal(18, 4). Pair it with a currency column."""
    return models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, **kwargs)


def QuantityField(**kwargs: Any) -> models.DecimalField:
    """A quantity column: Decimal(18, 6), always in the item's base unit unless named otherwise."""
    return models.DecimalField(max_digits=QUANTITY_DIGITS, decimal_places=QUANTITY_PLACES, **kwargs)


def CurrencyField(**kwargs: Any) -> models.CharField:
    kwargs.setdefault("max_length", 3)
    return models.CharField(**kwargs)
