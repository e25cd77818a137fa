"""Each external order depletes exactly once, however its events are replayed or reordered
(hypothesis). Each example runs in a savepoint that is rolled back."""

from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backroom.channels import intake, services
from backroom.channels.exceptions import OrderNotReceived
from backroom.channels.models import Order, OrderLine
from backroom.channels.tests.conftest import placed, status_event
from backroom.inventory.ledger_checks import balance_differences, valuation_differences
from backroom.inventory.models import Reservation, StockMove
from backroom.kernel.actors import SYSTEM


def _examples(count: int) -> settings:
    """Hypothesis settings for examples that each use the database (no deadline)."""
    return settings(
        max_examples=count,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


FORWARD = ["accepted", "preparing", "ready", "delivering", "completed"]
event_names = st.lists(st.sampled_from(["placed", *FORWARD, "cancelled"]), min_size=1, max_size=14)


@pytest.mark.django_db
@_examples(40)
@given(
    sequence=event_names,
    account_name=st.sampled_from(["meituan", "own_app"]),
    lines=st.integers(1, 3),
)
def test_each_order_depletes_exactly_once_whatever_the_order_of_its_events(
    menu, sequence, account_name, lines
):
    account = getattr(menu, account_name)
    with transaction.atomic():
        services.save_mapping(
            account=menu.meituan, external_code="NOODLES", item=menu.noodles, actor=SYSTEM
        )
        flour_before = menu.on_hand(menu.flour)
        # Every event of the sequence, plus the order itself and its completion at the end if
        # the sequence lacks them (platforms resend), each under its own key; repeats replay.
        names = [*sequence, "placed", "completed"]
        events = {
            "placed": placed("X1", lines=[("NOODLES", "1")] * lines),
            **{name: status_event("X1", name) for name in [*FORWARD, "cancelled"]},
        }
        deferred = []
        for name in names:
            try:
                intake.apply_event(account, events[name])
            except OrderNotReceived:
                deferred.append(name)  # the worker retries it later
        for name in deferred:
            intake.apply_event(account, events[name])
        order = Order.objects.get(external_id="X1")
        history = {row.event_key: row for row in order.history.all()}
        completed = history["completed"].is_applied
        cancelled = "cancelled" in history and history["cancelled"].is_applied
        sale_moves = StockMove.objects.filter(source_id=str(order.pk), reason="sale")
        # Depleted once: one move per ingredient (the lines summed) if completion was ever
        # applied.
        assert sale_moves.count() == (3 if completed else 0)
        assert sale_moves.values("idempotency_key").distinct().count() == sale_moves.count()
        assert order.status == ("cancelled" if cancelled else "completed")
        used = Decimal("0.2") * lines
        if order.status == "completed":
            assert menu.on_hand(menu.flour) == flour_before - used
        elif account.after_depletion == "return" or not completed:
            assert menu.on_hand(menu.flour) == flour_before
        else:  # made, then thrown away
            assert menu.on_hand(menu.flour) == flour_before - used
            assert StockMove.objects.filter(source_id=str(order.pk), reason="waste").count() == 3
        # Nothing stays reserved once the order is closed; a reservation is fulfilled only
        # by a completion.
        statuses = set(
            Reservation.objects.filter(source_id=str(order.pk)).values_list("status", flat=True)
        )
        assert "active" not in statuses
        assert balance_differences() == [] and valuation_differences() == []
        transaction.set_rollback(True)


till_steps = st.lists(
    st.sampled_from(["replay", "worker", "sweep", "refund", "cancel"]), min_size=0, max_size=8
)


@pytest.mark.django_db
@_examples(30)
@given(steps=till_steps, quantity=st.integers(1, 3))
def test_a_stored_till_order_depletes_exactly_once_whatever_comes_before_the_worker(
    menu, steps, quantity
):
    """A till's single order is stored by its request (decision 0012); replays, the worker,
    the sweep and status changes may come in any order and any number of times."""
    import datetime as dt
    import uuid

    from django.utils import timezone

    from backroom.channels.models import InboxMessage
    from backroom.channels.pos import TillLine, TillOrder, submit_orders
    from backroom.kernel.exceptions import DomainError

    with transaction.atomic():
        flour_before = menu.on_hand(menu.flour)
        till = TillOrder(
            uuid=uuid.uuid4(),
            store_id=menu.pos.site_id,
            placed_at=timezone.now(),
            lines=[TillLine(sku="NOODLES", quantity=Decimal(quantity), unit_price=Decimal(18))],
        )
        [result] = submit_orders([till], actor=SYSTEM, defer=True)
        order = result.order
        for step in [*steps, "worker"]:
            if step == "replay":
                [again] = submit_orders([till], actor=SYSTEM, defer=True)
                assert again.replayed and again.order.pk == order.pk
            elif step == "worker":
                intake.apply_stored()
            elif step == "sweep":
                InboxMessage.objects.filter(order=order).update(
                    received_at=timezone.now() - dt.timedelta(minutes=5)
                )
                intake.retry_failed()
            else:
                status = "refunded" if step == "refund" else "cancelled"
                try:
                    intake.change_status(order, status=status, actor=SYSTEM, key=step)
                except DomainError:
                    pass  # not allowed from where the order is (a sale already refunded)
        order.refresh_from_db()
        sale_moves = StockMove.objects.filter(source_id=str(order.pk), reason="sale")
        assert sale_moves.count() == 3  # one move per ingredient (dough's flour and salt, beef)
        assert InboxMessage.objects.get(order=order).status == "processed"
        assert order.is_depleted
        used = Decimal("0.2") * quantity
        if order.status == "completed":
            assert menu.on_hand(menu.flour) == flour_before - used
        assert not balance_differences() and not valuation_differences()
        transaction.set_rollback(True)


batch_orders = st.lists(
    st.tuples(st.integers(1, 3), st.booleans(), st.integers(0, 2 * 24 * 60)),
    min_size=1,
    max_size=8,
)


@pytest.mark.django_db
@_examples(25)
@given(orders=batch_orders, replays=st.integers(0, 2))
def test_a_batch_takes_what_its_orders_would_one_by_one_once_whatever_is_replayed(
    menu, orders, replays
):
    """A till batch's ingredients are summed per business day and quarter hour (decision
    0017). Its orders (bowls, extra beef, minutes after the start) take from stock exactly
    what they would one by one, once, however often the batch is sent."""
    import datetime as dt
    import uuid

    from backroom.channels.pos import TillLine, TillModifier, TillOrder, submit_orders

    start = dt.datetime.fromisoformat("2026-12-03T00:00:00+08:00")
    with transaction.atomic():
        before = {item: menu.on_hand(item) for item in (menu.flour, menu.salt, menu.beef)}
        tills = [
            TillOrder(
                uuid=uuid.uuid4(),
                store_id=menu.pos.site_id,
                placed_at=start + dt.timedelta(minutes=minutes),
                lines=[
                    TillLine(
                        sku="NOODLES",
                        quantity=Decimal(bowls),
                        unit_price=Decimal(18),
                        modifiers=[TillModifier("extra-beef")] if extra else [],
                    )
                ],
            )
            for bowls, extra, minutes in orders
        ]
        for _ in range(1 + replays):
            results = submit_orders(tills, actor=SYSTEM)
        bowls = sum(bowls for bowls, _extra, _minutes in orders)
        extra = sum(bowls for bowls, extra, _minutes in orders if extra)
        assert menu.on_hand(menu.flour) == before[menu.flour] - Decimal("0.2") * bowls
        assert menu.on_hand(menu.salt) == before[menu.salt] - Decimal("0.0025") * bowls
        assert menu.on_hand(menu.beef) == (
            before[menu.beef] - Decimal("0.1") * bowls - Decimal("0.05") * extra
        )
        placed = [result.order for result in results]
        assert all(Order.objects.get(pk=order.pk).is_depleted for order in placed)
        windows = {(minutes // 15) for _bowls, _extra, minutes in orders}
        batch = min(order.pk for order in placed) if len(orders) > 1 else None
        assert StockMove.objects.filter(reason="sale").count() == (3 * len(windows) if batch else 3)
        assert set(
            OrderLine.objects.filter(order__in=placed).values_list("sale_batch", flat=True)
        ) == {batch}
        assert balance_differences() == [] and valuation_differences() == []
        transaction.set_rollback(True)
