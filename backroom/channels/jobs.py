"""Worker tasks: apply inbox messages after they are stored, and retry failed ones."""

import time

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task, lock_task
from huey.exceptions import TaskLockedException

from backroom.channels.intake import apply_stored, process_message, retry_failed


@db_task()
def process_inbox_message(message_id: int) -> str:
    """Apply one stored message (queued after the commit that stored it)."""
    return str(process_message(message_id).status)


QUEUED = "channels.apply-stored.queued"


def queue_apply_stored() -> None:
    """After a commit that stored till orders: queue `apply_stored_orders`, unless one is
    queued already and has not begun. Its beginning clears the mark before it reads the
    stored orders, so it finds these; after that, the next commit queues another."""
    if HUEY.put_if_empty(QUEUED, "1"):
        apply_stored_orders()


@db_task()
def apply_stored_orders(limit: int = 500) -> int:
    """Apply the till orders single requests stored, after a short wait that lets the orders
    arriving meanwhile join them (`CHANNELS_APPLY_GATHER_SECONDS`): set-wise, the fixed cost
    of an application is shared."""
    time.sleep(settings.CHANNELS_APPLY_GATHER_SECONDS)
    HUEY.delete(QUEUED)
    applied = 0
    while True:
        count = apply_stored(limit)
        applied += count
        if count < limit:
            return applied


@db_periodic_task(crontab(minute="*/2"))
def retry_inbox() -> int:
    """Apply again messages that failed or whose queued task was lost (one sweep at a time)."""
    HUEY.delete(QUEUED)  # a mark whose task was lost would hold back every later one
    try:
        with lock_task("channels-retry-inbox"):
            return retry_failed()
    except TaskLockedException:
        return 0


# Imported for discovery: sold-out tasks, the anomaly sweep.
from backroom.channels import anomaly_jobs, soldout_jobs  # noqa: E402, F401
