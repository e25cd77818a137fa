"""Worker tasks of the dashboards: the nightly roll of stock days and forecast snapshots."""

import datetime as dt

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from backroom.dashboards import rollups


@db_periodic_task(crontab(hour="3", minute="15"))
def roll_dashboard_days() -> int:
    """After the nightly forecast (02:30): every store gets yesterday's stock row, and the
    forecasts of today on are recorded for "sales vs forecast"."""
    today = timezone.localdate()
    created = rollups.carry_forward(today - dt.timedelta(days=1))
    return created + rollups.snapshot_forecasts(today)


@db_periodic_task(crontab(minute="*/15"))
def evaluate_alert_rules() -> int:
    """Every 15 minutes: the scheduled alert rules that are due (docs/alerts.md)."""
    from backroom.dashboards.rules import evaluate_due_rules

    return evaluate_due_rules()
