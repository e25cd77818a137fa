"""Price lists, the price in force (`price_for`), pack and MOQ rounding (`round_to_pack`).

Validity is inclusive on both ends; an open `valid_to` runs forever. For one supplier item
and one scope (a region, a store, or every store), two active price lists may not overlap in
time (`price_list_overlap`); a store takes the price of the most specific scope that covers it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from backroom.catalog.models import Item
from backroom.events.services import publish
from backroom.kernel.exceptions import DomainError, ErrorCollector
from backroom.kernel.money import CURRENCIES, quantize_money
from backroom.org.models import OrgNode, Site
from backroom.procurement.events import PriceChanged, PriceListSaved
from backroom.procurement.exceptions import (
    BelowMinimumOrder,
    NotPackMultiple,
    NoValidPrice,
    PriceListOverlap,
)
from backroom.procurement.models import (
    PriceList,
    PriceListLine,
    PurchaseOrderLine,
    Supplier,
    SupplierItem,
)
from backroom.procurement.permissions import PROCUREMENT_MANAGE
from backroom.procurement.services.common import ZERO, audit, decimal, require_at, text

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class PriceLineInput:
    """The price of one item per the supplier item's purchase unit."""

    item_id: int
    price: Decimal


@dataclass
class PriceListInput:
    name: str
    valid_from: dt.date
    lines: Sequence[PriceLineInput]
    valid_to: dt.date | None = None
    node_id: int | None = None
    currency: str = ""


@dataclass(frozen=True)
class PriceQuote:
    """The price in force: per `unit` (the purchase unit) in `currency`, from `price_list_id`."""

    price: Decimal
    currency: str
    unit: str
    supplier_item: SupplierItem
    price_list_id: int
    valid_from: dt.date
    valid_to: dt.date | None


def _overlapping(
    supplier: Supplier, node: OrgNode | None, start: dt.date, end: dt.date | None
) -> Q:
    query = Q(price_list__supplier=supplier, price_list__is_active=True)
    query &= Q(price_list__node=node) if node is not None else Q(price_list__node__isnull=True)
    if end is not None:
        query &= Q(price_list__valid_from__lte=end)
    query &= Q(price_list__valid_to__isnull=True) | Q(price_list__valid_to__gte=start)
    return query


def create_price_list(supplier: Supplier, data: PriceListInput, *, actor: Any) -> PriceList:
    """Add a price list (procurement.manage at the supplier). Every problem at once; an
    overlap with another active list of the same scope names each item and that list.
    Prices that moved by more than the supplier's alert threshold publish
    `procurement.price.changed`."""
    require_at(actor, PROCUREMENT_MANAGE, supplier.node)
    errors = ErrorCollector()
    name = text(errors, "name", data.name, 100, required=True)
    currency = (data.currency or supplier.currency).strip().upper()
    if currency not in CURRENCIES:
        errors.add("currency", _("“%(code)s” is not a currency we use.") % {"code": currency})
    if data.valid_to is not None and data.valid_to < data.valid_from:
        errors.add("valid_to", _("The end date is before the start date."))
    node = None
    if data.node_id is not None:
        node = OrgNode.objects.filter(pk=data.node_id).first()
        if node is None or not node.path.startswith(supplier.node.path):
            errors.add("node_id", _("Choose a region or store the supplier serves."))
    if not data.lines:
        errors.add("lines", _("Price at least one item."))
    supplier_items = {
        row.item_id: row
        for row in SupplierItem.objects.select_related("item").filter(
            supplier=supplier, item_id__in=[line.item_id for line in data.lines]
        )
    }
    prices: list[tuple[SupplierItem, Decimal]] = []
    seen: set[int] = set()
    for index, line in enumerate(data.lines):
        supplier_item = supplier_items.get(line.item_id)
        if supplier_item is None:
            errors.add(f"lines.{index}.item_id", _("The supplier does not sell this item."))
            continue
        if line.item_id in seen:
            errors.add(f"lines.{index}.item_id", _("The item is priced twice."))
            continue
        seen.add(line.item_id)
        price = decimal(errors, f"lines.{index}.price", line.price)
        prices.append((supplier_item, quantize_money(price, storage=True)))
    errors.raise_if_any()
    with transaction.atomic():
        Supplier.objects.select_for_update().get(pk=supplier.pk)  # one price list at a time
        clashes = list(
            PriceListLine.objects.filter(
                _overlapping(supplier, node, data.valid_from, data.valid_to),
                supplier_item__in=[supplier_item for supplier_item, _price in prices],
            )
            .select_related("price_list", "supplier_item__item")
            .order_by("price_list_id", "supplier_item__item__sku")
        )
        if clashes:
            raise PriceListOverlap(
                _("%(count)s item(s) already have a price over these dates: %(items)s.")
                % {
                    "count": len(clashes),
                    "items": ", ".join(
                        f"{row.supplier_item.item.sku} ({row.price_list.name})" for row in clashes
                    ),
                },
                overlaps=[
                    {
                        "item_id": row.supplier_item.item_id,
                        "sku": row.supplier_item.item.sku,
                        "price_list_id": row.price_list_id,
                        "valid_from": str(row.price_list.valid_from),
                        "valid_to": str(row.price_list.valid_to)
                        if row.price_list.valid_to
                        else None,
                    }
                    for row in clashes
                ],
            )
        price_list = PriceList.objects.create(
            supplier=supplier,
            name=name,
            currency=currency,
            valid_from=data.valid_from,
            valid_to=data.valid_to,
            node=node,
        )
        PriceListLine.objects.bulk_create(
            [
                PriceListLine(price_list=price_list, supplier_item=supplier_item, price=price)
                for supplier_item, price in prices
            ]
        )
        alerts = _price_alerts(supplier, price_list, prices)
        audit(
            price_list,
            "price_list.create",
            actor,
            supplier.node,
            supplier=supplier.code,
            name=name,
            currency=currency,
            valid_from=data.valid_from,
            valid_to=data.valid_to,
            node=node.code if node else None,
            lines=[
                {"item_id": supplier_item.item_id, "price": price}
                for supplier_item, price in prices[:200]
            ],
        )
        publish(
            PriceListSaved(
                price_list_id=price_list.pk,
                supplier_id=supplier.pk,
                valid_from=str(data.valid_from),
                valid_to=str(data.valid_to) if data.valid_to else None,
                line_count=len(prices),
            ),
            org_node=supplier.node,
        )
        if alerts:
            publish(
                PriceChanged(
                    price_list_id=price_list.pk,
                    supplier_id=supplier.pk,
                    threshold_percent=str(supplier.price_alert_percent),
                    lines=alerts,
                ),
                org_node=supplier.node,
            )
    return price_list


def price_used(
    price_list: PriceList, supplier_item_ids: Sequence[int], *, after: dt.date | None = None
) -> bool:
    """True when a purchase order of the list's supplier, for a store the list covers, dated
    within the list's validity (and after `after` when given), orders one of these supplier
    items: the price may have been taken from this list, so those days of it are history."""
    query = PurchaseOrderLine.objects.filter(
        supplier_item_id__in=list(supplier_item_ids),
        order__supplier_id=price_list.supplier_id,
        order__order_date__gte=price_list.valid_from,
    )
    if price_list.valid_to is not None:
        query = query.filter(order__order_date__lte=price_list.valid_to)
    if after is not None:
        query = query.filter(order__order_date__gt=after)
    if price_list.node is not None:
        query = query.filter(order__store__node__path__startswith=price_list.node.path)
    return query.exists()


def end_price_list(
    price_list: PriceList,
    last_day: dt.date,
    *,
    actor: Any,
    item_ids: Sequence[int] | None = None,
) -> PriceList:
    """End an active price list on `last_day` (inclusive), so that a newer price can start the
    day after (procurement.manage at the supplier). With `item_ids`, only those items' prices
    end: when the list prices other items too, their lines move to a new list with the same
    name, scope and currency over [valid_from, last_day], and the list itself runs on for the
    rest. Returns the list that now ends on `last_day`.

    The past stays: `last_day` may not be before the list's start, may only shorten the list,
    and may not take away days on which a purchase order of one of these items (for a store
    the list covers) was placed — that order was priced from this list, so those days keep
    their price. Audited as `procurement.price_list.end`."""
    supplier = price_list.supplier
    require_at(actor, PROCUREMENT_MANAGE, supplier.node)
    with transaction.atomic():
        Supplier.objects.select_for_update().get(pk=supplier.pk)  # one price list at a time
        price_list = PriceList.objects.select_related("node", "supplier").get(pk=price_list.pk)
        lines = list(price_list.lines.select_related("supplier_item"))
        wanted = (
            lines
            if item_ids is None
            else [line for line in lines if line.supplier_item.item_id in set(item_ids)]
        )
        errors = ErrorCollector()
        if not price_list.is_active:
            errors.add("price_list", _("The price list is no longer active."))
        if not wanted:
            errors.add("item_ids", _("The price list prices none of these items."))
        if last_day < price_list.valid_from:
            errors.add(
                "valid_to",
                _("A price list cannot end before it starts (%(date)s).")
                % {"date": price_list.valid_from.isoformat()},
            )
        elif price_list.valid_to is not None and last_day >= price_list.valid_to:
            errors.add(
                "valid_to",
                _("The price list already ends on %(date)s.")
                % {"date": price_list.valid_to.isoformat()},
            )
        elif wanted and price_used(
            price_list, [line.supplier_item_id for line in wanted], after=last_day
        ):
            errors.add(
                "valid_to",
                _(
                    "Purchase orders after %(date)s were priced from “%(list)s”: those "
                    "prices stay. End it later."
                )
                % {"date": last_day.isoformat(), "list": price_list.name},
            )
        errors.raise_if_any()
        before = {"valid_to": price_list.valid_to}
        if len(wanted) == len(lines):
            ended = price_list
            ended.valid_to = last_day
            ended.save(update_fields=["valid_to", "updated_at"])
        else:
            ended = PriceList.objects.create(
                supplier=supplier,
                name=price_list.name,
                currency=price_list.currency,
                valid_from=price_list.valid_from,
                valid_to=last_day,
                node=price_list.node,
            )
            PriceListLine.objects.filter(pk__in=[line.pk for line in wanted]).update(
                price_list=ended
            )
        audit(
            ended,
            "price_list.end",
            actor,
            supplier.node,
            before=before,
            supplier=supplier.code,
            name=price_list.name,
            valid_from=price_list.valid_from,
            valid_to=last_day,
            split_from=price_list.pk if ended is not price_list else None,
            items=[line.supplier_item.item_id for line in wanted[:200]],
        )
        publish(
            PriceListSaved(
                price_list_id=ended.pk,
                supplier_id=supplier.pk,
                valid_from=str(ended.valid_from),
                valid_to=str(last_day),
                line_count=len(wanted),
            ),
            org_node=supplier.node,
        )
    return ended


def correct_price(
    price_list: PriceList, item_id: int, price: Decimal, *, actor: Any
) -> PriceListLine:
    """Correct one item's price in a price list (procurement.manage at the supplier) — a
    mistyped price, say — as long as no purchase order was priced from it (give the new price from a later date instead). Audited as
    `procurement.price_list.correct`."""
    supplier = price_list.supplier
    require_at(actor, PROCUREMENT_MANAGE, supplier.node)
    errors = ErrorCollector()
    new_price = quantize_money(decimal(errors, "price", price), storage=True)
    errors.raise_if_any()
    with transaction.atomic():
        Supplier.objects.select_for_update().get(pk=supplier.pk)
        price_list = PriceList.objects.select_related("node", "supplier").get(pk=price_list.pk)
        line = (
            price_list.lines.select_related("supplier_item__item")
            .filter(supplier_item__item_id=item_id)
            .first()
        )
        if line is None:
            errors.add("item_id", _("The price list does not price this item."))
        elif not price_list.is_active:
            errors.add("price_list", _("The price list is no longer active."))
        elif price_used(price_list, [line.supplier_item_id]):
            errors.add(
                "price",
                _(
                    "Purchase orders were priced from “%(list)s”: its price stays. Give the "
                    "new price from a later date."
                )
                % {"list": price_list.name},
            )
        errors.raise_if_any()
        assert line is not None
        old = line.price
        if old == new_price:
            return line
        line.price = new_price
        line.save(update_fields=["price"])
        alerts = _price_alerts(supplier, price_list, [(line.supplier_item, new_price)])
        audit(
            price_list,
            "price_list.correct",
            actor,
            supplier.node,
            before={"price": old},
            supplier=supplier.code,
            name=price_list.name,
            item_id=item_id,
            price=new_price,
        )
        publish(
            PriceListSaved(
                price_list_id=price_list.pk,
                supplier_id=supplier.pk,
                valid_from=str(price_list.valid_from),
                valid_to=str(price_list.valid_to) if price_list.valid_to else None,
                line_count=1,
            ),
            org_node=supplier.node,
        )
        if alerts:
            publish(
                PriceChanged(
                    price_list_id=price_list.pk,
                    supplier_id=supplier.pk,
                    threshold_percent=str(supplier.price_alert_percent),
                    lines=alerts,
                ),
                org_node=supplier.node,
            )
    return line


def _price_alerts(
    supplier: Supplier, price_list: PriceList, prices: Sequence[tuple[SupplierItem, Decimal]]
) -> list[dict[str, Any]]:
    """Lines whose price moved by more than the supplier's threshold against the latest earlier
    price of the same scope."""
    earlier: dict[int, Decimal] = {}
    rows = (
        PriceListLine.objects.filter(
            price_list__supplier=supplier,
            price_list__is_active=True,
            price_list__valid_from__lt=price_list.valid_from,
            supplier_item__in=[supplier_item for supplier_item, _price in prices],
        )
        .filter(
            Q(price_list__node=price_list.node)
            if price_list.node is not None
            else Q(price_list__node__isnull=True)
        )
        .order_by("price_list__valid_from")
        .values_list("supplier_item_id", "price")
    )
    for supplier_item_id, price in rows:
        earlier[supplier_item_id] = price  # the latest wins
    alerts = []
    for supplier_item, price in prices:
        old = earlier.get(supplier_item.pk)
        if old is None or old == 0:
            continue
        change = (price - old) / old * HUNDRED
        if abs(change) > supplier.price_alert_percent:
            alerts.append(
                {
                    "item_id": supplier_item.item_id,
                    "sku": supplier_item.item.sku,
                    "old_price": str(old),
                    "new_price": str(price),
                    "change_percent": str(change.quantize(Decimal("0.01"))),
                }
            )
    return alerts


def price_for(
    supplier: Supplier, item: Item | int, store: Site, on_date: dt.date, *, line: int | None = None
) -> PriceQuote:
    """The supplier's price of `item` for `store` on `on_date` (per purchase unit), from the
    most specific active price list covering the store; `no_valid_price` when none does."""
    item_id = item if isinstance(item, int) else item.pk
    node_path = store.node.path
    rows = (
        PriceListLine.objects.filter(
            price_list__supplier=supplier,
            price_list__is_active=True,
            price_list__valid_from__lte=on_date,
            supplier_item__item_id=item_id,
        )
        .filter(Q(price_list__valid_to__isnull=True) | Q(price_list__valid_to__gte=on_date))
        .select_related("price_list__node", "supplier_item__item")
    )
    best: PriceListLine | None = None
    best_depth = -2
    for row in rows:
        node = row.price_list.node
        if node is not None and not node_path.startswith(node.path):
            continue
        depth = node.depth if node is not None else -1
        if depth > best_depth:
            best, best_depth = row, depth
    if best is None:
        sku = item.sku if isinstance(item, Item) else str(item_id)
        raise NoValidPrice(
            _("%(supplier)s has no valid price for %(item)s on %(date)s.")
            % {"supplier": supplier.code, "item": sku, "date": on_date},
            line=line,
            supplier=supplier.code,
            item_id=item_id,
            date=str(on_date),
        )
    price_list = best.price_list
    return PriceQuote(
        price=best.price,
        currency=price_list.currency,
        unit=best.supplier_item.purchase_unit,
        supplier_item=best.supplier_item,
        price_list_id=price_list.pk,
        valid_from=price_list.valid_from,
        valid_to=price_list.valid_to,
    )


def round_to_pack(quantity: Decimal, supplier_item: SupplierItem) -> Decimal:
    """The smallest orderable quantity (purchase units) covering `quantity`: at least the MOQ,
    in whole packs. Nothing (≤ 0) stays 0. Golden: pack 6, MOQ 12 → 1 ↦ 12, 13 ↦ 18."""
    if quantity <= 0:
        return ZERO
    pack = supplier_item.pack_size
    wanted = max(quantity, supplier_item.minimum_order_quantity)
    packs = (wanted / pack).to_integral_value(rounding=ROUND_CEILING)
    return (packs * pack).quantize(Decimal("0.000001"))


def order_quantity_problems(
    quantity: Decimal, supplier_item: SupplierItem, *, line: int | None = None
) -> list[DomainError]:
    """What is wrong with ordering `quantity` purchase units: below the MOQ; not whole packs
    when the supplier requires them (each error suggests the rounded quantity)."""
    problems: list[DomainError] = []
    suggestion = str(round_to_pack(quantity, supplier_item))
    unit = supplier_item.purchase_unit
    if quantity < supplier_item.minimum_order_quantity:
        problems.append(
            BelowMinimumOrder(
                _("%(item)s: at least %(moq)s %(unit)s per order.")
                % {
                    "item": supplier_item.item.sku,
                    "moq": f"{supplier_item.minimum_order_quantity.normalize():f}",
                    "unit": unit,
                },
                line=line,
                field="quantity",
                minimum=str(supplier_item.minimum_order_quantity),
                suggested=suggestion,
            )
        )
    if supplier_item.supplier.requires_pack_multiples and quantity % supplier_item.pack_size:
        problems.append(
            NotPackMultiple(
                _("%(item)s is sold in packs of %(pack)s %(unit)s; order %(suggested)s?")
                % {
                    "item": supplier_item.item.sku,
                    "pack": f"{supplier_item.pack_size.normalize():f}",
                    "unit": unit,
                    "suggested": f"{Decimal(suggestion).normalize():f}",
                },
                line=line,
                field="quantity",
                pack_size=str(supplier_item.pack_size),
                suggested=suggestion,
            )
        )
    return problems


__all__ = [
    "PriceLineInput",
    "PriceListInput",
    "PriceQuote",
    "correct_price",
    "create_price_list",
    "end_price_list",
    "order_quantity_problems",
    "price_for",
    "price_used",
    "round_to_pack",
]
