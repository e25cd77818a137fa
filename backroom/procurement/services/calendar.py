"""Delivery dates from a delivery calendar: weekdays, order cut-off, lead time, exceptions.

A source is a supplier (直送) or a warehouse / central kitchen (配送: its distribution schedule
to the stores). The planning app covers demand "until the delivery after next":
`next_delivery_dates(source, store, now, count=2)` gives the next delivery an order placed now
can catch and the one after.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.utils import timezone

from backroom.org.models import Site
from backroom.procurement.models import DeliveryCalendar, Supplier

SEARCH_DAYS = 400  # a calendar with no delivery day in a year yields no dates
DISTRIBUTION_LEAD_TIME_DAYS = 1  # a warehouse's or kitchen's, when its calendar sets none

Source = Supplier | Site  # a supplier, or a warehouse / central kitchen


@dataclass(frozen=True)
class CalendarRule:
    """The calendar in force for one source × store (or every day when none is set)."""

    weekdays: frozenset[int]
    cutoff_time: dt.time | None
    lead_time_days: int
    exceptions: dict[dt.date, bool]
    calendar_id: int | None


def _default_lead_time(source: Source) -> int:
    if isinstance(source, Supplier):
        return source.lead_time_days
    return DISTRIBUTION_LEAD_TIME_DAYS


def calendar_for(source: Source, store: Site) -> CalendarRule:
    """The most specific calendar of the source (a supplier, or a warehouse / central
    kitchen) covering the store (its own, else the nearest ancestor's); without one, every
    day, no cut-off, the supplier's lead time (a site's: one day)."""
    path = store.node.path
    rows = (
        DeliveryCalendar.objects.filter(supplier=source)
        if isinstance(source, Supplier)
        else DeliveryCalendar.objects.filter(source_site=source)
    )
    calendars = [
        calendar
        for calendar in rows.select_related("node").prefetch_related("exceptions")
        if path.startswith(calendar.node.path)
    ]
    if not calendars:
        return CalendarRule(frozenset(range(1, 8)), None, _default_lead_time(source), {}, None)
    calendar = max(calendars, key=lambda row: row.node.depth)
    return CalendarRule(
        weekdays=frozenset(int(day) for day in calendar.weekdays),
        cutoff_time=calendar.cutoff_time,
        lead_time_days=(
            calendar.lead_time_days
            if calendar.lead_time_days is not None
            else _default_lead_time(source)
        ),
        exceptions={row.date: row.delivers for row in calendar.exceptions.all()},
        calendar_id=calendar.pk,
    )


def order_day(rule: CalendarRule, store: Site, after: dt.datetime | dt.date) -> dt.date:
    """The day an order placed at `after` counts for: the store's local date, or the next day
    when placed after the cut-off. A plain date is taken as before the cut-off."""
    if isinstance(after, dt.datetime):
        if timezone.is_naive(after):
            raise ValueError("next_delivery_dates needs an aware datetime")
        local = after.astimezone(ZoneInfo(store.time_zone))
        day = local.date()
        if rule.cutoff_time is not None and local.time() > rule.cutoff_time:
            day += dt.timedelta(days=1)
        return day
    return after


def next_delivery_dates(
    source: Source, store: Site, after: dt.datetime | dt.date, *, count: int = 2
) -> list[dt.date]:
    """The next `count` dates the source (a supplier, or a warehouse / central kitchen) can
    deliver an order placed at `after` to the store: on or after the order day + lead time, on
    a delivery weekday that is not an exception without delivery (or on an extra delivery
    date)."""
    rule = calendar_for(source, store)
    earliest = order_day(rule, store, after) + dt.timedelta(days=rule.lead_time_days)
    found: list[dt.date] = []
    for offset in range(SEARCH_DAYS):
        day = earliest + dt.timedelta(days=offset)
        delivers = rule.exceptions.get(day, day.isoweekday() in rule.weekdays)
        if delivers:
            found.append(day)
            if len(found) == count:
                break
    return found


__all__ = [
    "DISTRIBUTION_LEAD_TIME_DAYS",
    "CalendarRule",
    "Source",
    "calendar_for",
    "next_delivery_dates",
    "order_day",
]
