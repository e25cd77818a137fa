"""`backroom check-ledgers`: rebuild stock balances and valuations from the moves and compare."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Sum

from backroom.config.ledger_checks import ledger_check
from backroom.inventory.models import ItemValuation, StockBalance, StockMove

ZERO = Decimal(0)
Q6, Q4 = Decimal("0.000001"), Decimal("0.0001")
LIMIT = 200  # differences reported per check; the count says how many more


def _sums(row: Any) -> tuple[Decimal, Decimal]:
    return (row["quantity"] or ZERO).quantize(Q6), (row["value"] or ZERO).quantize(Q4)


def balance_differences() -> list[str]:
    """Every item × location × lot whose balance is not the sum of its moves."""
    expected: dict[tuple[int, int, int | None], tuple[Decimal, Decimal]] = {}
    for row in (
        StockMove.objects.order_by()
        .values("item_id", "location_id", "lot_id")
        .annotate(quantity=Sum("quantity"), value=Sum("value"))
    ):
        expected[(row["item_id"], row["location_id"], row["lot_id"])] = _sums(row)
    differences = []
    seen = set()
    for balance in StockBalance.objects.order_by("item_id", "location_id", "lot_id").iterator(
        chunk_size=5000
    ):
        triple = (balance.item_id, balance.location_id, balance.lot_id)
        seen.add(triple)
        quantity, value = expected.get(triple, (ZERO, ZERO))
        if balance.quantity != quantity or balance.value != value:
            differences.append(
                f"balance item {triple[0]} location {triple[1]} lot {triple[2]}: "
                f"table says {balance.quantity} / {balance.value}, moves say {quantity} / {value}"
            )
    for triple, (quantity, value) in sorted(
        expected.items(), key=lambda entry: tuple(-1 if v is None else v for v in entry[0])
    ):
        if triple not in seen and (quantity or value):
            differences.append(
                f"balance item {triple[0]} location {triple[1]} lot {triple[2]} is missing: "
                f"moves say {quantity} / {value}"
            )
    return differences


def valuation_differences() -> list[str]:
    """Every item × location whose valuation is not the sum of its moves."""
    expected = {
        (row["item_id"], row["location_id"]): _sums(row)
        for row in StockMove.objects.order_by()
        .values("item_id", "location_id")
        .annotate(quantity=Sum("quantity"), value=Sum("value"))
    }
    differences = []
    seen = set()
    for row in ItemValuation.objects.order_by("item_id", "location_id").iterator(chunk_size=5000):
        pair = (row.item_id, row.location_id)
        seen.add(pair)
        quantity, value = expected.get(pair, (ZERO, ZERO))
        if row.quantity != quantity or row.value != value:
            differences.append(
                f"valuation item {pair[0]} location {pair[1]}: table says "
                f"{row.quantity} / {row.value}, moves say {quantity} / {value}"
            )
    for pair, (quantity, value) in sorted(expected.items()):
        if pair not in seen and (quantity or value):
            differences.append(
                f"valuation item {pair[0]} location {pair[1]} is missing: "
                f"moves say {quantity} / {value}"
            )
    return differences


def _limited(differences: list[str]) -> list[str]:
    if len(differences) <= LIMIT:
        return differences
    return [*differences[:LIMIT], f"… and {len(differences) - LIMIT} more"]


@ledger_check("inventory.balances")
def check_balances() -> list[str]:
    """On hand and value per item × location × lot = Σ stock moves."""
    return _limited(balance_differences())


@ledger_check("inventory.valuations")
def check_valuations() -> list[str]:
    """Quantity and value per item × location = Σ stock moves."""
    return _limited(valuation_differences())
