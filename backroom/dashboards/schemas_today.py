"""Schemas of the store's "today" API (`GET /api/v1/dashboards/stores/{site_id}/today`)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ninja import Schema


class TodayHourOut(Schema):
    hour: int  # local clock hour, 0–23, in the order of the business day
    label: str
    orders: int
    gross: Decimal
    net: Decimal
    expected: Decimal | None  # forecast gross for the hour; null without forecast or profile
    cumulative_gross: Decimal
    cumulative_expected: Decimal | None
    is_past: bool
    is_current: bool


class KpiCardOut(Schema):
    code: str
    label: str
    unit: str
    good: str
    value: Decimal | None


class TodaySalesOut(Schema):
    currency: str
    forecast_gross: Decimal | None
    forecast_source: str  # "forecast", "history" (same weekday, last 4 weeks) or ""
    has_profile: bool
    hours: list[TodayHourOut]
    orders: int
    gross: Decimal
    net: Decimal
    average_ticket: Decimal | None
    expected_by_now: Decimal | None
    vs_expected: Decimal | None
    kpis: list[KpiCardOut]


class ExpectedDeliveryOut(Schema):
    kind: str  # "purchase_order" or "transfer"
    id: int
    number: str
    source: str
    status: str
    expected_date: dt.date | None
    is_late: bool
    url: str
    receive_url: str | None


class DeliveriesOut(Schema):
    count: int
    rows: list[ExpectedDeliveryOut]
    url: str


class CountDueOut(Schema):
    kind: str  # "sheet" (open) or "template" (not counted for a week)
    id: int
    name: str
    status: str
    last_counted_at: dt.datetime | None
    url: str


class CountsOut(Schema):
    count: int
    rows: list[CountDueOut]
    url: str


class SoldOutItemOut(Schema):
    item_id: int
    sku: str
    name: str
    sellable: int | None
    is_sold_out: bool
    is_manual: bool
    reason: str
    since: dt.datetime | None
    minutes: int | None


class SoldOutOut(Schema):
    count: int
    rows: list[SoldOutItemOut]
    url: str


class ApprovalWaitingOut(Schema):
    task_id: int
    request_id: int
    title: str
    step: str
    waiting_since: dt.datetime
    due_at: dt.datetime | None
    is_overdue: bool
    url: str


class TodayApprovalsOut(Schema):
    count: int
    rows: list[ApprovalWaitingOut]
    url: str


class AlertOpenOut(Schema):
    id: int
    title: str
    severity: str
    status: str
    occurrences: int
    last_raised_at: dt.datetime
    url: str


class TodayAlertsOut(Schema):
    count: int
    rows: list[AlertOpenOut]
    url: str


class StoreTodayOut(Schema):
    """A store's business day so far; a section the caller may not see is null."""

    site_id: int
    store_code: str
    store_name: str
    business_date: dt.date
    now: dt.datetime  # in the store's time zone
    time_zone: str
    sales: TodaySalesOut | None
    deliveries: DeliveriesOut | None
    counts: CountsOut | None
    sold_out: SoldOutOut | None
    approvals: TodayApprovalsOut
    alerts: TodayAlertsOut | None
