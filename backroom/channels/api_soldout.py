"""Sold-out API (mounted at /api/v1/channels/ beside the channels router): a store's sold-out
panel, holding an item sold out by hand and clearing the hold, and the outbound calls to the
platforms with a manual retry. See docs/channels-soldout.md."""

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Path, Query, Router, Schema
from ninja.pagination import paginate

from backroom.channels import outbound, soldout
from backroom.channels.models import OutboundCall, OutboundStatus
from backroom.config.api_support import ObjectId, Pagination, errors, text
from backroom.org.selectors import get_site

router = Router(tags=["channels"])


class SoldOutRowOut(Schema):
    item_id: int
    sku: str
    name: str
    sellable: int | None  # portions the store can still make; null: not limited by stock
    is_sold_out: bool
    is_manual: bool  # held sold out by a manager until cleared
    reason: str
    changed_at: dt.datetime | None


class SoldOutPanelOut(Schema):
    store_id: int
    items: list[SoldOutRowOut]


class HoldIn(Schema):
    item_id: ObjectId
    reason: str = text(min_length=1, max_length=200)


class ClearIn(Schema):
    reason: str = text(max_length=200, default="")


class SoldOutStateOut(Schema):
    store_id: int
    item_id: int
    sellable: int | None
    is_sold_out: bool
    is_manual: bool
    reason: str
    changed_at: dt.datetime
    outbound_calls: list[int]


class OutboundCallOut(Schema):
    id: int
    account_id: int
    store_id: int = Field(..., alias="account.site_id")
    channel: str = Field(..., alias="account.kind")
    action: str
    item_id: int | None
    order_id: int | None
    request: dict[str, Any]
    platform_action: str
    status: OutboundStatus
    attempts: int
    last_error: str
    next_attempt_at: dt.datetime | None
    response: dict[str, Any] | None
    created_at: dt.datetime
    sent_at: dt.datetime | None


class OutboundFilter(Schema):
    store_id: ObjectId | None = None
    status: OutboundStatus | None = None


def _state_out(result: soldout.StateResult) -> dict[str, Any]:
    state = result.state
    return {
        "store_id": state.site_id,
        "item_id": state.item_id,
        "sellable": state.sellable,
        "is_sold_out": state.is_sold_out,
        "is_manual": state.is_manual,
        "reason": state.reason,
        "changed_at": state.changed_at,
        "outbound_calls": result.calls,
    }


@router.get("/stores/{store_id}/sold-out", response={200: SoldOutPanelOut, **errors(403, 404)})
def get_panel(request: HttpRequest, store_id: Path[ObjectId]) -> dict[str, Any]:
    """The store's menu with the portions it can still make and each item's state, sold-out
    items first (channels.view at the store)."""
    site = soldout.panel_site(request.user, store_id)
    return {"store_id": site.pk, "items": soldout.panel(request.user, site)}


@router.post("/stores/{store_id}/sold-out", response={200: SoldOutStateOut, **errors(403, 404)})
def hold_sold_out(
    request: HttpRequest, store_id: Path[ObjectId], payload: HoldIn
) -> dict[str, Any]:
    """Hold an item sold out by hand, with a reason (channels.manage at the store). It stays
    sold out whatever the stock until cleared; every connected platform is told (the call ids
    are returned). Holding it again replaces the reason and calls nobody."""
    site = get_site(request.user, store_id)
    return _state_out(
        soldout.mark_sold_out(
            site=site, item=payload.item_id, reason=payload.reason, actor=request.user
        )
    )


@router.post(
    "/stores/{store_id}/sold-out/{item_id}/clear",
    response={200: SoldOutStateOut, **errors(403, 404, 409)},
)
def clear_sold_out(
    request: HttpRequest, store_id: Path[ObjectId], item_id: Path[ObjectId], payload: ClearIn
) -> dict[str, Any]:
    """Release a hold (channels.manage): back in stock at once when the store can make the
    item (platforms told), else sold out until stock returns. 409 `not_held` when it is not
    held by hand."""
    site = get_site(request.user, store_id)
    return _state_out(
        soldout.clear_sold_out(site=site, item=item_id, reason=payload.reason, actor=request.user)
    )


@router.get("/outbound-calls", response={200: list[OutboundCallOut], **errors(404)})
@paginate(Pagination)
def list_outbound_calls(
    request: HttpRequest, filters: Query[OutboundFilter]
) -> QuerySet[OutboundCall]:
    """Calls to the platforms at the stores the caller may see channels at, newest first;
    `status=failed` lists those waiting for a retry or refused for good."""
    site = get_site(request.user, filters.store_id) if filters.store_id is not None else None
    return soldout.outbound_calls_for(request.user, site=site, status=filters.status)


@router.post(
    "/outbound-calls/{call_id}/retry", response={200: OutboundCallOut, **errors(403, 404, 409)}
)
def retry_outbound_call(request: HttpRequest, call_id: Path[ObjectId]) -> OutboundCall:
    """Try a failed or given-up call again now (channels.manage); 409 for any other status."""
    call = soldout.get_outbound_call(request.user, call_id)
    outbound.retry_call(call, actor=request.user)
    return soldout.get_outbound_call(request.user, call_id)
