"""A till's single order is stored in its request and applied by the worker (decision 0012):
the task queued after commit applies it as a batch would, anything that changes the order first
applies it, a lost task is made up by the inbox sweep, and each order is applied once however
many workers run (PostgreSQL, threads)."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from backroom.audit.models import AuditEntry
from backroom.channels import depletion, intake, jobs
from backroom.channels.models import InboxMessage, Order, OrderHistory, OrderLine
from backroom.channels.pos import TillLine, TillModifier, TillOrder, submit_orders
from backroom.channels.tests.conftest import D
from backroom.channels.tests.test_api import till_order
from backroom.events.models import OutboxEvent
from backroom.inventory.models import Reservation
from backroom.kernel.actors import SYSTEM
from backroom.testing.factories import make_user, token_client_for

PLACED_AT = dt.datetime(2026, 12, 4, 12, 30, tzinfo=dt.UTC)


def _till(store_id: int, *, sku: str = "NOODLES", quantity: str = "1") -> TillOrder:
    return TillOrder(
        uuid=uuid.uuid4(),
        store_id=store_id,
        placed_at=PLACED_AT,
        lines=[
            TillLine(
                sku=sku,
                quantity=D(quantity),
                unit_price=D("18.00"),
                modifiers=[TillModifier(code="extra-beef")],
            )
        ],
    )


def _moves(order: Order) -> list[tuple[int, int, D]]:
    """The sale moves holding the order's ingredients: its own, or its batch's."""
    return sorted(
        depletion.sale_moves(order, order.lines.all()).values_list(
            "item_id", "location_id", "quantity"
        )
    )


def _stored(store_id: int, actor, **kwargs) -> Order:
    [result] = submit_orders([_till(store_id, **kwargs)], actor=actor, defer=True)
    return result.order


@pytest.mark.django_db
def test_the_task_queued_after_commit_applies_the_order_as_a_batch_would(
    tree, menu, django_capture_on_commit_callbacks
):
    staff = make_user("store_staff", tree.store_a)
    client = token_client_for(make_user("hq_admin", tree.group), "integration", tree.store_a)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            "/api/v1/channels/pos/orders",
            till_order(tree.store_a.site.pk),
            content_type="application/json",
        )
    assert response.status_code == 201, response.content
    # The request queued the worker's task and published nothing (no outbox dispatch of its
    # own); what follows the task's callbacks queued in turn.
    assert callbacks[0] is intake._queue_stored
    deferred = Order.objects.get(pk=response.json()["order"]["id"])
    # The same order applied in its request (a batch of one, not deferred).
    [applied] = submit_orders([_till(tree.store_a.site.pk)], actor=staff)
    applied.order.refresh_from_db()
    assert deferred.is_depleted and applied.order.is_depleted
    assert _moves(deferred) == _moves(applied.order) and len(_moves(deferred)) == 3
    for order in (deferred, applied.order):
        line = OrderLine.objects.get(order=order)
        assert (line.is_depleted, line.depleted_quantity) == (True, D(1))
        history = OrderHistory.objects.get(order=order)
        assert (history.to_status, history.event_key, history.is_applied) == (
            "completed",
            "pos:placed",
            True,
        )
        assert history.event["order"]["external_id"] == order.external_id
        assert AuditEntry.objects.filter(action="channels.order.receive", target_id=str(order.pk))
    assert OutboxEvent.objects.filter(event_type="channels.order.received").count() == 2
    assert OutboxEvent.objects.filter(event_type="channels.order.depleted").count() == 2
    assert set(InboxMessage.objects.values_list("status", flat=True)) == {"processed"}
    assert intake.apply_stored() == 0  # nothing left, nothing applied twice
    assert len(_moves(deferred)) == 3


@pytest.mark.django_db
def test_one_task_is_queued_for_the_orders_stored_before_it_begins(
    tree, menu, django_capture_on_commit_callbacks
):
    HUEY.put_if_empty(jobs.QUEUED, "1")  # a task is queued and has not begun
    try:
        with django_capture_on_commit_callbacks(execute=True):
            first = _stored(tree.store_a.site.pk, SYSTEM)
        with django_capture_on_commit_callbacks(execute=True):
            second = _stored(tree.store_a.site.pk, SYSTEM)
        # No task of their own: the queued one finds them when it begins.
        assert InboxMessage.objects.filter(status="stored").count() == 2
        assert jobs.apply_stored_orders.call_local() == 2
        assert HUEY.get(jobs.QUEUED, peek=True) is None  # the next commit queues again
        with django_capture_on_commit_callbacks(execute=True):
            third = _stored(tree.store_a.site.pk, SYSTEM)
        for order in (first, second, third):
            order.refresh_from_db()
            assert order.is_depleted and len(_moves(order)) == 3
        # The first two were applied together: their ingredients summed in one batch's moves.
        assert _moves(first) == _moves(second) != _moves(third)
        assert {line.sale_batch for line in first.lines.all()} == {min(first.pk, second.pk)}
        assert {line.sale_batch for line in third.lines.all()} == {None}
    finally:
        HUEY.delete(jobs.QUEUED)


@pytest.mark.django_db
def test_a_refund_before_the_worker_applies_the_stored_order_first(tree, menu):
    beef = menu.on_hand(menu.beef)
    order = _stored(tree.store_a.site.pk, SYSTEM)
    assert menu.on_hand(menu.beef) == beef and not _moves(order)
    applied = intake.change_status(order, status="refunded", actor=SYSTEM, key="refund-1")
    assert applied.order is not None and applied.order.status == "refunded"
    # Depleted once (by the refund's own lock), then its stock handled by the account's policy.
    assert len(_moves(order)) == 3
    assert InboxMessage.objects.get(order=order).status == "processed"
    assert list(
        OrderHistory.objects.filter(order=order).order_by("id").values_list("to_status", flat=True)
    ) == ["completed", "refunded"]
    assert intake.apply_stored() == 0
    assert len(_moves(order)) == 3


@pytest.mark.django_db
def test_under_the_orders_lock_a_stored_order_is_applied_too(tree, menu, monkeypatch):
    """The safety net: a change that finds the order still stored once it holds its lock."""
    order = _stored(tree.store_a.site.pk, SYSTEM)
    monkeypatch.setattr(intake, "_apply_stored_first", lambda account, external_id: None)
    applied = intake.change_status(order, status="refunded", actor=SYSTEM, key="refund-2")
    assert applied.order is not None and applied.order.status == "refunded"
    assert len(_moves(order)) == 3
    assert InboxMessage.objects.get(order=order).status == "processed"


@pytest.mark.django_db
def test_the_sweep_applies_a_stored_order_whose_task_was_lost(tree, menu):
    order = _stored(tree.store_a.site.pk, SYSTEM)
    assert intake.retry_failed() == 0  # too young: its task may still be on its way
    InboxMessage.objects.filter(order=order).update(
        received_at=timezone.now() - dt.timedelta(minutes=5)
    )
    assert intake.retry_failed() == 1
    order.refresh_from_db()
    assert order.is_depleted and len(_moves(order)) == 3
    assert intake.apply_stored() == 0 and intake.retry_failed() == 0
    assert len(_moves(order)) == 3


@pytest.mark.django_db
def test_an_unknown_sku_is_kept_flagged_and_depletes_once_mapped(tree, menu):
    order = _stored(tree.store_a.site.pk, SYSTEM, sku="MYSTERY")
    assert intake.apply_stored() == 1
    order.refresh_from_db()
    assert order.unmapped_lines == 1 and not order.is_depleted and not _moves(order)
    assert OrderHistory.objects.filter(order=order).count() == 1


@pytest.mark.django_db
def test_a_reserving_app_order_is_applied_in_its_request(tree, menu):
    till = _till(tree.store_a.site.pk)
    till.channel, till.status = "own_app", "accepted"
    [result] = submit_orders([till], actor=SYSTEM, defer=True)
    result.order.refresh_from_db()
    assert result.order.is_reserved  # an acceptance reserves at once: oversell protection
    assert not InboxMessage.objects.filter(status="stored").exists()


@pytest.mark.postgres_only
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_workers_at_once_apply_each_stored_order_once(tree, menu, monkeypatch):
    monkeypatch.setattr(intake, "_queue_stored", lambda: None)  # the workers below take them
    orders = [_stored(tree.store_a.site.pk, SYSTEM, quantity="0.1") for _ in range(24)]
    barrier = threading.Barrier(4)
    errors: list[str] = []
    counts: list[int] = []

    def work(refund: Order | None) -> None:
        try:
            barrier.wait(timeout=30)
            if refund is None:
                counts.append(intake.apply_stored(limit=5))
                counts.append(intake.apply_stored(limit=5))
            else:  # a status change racing the workers applies its order itself
                intake.change_status(refund, status="refunded", actor=SYSTEM, key="r")
        except Exception as error:  # reported below
            errors.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(None,)) for _ in range(3)]
    threads.append(threading.Thread(target=work, args=(orders[0],)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, "\n".join(errors)
    intake.apply_stored()  # what the workers' limits left
    assert not InboxMessage.objects.exclude(status="processed").exists()
    assert 10 <= sum(counts) <= len(orders)  # the workers applied some, none twice
    for order in orders:
        assert len(_moves(order)) == 3, order.pk
    assert OrderHistory.objects.filter(event_key="pos:placed").count() == len(orders)


@pytest.mark.postgres_only
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("channel", "status"), [("pos", "completed"), ("own_app", "accepted")])
def test_a_till_posting_the_same_uuid_twice_at_once_gets_one_order(tree, menu, channel, status):
    # A till retrying while its first request is still running: one order, one message and
    # one depletion or reservation; the loser is answered with the winner's order (the till
    # order is unique by its UUID only, its message by its order; decision 0014).
    till = _till(tree.store_a.site.pk)
    till.channel, till.status = channel, status
    barrier = threading.Barrier(2)
    errors: list[str] = []
    results: list = []

    def work() -> None:
        try:
            barrier.wait(timeout=30)
            results.extend(submit_orders([till], actor=SYSTEM))
        except Exception as error:  # reported below
            errors.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, "\n".join(errors)
    [order] = Order.objects.filter(pos_uuid=till.uuid)
    assert sorted(result.replayed for result in results) == [False, True]
    assert {result.order.pk for result in results} == {order.pk}
    [message] = InboxMessage.objects.filter(external_order_id=str(till.uuid))
    assert (message.order_id, message.status) == (order.pk, "processed")
    assert OrderHistory.objects.filter(order=order).count() == 1
    if status == "completed":
        assert len(_moves(order)) == 3
    else:
        reserved = Reservation.objects.filter(source_id=str(order.pk), status="active")
        assert order.is_reserved and reserved.count() == 3


@pytest.mark.django_db
def test_a_stored_order_reads_no_recipes_and_a_new_uuid_no_orders(tree, menu):
    # The request only stores the order: the catalogue's stamp (what recipe explosions are
    # cached against) is the worker's to read, and a UUID not posted before costs one
    # one-column read of the orders.
    with CaptureQueriesContext(connection) as captured:
        order = _stored(tree.store_a.site.pk, SYSTEM)
    statements = [query["sql"] for query in captured.captured_queries]
    assert not [sql for sql in statements if "catalog_unit" in sql]
    reads = [sql for sql in statements if sql.startswith("SELECT") and "channels_order" in sql]
    assert len(reads) == 1 and reads[0].startswith('SELECT "channels_order"."id" AS "pk" FROM'), (
        reads
    )
    again = _till(tree.store_a.site.pk)
    again.uuid = order.pos_uuid
    [replay] = submit_orders([again], actor=SYSTEM, defer=True)
    assert replay.replayed and replay.order.pk == order.pk
