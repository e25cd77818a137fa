"""Worker tasks of the dashboards: the nightly roll of stock days and forecast snapshots."""

import datetime as dt

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from backroom.dashboards import rollups, running


@db_periodic_task(crontab(hour="5", minute="15"))
def roll_dashboard_days() -> int:
    """After the nightly forecast (04:30): every store gets yesterday's stock row, the running
    totals get the days every store has closed (`open_business_day`: before a store's cutoff
    hour its day is still open), and the forecasts of today on are recorded for "sales vs
    forecast"."""
    today = timezone.localdate()
    created = rollups.carry_forward(today - dt.timedelta(days=1))
    running.roll()  # the days every store has closed
    return created + rollups.snapshot_forecasts(today)


@db_periodic_task(crontab(minute="*/5"))
def refresh_dirty_running_totals() -> int:
    """Recompute the running totals of stores whose past days changed (read from the days
    meanwhile)."""
    return running.refresh_dirty()


@db_periodic_task(crontab(minute="*/15"))
def detect_sales_drops() -> int:
    """Every 15 minutes: each trading store's sales so far against what it usually has by
    this hour of its expected day (docs/anomalies.md)."""
    from backroom.dashboards import detectors

    return detectors.detect_sales_drops_now()


@db_periodic_task(crontab(hour="5", minute="45"))
def detect_daily_anomalies() -> int:
    """After the roll of stock days (05:15): yesterday's sales, waste, count variances and
    refunds and discounts per staff member of every store (docs/anomalies.md)."""
    from backroom.dashboards import detectors

    return detectors.detect_daily()


@db_periodic_task(crontab(minute="*/15"))
def evaluate_alert_rules() -> int:
    """Every 15 minutes: the scheduled alert rules that are due (docs/alerts.md)."""
    from backroom.dashboards.rules import evaluate_due_rules

    return evaluate_due_rules()
