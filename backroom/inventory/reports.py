"""Stock reports: on hand with value and expiry, expiring lots, movement history, and the
actual-vs-theoretical (AvT) usage report, with CSV export. Read-only, scoped to the actor.

AvT for business dates [date_from, date_to] at a store, or at a region (any org node: its
stores added up), per item and per category. Each store's window is its own business days
(time zone and cut-off): [start of date_from, end of date_to). Stock in in-transit locations is
not in the store and is left out. Per store × item (quantities in the base unit):

    opening       on hand at the start (the last posted count carried forward by the ledger:
                  right after a count posts, the ledger equals what was counted)
    receipts      Σ receipt moves in the window
    transfers     Σ transfer_in (and over-delivered transfer discrepancies) / −Σ transfer_out
    waste         −Σ waste moves
    produced      Σ production output;  production used = −Σ production_input
    closing       on hand at the end (after a closing count posted in the window: the count)
    actual usage  = opening + receipts + transfers in − transfers out − waste + produced − closing
    theoretical   = sales depletion (−Σ sale) + production used
    variance      = actual − theoretical (positive: more went than the recipes explain)

A reversal counts under the reason of the move it reverses. Consumption, adjustments and count
variances are not listed: they end up in actual usage, which is the point. Values are at the
item's moving-average cost at the store now (quantity-weighted over its locations; the mean of
the last averages when nothing is on hand; else the item's standard cost). Variance % of sales
is variance value ÷ sales revenue of the stores in the window (see `sales_revenue`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Avg, Case, CharField, F, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backroom.catalog.models import Category, Item, MenuPrice
from backroom.inventory.choices import LocationKind, MoveReason
from backroom.inventory.counts import SOURCE_TYPE as COUNT_SOURCE
from backroom.inventory.documents import TRANSFER_ORDER_SOURCE, WASTE_SOURCE
from backroom.inventory.models import (
    CountSheet,
    CountStatus,
    ItemValuation,
    Location,
    StockBalance,
    StockMove,
)
from backroom.inventory.permissions import INVENTORY_VIEW
from backroom.inventory.selectors import AvailableStock, available_stock
from backroom.kernel.dates import business_date, business_day_bounds
from backroom.kernel.exceptions import NotFound, ValidationFailed
from backroom.kernel.money import quantize_money, quantize_quantity
from backroom.org.choices import SITE_KINDS, NodeKind
from backroom.org.models import OrgNode, Site

ZERO = Decimal(0)
HUNDRED = Decimal(100)
# A sale depletion posted from a sold menu line (until sales orders exist, issue 4): the moves
# of one sold line carry source type `sales.menu_item`, the menu item's id as source id and the
# portions sold as source number; revenue = portions × the menu price on the sale's date.
SALES_SOURCE = "sales.menu_item"
MAX_PERIOD_DAYS = 366


# --- shared filters ------------------------------------------------------------------------


def category_ids(category: Category | int | None) -> list[int] | None:
    """The category and its descendants (categories nest), or None for no filter."""
    if category is None:
        return None
    root = category if isinstance(category, int) else category.pk
    children: dict[int | None, list[int]] = defaultdict(list)
    for pk, parent in Category.objects.values_list("pk", "parent_id"):
        children[parent].append(pk)
    found, stack = [], [root]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(children.get(current, []))
    return found


def visible_sites(actor: Any, node: OrgNode | None = None) -> QuerySet[Site]:
    """Sites the actor may see stock of, optionally under `node` (inclusive)."""
    rows = Site.objects.restrict(actor, INVENTORY_VIEW).select_related("node", "legal_entity")
    if node is not None:
        rows = rows.filter(node__path__startswith=node.path)
    return rows.order_by("node__path")


def get_report_node(actor: Any, node_id: int) -> OrgNode:
    """An org node the actor may see stock under (404 otherwise)."""
    try:
        return OrgNode.objects.restrict(actor, INVENTORY_VIEW).get(pk=node_id)
    except OrgNode.DoesNotExist:
        raise NotFound() from None


def report_nodes(actor: Any) -> list[OrgNode]:
    """Nodes an AvT can be run for: the stores the actor may see and the nodes above them
    (within the actor's scope) that hold at least one of them."""
    stores = list(visible_sites(actor).filter(node__kind=NodeKind.STORE).select_related("node"))
    ids: set[int] = set()
    for site in stores:
        ids.update(site.node.ancestor_ids())
    return list(OrgNode.objects.restrict(actor, INVENTORY_VIEW).filter(pk__in=ids).order_by("path"))


# --- on hand ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OnHandRow:
    balance: StockBalance
    average_cost: Decimal | None
    value: Decimal
    days_to_expiry: int | None

    @property
    def is_expired(self) -> bool:
        return self.days_to_expiry is not None and self.days_to_expiry < 0


@dataclass
class OnHandReport:
    rows: list[OnHandRow]
    total_quantity_by_unit: dict[str, Decimal]
    total_value: Decimal
    count: int
    truncated: bool


def _narrowed(
    rows: QuerySet[Any],
    *,
    site: Site | None,
    location: Location | None,
    item: Item | None,
    category: Category | int | None,
    item_ids: Collection[int] | None = None,
) -> QuerySet[Any]:
    """Balances or valuations (both keyed by item × location) narrowed by the report's filters
    (`item_ids`: only these items, none when empty, as when a search matches nothing)."""
    if site is not None:
        rows = rows.filter(location__site=site)
    if location is not None:
        rows = rows.filter(location=location)
    if item is not None:
        rows = rows.filter(item=item)
    if item_ids is not None:
        rows = rows.filter(item_id__in=list(item_ids))
    ids = category_ids(category)
    if ids is not None:
        rows = rows.filter(item__category_id__in=ids)
    return rows


def on_hand_rows(
    actor: Any,
    *,
    site: Site | None = None,
    location: Location | None = None,
    item: Item | None = None,
    category: Category | int | None = None,
    item_ids: Collection[int] | None = None,
) -> QuerySet[StockBalance]:
    """Balances (item × location × lot) on hand, filtered, in site/location/item/expiry order."""
    rows = _narrowed(
        StockBalance.objects.restrict(actor, INVENTORY_VIEW).exclude(quantity=0),
        site=site,
        location=location,
        item=item,
        category=category,
        item_ids=item_ids,
    )
    return rows.select_related("item__base_unit", "item__category", "location__site__node", "lot")


def _costs(balances: Iterable[StockBalance]) -> dict[tuple[int, int], Decimal | None]:
    pairs = {(row.item_id, row.location_id) for row in balances}
    if not pairs:
        return {}
    items = {item for item, _location in pairs}
    locations = {location for _item, location in pairs}
    return {
        (item, location): cost
        for item, location, cost in ItemValuation.objects.filter(
            item_id__in=items, location_id__in=locations
        ).values_list("item_id", "location_id", "average_cost")
        if (item, location) in pairs
    }


def on_hand_report(
    actor: Any,
    *,
    site: Site | None = None,
    location: Location | None = None,
    item: Item | None = None,
    category: Category | int | None = None,
    item_ids: Collection[int] | None = None,
    today: dt.date | None = None,
    limit: int | None = 500,
) -> OnHandReport:
    """On hand by site, location and lot: quantity, value at the moving-average cost of the
    item at the location, days to expiry; totals over every matching row (not just the page)."""
    rows = on_hand_rows(
        actor, site=site, location=location, item=item, category=category, item_ids=item_ids
    )
    ordered = rows.order_by(
        "location__site__node__path", "location__code", "item__sku", "lot__expiry_date", "lot_id"
    )
    page = list(ordered[: limit + 1] if limit is not None else ordered)
    truncated = limit is not None and len(page) > limit
    page = page[:limit] if limit is not None else page
    costs = _costs(page)
    day = today or timezone.localdate()
    built = []
    for balance in page:
        cost = costs.get((balance.item_id, balance.location_id))
        expiry = balance.lot.expiry_date if balance.lot is not None else None
        built.append(
            OnHandRow(
                balance=balance,
                average_cost=cost,
                value=quantize_money(balance.quantity * cost, storage=True)
                if cost is not None
                else Decimal(balance.value),
                days_to_expiry=(expiry - day).days if expiry is not None else None,
            )
        )
    totals = rows.values("item__base_unit__code").annotate(total=Sum("quantity")).order_by()
    # Quantised so both databases report the same digits (SQLite sums lose the scale).
    by_unit = {
        row["item__base_unit__code"]: quantize_quantity(Decimal(row["total"])) for row in totals
    }
    # Σ over the item × location valuations equals Σ quantity × average cost of the lots.
    value_rows = _narrowed(
        ItemValuation.objects.restrict(actor, INVENTORY_VIEW),
        site=site,
        location=location,
        item=item,
        category=category,
        item_ids=item_ids,
    )
    total_value = quantize_money(
        Decimal(value_rows.aggregate(total=Sum("value"))["total"] or ZERO), storage=True
    )
    return OnHandReport(
        rows=built,
        total_quantity_by_unit=by_unit,
        total_value=total_value,
        count=rows.count(),
        truncated=truncated,
    )


def reserved_stock(
    actor: Any,
    site: Site,
    *,
    item_ids: Collection[int] | None = None,
    category: Category | int | None = None,
) -> list[AvailableStock]:
    """Items with active reservations at a store, by SKU, each with on hand, reserved and
    available-to-promise (`selectors.available_stock`: at most three queries)."""
    return available_stock(
        actor,
        site,
        item_ids=item_ids,
        category_ids=category_ids(category),
        reserved_only=True,
    )


def expiring_rows(
    actor: Any,
    *,
    within_days: int = 3,
    site: Site | None = None,
    category: Category | int | None = None,
    today: dt.date | None = None,
) -> list[OnHandRow]:
    """Lots on hand that expire within `within_days` days, the expired ones (still on hand)
    first; each with its value and days to expiry (negative: expired that many days ago)."""
    day = today or timezone.localdate()
    rows = on_hand_rows(actor, site=site, category=category).filter(
        quantity__gt=0, lot__expiry_date__lte=day + dt.timedelta(days=within_days)
    )
    page = list(rows.order_by("lot__expiry_date", "location__site__node__path", "item__sku")[:1000])
    costs = _costs(page)
    result = []
    for balance in page:
        cost = costs.get((balance.item_id, balance.location_id))
        assert balance.lot is not None and balance.lot.expiry_date is not None
        result.append(
            OnHandRow(
                balance=balance,
                average_cost=cost,
                value=quantize_money(balance.quantity * cost, storage=True)
                if cost is not None
                else Decimal(balance.value),
                days_to_expiry=(balance.lot.expiry_date - day).days,
            )
        )
    return result


# --- movement history ------------------------------------------------------------------------

# source type → function(source id) → URL of the document's page. Counts, waste records and
# transfer orders are known here; other apps (receiving, sales) register theirs with
# `register_source_page`.
_SOURCE_PAGES: dict[str, Callable[[str], str | None]] = {}


def register_source_page(source_type: str, url: Callable[[str], str | None]) -> None:
    """Let movement rows of `source_type` link to their document's page."""
    _SOURCE_PAGES[source_type] = url


def _count_page(source_id: str) -> str | None:
    return f"/stock/counts/{source_id}/" if source_id.isdigit() else None


def document_page(name: str, argument: str) -> Callable[[str], str | None]:
    """A page builder for `register_source_page`: the URL `name` with the id as `argument`."""

    def url(source_id: str) -> str | None:
        return reverse(name, kwargs={argument: int(source_id)}) if source_id.isdigit() else None

    return url


register_source_page(COUNT_SOURCE, _count_page)
register_source_page(SALES_SOURCE, document_page("catalog:item_detail", "item_id"))
register_source_page(WASTE_SOURCE, document_page("inventory:waste_detail", "document_id"))
register_source_page(TRANSFER_ORDER_SOURCE, document_page("inventory:transfer_detail", "order_id"))


def source_url(move: StockMove) -> str | None:
    """The page of the document a move comes from, when there is one."""
    return source_page(move.source_type, move.source_id)


def source_page(source_type: str, source_id: str) -> str | None:
    """The page of a source document (a move's, a journal's), when it has one."""
    builder = _SOURCE_PAGES.get(source_type)
    return builder(source_id) if builder is not None and source_id else None


@dataclass(frozen=True)
class MovementRow:
    move: StockMove
    source_url: str | None
    balance_after: Decimal | None = None
    # What to call the source document: its number, or for a sale depletion "portions × dish".
    label: str = ""


def _sold_dishes(moves: Sequence[StockMove]) -> dict[str, str]:
    ids = {
        move.source_id
        for move in moves
        if move.source_type == SALES_SOURCE and move.source_id.isdigit()
    }
    if not ids:
        return {}
    return {
        str(pk): name
        for pk, name in Item.objects.filter(pk__in=[int(pk) for pk in ids]).values_list(
            "pk", "name"
        )
    }


def movement_rows(moves: Sequence[StockMove]) -> list[MovementRow]:
    """Moves with their document's page and name (one query for the dishes of sale depletions,
    none per row)."""
    dishes = _sold_dishes(moves)
    rows = []
    for move in moves:
        label = move.source_number or move.source_id
        if move.source_type == SALES_SOURCE and move.source_id in dishes:
            label = f"{move.source_number} × {dishes[move.source_id]}"
        rows.append(MovementRow(move=move, source_url=source_url(move), label=label))
    return rows


# --- actual vs theoretical -------------------------------------------------------------------


@dataclass
class AvtRow:
    """One item (or one item at one store) of the AvT report; quantities in the base unit."""

    item_id: int
    sku: str
    name: str
    unit: str
    category_id: int | None
    category: str
    opening: Decimal = ZERO
    receipts: Decimal = ZERO
    transfers_in: Decimal = ZERO
    transfers_out: Decimal = ZERO
    waste: Decimal = ZERO
    produced: Decimal = ZERO
    production_used: Decimal = ZERO
    sales: Decimal = ZERO
    closing: Decimal = ZERO
    actual: Decimal = ZERO
    theoretical: Decimal = ZERO
    variance_quantity: Decimal = ZERO
    actual_value: Decimal = ZERO
    theoretical_value: Decimal = ZERO
    variance_value: Decimal = ZERO
    waste_value: Decimal = ZERO
    unit_cost: Decimal | None = None
    variance_percent_of_sales: Decimal | None = None

    @property
    def variance_percent_of_usage(self) -> Decimal | None:
        """Variance as % of theoretical usage (None without theoretical usage)."""
        if not self.theoretical:
            return None
        return (self.variance_quantity / self.theoretical * HUNDRED).quantize(Decimal("0.01"))

    @property
    def is_empty(self) -> bool:
        return not any(
            (
                self.opening,
                self.receipts,
                self.transfers_in,
                self.transfers_out,
                self.waste,
                self.produced,
                self.production_used,
                self.sales,
                self.closing,
                self.actual,
            )
        )


QUANTITY_FIELDS = (
    "opening",
    "receipts",
    "transfers_in",
    "transfers_out",
    "waste",
    "produced",
    "production_used",
    "sales",
    "closing",
    "actual",
    "theoretical",
    "variance_quantity",
)
VALUE_FIELDS = ("actual_value", "theoretical_value", "variance_value", "waste_value")


@dataclass
class AvtCategory:
    category_id: int | None
    name: str
    item_count: int = 0
    actual_value: Decimal = ZERO
    theoretical_value: Decimal = ZERO
    variance_value: Decimal = ZERO
    waste_value: Decimal = ZERO
    variance_percent_of_sales: Decimal | None = None


@dataclass(frozen=True)
class CountMark:
    """The posted count a store's opening or closing rests on."""

    sheet_id: int
    number: str
    posted_at: dt.datetime


@dataclass(frozen=True)
class AvtSite:
    site: Site
    start: dt.datetime
    end: dt.datetime
    opening_count: CountMark | None
    closing_count: CountMark | None
    sales_revenue: Decimal


@dataclass
class AvtReport:
    node: OrgNode
    date_from: dt.date
    date_to: dt.date
    currency: str
    sites: list[AvtSite]
    rows: list[AvtRow]
    categories: list[AvtCategory]
    sales_revenue: Decimal
    actual_value: Decimal
    theoretical_value: Decimal
    variance_value: Decimal
    waste_value: Decimal
    variance_percent_of_sales: Decimal | None
    category_id: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def top_variances(self) -> list[AvtRow]:
        return [row for row in self.rows if row.variance_value][:15]


class MixedCurrencies(ValidationFailed):
    code = "mixed_currencies"
    default_message = gettext_lazy(
        "The stores under this node keep their books in different currencies."
    )


def _percent(value: Decimal, revenue: Decimal) -> Decimal | None:
    if not revenue:
        return None
    return (value / revenue * HUNDRED).quantize(Decimal("0.01"))


def _check_period(date_from: dt.date, date_to: dt.date) -> None:
    if date_to < date_from:
        raise ValidationFailed({"date_to": [_("The period ends before it starts.")]})
    if (date_to - date_from).days >= MAX_PERIOD_DAYS:
        raise ValidationFailed(
            {"date_to": [_("Choose a period of at most %(days)s days.") % {"days": 366}]}
        )


def avt_sites(actor: Any, node: OrgNode) -> list[Site]:
    """The stores an AvT of `node` covers: the node's own site, else the stores under it."""
    rows = visible_sites(actor, node)
    if node.kind in SITE_KINDS:
        return list(rows.filter(node=node))
    return list(rows.filter(node__kind=NodeKind.STORE))


def _windows(
    sites: Sequence[Site], date_from: dt.date, date_to: dt.date
) -> dict[tuple[dt.datetime, dt.datetime], list[int]]:
    """Sites grouped by their [start, end) instants (usually one group: same zone and cut-off)."""
    groups: dict[tuple[dt.datetime, dt.datetime], list[int]] = defaultdict(list)
    for site in sites:
        start, _end = business_day_bounds(
            date_from, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour
        )
        _start, end = business_day_bounds(
            date_to, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour
        )
        groups[(start, end)].append(site.pk)
    return groups


def _site_costs(location_ids: list[int], item_ids: list[int] | None) -> dict[tuple[int, int], Any]:
    """Per site × item: (quantity now, value weighted cost, mean of last averages)."""
    rows = ItemValuation.objects.filter(location_id__in=location_ids)
    if item_ids is not None:
        rows = rows.filter(item_id__in=item_ids)
    grouped = (
        rows.values("location__site_id", "item_id")
        .annotate(
            total_quantity=Sum("quantity"),
            positive_quantity=Sum("quantity", filter=Q(quantity__gt=0)),
            positive_value=Sum("value", filter=Q(quantity__gt=0)),
            mean_cost=Avg("average_cost"),
        )
        .order_by()
    )
    return {(row["location__site_id"], row["item_id"]): row for row in grouped}


def _cost(row: dict[str, Any] | None, item: Item) -> Decimal | None:
    if row is not None:
        if row["positive_quantity"]:
            return max(Decimal(row["positive_value"]) / Decimal(row["positive_quantity"]), ZERO)
        if row["mean_cost"] is not None:
            return Decimal(row["mean_cost"])
    return Decimal(item.standard_cost) if item.standard_cost is not None else None


def _count_marks(
    sites: Sequence[Site], windows: dict[tuple[dt.datetime, dt.datetime], list[int]]
) -> tuple[dict[int, CountMark], dict[int, CountMark]]:
    """Per site: the last count posted at or before the start, and the last posted in the
    window (at or before the end)."""
    bounds = {site_id: key for key, ids in windows.items() for site_id in ids}
    last_end = max(end for _start, end in windows) if windows else timezone.now()
    sheets = (
        CountSheet.objects.filter(
            site_id__in=[site.pk for site in sites],
            status=CountStatus.POSTED,
            posted_at__lte=last_end,
        )
        .order_by("site_id", "posted_at", "id")
        .values_list("site_id", "pk", "number", "posted_at")
    )
    opening: dict[int, CountMark] = {}
    closing: dict[int, CountMark] = {}
    for site_id, pk, number, posted_at in sheets:
        if posted_at is None:
            continue
        start, end = bounds[site_id]
        mark = CountMark(pk, number, posted_at)
        if posted_at <= start:
            opening[site_id] = mark
        elif posted_at <= end:
            closing[site_id] = mark
    return opening, closing


# Sales revenue providers: (sites, {site id: (start, end)}) → {site id: revenue}, summed. Each
# covers its own sales, so nothing is counted twice: the channels app's sales rollups cover
# channel orders; the built-in provider covers sold menu lines recorded directly on sale
# depletions (source `sales.menu_item`: a sales import, or the demo's stock history).
RevenueProvider = Callable[
    [Sequence[Site], dict[int, tuple[dt.datetime, dt.datetime]]], dict[int, Decimal]
]
_REVENUE_PROVIDERS: list[RevenueProvider] = []


def register_revenue_provider(provider: RevenueProvider) -> None:
    """Add a source of sales revenue for the AvT's % of sales (summed with the others; a
    provider covers sales no other provider counts)."""
    if provider not in _REVENUE_PROVIDERS:
        _REVENUE_PROVIDERS.append(provider)


class PriceBook:
    """Menu prices in memory: the rule of `catalog.selectors.menu_price` without a query per
    sold line (the site's own price, else the chain price in its currency, else any)."""

    def __init__(self, item_ids: Iterable[int]) -> None:
        self.prices: dict[int, list[MenuPrice]] = defaultdict(list)
        for price in MenuPrice.objects.filter(item_id__in=set(item_ids)).order_by(
            "-effective_from", "currency"
        ):
            self.prices[price.item_id].append(price)

    def price(self, item_id: int, site: Site, day: dt.date) -> Decimal | None:
        candidates = [row for row in self.prices.get(item_id, []) if row.effective_from <= day]
        for wanted in (
            lambda row: row.site_id == site.pk,
            lambda row: row.site_id is None and row.currency == site.legal_entity.base_currency,
            lambda row: row.site_id is None,
        ):
            for row in candidates:
                if wanted(row):
                    return Decimal(row.price)
        return None


def sold_line_revenue(
    sites: Sequence[Site], bounds: dict[int, tuple[dt.datetime, dt.datetime]]
) -> dict[int, Decimal]:
    """Revenue of the sold menu lines behind sale depletions (`SALES_SOURCE`): portions × the
    menu price on the sale's business date. One row per sold line, not per move."""
    revenue: dict[int, Decimal] = defaultdict(Decimal)
    for (site_id, _item_id), amount in sold_line_revenue_by_item(sites, bounds).items():
        revenue[site_id] += amount
    return dict(revenue)


def sold_line_revenue_by_item(
    sites: Sequence[Site], bounds: dict[int, tuple[dt.datetime, dt.datetime]]
) -> dict[tuple[int, int], Decimal]:
    """`sold_line_revenue` per (site, menu item)."""
    if not sites:
        return {}
    window = Q()
    for site in sites:
        start, end = bounds[site.pk]
        window |= Q(site_id=site.pk, occurred_at__gte=start, occurred_at__lt=end)
    revenue: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    for site_id, item_id, _day, amount in sold_lines(StockMove.objects.filter(window), sites):
        revenue[(site_id, item_id)] += amount
    return dict(revenue)


def sold_lines(
    moves: QuerySet[StockMove], sites: Iterable[Site]
) -> list[tuple[int, int, dt.date, Decimal]]:
    """The sold menu lines behind the sale depletions among `moves` (`SALES_SOURCE`), as
    (site id, menu item id, business date, portions × the menu price on that date). One row
    per sold line, not per move; lines without a price are left out."""
    rows = list(
        moves.filter(reason=MoveReason.SALE, source_type=SALES_SOURCE)
        .values_list("site_id", "posting_id", "source_id", "source_number", "occurred_at")
        .distinct()
        .order_by()
    )
    if not rows:
        return []
    book = PriceBook(int(row[2]) for row in rows if row[2].isdigit())
    by_id = {site.pk: site for site in sites}
    found = []
    for site_id, _posting, item_id, portions, occurred_at in rows:
        site = by_id[site_id]
        try:
            quantity = Decimal(portions)
        except ArithmeticError:
            continue
        if not item_id.isdigit() or not quantity.is_finite():
            continue
        day = business_date(occurred_at, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)
        price = book.price(int(item_id), site, day)
        if price is not None:
            found.append((site_id, int(item_id), day, price * quantity))
    return found


register_revenue_provider(sold_line_revenue)


def sales_revenue(
    sites: Sequence[Site], bounds: dict[int, tuple[dt.datetime, dt.datetime]]
) -> dict[int, Decimal]:
    """Sales revenue per site in its window, summed over the registered providers."""
    total: dict[int, Decimal] = defaultdict(Decimal)
    for provider in _REVENUE_PROVIDERS:
        for site_id, amount in provider(sites, bounds).items():
            total[site_id] += amount
    return dict(total)


def _kind() -> Coalesce:
    """A move's reason, or for a reversal the reason of the move it reverses."""
    return Coalesce(F("reverses__reason"), F("reason"), output_field=CharField())


def avt(
    actor: Any,
    *,
    node: OrgNode,
    date_from: dt.date,
    date_to: dt.date,
    category: Category | int | None = None,
    by_site: bool = False,
) -> AvtReport:
    """The actual-vs-theoretical report of `node`'s stores for the business dates (see module).

    Rows are per item (per item × store with `by_site`), sorted by |variance value| descending.
    Aggregated in the database: one grouped query over the period's moves, one over the
    valuations, one for the counts and one for the sold lines.
    """
    _check_period(date_from, date_to)
    if not OrgNode.objects.restrict(actor, INVENTORY_VIEW).filter(pk=node.pk).exists():
        raise NotFound()
    sites = avt_sites(actor, node)
    currencies = {site.legal_entity.base_currency for site in sites}
    if len(currencies) > 1:
        raise MixedCurrencies(
            {"node_id": [str(MixedCurrencies.default_message)]},
            message=MixedCurrencies.default_message,
        )
    currency = currencies.pop() if currencies else "CNY"
    windows = _windows(sites, date_from, date_to)
    bounds = {site_id: key for key, ids in windows.items() for site_id in ids}
    locations = dict(
        Location.objects.filter(site__in=sites)
        .exclude(kind=LocationKind.IN_TRANSIT)
        .values_list("pk", "site_id")
    )
    location_ids = list(locations)
    item_filter = None
    ids = category_ids(category)
    if ids is not None:
        item_filter = list(Item.objects.filter(category_id__in=ids).values_list("pk", flat=True))

    valuations = _site_costs(location_ids, item_filter)
    # Moves since each window's start, split into inside the window and after its end.
    flows: dict[tuple[int, int], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for (start, end), site_ids in windows.items():
        moves = StockMove.objects.filter(
            location_id__in=[pk for pk, site_id in locations.items() if site_id in site_ids],
            occurred_at__gte=start,
        )
        if item_filter is not None:
            moves = moves.filter(item_id__in=item_filter)
        grouped = (
            moves.annotate(
                kind=_kind(),
                part=Case(
                    When(occurred_at__lt=end, then=Value("in")),
                    default=Value("after"),
                    output_field=CharField(),
                ),
            )
            .values("site_id", "item_id", "kind", "part")
            .annotate(moved=Sum("quantity"), moved_value=Sum("value"))
            .order_by()
        )
        for moved in grouped:
            bucket = flows[(moved["site_id"], moved["item_id"])]
            bucket["since_start"] += moved["moved"]
            if moved["part"] == "after":
                bucket["since_end"] += moved["moved"]
            else:
                bucket[moved["kind"]] += moved["moved"]
                if moved["kind"] == MoveReason.WASTE:
                    bucket["waste_value"] += moved["moved_value"]

    pairs = set(flows) | {
        pair for pair, valuation in valuations.items() if valuation["total_quantity"]
    }
    items = Item.objects.select_related("base_unit", "category").in_bulk(
        {item_id for _site, item_id in pairs}
    )
    revenue_by_site = sales_revenue(sites, bounds)
    revenue = sum(revenue_by_site.values(), ZERO)
    per_site: list[tuple[int, AvtRow]] = []
    for site_id, item_id in pairs:
        item = items[item_id]
        bucket = flows.get((site_id, item_id), {})
        now_quantity = valuations.get((site_id, item_id), {}).get("total_quantity") or ZERO
        cost = _cost(valuations.get((site_id, item_id)), item)
        row = AvtRow(
            item_id=item_id,
            sku=item.sku,
            name=item.name,
            unit=item.base_unit.code,
            category_id=item.category_id,
            category=item.category.name if item.category else "",
        )
        row.opening = now_quantity - bucket.get("since_start", ZERO)
        row.closing = now_quantity - bucket.get("since_end", ZERO)
        row.receipts = bucket.get(MoveReason.RECEIPT, ZERO)
        # An over-delivery is booked into the receiving store as a transfer discrepancy: it
        # arrived like the rest of the transfer. (A short delivery leaves from in-transit,
        # which is not in any store.)
        row.transfers_in = bucket.get(MoveReason.TRANSFER_IN, ZERO) + bucket.get(
            MoveReason.TRANSFER_DISCREPANCY, ZERO
        )
        row.transfers_out = -bucket.get(MoveReason.TRANSFER_OUT, ZERO)
        row.waste = -bucket.get(MoveReason.WASTE, ZERO)
        row.produced = bucket.get(MoveReason.PRODUCTION, ZERO)
        row.production_used = -bucket.get(MoveReason.PRODUCTION_INPUT, ZERO)
        row.sales = -bucket.get(MoveReason.SALE, ZERO)
        row.actual = (
            row.opening
            + row.receipts
            + row.transfers_in
            - row.transfers_out
            - row.waste
            + row.produced
            - row.closing
        )
        row.theoretical = row.sales + row.production_used
        row.variance_quantity = row.actual - row.theoretical
        if row.is_empty:
            continue
        row.unit_cost = cost
        unit_cost = cost or ZERO
        row.actual_value = row.actual * unit_cost
        row.theoretical_value = row.theoretical * unit_cost
        row.variance_value = row.variance_quantity * unit_cost
        row.waste_value = -bucket.get("waste_value", ZERO)
        per_site.append((site_id, row))

    rows = _combine(per_site, by_site)
    categories: dict[int | None, AvtCategory] = {}
    for row in rows:
        for name in QUANTITY_FIELDS:
            setattr(row, name, quantize_quantity(getattr(row, name)))
        for name in VALUE_FIELDS:
            setattr(row, name, quantize_money(getattr(row, name), currency))
        row.variance_percent_of_sales = _percent(row.variance_value, revenue)
        group = categories.setdefault(
            row.category_id, AvtCategory(row.category_id, row.category or _("Uncategorised"))
        )
        group.item_count += 1
        group.actual_value += row.actual_value
        group.theoretical_value += row.theoretical_value
        group.variance_value += row.variance_value
        group.waste_value += row.waste_value
    for group in categories.values():
        group.variance_percent_of_sales = _percent(group.variance_value, revenue)
    rows.sort(key=lambda row: (-abs(row.variance_value), row.sku, getattr(row, "site_code", "")))
    opening, closing = _count_marks(sites, windows)
    variance = sum((row.variance_value for row in rows), ZERO)
    report = AvtReport(
        node=node,
        date_from=date_from,
        date_to=date_to,
        currency=currency,
        sites=[
            AvtSite(
                site=site,
                start=bounds[site.pk][0],
                end=bounds[site.pk][1],
                opening_count=opening.get(site.pk),
                closing_count=closing.get(site.pk),
                sales_revenue=quantize_money(revenue_by_site.get(site.pk, ZERO), currency),
            )
            for site in sites
        ],
        rows=rows,
        categories=sorted(categories.values(), key=lambda row: -abs(row.variance_value)),
        sales_revenue=quantize_money(revenue, currency),
        actual_value=sum((row.actual_value for row in rows), ZERO),
        theoretical_value=sum((row.theoretical_value for row in rows), ZERO),
        variance_value=variance,
        waste_value=sum((row.waste_value for row in rows), ZERO),
        variance_percent_of_sales=_percent(variance, revenue),
        category_id=category if isinstance(category, int) or category is None else category.pk,
    )
    if any(site.closing_count is None for site in report.sites):
        report.notes.append(
            _(
                "No count was posted in this period at some stores: their closing is the book "
                "quantity, so their variance only shows what was recorded (adjustments, "
                "consumption)."
            )
        )
    return report


def _combine(per_site: list[tuple[int, AvtRow]], by_site: bool) -> list[AvtRow]:
    """Rows per item (summed over the stores) or per item × store."""
    if by_site:
        result = []
        for site_id, row in per_site:
            row.site_id = site_id  # type: ignore[attr-defined]
            result.append(row)
        return result
    merged: dict[int, AvtRow] = {}
    for _site_id, row in per_site:
        total = merged.get(row.item_id)
        if total is None:
            merged[row.item_id] = row
            continue
        for name in (*QUANTITY_FIELDS, *VALUE_FIELDS):
            setattr(total, name, getattr(total, name) + getattr(row, name))
    for row in merged.values():
        # One cost for display: what the stores' theoretical (else actual) usage was valued at.
        if row.theoretical:
            row.unit_cost = row.theoretical_value / row.theoretical
        elif row.actual:
            row.unit_cost = row.actual_value / row.actual
    return list(merged.values())


def avt_moves(
    actor: Any,
    *,
    node: OrgNode,
    date_from: dt.date,
    date_to: dt.date,
    item: Item,
) -> list[MovementRow]:
    """Drill-down: the moves of one item at the node's stores in the AvT window, oldest first
    (in-transit locations left out, as in the report)."""
    _check_period(date_from, date_to)
    if not OrgNode.objects.restrict(actor, INVENTORY_VIEW).filter(pk=node.pk).exists():
        raise NotFound()
    sites = avt_sites(actor, node)
    windows = _windows(sites, date_from, date_to)
    window = Q(pk__in=[])
    for (start, end), site_ids in windows.items():
        window |= Q(site_id__in=site_ids, occurred_at__gte=start, occurred_at__lt=end)
    moves = (
        StockMove.objects.filter(window, item=item)
        .exclude(location__kind=LocationKind.IN_TRANSIT)
        .select_related("location__site__node", "lot", "posting", "reverses")
        .order_by("occurred_at", "id")[:2000]
    )
    return movement_rows(list(moves))


# --- export ----------------------------------------------------------------------------------

BOM = "\ufeff"


def _plain(value: Decimal | None) -> str:
    if value is None:
        return ""
    return f"{value.normalize():f}" if value == value.to_integral_value() else f"{value:f}"


def _money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:f}"


def avt_csv_rows(report: AvtReport) -> Iterator[list[str]]:
    """The report as CSV rows: a header, one row per item, and a totals row."""
    yield [
        _("SKU"),
        _("Item"),
        _("Category"),
        _("Unit"),
        _("Opening"),
        _("Receipts"),
        _("Transfers in"),
        _("Transfers out"),
        _("Waste"),
        _("Produced"),
        _("Used in production"),
        _("Closing"),
        _("Actual usage"),
        _("Theoretical usage"),
        _("Variance"),
        _("Unit cost"),
        _("Variance value (%(currency)s)") % {"currency": report.currency},
        # xgettext:no-python-format
        _("Variance % of sales"),
    ]
    for row in report.rows:
        yield [
            row.sku,
            row.name,
            row.category,
            row.unit,
            *(
                _plain(getattr(row, name))
                for name in (
                    "opening",
                    "receipts",
                    "transfers_in",
                    "transfers_out",
                    "waste",
                    "produced",
                    "production_used",
                    "closing",
                    "actual",
                    "theoretical",
                    "variance_quantity",
                )
            ),
            _plain(
                row.unit_cost.quantize(Decimal("0.0001")) if row.unit_cost is not None else None
            ),
            _money(row.variance_value),
            _money(row.variance_percent_of_sales),
        ]
    yield [
        "",
        _("Total"),
        "",
        "",
        *([""] * 11),
        "",
        _money(report.variance_value),
        _money(report.variance_percent_of_sales),
    ]
    yield ["", _("Sales revenue"), "", "", *([""] * 12), _money(report.sales_revenue), ""]


def avt_filename(report: AvtReport) -> str:
    return f"avt-{report.node.code}-{report.date_from:%Y%m%d}-{report.date_to:%Y%m%d}.csv"


def to_csv(rows: Iterable[Sequence[str]]) -> str:
    """CSV text with a UTF-8 byte-order mark, so Excel reads Chinese names correctly."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue()
