"""Worker tasks: the nightly forecast refresh with the morning's suggested orders, and a
refresh a planner asks for."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task
from huey.exceptions import TaskLockedException

from backroom.catalog.batch import catalog_batch
from backroom.planning.services import planning_stores, refresh_forecasts
from backroom.planning.suggestions import build_suggestions


def suggest_everywhere() -> int:
    """Today's suggested orders for every trading store (those without order guides get none)."""
    shared: dict[str, object] = {}  # recipes, items and modifiers read once for all stores
    with catalog_batch():
        return sum(len(build_suggestions(store, shared=shared)) for store in planning_stores())


@db_periodic_task(crontab(hour="4", minute="30"))
def refresh_forecasts_nightly() -> int:
    """Forecast every store from yesterday's sales, then suggest the morning's orders (04:30
    server time, after the stores' business day closes at their cut-off hour, 04:00 by
    default: at 02:30 yesterday would still be open and the forecast would end the day before
    it; one run at a time)."""
    try:
        with lock_task("planning-refresh-forecasts"):
            run = refresh_forecasts()
            suggest_everywhere()
            return run.pk
    except TaskLockedException:
        return 0


@db_task()
def refresh_forecasts_now(user_id: int) -> int:
    """A refresh started from the forecast page (recorded as that user's)."""
    from backroom.accounts.models import User

    try:
        with lock_task("planning-refresh-forecasts"):
            return refresh_forecasts(actor=User.objects.get(pk=user_id)).pk
    except TaskLockedException:
        return 0
