"""How a KPI value is shown, the same on the pages and in the exports: money to the cent,
percentages as percent to one place, counts and minutes whole, days to one place."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

PLACES = {
    "money": Decimal("0.01"),
    "percent": Decimal("0.1"),
    "count": Decimal("1"),
    "minutes": Decimal("1"),
    "days": Decimal("0.1"),
}


def kpi_number(value: Decimal | None, unit: str) -> Decimal | None:
    """The value as shown: a percentage ×100 (0.305 → 30.5), each unit rounded half up."""
    if value is None:
        return None
    if unit == "percent":
        value = value * 100
    return Decimal(value).quantize(PLACES.get(unit, Decimal("0.01")), rounding=ROUND_HALF_UP)


def kpi_text(value: Decimal | None, unit: str) -> str:
    """The value as plain text for an export cell ("" when there is none)."""
    number = kpi_number(value, unit)
    return "" if number is None else f"{number:f}"
