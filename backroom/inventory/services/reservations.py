"""Reservations: stock promised to orders not yet fulfilled. Available-to-promise (ATP) is
on hand at the site minus active, unexpired reservations."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from backroom.accounts.authorization import require_permission
from backroom.audit.services import record_audit, snapshot
from backroom.catalog.choices import NegativeStockPolicy
from backroom.catalog.models import Item
from backroom.events.services import publish
from backroom.inventory.choices import ReservationStatus
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
from backroom.org.models import Site

ZERO = Decimal(0)


def active_reservations(at: dt.datetime | None = None) -> Q:
    """Reservations still holding stock: active and not expired."""
    now = at or timezone.now()
    return Q(status=ReservationStatus.ACTIVE) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))


def reserved_quantity(item_id: int, site_id: int, location_id: int | None = None) -> Decimal:
    rows = Reservation.objects.filter(active_reservations(), item_id=item_id, site_id=site_id)
    if location_id is not None:
        rows = rows.filter(location_id=location_id)
    return rows.aggregate(total=Sum("quantity"))["total"] or ZERO


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
        if location.site_id != site.pk:
            raise ValidationFailed({"location_id": [_("The location is not at this site.")]})
    base = parse_quantity(quantity)
    if base <= 0:
        raise NegativeQuantity(field="quantity")
    base = _base_quantity(the_item, base, unit)
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed({"expires_at": [_("The expiry must be in the future.")]})
    src = source or Source()
    try:
        with transaction.atomic():
            locations = Location.objects.filter(site=site)
            if location is not None:
                locations = locations.filter(pk=location.pk)
            location_ids = list(locations.values_list("pk", flat=True))
            lock_valuations({(item_id, location_id) for location_id in location_ids})
            on_hand = (
                ItemValuation.objects.filter(
                    item_id=item_id, location_id__in=location_ids
                ).aggregate(total=Sum("quantity"))["total"]
                or ZERO
            )
            available = on_hand - reserved_quantity(
                item_id, site.pk, location.pk if location else None
            )
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
