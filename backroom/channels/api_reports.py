"""Sales and settlement API (mounted at /api/v1/channels/ next to the channels router): a store's
sales from the rollups, and a platform account's daily settlement with its differences.
Both need `channels.sales` at the store (docs/channels-sales.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

from django.http import HttpRequest
from ninja import Query, Router, Schema

from backroom.channels import rollups, settlement
from backroom.config.api_support import ObjectId, errors

router = Router(tags=["channels"])


class SalesFilter(Schema):
    store_id: ObjectId
    date_from: dt.date
    date_to: dt.date | None = None
    top: int = 20


class SalesTotalsOut(Schema):
    orders: int
    gross: Decimal
    merchant_discount: Decimal
    platform_discount: Decimal
    net: Decimal
    packaging_fee: Decimal
    delivery_fee: Decimal
    commission: Decimal


class ChannelSalesOut(SalesTotalsOut):
    channel: str


class DaySalesOut(SalesTotalsOut):
    business_date: dt.date


class HourSalesOut(Schema):
    hour: int
    orders: int
    gross: Decimal
    net: Decimal


class ItemSalesOut(Schema):
    item_id: int | None  # null: lines whose SKU is not mapped yet
    sku: str
    name: str
    quantity: Decimal
    gross: Decimal
    merchant_discount: Decimal
    platform_discount: Decimal
    net: Decimal


class SalesOut(Schema):
    store_id: int
    date_from: dt.date
    date_to: dt.date
    currency: str
    totals: SalesTotalsOut
    channels: list[ChannelSalesOut]
    days: list[DaySalesOut]
    hours: list[HourSalesOut]
    top_items: list[ItemSalesOut]


def _totals(row: Mapping[str, object]) -> dict[str, object]:
    return {name: row[name] or 0 for name in rollups.ORDER_FIELDS}


@router.get("/sales", response={200: SalesOut, **errors(403, 404)})
def get_sales(request: HttpRequest, filters: Query[SalesFilter]) -> dict[str, object]:
    """A store's sales over business days `date_from`–`date_to` (one day when `date_to` is
    left out): totals, per channel, per day, per local hour and the `top` items by net sales.
    Net = gross − merchant-borne discounts; `item_id` null is the unmapped bucket."""
    summary = rollups.sales_summary(
        request.user,
        site_id=filters.store_id,
        date_from=filters.date_from,
        date_to=filters.date_to or filters.date_from,
        top=max(1, min(filters.top, 200)),
    )
    return {
        "store_id": summary.site.pk,
        "date_from": summary.date_from,
        "date_to": summary.date_to,
        "currency": summary.currency,
        "totals": _totals(summary.totals),
        "channels": [{"channel": row["kind"], **_totals(row)} for row in summary.channels],
        "days": [{"business_date": row["business_date"], **_totals(row)} for row in summary.days],
        "hours": summary.hours,
        "top_items": [
            {
                "item_id": item.item_id,
                "sku": item.sku,
                "name": item.name,
                "quantity": item.quantity,
                "gross": item.gross,
                "merchant_discount": item.merchant_discount,
                "platform_discount": item.platform_discount,
                "net": item.net,
            }
            for item in summary.items
        ],
    }


class SettlementFilter(Schema):
    account_id: ObjectId
    business_date: dt.date


class SettlementLineOut(Schema):
    external_id: str
    display_id: str
    order_id: int | None
    status: str
    expected: Decimal | None
    reported: Decimal | None
    refunded: Decimal
    difference: Decimal
    reason: str  # "" (agrees), amount, missing_reported, missing_ours


class SettlementOut(Schema):
    account_id: int
    store_id: int
    channel: str
    business_date: dt.date
    currency: str
    orders_compared: int
    expected_total: Decimal
    reported_total: Decimal
    difference_total: Decimal
    difference_counts: dict[str, int]
    not_compared: dict[str, int]
    differences: list[SettlementLineOut]
    lines: list[SettlementLineOut]


@router.get("/settlement", response={200: SettlementOut, **errors(403, 404)})
def get_settlement(request: HttpRequest, filters: Query[SettlementFilter]) -> dict[str, object]:
    """A platform account's business day: our income per completed order against the income
    the platform reported in its push, with the differences (a missing side, or amounts more
    than 0.01 apart) and totals. Cancelled, refunded and open orders are counted in
    `not_compared`."""
    account = settlement.get_settlement_account(request.user, filters.account_id)
    result = settlement.settle(request.user, account=account, business_date=filters.business_date)
    return {
        "account_id": account.pk,
        "store_id": account.site_id,
        "channel": account.kind,
        "business_date": result.business_date,
        "currency": result.currency,
        "orders_compared": sum(1 for line in result.lines if line.expected is not None),
        "expected_total": result.expected_total,
        "reported_total": result.reported_total,
        "difference_total": result.difference_total,
        "difference_counts": result.counts,
        "not_compared": result.not_compared,
        "differences": result.differences,
        "lines": result.lines,
    }
