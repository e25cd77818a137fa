"""Schemas of the dashboards API (`/api/v1/dashboards/`)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from ninja import Schema


class KpiOut(Schema):
    code: str
    label: str
    unit: str  # money, percent (a fraction: 0.3 = 30 %), count, minutes, days
    good: str  # up, down, none
    description: str


class DashboardNodeOut(Schema):
    id: int
    code: str
    name: str
    kind: str


class CardOut(Schema):
    code: str
    label: str
    unit: str
    good: str
    value: Decimal | None
    previous: Decimal | None  # the period of the same length just before
    is_better: bool | None


class ChannelOut(Schema):
    kind: str
    label: str
    net: Decimal
    share: Decimal | None


class PointOut(Schema):
    date: dt.date  # the first day in the period of its day, week or month (`trend_grain`)
    value: Decimal | None


class ChildOut(Schema):
    node: DashboardNodeOut
    site_id: int | None  # set when the child is a store
    rank: int
    value: Decimal | None  # the ranking KPI
    sales: Decimal
    orders: Decimal
    sparkline: list[PointOut]  # only for the rows shown (all, or the best and worst ten)


class TrendOut(Schema):
    date: dt.date
    sales: Decimal
    orders: Decimal
    value: Decimal | None  # the chosen KPI


class MapPointOut(Schema):
    site_id: int
    code: str
    name: str
    latitude: Decimal
    longitude: Decimal
    value: Decimal | None


class PendingApprovalsOut(Schema):
    pending: int
    oldest_submitted_at: dt.datetime | None
    oldest_hours: int | None


class AlertCountsOut(Schema):
    total: int
    by_severity: dict[str, int]


class HqOut(Schema):
    node: DashboardNodeOut
    date_from: dt.date
    date_to: dt.date
    previous_from: dt.date
    previous_to: dt.date
    kpi: str
    currency: str
    cards: list[CardOut]
    channels: list[ChannelOut]
    children: list[ChildOut]  # ranked best first by `kpi`
    # Buckets of the trend and the sparklines: day up to 45 days, week up to 120, then month.
    trend_grain: Literal["day", "week", "month"]
    trend: list[TrendOut]
    map: list[MapPointOut]
    approvals: PendingApprovalsOut
    alerts: AlertCountsOut


class StoreOut(Schema):
    site_id: int
    code: str
    name: str
    date_from: dt.date
    date_to: dt.date
    currency: str
    cards: list[CardOut]
    channels: list[ChannelOut]
    days: list[TrendOut]
    approvals: PendingApprovalsOut
    alerts: AlertCountsOut


class SalesHourOut(Schema):
    hour: int
    orders: int
    gross: Decimal
    net: Decimal


class SalesCategoryOut(Schema):
    category_id: int | None
    name: str
    quantity: Decimal
    gross: Decimal
    net: Decimal


class SalesItemOut(Schema):
    item_id: int | None  # empty: lines not mapped to an item yet
    sku: str
    name: str
    category_id: int | None
    category: str
    quantity: Decimal
    gross: Decimal
    net: Decimal
    soldout_minutes: Decimal  # minutes the item was sold out on the day


class StoreDayOut(Schema):
    site_id: int
    date: dt.date
    currency: str
    cards: list[CardOut]  # previous: the same weekday a week before
    channels: list[ChannelOut]
    hours: list[SalesHourOut]
    categories: list[SalesCategoryOut]
    items: list[SalesItemOut]
