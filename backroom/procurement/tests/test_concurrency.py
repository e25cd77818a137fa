"""Two receipts of the same PO line at once must not over-receive (PostgreSQL row locks)."""

from __future__ import annotations

import threading

import pytest
from django.db import close_old_connections, connection

from backroom.kernel.actors import SYSTEM
from backroom.procurement import services
from backroom.procurement.models import PurchaseOrder, PurchaseOrderLine, Receipt
from backroom.procurement.tests.conftest import D
from backroom.testing.factories import make_user

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row-lock concurrency is tested on PostgreSQL"
)


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_receipts_of_one_line_at_once_receive_it_once(world, tree):
    manager = make_user("store_manager", tree.store_a)
    order = services.create_purchase_order(
        world.store,
        world.supplier,
        [services.PurchaseOrderLineInput(world.tomato.pk, D(10))],
        actor=SYSTEM,
    )
    services.approve_purchase_order(order, actor=SYSTEM)
    services.send_purchase_order(order, actor=SYSTEM)
    line = order.lines.get()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def receive() -> None:
        try:
            barrier.wait(timeout=10)
            services.receive_purchase_order(
                PurchaseOrder.objects.get(pk=order.pk),
                [services.ReceiptLineInput(line_id=line.pk, quantity=D(8))],
                actor=manager,
            )
            outcomes.append("ok")
        except Exception as error:
            outcomes.append(getattr(error, "code", repr(error)))
        finally:
            close_old_connections()

    threads = [threading.Thread(target=receive) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["ok", "over_receipt"]
    assert PurchaseOrderLine.objects.get(pk=line.pk).received_quantity == D(8)
    assert Receipt.objects.count() == 1
