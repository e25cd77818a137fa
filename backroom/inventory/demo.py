"""Demo seed for the stock ledger: locations at every site and three weeks of believable history.

Every site gets a walk-in, a freezer, a dry store and an in-transit location (stores a bar too).

Stores (the AvT report's subject), for the business days from `DAYS` days ago to yesterday:
- an opening count on the evening before the first day and a closing count on the last evening,
  both through the count services (create → start → record → submit → post, approved);
- deliveries of every ingredient and drink the menu uses, ordered up to the coming days' need
  (weekly, or every few days for short-lived fresh goods), in lots expiring after the item's
  shelf life, at its standard cost ± 6 %;
- every evening, sale depletion (reason `sale`) of that day's menu sales: realistic portions
  per dish (store size, weekday, popularity, noise; SH001 sold 15 % of its usual on the
  last day, `COLLAPSE`) exploded through the recipes with the
  catalog's `explode` — made-ahead preps (broths, sauces) are exploded down to their raw
  ingredients, as if cooked from raw stock as needed. Each sold line's moves name it as their
  source (`sales.menu_item`, the dish's id, the portions), which the AvT reads as revenue;
- waste: lots that expired are thrown away the next morning, and now and then something is
  dropped or spoils;
- a few transfers between stores;
- unexplained loss found by the closing count: 3–8 % of the period's usage on half the items,
  more on beef (10–14 %) and on beer (8–12 %), so the AvT shows a believable variance.
Warehouses and the central kitchen get three weekly receipts; they hold stock and use and
waste a little of it (their books would otherwise show a cost of sales without sales).
Everything is posted through `post_moves` batches (one or two per store and day) as the system.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_UP, Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from backroom.catalog.choices import STOCKED_KINDS, ItemKind
from backroom.catalog.models import Item
from backroom.catalog.recipes import explode, is_leaf
from backroom.catalog.selectors import site_today
from backroom.inventory import services
from backroom.inventory.choices import LocationKind, MoveReason
from backroom.inventory.demo_counts import seed_count_templates
from backroom.inventory.demo_documents import seed_documents
from backroom.inventory.models import CountLine, Location
from backroom.inventory.reports import SALES_SOURCE
from backroom.kernel import clock
from backroom.kernel.actors import SYSTEM
from backroom.org.choices import SITE_KINDS, NodeKind
from backroom.org.models import OrgNode, Site

if TYPE_CHECKING:
    from backroom.config.demo import DemoContext

LOCATIONS = [
    ("WALKIN", "冷藏库 Walk-in", LocationKind.WALK_IN),
    ("FREEZER", "冷冻库 Freezer", LocationKind.FREEZER),
    ("DRY", "干货库 Dry store", LocationKind.DRY_STORE),
    ("BAR", "吧台 Bar", LocationKind.BAR),
    ("IN-TRANSIT", "在途 In transit", LocationKind.IN_TRANSIT),
]
WEEKS = 3  # warehouses and kitchens
DAYS = 21  # store history: business days today − DAYS … today − 1
# The store whose sales collapsed on the last day (the dashboards' sales_drop alert in the
# demo): it sold this share of a usual day's portions (the sales history mirrors it).
COLLAPSE = ("SH001", Decimal("0.15"))
# Weekly receipt in base units, by base unit code: (low, high) (warehouses and kitchens).
WEEKLY = {"kg": (4, 30), "l": (3, 20), "each": (24, 240)}
# Unexplained loss found by the closing count, as % of the period's usage: (low, high).
HIGH_LOSS = {"BEEF-": (10, 14), "TSINGTAO": (8, 12)}
TRANSFERS = [  # days ago, from, to, share of a frozen or dry item's stock
    (15, "SH001", "SH002"),
    (11, "SH002", "SH003"),
    (9, "BJ001", "BJ002"),
    (6, "SH003", "HZ001"),
]
Q3 = Decimal("0.001")


def _location_code(item: Item, is_store: bool) -> str:
    if item.kind == ItemKind.RETAIL:
        return "BAR" if is_store else "DRY"
    return {"chilled": "WALKIN", "frozen": "FREEZER"}.get(item.storage, "DRY")


def seed(ctx: DemoContext) -> None:
    """Locations for every site; store history for the AvT; receipts at warehouses/kitchens."""
    catalog = ctx.extra.get("catalog")
    if not catalog:
        return
    sites = [
        node
        for node in sorted(ctx.nodes.values(), key=lambda row: row.code)
        if node.kind in SITE_KINDS
    ]
    locations: dict[str, dict[str, Location]] = {}
    for node in sites:
        node = OrgNode.objects.select_related("site").get(pk=node.pk)
        is_store = node.kind == NodeKind.STORE
        locations[node.code] = {
            code: services.create_location(node.site, code=code, name=name, kind=kind, actor=SYSTEM)
            for code, name, kind in LOCATIONS
            if is_store or code != "BAR"
        }
    _seed_depots(ctx, catalog, [node for node in sites if node.kind != NodeKind.STORE], locations)
    stores = [node for node in sites if node.kind == NodeKind.STORE]
    if stores and catalog.get("menu"):
        _StoreHistory(ctx, catalog, stores, locations).run()
    seed_count_templates(ctx)
    seed_documents(ctx)


# --- warehouses and kitchens -----------------------------------------------------------------


def _seed_depots(
    ctx: DemoContext,
    catalog: dict[str, Any],
    depots: list[OrgNode],
    locations: dict[str, dict[str, Location]],
) -> None:
    items = [
        item
        for item in sorted(catalog["items"].values(), key=lambda row: row.sku)
        if item.kind in STOCKED_KINDS and item.kind != ItemKind.PREPARED and item.is_active
    ]
    today = timezone.localdate()
    now = timezone.now()
    rng = ctx.random
    for node in depots:
        on_hand: dict[int, Decimal] = {}
        for week in range(WEEKS, 0, -1):
            received_on = today - dt.timedelta(days=7 * week)
            when = now - dt.timedelta(days=7 * week)
            lines: list[services.MoveInput] = []
            for item in items:
                location = locations[node.code][_location_code(item, False)]
                low, high = WEEKLY.get(item.base_unit.code, (2, 20))
                quantity = Decimal(rng.randint(low, high))
                cost = (item.standard_cost or Decimal(1)) * Decimal(rng.randint(94, 106)) / 100
                shelf = item.shelf_life_days
                lines.append(
                    services.MoveInput(
                        action=services.RECEIVE,
                        item_id=item.pk,
                        location_id=location.pk,
                        quantity=quantity,
                        unit_cost=cost.quantize(Decimal("0.0001")),
                        lot_code=f"L{received_on:%y%m%d}",
                        expiry_date=received_on + dt.timedelta(days=shelf) if shelf else None,
                        key=f"demo:{node.code}:{item.sku}:w{week}:in",
                        source=services.Source(
                            "procurement.receipt",
                            f"{node.code}-{received_on:%y%m%d}",
                            f"GR-{node.code}-{received_on:%y%m%d}",
                        ),
                        occurred_at=when,
                    )
                )
                stock = on_hand.get(item.pk, Decimal(0)) + quantity
                # Depots hold stock for the stores; they use little of it themselves
                # (tastings and trials in the kitchen, supplies in the warehouse).
                used = (quantity * Decimal(rng.randint(10, 25)) / 100).quantize(Q3)
                wasted = (stock * Decimal(rng.randint(0, 4)) / 100).quantize(Q3)
                if item.base_unit.code == "each":
                    used, wasted = used.to_integral_value(), wasted.to_integral_value()
                for reason, amount, suffix, days in (
                    (MoveReason.CONSUMPTION, used, "use", 1),
                    (MoveReason.WASTE, wasted, "waste", 6),
                ):
                    if amount > 0:
                        lines.append(
                            services.MoveInput(
                                action=services.ISSUE,
                                item_id=item.pk,
                                location_id=location.pk,
                                quantity=amount,
                                reason=reason,
                                key=f"demo:{node.code}:{item.sku}:w{week}:{suffix}",
                                occurred_at=when + dt.timedelta(days=days),
                            )
                        )
                on_hand[item.pk] = stock - used - wasted
            services.post_moves(lines, actor=SYSTEM)


# --- stores ----------------------------------------------------------------------------------


@dataclass
class _Lot:
    code: str
    expiry: dt.date | None
    quantity: Decimal


@dataclass
class _Stock:
    """What the ledger will hold of one item at one store location, lot by lot (FEFO)."""

    lots: list[_Lot] = field(default_factory=list)

    def add(self, code: str, expiry: dt.date | None, quantity: Decimal) -> None:
        for lot in self.lots:
            if lot.code == code:
                lot.quantity += quantity
                return
        self.lots.append(_Lot(code, expiry, quantity))
        self.lots.sort(key=lambda lot: (lot.expiry or dt.date.max, lot.code))

    def usable(self, day: dt.date) -> Decimal:
        return sum(
            (lot.quantity for lot in self.lots if lot.expiry is None or lot.expiry >= day),
            Decimal(0),
        )

    def take(self, quantity: Decimal, day: dt.date) -> list[_Lot]:
        """Take FEFO from usable lots; returns the parts taken."""
        parts = []
        for lot in self.lots:
            if quantity <= 0:
                break
            if lot.quantity <= 0 or (lot.expiry is not None and lot.expiry < day):
                continue
            taken = min(lot.quantity, quantity)
            lot.quantity -= taken
            quantity -= taken
            parts.append(_Lot(lot.code, lot.expiry, taken))
        self.lots = [lot for lot in self.lots if lot.quantity > 0]
        return parts

    def expired(self, day: dt.date) -> list[_Lot]:
        gone = [lot for lot in self.lots if lot.expiry is not None and lot.expiry < day]
        self.lots = [lot for lot in self.lots if lot not in gone]
        return gone


def _cadence(item: Item) -> int:
    """Days between deliveries: weekly, or before the lots expire for fresh goods."""
    shelf = item.shelf_life_days or 365
    return 7 if shelf >= 8 else max(1, shelf - 1)


def _round_up(quantity: Decimal, item: Item) -> Decimal:
    step = Decimal(1) if item.base_unit.code == "each" else Decimal("0.5")
    return (quantity / step).to_integral_value(rounding=ROUND_UP) * step


class _StoreHistory:
    """Three weeks of deliveries, sales, waste, transfers and two counts at every store."""

    def __init__(
        self,
        ctx: DemoContext,
        catalog: dict[str, Any],
        stores: list[OrgNode],
        locations: dict[str, dict[str, Location]],
    ) -> None:
        self.rng = ctx.random
        self.items: dict[str, Item] = catalog["items"]
        self.menu = [self.items[sku] for sku in catalog["menu"] if sku in self.items]
        self.sites = {
            node.code: Site.objects.select_related("node", "legal_entity").get(node_id=node.pk)
            for node in stores
        }
        self.locations = locations
        first = next(iter(self.sites.values()))
        self.today = site_today(first)
        self.first_day = self.today - dt.timedelta(days=DAYS)
        self.recipes = self._explode_menu(catalog.get("menu_from") or self.first_day)
        self.stock: dict[tuple[str, int], _Stock] = defaultdict(_Stock)
        self.by_pk = {item.pk: item for item in self.items.values()}

    # recipes ----------------------------------------------------------------------------

    def _explode_menu(self, on: dt.date) -> dict[int, dict[int, Decimal]]:
        """Raw stock used by one portion of each dish (made-ahead preps exploded too)."""
        by_pk = {item.pk: item for item in self.items.values()}
        result: dict[int, dict[int, Decimal]] = {}
        for dish in self.menu:
            totals: dict[int, Decimal] = defaultdict(Decimal)
            pending = list(explode(dish, Decimal(1), on=on).items())
            while pending:
                item_id, quantity = pending.pop()
                item = by_pk[item_id]
                if item.kind == ItemKind.PREPARED and item.pk != dish.pk:
                    pending.extend(explode(item, quantity, on=on).items())
                elif is_leaf(item) or item.pk == dish.pk:
                    totals[item_id] += quantity
            result[dish.pk] = {pk: q.quantize(Decimal("0.000001")) for pk, q in totals.items()}
        return result

    # time -------------------------------------------------------------------------------

    def at(self, site: Site, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
        zone = ZoneInfo(site.time_zone)
        return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)

    # plan -------------------------------------------------------------------------------

    def _sales_plan(self) -> dict[str, dict[dt.date, dict[int, int]]]:
        """Portions per store, day and dish: popularity × store size × weekday × noise."""
        rng = self.rng
        popularity = {dish.pk: rng.choice([4, 6, 8, 10, 14, 18, 24, 30]) for dish in self.menu}
        plan: dict[str, dict[dt.date, dict[int, int]]] = {}
        for code in self.sites:
            size = Decimal(rng.randint(70, 130)) / 100
            # Each store offers most of the menu, not all of it.
            offered = [dish for dish in self.menu if rng.random() < 0.6]
            days: dict[dt.date, dict[int, int]] = {}
            for offset in range(DAYS):
                day = self.first_day + dt.timedelta(days=offset)
                weekday = Decimal("1.3") if day.weekday() in (4, 5) else Decimal(1)
                if (code, offset) == (COLLAPSE[0], DAYS - 1):
                    weekday *= COLLAPSE[1]
                portions = {}
                for dish in offered:
                    noise = Decimal(rng.randint(75, 125)) / 100
                    count = int(popularity[dish.pk] * size * weekday * noise)
                    if count > 0:
                        portions[dish.pk] = count
                days[day] = portions
            plan[code] = days
        return plan

    def _needs(self, plan: dict[dt.date, dict[int, int]]) -> dict[dt.date, dict[int, Decimal]]:
        needs: dict[dt.date, dict[int, Decimal]] = {}
        for day, portions in plan.items():
            total: dict[int, Decimal] = defaultdict(Decimal)
            for dish_id, count in portions.items():
                for item_id, quantity in self.recipes[dish_id].items():
                    total[item_id] += quantity * count
            needs[day] = total
        return needs

    # run --------------------------------------------------------------------------------

    def run(self) -> None:
        plan = self._sales_plan()
        needs = {code: self._needs(days) for code, days in plan.items()}
        used_items = sorted(
            {item_id for days in needs.values() for day in days.values() for item_id in day}
        )
        costs = {
            (code, item_id): (self.by_pk[item_id].standard_cost or Decimal(1))
            * Decimal(self.rng.randint(94, 106))
            / 100
            for code in self.sites
            for item_id in used_items
        }
        usage: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
        transfers = {(days, source): target for days, source, target in TRANSFERS}
        opening_day = self.first_day - dt.timedelta(days=1)
        for code, site in self.sites.items():
            self._deliveries(code, site, opening_day, needs[code], used_items, costs, first=True)
            self._count(code, site, opening_day, losses={})
        for offset in range(DAYS):
            day = self.first_day + dt.timedelta(days=offset)
            for code, site in self.sites.items():
                self._day(code, site, day, plan[code][day], needs[code], used_items, costs)
                for item_id, quantity in needs[code][day].items():
                    usage[(code, item_id)] += quantity
            days_ago = (self.today - day).days
            for (when, source), target in transfers.items():
                if when == days_ago and source in self.sites and target in self.sites:
                    self._transfer(source, target, day)
        last = self.first_day + dt.timedelta(days=DAYS - 1)
        for code, site in self.sites.items():
            losses = {}
            top_ups = []
            for item_id in used_items:
                share = self._loss_percent(self.by_pk[item_id])
                if share:
                    losses[item_id] = usage[(code, item_id)] * share / 100
                    # A delivery on the last morning, so the shelf holds what went missing.
                    short = losses[item_id] - self.stock[(code, item_id)].usable(last)
                    if short > 0:
                        item = self.by_pk[item_id]
                        top_ups.append(
                            self._receipt(
                                code, site, item, last, _round_up(short, item), costs, hour=10
                            )
                        )
            if top_ups:
                services.post_moves(top_ups, actor=SYSTEM)
            self._count(code, site, last, losses=losses)

    def _loss_percent(self, item: Item) -> Decimal:
        rng = self.rng
        for prefix, (low, high) in HIGH_LOSS.items():
            if item.sku.startswith(prefix):
                return Decimal(rng.randint(low * 10, high * 10)) / 10
        if rng.random() < 0.5:
            return Decimal(rng.randint(30, 80)) / 10
        return Decimal(0)

    def _location(self, code: str, item: Item) -> Location:
        return self.locations[code][_location_code(item, True)]

    def _deliveries(
        self,
        code: str,
        site: Site,
        day: dt.date,
        needs: dict[dt.date, dict[int, Decimal]],
        used_items: list[int],
        costs: dict[tuple[str, int], Decimal],
        *,
        first: bool = False,
    ) -> list[services.MoveInput]:
        """Order up to the need until the next delivery (+ 20 %), for items due today."""
        offset = (day - self.first_day).days
        lines: list[services.MoveInput] = []
        for item_id in used_items:
            item = self.by_pk[item_id]
            cadence = _cadence(item)
            if not first and offset % cadence != 0:
                continue
            horizon = [day + dt.timedelta(days=n) for n in range(cadence + (1 if first else 0))]
            need = sum((needs.get(d, {}).get(item_id, Decimal(0)) for d in horizon), Decimal(0))
            stock = self.stock[(code, item_id)]
            wanted = need * Decimal("1.2") - stock.usable(day)
            if wanted <= 0:
                continue
            lines.append(self._receipt(code, site, item, day, _round_up(wanted, item), costs))
        if first and lines:
            services.post_moves(lines, actor=SYSTEM)
        return lines

    def _receipt(
        self,
        code: str,
        site: Site,
        item: Item,
        day: dt.date,
        quantity: Decimal,
        costs: dict[tuple[str, int], Decimal],
        *,
        hour: int = 9,
    ) -> services.MoveInput:
        shelf = item.shelf_life_days
        expiry = day + dt.timedelta(days=shelf) if shelf else None
        lot = f"L{day:%y%m%d}"
        self.stock[(code, item.pk)].add(lot, expiry, quantity)
        return services.MoveInput(
            action=services.RECEIVE,
            item_id=item.pk,
            location_id=self._location(code, item).pk,
            quantity=quantity,
            unit_cost=costs[(code, item.pk)].quantize(Decimal("0.0001")),
            lot_code=lot,
            expiry_date=expiry,
            key=f"demo:{code}:{item.sku}:{day:%y%m%d}:in{hour}",
            source=services.Source(
                "procurement.receipt", f"{code}-{day:%y%m%d}", f"GR-{code}-{day:%y%m%d}"
            ),
            occurred_at=self.at(site, day, hour),
        )

    def _day(
        self,
        code: str,
        site: Site,
        day: dt.date,
        portions: dict[int, int],
        needs: dict[dt.date, dict[int, Decimal]],
        used_items: list[int],
        costs: dict[tuple[str, int], Decimal],
    ) -> None:
        rng = self.rng
        lines: list[services.MoveInput] = []
        # 08:00 — throw away what expired.
        for item_id in used_items:
            item = self.by_pk[item_id]
            for lot in self.stock[(code, item_id)].expired(day):
                lines.append(
                    services.MoveInput(
                        action=services.ISSUE,
                        item_id=item_id,
                        location_id=self._location(code, item).pk,
                        quantity=lot.quantity,
                        lot_code=lot.code,
                        reason=MoveReason.WASTE,
                        key=f"demo:{code}:{item.sku}:{day:%y%m%d}:expired:{lot.code}",
                        source=services.Source("inventory.waste", "", f"WS-{code}-{day:%y%m%d}"),
                        occurred_at=self.at(site, day, 8),
                    )
                )
        # 09:00 — deliveries due today.
        lines += self._deliveries(code, site, day, needs, used_items, costs)
        # 15:00 — a top-up when a delivery fell short (a busy day).
        need = needs[day]
        for item_id, quantity in sorted(need.items()):
            stock = self.stock[(code, item_id)]
            if stock.usable(day) < quantity:
                item = self.by_pk[item_id]
                extra = _round_up((quantity - stock.usable(day)) * Decimal("1.5"), item)
                lines.append(self._receipt(code, site, item, day, extra, costs, hour=15))
        # 16:00 — now and then something is dropped or spoils.
        if rng.random() < 0.2 and need:
            item_id = rng.choice(sorted(need))
            item = self.by_pk[item_id]
            amount = (need[item_id] * Decimal(rng.randint(5, 15)) / 100).quantize(Q3)
            stock = self.stock[(code, item_id)]
            if item.base_unit.code == "each":
                amount = amount.to_integral_value()
            if amount > 0 and stock.usable(day) - need[item_id] >= amount:
                stock.take(amount, day)
                lines.append(
                    services.MoveInput(
                        action=services.ISSUE,
                        item_id=item_id,
                        location_id=self._location(code, item).pk,
                        quantity=amount,
                        reason=MoveReason.WASTE,
                        key=f"demo:{code}:{item.sku}:{day:%y%m%d}:dropped",
                        source=services.Source("inventory.waste", "", f"WS-{code}-{day:%y%m%d}"),
                        occurred_at=self.at(site, day, 16),
                    )
                )
        # 21:30 — the day's sales depleted through the recipes, one source per sold dish.
        when = self.at(site, day, 21, 30)
        for dish_id, count in sorted(portions.items()):
            dish = self.by_pk[dish_id]
            for item_id, per_portion in sorted(self.recipes[dish_id].items()):
                quantity = per_portion * count
                if quantity <= 0:
                    continue
                item = self.by_pk[item_id]
                self.stock[(code, item_id)].take(quantity, day)
                lines.append(
                    services.MoveInput(
                        action=services.ISSUE,
                        item_id=item_id,
                        location_id=self._location(code, item).pk,
                        quantity=quantity,
                        reason=MoveReason.SALE,
                        key=f"demo:{code}:{day:%y%m%d}:sale:{dish.sku}:{item.sku}",
                        source=services.Source(SALES_SOURCE, str(dish_id), str(count)),
                        occurred_at=when,
                    )
                )
        if lines:
            services.post_moves(lines, actor=SYSTEM)

    def _transfer(self, source: str, target: str, day: dt.date) -> None:
        """Lend a few frozen or dry items to a neighbouring store (dispatched and received)."""
        site, other = self.sites[source], self.sites[target]
        candidates = [
            (code_item, stock)
            for code_item, stock in sorted(self.stock.items(), key=lambda row: row[0])
            if code_item[0] == source
            and (self.by_pk[code_item[1]].shelf_life_days or 365) >= 60
            and stock.usable(day) > 2
        ]
        for (_code, item_id), stock in candidates[:3]:
            item = self.by_pk[item_id]
            quantity = (stock.usable(day) * Decimal("0.2")).quantize(Q3)
            if item.base_unit.code == "each":
                quantity = quantity.to_integral_value()
            if quantity <= 0:
                continue
            for part in stock.take(quantity, day):
                self.stock[(target, item_id)].add(part.code, part.expiry, part.quantity)
            key = f"demo:tr:{source}:{target}:{item.sku}:{day:%y%m%d}"
            result = services.transfer(
                item=item,
                from_location=self._location(source, item),
                to_location=self._location(target, item),
                quantity=quantity,
                source=services.Source("inventory.transfer_note", "", f"TR-{source}-{day:%y%m%d}"),
                occurred_at=self.at(site, day, 14),
                key=key,
                actor=SYSTEM,
            )
            services.receive_transfer(
                transfer_key=result.moves[0].source_id,
                location=self._location(target, item),
                occurred_at=self.at(other, day, 17),
                key=f"{key}:in",
                actor=SYSTEM,
            )

    def _count(self, code: str, site: Site, day: dt.date, *, losses: dict[int, Decimal]) -> None:
        """A full count at 23:30, posted (approved): the books less the unexplained losses."""
        with clock.at(self.at(site, day, 23, 30)):  # the count's steps, at closing time
            sheet = services.create_count(site, actor=SYSTEM)
            sheet = services.start_count(sheet, actor=SYSTEM)
            lines = list(
                CountLine.objects.filter(sheet=sheet)
                .select_related("item__base_unit")
                .order_by("item_id", "shelf_order")
            )
            remaining = dict(losses)
            counts = []
            for line in lines:
                counted = max(line.theoretical_quantity, Decimal(0))
                loss = remaining.get(line.item_id, Decimal(0))
                if loss > 0 and counted > 0:
                    taken = min(loss, counted)
                    if line.item.base_unit.code == "each":
                        taken = min(taken.to_integral_value(), counted)
                    counted = max(counted - taken, Decimal(0))
                    remaining[line.item_id] = loss - taken
                    self.stock[(code, line.item_id)].take(taken, day)
                counts.append(
                    services.LineCount(
                        line.pk,
                        [services.CountEntry(line.item.base_unit.code, counted.quantize(Q3))],
                    )
                )
            if counts:
                services.record_counts(sheet, counts, actor=SYSTEM)
            services.submit_count(sheet, actor=SYSTEM)
            services.post_count(sheet, actor=SYSTEM, approved=True)
