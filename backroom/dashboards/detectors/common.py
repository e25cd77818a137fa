"""What the detectors share: thresholds as data, robust statistics, the stores they look at."""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.formats import date_format

from backroom.dashboards.alerts import Signal, raise_alert
from backroom.kernel.dates import business_date
from backroom.org.choices import NodeKind, SiteStatus
from backroom.org.models import Site

ZERO = Decimal(0)
ONE = Decimal(1)
MAD_SCALE = Decimal("1.4826")  # MAD × this estimates σ of a normal distribution
CENT = Decimal("0.01")
RATIO = Decimal("0.0001")

SALES_DROP = "sales_drop"
WASTE_SPIKE = "waste_spike"
VARIANCE_SPIKE = "variance_spike"
PRICE_JUMP = "price_jump"
PRICE_CHANGE = "price_change"
STAFF_REFUNDS = "staff_refunds"
STAFF_DISCOUNTS = "staff_discounts"

DEFAULTS: dict[str, dict[str, Any]] = {
    SALES_DROP: {
        "history_days": 28,  # the ratios the threshold is read from
        "min_history_days": 14,
        "k": "3",  # robust σ below the median ratio …
        "min_drop": "0.30",  # … but at least 30 % below it (a steady store) …
        "max_drop": "0.80",  # … and at most 80 % (a volatile store still alerts near zero)
        "min_expected": "300",  # expected sales by now, in the store's currency
        "min_day_share": "0.15",  # the share of the day that must be behind us (intraday)
        "critical_below": "0.5",  # critical under half the threshold
    },
    WASTE_SPIKE: {
        "history_days": 56,
        "min_history_days": 14,
        "k": "3.5",
        "min_scale_share": "0.25",  # the scale is at least 25 % of the median …
        "min_scale": "20",  # … and at least this amount (a store that seldom wastes)
        "min_amount": "200",
    },
    VARIANCE_SPIKE: {
        "history_days": 56,
        "min_history_days": 3,  # earlier days with a count variance or adjustment
        "k": "3.5",
        "min_scale_share": "0.25",
        "min_scale": "20",
        "min_amount": "200",
    },
    PRICE_JUMP: {
        "history": 12,  # the latest prices of the item from the supplier
        "min_history": 3,
        "k": "3",
        "min_rise": "0.15",
    },
    PRICE_CHANGE: {
        # The threshold is each supplier's own (`price_alert_percent`); critical beyond this
        # many times it.
        "critical_factor": "2",
    },
    STAFF_REFUNDS: {
        "history_days": 28,
        "min_own_days": 7,
        "min_peer_days": 10,
        "k": "3.5",
        "min_scale": "0.02",  # of the rate (2 points)
        "min_rate": "0.05",
        "min_amount": "100",
    },
    STAFF_DISCOUNTS: {
        "history_days": 28,
        "min_own_days": 7,
        "min_peer_days": 10,
        "k": "3.5",
        "min_scale": "0.02",
        "min_rate": "0.10",
        "min_amount": "100",
    },
}


def config(detector: str) -> dict[str, Any]:
    """A detector's thresholds: `DEFAULTS` with `settings.DASHBOARDS_DETECTORS` over them."""
    overrides = getattr(settings, "DASHBOARDS_DETECTORS", {}) or {}
    return {**DEFAULTS[detector], **overrides.get(detector, {})}


def number(values: dict[str, Any], name: str) -> Decimal:
    return Decimal(str(values[name]))


def text(value: Decimal, places: Decimal = CENT) -> str:
    return str(value.quantize(places))


# --- robust statistics -------------------------------------------------------------------------


@dataclass(frozen=True)
class Spread:
    """The median of a history, its median absolute deviation, and how many values it has."""

    median: Decimal
    mad: Decimal
    count: int

    @property
    def sigma(self) -> Decimal:
        return self.mad * MAD_SCALE


def spread(values: Sequence[Decimal]) -> Spread:
    if not values:
        return Spread(ZERO, ZERO, 0)
    middle = Decimal(statistics.median(values))
    mad = Decimal(statistics.median([abs(value - middle) for value in values]))
    return Spread(middle, mad, len(values))


def upper_bound(history: Spread, *, k: Decimal, min_scale: Decimal, min_share: Decimal) -> Decimal:
    """median + k × scale, the scale being the robust σ but at least `min_share` of the median
    and at least `min_scale`."""
    scale = max(history.sigma, abs(history.median) * min_share, min_scale)
    return history.median + k * scale


def stores(site_ids: Iterable[int] | None) -> list[Site]:
    rows = Site.objects.filter(node__kind=NodeKind.STORE, status=SiteStatus.OPEN).select_related(
        "node", "legal_entity"
    )
    if site_ids is not None:
        rows = rows.filter(pk__in=list(site_ids))
    return list(rows.order_by("node__path"))


def site_today(site: Site, now: dt.datetime | None = None) -> dt.date:
    return business_date(
        now or timezone.now(), time_zone=site.time_zone, cutoff_hour=site.cutoff_hour
    )


def day_text(day: dt.date) -> str:
    return date_format(day, "SHORT_DATE_FORMAT")


def raise_store_alert(
    site: Site,
    *,
    detector: str,
    fingerprint: str,
    title: str,
    severity: str,
    message: str,
    details: dict[str, Any],
    now: dt.datetime | None = None,
) -> tuple[Any, bool]:
    """Raise (or group) a detector's finding at a store: the alert and whether it is new."""
    return raise_alert(
        Signal(
            title=title,
            severity=severity,
            node=site.node,
            site=site,
            fingerprint=fingerprint,
            message=message,
            details=details,
        ),
        detector=detector,
        now=now,
    )
