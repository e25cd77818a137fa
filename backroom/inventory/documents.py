"""Waste records (报损) and transfer orders (调拨): their events, errors and scoped reads.

The writes are in `backroom.inventory.services.waste` and
`backroom.inventory.services.transfer_orders`; the models (`WasteDocument`, `WasteLine`,
`TransferOrder`, `TransferOrderLine`) in `backroom.inventory.models`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.db.models import Q, QuerySet
from django.http import FileResponse
from django.utils.translation import gettext_lazy as _

from backroom.events.catalogue import event
from backroom.inventory.models import TransferOrder, TransferOrderLine, WasteDocument, WasteLine
from backroom.inventory.permissions import INVENTORY_VIEW
from backroom.kernel.exceptions import Conflict, NotFound
from backroom.kernel.files import private_file_response
from backroom.kernel.scoping import scope_q
from backroom.org.models import Site

WASTE_SOURCE = "inventory.waste"
TRANSFER_ORDER_SOURCE = "inventory.transfer_order"

# --- events --------------------------------------------------------------------------------


class WasteEvent(StrEnum):
    SUBMITTED = "inventory.waste.submitted"
    POSTED = "inventory.waste.posted"
    REJECTED = "inventory.waste.rejected"
    CANCELLED = "inventory.waste.cancelled"


@event(WasteEvent.SUBMITTED)
@dataclass(frozen=True)
class WasteSubmitted:
    """A waste record was submitted; `requires_approval` when its value is above the threshold."""

    document_id: int
    number: str
    site_id: int
    value: str
    currency: str
    requires_approval: bool


@event(WasteEvent.POSTED)
@dataclass(frozen=True)
class WastePosted:
    """The waste reached the ledger (`approved_by_id` set when it needed approval)."""

    document_id: int
    number: str
    site_id: int
    posting_id: int
    value: str
    currency: str
    approved_by_id: int | None


@event(WasteEvent.REJECTED)
@dataclass(frozen=True)
class WasteRejected:
    document_id: int
    number: str
    site_id: int
    reason: str


@event(WasteEvent.CANCELLED)
@dataclass(frozen=True)
class WasteCancelled:
    document_id: int
    number: str
    site_id: int


class TransferOrderEvent(StrEnum):
    CREATED = "inventory.transfer_order.created"
    DISPATCHED = "inventory.transfer_order.dispatched"
    RECEIVED = "inventory.transfer_order.received"
    CANCELLED = "inventory.transfer_order.cancelled"


@event(TransferOrderEvent.CREATED)
@dataclass(frozen=True)
class TransferOrderCreated:
    order_id: int
    number: str
    from_site_id: int
    to_site_id: int


@event(TransferOrderEvent.DISPATCHED)
@dataclass(frozen=True)
class TransferOrderDispatched:
    """Stock left the sender for its in-transit location."""

    order_id: int
    number: str
    from_site_id: int
    to_site_id: int
    value: str


@event(TransferOrderEvent.RECEIVED)
@dataclass(frozen=True)
class TransferOrderReceived:
    """A receipt was recorded; `status` is received (closed) or partially_received."""

    order_id: int
    number: str
    from_site_id: int
    to_site_id: int
    status: str
    discrepancy_lines: int
    discrepancy_value: str


@event(TransferOrderEvent.CANCELLED)
@dataclass(frozen=True)
class TransferOrderCancelled:
    order_id: int
    number: str
    from_site_id: int
    to_site_id: int


# --- errors --------------------------------------------------------------------------------


class WasteStateError(Conflict):
    """The waste record is not in the state this step needs (approving a posted record, …)."""

    code = "waste_state"
    default_message = _("The waste record is not in a state that allows this.")


class TransferOrderStateError(Conflict):
    """The transfer order is not in the state this step needs (receiving a draft, …)."""

    code = "transfer_order_state"
    default_message = _("The transfer order is not in a state that allows this.")


class DiscrepancyReasonRequired(Conflict):
    """A closing receipt differs from what was dispatched and no reason was given."""

    code = "discrepancy_reason_required"
    default_message = _("Give a reason for every line that arrived with a different quantity.")


# --- reads ---------------------------------------------------------------------------------


def waste_documents_for(
    actor: Any, *, site: Site | None = None, status: str | None = None
) -> QuerySet[WasteDocument]:
    """Waste records at the sites where the actor may see stock, newest first."""
    rows = WasteDocument.objects.restrict(actor, INVENTORY_VIEW).select_related(
        "site__node", "submitted_by", "decided_by"
    )
    if site is not None:
        rows = rows.filter(site=site)
    if status:
        rows = rows.filter(status=status)
    return rows.order_by("-id")


def get_waste_document(actor: Any, document_id: int) -> WasteDocument:
    """One waste record the actor may see (404 for another store's)."""
    try:
        return waste_documents_for(actor).get(pk=document_id)
    except WasteDocument.DoesNotExist:
        raise NotFound() from None


def waste_lines(document: WasteDocument) -> QuerySet[WasteLine]:
    """The record's lines in order, with item, unit, location and lot."""
    return (
        WasteLine.objects.filter(document=document)
        .select_related("item__base_unit", "location", "lot")
        .order_by("line_no")
    )


def transfer_orders_for(
    actor: Any,
    *,
    site: Site | None = None,
    status: str | None = None,
    direction: str | None = None,
) -> QuerySet[TransferOrder]:
    """Transfer orders the actor may see: inventory.view at the sending or receiving site.

    `site` with `direction` "out" or "in" keeps the orders leaving or arriving at that site;
    without a direction, both (a direction without a site is ignored).
    """
    rows = TransferOrder.objects.all()
    if actor is None or not getattr(actor, "is_authenticated", False):
        rows = rows.none()
    else:
        paths = actor.scope_paths(INVENTORY_VIEW)
        if paths is not None:
            if not paths:
                rows = rows.none()
            else:
                rows = rows.filter(
                    scope_q("from_site__node", paths) | scope_q("to_site__node", paths)
                )
    if site is not None:
        if direction == "out":
            rows = rows.filter(from_site=site)
        elif direction == "in":
            rows = rows.filter(to_site=site)
        else:
            rows = rows.filter(Q(from_site=site) | Q(to_site=site))
    if status:
        rows = rows.filter(status=status)
    return rows.select_related(
        "from_site__node", "to_site__node", "from_location", "to_location"
    ).order_by("-id")


def get_transfer_order(actor: Any, order_id: int) -> TransferOrder:
    """One transfer order the actor may see (404 when neither site is theirs)."""
    try:
        return transfer_orders_for(actor).get(pk=order_id)
    except TransferOrder.DoesNotExist:
        raise NotFound() from None


def transfer_lines(order: TransferOrder) -> QuerySet[TransferOrderLine]:
    """The order's lines in order, with item, unit and lot."""
    return (
        TransferOrderLine.objects.filter(order=order)
        .select_related("item__base_unit", "lot")
        .order_by("line_no")
    )


def photo_response(document: WasteDocument) -> FileResponse:
    """Serve a waste photo privately (call it after the read check)."""
    return private_file_response(
        document.photo,
        content_type=document.photo_content_type or "image/jpeg",
        filename=document.number,
    )
