"""The posting engine: lock, apply moves in memory, then write moves and projections at once.

A `LedgerSession` runs inside the caller's `transaction.atomic()`. It locks the valuations and
balances of every item × location it will touch (in the fixed order of `locks.py`), applies the
operations one by one to in-memory copies (so a later line sees an earlier line's effect),
collects every problem instead of stopping at the first, and only when there are none writes the
moves with one bulk insert and the changed balances and valuations with one update each.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from backroom.catalog.choices import NegativeStockPolicy
from backroom.catalog.models import Item
from backroom.inventory.choices import MoveReason
from backroom.inventory.exceptions import InsufficientStock
from backroom.inventory.locks import (
    BalanceDemand,
    LockedRow,
    LotInfo,
    fefo_order,
    lock_balances,
    lock_valuations,
)
from backroom.inventory.models import (
    ItemValuation,
    Location,
    Lot,
    StockBalance,
    StockMove,
    StockPosting,
)
from backroom.inventory.valuation import ZERO, Valuation, cost
from backroom.kernel.dates import business_date

Pair = tuple[int, int]
LotLike = Lot | LotInfo


@dataclass(slots=True)
class _Balance:
    """One balance (item × location × lot) as the session sees it; `pk` None until written."""

    lot_id: int | None
    quantity: Decimal
    value: Decimal
    pk: int | None
    expiry: dt.date | None  # of its lot
    received: dt.datetime | None  # its lot's receipt time
    is_dirty: bool = False

    def fefo(self) -> tuple[int, dt.date, dt.datetime, int]:
        return fefo_order(self.lot_id, self.expiry, self.received)


MOVE_FIELDS = (
    "id",
    "posting_id",
    "item_id",
    "site_id",
    "location_id",
    "lot_id",
    "quantity",
    "unit_cost",
    "value",
    "reason",
    "source_type",
    "source_id",
    "source_number",
    "idempotency_key",
    "key_line",
    "occurred_at",
    "recorded_at",
    "actor_id",
    "reverses_id",
)


@dataclass(slots=True)
class MoveRow:
    """A move being posted: the same fields as StockMove, without the model's overhead."""

    id: int | None
    posting_id: int | None
    item_id: int
    site_id: int
    location_id: int
    lot_id: int | None
    quantity: Decimal
    unit_cost: Decimal
    value: Decimal
    reason: str
    source_type: str
    source_id: str
    source_number: str
    idempotency_key: str
    key_line: int
    occurred_at: dt.datetime
    recorded_at: dt.datetime
    actor_id: int | None
    reverses_id: int | None

    def values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in MOVE_FIELDS)


@dataclass
class MoveMeta:
    """What every move of one line shares: its key, source document, time and actor."""

    key: str
    occurred_at: dt.datetime
    source_type: str = ""
    source_id: str = ""
    source_number: str = ""


@dataclass
class LineProblem:
    index: int
    error: Exception


@dataclass
class NegativeLine:
    item_id: int
    location_id: int
    quantity: Decimal


def site_today(location: Location, now: dt.datetime | None = None) -> dt.date:
    """The site's business date now: lots expiring before it are expired."""
    site = location.site
    return business_date(
        now or timezone.now(), time_zone=site.time_zone, cutoff_hour=site.cutoff_hour
    )


def fefo_key(lot: LotLike | None) -> tuple[int, dt.date, dt.datetime, int]:
    """First expired, first out: by expiry (none last), then receipt time, then id; no lot last."""
    if lot is None:
        return fefo_order(None, None, None)
    return fefo_order(lot.pk, lot.expiry_date, lot.received_at)


class LedgerSession:
    """Applies ledger operations to locked, in-memory projections; `flush` writes everything."""

    def __init__(
        self,
        *,
        items: dict[int, Item],
        locations: dict[int, Location],
        pairs: Iterable[Pair],
        actor_id: int | None,
        lots: dict[int, Lot] | dict[int, LotInfo] | None = None,
        demand: BalanceDemand | None = None,
    ) -> None:
        self.items = items
        self.locations = locations
        self.actor_id = actor_id
        self.recorded_at = timezone.now()
        self.moves: list[MoveRow] = []
        self.problems: list[LineProblem] = []
        self.negatives: list[NegativeLine] = []
        self._lines: dict[str, int] = {}
        self._today: dict[tuple[int, dt.date], dt.date] = {}
        pairs = set(pairs)
        self._valuation_rows = lock_valuations(pairs)
        self.valuations: dict[Pair, Valuation] = {
            pair: Valuation(row.quantity, row.value, row.average_cost)
            for pair, row in self._valuation_rows.items()
        }
        self.lots: dict[int, LotLike] = dict(lots or {})
        self.balances: dict[Pair, dict[int | None, _Balance]] = {}
        self._dirty: list[tuple[Pair, _Balance]] = []  # balances changed, in first-change order
        # Per item × location: its balances in FEFO order (None: sort again, a lot was added).
        self._fefo: dict[Pair, list[_Balance] | None] = {}
        for pair, rows in lock_balances(pairs, demand).items():
            ordered = [
                _Balance(lot, quantity, value, pk, expiry, received)
                for pk, _, _, lot, quantity, value, expiry, received in rows
            ]
            self.balances[pair] = {balance.lot_id: balance for balance in ordered}
            self._fefo[pair] = ordered

    # --- helpers ---------------------------------------------------------------------------
    def _load_lots(self, ids: Iterable[int]) -> None:
        self.lots.update(
            (pk, LotInfo(pk, expiry, received))
            for pk, expiry, received in Lot.objects.filter(pk__in=set(ids)).values_list(
                "id", "expiry_date", "received_at"
            )
        )

    def today(self, location: Location, at: dt.datetime | None = None) -> dt.date:
        """The site's business date at `at` (a back-dated move is judged on its own date)."""
        moment = at or self.recorded_at
        cache_key = (location.site_id, moment.date())
        if cache_key not in self._today:
            self._today[cache_key] = site_today(location, moment)
        return self._today[cache_key]

    def _balance(self, pair: Pair, lot_id: int | None) -> _Balance:
        by_lot = self.balances.setdefault(pair, {})
        balance = by_lot.get(lot_id)
        if balance is None:
            lot = None
            if lot_id is not None:
                if lot_id not in self.lots:
                    self._load_lots([lot_id])
                lot = self.lots.get(lot_id)
            balance = by_lot[lot_id] = _Balance(
                lot_id,
                ZERO,
                ZERO,
                None,
                lot.expiry_date if lot else None,
                lot.received_at if lot else None,
            )
            self._fefo[pair] = None
        return balance

    def _line(self, key: str) -> int:
        line = self._lines.get(key, 0)
        self._lines[key] = line + 1
        return line

    def _move(
        self,
        *,
        item: Item,
        location: Location,
        lot_id: int | None,
        quantity: Decimal,
        unit_cost: Decimal,
        value: Decimal,
        reason: str,
        meta: MoveMeta,
        reverses_id: int | None = None,
    ) -> MoveRow:
        pair = (item.pk, location.pk)
        balance = self._balance(pair, lot_id)
        balance.quantity += quantity
        balance.value += value
        if not balance.is_dirty:
            balance.is_dirty = True
            self._dirty.append((pair, balance))
        key = meta.key
        key_line = self._lines.get(key, 0)
        self._lines[key] = key_line + 1
        move = MoveRow(
            None,
            None,
            item.pk,
            location.site_id,
            location.pk,
            lot_id,
            quantity,
            unit_cost,
            value,
            reason,
            meta.source_type,
            meta.source_id,
            meta.source_number,
            key,
            key_line,
            meta.occurred_at,
            self.recorded_at,
            self.actor_id,
            reverses_id,
        )
        self.moves.append(move)
        return move

    def policy(self, item: Item) -> str:
        return item.item_class.negative_stock_policy

    def on_hand(self, item_id: int, location_id: int) -> Decimal:
        return self.valuations[(item_id, location_id)].quantity

    def _note_negative(self, item: Item, location: Location) -> None:
        valuation = self.valuations[(item.pk, location.pk)]
        if valuation.quantity < 0 and self.policy(item) == NegativeStockPolicy.WARN:
            self.negatives.append(NegativeLine(item.pk, location.pk, valuation.quantity))

    # --- operations ------------------------------------------------------------------------
    def inbound(
        self,
        index: int,
        *,
        item: Item,
        location: Location,
        quantity: Decimal,
        unit_cost: Decimal | None,
        reason: str,
        meta: MoveMeta,
        lot_id: int | None = None,
        total: Decimal | None = None,
    ) -> list[MoveRow]:
        """Stock arriving at `unit_cost` per base unit (None: at the current average).

        `total` books the move at exactly that value (production at the summed input cost).
        """
        valuation = self.valuations[(item.pk, location.pk)]
        if unit_cost is None:
            unit_cost = valuation.average_cost or ZERO
        unit_cost = cost(unit_cost)
        move_value, variance = valuation.receive(quantity, unit_cost, total)
        moves = []
        if variance:
            moves.append(
                self._move(
                    item=item,
                    location=location,
                    lot_id=None,
                    quantity=ZERO,
                    unit_cost=unit_cost,
                    value=variance,
                    reason=MoveReason.PRICE_VARIANCE,
                    meta=meta,
                )
            )
        moves.append(
            self._move(
                item=item,
                location=location,
                lot_id=lot_id,
                quantity=quantity,
                unit_cost=unit_cost,
                value=move_value,
                reason=reason,
                meta=meta,
            )
        )
        return moves

    def allocate(
        self,
        *,
        item: Item,
        location: Location,
        quantity: Decimal,
        lot_id: int | None = None,
        use_lot: bool = False,
        allow_expired: bool = False,
        only_lots: dict[int | None, Decimal] | None = None,
        at: dt.datetime | None = None,
    ) -> tuple[list[tuple[int | None, Decimal]], Decimal]:
        """Split `quantity` across lots, first expiring first; returns (parts, short by).

        Expired lots are skipped unless `allow_expired`. Whatever usable stock cannot cover is
        the shortfall; under allow/warn it is taken from the no-lot balance (going negative).
        """
        by_lot = self.balances.get((item.pk, location.pk), {})
        if use_lot:
            available = max(by_lot[lot_id].quantity if lot_id in by_lot else ZERO, ZERO)
            short = max(quantity - available, ZERO)
            return [(lot_id, quantity)], short
        today = self.today(location, at)
        pair = (item.pk, location.pk)
        ordered = self._fefo.get(pair)
        if ordered is None:
            ordered = self._fefo[pair] = sorted(by_lot.values(), key=_Balance.fefo)
        candidates = [
            balance
            for balance in ordered
            if balance.quantity > 0
            and (only_lots is None or balance.lot_id in only_lots)
            and (allow_expired or balance.expiry is None or balance.expiry >= today)
        ]
        parts: list[tuple[int | None, Decimal]] = []
        remaining = quantity
        for balance in candidates:
            if remaining <= 0:
                break
            available = balance.quantity
            if only_lots is not None:
                available = min(available, only_lots[balance.lot_id])
            take = min(available, remaining)
            if take > 0:
                parts.append((balance.lot_id, take))
                remaining -= take
        if remaining > 0:
            if parts and parts[-1][0] is None:
                parts[-1] = (None, parts[-1][1] + remaining)
            else:
                parts.append((None, remaining))
        return parts, max(remaining, ZERO)

    def outbound(
        self,
        index: int,
        *,
        item: Item,
        location: Location,
        quantity: Decimal,
        reason: str,
        meta: MoveMeta,
        lot_id: int | None = None,
        use_lot: bool = False,
        allow_expired: bool = False,
        only_lots: dict[int | None, Decimal] | None = None,
    ) -> list[MoveRow] | None:
        """Stock leaving at the average cost, FEFO across lots unless a lot is named.

        Returns None (and records the problem) when the item class forbids negative stock and
        usable stock is short.
        """
        parts, short = self.allocate(
            item=item,
            location=location,
            quantity=quantity,
            lot_id=lot_id,
            use_lot=use_lot,
            allow_expired=allow_expired,
            only_lots=only_lots,
            at=meta.occurred_at,
        )
        if short > 0 and self.policy(item) == NegativeStockPolicy.FORBID:
            self.problems.append(LineProblem(index, InsufficientStock(item, location, short)))
            return None
        valuation = self.valuations[(item.pk, location.pk)]
        moves = []
        for part_lot, part_quantity in parts:
            value, unit_cost = valuation.issue(part_quantity)
            moves.append(
                self._move(
                    item=item,
                    location=location,
                    lot_id=part_lot,
                    quantity=-part_quantity,
                    unit_cost=unit_cost,
                    value=value,
                    reason=reason,
                    meta=meta,
                )
            )
        self._note_negative(item, location)
        return moves

    def exact(
        self,
        index: int,
        *,
        original: StockMove,
        meta: MoveMeta,
    ) -> MoveRow | None:
        """The reversal of `original`: the same quantity and value with the opposite sign."""
        item = self.items[original.item_id]
        location = self.locations[original.location_id]
        pair = (item.pk, location.pk)
        if original.quantity > 0 and self.policy(item) == NegativeStockPolicy.FORBID:
            balance = self._balance(pair, original.lot_id)
            short = original.quantity - max(balance.quantity, ZERO)
            if short > 0:
                self.problems.append(LineProblem(index, InsufficientStock(item, location, short)))
                return None
        self.valuations[pair].apply_exact(-original.quantity, -original.value)
        move = self._move(
            item=item,
            location=location,
            lot_id=original.lot_id,
            quantity=-original.quantity,
            unit_cost=original.unit_cost,
            value=-original.value,
            reason=MoveReason.REVERSAL,
            meta=meta,
            reverses_id=original.pk,
        )
        self._note_negative(item, location)
        return move

    def revalue(
        self,
        index: int,
        *,
        item: Item,
        location: Location,
        value: Decimal,
        unit_cost: Decimal,
        reason: str,
        meta: MoveMeta,
    ) -> MoveRow:
        """A value-only move (revaluation or price variance) on the no-lot balance."""
        self.valuations[(item.pk, location.pk)].revalue(value)
        return self._move(
            item=item,
            location=location,
            lot_id=None,
            quantity=ZERO,
            unit_cost=cost(unit_cost),
            value=value,
            reason=reason,
            meta=meta,
        )

    # --- writing ---------------------------------------------------------------------------
    def _reuse_empty_rows(
        self, new_rows: list[StockBalance], changed_rows: list[Any]
    ) -> list[StockBalance]:
        """Balances not loaded may exist as empty rows: update those instead of inserting."""
        lots = {row.lot_id for row in new_rows}
        lot_filter = Q(lot_id__in=lots - {None})
        if None in lots:
            lot_filter |= Q(lot_id__isnull=True)
        existing: dict[tuple[int, int, int | None], LockedRow] = {
            (item, location, lot): LockedRow(pk, item, location, lot, ZERO, ZERO)
            for pk, item, location, lot in StockBalance.objects.filter(
                lot_filter,
                item_id__in={row.item_id for row in new_rows},
                location_id__in={row.location_id for row in new_rows},
                quantity=0,
                value=0,
            ).values_list("id", "item_id", "location_id", "lot_id")
        }
        remaining = []
        for row in new_rows:
            found = existing.get((row.item_id, row.location_id, row.lot_id))
            if found is None:
                remaining.append(row)
            else:
                found.quantity, found.value = row.quantity, row.value
                changed_rows.append(found)
        return remaining

    def flush(self, posting: StockPosting) -> list[MoveRow]:
        """Insert the moves and write the changed balances and valuations."""
        for move in self.moves:
            move.posting_id = posting.pk
        insert_moves(self.moves)
        new_rows: list[tuple[int, int, int | None, Decimal, Decimal]] = []
        changed_rows: list[Any] = []
        for (item_id, location_id), balance in self._dirty:
            if balance.pk is None:
                new_rows.append(
                    (item_id, location_id, balance.lot_id, balance.quantity, balance.value)
                )
            else:
                changed_rows.append(balance)
        if new_rows and connection.vendor == "postgresql":
            _upsert_empty_balances(new_rows)
        elif new_rows:
            models = [
                StockBalance(
                    item_id=item_id,
                    location_id=location_id,
                    lot_id=lot_id,
                    quantity=quantity,
                    value=value,
                )
                for item_id, location_id, lot_id, quantity, value in new_rows
            ]
            models = self._reuse_empty_rows(models, changed_rows)
            if models:
                StockBalance.objects.bulk_create(models, batch_size=2000)
        _write(StockBalance, changed_rows, ["quantity", "value"])
        touched = {(move.item_id, move.location_id) for move in self.moves}
        valuation_rows = []
        for pair in touched:
            row = self._valuation_rows[pair]
            state = self.valuations[pair]
            row.quantity, row.value, row.average_cost = (
                state.quantity,
                state.value,
                state.average_cost,
            )
            valuation_rows.append(row)
        _write(ItemValuation, valuation_rows, ["quantity", "value", "average_cost"])
        return self.moves


def _upsert_empty_balances(rows: list[tuple[int, int, int | None, Decimal, Decimal]]) -> None:
    """Insert balances the session did not load; an empty row (0 / 0) of the same key is
    overwritten. Only empty rows can be there: `lock_balances` loaded every other one of the
    locked pairs, so anything else is a bug and fails loudly (the transaction rolls back)."""
    table = StockBalance._meta.db_table
    for with_lot in (True, False):
        chosen = [row for row in rows if (row[2] is not None) == with_lot]
        if not chosen:
            continue
        target = (
            "(item_id, location_id, lot_id) WHERE lot_id IS NOT NULL"
            if with_lot
            else "(item_id, location_id) WHERE lot_id IS NULL"
        )
        sql = (
            f"INSERT INTO {table} AS t (item_id, location_id, lot_id, quantity, value) "  # noqa: S608
            "SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::numeric[], "
            f"%s::numeric[]) ON CONFLICT {target} DO UPDATE "
            "SET quantity = EXCLUDED.quantity, value = EXCLUDED.value "
            "WHERE t.quantity = 0 AND t.value = 0"
        )
        params = [[row[n] for row in chosen] for n in range(5)]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            if cursor.rowcount != len(chosen):
                raise RuntimeError("A balance not read by this posting is not empty.")


# PostgreSQL types of MOVE_FIELDS, for a binary COPY (no text formatting or parsing per row).
_COPY_TYPES = (
    ["int8"] * 6
    + ["numeric"] * 3
    + ["text"] * 5
    + ["int4", "timestamptz", "timestamptz", "int8", "int8"]
)


def insert_moves(rows: list[MoveRow]) -> None:
    """Insert the moves and set their ids; on PostgreSQL with one COPY (ids drawn first)."""
    if not rows:
        return
    if connection.vendor == "postgresql":
        table = StockMove._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, len(rows)],
            )
            for row, (new_id,) in zip(rows, cursor.fetchall(), strict=True):
                row.id = new_id
            columns = ", ".join(MOVE_FIELDS)
            with connection.wrap_database_errors:
                with cursor.cursor.copy(
                    f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)"
                ) as copy:
                    copy.set_types(_COPY_TYPES)
                    write = copy.write_row
                    for row in rows:
                        write(
                            (
                                row.id,
                                row.posting_id,
                                row.item_id,
                                row.site_id,
                                row.location_id,
                                row.lot_id,
                                row.quantity,
                                row.unit_cost,
                                row.value,
                                row.reason,
                                row.source_type,
                                row.source_id,
                                row.source_number,
                                row.idempotency_key,
                                row.key_line,
                                row.occurred_at,
                                row.recorded_at,
                                row.actor_id,
                                row.reverses_id,
                            )
                        )
        return
    # SQLite: the transaction holds the database's write lock (IMMEDIATE), so the next ids
    # are known; one executemany is far cheaper than Django's multi-row INSERTs.
    table = StockMove._meta.db_table
    adapt = connection.ops.adapt_datetimefield_value
    times: dict[dt.datetime, Any] = {}
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608
        next_id = cursor.fetchone()[0] + 1
        params = []
        for offset, row in enumerate(rows):
            row.id = next_id + offset
            values = list(row.values())
            for position in (15, 16):  # occurred_at, recorded_at
                moment = values[position]
                if moment not in times:
                    times[moment] = adapt(moment)
                values[position] = times[moment]
            for position in (6, 7, 8):  # quantity, unit_cost, value
                values[position] = str(values[position])
            params.append(values)
        columns = ", ".join(MOVE_FIELDS)
        marks = ", ".join("%s" for _ in MOVE_FIELDS)
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", params)  # noqa: S608


def as_moves(rows: list[MoveRow]) -> list[StockMove]:
    """Model instances of posted move rows (built only when a caller asks for them)."""
    return [StockMove.from_db("default", MOVE_FIELDS, row.values()) for row in rows]


def _sqlite_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _write(model: Any, rows: list[Any], fields: list[str]) -> None:
    """Update `fields` of many rows: one UPDATE … FROM unnest(arrays) on PostgreSQL."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        table = model._meta.db_table
        columns = [model._meta.get_field(name).column for name in fields]
        assignments = ", ".join(f"{column} = %s" for column in columns)
        params = [[*(_sqlite_text(getattr(row, name)) for name in fields), row.pk] for row in rows]
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {table} SET {assignments} WHERE id = %s",  # noqa: S608
                params,
            )
        return
    table = model._meta.db_table
    columns = [model._meta.get_field(name).column for name in fields]
    arrays = ", ".join(["%s::bigint[]", *("%s::numeric[]" for _ in fields)])
    assignments = ", ".join(f"{column} = v.{column}" for column in columns)
    names = ", ".join(["id", *columns])
    sql = (
        f"UPDATE {table} AS t SET {assignments} "  # noqa: S608 (identifiers from the model)
        f"FROM unnest({arrays}) AS v({names}) WHERE t.id = v.id"
    )
    params = [[row.pk for row in rows], *([getattr(row, name) for row in rows] for name in fields)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
