"""Worker tasks for sold out and outbound calls (imported by `channels.jobs` for discovery)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task
from huey.exceptions import TaskLockedException

from backroom.channels import outbound, soldout
from backroom.channels.models import SoldOutState
from backroom.org.models import Site


@db_task()
def recompute_store_sold_out(site_id: int) -> int:
    """Recount one store's menu after stock moved there; the number of items that changed."""
    return len(soldout.recompute_store(site_id))


@db_task()
def send_outbound_call(call_id: int) -> str:
    """One attempt at a call right after the commit that recorded it (if still due)."""
    call = outbound.send_call(call_id)
    return call.status if call is not None else "not_due"


@db_periodic_task(crontab(minute="*"))
def send_due_outbound() -> int:
    """Retries whose backoff has passed, and calls whose task was lost (one sweep at a time;
    each call is claimed, so overlapping sweeps would be safe too)."""
    try:
        with lock_task("channels-send-due-outbound"):
            return outbound.send_due()
    except TaskLockedException:
        return 0


@db_periodic_task(crontab(minute="*/10"))
def refresh_sold_out() -> int:
    """Recount every store with channel accounts or sold-out states: reservations that expire
    move nothing, and a recount queued after a commit may have been lost."""
    try:
        with lock_task("channels-refresh-sold-out"):
            site_ids = set(
                Site.objects.filter(node__kind="store", channel_accounts__isnull=False)
                .values_list("pk", flat=True)
                .distinct()
            ) | set(SoldOutState.objects.values_list("site_id", flat=True).distinct())
            return sum(len(soldout.recompute_store(site_id)) for site_id in sorted(site_ids))
    except TaskLockedException:
        return 0
