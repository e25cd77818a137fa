"""Anomaly detectors: findings measured against each series' own history (docs/anomalies.md).

Each detector reads rollups or facts, compares one figure with the history of the same series
(a store's sales, waste or count variances; a supplier's price of an item; a staff member's
refunds or discounts) and raises an alert through `alerts.raise_alert`, which groups repeats on
the open alert. Running a detector again over the same data therefore adds occurrences to the
alerts it already raised and opens none.

Thresholds are robust: the median of the history and its median absolute deviation (MAD,
scaled by 1.4826 to a normal σ), with floors so that a series that never moves does not alert
on a cent, and minimum amounts so that quiet hours and small stores stay quiet.

- `sales_drop`: sales so far today (or of a whole day) against what was expected by that hour:
  the day's forecast (`ForecastDay`, else the mean of the same weekday over the last four
  weeks) × the store's share of the day usually reached by then (its hourly profile). The
  threshold is a robust lower bound of the same ratio over the store's last 28 days.
- `waste_spike`, `variance_spike`: a store-day's waste value, a count's loss, against the
  store's own last 56 days (count days only for variances).
- `price_jump`: an invoice line's unit price against the item's prices from that supplier
  (earlier invoice lines and purchase-order lines), threshold max(15 %, 3 robust σ).
- `price_change`: a supplier's new price list against its earlier prices of the same scope,
  beyond the supplier's own alert threshold (`procurement.price.changed`): one alert per list.
- `staff_refunds`, `staff_discounts`: a staff member's refunds or merchant discounts as a share
  of their sales on a day, against their own last 28 days and the store's other staff.

Thresholds and minimums are data: `settings.DASHBOARDS_DETECTORS` overrides any of `DEFAULTS`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from backroom.dashboards.detectors.common import (
    DEFAULTS,
    PRICE_CHANGE,
    PRICE_JUMP,
    SALES_DROP,
    STAFF_DISCOUNTS,
    STAFF_REFUNDS,
    VARIANCE_SPIKE,
    WASTE_SPIKE,
    Spread,
    config,
    site_today,
    spread,
    upper_bound,
)
from backroom.dashboards.detectors.prices import alert_price_change, detect_price_jumps
from backroom.dashboards.detectors.sales import (
    DayPoint,
    SalesSeries,
    day_point,
    detect_sales_drop,
    detect_sales_drops_now,
    detect_sales_drops_yesterday,
)
from backroom.dashboards.detectors.staff import (
    StaffDay,
    detect_staff,
    detect_staff_anomalies,
    staff_days,
)
from backroom.dashboards.detectors.stock import detect_stock_spike, detect_stock_spikes

__all__ = [
    "DEFAULTS",
    "PRICE_CHANGE",
    "PRICE_JUMP",
    "SALES_DROP",
    "STAFF_DISCOUNTS",
    "STAFF_REFUNDS",
    "VARIANCE_SPIKE",
    "WASTE_SPIKE",
    "DayPoint",
    "SalesSeries",
    "Spread",
    "StaffDay",
    "alert_price_change",
    "config",
    "day_point",
    "detect_daily",
    "detect_price_jumps",
    "detect_sales_drop",
    "detect_sales_drops_now",
    "detect_sales_drops_yesterday",
    "detect_staff",
    "detect_staff_anomalies",
    "detect_stock_spike",
    "detect_stock_spikes",
    "site_today",
    "spread",
    "staff_days",
    "upper_bound",
]


def detect_daily(*, site_ids: Iterable[int] | None = None, now: dt.datetime | None = None) -> int:
    """The nightly detectors over every store's last complete business day."""
    return (
        detect_sales_drops_yesterday(site_ids=site_ids, now=now)
        + detect_stock_spikes(site_ids=site_ids, now=now)
        + detect_staff_anomalies(site_ids=site_ids, now=now)
    )
