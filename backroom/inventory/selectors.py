"""Reads of the stock ledger, scoped to the actor (store A never sees store B's stock)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from backroom.accounts.authorization import require_permission
from backroom.catalog.models import Item
from backroom.inventory.models import (
    ItemValuation,
    Location,
    Reservation,
    StockBalance,
    StockMove,
    StockPosting,
)
from backroom.inventory.permissions import INVENTORY_VIEW
from backroom.inventory.services.reservations import (
    active_reservations,
    availability,
    check_promise_location,
)
from backroom.kernel.exceptions import NotFound
from backroom.org.models import Site

ZERO = Decimal(0)


def locations_for(
    actor: Any, permission: str = INVENTORY_VIEW, *, site: Site | None = None
) -> QuerySet[Location]:
    """Locations at the sites where the actor holds `permission`."""
    rows = Location.objects.restrict(actor, permission).select_related("site__node")
    if site is not None:
        rows = rows.filter(site=site)
    return rows.order_by("site__node__path", "code")


def get_location(actor: Any, location_id: int, permission: str = INVENTORY_VIEW) -> Location:
    try:
        return locations_for(actor, permission).get(pk=location_id)
    except Location.DoesNotExist:
        raise NotFound() from None


def on_hand(
    actor: Any,
    *,
    site: Site | None = None,
    location: Location | None = None,
    item: Item | None = None,
    lot_id: int | None = None,
    include_zero: bool = False,
) -> QuerySet[StockBalance]:
    """Balances (item × location × lot) the actor may see, with value and the lot's expiry."""
    rows = StockBalance.objects.restrict(actor, INVENTORY_VIEW).select_related(
        "item__base_unit", "location__site__node", "lot"
    )
    if site is not None:
        rows = rows.filter(location__site=site)
    if location is not None:
        rows = rows.filter(location=location)
    if item is not None:
        rows = rows.filter(item=item)
    if lot_id is not None:
        rows = rows.filter(lot_id=lot_id)
    if not include_zero:
        rows = rows.exclude(quantity=0)
    return rows.order_by(
        "location__site__node__path", "location__code", "item__sku", "lot__expiry_date", "lot_id"
    )


def valuations(
    actor: Any, *, site: Site | None = None, item: Item | None = None
) -> QuerySet[ItemValuation]:
    """Quantity, value and moving-average cost per item × location."""
    rows = ItemValuation.objects.restrict(actor, INVENTORY_VIEW).select_related(
        "item", "location__site__node"
    )
    if site is not None:
        rows = rows.filter(location__site=site)
    if item is not None:
        rows = rows.filter(item=item)
    return rows.order_by("location__site__node__path", "location__code", "item__sku")


def average_cost(item: Item, site: Site) -> Decimal | None:
    """Moving-average cost per base unit of `item` at `site`, or None when never received.

    Across the site's locations weighted by quantity on hand; when nothing is on hand, the
    mean of the locations' last averages. Unscoped: the catalog's cost card calls it for a site
    the caller already may see.
    """
    rows = list(
        ItemValuation.objects.filter(
            item=item, location__site=site, average_cost__isnull=False
        ).values_list("quantity", "value", "average_cost")
    )
    if not rows:
        return None
    positive = [(quantity, value) for quantity, value, _ in rows if quantity > 0]
    if positive:
        total_quantity = sum((quantity for quantity, _ in positive), ZERO)
        total_value = sum((value for _, value in positive), ZERO)
        return max(total_value / total_quantity, ZERO).quantize(Decimal("0.0000000001"))
    costs = [cost for _, _, cost in rows]
    return (sum(costs, ZERO) / len(costs)).quantize(Decimal("0.0000000001"))


def movement_history(
    actor: Any,
    item: Item,
    *,
    site: Site | None = None,
    location: Location | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> QuerySet[StockMove]:
    """Moves of an item, newest first, each naming its source document for drill-down."""
    rows = StockMove.objects.restrict(actor, INVENTORY_VIEW).filter(item=item)
    if site is not None:
        rows = rows.filter(site=site)
    if location is not None:
        rows = rows.filter(location=location)
    if since is not None:
        rows = rows.filter(occurred_at__gte=since)
    if until is not None:
        rows = rows.filter(occurred_at__lt=until)
    return rows.select_related("location", "lot", "posting").order_by("-occurred_at", "-id")


def get_move(actor: Any, move_id: int) -> StockMove:
    try:
        return (
            StockMove.objects.restrict(actor, INVENTORY_VIEW)
            .select_related("location__site__node", "lot", "item")
            .get(pk=move_id)
        )
    except StockMove.DoesNotExist:
        raise NotFound() from None


def expiring_soon(
    actor: Any, *, within_days: int = 3, site: Site | None = None, on: dt.date | None = None
) -> QuerySet[StockBalance]:
    """Stock on hand in lots expiring within `within_days` (already expired ones included)."""
    today = on or timezone.localdate()
    rows = on_hand(actor, site=site).filter(
        quantity__gt=0, lot__expiry_date__lte=today + dt.timedelta(days=within_days)
    )
    return rows.order_by("lot__expiry_date", "location__site__node__path", "item__sku")


def reservations_for(
    actor: Any, *, site: Site | None = None, active_only: bool = False
) -> QuerySet[Reservation]:
    rows = Reservation.objects.restrict(actor, INVENTORY_VIEW).select_related("site__node")
    if site is not None:
        rows = rows.filter(site=site)
    if active_only:
        rows = rows.filter(active_reservations())
    return rows.order_by("-id")


def get_reservation(actor: Any, reservation_id: int) -> Reservation:
    try:
        return reservations_for(actor).get(pk=reservation_id)
    except Reservation.DoesNotExist:
        raise NotFound() from None


def available_to_promise(item: Item, site: Site, location: Location | None = None) -> Decimal:
    """On hand at the site (or location) minus active, unexpired reservations; unscoped.

    In-transit stock is left out; see `services.reservations` for what counts."""
    return availability(site.pk, [item.pk], location_id=location.pk if location else None)[
        item.pk
    ].available


@dataclass(frozen=True)
class AvailableStock:
    """An item's available-to-promise at a site: on hand − reserved (base unit)."""

    item: Item
    on_hand: Decimal
    reserved: Decimal
    available: Decimal


def available_stock(
    actor: Any,
    site: Site,
    *,
    item_ids: Iterable[int] | None = None,
    location: Location | None = None,
    category_ids: Iterable[int] | None = None,
    reserved_only: bool = False,
) -> list[AvailableStock]:
    """Available-to-promise per item at a site the actor holds inventory.view at, by SKU.

    Without `item_ids`, every item with stock or an active reservation there (only the reserved
    ones with `reserved_only`); an unknown id in `item_ids` is a 404. A location must be one of
    the site's own, not in transit. Three queries whatever the number of items.
    """
    require_permission(actor, INVENTORY_VIEW, site.node)
    if location is not None:
        check_promise_location(location, site.pk)
    wanted = None if item_ids is None else set(item_ids)
    figures = availability(
        site.pk,
        wanted,
        location_id=location.pk if location else None,
        reserved_only=reserved_only,
    )
    if not figures:
        return []
    items = Item.objects.select_related("base_unit").filter(pk__in=list(figures))
    if category_ids is not None:
        items = items.filter(category_id__in=list(category_ids))
    found = list(items.order_by("sku", "pk"))
    if category_ids is None and len(found) < len(figures):
        raise NotFound()  # an id in `item_ids` names no item
    return [
        AvailableStock(
            item=item,
            on_hand=figures[item.pk].on_hand,
            reserved=figures[item.pk].reserved,
            available=figures[item.pk].available,
        )
        for item in found
    ]


def movement_postings(actor: Any) -> QuerySet[StockPosting]:
    """Postings (documents of moves) at the sites the actor may see."""
    return StockPosting.objects.restrict(actor, INVENTORY_VIEW)


def inbound_transfers(site: Site, item_ids: Iterable[int]) -> dict[int, tuple[Decimal, Decimal]]:
    """Per item: (requested on transfer orders to `site` not yet dispatched, dispatched to it and
    not yet received), base units — what planning counts as on order and in transit."""
    from backroom.inventory.choices import TransferStatus
    from backroom.inventory.models import TransferOrderLine

    wanted = list(item_ids)
    result: dict[int, tuple[Decimal, Decimal]] = {pk: (ZERO, ZERO) for pk in wanted}
    rows = TransferOrderLine.objects.filter(
        order__to_site=site,
        item_id__in=wanted,
        order__status__in=[
            TransferStatus.DRAFT,
            TransferStatus.DISPATCHED,
            TransferStatus.PARTIALLY_RECEIVED,
        ],
    ).values_list(
        "item_id", "order__status", "requested_base", "dispatched_quantity", "received_quantity"
    )
    for item_id, status, requested, dispatched, received in rows:
        ordered, transit = result[item_id]
        if status == TransferStatus.DRAFT:
            ordered += requested
        else:
            transit += max((dispatched or ZERO) - received, ZERO)
        result[item_id] = (ordered, transit)
    return result


def site_on_hand(site: Site, item_ids: Iterable[int]) -> dict[int, Decimal]:
    """Per item: the quantity on hand at the site's own locations (not in transit), base units."""
    from django.db.models import Sum

    from backroom.inventory.choices import LocationKind

    wanted = list(item_ids)
    result = dict.fromkeys(wanted, ZERO)
    rows = (
        ItemValuation.objects.filter(location__site=site, item_id__in=wanted)
        .exclude(location__kind=LocationKind.IN_TRANSIT)
        .values_list("item_id")
        .annotate(total=Sum("quantity"))
    )
    for item_id, total in rows:
        result[item_id] = total or ZERO
    return result


@dataclass(frozen=True)
class ValuedMove:
    """What finance posts of a move: value by reason, category and store (system read)."""

    site: Site
    category_id: int | None
    reason: str  # a reversal carries the reason of the move it reverses
    value: Decimal
    occurred_at: dt.datetime
    source_type: str
    source_id: str
    source_number: str


def posting_values(posting_id: int) -> list[ValuedMove]:
    """The moves of one stock posting, for finance's automatic postings."""
    rows = list(
        StockMove.objects.filter(posting_id=posting_id)
        .order_by("id")
        .values(
            "site_id",
            "item__category_id",
            "reason",
            "reverses__reason",
            "value",
            "occurred_at",
            "source_type",
            "source_id",
            "source_number",
        )
    )
    sites = Site.objects.select_related("node", "legal_entity__node").in_bulk(
        {row["site_id"] for row in rows}
    )
    return [
        ValuedMove(
            site=sites[row["site_id"]],
            category_id=row["item__category_id"],
            reason=row["reverses__reason"] or row["reason"],
            value=row["value"],
            occurred_at=row["occurred_at"],
            source_type=row["source_type"],
            source_id=row["source_id"],
            source_number=row["source_number"],
        )
        for row in rows
    ]


def value_by_category(
    site: Site, start: dt.datetime, end: dt.datetime, reasons: Iterable[str]
) -> dict[int | None, Decimal]:
    """Σ value of a store's moves with these reasons (or reversing them) in [start, end), per
    item category (finance's daily cost of sales)."""
    reasons = list(reasons)
    rows = (
        StockMove.objects.filter(site=site, occurred_at__gte=start, occurred_at__lt=end)
        .filter(Q(reason__in=reasons) | Q(reverses__reason__in=reasons))
        .order_by()
        .values("item__category_id")
        .annotate(total=Sum("value"))
    )
    return {row["item__category_id"]: row["total"] or ZERO for row in rows}


def posting_ids(site_ids: Iterable[int], *, excluding: Iterable[str] = ()) -> list[int]:
    """The stock postings with moves at these sites, oldest first; postings whose moves all
    have an excluded reason (or reverse such moves) are left out (finance's catch-up)."""
    excluded = list(excluding)
    moves = StockMove.objects.filter(site_id__in=list(site_ids))
    if excluded:
        moves = moves.exclude(reason__in=excluded).exclude(reverses__reason__in=excluded)
    return sorted(set(moves.values_list("posting_id", flat=True)))


def first_move_at(site: Site) -> dt.datetime | None:
    move = StockMove.objects.filter(site=site).order_by("occurred_at").first()
    return move.occurred_at if move else None


def stock_value_by_site(site_ids: Iterable[int]) -> dict[int, Decimal]:
    """The value on hand per site (Σ balances), for finance's reconciliation."""
    rows = (
        StockBalance.objects.filter(location__site_id__in=list(site_ids))
        .order_by()
        .values("location__site_id")
        .annotate(total=Sum("value"))
    )
    return {row["location__site_id"]: row["total"] or ZERO for row in rows}
