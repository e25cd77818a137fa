"""Row locks for the ledger, always taken in one order: valuations by (item, location), then
balances by (item, location, lot). Every write to a balance happens under its item × location
valuation lock, so two postings touching the same stock run one after the other."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from backroom.inventory.models import ItemValuation, StockBalance

Pair = tuple[int, int]


@dataclass(slots=True)
class LockedRow:
    """A locked balance or valuation row, as plain values (no model instance per row)."""

    pk: int
    item_id: int
    location_id: int
    lot_id: int | None
    quantity: Decimal
    value: Decimal
    average_cost: Decimal | None = None


def lock_valuations(pairs: Iterable[Pair]) -> dict[Pair, LockedRow]:
    """Create missing valuation rows, then lock every row of `pairs` in (item, location) order."""
    wanted = set(pairs)
    if not wanted:
        return {}
    items = {item for item, _ in wanted}
    locations = {location for _, location in wanted}
    present = set(
        ItemValuation.objects.filter(item_id__in=items, location_id__in=locations).values_list(
            "item_id", "location_id"
        )
    )
    if wanted - present:
        ItemValuation.objects.bulk_create(
            [ItemValuation(item_id=i, location_id=loc) for i, loc in sorted(wanted - present)],
            ignore_conflicts=True,
        )
    rows = (
        ItemValuation.objects.select_for_update()
        .filter(item_id__in=items, location_id__in=locations)
        .order_by("item_id", "location_id")
        .values_list("id", "item_id", "location_id", "quantity", "value", "average_cost")
    )
    return {
        (item, location): LockedRow(pk, item, location, None, quantity, value, average)
        for pk, item, location, quantity, value, average in rows
        if (item, location) in wanted
    }


def lock_balances(pairs: Iterable[Pair]) -> dict[Pair, list[LockedRow]]:
    """Lock the non-empty balances of `pairs` in (item, location, lot) order.

    Empty rows (a lot used up: quantity and value 0) are left out: a long-lived item collects
    one per lot, and they hold nothing to allocate. A posting that puts stock back into such a
    lot finds the row when it writes (`LedgerSession.flush`), still under the valuation lock.
    """
    wanted = set(pairs)
    result: dict[Pair, list[LockedRow]] = {pair: [] for pair in wanted}
    if not wanted:
        return result
    items = {item for item, _ in wanted}
    locations = {location for _, location in wanted}
    rows = (
        StockBalance.objects.select_for_update()
        .filter(item_id__in=items, location_id__in=locations)
        .exclude(quantity=0, value=0)
        .order_by("item_id", "location_id", "lot_id")
        .values_list("id", "item_id", "location_id", "lot_id", "quantity", "value")
    )
    for pk, item, location, lot, quantity, value in rows:
        if (item, location) in result:
            result[(item, location)].append(LockedRow(pk, item, location, lot, quantity, value))
    return result
