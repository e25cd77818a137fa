"""`waste_spike` and `variance_spike`: a store-day's waste and count losses against its own days."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from backroom.dashboards.choices import Severity
from backroom.dashboards.detectors.common import (
    VARIANCE_SPIKE,
    WASTE_SPIKE,
    ZERO,
    config,
    day_text,
    number,
    raise_store_alert,
    site_today,
    spread,
    stores,
    text,
    upper_bound,
)
from backroom.dashboards.models import Alert, StockDay
from backroom.inventory.choices import WasteStatus
from backroom.inventory.models import CountSheet, WasteDocument
from backroom.kernel.dates import business_day_bounds
from backroom.org.models import Site

# --- waste_spike and variance_spike ------------------------------------------------------------


def _stock_history(
    site: Site, day: dt.date, column: str, history_days: int
) -> tuple[Decimal | None, dict[dt.date, Decimal]]:
    """A store-day's loss in one `StockDay` column (issues are negative in the ledger: a loss
    is positive here), and the same for every earlier day of the window since the store's
    first row (a day without a row lost nothing)."""
    first = day - dt.timedelta(days=history_days)
    rows = dict(
        StockDay.objects.filter(
            site=site, business_date__gte=first, business_date__lte=day
        ).values_list("business_date", column)
    )
    if day not in rows:
        return None, {}
    since = (
        StockDay.objects.filter(site=site)
        .order_by("business_date")
        .values_list("business_date", flat=True)
        .first()
    )
    start = max(first, since) if since else day
    history = {}
    current = start
    while current < day:
        history[current] = -rows.get(current, ZERO)
        current += dt.timedelta(days=1)
    return -rows[day], history


def _waste_documents(site: Site, day: dt.date) -> list[dict[str, Any]]:
    start, end = business_day_bounds(day, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)
    return [
        {
            "id": document.pk,
            "number": document.number,
            "value": str(document.total_value),
            "page": "inventory:waste_detail",
        }
        for document in WasteDocument.objects.filter(
            site=site, status=WasteStatus.POSTED, occurred_at__gte=start, occurred_at__lt=end
        ).order_by("-total_value", "pk")[:20]
    ]


def _count_sheets(site: Site, day: dt.date) -> list[dict[str, Any]]:
    start, end = business_day_bounds(day, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)
    return [
        {
            "id": sheet.pk,
            "number": sheet.number,
            "page": "inventory:count_sheet",
        }
        for sheet in CountSheet.objects.filter(
            site=site, posted_at__gte=start, posted_at__lt=end
        ).order_by("pk")[:20]
    ]


def detect_stock_spike(
    site: Site, *, day: dt.date, detector: str, now: dt.datetime | None = None
) -> tuple[Alert | None, bool] | None:
    """A store-day's waste (`waste_spike`) or count loss (`variance_spike`) against the same
    store's earlier days (for variances, the earlier days with a variance: its counts)."""
    values = config(detector)
    column = "waste" if detector == WASTE_SPIKE else "variance"
    value, history_by_day = _stock_history(site, day, column, int(values["history_days"]))
    if value is None:
        return None
    past = list(history_by_day.values())
    if detector == VARIANCE_SPIKE:
        past = [amount for amount in past if amount != 0]
    if len(past) < int(values["min_history_days"]) or value < number(values, "min_amount"):
        return None
    history = spread(past)
    threshold = upper_bound(
        history,
        k=number(values, "k"),
        min_scale=number(values, "min_scale"),
        min_share=number(values, "min_scale_share"),
    )
    if value <= threshold:
        return None
    scale = (threshold - history.median) / number(values, "k")
    score = (value - history.median) / scale
    severity = (
        Severity.CRITICAL
        if value > history.median + 2 * (threshold - history.median)
        else Severity.WARNING
    )
    currency = site.legal_entity.base_currency
    figures = {
        "store": site.node.name,
        "day": day_text(day),
        "value": text(value),
        "currency": currency,
        "median": text(history.median),
        "threshold": text(threshold),
        "days": len(past),
    }
    if detector == WASTE_SPIKE:
        title = _("Unusual waste at %(store)s on %(day)s: %(value)s %(currency)s") % figures
        message = (
            _(
                "Waste of %(value)s %(currency)s against a median of %(median)s %(currency)s a "
                "day over its last %(days)s days; it alerts above %(threshold)s %(currency)s."
            )
            % figures
        )
        documents = {"waste_documents": _waste_documents(site, day)}
    else:
        title = (
            _("Count variance spike at %(store)s on %(day)s: %(value)s %(currency)s lost") % figures
        )
        message = (
            _(
                "Counts and adjustments lost %(value)s %(currency)s against a median of "
                "%(median)s %(currency)s over its last %(days)s count days; it alerts above "
                "%(threshold)s %(currency)s."
            )
            % figures
        )
        documents = {"count_sheets": _count_sheets(site, day)}
    details = {
        "business_date": day.isoformat(),
        "currency": currency,
        "actual": text(value),
        "median": text(history.median),
        "mad": text(history.mad),
        "threshold": text(threshold),
        "robust_z": text(score),
        "history_days": len(past),
        "history_from": min(history_by_day).isoformat(),
        "history_to": max(history_by_day).isoformat(),
        "site_id": site.pk,
        **documents,
    }
    return raise_store_alert(
        site,
        detector=detector,
        fingerprint=f"day:{day.isoformat()}",
        title=title,
        severity=severity,
        message=message,
        details=details,
        now=now,
    )


def detect_stock_spikes(
    *,
    site_ids: Iterable[int] | None = None,
    day: dt.date | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Waste and count-variance spikes of every store's last complete day (nightly, after the
    roll of stock days). Returns the alerts raised or grouped."""
    now = now or timezone.now()
    raised = 0
    for site in stores(site_ids):
        target = day or site_today(site, now) - dt.timedelta(days=1)
        for detector in (WASTE_SPIKE, VARIANCE_SPIKE):
            result = detect_stock_spike(site, day=target, detector=detector, now=now)
            raised += result is not None and result[0] is not None
    return raised
