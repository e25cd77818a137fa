"""Channels API (mounted at /api/v1/channels/): the POS API for tills (one order, or batches of
up to 1,000), orders and their history, status changes of online orders, channel accounts,
unmapped lines and menu mappings. See docs/channels.md.
"""

import uuid
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Status
from ninja.pagination import paginate

from backroom.catalog.models import Item, Modifier
from backroom.channels import intake, pos, selectors, services
from backroom.channels.models import ChannelAccount, Order
from backroom.channels.schemas import (
    AccountFilter,
    AccountIn,
    AccountOut,
    MappingOut,
    MenuMappingIn,
    OrderDetailOut,
    OrderFilter,
    OrderOut,
    StatusIn,
    TillBatchIn,
    TillBatchOut,
    TillOrderIn,
    TillResultOut,
    UnmappedFilter,
    UnmappedOut,
)
from backroom.config.api_support import ObjectId, Pagination, errors
from backroom.inventory import selectors as inventory_selectors
from backroom.kernel.exceptions import ValidationFailed
from backroom.org.selectors import get_site

router = Router(tags=["channels"])


def _site(request: HttpRequest, site_id: int | None) -> Any:
    return get_site(request.user, site_id) if site_id is not None else None


def _till_order(payload: TillOrderIn) -> pos.TillOrder:
    return pos.TillOrder(
        uuid=payload.uuid,
        store_id=payload.store_id,
        placed_at=payload.placed_at,
        channel=payload.channel,
        status=payload.status,
        display_id=payload.display_id,
        currency=payload.currency,
        total=payload.total,
        original_price=payload.original_price,
        merchant_discount=payload.merchant_discount,
        delivery_fee=payload.delivery_fee,
        packaging_fee=payload.packaging_fee,
        customer_name=payload.customer_name,
        customer_phone=payload.customer_phone,
        address=payload.address,
        notes=payload.notes,
        staff_code=payload.staff_code,
        lines=[
            pos.TillLine(
                sku=line.sku,
                name=line.name,
                quantity=line.quantity,
                unit_price=line.unit_price,
                modifiers=[
                    pos.TillModifier(code=m.code, name=m.name, quantity=m.quantity)
                    for m in line.modifiers
                ],
            )
            for line in payload.lines
        ],
    )


# --- the POS API ---------------------------------------------------------------------------


@router.post(
    "/pos/orders",
    response={200: TillResultOut, 201: TillResultOut, **errors(403, 404)},
)
def post_till_order(request: HttpRequest, payload: TillOrderIn) -> Status:
    """One order from a till (channels.operate at its store). 201 when new; 200 with
    `replayed: true` when its UUID was posted before (nothing changes). Unknown SKUs are kept
    and flagged, never refused. The order and its lines are stored before the answer; a till
    sale is depleted, rolled up and audited by the worker a moment later (`is_depleted` turns
    true then; an order received or accepted through the own app is applied at once)."""
    result = pos.submit_orders([_till_order(payload)], actor=request.user, defer=True)[0]
    return Status(200 if result.replayed else 201, result)


@router.post(
    "/pos/batches",
    response={200: TillBatchOut, 201: TillBatchOut, **errors(403, 404)},
)
def post_till_batch(request: HttpRequest, payload: TillBatchIn) -> Status:
    """Up to 1,000 orders (end of day, or a till catching up after being offline), all or
    nothing: every problem is reported at once with its index (`batch_rejected`,
    `details.orders`) and nothing is applied. Orders whose UUID was posted before are
    acknowledged with their existing order (`replayed`)."""
    results = pos.submit_orders(
        [_till_order(order) for order in payload.orders], actor=request.user
    )
    replayed = sum(1 for result in results if result.replayed)
    # Built without validation (the orders are ours): ninja dumps it as it is.
    orders = OrderOut.of_many([result.order for result in results])
    body = TillBatchOut.model_construct(
        created=len(results) - replayed,
        replayed=replayed,
        results=[
            TillResultOut.model_construct(
                index=result.index, uuid=result.uuid, replayed=result.replayed, order=order
            )
            for result, order in zip(results, orders, strict=True)
        ],
    )
    return Status(200 if replayed == len(results) else 201, body)


# --- orders --------------------------------------------------------------------------------


@router.get("/orders", response={200: list[OrderOut], **errors(404)})
@paginate(Pagination)
def list_orders(request: HttpRequest, filters: Query[OrderFilter]) -> QuerySet[Order]:
    """Orders at the stores the caller may see (channels.view), newest first."""
    return selectors.orders_for(
        request.user,
        site=_site(request, filters.store_id),
        status=filters.status,
        business_date=filters.business_date,
        kind=filters.channel,
    )


@router.get("/orders/{order_id}", response={200: OrderDetailOut, **errors(404)})
def get_order(request: HttpRequest, order_id: Path[ObjectId]) -> Order:
    """An order with its lines and full history (out-of-order events included)."""
    return selectors.get_order(request.user, order_id)


@router.post(
    "/orders/{order_id}/status",
    response={200: OrderOut, **errors(403, 404, 409)},
)
def change_status(request: HttpRequest, order_id: Path[ObjectId], payload: StatusIn) -> Order:
    """Move an order on (channels.operate): accept (reserves its ingredients; 409
    `insufficient_stock` when a forbid-negatives ingredient is short), prepare, ready,
    deliver, complete (depletes), cancel or refund (releases or restocks). 409
    `invalid_transition` for a move the status machine does not allow. The `key` (or the
    Idempotency-Key header) makes a retry a replay."""
    order = selectors.get_order(request.user, order_id)
    raw = payload.key or request.headers.get("Idempotency-Key") or uuid.uuid4().hex
    applied = intake.change_status(
        order,
        status=payload.status,
        actor=request.user,
        key=f"u{request.user.pk}:{raw}",
        reason=payload.reason,
    )
    assert applied.order is not None
    return selectors.get_order(request.user, applied.order.pk)


# --- accounts, unmapped lines and mappings -------------------------------------------------


@router.get("/accounts", response={200: list[AccountOut], **errors(404)})
@paginate(Pagination)
def list_accounts(request: HttpRequest, filters: Query[AccountFilter]) -> QuerySet[ChannelAccount]:
    return selectors.accounts_for(request.user, site=_site(request, filters.store_id))


@router.post("/accounts", response={201: AccountOut, **errors(403, 404, 409)})
def create_account(request: HttpRequest, payload: AccountIn) -> Status:
    """Connect a store to a channel (channels.manage). Credentials are stored encrypted."""
    site = get_site(request.user, payload.store_id)
    location = (
        inventory_selectors.get_location(request.user, payload.location_id)
        if payload.location_id
        else None
    )
    account = services.create_account(
        site=site,
        kind=payload.channel,
        name=payload.name,
        store_ref=payload.store_ref,
        secrets=payload.secrets,
        location=location,
        after_depletion=payload.after_depletion,
        actor=request.user,
    )
    return Status(201, account)


@router.get("/unmapped", response={200: list[UnmappedOut], **errors(404)})
@paginate(Pagination)
def list_unmapped(request: HttpRequest, filters: Query[UnmappedFilter]) -> list[dict[str, Any]]:
    """External SKUs received without a mapping (channels.manage), most lines first."""
    rows = selectors.unmapped(request.user, site=_site(request, filters.store_id))
    return [
        {
            "account_id": row.account.pk,
            "store_id": row.account.site_id,
            "channel": row.account.kind,
            "external_sku": row.external_sku,
            "name": row.name,
            "lines": row.lines,
            "first_seen": row.first_seen,
            "last_seen": row.last_seen,
        }
        for row in rows
    ]


@router.post("/mappings", response={200: MappingOut, **errors(403, 404)})
def save_mapping(request: HttpRequest, payload: MenuMappingIn) -> dict[str, Any]:
    """Map an external SKU to a menu item (or a modifier code to a modifier) for one account
    (channels.manage). Lines already received with that SKU are mapped and, for completed
    orders, depleted now (`caught_up_lines`)."""
    account = selectors.get_account(request.user, payload.account_id)
    item = modifier = None
    problems: dict[str, list[str]] = {}
    if payload.item_id is not None:
        item = Item.objects.filter(pk=payload.item_id).first()
        if item is None:
            problems["item_id"] = [_("There is no such item.")]
    if payload.modifier_id is not None:
        modifier = Modifier.objects.filter(pk=payload.modifier_id).first()
        if modifier is None:
            problems["modifier_id"] = [_("There is no such modifier.")]
    if problems:
        raise ValidationFailed(problems)
    mapping, caught_up = services.save_mapping(
        account=account,
        external_code=payload.external_code,
        item=item,
        modifier=modifier,
        modifier_codes=payload.modifier_codes,
        actor=request.user,
    )
    return {
        "id": mapping.pk,
        "account_id": mapping.account_id,
        "kind": mapping.kind,
        "external_code": mapping.external_code,
        "item_id": mapping.item_id,
        "modifier_id": mapping.modifier_id,
        "modifier_codes": mapping.modifier_codes,
        "caught_up_lines": caught_up,
    }
