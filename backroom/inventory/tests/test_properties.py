"""Ledger invariants after any sequence of operations (hypothesis).

- on hand and value per item × location × lot = Σ moves (the rebuild finds no difference);
- FEFO never takes an expired lot while a valid one has stock, and takes lots in expiry order;
- a replay with a used key changes nothing.
Each example runs in a savepoint that is rolled back, so examples do not see each other.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backroom.inventory import services
from backroom.inventory.exceptions import InsufficientStock
from backroom.inventory.ledger import fefo_key
from backroom.inventory.ledger_checks import balance_differences, valuation_differences
from backroom.inventory.models import Lot, StockBalance, StockMove
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import Conflict

quantities = st.decimals(min_value=Decimal("0.5"), max_value=Decimal(40), places=1)
costs = st.decimals(min_value=Decimal(0), max_value=Decimal(20), places=2)
expiries = st.sampled_from([None, -3, 1, 4, 10])
operation = st.one_of(
    st.tuples(
        st.just("receive"),
        st.integers(0, 1),
        st.integers(0, 2),
        quantities,
        costs,
        st.integers(0, 3),
        expiries,
    ),
    st.tuples(st.just("consume"), st.integers(0, 1), st.integers(0, 2), quantities),
    st.tuples(st.just("adjust"), st.integers(0, 1), st.integers(0, 2), quantities, st.booleans()),
    st.tuples(
        st.just("transfer"), st.integers(0, 1), st.integers(0, 2), st.integers(0, 2), quantities
    ),
    st.tuples(st.just("reverse"), st.integers(0, 10_000)),
    st.tuples(st.just("replay"), st.integers(0, 10_000)),
)


def _check_fefo(result, location, today):
    """The lots taken are the usable lots in FEFO order, none expired."""
    taken = [m for m in result.moves if m.quantity < 0 and m.location_id == location.pk]
    lots = [Lot.objects.get(pk=m.lot_id) if m.lot_id else None for m in taken]
    for lot in lots:
        assert lot is None or lot.expiry_date is None or lot.expiry_date >= today
    keys = [fefo_key(lot) for lot in lots]
    assert keys == sorted(keys)


@pytest.mark.django_db
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(operation, min_size=1, max_size=12))
def test_ledger_invariants_hold_after_any_sequence(stock, operations):
    items = [stock.flour, stock.napkins]  # forbid and allow negatives
    locations = [stock.walk_in, stock.dry, stock.freezer_b]
    today = timezone.localdate()
    with transaction.atomic():
        done: list[tuple[str, object]] = []  # (key, call) for replays
        for number, op in enumerate(operations):
            name, key = op[0], f"op-{number}"
            try:
                if name == "receive":
                    _, i, loc, qty, cost, lot, days = op
                    code = None if lot == 0 else f"L{lot}-{days}"

                    def call(i=i, loc=loc, qty=qty, cost=cost, code=code, days=days, key=key):
                        return services.receive(
                            item=items[i],
                            location=locations[loc],
                            quantity=qty,
                            unit_cost=cost,
                            lot_code=code,
                            key=key,
                            actor=SYSTEM,
                            expiry_date=None if days is None else today + dt.timedelta(days),
                        )
                elif name == "consume":
                    _, i, loc, qty = op

                    def call(i=i, loc=loc, qty=qty, key=key):
                        result = services.consume(
                            item=items[i],
                            location=locations[loc],
                            quantity=qty,
                            key=key,
                            actor=SYSTEM,
                        )
                        _check_fefo(result, locations[loc], today)
                        return result
                elif name == "adjust":
                    _, i, loc, qty, up = op

                    def call(i=i, loc=loc, qty=qty, up=up, key=key):
                        return services.adjust(
                            item=items[i],
                            location=locations[loc],
                            quantity=qty if up else -qty,
                            key=key,
                            actor=SYSTEM,
                            reason="count_variance",
                        )
                elif name == "transfer":
                    _, i, source, target, qty = op
                    if source == target:
                        continue

                    def call(i=i, source=source, target=target, qty=qty, key=key):
                        result = services.transfer(
                            item=items[i],
                            from_location=locations[source],
                            to_location=locations[target],
                            quantity=qty,
                            key=key,
                            actor=SYSTEM,
                        )
                        _check_fefo(result, locations[source], today)
                        return result
                elif name == "reverse":
                    candidates = list(
                        StockMove.objects.filter(reversed_by__isnull=True)
                        .exclude(reason__in=["reversal", "revaluation", "price_variance"])
                        .order_by("id")
                    )
                    if not candidates:
                        continue
                    target_move = candidates[op[1] % len(candidates)]

                    def call(target_move=target_move, key=key):
                        return services.reverse_move(target_move, key=key, actor=SYSTEM)
                else:  # replay an earlier call with its key: nothing may change
                    if not done:
                        continue
                    first_key, first_call = done[op[1] % len(done)]
                    before = (
                        list(StockMove.objects.values_list("id", flat=True)),
                        list(StockBalance.objects.values_list("id", "quantity", "value")),
                    )
                    replayed = first_call()
                    assert replayed.replayed is True
                    assert {m.idempotency_key for m in replayed.moves} == {first_key}
                    assert before == (
                        list(StockMove.objects.values_list("id", flat=True)),
                        list(StockBalance.objects.values_list("id", "quantity", "value")),
                    )
                    continue
                call()
                done.append((key, call))
            except (InsufficientStock, Conflict):
                pass  # refused: nothing changed (checked by the invariants below)
            assert balance_differences() == []
            assert valuation_differences() == []
        # Stock of a forbid-class item never goes below zero anywhere.
        assert not StockBalance.objects.filter(item=stock.flour, quantity__lt=0).exists()
        transaction.set_rollback(True)
