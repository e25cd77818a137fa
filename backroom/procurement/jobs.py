"""Worker tasks: purchase-order e-mails (after each commit, and a sweep every minute)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task


@db_task()
def send_purchase_order_emails(email_ids: list[int]) -> int:
    """Send these PO e-mails (queued after the outbox consumer's or a resend's commit)."""
    from backroom.procurement.services.order_emails import send_purchase_order_emails_now

    return send_purchase_order_emails_now(email_ids)


@db_periodic_task(crontab(minute="*"))
def send_pending_purchase_order_emails() -> int:
    """E-mails whose job was lost (worker down after the commit); each goes at most once."""
    from backroom.procurement.services.order_emails import send_pending_purchase_order_emails

    return send_pending_purchase_order_emails()
