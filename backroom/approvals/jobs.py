"""Worker tasks: apply SLA breach actions to overdue approval tasks every five minutes."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task
from huey.exceptions import TaskLockedException

from backroom.approvals.runtime import escalate_overdue


@db_periodic_task(crontab(minute="*/5"))
def escalate_overdue_tasks() -> int:
    """Remind, escalate, auto-approve or auto-reject overdue tasks (one sweep at a time)."""
    try:
        with lock_task("approvals-escalate-overdue"):
            return escalate_overdue()
    except TaskLockedException:
        return 0
