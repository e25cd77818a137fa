"""Row locks for the ledger, always taken in one order: valuations by (item, location), then
balances by (item, location, lot). Every write to a balance happens under its item × location
valuation lock, so two postings touching the same stock run one after the other.

On PostgreSQL each step is one statement over `unnest` arrays of the wanted pairs (no
model instances, no cross product of items × locations); SQLite serialises writers with its
`IMMEDIATE` transactions, so there the plain queries suffice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection

from backroom.inventory.models import ItemValuation, Lot, StockBalance
from backroom.inventory.valuation import (
    COST_SCALE,
    MONEY_SCALE,
    QUANTITY_SCALE,
    from_decimal_scaled,
)

Pair = tuple[int, int]


@dataclass(slots=True, frozen=True)
class LotInfo:
    """What the ledger needs of a lot (FEFO order and expiry), with Lot's attribute names."""

    pk: int
    expiry_date: dt.date | None
    received_at: dt.datetime


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
    revision: int = 0


def pg_array(values: Iterable[Any]) -> str:
    """A PostgreSQL array literal of numbers (None as NULL), passed as one text parameter.

    psycopg adapts a Python list element by element (a regular expression per element to
    decide on quoting); joining numbers costs a fraction of that. Numbers only: no quoting."""
    return "{" + ",".join(["NULL" if value is None else str(value) for value in values]) + "}"


def _pair_arrays(pairs: Iterable[Pair]) -> tuple[str, str]:
    ordered = sorted(pairs)
    return pg_array(item for item, _ in ordered), pg_array(location for _, location in ordered)


def lock_valuations(pairs: Iterable[Pair]) -> dict[Pair, LockedRow]:
    """Create missing valuation rows, then lock every row of `pairs` in (item, location) order."""
    wanted = set(pairs)
    if not wanted:
        return {}
    if connection.vendor == "postgresql":
        return _lock_valuations_pg(wanted)
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
        .values_list(
            "id", "item_id", "location_id", "quantity", "value", "average_cost", "revision"
        )
    )
    return {
        (item, location): LockedRow(pk, item, location, None, quantity, value, average, revision)
        for pk, item, location, quantity, value, average, revision in rows
        if (item, location) in wanted
    }


def _insert_missing_valuations(cursor: Any, arrays: tuple[str, str]) -> None:
    # Existing rows are skipped by the index pre-check (no write); new ones are inserted in
    # key order, before any row lock is taken, as the ORM path does.
    cursor.execute(
        f"INSERT INTO {ItemValuation._meta.db_table} "  # noqa: S608
        "(item_id, location_id, quantity, value, revision) "
        "SELECT w.item_id, w.location_id, 0, 0, 0 "
        "FROM unnest(%s::bigint[], %s::bigint[]) AS w(item_id, location_id) "
        "ORDER BY 1, 2 ON CONFLICT DO NOTHING",
        arrays,
    )


def _lock_valuations_pg(wanted: set[Pair]) -> dict[Pair, LockedRow]:
    table = ItemValuation._meta.db_table
    arrays = _pair_arrays(wanted)
    with connection.cursor() as cursor:
        _insert_missing_valuations(cursor, arrays)
        cursor.execute(
            "SELECT v.id, v.item_id, v.location_id, v.quantity, v.value, v.average_cost, "  # noqa: S608
            f"v.revision FROM {table} v "
            "JOIN unnest(%s::bigint[], %s::bigint[]) AS w(item_id, location_id) "
            "ON v.item_id = w.item_id AND v.location_id = w.location_id "
            "ORDER BY v.item_id, v.location_id FOR UPDATE OF v",
            arrays,
        )
        rows = cursor.fetchall()
    return {
        (item, location): LockedRow(pk, item, location, None, quantity, value, average, revision)
        for pk, item, location, quantity, value, average, revision in rows
    }


@dataclass(slots=True)
class ScaledLockedRow:
    """A locked valuation row in the ledger's scaled integers (quantity in millionths, value
    in ten-thousandths, average cost in 10⁻¹⁰; see `valuation`)."""

    pk: int
    quantity: int
    value: int
    average: int | None
    revision: int


def lock_scaled_valuations(
    pairs: Iterable[Pair],
    existing: Iterable[Pair] = (),
    meanwhile: Callable[[], None] | None = None,
) -> dict[Pair, ScaledLockedRow]:
    """`lock_valuations`, with the numbers as scaled integers: on PostgreSQL scaled in SQL (the
    columns' own places, so exactly), instead of three Decimals converted per row.

    `existing` are pairs whose row the caller knows to exist (this process wrote it; rows are
    never deleted): on PostgreSQL only the others go through the insert-if-missing, whose
    index probe per pair costs about as much as locking the row. Should a known row be gone
    after all, it is created and locked after the others.

    `meanwhile` is Python work that needs nothing from the database: on PostgreSQL it runs
    while the server inserts and locks the rows (both statements are sent at once, in
    psycopg's pipeline mode), elsewhere first."""
    wanted = set(pairs)
    if not wanted or connection.vendor != "postgresql":
        if meanwhile is not None:
            meanwhile()
        return {
            pair: ScaledLockedRow(
                row.pk,
                from_decimal_scaled(row.quantity, QUANTITY_SCALE),
                from_decimal_scaled(row.value, MONEY_SCALE),
                None
                if row.average_cost is None
                else from_decimal_scaled(row.average_cost, COST_SCALE),
                row.revision,
            )
            for pair, row in lock_valuations(wanted).items()
        }
    unknown = wanted.difference(existing)
    locked: dict[Pair, ScaledLockedRow] = {}
    with connection.cursor() as cursor, connection.cursor() as inserting:
        if meanwhile is None:
            if unknown:
                _insert_missing_valuations(cursor, _pair_arrays(unknown))
            _lock_scaled(cursor, wanted, locked)
        else:
            with connection.wrap_database_errors, connection.connection.pipeline():
                if unknown:
                    _insert_missing_valuations(inserting, _pair_arrays(unknown))
                _send_lock(cursor, wanted)
                meanwhile()
                _read_lock(cursor, locked)
        missing = wanted - locked.keys()
        if missing:  # pragma: no cover - defensive: a known row was deleted
            _insert_missing_valuations(cursor, _pair_arrays(missing))
            _lock_scaled(cursor, missing, locked)
    return locked


def _lock_scaled(cursor: Any, pairs: set[Pair], locked: dict[Pair, ScaledLockedRow]) -> None:
    _send_lock(cursor, pairs)
    _read_lock(cursor, locked)


def _send_lock(cursor: Any, pairs: set[Pair]) -> None:
    cursor.execute(
        f"SELECT v.id, v.item_id, v.location_id, (v.quantity * {QUANTITY_SCALE})::bigint, "  # noqa: S608
        f"(v.value * {MONEY_SCALE})::bigint, trunc(v.average_cost * {COST_SCALE})::text, "
        f"v.revision FROM {ItemValuation._meta.db_table} v "
        "JOIN unnest(%s::bigint[], %s::bigint[]) AS w(item_id, location_id) "
        "ON v.item_id = w.item_id AND v.location_id = w.location_id "
        "ORDER BY v.item_id, v.location_id FOR UPDATE OF v",
        _pair_arrays(pairs),
    )


def _read_lock(cursor: Any, locked: dict[Pair, ScaledLockedRow]) -> None:
    for pk, item, location, quantity, value, average, revision in cursor.fetchall():
        locked[(item, location)] = ScaledLockedRow(
            pk, quantity, value, None if average is None else int(average), revision
        )


BalanceRow = tuple[
    int, int, int, int | None, Decimal, Decimal, "dt.date | None", "dt.datetime | None"
]


def lock_balances(pairs: Iterable[Pair]) -> dict[Pair, list[BalanceRow]]:
    """Read the non-empty balances of `pairs`; call it holding their valuation locks.

    Rows are (id, item, location, lot, quantity, value, lot expiry, lot received at), per pair
    in FEFO order: lots by expiry (none last), receipt time and id, then the no-lot balance.

    Every write to a balance happens in `LedgerSession.flush`, under the item × location
    valuation lock taken first by `lock_valuations`; so once those are held no other
    transaction can change these rows, and a plain read (a new snapshot in READ COMMITTED)
    sees the last committed state. The rows are not locked again: `FOR UPDATE` on every lot
    balance of a busy item would write each tuple once more per posting for nothing.

    Empty rows (a lot used up: quantity and value 0) are left out: a long-lived item collects
    one per lot, and they hold nothing to allocate. A posting that puts stock back into such a
    lot overwrites the row when it writes (`LedgerSession.flush`), still under the valuation lock.
    A session reads only the pairs whose balances it does not hold already (`BalanceCache`).
    """
    wanted = set(pairs)
    result: dict[Pair, list[BalanceRow]] = {pair: [] for pair in wanted}
    if not wanted:
        return result
    if connection.vendor == "postgresql":
        sql = (
            "SELECT b.id, b.item_id, b.location_id, b.lot_id, b.quantity, b.value, "  # noqa: S608
            "l.expiry_date, l.received_at "
            f"FROM {StockBalance._meta.db_table} b "
            "JOIN unnest(%s::bigint[], %s::bigint[]) AS w(item_id, location_id) "
            "ON b.item_id = w.item_id AND b.location_id = w.location_id "
            f"LEFT JOIN {Lot._meta.db_table} l ON l.id = b.lot_id "
            "WHERE NOT (b.quantity = 0 AND b.value = 0) "
            "ORDER BY b.item_id, b.location_id, b.lot_id IS NULL, l.expiry_date IS NULL, "
            "l.expiry_date, l.received_at, b.lot_id"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, _pair_arrays(wanted))
            rows = cursor.fetchall()
    else:
        items = {item for item, _ in wanted}
        locations = {location for _, location in wanted}
        rows = sorted(
            StockBalance.objects.filter(item_id__in=items, location_id__in=locations)
            .exclude(quantity=0, value=0)
            .values_list(
                "id",
                "item_id",
                "location_id",
                "lot_id",
                "quantity",
                "value",
                "lot__expiry_date",
                "lot__received_at",
            ),
            key=lambda row: (row[1], row[2], *fefo_order(row[3], row[6], row[7])),
        )
    for row in rows:
        found = result.get((row[1], row[2]))
        if found is not None:
            found.append(row)
    return result


NO_DATE = dt.date.max
NO_TIME = dt.datetime.max.replace(tzinfo=dt.UTC)


def fefo_order(
    lot_id: int | None, expiry: dt.date | None, received: dt.datetime | None
) -> tuple[int, dt.date, dt.datetime, int]:
    """First expired, first out: by expiry (none last), then receipt time, then id; no lot last."""
    if lot_id is None:
        return (2, NO_DATE, NO_TIME, 0)
    return (
        0 if expiry is not None else 1,
        expiry or NO_DATE,
        received or NO_TIME,
        lot_id,
    )
