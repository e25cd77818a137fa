"""The posting engine: lock, apply moves in memory, then write moves and projections at once.

A `LedgerSession` runs inside the caller's `transaction.atomic()`. It locks the valuations of
every item × location it will touch (in the fixed order of `locks.py`) and reads their balances
under those locks, or reuses the ones this process wrote last when the valuation's revision
says nobody changed them since (`BalanceCache`). It applies the operations one by one to
in-memory copies (so a later line sees an earlier line's effect), collects every problem
instead of stopping at the first, and only when there are none writes the moves with one bulk
insert and the changed balances and valuations with one statement each.
"""

from __future__ import annotations

import datetime as dt
import gc
import secrets
import struct
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
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
    LotInfo,
    ScaledLockedRow,
    fefo_order,
    lock_balances,
    lock_scaled_valuations,
    pg_array,
)
from backroom.inventory.models import (
    COST_PLACES,
    ItemValuation,
    Location,
    Lot,
    StockBalance,
    StockMove,
    StockPosting,
)
from backroom.inventory.valuation import (
    COST_SCALE,
    MONEY_SCALE,
    QUANTITY_SCALE,
    ScaledValuation,
    cost,
    from_decimal_scaled,
    money,
    to_decimal_scaled,
)
from backroom.kernel.dates import business_date
from backroom.kernel.money import MONEY_PLACES, QUANTITY_PLACES

Pair = tuple[int, int]
LotLike = Lot | LotInfo


@dataclass(slots=True)
class _Balance:
    """One balance (item × location × lot) as the session sees it; `pk` None until written.

    Quantity and value are scaled integers (millionths, ten-thousandths: see `valuation`)."""

    lot_id: int | None
    quantity: int
    value: int
    pk: int | None
    expiry: dt.date | None  # of its lot
    received: dt.datetime | None  # its lot's receipt time
    is_dirty: bool = False

    def fefo(self) -> tuple[int, dt.date, dt.datetime, int]:
        return fefo_order(self.lot_id, self.expiry, self.received)


class BalanceCache:
    """Per process: each item × location's balances as this process last wrote them.

    An entry is keyed by the revision its posting wrote on the pair's `ItemValuation` row, a
    random number drawn anew by every posting that changes the pair's balances. A session that
    locks the valuation row and finds the revision it holds reuses the balances instead of
    reading them: nobody changed them since (every balance write happens in `flush`, under
    that lock, and writes a new revision). Any other revision (another process posted, or the
    posting was rolled back) means reading them again. A session takes the entry out while it
    works on it and puts it back when it writes, so an abandoned session leaves nothing behind.
    (docs/decisions/0006-ledger-balance-cache-and-set-based-posting.md)
    """

    max_pairs = 50_000

    def __init__(self) -> None:
        self._entries: dict[
            tuple[str, int, int], tuple[int, dict[int | None, _Balance], list[_Balance]]
        ] = {}

    @staticmethod
    def _database() -> str:
        return f"{connection.alias}:{connection.settings_dict['NAME']}"

    def take(
        self, database: str, pair: Pair, revision: int
    ) -> tuple[dict[int | None, _Balance], list[_Balance]] | None:
        entry = self._entries.pop((database, *pair), None)
        if entry is None or revision == 0 or entry[0] != revision:
            return None
        return entry[1], entry[2]

    def put(
        self,
        database: str,
        pair: Pair,
        revision: int,
        by_lot: dict[int | None, _Balance],
        ordered: list[_Balance],
    ) -> None:
        if len(self._entries) >= self.max_pairs:
            self._entries.clear()
        self._entries[(database, *pair)] = (revision, by_lot, ordered)

    def held(self, database: str, pairs: Iterable[Pair]) -> list[Pair]:
        """Those of `pairs` this process holds balances for, at whatever revision."""
        entries = self._entries
        return [pair for pair in pairs if (database, *pair) in entries]

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


BALANCES = BalanceCache()


def new_revision() -> int:
    """A random, non-zero 63-bit number from the operating system (distinct across forked
    worker processes, unlike `random`)."""
    return secrets.randbits(63) or 1


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


class MoveRow:
    """A move being posted: the same fields as StockMove, without the model's overhead.

    Quantity, unit cost and value are kept as scaled integers (`q`, `c`, `v`: 6, 10 and 4
    places, the columns' own), which is what the session computes and the binary `COPY`
    writes; the attributes `quantity`, `unit_cost` and `value` give them as Decimals. The
    constructor takes either form."""

    __slots__ = (
        "actor_id",
        "c",
        "id",
        "idempotency_key",
        "item_id",
        "key_line",
        "location_id",
        "lot_id",
        "occurred_at",
        "posting_id",
        "q",
        "reason",
        "recorded_at",
        "reverses_id",
        "site_id",
        "source_id",
        "source_number",
        "source_type",
        "v",
    )

    def __init__(
        self,
        id: int | None,
        posting_id: int | None,
        item_id: int,
        site_id: int,
        location_id: int,
        lot_id: int | None,
        quantity: int | Decimal,
        unit_cost: int | Decimal,
        value: int | Decimal,
        reason: str,
        source_type: str,
        source_id: str,
        source_number: str,
        idempotency_key: str,
        key_line: int,
        occurred_at: dt.datetime,
        recorded_at: dt.datetime,
        actor_id: int | None,
        reverses_id: int | None,
    ) -> None:
        self.id = id
        self.posting_id = posting_id
        self.item_id = item_id
        self.site_id = site_id
        self.location_id = location_id
        self.lot_id = lot_id
        self.q = (
            quantity if isinstance(quantity, int) else from_decimal_scaled(quantity, QUANTITY_SCALE)
        )
        self.c = (
            unit_cost if isinstance(unit_cost, int) else from_decimal_scaled(unit_cost, COST_SCALE)
        )
        self.v = value if isinstance(value, int) else from_decimal_scaled(value, MONEY_SCALE)
        self.reason = reason
        self.source_type = source_type
        self.source_id = source_id
        self.source_number = source_number
        self.idempotency_key = idempotency_key
        self.key_line = key_line
        self.occurred_at = occurred_at
        self.recorded_at = recorded_at
        self.actor_id = actor_id
        self.reverses_id = reverses_id

    @property
    def quantity(self) -> Decimal:
        return to_decimal_scaled(self.q, QUANTITY_SCALE)

    @property
    def unit_cost(self) -> Decimal:
        return to_decimal_scaled(self.c, COST_SCALE)

    @property
    def value(self) -> Decimal:
        return to_decimal_scaled(self.v, MONEY_SCALE)

    def values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in MOVE_FIELDS)

    def __repr__(self) -> str:
        return f"MoveRow({', '.join(f'{name}={getattr(self, name)!r}' for name in MOVE_FIELDS)})"


@dataclass(slots=True)
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


@contextmanager
def collector_paused() -> Iterator[None]:
    """Hold off the cyclic garbage collector while a batch is posted.

    A batch keeps several small objects per line alive until it ends (inputs, lines, move
    rows, balances). Each generation-2 collection the collector starts when such survivors
    pile up walks every object of the process (Django, the balance cache): about a quarter of
    a batch's client time went to them. The batch's objects form no reference cycles: they are
    freed as usual when the batch ends, and the collector runs again from there. Nested or
    concurrent pauses are harmless: only the one that paused resumes it.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


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


def _scaled_lots(lots: dict[int | None, Decimal] | None) -> dict[int | None, int] | None:
    if lots is None:
        return None
    return {lot: from_decimal_scaled(quantity, QUANTITY_SCALE) for lot, quantity in lots.items()}


@dataclass(slots=True)
class _Writes:
    """The balance and valuation writes of `LedgerSession.flush`, worked out in advance."""

    booked: tuple[int, int]  # moves and changed balances then: stale if either grew since
    new_rows: list[tuple[Pair, _Balance]]
    changed_rows: list[_Balance]
    emptied: set[Pair]
    balances: tuple[str, list[str]] | None  # the UPDATE of changed_rows (PostgreSQL)
    valuation_rows: list[ScaledLockedRow]
    revision: int
    valuation_columns: dict[str, tuple[Sequence[int | None], int]]
    valuations: tuple[str, list[str]] | None  # their UPDATE (PostgreSQL)


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
        meanwhile: Callable[[], None] | None = None,
    ) -> None:
        """Lock the valuations of `pairs` and take or read their balances. `meanwhile` is
        Python work that needs nothing from the database, done while it locks them."""
        self.items = items
        self.locations = locations
        self.actor_id = actor_id
        self.recorded_at = timezone.now()
        self.moves: list[MoveRow] = []
        self.problems: list[LineProblem] = []
        self.negatives: list[NegativeLine] = []
        self._lines: dict[str, int] = {}
        self._today: dict[tuple[int, dt.date], dt.date] = {}
        self._last_today: tuple[int, dt.datetime, dt.date] | None = None
        # Per item and per location, what the hot path reads (model attributes behind
        # descriptors cost more than a dict look-up).
        self._policies: dict[int, str] = {}
        self._site_ids: dict[int, int] = {}
        self._flushed = False
        self._streamed = False  # the moves went to the database while being booked
        self._ids_of: int | None = None  # a streamed posting whose move ids are still unread
        self._writes: _Writes | None = None  # worked out in advance by a stream
        pairs = set(pairs)
        self._database = BalanceCache._database()
        # A pair whose balances this process holds has its valuation row (rows stay).
        self._valuation_rows = lock_scaled_valuations(
            pairs, BALANCES.held(self._database, pairs), meanwhile
        )
        # Valuations and balances are kept in scaled integers (`valuation.ScaledValuation`).
        self.valuations: dict[Pair, ScaledValuation] = {
            pair: ScaledValuation(row.quantity, row.value, row.average)
            for pair, row in self._valuation_rows.items()
        }
        self.lots: dict[int, LotLike] = dict(lots or {})
        self.balances: dict[Pair, dict[int | None, _Balance]] = {}
        self._dirty: list[tuple[Pair, _Balance]] = []  # balances changed, in first-change order
        # Per item × location: its balances in FEFO order (None: sort again, a lot was added).
        self._fefo: dict[Pair, list[_Balance] | None] = {}
        # Balances this process holds at the locked revision are reused; the others are read.
        stale = []
        for pair, row in self._valuation_rows.items():
            held = BALANCES.take(self._database, pair, row.revision)
            if held is None:
                stale.append(pair)
            else:
                self.balances[pair], self._fefo[pair] = held
        for pair, rows in lock_balances(stale).items():
            ordered = [
                _Balance(
                    lot,
                    from_decimal_scaled(quantity, QUANTITY_SCALE),
                    from_decimal_scaled(value, MONEY_SCALE),
                    pk,
                    expiry,
                    received,
                )
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
        site_id = location.site_id
        last = self._last_today
        if last is not None and last[1] is moment and last[0] == site_id:
            return last[2]  # most lines of a batch share their time and site
        cache_key = (site_id, moment.date())
        today = self._today.get(cache_key)
        if today is None:
            today = self._today[cache_key] = site_today(location, moment)
        self._last_today = (site_id, moment, today)
        return today

    def _balance(self, pair: Pair, lot_id: int | None) -> _Balance:
        by_lot = self.balances.get(pair)
        if by_lot is None:
            by_lot = self.balances[pair] = {}
        balance = by_lot.get(lot_id)
        if balance is None:
            lot = None
            if lot_id is not None:
                if lot_id not in self.lots:
                    self._load_lots([lot_id])
                lot = self.lots.get(lot_id)
            balance = by_lot[lot_id] = _Balance(
                lot_id,
                0,
                0,
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
        quantity: int,
        unit_cost: int,
        value: int,
        reason: str,
        meta: MoveMeta,
        reverses_id: int | None = None,
    ) -> MoveRow:
        return self._add(
            (item.id, location.id),
            location.site_id,
            lot_id,
            quantity,
            unit_cost,
            value,
            reason,
            meta,
            reverses_id,
        )

    def _add(
        self,
        pair: Pair,
        site_id: int,
        lot_id: int | None,
        quantity: int,
        unit_cost: int,
        value: int,
        reason: str,
        meta: MoveMeta,
        reverses_id: int | None = None,
    ) -> MoveRow:
        """Book one move (scaled quantity, cost, value) on its balance and queue it
        (positional: the hot path of a batch)."""
        if self._flushed:
            raise RuntimeError("A ledger session is written once.")
        by_lot = self.balances.get(pair)
        balance = by_lot.get(lot_id) if by_lot is not None else None
        if balance is None:
            balance = self._balance(pair, lot_id)
        balance.quantity += quantity
        balance.value += value
        if not balance.is_dirty:
            balance.is_dirty = True
            self._dirty.append((pair, balance))
        key = meta.key
        lines = self._lines
        key_line = lines.get(key, 0)
        lines[key] = key_line + 1
        move = MoveRow(
            None,
            None,
            pair[0],
            site_id,
            pair[1],
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
        policy = self._policies.get(item.id)
        if policy is None:
            policy = self._policies[item.id] = item.item_class.negative_stock_policy
        return policy

    def site_id(self, location: Location) -> int:
        site_id = self._site_ids.get(location.id)
        if site_id is None:
            site_id = self._site_ids[location.id] = location.site_id
        return site_id

    def on_hand(self, item_id: int, location_id: int) -> Decimal:
        return self.valuations[(item_id, location_id)].quantity

    def _note_negative(self, item: Item, location: Location) -> None:
        valuation = self.valuations[(item.pk, location.pk)]
        if valuation.q < 0 and self.policy(item) == NegativeStockPolicy.WARN:
            self.negatives.append(NegativeLine(item.pk, location.pk, valuation.quantity))

    # --- operations ------------------------------------------------------------------------
    # Each takes Decimals and books scaled integers; a batch's lines call the `_scaled` forms.
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
        return self.inbound_scaled(
            (item.id, location.id),
            location.site_id,
            from_decimal_scaled(quantity, QUANTITY_SCALE),
            None if unit_cost is None else from_decimal_scaled(cost(unit_cost), COST_SCALE),
            reason,
            meta,
            lot_id,
            None if total is None else from_decimal_scaled(money(total), MONEY_SCALE),
        )

    def inbound_scaled(
        self,
        pair: Pair,
        site_id: int,
        quantity: int,
        unit_cost: int | None,
        reason: str,
        meta: MoveMeta,
        lot_id: int | None = None,
        total: int | None = None,
    ) -> list[MoveRow]:
        """`inbound` in scaled integers (quantity in millionths, cost in 10⁻¹⁰, total in
        ten-thousandths)."""
        valuation = self.valuations[pair]
        if unit_cost is None:
            unit_cost = valuation.average or 0
        move_value, variance = valuation.receive(quantity, unit_cost, total)
        if variance:
            return [
                self._add(
                    pair, site_id, None, 0, unit_cost, variance, MoveReason.PRICE_VARIANCE, meta
                ),
                self._add(pair, site_id, lot_id, quantity, unit_cost, move_value, reason, meta),
            ]
        return [self._add(pair, site_id, lot_id, quantity, unit_cost, move_value, reason, meta)]

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
        parts, short = self._allocate(
            (item.id, location.id),
            location,
            from_decimal_scaled(quantity, QUANTITY_SCALE),
            lot_id,
            use_lot,
            allow_expired,
            _scaled_lots(only_lots),
            at,
        )
        return [
            (lot, to_decimal_scaled(part, QUANTITY_SCALE)) for lot, part in parts
        ], to_decimal_scaled(short, QUANTITY_SCALE)

    def _allocate(
        self,
        pair: Pair,
        location: Location,
        quantity: int,
        lot_id: int | None,
        use_lot: bool,
        allow_expired: bool,
        only_lots: dict[int | None, int] | None,
        at: dt.datetime | None,
    ) -> tuple[list[tuple[int | None, int]], int]:
        """`allocate` in scaled quantities."""
        by_lot = self.balances.get(pair) or {}
        if use_lot:
            available = max(by_lot[lot_id].quantity if lot_id in by_lot else 0, 0)
            return [(lot_id, quantity)], max(quantity - available, 0)
        ordered = self._fefo.get(pair)
        if ordered is None:
            ordered = self._fefo[pair] = sorted(by_lot.values(), key=_Balance.fefo)
        today: dt.date | None = None
        parts: list[tuple[int | None, int]] = []
        remaining = quantity
        for balance in ordered:
            if remaining <= 0:
                break
            available = balance.quantity
            if available <= 0:
                continue
            if only_lots is not None:
                if balance.lot_id not in only_lots:
                    continue
                available = min(available, only_lots[balance.lot_id])
            if not allow_expired and balance.expiry is not None:
                if today is None:
                    today = self.today(location, at)
                if balance.expiry < today:
                    continue
            take = available if available < remaining else remaining
            if take > 0:
                parts.append((balance.lot_id, take))
                remaining -= take
        if remaining > 0:
            if parts and parts[-1][0] is None:
                parts[-1] = (None, parts[-1][1] + remaining)
            else:
                parts.append((None, remaining))
            return parts, remaining
        return parts, 0

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
        return self.outbound_scaled(
            index,
            item,
            location,
            from_decimal_scaled(quantity, QUANTITY_SCALE),
            reason,
            meta,
            lot_id,
            use_lot,
            allow_expired,
            _scaled_lots(only_lots),
        )

    def outbound_scaled(
        self,
        index: int,
        item: Item,
        location: Location,
        quantity: int,
        reason: str,
        meta: MoveMeta,
        lot_id: int | None = None,
        use_lot: bool = False,
        allow_expired: bool = False,
        only_lots: dict[int | None, int] | None = None,
    ) -> list[MoveRow] | None:
        """`outbound` with a scaled quantity (millionths)."""
        pair = (item.id, location.id)
        parts, short = self._allocate(
            pair, location, quantity, lot_id, use_lot, allow_expired, only_lots, meta.occurred_at
        )
        policy = self._policies.get(item.id) or self.policy(item)
        if short > 0 and policy == NegativeStockPolicy.FORBID:
            self.problems.append(
                LineProblem(
                    index,
                    InsufficientStock(item, location, to_decimal_scaled(short, QUANTITY_SCALE)),
                )
            )
            return None
        site_id = self._site_ids.get(location.id) or self.site_id(location)
        valuation = self.valuations[pair]
        add = self._add
        moves = []
        for part_lot, part_quantity in parts:
            value, unit_cost = valuation.issue(part_quantity)
            moves.append(
                add(pair, site_id, part_lot, -part_quantity, unit_cost, value, reason, meta)
            )
        if valuation.q < 0 and policy == NegativeStockPolicy.WARN:
            self.negatives.append(NegativeLine(pair[0], pair[1], valuation.quantity))
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
        quantity = from_decimal_scaled(original.quantity, QUANTITY_SCALE)
        value = from_decimal_scaled(original.value, MONEY_SCALE)
        if quantity > 0 and self.policy(item) == NegativeStockPolicy.FORBID:
            balance = self._balance(pair, original.lot_id)
            short = quantity - max(balance.quantity, 0)
            if short > 0:
                self.problems.append(
                    LineProblem(
                        index,
                        InsufficientStock(item, location, to_decimal_scaled(short, QUANTITY_SCALE)),
                    )
                )
                return None
        self.valuations[pair].apply_exact(-quantity, -value)
        move = self._move(
            item=item,
            location=location,
            lot_id=original.lot_id,
            quantity=-quantity,
            unit_cost=from_decimal_scaled(original.unit_cost, COST_SCALE),
            value=-value,
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
        scaled = from_decimal_scaled(value, MONEY_SCALE)
        self.valuations[(item.pk, location.pk)].revalue(scaled)
        return self._move(
            item=item,
            location=location,
            lot_id=None,
            quantity=0,
            unit_cost=from_decimal_scaled(cost(unit_cost), COST_SCALE),
            value=scaled,
            reason=reason,
            meta=meta,
        )

    # --- writing ---------------------------------------------------------------------------
    @contextmanager
    def streaming(self, posting: StockPosting) -> Iterator[Callable[[], None]]:
        """Send the moves to the database while the caller books them, so that PostgreSQL
        inserts them while Python works on the next lines; yields `send`, to be called every
        few hundred lines. `flush` then writes only the balances and valuations, and reads
        the moves' ids back.

        On PostgreSQL one `COPY` stays open for the whole block (the ids come from the column's
        default), so nothing inside may run another statement: whatever the operations read
        (sites, item classes, units, lots) must be in memory. A posting whose lines have
        problems, or whose moves break a constraint (a key posted before), still fails as a
        whole: the caller's transaction rolls back. Elsewhere the block does nothing and
        `flush` inserts the moves as usual.
        """
        if connection.vendor != "postgresql" or self._flushed or self.moves:
            yield _no_send
            return
        for location in self.locations.values():  # load now, not while the COPY is open
            location.site  # noqa: B018
        for item in self.items.values():
            item.item_class  # noqa: B018
            item.base_unit  # noqa: B018
        posting_id = posting.pk
        moves = self.moves
        table = StockMove._meta.db_table
        sent = 0
        numbers: tuple[dict[int, bytes], dict[int, bytes]] = ({}, {})
        with connection.cursor() as cursor:
            with connection.wrap_database_errors:
                with cursor.cursor.copy(
                    f"COPY {table} ({', '.join(MOVE_FIELDS[1:])}) FROM STDIN (FORMAT BINARY)"
                ) as copy:
                    copy.write(_COPY_SIGNATURE)

                    def send() -> None:
                        nonlocal sent
                        if sent < len(moves):
                            chunk = moves[sent:]
                            sent = len(moves)
                            for move in chunk:
                                move.posting_id = posting_id
                            copy.write(copy_rows(chunk, with_id=False, numbers=numbers))

                    yield send
                    send()
                    # Python's share of `flush` now, while the server inserts the last rows.
                    self._writes = self._work_out_writes()
                    copy.write(_COPY_TRAILER)
        # The ids are read back by `flush`, together with its writes.
        self._ids_of = posting_id
        self._streamed = True

    def _read_ids(self, cursor: Any) -> None:
        """Set the ids of streamed moves from `cursor`, which ran `_ids_statement`."""
        ids = cursor.fetchall()
        moves = self.moves
        if len(ids) != len(moves):  # pragma: no cover - defensive
            raise RuntimeError("The moves sent do not match the moves booked.")
        # The column default draws the ids in the order the rows arrive.
        for move, (new_id,) in zip(moves, ids, strict=True):
            move.id = new_id
        self._ids_of = None

    def _work_out_writes(self) -> _Writes:
        """What `flush` will write for the balances and valuations booked so far. On PostgreSQL
        the statements are built too: a stream does this before it ends, so that Python works
        while the server inserts the last moves."""
        new_rows: list[tuple[Pair, _Balance]] = []
        changed_rows: list[_Balance] = []
        touched: dict[Pair, None] = {}
        emptied: set[Pair] = set()  # pairs with a balance now empty: left out of the cache
        for pair, balance in self._dirty:
            touched[pair] = None
            if balance.pk is None:
                new_rows.append((pair, balance))
            else:
                changed_rows.append(balance)
            if not (balance.quantity or balance.value):
                emptied.add(pair)
        balances = None
        if connection.vendor == "postgresql":  # there new balances never join changed_rows
            balances = _update_statement(
                StockBalance,
                [balance.pk for balance in changed_rows],
                {
                    "quantity": ([b.quantity for b in changed_rows], QUANTITY_PLACES),
                    "value": ([b.value for b in changed_rows], MONEY_PLACES),
                },
            )
        revision = new_revision()
        valuation_rows = [self._valuation_rows[pair] for pair in touched]
        states = [self.valuations[pair] for pair in touched]
        valuation_columns: dict[str, tuple[Sequence[int | None], int]] = {
            "quantity": ([state.q for state in states], QUANTITY_PLACES),
            "value": ([state.v for state in states], MONEY_PLACES),
            "average_cost": ([state.average for state in states], COST_PLACES),
            "revision": ([revision] * len(states), 0),
        }
        valuations = None
        if connection.vendor == "postgresql":
            valuations = _update_statement(
                ItemValuation, [row.pk for row in valuation_rows], valuation_columns
            )
        return _Writes(
            booked=(len(self.moves), len(self._dirty)),
            new_rows=new_rows,
            changed_rows=changed_rows,
            emptied=emptied,
            balances=balances,
            valuation_rows=valuation_rows,
            revision=revision,
            valuation_columns=valuation_columns,
            valuations=valuations,
        )

    def flush(self, posting: StockPosting) -> list[MoveRow]:
        """Insert the moves and write the changed balances and valuations.

        The valuations of every item × location with moves get a new revision, and the session
        hands its balances to `BALANCES` at that revision: the session is done after this.
        """
        if self._flushed:
            raise RuntimeError("A ledger session is written once.")
        self._flushed = True
        posting_id = posting.pk
        if not self._streamed:
            for move in self.moves:
                move.posting_id = posting_id
            insert_moves(self.moves)
        writes = self._writes
        if writes is None or writes.booked != (len(self.moves), len(self._dirty)):
            writes = self._work_out_writes()
        self._writes = None
        if connection.vendor == "postgresql":
            self._write_pipelined(writes)
            return self.moves
        if writes.new_rows:
            _insert_balances(writes.new_rows, writes.changed_rows)
        # SQLite: the new balances' empty rows may join the changed ones.
        changed_rows = writes.changed_rows
        _write(
            StockBalance,
            [balance.pk for balance in changed_rows],
            {
                "quantity": ([b.quantity for b in changed_rows], QUANTITY_PLACES),
                "value": ([b.value for b in changed_rows], MONEY_PLACES),
            },
        )
        for row in writes.valuation_rows:
            row.revision = writes.revision
        _write(ItemValuation, [row.pk for row in writes.valuation_rows], writes.valuation_columns)
        for _, balance in self._dirty:
            balance.is_dirty = False
        self._keep_balances(writes.emptied)
        return self.moves

    def _write_pipelined(self, writes: _Writes) -> None:
        """PostgreSQL's writes of `flush`, sent at once (psycopg's pipeline mode): the
        upsert of new balances, the balance and valuation updates and the read of streamed
        move ids. Python hands the balances to the cache and sets the ids while the server
        works through them; leaving the pipeline waits for the last one (and raises its
        error, if any: the caller's transaction then rolls back)."""
        keyed = {(pair[0], pair[1], balance.lot_id): balance for pair, balance in writes.new_rows}
        upserts = _upsert_statements(
            [(*key, balance.quantity, balance.value) for key, balance in keyed.items()]
        )
        updates = [statement for statement in (writes.balances, writes.valuations) if statement]
        with ExitStack() as stack:
            stack.enter_context(connection.wrap_database_errors)
            cursors = [
                stack.enter_context(connection.cursor())
                for _ in range(len(upserts) + len(updates) + 1)
            ]
            ids, posting_id = cursors.pop(), self._ids_of
            # Results come back in this order: the new balances' ids first, then the moves'
            # ids (set while the server updates), then the updates.
            with connection.connection.pipeline():
                for cursor, (statement, _) in zip(cursors, upserts, strict=False):
                    cursor.execute(*statement)
                if posting_id is not None:
                    ids.execute(*_ids_statement(posting_id))
                for cursor, statement in zip(cursors[len(upserts) :], updates, strict=False):
                    cursor.execute(*statement)
                if upserts:
                    for cursor, (_, count) in zip(cursors, upserts, strict=False):
                        for key, pk in _upserted_ids(cursor.fetchall(), count):
                            keyed[key].pk = pk
                if posting_id is not None:
                    self._read_ids(ids)
                for row in writes.valuation_rows:
                    row.revision = writes.revision
                for _, balance in self._dirty:
                    balance.is_dirty = False
                self._keep_balances(writes.emptied)

    def _keep_balances(self, emptied: set[Pair]) -> None:
        """Hand every pair's balances, as now written, to the process's cache, without empty
        ones (`lock_balances` leaves them out too)."""
        fefo = self._fefo
        put = BALANCES.put
        database = self._database
        for pair, by_lot in self.balances.items():
            row = self._valuation_rows.get(pair)
            if row is None:  # pragma: no cover - every balance belongs to a locked pair
                continue
            ordered = fefo.get(pair)
            if ordered is None:
                # A lot was added (maybe an empty one, by `exact`): sort again.
                ordered = sorted(
                    (b for b in by_lot.values() if b.quantity or b.value), key=_Balance.fefo
                )
                if any(b.pk is None for b in ordered):  # pragma: no cover - defensive
                    continue
                by_lot = {b.lot_id: b for b in ordered}
            elif pair in emptied:
                # A balance ran empty: drop it, the others keep their (FEFO) order.
                ordered = [b for b in ordered if b.quantity or b.value]
                by_lot = {b.lot_id: b for b in ordered}
            put(database, pair, row.revision, by_lot, ordered)


def _insert_balances(rows: list[tuple[Pair, _Balance]], changed_rows: list[_Balance]) -> None:
    """Write balances the session did not load and set their ids. An empty row (0 / 0) of the
    same key may exist (a used-up lot is not read): it is overwritten. Only empty rows can be
    there: the session read (or held) every other row of its locked pairs, so anything else is
    a bug and fails loudly (the transaction rolls back)."""
    keyed = {(pair[0], pair[1], balance.lot_id): balance for pair, balance in rows}
    if connection.vendor == "postgresql":
        for (item_id, location_id, lot_id), pk in _upsert_empty_balances(
            [(*key, balance.quantity, balance.value) for key, balance in keyed.items()]
        ).items():
            keyed[(item_id, location_id, lot_id)].pk = pk
        return
    lots = {lot for _, _, lot in keyed}
    lot_filter = Q(lot_id__in=lots - {None})
    if None in lots:
        lot_filter |= Q(lot_id__isnull=True)
    for pk, item_id, location_id, lot_id in StockBalance.objects.filter(
        lot_filter,
        item_id__in={item for item, _, _ in keyed},
        location_id__in={location for _, location, _ in keyed},
        quantity=0,
        value=0,
    ).values_list("id", "item_id", "location_id", "lot_id"):
        found = keyed.pop((item_id, location_id, lot_id), None)
        if found is not None:
            found.pk = pk
            changed_rows.append(found)
    models = [
        StockBalance(
            item_id=item_id,
            location_id=location_id,
            lot_id=lot_id,
            quantity=to_decimal_scaled(balance.quantity, QUANTITY_SCALE),
            value=to_decimal_scaled(balance.value, MONEY_SCALE),
        )
        for (item_id, location_id, lot_id), balance in keyed.items()
    ]
    StockBalance.objects.bulk_create(models, batch_size=2000)
    for model, balance in zip(models, keyed.values(), strict=True):
        balance.pk = model.pk


def _upsert_empty_balances(
    rows: list[tuple[int, int, int | None, int, int]],
) -> dict[tuple[int, int, int | None], int]:
    """INSERT … ON CONFLICT DO UPDATE of balances whose row may exist only empty; their ids.
    Quantities and values are scaled integers (millionths, ten-thousandths)."""
    ids: dict[tuple[int, int, int | None], int] = {}
    for statement, count in _upsert_statements(rows):
        with connection.cursor() as cursor:
            cursor.execute(*statement)
            returned = cursor.fetchall()
        ids.update(_upserted_ids(returned, count))
    return ids


def _upserted_ids(
    returned: list[tuple[int, int, int, int | None]], count: int
) -> Iterator[tuple[tuple[int, int, int | None], int]]:
    """((item, location, lot), id) of the rows an upsert of `count` balances returned."""
    if len(returned) != count:
        raise RuntimeError("A balance not read by this posting is not empty.")
    return (((item, location, lot), pk) for pk, item, location, lot in returned)


def _upsert_statements(
    rows: list[tuple[int, int, int | None, int, int]],
) -> list[tuple[tuple[str, list[str]], int]]:
    """The statements of `_upsert_empty_balances` (with and without a lot), each with the
    number of rows it must return (id, item, location, lot)."""
    table = StockBalance._meta.db_table
    statements = []
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
            f"SELECT i, l, lot, q * {_unscale(QUANTITY_PLACES)}, v * {_unscale(MONEY_PLACES)} "
            "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[]) "
            f"AS w(i, l, lot, q, v) ON CONFLICT {target} DO UPDATE "
            "SET quantity = EXCLUDED.quantity, value = EXCLUDED.value "
            "WHERE t.quantity = 0 AND t.value = 0 "
            "RETURNING t.id, t.item_id, t.location_id, t.lot_id"
        )
        params = [pg_array(row[n] for row in chosen) for n in range(5)]
        statements.append(((sql, params), len(chosen)))
    return statements


def _ids_statement(posting_id: int) -> tuple[str, list[int]]:
    """The ids of a posting's moves in the order they were inserted."""
    return (
        f"SELECT id FROM {StockMove._meta.db_table} WHERE posting_id = %s ORDER BY id",  # noqa: S608
        [posting_id],
    )


# Binary COPY of MOVE_FIELDS, built here rather than by psycopg's `write_row` (a third of the
# cost per row): integers are packed, and the few distinct numbers, times and reasons of a
# batch are encoded once each. Layout: PostgreSQL's binary COPY (signature, then per row a
# 16-bit field count and per field a 32-bit length, -1 for NULL, and the value; trailer -1).
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\0" + bytes(8)
_COPY_TRAILER = b"\xff\xff"
_NULL = b"\xff\xff\xff\xff"
_ROW_HEAD = struct.Struct(">hiqiqiqiqiq")  # field count, id, posting, item, site, location
_ROW_HEAD_WITHOUT_ID = struct.Struct(">hiqiqiqiq")  # field count, posting, item, site, location
_INT8 = struct.Struct(">iq")
_INT4 = struct.Struct(">ii")
_PG_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def _int8(value: int | None) -> bytes:
    return _NULL if value is None else _INT8.pack(8, value)


def _text(value: str) -> bytes:
    data = value.encode()
    return len(data).to_bytes(4, "big") + data


# A numeric in binary: length, digit count, weight (the power of 10000 of the first digit),
# sign, display scale, then base-10000 digits; no leading or trailing zero digits.
_NUMERIC_HEAD = ">ihhHh"
_NUMERIC_PACKS = [struct.Struct(_NUMERIC_HEAD + "H" * count).pack for count in range(12)]
_NEGATIVE = 0x4000


def numeric_scaled(number: int, places: int) -> bytes:
    """The binary numeric (with its length) of `number` × 10^-`places` (a scaled integer)."""
    sign = 0
    if number < 0:
        sign, number = _NEGATIVE, -number
    if not number:
        return _NUMERIC_PACKS[0](8, 0, 0, 0, places)
    fraction_digits = -(-places // 4)
    number *= 10 ** (4 * fraction_digits - places)
    digits: list[int] = []
    while number:
        number, digit = divmod(number, 10_000)
        digits.append(digit)
    weight = len(digits) - fraction_digits - 1
    while not digits[0]:  # trailing zeros (the list is least significant first)
        del digits[0]
    digits.reverse()
    count = len(digits)
    return _NUMERIC_PACKS[count](8 + 2 * count, count, weight, sign, places, *digits)


_PACK_1 = _NUMERIC_PACKS[1]
_PACK_2 = _NUMERIC_PACKS[2]
_PACK_3 = _NUMERIC_PACKS[3]
_PACK_4 = _NUMERIC_PACKS[4]
_COST_WHOLE = 10**COST_PLACES  # a cost of 1, scaled
_COST_FAST_LIMIT = 10_000 * _COST_WHOLE  # below it a cost is at most four base-10000 digits


def _cost_numeric(value: int) -> bytes:
    """`numeric_scaled(value, 10)` (a unit cost), with a fast path below 10,000: one whole
    base-10000 digit and three of fraction (the 10 places padded to 12), no loop."""
    if not 0 < value < _COST_FAST_LIMIT:
        return numeric_scaled(value, COST_PLACES)
    whole, fraction = divmod(value, _COST_WHOLE)
    high, rest = divmod(fraction * 100, 100_000_000)
    middle, low = divmod(rest, 10_000)
    # Leading zero digits are left out (the weight says where the first one is), and so are
    # trailing ones; zeros between are kept.
    if whole:
        if low:
            return _PACK_4(16, 4, 0, 0, COST_PLACES, whole, high, middle, low)
        if middle:
            return _PACK_3(14, 3, 0, 0, COST_PLACES, whole, high, middle)
        if high:
            return _PACK_2(12, 2, 0, 0, COST_PLACES, whole, high)
        return _PACK_1(10, 1, 0, 0, COST_PLACES, whole)
    if high:
        if low:
            return _PACK_3(14, 3, -1, 0, COST_PLACES, high, middle, low)
        if middle:
            return _PACK_2(12, 2, -1, 0, COST_PLACES, high, middle)
        return _PACK_1(10, 1, -1, 0, COST_PLACES, high)
    if middle:
        if low:
            return _PACK_2(12, 2, -2, 0, COST_PLACES, middle, low)
        return _PACK_1(10, 1, -2, 0, COST_PLACES, middle)
    return _PACK_1(10, 1, -3, 0, COST_PLACES, low)


def _money_numeric(value: int) -> bytes:
    """`numeric_scaled(value, 4)`, with a fast path below 10,000."""
    magnitude = -value if value < 0 else value
    if magnitude >= 100_000_000:
        return numeric_scaled(value, MONEY_PLACES)
    sign = _NEGATIVE if value < 0 else 0
    whole, fraction = divmod(magnitude, 10_000)
    if whole:
        if fraction:
            return _PACK_2(12, 2, 0, sign, MONEY_PLACES, whole, fraction)
        return _PACK_1(10, 1, 0, sign, MONEY_PLACES, whole)
    if fraction:
        return _PACK_1(10, 1, -1, sign, MONEY_PLACES, fraction)
    return _NUMERIC_PACKS[0](8, 0, 0, 0, MONEY_PLACES)


def _timestamptz(value: dt.datetime) -> bytes:
    if value.tzinfo is None:
        raise ValueError("A move's time needs its time zone.")
    delta = value - _PG_EPOCH
    return _INT8.pack(8, (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds)


def copy_buffer(rows: list[MoveRow]) -> bytes:
    """The binary COPY data of `rows` (ids and posting set), signature and trailer included."""
    return _COPY_SIGNATURE + copy_rows(rows) + _COPY_TRAILER


def _no_send() -> None:
    return None


def copy_rows(
    rows: list[MoveRow],
    *,
    with_id: bool = True,
    numbers: tuple[dict[int, bytes], dict[int, bytes]] | None = None,
) -> bytes:
    """The binary COPY rows of `rows` (posting set; ids too unless `with_id` is False, when
    the column's default draws them), without signature or trailer. `numbers` caches encoded
    quantities and unit costs across calls (values are nearly all distinct: not cached)."""
    quantities, costs = numbers if numbers is not None else ({}, {})
    money_numeric = _money_numeric
    texts: dict[tuple[str, str, str, str], bytes] = {}
    tails: dict[tuple[dt.datetime, dt.datetime, int | None, int | None], bytes] = {}
    head = _ROW_HEAD.pack
    head_without_id = _ROW_HEAD_WITHOUT_ID.pack
    int8 = _INT8.pack
    int4 = _INT4.pack
    null = _NULL
    parts: list[bytes] = []
    add = parts.extend
    d = t = b""
    last_described: tuple[str, str, str, str] | None = None
    last_occurred: dt.datetime | None = None
    last_recorded: dt.datetime | None = None
    last_actor: int | None = -1
    last_reverses: int | None = -1
    for row in rows:
        lot_id = row.lot_id
        quantity, unit_cost = row.q, row.c
        if (q := quantities.get(quantity)) is None:
            q = quantities[quantity] = numeric_scaled(quantity, QUANTITY_PLACES)
        if (c := costs.get(unit_cost)) is None:
            c = costs[unit_cost] = _cost_numeric(unit_cost)
        v = money_numeric(row.v)
        # A line's moves share all of these, and most lines of a batch share the times and
        # the actor: compare with the previous row before hashing (an aware datetime's hash
        # asks for its offset).
        described = (row.reason, row.source_type, row.source_id, row.source_number)
        if described != last_described:
            found = texts.get(described)
            if found is None:
                found = texts[described] = b"".join(_text(text) for text in described)
            d = found
            last_described = described
        occurred_at, recorded_at = row.occurred_at, row.recorded_at
        actor_id, reverses_id = row.actor_id, row.reverses_id
        if (
            occurred_at is not last_occurred
            or recorded_at is not last_recorded
            or actor_id != last_actor
            or reverses_id != last_reverses
        ):
            moments = (occurred_at, recorded_at, actor_id, reverses_id)
            found = tails.get(moments)
            if found is None:
                found = tails[moments] = (
                    _timestamptz(occurred_at)
                    + _timestamptz(recorded_at)
                    + _int8(actor_id)
                    + _int8(reverses_id)
                )
            t = found
            last_occurred, last_recorded = occurred_at, recorded_at
            last_actor, last_reverses = actor_id, reverses_id
        key = row.idempotency_key.encode()
        add(
            (
                head(
                    19,
                    8,
                    row.id,
                    8,
                    row.posting_id,
                    8,
                    row.item_id,
                    8,
                    row.site_id,
                    8,
                    row.location_id,
                )
                if with_id
                else head_without_id(
                    18, 8, row.posting_id, 8, row.item_id, 8, row.site_id, 8, row.location_id
                ),
                null if lot_id is None else int8(8, lot_id),
                q,
                c,
                v,
                d,
                len(key).to_bytes(4, "big"),
                key,
                int4(4, row.key_line),
                t,
            )
        )
    return b"".join(parts)


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
            data = copy_buffer(rows)
            with connection.wrap_database_errors:
                with cursor.cursor.copy(
                    f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)"
                ) as copy:
                    copy.write(data)
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


def scaled_text(number: int, places: int) -> str:
    """A scaled integer as decimal text with `places` places ("-1.500000"), for SQL."""
    digits = str(-number if number < 0 else number).rjust(places + 1, "0")
    return f"{'-' if number < 0 else ''}{digits[:-places]}.{digits[-places:]}"


def _unscale(places: int) -> str:
    """The SQL literal 10^-`places` ("0.000001"): a scaled integer times it is exact."""
    return f"0.{'1'.rjust(places, '0')}"


def _write(
    model: Any,
    ids: Sequence[int | None],
    columns: dict[str, tuple[Sequence[int | None], int]],
) -> None:
    """Set `columns` of the rows `ids`: per column, integers scaled by 10^places (places 0:
    plain integers), None for NULL. One UPDATE … FROM unnest(arrays) on PostgreSQL, which
    scales them back (exactly: a numeric times 10^-places); one executemany elsewhere."""
    if not ids:
        return
    table = model._meta.db_table
    names = [model._meta.get_field(name).column for name in columns]
    if connection.vendor != "postgresql":
        assignments = ", ".join(f"{column} = %s" for column in names)
        texts = [
            values
            if not places
            else [None if value is None else scaled_text(value, places) for value in values]
            for values, places in columns.values()
        ]
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {table} SET {assignments} WHERE id = %s",  # noqa: S608
                [list(row) for row in zip(*texts, ids, strict=True)],
            )
        return
    _execute(_update_statement(model, ids, columns))


def _update_statement(
    model: Any,
    ids: Sequence[int | None],
    columns: dict[str, tuple[Sequence[int | None], int]],
) -> tuple[str, list[str]] | None:
    """PostgreSQL's UPDATE … FROM unnest(arrays) of `_write`, with its parameters (None: no
    rows)."""
    if not ids:
        return None
    table = model._meta.db_table
    names = [model._meta.get_field(name).column for name in columns]
    # Costs (24 digits) can pass bigint's range once scaled; the other columns cannot.
    arrays = ", ".join(
        ["%s::bigint[]"]
        + [
            "%s::numeric[]" if places > QUANTITY_PLACES else "%s::bigint[]"
            for _, places in columns.values()
        ]
    )
    assignments = ", ".join(
        f"{column} = v.{column}" + (f" * {_unscale(places)}" if places else "")
        for column, (_, places) in zip(names, columns.values(), strict=True)
    )
    sql = (
        f"UPDATE {table} AS t SET {assignments} "  # noqa: S608 (identifiers from the model)
        f"FROM unnest({arrays}) AS v({', '.join(['id', *names])}) WHERE t.id = v.id"
    )
    return sql, [pg_array(ids), *(pg_array(values) for values, _ in columns.values())]


def _execute(statement: tuple[str, list[str]] | None) -> None:
    if statement is not None:
        with connection.cursor() as cursor:
            cursor.execute(*statement)
