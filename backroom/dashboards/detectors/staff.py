"""`staff_refunds` and `staff_discounts`: refunds and discounts per staff member."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from backroom.channels.choices import ChannelKind, OrderStatus
from backroom.channels.models import Order
from backroom.dashboards.choices import Severity
from backroom.dashboards.detectors.common import (
    RATIO,
    STAFF_DISCOUNTS,
    STAFF_REFUNDS,
    ZERO,
    Spread,
    config,
    day_text,
    number,
    raise_store_alert,
    site_today,
    spread,
    stores,
    text,
)
from backroom.org.models import Site

# --- staff_refunds and staff_discounts ---------------------------------------------------------

COUNTED = (OrderStatus.COMPLETED, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED)
MEASURES = {STAFF_REFUNDS: "refunded_amount", STAFF_DISCOUNTS: "merchant_discount"}


@dataclass(frozen=True)
class StaffDay:
    staff_code: str
    day: dt.date
    sales: Decimal
    amount: Decimal
    orders: int

    @property
    def rate(self) -> Decimal:
        return self.amount / self.sales if self.sales else ZERO


def staff_days(site: Site, first: dt.date, last: dt.date, measure: str) -> list[StaffDay]:
    """Sales (before discounts) and refunds or merchant discounts per staff member and day,
    over the till orders that name who rang them up."""
    rows = (
        Order.objects.filter(
            site=site,
            kind=ChannelKind.POS,
            business_date__gte=first,
            business_date__lte=last,
            status__in=COUNTED,
        )
        .exclude(staff_code="")
        .values("staff_code", "business_date")
        .annotate(turnover=Sum("original_price"), amount=Sum(measure), orders=Count("id"))
        .order_by("staff_code", "business_date")
    )
    return [
        StaffDay(
            row["staff_code"],
            row["business_date"],
            row["turnover"] or ZERO,
            row["amount"] or ZERO,
            row["orders"],
        )
        for row in rows
        if row["turnover"]
    ]


def detect_staff(site: Site, *, day: dt.date, detector: str, now: dt.datetime | None = None) -> int:
    """Each staff member's refunds (`staff_refunds`) or merchant discounts (`staff_discounts`)
    as a share of their sales on `day`, against their own earlier days and the store's other
    staff over the window. It alerts above the lower of the two bounds it has enough history
    for (unusual for them, or unusual for the store's staff), and above `min_rate`."""
    values = config(detector)
    measure = MEASURES[detector]
    first = day - dt.timedelta(days=int(values["history_days"]))
    rows = staff_days(site, first, day, measure)
    k, min_scale = number(values, "k"), number(values, "min_scale")
    raised = 0
    for today in (row for row in rows if row.day == day):
        if today.amount < number(values, "min_amount"):
            continue
        own = [row.rate for row in rows if row.staff_code == today.staff_code and row.day < day]
        peers = [row.rate for row in rows if row.staff_code != today.staff_code]
        bounds: dict[str, tuple[Spread, Decimal]] = {}
        if len(own) >= int(values["min_own_days"]):
            own_spread = spread(own)
            bounds["own"] = (own_spread, own_spread.median + k * max(own_spread.sigma, min_scale))
        if len(peers) >= int(values["min_peer_days"]):
            peer_spread = spread(peers)
            bounds["peers"] = (
                peer_spread,
                peer_spread.median + k * max(peer_spread.sigma, min_scale),
            )
        if not bounds:
            continue
        threshold = max(number(values, "min_rate"), min(bound for _s, bound in bounds.values()))
        rate = today.rate
        if rate <= threshold:
            continue
        severity = Severity.CRITICAL if rate > 2 * threshold else Severity.WARNING
        currency = site.legal_entity.base_currency
        figures = {
            "staff": today.staff_code,
            "store": site.node.name,
            "day": day_text(day),
            "amount": text(today.amount),
            "currency": currency,
            "percent": text(rate * 100, Decimal("0.1")),
            "threshold": text(threshold * 100, Decimal("0.1")),
            "sales": text(today.sales),
        }
        if detector == STAFF_REFUNDS:
            title = (
                _(
                    "Unusual refunds by %(staff)s at %(store)s on %(day)s: %(amount)s %(currency)s (%(percent)s %% of sales)"
                )
                % figures
            )
            orders = Order.objects.filter(refunded_amount__gt=0)
        else:
            title = (
                _(
                    "Unusual discounts by %(staff)s at %(store)s on %(day)s: %(amount)s %(currency)s (%(percent)s %% of sales)"
                )
                % figures
            )
            orders = Order.objects.filter(merchant_discount__gt=0)
        message = (
            _(
                "%(amount)s %(currency)s on %(sales)s %(currency)s of sales rung up by "
                "%(staff)s; it alerts above %(threshold)s %% (from their own days and the "
                "store's other staff)."
            )
            % figures
        )
        documents = orders.filter(
            site=site, business_date=day, staff_code=today.staff_code, kind=ChannelKind.POS
        ).order_by(f"-{measure}", "pk")[:20]
        details: dict[str, Any] = {
            "business_date": day.isoformat(),
            "staff_code": today.staff_code,
            "currency": currency,
            "sales": text(today.sales),
            "amount": text(today.amount),
            "orders": today.orders,
            "actual": text(rate, RATIO),
            "threshold": text(threshold, RATIO),
            "history_from": first.isoformat(),
            "history_to": (day - dt.timedelta(days=1)).isoformat(),
            "site_id": site.pk,
            "order_ids": [
                {
                    "id": order.pk,
                    "number": order.display_id or order.external_id,
                    "amount": str(getattr(order, measure)),
                }
                for order in documents
            ],
        }
        for name, (history, bound) in bounds.items():
            details[name] = {
                "median": text(history.median, RATIO),
                "mad": text(history.mad, RATIO),
                "days": history.count,
                "bound": text(bound, RATIO),
            }
        alert, _is_new = raise_store_alert(
            site,
            detector=detector,
            fingerprint=f"staff:{today.staff_code}",
            title=title,
            severity=severity,
            message=message,
            details=details,
            now=now,
        )
        raised += alert is not None
    return raised


def detect_staff_anomalies(
    *,
    site_ids: Iterable[int] | None = None,
    day: dt.date | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Refunds and discounts per staff member of every store's last complete day (nightly)."""
    now = now or timezone.now()
    raised = 0
    for site in stores(site_ids):
        target = day or site_today(site, now) - dt.timedelta(days=1)
        for detector in (STAFF_REFUNDS, STAFF_DISCOUNTS):
            raised += detect_staff(site, day=target, detector=detector, now=now)
    return raised
