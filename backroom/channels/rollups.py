"""Sales rollups: per store × business day (`SalesDay`), × channel, × local hour and × menu item,
maintained in the transaction that completes or refunds an order (docs/channels-sales.md).

How an order counts. A completed or partially refunded order adds, per line, the quantity not
refunded and its gross (quantity × unit price); the order's merchant- and platform-borne
discounts are spread over its lines in proportion to their gross (the remainder on the largest
line) and scale with the part not refunded; net = gross − merchant-borne discount (what the
platform pays us for its own discounts stays our sales). A line without a mapping counts under
the "unmapped" bucket (menu item empty). A whole refund, or a cancellation after completion,
takes the order out again; an order never completed never counts.

How the rollups move. `refresh_orders_sales` recomputes the orders' contributions and moves each
rollup row by the difference from what they added last time (kept in `OrderSales`), so a
replayed or repeated update changes nothing. It works set-wise: a batch of orders (a till batch,
or a single order as a batch of one) costs a fixed number of queries — the orders, their lines
and their snapshots read at once, the differences summed per rollup row in Python, one
`INSERT … ON CONFLICT DO UPDATE SET x = x + excluded.x` per table (row locks; a concurrent insert
of the same row is waited for and added to: no count is lost), one upsert of the snapshots. The
store-day rows are always taken first (in site, day, currency order), so two writers of one
store and day update the other rows one after the other (no deadlock between them).

Subscribers (in-process, inside the order's transaction): `channels.order.received` (a till sale
arrives completed), `channels.order.status_changed` (completion, refunds, cancellation) and
`channels.order.restocked` (a further partial refund of depleted lines, which changes no
status) take each `publish_many` call's events as one list (`subscribe_many`).
`channels.mapping.saved` runs asynchronously (the worker, after commit): it moves the
mapped lines of counted orders from the unmapped bucket to their item. `rebuild_sales`
recomputes everything from the orders and reports what differed.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast
from zoneinfo import ZoneInfo

from django.db import IntegrityError, models, transaction
from django.db.models import F, Q, Sum
from django.utils.translation import gettext as _

from backroom.catalog.models import Item
from backroom.channels.choices import OrderStatus
from backroom.channels.events import ChannelsEvent
from backroom.channels.models import (
    Order,
    OrderLine,
    OrderSales,
    SalesChannelDay,
    SalesDay,
    SalesHour,
    SalesItemDay,
)
from backroom.channels.permissions_sales import CHANNELS_SALES
from backroom.events.models import OutboxEvent
from backroom.events.services import subscribe, subscribe_many
from backroom.inventory.reports import register_revenue_provider
from backroom.kernel.bulk import insert_values
from backroom.kernel.dates import business_date as business_date_of
from backroom.kernel.exceptions import NotFound, PermissionDenied, ValidationFailed
from backroom.kernel.money import allocate, quantize_money
from backroom.org.models import Site

ZERO = Decimal(0)
# Statuses in which an order counts as sold (partially refunded only happens after completion).
COUNTED: frozenset[str] = frozenset({OrderStatus.COMPLETED, OrderStatus.PARTIALLY_REFUNDED})
MAX_DAYS = 366

# Rollup tables by the prefix of their row keys, with the fields each one adds up.
ORDER_FIELDS = (
    "orders",
    "gross",
    "merchant_discount",
    "platform_discount",
    "net",
    "packaging_fee",
    "delivery_fee",
    "commission",
)
TABLES: dict[str, tuple[type[models.Model], tuple[str, ...]]] = {
    # `history_net`: the part of `net` from history imported without depletion (see below).
    "day": (SalesDay, (*ORDER_FIELDS, "history_net")),
    "item": (SalesItemDay, ("quantity", "gross", "merchant_discount", "platform_discount", "net")),
    "hour": (SalesHour, ("orders", "gross", "net")),
    "channel": (SalesChannelDay, ORDER_FIELDS),
}
# Lock order inside one store-day: the day row first, then items, hours, channels.
_RANK = {"day": 0, "item": 1, "hour": 2, "channel": 3}

Vector = dict[str, Decimal]
Rows = dict[str, Vector]  # "day:", "item:<id>" ("item:" unmapped), "hour:<0-23>", "channel:<kind>"


def _money(value: Decimal) -> Decimal:
    return quantize_money(value, storage=True)


def local_hour(order: Order, site: Site) -> int:
    """The clock hour the order was placed at, in the store's time zone."""
    return order.placed_at.astimezone(ZoneInfo(site.time_zone)).hour


def contribution(order: Order, lines: Iterable[OrderLine], site: Site) -> Rows:
    """What the order adds to the rollups in its current state (see the module); {} when it
    does not count."""
    if order.status not in COUNTED:
        return {}
    lines = sorted(lines, key=lambda line: line.line_no)
    weights = [line.quantity * line.unit_price for line in lines]
    merchant = allocate(order.merchant_discount, weights)
    platform = allocate(order.platform_discount, weights)
    rows: Rows = {}
    day: Vector = dict.fromkeys(ORDER_FIELDS, ZERO)
    for line, merchant_part, platform_part in zip(lines, merchant, platform, strict=True):
        remaining = max(line.quantity - line.refunded_quantity, ZERO)
        share = remaining / line.quantity if line.quantity > 0 else ZERO
        gross = _money(line.unit_price * remaining)
        merchant_share = _money(merchant_part * share)
        platform_share = _money(platform_part * share)
        key = f"item:{line.menu_item_id or ''}"
        item = rows.setdefault(key, dict.fromkeys(TABLES["item"][1], ZERO))
        item["quantity"] += remaining
        item["gross"] += gross
        item["merchant_discount"] += merchant_share
        item["platform_discount"] += platform_share
        item["net"] += gross - merchant_share
        day["gross"] += gross
        day["merchant_discount"] += merchant_share
        day["platform_discount"] += platform_share
        day["net"] += gross - merchant_share
    day["orders"] = Decimal(1)
    day["packaging_fee"] = order.packaging_fee
    day["delivery_fee"] = order.delivery_fee
    day["commission"] = order.commission
    rows[f"channel:{order.kind}"] = dict(day)
    if order.is_history:
        day["history_net"] = day["net"]
    rows["day:"] = day
    rows[f"hour:{local_hour(order, site)}"] = {
        "orders": Decimal(1),
        "gross": day["gross"],
        "net": day["net"],
    }
    return rows


def _difference(old: Rows, new: Rows) -> Rows:
    if not old:  # a new order (a till batch's): its rows are the changes
        return {key: vector for key, vector in new.items() if any(vector.values())}
    changes: Rows = {}
    for key in set(old) | set(new):
        before, after = old.get(key, {}), new.get(key, {})
        delta = {
            name: after.get(name, ZERO) - before.get(name, ZERO)
            for name in set(before) | set(after)
        }
        if any(delta.values()):
            changes[key] = delta
    return changes


def _sort_key(key: str) -> tuple[int, int, str]:
    table, _sep, rest = key.partition(":")
    return (_RANK[table], int(rest) if rest.isdigit() else -1, rest)


def _to_json(rows: Rows) -> dict[str, dict[str, str]]:
    return {
        key: {name: str(value) for name, value in vector.items()} for key, vector in rows.items()
    }


def _from_json(data: dict[str, Any]) -> Rows:
    return {
        key: {name: Decimal(value) for name, value in vector.items()}
        for key, vector in data.items()
    }


def _row_filter(key: str, *, site_id: int, day: dt.date, currency: str) -> dict[str, Any]:
    table, _sep, rest = key.partition(":")
    where: dict[str, Any] = {"site_id": site_id, "business_date": day, "currency": currency}
    if table == "item":
        where["menu_item_id"] = int(rest) if rest else None
    elif table == "hour":
        where["hour"] = int(rest)
    elif table == "channel":
        where["kind"] = rest
    return where


def _bump(model: type[models.Model], where: dict[str, Any], delta: Vector) -> None:
    """Add `delta` to the row at `where`, inserting it when missing (race-safe, see module)."""
    values = {name: (int(value) if name == "orders" else value) for name, value in delta.items()}
    changes = {name: F(name) + value for name, value in values.items()}
    manager = model._default_manager
    if manager.filter(**where).update(**changes):
        return
    try:
        with transaction.atomic():
            manager.create(**where, **values)
            return
    except IntegrityError:
        pass  # inserted concurrently since our update: add to that row
    manager.filter(**where).update(**changes)


RowKey = tuple[int, dt.date, str, str]  # site, business day, currency, row key


def _upsert(table: str, rows: list[tuple[RowKey, Vector]]) -> None:
    """Add each vector to its rollup row in one `INSERT … ON CONFLICT DO UPDATE SET x = x +
    excluded.x` per table (PostgreSQL, SQLite ≥ 3.24): rows are taken in the order given (the
    lock order), a concurrent insert of the same row is waited for and added to."""
    if not rows:
        return
    model, fields = TABLES[table]
    keys = ["site_id", "business_date", "currency"]
    target = "site_id, business_date, currency"
    where = ""
    if table == "item":
        mapped = [row for row in rows if row[0][3] != "item:"]
        unmapped = [row for row in rows if row[0][3] == "item:"]
        if mapped and unmapped:
            _upsert_rows(
                model,
                fields,
                ["site_id", "business_date", "currency", "menu_item_id"],
                "site_id, business_date, menu_item_id, currency",
                " WHERE menu_item_id IS NOT NULL",
                mapped,
            )
            _upsert_rows(model, fields, keys, target, " WHERE menu_item_id IS NULL", unmapped)
            return
        if mapped:
            keys = [*keys, "menu_item_id"]
            target = "site_id, business_date, menu_item_id, currency"
            where = " WHERE menu_item_id IS NOT NULL"
        else:
            where = " WHERE menu_item_id IS NULL"
    elif table == "hour":
        keys = [*keys, "hour"]
        target = "site_id, business_date, hour, currency"
    elif table == "channel":
        keys = [*keys, "kind"]
        target = "site_id, business_date, kind, currency"
    _upsert_rows(model, fields, keys, target, where, rows)


def _upsert_rows(
    model: type[models.Model],
    fields: tuple[str, ...],
    keys: list[str],
    target: str,
    where: str,
    rows: list[tuple[RowKey, Vector]],
) -> None:
    connection = transaction.get_connection()
    meta = model._meta
    # Other columns of the table (not summed here) get their model default on insert.
    others = [
        field
        for field in meta.concrete_fields
        if not field.primary_key
        and field.attname not in keys
        and field.name not in fields
        and field.has_default()
    ]
    defaults = [field.get_db_prep_save(field.get_default(), connection) for field in others]
    columns = [*keys, *fields, *(field.column for field in others)]
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    updates = ", ".join(
        f"{quote(name)} = {table}.{quote(name)} + excluded.{quote(name)}" for name in fields
    )
    prepared = {name: cast("models.Field[Any, Any]", meta.get_field(name)) for name in fields}
    for start in range(0, len(rows), 500):
        chunk = rows[start : start + 500]
        params: list[Any] = []
        for (site_id, day, currency, key), vector in chunk:
            rest = key.partition(":")[2]
            values: list[Any] = [site_id, connection.ops.adapt_datefield_value(day), currency]
            if len(keys) == 4:
                values.append(rest if keys[3] == "kind" else int(rest))
            for name in fields:
                value = vector.get(name, ZERO)
                if name == "orders":
                    values.append(int(value))
                else:
                    values.append(prepared[name].get_db_prep_save(value, connection))
            params.extend(values)
            params.extend(defaults)
        placeholder = "(" + ", ".join(["%s"] * len(columns)) + ")"
        # Identifiers come from the model's meta only; every value is a parameter.
        head = " ".join(["INSERT INTO", table, "(" + ", ".join(quote(n) for n in columns) + ")"])
        tail = " ".join(["ON CONFLICT", f"({target}){where}", "DO UPDATE SET", updates])
        sql = " ".join([head, "VALUES", ", ".join([placeholder] * len(chunk)), tail])
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


def _row_order(pair: tuple[RowKey, Vector]) -> tuple[int, dt.date, str, tuple[int, int, str]]:
    site_id, day, currency, key = pair[0]
    return (site_id, day, currency, _sort_key(key))


class _Fresh(threading.local):
    orders: dict[int, tuple[Order, Sequence[OrderLine]]] | None = None


_FRESH = _Fresh()


@contextmanager
def fresh_orders(entries: Iterable[tuple[Order, Sequence[OrderLine]]]) -> Iterator[None]:
    """Orders just inserted in this transaction, with their saved lines in memory (a till
    batch): inside the block, `refresh_orders_sales` takes them from here instead of reading
    them, their lines and their snapshots again. They have no snapshot yet, and their insert
    holds their row locks."""
    previous = _FRESH.orders
    _FRESH.orders = {order.pk: (order, lines) for order, lines in entries}
    try:
        yield
    finally:
        _FRESH.orders = previous


def fresh_order(order_id: int) -> Order | None:
    """The order when it was inserted in this transaction and is inside `fresh_orders`."""
    entry = (_FRESH.orders or {}).get(order_id)
    return entry[0] if entry is not None else None


def refresh_orders_sales(order_ids: Iterable[int]) -> int:
    """Bring the rollups in line with the orders' current state, set-wise: the orders, their
    lines and their `OrderSales` in three queries, the differences summed per rollup row in
    Python, one upsert per table and one for the snapshots. Returns how many orders moved the
    rollups.

    Takes the orders' row locks (already held inside the intake's transaction), then the
    store-day rows of every store-day concerned (in site, day, currency order) before any other
    rollup row, as a single order does. Orders inside `fresh_orders` are not read again."""
    ids = sorted(set(order_ids))
    if not ids:
        return 0
    fresh = _FRESH.orders or {}
    # No savepoint: a failure here fails the caller's transaction anyway.
    with transaction.atomic(savepoint=False):
        read = [pk for pk in ids if pk not in fresh]
        orders = (
            list(
                Order.objects.select_for_update(of=("self",))
                .select_related("site")
                .filter(pk__in=read)
                .order_by("pk")
            )
            if read
            else []
        )
        lines: dict[int, Sequence[OrderLine]] = {}
        snapshots: dict[int, OrderSales] = {}
        if orders:
            found = [order.pk for order in orders]
            for line in OrderLine.objects.filter(order_id__in=found).order_by():
                lines.setdefault(line.order_id, []).append(line)  # type: ignore[attr-defined]
            snapshots = {row.order_id: row for row in OrderSales.objects.filter(order_id__in=found)}
        for pk in ids:
            if pk in fresh:
                orders.append(fresh[pk][0])
                lines[pk] = fresh[pk][1]
        if not orders:
            return 0
        totals: dict[RowKey, Vector] = {}
        saved: list[dict[str, Any]] = []
        removed: list[int] = []
        moved = 0
        for order in orders:
            new = contribution(order, lines.get(order.pk, []), order.site)
            snapshot = snapshots.get(order.pk)
            if snapshot is None and not new:
                continue
            old = _from_json(snapshot.rows) if snapshot is not None else {}
            currency = snapshot.currency if snapshot is not None else order.currency
            changes = _difference(old, new)
            if not changes:
                continue
            moved += 1
            # The store-day row even when it does not change: it serialises the writers.
            totals.setdefault((order.site_id, order.business_date, currency, "day:"), {})
            for key, delta in changes.items():
                bucket = totals.setdefault((order.site_id, order.business_date, currency, key), {})
                for name, value in delta.items():
                    bucket[name] = bucket.get(name, ZERO) + value
            if new:
                saved.append(
                    {
                        "order_id": order.pk,
                        "site_id": order.site_id,
                        "business_date": order.business_date,
                        "currency": currency,
                        "rows": _to_json(new),
                    }
                )
            elif snapshot is not None:
                removed.append(order.pk)
        if not moved:
            return 0
        pairs = sorted(totals.items(), key=_row_order)
        for table in ("day", "item", "hour", "channel"):
            _upsert(table, [pair for pair in pairs if pair[0][3].partition(":")[0] == table])
        if saved and all(row["order_id"] in fresh for row in saved):
            insert_values(OrderSales, saved, ids=False)  # new orders: no snapshot to update
        elif saved:
            OrderSales.objects.bulk_create(
                [OrderSales(**row) for row in saved],
                update_conflicts=True,
                unique_fields=["order"],
                update_fields=["site", "business_date", "currency", "rows", "updated_at"],
            )
        if removed:
            OrderSales.objects.filter(order_id__in=removed).delete()
        return moved


def refresh_order_sales(order_id: int) -> bool:
    """Bring the rollups in line with the order's current state; True when they moved (a batch
    of one of `refresh_orders_sales`)."""
    return refresh_orders_sales([order_id]) > 0


# --- subscribers ----------------------------------------------------------------------------


def _order_ids(events: list[OutboxEvent]) -> list[int]:
    return [int(event.payload["order_id"]) for event in events]


@subscribe_many(ChannelsEvent.ORDER_RECEIVED, name="channels.sales.received")
def on_orders_received(events: list[OutboxEvent]) -> None:
    refresh_orders_sales(
        _order_ids([event for event in events if event.payload.get("status") in COUNTED])
    )


@subscribe_many(ChannelsEvent.ORDER_STATUS_CHANGED, name="channels.sales.status")
def on_status_changed(events: list[OutboxEvent]) -> None:
    refresh_orders_sales(
        _order_ids(
            [
                event
                for event in events
                if event.payload.get("to_status") in COUNTED
                or event.payload.get("from_status") in COUNTED
            ]
        )
    )


@subscribe_many(ChannelsEvent.ORDER_RESTOCKED, name="channels.sales.restocked")
def on_restocked(events: list[OutboxEvent]) -> None:
    refresh_orders_sales(_order_ids(events))


@subscribe(ChannelsEvent.MAPPING_SAVED, is_async=True, name="channels.sales.mapping")
def on_mapping_saved(event: OutboxEvent) -> None:
    """Move the newly mapped lines of counted orders out of the unmapped bucket."""
    payload = event.payload
    if not payload.get("caught_up_lines") or payload.get("item_id") is None:
        return
    order_ids = list(
        OrderLine.objects.filter(
            order__account_id=payload["account_id"],
            external_sku=payload["external_code"],
            order__status__in=COUNTED,
        )
        .values_list("order_id", flat=True)
        .distinct()
        .order_by("order_id")
    )
    for start in range(0, len(order_ids), 1000):
        refresh_orders_sales(order_ids[start : start + 1000])


# --- AvT: net sales per store -----------------------------------------------------------------


def net_sales_revenue(
    sites: Sequence[Site], bounds: dict[int, tuple[dt.datetime, dt.datetime]]
) -> dict[int, Decimal]:
    """Net sales per store over the business days of its window, from `SalesDay`, in the
    store's base currency; only for stores that have channel orders at all (the others are left
    to the fallback provider, the demo's sold menu lines).

    History imported without depletion (`SalesDay.history_net`, docs/decisions/0007) is left
    out: its stock usage is not in the ledger from these orders, and where the ledger holds it
    (sold lines recorded straight on sale depletions, as in the demo) the fallback provider
    counts it."""
    ids = [site.pk for site in sites]
    if not ids:
        return {}
    covered = set(
        Order.objects.filter(site_id__in=ids).values_list("site_id", flat=True).distinct()
    )
    revenue: dict[int, Decimal] = {}
    windows = Q()
    for site in sites:
        if site.pk not in covered:
            continue
        start, end = bounds[site.pk]
        first = business_date_of(start, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)
        last = business_date_of(
            end - dt.timedelta(microseconds=1),
            time_zone=site.time_zone,
            cutoff_hour=site.cutoff_hour,
        )
        windows |= Q(
            site_id=site.pk,
            business_date__gte=first,
            business_date__lte=last,
            currency=site.legal_entity.base_currency,
        )
        revenue[site.pk] = ZERO
    if revenue:
        # One query for all the stores (each its own window and currency).
        for site_id, net in (
            SalesDay.objects.filter(windows)
            .order_by()
            .values("site_id")
            .annotate(net=Sum(F("net") - F("history_net")))
            .values_list("site_id", "net")
        ):
            revenue[site_id] = net or ZERO
    return revenue


register_revenue_provider(net_sales_revenue)


# --- reads ------------------------------------------------------------------------------------


def _check_actor(actor: Any) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise NotFound()
    if not actor.has_scoped_permission(CHANNELS_SALES):
        raise PermissionDenied()


def sales_sites(actor: Any) -> list[Site]:
    """The stores whose sales the actor may see."""
    return list(
        Site.objects.restrict(actor, CHANNELS_SALES)
        .filter(node__kind="store")
        .select_related("node", "legal_entity")
        .order_by("node__path")
    )


def check_period(date_from: dt.date, date_to: dt.date) -> None:
    if date_to < date_from:
        raise ValidationFailed({"date_to": [_("The period ends before it starts.")]})
    if (date_to - date_from).days >= MAX_DAYS:
        raise ValidationFailed(
            {"date_to": [_("Choose a period of at most %(days)s days.") % {"days": MAX_DAYS}]}
        )


@dataclass
class ItemSales:
    item_id: int | None  # None: the unmapped bucket
    name: str
    sku: str
    quantity: Decimal
    gross: Decimal
    merchant_discount: Decimal
    platform_discount: Decimal
    net: Decimal


@dataclass
class SalesSummary:
    """A store's sales over business days [date_from, date_to], in one currency."""

    site: Site
    date_from: dt.date
    date_to: dt.date
    currency: str
    totals: dict[str, Decimal]
    channels: list[dict[str, Any]]
    hours: list[dict[str, Any]]
    items: list[ItemSales] = field(default_factory=list)
    days: list[dict[str, Any]] = field(default_factory=list)

    @property
    def has_sales(self) -> bool:
        return bool(self.totals.get("orders"))


def _sums(rows: Any, fields: Sequence[str]) -> dict[str, Decimal]:
    found = rows.aggregate(**{name: Sum(name) for name in fields})
    return {name: (found[name] if found[name] is not None else ZERO) for name in fields}


def sales_summary(
    actor: Any, *, site_id: int, date_from: dt.date, date_to: dt.date, top: int = 20
) -> SalesSummary:
    """Totals, per channel, per hour, per day and the top items of a store's sales
    (`channels.sales` at the store; `not_found` for another store's)."""
    _check_actor(actor)
    check_period(date_from, date_to)
    site = (
        Site.objects.restrict(actor, CHANNELS_SALES)
        .select_related("node", "legal_entity")
        .filter(pk=site_id)
        .first()
    )
    if site is None:
        raise NotFound()
    currency = site.legal_entity.base_currency
    where = {
        "site": site,
        "business_date__gte": date_from,
        "business_date__lte": date_to,
        "currency": currency,
    }
    totals = _sums(SalesDay.objects.filter(**where), ORDER_FIELDS)
    channels: list[dict[str, Any]] = [
        dict(row)
        for row in SalesChannelDay.objects.filter(**where)
        .values("kind")
        .annotate(**{name: Sum(name) for name in ORDER_FIELDS})
        .order_by("kind")
    ]
    for row in channels:
        row["label"] = Order(kind=row["kind"]).get_kind_display()
    channels = [row for row in channels if row["orders"] or row["net"]]
    hours: list[dict[str, Any]] = [
        dict(row)
        for row in SalesHour.objects.filter(**where)
        .values("hour")
        .annotate(orders=Sum("orders"), gross=Sum("gross"), net=Sum("net"))
        .order_by()
        if row["orders"] or row["net"]
    ]
    # Hours in the order of the business day: from the cut-off hour on.
    hours.sort(key=lambda row: (row["hour"] - site.cutoff_hour) % 24)
    days: list[dict[str, Any]] = [
        row
        for row in SalesDay.objects.filter(**where)
        .values("business_date", *ORDER_FIELDS)
        .order_by("business_date")
        if row["orders"] or row["net"]
    ]
    grouped: list[dict[str, Any]] = [
        dict(row)
        for row in SalesItemDay.objects.filter(**where)
        .values("menu_item_id")
        .annotate(
            quantity=Sum("quantity"),
            gross=Sum("gross"),
            merchant_discount=Sum("merchant_discount"),
            platform_discount=Sum("platform_discount"),
            net=Sum("net"),
        )
        .order_by()
    ]
    grouped = [row for row in grouped if row["quantity"] or row["net"]]
    grouped.sort(key=lambda row: (-row["net"], -row["quantity"], row["menu_item_id"] or 0))
    names = Item.objects.in_bulk([row["menu_item_id"] for row in grouped if row["menu_item_id"]])
    items = []
    for row in grouped[:top]:
        item = names.get(row["menu_item_id"]) if row["menu_item_id"] else None
        items.append(
            ItemSales(
                item_id=row["menu_item_id"],
                name=item.name if item else "",
                sku=item.sku if item else "",
                quantity=row["quantity"],
                gross=row["gross"],
                merchant_discount=row["merchant_discount"],
                platform_discount=row["platform_discount"],
                net=row["net"],
            )
        )
    return SalesSummary(
        site=site,
        date_from=date_from,
        date_to=date_to,
        currency=currency,
        totals=totals,
        channels=channels,
        hours=hours,
        items=items,
        days=days,
    )


# --- rebuild ----------------------------------------------------------------------------------


@dataclass
class RebuildResult:
    """What `rebuild_sales` found: one line per rollup row that differed."""

    store_days: int = 0
    orders: int = 0
    differences: list[str] = field(default_factory=list)


def _actual_rows(site_id: int, day: dt.date) -> dict[tuple[str, str], Vector]:
    found: dict[tuple[str, str], Vector] = {}
    for table, (model, fields) in TABLES.items():
        for row in model._default_manager.filter(site_id=site_id, business_date=day):
            if table == "item":
                key = f"item:{row.menu_item_id or ''}"  # type: ignore[attr-defined]
            elif table == "hour":
                key = f"hour:{row.hour}"  # type: ignore[attr-defined]
            elif table == "channel":
                key = f"channel:{row.kind}"  # type: ignore[attr-defined]
            else:
                key = "day:"
            found[(row.currency, key)] = {  # type: ignore[attr-defined]
                name: Decimal(getattr(row, name)) for name in fields
            }
    return found


def _store_days(
    site_ids: Sequence[int] | None, date_from: dt.date, date_to: dt.date
) -> Iterator[tuple[int, dt.date]]:
    pairs: set[tuple[int, dt.date]] = set()
    for model in (Order, SalesDay, OrderSales):
        rows = model._default_manager.filter(
            business_date__gte=date_from, business_date__lte=date_to
        )
        if site_ids is not None:
            rows = rows.filter(site_id__in=site_ids)
        pairs.update(rows.values_list("site_id", "business_date").distinct().order_by())
    yield from sorted(pairs)


def _describe(site: Site, day: dt.date, currency: str, key: str, field_name: str) -> str:
    return f"{site.node.code} {day} {currency} {key} {field_name}"


def rebuild_sales(
    *,
    site_ids: Sequence[int] | None = None,
    date_from: dt.date,
    date_to: dt.date,
    fix: bool = True,
) -> RebuildResult:
    """Recompute the rollups of the stores' business days from their orders and compare them
    with the stored rows; with `fix`, replace what differs (and each order's `OrderSales`).

    Each store-day is done in its own transaction holding its `SalesDay` row locks, so orders
    completing meanwhile wait and then apply their own change on top."""
    result = RebuildResult()
    store_days = list(_store_days(site_ids, date_from, date_to))
    sites = Site.objects.select_related("node").in_bulk({site_id for site_id, _day in store_days})
    for site_id, day in store_days:
        site = sites[site_id]
        with transaction.atomic():
            if fix:
                list(
                    SalesDay.objects.select_for_update()
                    .filter(site_id=site_id, business_date=day)
                    .order_by("pk")
                )
            orders = list(
                Order.objects.filter(site_id=site_id, business_date=day)
                .prefetch_related("lines")
                .order_by("pk")
            )
            expected: dict[tuple[str, str], Vector] = {}
            per_order: dict[int, tuple[str, Rows]] = {}
            for order in orders:
                rows = contribution(order, order.lines.all(), site)
                if not rows:
                    continue
                per_order[order.pk] = (order.currency, rows)
                for key, vector in rows.items():
                    bucket = expected.setdefault((order.currency, key), {})
                    for name, value in vector.items():
                        bucket[name] = bucket.get(name, ZERO) + value
            actual = _actual_rows(site_id, day)
            found: list[str] = []
            for currency, key in sorted(set(expected) | set(actual)):
                want = expected.get((currency, key), {})
                have = actual.get((currency, key), {})
                for name in sorted(set(want) | set(have)):
                    if want.get(name, ZERO) != have.get(name, ZERO):
                        found.append(
                            _describe(site, day, currency, key, name)
                            + f": stored {have.get(name, ZERO)}, orders give {want.get(name, ZERO)}"
                        )
            snapshots = {
                row.order_id: row
                for row in OrderSales.objects.filter(site_id=site_id, business_date=day)
            }
            stale = any(
                _from_json(snapshots[pk].rows) != rows if pk in snapshots else True
                for pk, (_currency, rows) in per_order.items()
            ) or any(pk not in per_order for pk in snapshots)
            result.store_days += 1
            result.orders += len(per_order)
            result.differences.extend(found)
            if fix and (found or stale):
                _replace(site_id, day, expected, per_order)
    return result


def _replace(
    site_id: int,
    day: dt.date,
    expected: dict[tuple[str, str], Vector],
    per_order: dict[int, tuple[str, Rows]],
) -> None:
    for table, (model, _fields) in TABLES.items():
        rows = model._default_manager.filter(site_id=site_id, business_date=day)
        if table == "day":
            rows.update(**dict.fromkeys(TABLES["day"][1], 0))  # keep the lock rows
        else:
            rows.delete()
    for (currency, key), vector in sorted(expected.items(), key=lambda pair: _sort_key(pair[0][1])):
        model, _fields = TABLES[key.partition(":")[0]]
        where = _row_filter(key, site_id=site_id, day=day, currency=currency)
        values = {
            name: (int(value) if name == "orders" else value) for name, value in vector.items()
        }
        if key == "day:":
            _bump(model, where, vector)
        else:
            model._default_manager.create(**where, **values)
    OrderSales.objects.filter(site_id=site_id, business_date=day).delete()
    OrderSales.objects.bulk_create(
        [
            OrderSales(
                order_id=pk,
                site_id=site_id,
                business_date=day,
                currency=currency,
                rows=_to_json(rows),
            )
            for pk, (currency, rows) in sorted(per_order.items())
        ]
    )


def channel_days(site: Site, day: dt.date) -> tuple[list[SalesChannelDay], Decimal]:
    """A store's sales per channel on a business day, and the share of them that is live (not
    history imported from before the store went live, docs/decisions/0007): 1 on a live day,
    0 before go-live, between on the go-live day. Finance posts the live share."""
    rows = list(SalesChannelDay.objects.filter(site=site, business_date=day).order_by("kind"))
    live = Decimal(1)
    for total in SalesDay.objects.filter(site=site, business_date=day, history_net__gt=0):
        live = (total.net - total.history_net) / total.net if total.net else Decimal(0)
    return rows, live


def channel_category_gross(site: Site, day: dt.date) -> dict[tuple[str, int | None], Decimal]:
    """A store's gross sales on a business day per channel and menu-item category (None for
    lines without a mapped item), as the rollups count them: counted orders, the quantity not
    refunded × the unit price. Finance splits each channel's revenue by these weights."""
    rows = (
        OrderLine.objects.filter(
            order__site=site, order__business_date=day, order__status__in=COUNTED
        )
        .values("order__kind", "menu_item__category_id")
        .annotate(gross=Sum((F("quantity") - F("refunded_quantity")) * F("unit_price")))
        .order_by()
    )
    return {
        (row["order__kind"], row["menu_item__category_id"]): Decimal(row["gross"] or 0)
        for row in rows
    }
