"""Reservations: stock promised to orders not yet fulfilled. Available-to-promise (ATP) is
on hand at the site minus active, unexpired reservations.

On hand for ATP counts the site's locations except its in-transit one (stock on its way to
another store cannot be promised here). At one location, the reservations against it are its
own and the site-wide ones (any location may have to fill those), so a location's ATP never
promises what the site has already promised. `availability` is the one computation: the
reservation check, the selectors, the API and the on-hand page all use it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from backroom.accounts.authorization import require_permission
from backroom.audit.services import record_audit, snapshot
from backroom.catalog.choices import NegativeStockPolicy
from backroom.catalog.models import Item
from backroom.events.services import publish
from backroom.inventory.choices import LocationKind, ReservationStatus
from backroom.inventory.events import ReservationCreated, ReservationEnded
from backroom.inventory.exceptions import InsufficientStock, NegativeQuantity
from backroom.inventory.locks import lock_valuations
from backroom.inventory.models import ItemValuation, Location, Reservation
from backroom.inventory.permissions import INVENTORY_MOVE
from backroom.inventory.services.common import (
    Source,
    actor_id,
    check_key,
    item_problem,
    load_items,
    location_problem,
    parse_quantity,
)
from backroom.inventory.services.posting import _base_quantity
from backroom.kernel.exceptions import Conflict, ValidationFailed
from backroom.kernel.money import quantize_quantity
from backroom.org.models import Site

ZERO = Decimal(0)


def active_reservations(at: dt.datetime | None = None) -> Q:
    """Reservations still holding stock: active and not expired."""
    now = at or timezone.now()
    return Q(status=ReservationStatus.ACTIVE) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))


@dataclass(frozen=True, slots=True)
class Availability:
    """An item's on hand, reserved and available-to-promise quantities, in its base unit."""

    item_id: int
    on_hand: Decimal
    reserved: Decimal

    @property
    def available(self) -> Decimal:
        """On hand − reserved; negative when more is promised (or issued) than is on hand."""
        return self.on_hand - self.reserved


def availability(
    site_id: int,
    item_ids: Iterable[int] | None = None,
    *,
    location_id: int | None = None,
    reserved_only: bool = False,
    at: dt.datetime | None = None,
) -> dict[int, Availability]:
    """ATP per item at a site (or one of its locations), in two grouped queries at most.

    With `item_ids`, one entry per id (zeros for an item with nothing there); without, every
    item with a non-zero balance or an active reservation there; with `reserved_only`, only the items
    with an active reservation (one query when there are none). Unscoped: callers check access.
    """
    wanted = None if item_ids is None else sorted(set(item_ids))
    if wanted == []:
        return {}
    reservations = Reservation.objects.filter(active_reservations(at), site_id=site_id)
    balances = (
        ItemValuation.objects.filter(location__site_id=site_id)
        .exclude(location__kind=LocationKind.IN_TRANSIT)
        .exclude(quantity=0)
    )
    if location_id is not None:
        reservations = reservations.filter(Q(location_id=location_id) | Q(location__isnull=True))
        balances = balances.filter(location_id=location_id)
    if wanted is not None:
        reservations = reservations.filter(item_id__in=wanted)
        balances = balances.filter(item_id__in=wanted)
    reserved = _totals(reservations)
    if reserved_only:
        if not reserved:
            return {}
        balances = balances.filter(item_id__in=sorted(reserved))
    on_hand = _totals(balances)
    if wanted is None:
        wanted = sorted(reserved.keys() if reserved_only else on_hand.keys() | reserved.keys())
    elif reserved_only:
        wanted = [item_id for item_id in wanted if item_id in reserved]
    none = quantize_quantity(ZERO)
    return {
        item_id: Availability(item_id, on_hand.get(item_id, none), reserved.get(item_id, none))
        for item_id in wanted
    }


def _totals(rows: QuerySet[Any]) -> dict[int, Decimal]:
    """Σ quantity per item; quantised, since SQLite's sums lose the scale."""
    grouped = rows.values("item_id").annotate(total=Sum("quantity")).order_by()
    return {row["item_id"]: quantize_quantity(Decimal(row["total"] or ZERO)) for row in grouped}


def check_promise_location(location: Location, site_id: int) -> None:
    """ATP at a location needs one of the site's own, not its in-transit one."""
    if location.site_id != site_id:
        raise ValidationFailed({"location_id": [_("The location is not at this site.")]})
    if location.kind == LocationKind.IN_TRANSIT:
        raise ValidationFailed({"location_id": [_("Stock in transit cannot be promised.")]})


def reserved_quantity(item_id: int, site_id: int, location_id: int | None = None) -> Decimal:
    """Active, unexpired reservations of an item at a site (at a location: its own and the
    site-wide ones), as counted by `availability`."""
    return availability(site_id, [item_id], location_id=location_id)[item_id].reserved


def reserve(
    *,
    item: Item | int,
    site: Site,
    quantity: Decimal,
    key: str,
    actor: Any,
    unit: str | None = None,
    location: Location | None = None,
    source: Source | None = None,
    expires_at: dt.datetime | None = None,
) -> Reservation:
    """Reserve stock at a site (or one of its locations) for an order; replays by key.

    Refused with `insufficient_stock` when the item class forbids negative stock and
    available-to-promise does not cover the quantity.
    """
    errors: dict[str, list[str]] = {}
    check_key(key, errors)
    if errors:
        raise ValidationFailed(errors)
    existing = Reservation.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    require_permission(actor, INVENTORY_MOVE, site.node)
    item_id = item if isinstance(item, int) else item.pk
    items = load_items([item_id])
    the_item = items.get(item_id)
    problem = item_problem(the_item)
    if problem is not None:
        raise problem
    assert the_item is not None
    if location is not None:
        problem = location_problem(location, location.pk)
        if problem is not None:
            raise problem
        check_promise_location(location, site.pk)
    base = parse_quantity(quantity)
    if base <= 0:
        raise NegativeQuantity(field="quantity")
    base = _base_quantity(the_item, base, unit)
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed({"expires_at": [_("The expiry must be in the future.")]})
    src = source or Source()
    try:
        with transaction.atomic():
            # The valuations ATP reads are locked, so two reservations run one after the other.
            locations = Location.objects.filter(site=site).exclude(kind=LocationKind.IN_TRANSIT)
            if location is not None:
                locations = locations.filter(pk=location.pk)
            location_ids = list(locations.values_list("pk", flat=True))
            lock_valuations({(item_id, location_id) for location_id in location_ids})
            available = availability(
                site.pk, [item_id], location_id=location.pk if location else None
            )[item_id].available
            policy = the_item.item_class.negative_stock_policy
            if base > available and policy == NegativeStockPolicy.FORBID:
                raise InsufficientStock(the_item, location or site, base - max(available, ZERO))
            reservation = Reservation.objects.create(
                item_id=item_id,
                site=site,
                location=location,
                quantity=base,
                source_type=src.type[:50],
                source_id=str(src.id)[:64],
                expires_at=expires_at,
                idempotency_key=key,
                actor_id=actor_id(actor),
            )
            record_audit(
                actor=actor,
                action="inventory.reservation.create",
                target=reservation,
                after=snapshot(reservation),
                org_node=site.node,
            )
            publish(
                ReservationCreated(
                    reservation_id=reservation.pk,
                    item_id=item_id,
                    site_id=site.pk,
                    quantity=str(base),
                ),
                org_node=site.node,
            )
            return reservation
    except IntegrityError:
        existing = Reservation.objects.filter(idempotency_key=key).first()
        if existing is None:
            raise
        return existing


def end_reservation(
    reservation: Reservation,
    *,
    actor: Any,
    status: str = ReservationStatus.RELEASED,
    reason: str = "",
) -> Reservation:
    """Release a reservation (or mark it fulfilled); ending an ended one is a conflict."""
    require_permission(actor, INVENTORY_MOVE, reservation.site.node)
    if status not in (ReservationStatus.RELEASED, ReservationStatus.FULFILLED):
        raise ValidationFailed({"status": [_("Use released or fulfilled.")]})
    with transaction.atomic():
        row = Reservation.objects.select_for_update().get(pk=reservation.pk)
        if row.status != ReservationStatus.ACTIVE:
            raise Conflict(_("The reservation has already ended."), details={"status": row.status})
        before = snapshot(row)
        row.status = status
        row.save(update_fields=["status", "updated_at"])
        record_audit(
            actor=actor,
            action=f"inventory.reservation.{status}",
            target=row,
            before=before,
            after=snapshot(row),
            reason=reason,
            org_node=reservation.site.node,
        )
        publish(
            ReservationEnded(reservation_id=row.pk, status=status), org_node=reservation.site.node
        )
    return row
