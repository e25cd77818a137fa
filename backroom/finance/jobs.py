"""Worker schedules: each store's sales and cost of sales of recent days; the waiting queue."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task


@db_periodic_task(crontab(minute="15"))
def post_recent_sales() -> int:
    """Hourly: sales and cost of sales of the last three business days of every store (late
    orders and refunds top them up)."""
    from backroom.finance.services.automatic import post_recent_sales

    return post_recent_sales(days=3)


@db_periodic_task(crontab(minute="*/10"))
def retry_pending_postings() -> int:
    from backroom.finance.services.automatic import retry_pending

    return retry_pending()
