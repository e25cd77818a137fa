"""A posting reuses the balances its process wrote last, keyed by the valuation's revision.

`ledger.BALANCES` holds, per item × location, the balances as this process last wrote them,
under the random revision that posting wrote on the `ItemValuation` row. A later posting that
locks the row and finds that revision skips reading the balances; any other revision (another
process posted, a rolled-back posting) makes it read them again. These tests play "another
process" by putting back a cache entry from before a posting, and check the allocation, the
balances against Σ moves, and which pairs were read.
"""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal as D

import pytest
from django.db import transaction
from django.utils import timezone

from backroom.inventory import ledger, services
from backroom.inventory.exceptions import BatchRejected, InsufficientStock
from backroom.inventory.ledger import BALANCES
from backroom.inventory.ledger_checks import balance_differences, valuation_differences
from backroom.inventory.models import ItemValuation, Lot, StockBalance
from backroom.inventory.tests.conftest import key
from backroom.kernel.actors import SYSTEM


@pytest.fixture(autouse=True)
def empty_cache():
    BALANCES.clear()
    yield
    BALANCES.clear()


@pytest.fixture
def reads(monkeypatch) -> list[set[tuple[int, int]]]:
    """The pairs each session read from the database (in order)."""
    seen: list[set[tuple[int, int]]] = []
    real = ledger.lock_balances

    def spy(pairs):
        pairs = set(pairs)
        seen.append(pairs)
        return real(pairs)

    monkeypatch.setattr(ledger, "lock_balances", spy)
    return seen


def _line(action: str, item, location, quantity: str, **extra) -> services.MoveInput:
    return services.MoveInput(
        action=action,
        item_id=item.pk,
        location_id=location.pk,
        quantity=D(quantity),
        key=key("cache"),
        **extra,
    )


def _receive(stock, code: str | None, quantity: str, days: int = 5, cost: str = "1.00"):
    expiry = timezone.localdate() + dt.timedelta(days=days) if code else None
    return services.post_moves(
        [
            _line(
                "receive",
                stock.napkins,
                stock.walk_in,
                quantity,
                unit_cost=D(cost),
                lot_code=code,
                expiry_date=expiry,
            )
        ],
        actor=SYSTEM,
    )


def _issue(stock, quantity: str, item=None):
    return services.post_moves(
        [_line("issue", item or stock.napkins, stock.walk_in, quantity)], actor=SYSTEM
    )


def _taken(result) -> list[tuple[str | None, D]]:
    codes = dict(Lot.objects.values_list("id", "code"))
    return [(codes.get(move.lot_id), move.quantity) for move in result.moves if move.quantity]


def _revision(stock, item=None) -> int:
    return ItemValuation.objects.get(item=item or stock.napkins, location=stock.walk_in).revision


def _exact(stock) -> None:
    assert balance_differences() == []
    assert valuation_differences() == []


def test_a_posting_reuses_the_balances_it_wrote_and_draws_a_new_revision(stock, reads):
    pair = (stock.napkins.pk, stock.walk_in.pk)
    _receive(stock, "A", "5")
    first = _revision(stock)
    _receive(stock, "B", "5", days=10)
    second = _revision(stock)
    result = _issue(stock, "7")

    assert reads == [{pair}, set(), set()]  # read once; then held by this process
    assert first != 0 and second not in (0, first) and _revision(stock) not in (first, second)
    assert _taken(result) == [("A", D(-5)), ("B", D(-2))]
    assert {
        row.lot_id: row.quantity
        for row in StockBalance.objects.filter(item=stock.napkins, location=stock.walk_in)
    } == {
        Lot.objects.get(code="A").pk: D(0),
        Lot.objects.get(code="B").pk: D(3),
    }
    _exact(stock)


def test_balances_changed_by_another_process_are_read_again(stock, reads):
    pair = (stock.napkins.pk, stock.walk_in.pk)
    _receive(stock, "A", "5")
    _receive(stock, "B", "5", days=10)
    seen_by_the_other_process = copy.deepcopy(BALANCES._entries)
    # This process posts; the other process still holds the balances from before.
    _issue(stock, "6")  # A 5, B 1
    _receive(stock, "C", "4", days=2)  # expires first
    BALANCES._entries = seen_by_the_other_process
    reads.clear()

    result = _issue(stock, "8")

    assert reads == [{pair}]  # the revision differs: read again
    assert _taken(result) == [("C", D(-4)), ("B", D(-4))]
    _exact(stock)


def test_a_rolled_back_posting_leaves_no_stale_balances(stock, reads):
    pair = (stock.napkins.pk, stock.walk_in.pk)
    _receive(stock, "A", "5")
    with pytest.raises(RuntimeError), transaction.atomic():
        _issue(stock, "5")  # held by this process at a revision that is then rolled back
        raise RuntimeError("roll back")
    reads.clear()

    result = _issue(stock, "2")

    assert reads == [{pair}]
    assert _taken(result) == [("A", D(-2))]
    _exact(stock)


def test_a_rejected_batch_gives_up_what_it_held(stock, reads):
    flour = (stock.flour.pk, stock.walk_in.pk)
    services.receive(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D(3),
        unit_cost=D(2),
        key=key(),
        actor=SYSTEM,
    )
    with pytest.raises(InsufficientStock):
        _issue(stock, "5", item=stock.flour)  # forbid: short by 2, nothing written
    with pytest.raises(BatchRejected):
        services.post_moves(
            [
                _line("issue", stock.flour, stock.walk_in, "1"),
                _line("issue", stock.flour, stock.walk_in, "4"),
            ],
            actor=SYSTEM,
        )
    reads.clear()

    result = _issue(stock, "3", item=stock.flour)

    assert reads == [{flour}]  # the rejected sessions changed their copies: not reused
    assert [move.quantity for move in result.moves] == [D(-3)]
    assert StockBalance.objects.get(item=stock.flour, location=stock.walk_in).quantity == 0
    _exact(stock)


def test_a_used_up_lot_leaves_the_held_balances_and_comes_back_on_a_receipt(stock, reads):
    _receive(stock, "A", "5")
    _issue(stock, "5")
    database = ledger.BalanceCache._database()
    revision, by_lot, ordered = BALANCES._entries[(database, stock.napkins.pk, stock.walk_in.pk)]
    assert (by_lot, ordered) == ({}, [])  # the empty lot is not held, as it is not read
    assert revision == _revision(stock)

    _receive(stock, "A", "2", cost="3.00")  # the empty row is overwritten
    result = _issue(stock, "1")

    assert reads == [{(stock.napkins.pk, stock.walk_in.pk)}, set(), set(), set()]
    assert _taken(result) == [("A", D(-1))]
    row = StockBalance.objects.get(item=stock.napkins, location=stock.walk_in)
    assert (row.lot_id, row.quantity, row.value) == (Lot.objects.get(code="A").pk, D(1), D(3))
    _exact(stock)
