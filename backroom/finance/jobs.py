"""Worker schedules: each store's cost of sales for recent business days; the waiting queue."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task


@db_periodic_task(crontab(minute="15"))
def post_recent_sales_cost() -> int:
    """Hourly: the last three business days of every store (late orders top them up)."""
    from backroom.finance.services.automatic import post_recent_sales_cost

    return post_recent_sales_cost(days=3)


@db_periodic_task(crontab(minute="*/10"))
def retry_pending_postings() -> int:
    from backroom.finance.services.automatic import retry_pending

    return retry_pending()
