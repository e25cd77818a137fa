"""Worker tasks: SLA breach actions on overdue approval tasks (every five minutes) and the
notification emails (after each commit, and a sweep every minute)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task
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


@db_task()
def send_notification_emails(notification_ids: list[int]) -> int:
    """Send these approval notifications' emails (queued after the consumer's commit)."""
    from backroom.approvals.notifications import send_notification_emails_now

    return send_notification_emails_now(notification_ids)


@db_periodic_task(crontab(minute="*"))
def send_pending_notification_emails() -> int:
    """Emails whose job was lost (worker down after the commit); each goes at most once."""
    from backroom.approvals.notifications import send_pending_emails

    return send_pending_emails()
