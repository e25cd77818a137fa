"""Worker tasks: dispatch the outbox after each commit, and sweep it every minute."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task
from huey.exceptions import TaskLockedException

from backroom.events.services import dispatch_outbox


@db_task()
def dispatch_outbox_task() -> int:
    """Dispatch pending events. If another dispatch is running, it (or the sweep) picks ours up."""
    try:
        with lock_task("events-dispatch-outbox"):
            return dispatch_outbox()
    except TaskLockedException:
        return 0


@db_periodic_task(crontab(minute="*"))
def sweep_outbox() -> int:
    """Catch events whose dispatch request was lost (worker down, crash after commit)."""
    return dispatch_outbox_task.call_local()
