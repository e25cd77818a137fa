"""Worker task for order anomalies (imported by `channels.jobs` for discovery)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task
from huey.exceptions import TaskLockedException

from backroom.channels.anomalies import detect_stuck


@db_periodic_task(crontab(minute="*"))
def detect_stuck_orders() -> int:
    """Alert on orders open beyond their state's limit (every minute, one sweep at a time)."""
    try:
        with lock_task("channels-detect-stuck-orders"):
            return detect_stuck()
    except TaskLockedException:
        return 0
