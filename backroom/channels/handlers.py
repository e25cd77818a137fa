"""Channels' reactions to other apps' events.

Stock moved or reservations changed at a store → recount its sold-out panel after commit.
The subscribers run in-process, inside the posting's transaction, and only note the store:
one recount per store per transaction however many documents it posted (a 1,000-order till
batch recounts once), queued as a job after the commit (dropped with a rollback). A lost job
is caught up by the periodic `soldout_jobs.refresh_sold_out`.

A code newly mapped on a platform account for an item sold out at its store is sent to the
platform at once.

A store accepting, cancelling or marking ready a Meituan or Ele.me order (through our API or
the order board) records the call that tells the platform, in the same transaction; it is sent
after the commit (`channels/order_calls.py`).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from backroom.channels import order_calls, soldout
from backroom.channels.models import ChannelAccount, Order
from backroom.events.models import OutboxEvent
from backroom.events.services import subscribe
from backroom.inventory.events import InventoryEvent
from backroom.inventory.models import Location
from backroom.org.models import Site


class _Batch:
    """The stores to recount after one transaction commits; recounted once."""

    def __init__(self) -> None:
        self.site_ids: set[int] = set()
        self.is_done = False


class _RecountAfterCommit:
    """An on-commit callback of a batch. One is registered per savepoint level that moved
    stock (a rolled-back savepoint drops its own); the first to run recounts the whole batch
    and the others find it done."""

    def __init__(self, batch: _Batch) -> None:
        self.batch = batch

    def __call__(self) -> None:
        if self.batch.is_done:
            return
        self.batch.is_done = True
        from backroom.channels.soldout_jobs import recompute_store_sold_out

        stores = Site.objects.filter(pk__in=self.batch.site_ids, node__kind="store").values_list(
            "pk", flat=True
        )
        for site_id in sorted(stores):
            recompute_store_sold_out(site_id)


def schedule_recount(site_ids: set[int]) -> None:
    """Recount these stores after the current transaction commits (at once outside one)."""
    if not site_ids:
        return
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        now = _Batch()
        now.site_ids |= site_ids
        _RecountAfterCommit(now)()
        return
    shared: _Batch | None = None
    level = set(connection.savepoint_ids)
    for savepoints, callback, *_rest in connection.run_on_commit:
        if isinstance(callback, _RecountAfterCommit) and not callback.batch.is_done:
            shared = callback.batch
            if set(savepoints) == level:
                shared.site_ids |= site_ids
                return  # this level already has its callback
    batch = shared or _Batch()
    batch.site_ids |= site_ids
    transaction.on_commit(_RecountAfterCommit(batch), robust=True)


def _sites_of(outbox_event: OutboxEvent) -> set[int]:
    payload: dict[str, Any] = outbox_event.payload
    if payload.get("site_id"):
        return {int(payload["site_id"])}
    locations = payload.get("locations") or []
    if locations:
        return set(
            Location.objects.filter(pk__in=locations).values_list("site_id", flat=True).distinct()
        )
    if outbox_event.org_node_id is not None:
        return set(
            Site.objects.filter(node_id=outbox_event.org_node_id).values_list("pk", flat=True)
        )
    return set()


@subscribe(InventoryEvent.STOCK_POSTED, is_async=False, name="channels.soldout.stock_posted")
@subscribe(
    InventoryEvent.RESERVATION_CREATED, is_async=False, name="channels.soldout.reservation_created"
)
@subscribe(
    InventoryEvent.RESERVATION_ENDED, is_async=False, name="channels.soldout.reservation_ended"
)
def recount_after_stock_change(outbox_event: OutboxEvent) -> None:
    """Note the store(s) whose stock or reservations changed (see the module)."""
    schedule_recount(_sites_of(outbox_event))


@subscribe("channels.mapping.saved", is_async=False, name="channels.soldout.mapping_saved")
def tell_platform_of_new_mapping(outbox_event: OutboxEvent) -> None:
    """A newly mapped item already sold out at the store is sold out on that platform too."""
    payload: dict[str, Any] = outbox_event.payload
    if payload.get("kind") != "item" or not payload.get("item_id"):
        return
    account = ChannelAccount.objects.filter(pk=payload["account_id"]).first()
    if account is not None:
        soldout.resend_for_mapping(account, int(payload["item_id"]))


@subscribe("channels.order.status_changed", is_async=False, name="channels.platform.order_status")
def tell_platform_of_order_status(outbox_event: OutboxEvent) -> None:
    """A store's decision on a platform order (not the platform's own push) is sent to it."""
    payload: dict[str, Any] = outbox_event.payload
    event_key = str(payload.get("event_key") or "")
    if not event_key.startswith(order_calls.STORE_DECISION_PREFIX):
        return  # the platform's own push, a till: nothing to tell (and no query)
    order = Order.objects.select_related("account").filter(pk=payload["order_id"]).first()
    if order is not None:
        order_calls.queue_for_status_change(
            order,
            from_status=str(payload["from_status"]),
            to_status=str(payload["to_status"]),
            event_key=event_key,
        )
