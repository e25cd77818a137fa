"""Orders and stock: reserve at acceptance, deplete at completion, restock after a cancellation.

All ledger calls go through the inventory services as the system actor (the person or till
that moved the order was checked by the channels permission); each carries an idempotency key
derived from the order, so a replayed event never posts twice:

- sale:        ``ch:o<order id>:D<line>:I<item>``   (one move per ingredient of the lines
                                                     depleted together; ``<line>`` is the
                                                     lowest of them; decision 0013)
- batch sale:  ``ch:o<first order id>:B<date>T<hhmm>:L<location>:I<item>`` (the orders of a
               batch summed per business date, quarter hour, location and item; decision 0017)
- reservation: ``ch:o<order id>:R:I<item>``
- restock:     ``ch:o<order id>:X<tag>:...``        (reversal, adjustment, waste)

The order's id (one per account and external id) is written with ten digits, so new orders'
keys sort after the older ones: the ledger's key index grows at its end instead of at random
places (a till's UUID), which is what kept a million orders' moves from fitting the server's
buffers (docs/benchmarks.md, 2026-12-05 late).

The caller holds the order's row lock (`select_for_update`) and an open transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from typing import Any

from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from django.utils.translation import gettext as _

from backroom.catalog.batch import catalog_batch
from backroom.catalog.choices import ItemKind, Storage
from backroom.catalog.models import Item, Modifier
from backroom.catalog.recipes import PRECISION, Exploder, PlannedLine, plan_lines
from backroom.channels.choices import AfterDepletion
from backroom.channels.events import OrderDepleted, OrderRestocked
from backroom.channels.models import Order, OrderLine
from backroom.events.services import publish
from backroom.inventory import services as inventory
from backroom.inventory.choices import LocationKind, MoveReason, ReservationStatus
from backroom.inventory.exceptions import InsufficientStock
from backroom.inventory.models import (
    COST_PLACES,
    ItemValuation,
    Location,
    Reservation,
    StockMove,
)
from backroom.inventory.periods import PeriodClosed
from backroom.kernel.actors import SYSTEM
from backroom.kernel.bulk import update_rows
from backroom.kernel.exceptions import DomainError
from backroom.kernel.money import QUANTITY_PLACES

ZERO = Decimal(0)
SOURCE_TYPE = "channels.order"
BATCH_SOURCE_TYPE = "channels.orders"
_STEP = Decimal(1).scaleb(-QUANTITY_PLACES)
_COST_STEP = Decimal(1).scaleb(-COST_PLACES)
logger = logging.getLogger(__name__)


def order_key(order: Order) -> str:
    return f"ch:o{order.pk:010d}"


def batch_key(first: int) -> str:
    """The start of the keys of the sale moves of a batch named by its first order."""
    return f"ch:o{first:010d}:B"


def sale_moves(order: Order, lines: Iterable[OrderLine]) -> QuerySet[StockMove]:
    """The sale moves holding these lines' ingredients: the order's own, and those of the
    batches some were depleted in (on the order's business date), which hold other orders'
    ingredients too."""
    moves = Q(source_type=SOURCE_TYPE, source_id=str(order.pk))
    for batch in {line.sale_batch for line in lines if line.sale_batch is not None}:
        moves |= Q(
            source_type=BATCH_SOURCE_TYPE,
            source_id=str(batch),
            idempotency_key__startswith=f"{batch_key(batch)}{order.business_date:%Y%m%d}",
        )
    return StockMove.objects.filter(moves, reason=MoveReason.SALE)


def _source(order: Order) -> inventory.Source:
    return inventory.Source(SOURCE_TYPE, str(order.pk), str(order)[:64])


# Where a store keeps an item when it has none on hand anywhere: by the item's storage.
_KIND_BY_STORAGE = {
    Storage.CHILLED: LocationKind.WALK_IN,
    Storage.FROZEN: LocationKind.FREEZER,
    Storage.AMBIENT: LocationKind.DRY_STORE,
}


class StockPlaces:
    """Where an order's ingredients are taken from, item by item (see docs/channels.md,
    "Depletion"): the account's location when it names one; otherwise, at the order's store,
    the active stock location holding the most of the item; when none holds any, the location
    for the item's storage (chilled → walk-in, frozen → freezer, ambient → dry store; retail
    goods → the bar); else the store's first active stock location by code. Never the
    in-transit location. Read once per store and batch."""

    def __init__(self) -> None:
        self._locations: dict[int, list[Location]] = {}
        self._most: dict[int, dict[int, int]] = {}
        self._chosen: dict[tuple[int, int], int] = {}

    def _load(self, site_id: int) -> list[Location]:
        if site_id not in self._locations:
            self._locations[site_id] = list(
                Location.objects.filter(site_id=site_id, is_active=True)
                .exclude(kind=LocationKind.IN_TRANSIT)
                .order_by("code", "id")
            )
            most: dict[int, tuple[Decimal, int]] = {}
            usable = {location.pk for location in self._locations[site_id]}
            for item_id, location_id, quantity in ItemValuation.objects.filter(
                location_id__in=usable, quantity__gt=0
            ).values_list("item_id", "location_id", "quantity"):
                if item_id not in most or quantity > most[item_id][0]:
                    most[item_id] = (quantity, location_id)
            self._most[site_id] = {item: location for item, (_q, location) in most.items()}
        return self._locations[site_id]

    def has_any(self, order: Order) -> bool:
        return order.account.location_id is not None or bool(self._load(order.site_id))

    def location_id(self, order: Order, item_id: int) -> int:
        if order.account.location_id is not None:
            return order.account.location_id
        key = (order.site_id, item_id)
        if key not in self._chosen:
            locations = self._load(order.site_id)
            chosen = self._most[order.site_id].get(item_id)
            if chosen is None:
                item = Item.objects.only("kind", "storage").get(pk=item_id)
                kind = (
                    LocationKind.BAR
                    if item.kind == ItemKind.RETAIL
                    else _KIND_BY_STORAGE.get(Storage(item.storage), LocationKind.DRY_STORE)
                )
                matching = [location for location in locations if location.kind == kind]
                chosen = (matching or locations)[0].pk
            self._chosen[key] = chosen
        return self._chosen[key]


def _net(line: OrderLine) -> Decimal:
    return max(line.quantity - line.refunded_quantity, ZERO)


def _modifier_codes(line: OrderLine) -> list[str]:
    codes: list[str] = []
    for entry in line.modifiers:
        code = entry.get("modifier")
        if code:
            quantity = entry.get("quantity") or 1
            times = 1 if quantity == 1 or quantity == "1" else max(int(Decimal(str(quantity))), 1)
            codes.extend([code] * times)
    return codes


_MODIFIER_PREFETCH = (
    "effects__item__base_unit",
    "effects__item__units",
    "effects__replacement__base_unit",
    "effects__replacement__units",
)


@dataclass
class _Exploder(Exploder):
    """An `Exploder` that also keeps the plans of dishes made with modifiers, so a batch plans
    "noodles + extra beef" once however many bowls it sold."""

    _modified: dict[tuple[int, tuple[int, ...]], list[PlannedLine]] = field(default_factory=dict)

    def add(
        self,
        totals: dict[int, Decimal],
        item: Item,
        quantity: Decimal,
        modifiers: Sequence[Modifier] = (),
    ) -> None:
        recipe = self.recipe(item) if modifiers else None
        if recipe is None:
            super().add(totals, item, quantity, modifiers)
            return
        key = (item.pk, tuple(modifier.pk for modifier in modifiers))
        if key not in self._modified:
            self._modified[key] = plan_lines(recipe, modifiers)
        with localcontext() as context:
            context.prec = PRECISION
            for line in self._modified[key]:
                self._accumulate(line.component, line.base_quantity * quantity, [item], totals)


_LineKey = tuple[dt.date, int, tuple[str, ...], Decimal]
_EXPLODED: dict[str, Any] = {}  # shared by requests, see ExplosionCache
_MAX_SHARED = 50_000


def catalog_stamp() -> tuple[Any, ...]:
    """What explosions (and the sold-out counts' needs) depend on, summarised in one query:
    the row count and the latest `updated_at` of units, items, item units, item classes,
    recipes, recipe lines, modifiers and their effects. Every catalog write goes through the
    services' `save()` (which sets `updated_at`), and a deletion changes a count, so any
    change gives another stamp."""
    from backroom.catalog.models import (
        ItemClass,
        ItemUnit,
        ModifierEffect,
        Recipe,
        RecipeLine,
        Unit,
    )

    parts = []
    for model in (Unit, Item, ItemUnit, ItemClass, Recipe, RecipeLine, Modifier, ModifierEffect):
        table = connection.ops.quote_name(model._meta.db_table)  # our own tables' names
        parts.append(f"(SELECT count(*) FROM {table})")  # noqa: S608
        parts.append(f"(SELECT max(updated_at) FROM {table})")  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts))
        row = cursor.fetchone()
    return tuple(row)


def forget_explosions(**_kwargs: Any) -> None:
    """Drop the shared explosions (this process saved or deleted a catalog row; other
    processes notice the change through `catalog_stamp`)."""
    _EXPLODED.update(stamp=None, lines={}, exploders={}, modifiers={}, items={})


def _watch_catalog() -> None:
    from backroom.catalog.models import ItemUnit, ModifierEffect, Recipe, RecipeLine, Unit

    for model in (Unit, Item, ItemUnit, Recipe, RecipeLine, Modifier, ModifierEffect):
        for signal in (post_save, post_delete):
            signal.connect(forget_explosions, sender=model, dispatch_uid=f"channels.{model}")


_watch_catalog()
forget_explosions()


class ExplosionCache:
    """Recipe explosions shared by the orders of one batch: an `Exploder` (recipe cache) per
    business date, the modifiers and menu items read once, and each distinct line (date, menu
    item, modifiers, quantity) exploded once.

    With `shared`, the exploded lines are also kept across requests in this process, for as
    long as the catalog is unchanged (`catalog_stamp`, one query per cache): a till posting
    one order at a time then explodes nothing it sold before."""

    def __init__(self, *, shared: bool = False) -> None:
        self._exploders: dict[dt.date, Exploder] = {}
        self._modifiers: dict[str, Modifier | None] = {}
        self._items: dict[int, Item] = {}
        self._lines: dict[_LineKey, dict[int, Decimal] | str] = {}
        if shared:
            stamp = catalog_stamp()
            if _EXPLODED["stamp"] != stamp or len(_EXPLODED["lines"]) > _MAX_SHARED:
                forget_explosions()
                _EXPLODED["stamp"] = stamp
            # Read-only once loaded: recipes, items and modifiers as of this stamp.
            self._exploders = _EXPLODED["exploders"]
            self._modifiers = _EXPLODED["modifiers"]
            self._items = _EXPLODED["items"]
            self._lines = _EXPLODED["lines"]

    @staticmethod
    def key(day: dt.date, line: OrderLine, quantity: Decimal) -> _LineKey:
        assert line.menu_item_id is not None
        return (day, line.menu_item_id, tuple(_modifier_codes(line)), quantity)

    def knows(self, day: dt.date, line: OrderLine, quantity: Decimal) -> bool:
        return self.key(day, line, quantity) in self._lines

    def load(self, lines: Iterable[OrderLine]) -> None:
        """Read the menu items and modifiers of these lines that are not known yet (two queries)."""
        wanted = [line for line in lines if line.menu_item_id is not None]
        items = {line.menu_item_id for line in wanted} - self._items.keys()
        if items:
            self._items.update(
                Item.objects.select_related("base_unit", "item_class").in_bulk(list(items))
            )
        codes = {code for line in wanted for code in _modifier_codes(line)} - self._modifiers.keys()
        if codes:
            found = Modifier.objects.filter(code__in=codes).prefetch_related(*_MODIFIER_PREFETCH)
            rows = {row.code: row for row in found}
            self._modifiers.update({code: rows.get(code) for code in codes})

    def knows_key(self, key: _LineKey) -> bool:
        return key in self._lines

    def explode(self, day: dt.date, line: OrderLine, quantity: Decimal) -> dict[int, Decimal] | str:
        """{stocked item id: base quantity (ledger places)} for `quantity` of the line's menu
        item with its modifiers, or why it cannot be exploded."""
        key = self.key(day, line, quantity)
        if key not in self._lines:
            self.load([line])
            self._lines[key] = self._explode(*key)
        return self._lines[key]

    def explode_key(self, key: _LineKey) -> dict[int, Decimal] | str:
        """`explode` for a line's `key` whose menu item and modifiers are loaded."""
        found = self._lines.get(key)
        if found is None:
            found = self._lines[key] = self._explode(*key)
        return found

    def _explode(
        self, day: dt.date, item_id: int, codes: tuple[str, ...], quantity: Decimal
    ) -> dict[int, Decimal] | str:
        missing = [code for code in codes if self._modifiers.get(code) is None]
        if missing:
            return _("There is no modifier %(code)s.") % {"code": ", ".join(missing)}
        exploder = self._exploders.get(day)
        if exploder is None:
            exploder = self._exploders[day] = _Exploder(day)
        totals: dict[int, Decimal] = defaultdict(Decimal)
        try:
            exploder.add(
                totals,
                self._items[item_id],
                quantity,
                [self._modifiers[code] for code in codes],  # type: ignore[misc]
            )
        except DomainError as error:
            return error.message[:500]
        return {
            item_id: amount.quantize(_STEP)
            for item_id, amount in sorted(totals.items())
            if amount.quantize(_STEP) > 0
        }


@dataclass
class Depletion:
    """One order's share of a batch depletion: the lines it depletes and what they use
    (`uses`: item, location and quantity, by item, dated `occurred_at`); `error` when the
    ledger refused them (nothing of this order posted)."""

    order: Order
    lines: list[OrderLine]
    every_line: Sequence[OrderLine] = ()
    uses: list[tuple[int, int, Decimal]] = field(default_factory=list)
    occurred_at: dt.datetime | None = None
    error: str = ""
    result: inventory.PostingResult | None = None

    @property
    def moves(self) -> list[inventory.MoveInput]:
        """The order's own sale moves: one per ingredient, keyed `ch:o<order>:D<first line>:I<item>`
        (built when posted order by order; a batch's sums need only `uses`)."""
        if not self.uses:
            return []
        prefix = f"{order_key(self.order)}:D{min(line.line_no for line in self.lines)}:I"
        source = _source(self.order)
        return [
            _sale(item_id, location_id, quantity, f"{prefix}{item_id}", source, self.occurred_at)
            for item_id, location_id, quantity in self.uses
        ]


def _sale(
    item_id: int,
    location_id: int,
    quantity: Decimal,
    key: str,
    source: inventory.Source,
    occurred_at: dt.datetime | None,
) -> inventory.MoveInput:
    return inventory.MoveInput(
        action=inventory.ISSUE,
        item_id=item_id,
        location_id=location_id,
        quantity=quantity,
        key=key,
        reason=MoveReason.SALE,
        source=source,
        occurred_at=occurred_at,
    )


def deplete_new(
    entries: Sequence[tuple[Order, Sequence[OrderLine]]],
    *,
    cache: ExplosionCache | None = None,
    places: StockPlaces | None = None,
) -> list[Depletion]:
    """Deplete many completed orders at once, with one ledger call for all of them.

    For orders just created in this transaction (saved, so they have ids) whose lines are in
    memory and may not be saved yet: their flags (the lines' `is_depleted`,
    `depleted_quantity`, `depletion_error` and `sale_batch`, the order's `is_depleted` and
    `depletion_error`) are set on the objects, not saved; the caller writes them.

    Two orders or more post their ingredients summed (`_post_together`, decision 0017). When
    the ledger refuses the sums, each order posts its own moves, with the outcome `deplete`
    gives order after order: all or nothing per order; the orders before a refused one are
    posted in one call, the refused one alone (keeping its reason), and the rest again in one
    call (order by order after a few refusals). Returns the orders that posted moves or were
    refused.
    """
    cache = cache or ExplosionCache()
    places = places or StockPlaces()
    with catalog_batch():  # units by code read once
        plans = _plan_all(entries, cache, places)
    if not _post_together(plans):
        _post_group(plans, attempts=3)
    for plan in plans:
        if plan.error:
            plan.order.depletion_error = plan.error
        else:
            _mark_depleted(plan)
            _finish_new(plan.order, plan.every_line)
    return plans


def _plan_all(
    entries: Sequence[tuple[Order, Sequence[OrderLine]]],
    cache: ExplosionCache,
    places: StockPlaces,
) -> list[Depletion]:
    # Each line's explosion key once: (business date, menu item, modifier codes, net quantity).
    keys: dict[int, _LineKey] = {}
    unknown: list[OrderLine] = []
    for order, lines in entries:
        for line in lines:
            if line.menu_item_id is None or line.is_depleted:
                continue
            quantity = _net(line)
            if quantity > 0:
                key = cache.key(order.business_date, line, quantity)
                keys[id(line)] = key
                if not cache.knows_key(key):
                    unknown.append(line)
    cache.load(unknown)
    plans: list[Depletion] = []
    for order, lines in entries:
        wanted = [line for line in lines if line.menu_item_id is not None and not line.is_depleted]
        if wanted:
            if not places.has_any(order):
                order.depletion_error = _("The store has no stock location to deplete from.")
                continue
            plan = _plan(order, wanted, places, cache, keys)
            plan.every_line = lines
            if plan.uses:
                plans.append(plan)
            else:
                _mark_depleted(plan)
        _finish_new(order, lines)
    return plans


def _plan(
    order: Order,
    lines: list[OrderLine],
    places: StockPlaces,
    cache: ExplosionCache,
    keys: dict[int, _LineKey] | None = None,
) -> Depletion:
    """One depletion of an order: its lines exploded into what they use, one entry per
    ingredient (the lines' quantities summed; `plan.uses`). Posted on its own, they are the
    moves `plan.moves`, keyed `ch:o<order>:D<first line>:I<item>`.

    A depletion is named by the lowest line number it depletes. Its lines are flagged depleted
    when it posts, so a later depletion of the same order (a line mapped since) starts at
    another line and gets other keys, and a replay of this one gets the same keys. A line that
    cannot be exploded keeps its `depletion_error` and is left out of `plan.lines`."""
    plan = Depletion(order, [], occurred_at=order.completed_at or timezone.now())
    fixed = order.account.location_id  # the account's location, when it names one
    used: dict[int, Decimal] = {}
    for line in lines:
        quantity = _net(line)
        if quantity <= 0:
            plan.lines.append(line)
            continue
        key = keys.get(id(line)) if keys is not None else None
        exploded = (
            cache.explode_key(key)
            if key is not None
            else cache.explode(order.business_date, line, quantity)
        )
        if isinstance(exploded, str):
            line.depletion_error = exploded
            continue
        for item_id, amount in exploded.items():
            used[item_id] = used.get(item_id, ZERO) + amount
        plan.lines.append(line)
    plan.uses = [
        (
            item_id,
            fixed if fixed is not None else places.location_id(order, item_id),
            used[item_id],
        )
        for item_id in sorted(used)
    ]
    return plan


def _mark_depleted(plan: Depletion) -> None:
    for line in plan.lines:
        line.is_depleted = True
        line.depleted_quantity = _net(line)
        line.depletion_error = ""


def _finish_new(order: Order, lines: Sequence[OrderLine]) -> None:
    """`_finish` for an order whose lines are in memory (no reservation: a new order)."""
    order.is_depleted = not any(not line.is_depleted and line.quantity > 0 for line in lines)
    if order.depletion_error and not any(line.depletion_error for line in lines):
        order.depletion_error = ""


def _post_together(plans: list[Depletion]) -> bool:
    """Post many orders' sale moves summed: one move per business date, quarter hour, location
    and item (decision 0017); their lines name the batch (`sale_batch`). False when there is
    nothing to sum (fewer than two orders) or when the ledger refuses the sums (a
    forbid-negatives item short, a closed day): nothing is posted then, and the caller posts
    order by order, which says which order was refused.

    Each move is keyed `ch:o<first order>:B<date>T<quarter hour>:L<location>:I<item>` and dated
    by the last of its orders. The first order's id names the batch: every order of it is new
    and flagged depleted here, so no other batch starts with it."""
    if len(plans) < 2:
        return False
    opening = min((plan.order for plan in plans), key=lambda order: order.pk)
    first = opening.pk
    now = timezone.now()
    summed: dict[tuple[dt.date, dt.datetime, int, int], list[Any]] = {}
    for plan in plans:
        day = plan.order.business_date
        at = (plan.occurred_at or now).astimezone(dt.UTC)
        window = at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)
        for item_id, location_id, quantity in plan.uses:
            group = (day, window, location_id, item_id)
            entry = summed.get(group)
            if entry is None:
                summed[group] = [quantity, at]
            else:
                entry[0] += quantity
                if at > entry[1]:
                    entry[1] = at
    prefix = batch_key(first)
    # Its number names the first order as the till does (display number, else external id).
    number = f"{str(opening)[:48]} … ({len(plans)})"
    source = inventory.Source(BATCH_SOURCE_TYPE, str(first), number)
    moves = [
        _sale(
            item_id,
            location_id,
            quantity,
            f"{prefix}{day:%Y%m%d}T{window:%H%M}:L{location_id}:I{item_id}",
            source,
            occurred_at,
        )
        for (day, window, location_id, item_id), (quantity, occurred_at) in sorted(summed.items())
    ]
    try:
        result = inventory.post_moves(moves, actor=SYSTEM)  # its own savepoint
    except DomainError:
        return False
    for plan in plans:
        plan.result = result
        for line in plan.lines:
            line.sale_batch = first
    return True


def _post_one(plan: Depletion) -> None:
    """Post one order's moves on their own (as `deplete` does), keeping the ledger's refusal.
    No savepoint of our own: the ledger writes nothing outside its own, which a refusal rolls
    back."""
    try:
        plan.result = _post(plan.moves)
    except DomainError as error:
        plan.error = _refusal(error)


def _post_group(plans: list[Depletion], *, attempts: int) -> None:
    """Post the orders' moves in one ledger call (see `deplete_new` for refusals)."""
    if not plans:
        return
    if len(plans) == 1 or attempts <= 0:
        for plan in plans:
            _post_one(plan)
        return
    moves = [move for plan in plans for move in plan.moves]
    try:
        result = inventory.post_moves(moves, actor=SYSTEM)  # its own savepoint, as above
    except PeriodClosed:
        # Some orders' day is closed: each of those posts today, the others on their day.
        for plan in plans:
            _post_one(plan)
        return
    except DomainError as error:
        index = _first_refused(error)
        if index is None:
            for plan in plans:
                _post_one(plan)
            return
        owner = 0
        for position, plan in enumerate(plans):
            index -= len(plan.uses)
            if index < 0:
                owner = position
                break
        # The orders before the first refused one fit (the ledger applied them in order).
        _post_group(plans[:owner], attempts=attempts)
        _post_one(plans[owner])
        _post_group(plans[owner + 1 :], attempts=attempts - 1)
        return
    for plan in plans:
        plan.result = result


def _first_refused(error: DomainError) -> int | None:
    lines = error.details.get("lines") if isinstance(error.details, dict) else None
    indexes = [line.get("index") for line in lines or () if isinstance(line.get("index"), int)]
    return min(indexes) if indexes else None


def _refusal(error: DomainError) -> str:
    if isinstance(error, InsufficientStock) or error.code == "batch_rejected":
        return _first_line_message(error)[:500]
    return error.message[:500]


def _post(batch: Sequence[inventory.MoveInput]) -> inventory.PostingResult:
    """Post at the lines' own time; when that day is closed, post today instead."""
    try:
        return inventory.post_moves(batch, actor=SYSTEM)
    except PeriodClosed:
        now = timezone.now()
        for line in batch:
            line.occurred_at = now
        return inventory.post_moves(batch, actor=SYSTEM)


def deplete(order: Order) -> inventory.PostingResult | None:
    """Consume the ingredients of every mapped, not yet depleted line of a completed order.

    All or nothing per order: when the ledger refuses (a forbid-negatives item short of stock),
    nothing is posted and the reason is kept in `order.depletion_error` for a later retry.
    The order's reservations are fulfilled once its lines are depleted. Saves the order.
    """
    lines = list(order.lines.filter(is_depleted=False, menu_item__isnull=False).order_by("line_no"))
    if not lines:
        _finish(order)
        return None
    places = StockPlaces()
    if not places.has_any(order):
        order.depletion_error = _("The store has no stock location to deplete from.")
        order.save(update_fields=["depletion_error", "updated_at"])
        return None
    cache = ExplosionCache()
    cache.load(lines)
    plan = _plan(order, lines, places, cache)
    done = {line.pk for line in plan.lines}
    update_rows([line for line in lines if line.pk not in done], ["depletion_error"])
    result = None
    if plan.uses:
        try:
            with transaction.atomic():
                result = _post(plan.moves)
        except DomainError as error:
            order.depletion_error = _refusal(error)
            order.save(update_fields=["depletion_error", "updated_at"])
            return None
    _mark_depleted(plan)
    update_rows(plan.lines, ["is_depleted", "depleted_quantity", "depletion_error"])
    _finish(order)
    if result is not None:
        publish(
            OrderDepleted(
                order_id=order.pk,
                site_id=order.site_id,
                posting_id=result.posting.pk,
                lines=[line.line_no for line in plan.lines],
            ),
            org_node=order.site.node,
        )
    return result


def _first_line_message(error: DomainError) -> str:
    lines = error.details.get("lines") if isinstance(error.details, dict) else None
    if lines:
        return "; ".join(str(line.get("message", "")) for line in lines[:3])
    return error.message


def _finish(order: Order) -> None:
    """Fully depleted when no line is left to deplete; reservations end as fulfilled."""
    remaining = order.lines.filter(is_depleted=False).exclude(quantity__lte=0).exists()
    order.is_depleted = not remaining
    if not order.lines.filter(depletion_error__gt="").exists() and order.depletion_error:
        order.depletion_error = ""
    if order.is_reserved:
        end_reservations(order, ReservationStatus.FULFILLED)
    order.save(update_fields=["is_depleted", "is_reserved", "depletion_error", "updated_at"])


def reserve(order: Order) -> list[Reservation]:
    """Reserve the ingredients of the order's mapped lines at its store (sorted by item, so two
    orders lock in the same order). All or nothing: `InsufficientStock` when a forbid-negatives
    item's available-to-promise does not cover it. Sets `is_reserved` (not saved)."""
    lines = list(order.lines.filter(menu_item__isnull=False))
    wanted = {line.pk: net for line in lines if (net := _net(line)) > 0}
    totals = _line_usage(order, lines, wanted)[0]
    made = []
    with transaction.atomic():
        for item_id in sorted(totals):
            made.append(
                inventory.reserve(
                    item=item_id,
                    site=order.site,
                    quantity=totals[item_id],
                    key=f"{order_key(order)}:R:I{item_id}",
                    actor=SYSTEM,
                    source=_source(order),
                )
            )
    order.is_reserved = True
    return made


def end_reservations(order: Order, status: str) -> int:
    """End the order's active reservations (released or fulfilled); returns how many."""
    active = list(
        Reservation.objects.select_related("site__node").filter(
            source_type=SOURCE_TYPE, source_id=str(order.pk), status=ReservationStatus.ACTIVE
        )
    )
    for reservation in active:
        inventory.end_reservation(reservation, actor=SYSTEM, status=status)
    order.is_reserved = False
    return len(active)


def restock(order: Order, quantities: dict[int, Decimal], *, tag: str) -> int:
    """Undo the depletion of `quantities` (per line id, in the line's units) after a
    cancellation or refund, following the account's policy. Returns the moves posted.

    When every depleted line comes back whole, none came back before and the order's own moves
    hold its sale, each of them is reversed (exact quantity and value). Otherwise (a partial
    refund, or an order depleted in a batch, whose moves hold other orders' sales too) the
    lines' share is exploded again (recipes of the order's business date, as at the sale) and
    returned, ingredient by ingredient, as an adjustment at the unit cost the sale took (the
    average of its moves of the item), never more than the order used. Under the
    "waste" policy the same ingredients are then issued as waste: the food was made and thrown
    away, so stock ends where it was, but the usage counts as waste, not as a sale.
    """
    depleted = list(order.lines.filter(is_depleted=True).order_by("line_no"))
    amounts: dict[int, Decimal] = {}
    for line in depleted:
        if line.pk in quantities and line.depleted_quantity > 0:
            amount = min(quantities[line.pk], line.depleted_quantity - line.restocked_quantity)
            if amount > 0:
                amounts[line.pk] = amount
    if not amounts:
        return 0
    sales = list(sale_moves(order, depleted).order_by("pk"))
    # A batch's moves hold other orders' ingredients too: they are never reversed whole.
    whole = all(line.sale_batch is None for line in depleted) and all(
        line.restocked_quantity == 0 and amounts.get(line.pk) == line.depleted_quantity
        for line in depleted
        if line.depleted_quantity > 0
    )
    short_tag = hashlib.sha256(tag.encode()).hexdigest()[:16]
    prefix = f"{order_key(order)}:X{short_tag}"
    returned: list[tuple[str, int, int, Decimal]] = []  # key suffix, item, location, quantity
    adjustments: list[inventory.MoveInput] = []
    changed: list[OrderLine] = []
    posted = 0
    with transaction.atomic():
        if whole:
            for move in sales:
                result = inventory.reverse_move(move, key=f"{prefix}:R{move.pk}", actor=SYSTEM)
                posted += len(result.rows)
                returned.append((f"W{move.pk}", move.item_id, move.location_id, -move.quantity))
            changed = [line for line in depleted if line.pk in amounts]
        else:
            wanted, changed, problems = _line_usage(order, depleted, amounts)
            for line_no, problem in problems.items():
                # Its stock stays consumed, to be adjusted by hand; the line is not restocked.
                logger.warning("Order %s line %s not restocked: %s", order.pk, line_no, problem)
            for item_id, (location_id, sold, unit_cost) in _sold_by_item(sales).items():
                quantity = min(wanted.get(item_id, ZERO), sold)
                if quantity <= 0:
                    continue
                adjustments.append(
                    inventory.MoveInput(
                        action=inventory.ADJUST,
                        item_id=item_id,
                        location_id=location_id,
                        quantity=quantity,
                        unit_cost=unit_cost,
                        key=f"{prefix}:A{item_id}",
                        source=_source(order),
                    )
                )
                returned.append((f"W{item_id}", item_id, location_id, quantity))
        if adjustments:
            posted += len(inventory.post_moves(adjustments, actor=SYSTEM).rows)
        if order.account.after_depletion == AfterDepletion.WASTE and returned:
            waste = [
                inventory.MoveInput(
                    action=inventory.ISSUE,
                    item_id=item_id,
                    location_id=location_id,
                    quantity=quantity,
                    reason=MoveReason.WASTE,
                    key=f"{prefix}:{suffix}",
                    source=_source(order),
                )
                for suffix, item_id, location_id, quantity in returned
            ]
            posted += len(inventory.post_moves(waste, actor=SYSTEM).rows)
        for line in changed:
            line.restocked_quantity += amounts[line.pk]
        update_rows(changed, ["restocked_quantity"])
        if changed:
            order.is_restocked = True
            order.save(update_fields=["is_restocked", "updated_at"])
            publish(
                OrderRestocked(
                    order_id=order.pk,
                    site_id=order.site_id,
                    policy=order.account.after_depletion,
                    move_count=posted,
                ),
                org_node=order.site.node,
            )
    return posted


def _line_usage(
    order: Order, lines: Sequence[OrderLine], amounts: dict[int, Decimal]
) -> tuple[dict[int, Decimal], list[OrderLine], dict[int, str]]:
    """The ingredients `amounts` of these lines use ({item id: quantity}), the lines exploded,
    and why the others could not be (per line number: no recipe, a modifier deleted since)."""
    cache = ExplosionCache()
    wanted: dict[int, Decimal] = defaultdict(Decimal)
    exploded_lines: list[OrderLine] = []
    problems: dict[int, str] = {}
    for line in lines:
        if line.pk not in amounts:
            continue
        exploded = cache.explode(order.business_date, line, amounts[line.pk])
        if isinstance(exploded, str):
            problems[line.line_no] = exploded
            continue
        for item_id, quantity in exploded.items():
            wanted[item_id] += quantity
        exploded_lines.append(line)
    return wanted, exploded_lines, problems


def _sold_by_item(moves: Sequence[StockMove]) -> dict[int, tuple[int, Decimal, Decimal]]:
    """Per item of an order's sale moves: (location, quantity sold, the sale's unit cost; the
    average when the sale took the item from several lots)."""
    rows: dict[int, list[StockMove]] = defaultdict(list)
    for move in moves:
        rows[move.item_id].append(move)
    sold = {}
    for item_id, item_moves in rows.items():
        quantity = -sum((move.quantity for move in item_moves), ZERO)
        if len(item_moves) == 1:
            unit_cost = item_moves[0].unit_cost
        else:
            value = -sum((move.value for move in item_moves), ZERO)
            unit_cost = (value / quantity).quantize(_COST_STEP) if quantity else ZERO
        sold[item_id] = (item_moves[0].location_id, quantity, unit_cost)
    return sold
