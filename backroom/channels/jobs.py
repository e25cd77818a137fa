"""Worker tasks: apply inbox messages after they are stored, and retry failed ones."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task
from huey.exceptions import TaskLockedException

from backroom.channels.intake import apply_stored, process_message, retry_failed


@db_task()
def process_inbox_message(message_id: int) -> str:
    """Apply one stored message (queued after the commit that stored it)."""
    return str(process_message(message_id).status)


@db_task()
def apply_stored_orders(limit: int = 500) -> int:
    """Apply the till orders single requests stored (queued after each commit; a task finds
    those the tasks before it left, often none)."""
    applied = 0
    while True:
        count = apply_stored(limit)
        applied += count
        if count < limit:
            return applied


@db_periodic_task(crontab(minute="*/2"))
def retry_inbox() -> int:
    """Apply again messages that failed or whose queued task was lost (one sweep at a time)."""
    try:
        with lock_task("channels-retry-inbox"):
            return retry_failed()
    except TaskLockedException:
        return 0


# Imported for discovery: sold-out tasks, the anomaly sweep.
from backroom.channels import anomaly_jobs, soldout_jobs  # noqa: E402, F401
