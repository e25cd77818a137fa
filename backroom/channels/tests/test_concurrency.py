"""Two online orders for the last portions are accepted at once (PostgreSQL row locks): under a
forbid-negatives item class exactly one reserves its ingredients, the other is refused. Two till
batches for the last portions at once never take more than there is.

Each acceptance runs in its own process with its own connection. The test holds the first
ingredient's valuation lock (reservations lock items in id order) until both processes are
about to accept, so both really wait on the same lock.
"""

import multiprocessing
import time

import pytest
from django.db import connection, transaction

from backroom.channels import intake
from backroom.channels.models import Order
from backroom.channels.tests.concurrency_worker import accept_order, submit_batch
from backroom.channels.tests.conftest import D, placed
from backroom.inventory.models import ItemValuation, Reservation, StockMove
from backroom.inventory.services.reservations import availability

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row-lock concurrency is tested on PostgreSQL"
)


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_orders_for_the_last_portions_never_both_reserve(menu):
    # 10 kg of flour: 30 bowls take 6 kg, so only one of two such orders can be promised.
    orders = [
        intake.apply_event(menu.own_app, placed(f"RACE{n}", lines=[("NOODLES", "30")])).order
        for n in range(2)
    ]
    context = multiprocessing.get_context("spawn")
    ready = context.Semaphore(0)
    results = context.Queue()
    name = connection.settings_dict["NAME"]
    workers = [
        context.Process(target=accept_order, args=(name, order.pk, ready, results))
        for order in orders
    ]
    _start_waiting_on_the_first_ingredient(menu, workers, ready)
    outcomes = sorted(results.get(timeout=60) for _ in workers)
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    assert outcomes == [("insufficient_stock", ""), ("ok", "accepted")]
    statuses = sorted(
        Order.objects.filter(pk__in=[o.pk for o in orders]).values_list("status", flat=True)
    )
    assert statuses == ["accepted", "received"]
    site = menu.walk_in.site
    flour = availability(site.pk, [menu.flour.pk])[menu.flour.pk]
    assert flour.reserved == D(6) and flour.available == D(4)
    assert Reservation.objects.filter(status="active").count() == 3


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_till_batches_for_the_last_portions_never_take_more_than_there_is(menu):
    """Two batches of three 10-bowl orders at once: 2 kg of flour and 1 kg of beef an order,
    10 kg and 5 kg in stock (forbid negatives), so five orders fit. The batch that locks first
    posts its sums (decision 0017); the other's sums are refused and its orders post one by
    one: two fit, one is refused. Nothing goes negative."""
    context = multiprocessing.get_context("spawn")
    ready = context.Semaphore(0)
    results = context.Queue()
    name = connection.settings_dict["NAME"]
    workers = [
        context.Process(
            target=submit_batch, args=(name, menu.pos.site_id, [10, 10, 10], ready, results)
        )
        for _ in range(2)
    ]
    _start_waiting_on_the_first_ingredient(menu, workers, ready)
    outcomes = [row for _ in workers for row in results.get(timeout=120)]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    assert sorted(depleted for depleted, _error in outcomes) == [False] + [True] * 5, outcomes
    assert [bool(error) for depleted, error in outcomes if not depleted] == [True]
    assert menu.on_hand(menu.flour) == D(0) and menu.on_hand(menu.beef) == D(0)
    assert StockMove.objects.filter(source_type="channels.orders").count() == 3
    assert Order.objects.filter(is_depleted=True).count() == 5


def _start_waiting_on_the_first_ingredient(menu, workers, ready):
    """Start the processes while the test holds the lock of the first ingredient's valuation
    (the ledger and reservations lock items in id order); let go once both wait on it."""
    first = min(menu.flour.pk, menu.salt.pk, menu.beef.pk)
    with transaction.atomic():
        ItemValuation.objects.select_for_update().get(item_id=first, location=menu.walk_in)
        for worker in workers:
            worker.start()
        for _ in workers:
            assert ready.acquire(timeout=60)
        time.sleep(1.0)  # both are now waiting on the lock
