"""Worker tasks: dispatch the outbox after each commit, and sweep it every minute."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task
from huey.exceptions import TaskLockedException

from backroom.events.services import dispatch_outbox, untried_events


@db_task()
def dispatch_outbox_task() -> int:
    """Dispatch pending events until none is left. If another dispatch is running, it picks
    ours up: it goes round again while rounds dispatch something, and after letting go of
    the lock it looks once more for events never tried (committed while it was finishing,
    their own task turned away by the lock). Events that failed wait for the sweep."""
    dispatched = 0
    for _look in range(2):  # the second only for events committed while the first finished
        try:
            with lock_task("events-dispatch-outbox"):
                while (count := dispatch_outbox()) > 0:
                    dispatched += count
        except TaskLockedException:
            break
        if not untried_events():
            break
    return dispatched


@db_periodic_task(crontab(minute="*"))
def sweep_outbox() -> int:
    """Catch events whose dispatch request was lost (worker down, crash after commit)."""
    return dispatch_outbox_task.call_local()
