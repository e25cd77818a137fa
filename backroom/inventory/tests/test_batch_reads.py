"""Batch posting sees every balance its lines can reach, however they were last read.

A batch reads a pair's non-empty balances (or reuses the ones its process wrote last, see
test_balance_cache.py); a lot used up earlier is not read. These tests post batches that reach
every balance in every way a line can (an expired lot taken by waste, a named lot further down,
a receipt into a used-up lot, a shortfall) and check the allocation and that every balance still
equals the sum of its moves, on PostgreSQL and SQLite.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from django.utils import timezone

from backroom.inventory import services
from backroom.inventory.ledger_checks import balance_differences, valuation_differences
from backroom.inventory.models import Lot, StockBalance
from backroom.inventory.tests.conftest import key
from backroom.kernel.actors import SYSTEM


def _line(action: str, stock, quantity: str, **extra) -> services.MoveInput:
    return services.MoveInput(
        action=action,
        item_id=stock.napkins.pk,
        location_id=stock.walk_in.pk,
        quantity=D(quantity),
        key=key("batch"),
        **extra,
    )


def _receive_lots(stock, lots: dict[str, tuple[str, int]]) -> None:
    today = timezone.localdate()
    services.post_moves(
        [
            _line(
                "receive",
                stock,
                quantity,
                unit_cost=D("1.00"),
                lot_code=code,
                expiry_date=today + dt.timedelta(days=days),
            )
            for code, (quantity, days) in lots.items()
        ],
        actor=SYSTEM,
    )


def _on_hand(stock) -> dict[str | None, D]:
    rows = StockBalance.objects.filter(item=stock.napkins, location=stock.walk_in)
    codes = dict(Lot.objects.values_list("id", "code"))
    return {codes.get(row.lot_id): row.quantity for row in rows if row.quantity}


def _taken(result) -> list[tuple[str | None, D]]:
    codes = dict(Lot.objects.values_list("id", "code"))
    return [(codes.get(move.lot_id), move.quantity) for move in result.moves if move.quantity]


def test_a_batch_reaching_past_the_fefo_prefix_allocates_as_a_full_read(stock):
    _receive_lots(
        stock,
        {
            "OLD": ("4", -2),
            "A": ("10", 5),
            "B": ("10", 10),
            "C": ("10", 20),
            "D": ("10", 25),
            "E": ("3", 30),
        },
    )
    # Use up lot E, so its balance row stays behind empty (not read by later postings).
    services.post_moves([_line("issue", stock, "3", lot_code="E")], actor=SYSTEM)
    assert _on_hand(stock) == {"OLD": 4, "A": 10, "B": 10, "C": 10, "D": 10}

    result = services.post_moves(
        [
            _line("issue", stock, "12"),  # A 10, B 2 (OLD is expired)
            _line("issue", stock, "3", reason="waste"),  # expired OLD first
            # FEFO takes 23 here, covered by A, B and C: D and E are past that point.
            _line("receive", stock, "5", unit_cost=D("1.00"), lot_code="D"),
            _line("receive", stock, "2", unit_cost=D("1.00"), lot_code="E"),  # a used-up lot
            _line("issue", stock, "1", lot_code="D"),
            _line("issue", stock, "8"),  # B 8
        ],
        actor=SYSTEM,
    )

    assert _taken(result) == [
        ("A", D(-10)),
        ("B", D(-2)),
        ("OLD", D(-3)),
        ("D", D(5)),
        ("E", D(2)),
        ("D", D(-1)),
        ("B", D(-8)),
    ]
    assert _on_hand(stock) == {"OLD": 1, "C": 10, "D": 14, "E": 2}
    assert balance_differences() == []
    assert valuation_differences() == []


def test_a_shortfall_reads_every_lot_and_goes_negative_without_a_lot(stock):
    _receive_lots(stock, {"A": ("2", 5), "B": ("3", 10)})

    result = services.post_moves(
        [_line("issue", stock, "4"), _line("issue", stock, "4")], actor=SYSTEM
    )

    assert _taken(result) == [("A", D(-2)), ("B", D(-2)), ("B", D(-1)), (None, D(-3))]
    assert _on_hand(stock) == {None: D(-3)}
    assert balance_differences() == []
    assert valuation_differences() == []


def test_later_batches_see_what_earlier_ones_left_in_lots_they_did_not_read(stock):
    _receive_lots(stock, {"A": ("5", 5), "B": ("5", 10), "C": ("5", 15)})
    services.post_moves([_line("issue", stock, "1")], actor=SYSTEM)  # reads A only
    services.post_moves(
        [_line("receive", stock, "1", unit_cost=D("2.00"), lot_code="C")], actor=SYSTEM
    )

    result = services.post_moves([_line("issue", stock, "14")], actor=SYSTEM)

    assert _taken(result) == [("A", D(-4)), ("B", D(-5)), ("C", D(-5))]
    assert _on_hand(stock) == {"C": 1}
    assert balance_differences() == []
    assert valuation_differences() == []


def test_a_replayed_line_returns_its_first_result_even_when_stock_is_now_short(stock):
    _receive_lots(stock, {"A": ("3", 5)})
    first = _line("issue", stock, "3")
    posted = services.post_moves([first], actor=SYSTEM)
    assert posted.replayed is False

    again = services.post_moves([first], actor=SYSTEM)  # no stock left: still a replay
    assert again.replayed is True
    assert [move.pk for move in again.moves] == [move.pk for move in posted.moves]

    fresh = _line("receive", stock, "2", unit_cost=D("1.00"))
    mixed = services.post_moves([first, fresh], actor=SYSTEM)
    assert [move.idempotency_key for move in mixed.moves] == [first.key, fresh.key]
    assert mixed.moves[0].pk == posted.moves[0].pk
    assert _on_hand(stock) == {None: D(2)}
    assert balance_differences() == []
    assert valuation_differences() == []
