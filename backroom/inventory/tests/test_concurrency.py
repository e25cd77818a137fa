"""Two processes consume the last units of an item at once (PostgreSQL row locks).

Each process opens its own connection to the test database. The test holds the valuation row
lock until both processes are about to post, so both really wait on the same lock.
"""

import multiprocessing
import time
from decimal import Decimal

import pytest
from django.db import connection, transaction

from backroom.inventory import services
from backroom.inventory.ledger_checks import balance_differences, valuation_differences
from backroom.inventory.models import ItemValuation, StockMove
from backroom.inventory.tests.concurrency_worker import consume_three
from backroom.kernel.actors import SYSTEM

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row-lock concurrency is tested on PostgreSQL"
)


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_processes_consume_the_last_units_exactly_one_succeeds(stock):
    services.receive(
        item=stock.flour,
        location=stock.walk_in,
        quantity=Decimal(5),
        unit_cost=Decimal(2),
        key="opening",
        actor=SYSTEM,
    )
    context = multiprocessing.get_context("spawn")
    ready = context.Semaphore(0)
    results = context.Queue()
    name = connection.settings_dict["NAME"]
    workers = [
        context.Process(
            target=consume_three,
            args=(name, stock.flour.pk, stock.walk_in.pk, f"worker-{n}", ready, results),
        )
        for n in range(2)
    ]
    with transaction.atomic():
        # Hold the row lock both workers need, so they queue up on it together.
        ItemValuation.objects.select_for_update().get(item=stock.flour, location=stock.walk_in)
        for worker in workers:
            worker.start()
        for _ in workers:
            assert ready.acquire(timeout=30)
        time.sleep(0.5)  # both are now waiting on the lock
    outcomes = sorted(results.get(timeout=30) for _ in workers)
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    assert outcomes == [("insufficient_stock", "1.000000"), ("ok", ["-3.000000"])]
    assert ItemValuation.objects.get(item=stock.flour, location=stock.walk_in).quantity == 2
    assert StockMove.objects.filter(reason="consumption").count() == 1
    assert balance_differences() == []
    assert valuation_differences() == []
