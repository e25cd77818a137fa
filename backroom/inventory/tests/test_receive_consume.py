import datetime as dt

import pytest
from django.utils import timezone

from backroom.audit.models import AuditEntry
from backroom.catalog.selectors import site_today
from backroom.events.models import OutboxEvent
from backroom.inventory import services
from backroom.inventory.models import ItemValuation, Lot, StockBalance, StockMove, StockPosting
from backroom.inventory.tests.conftest import D, key
from backroom.kernel.actors import SYSTEM


def test_receive_creates_lot_move_balance_valuation_audit_and_event(stock):
    expiry = timezone.now().date() + dt.timedelta(days=10)
    result = services.receive(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D(2),
        unit="bag",
        unit_cost=D("100"),
        lot_code="L1",
        expiry_date=expiry,
        key="rcv-1",
        actor=SYSTEM,
        source=services.Source(type="procurement.receipt", id="7", number="GR-SHA001-000007"),
    )
    assert result.replayed is False
    lot = Lot.objects.get(item=stock.flour, code="L1")
    assert lot.expiry_date == expiry
    move = StockMove.objects.get()
    assert (move.quantity, move.unit_cost, move.value) == (D(50), D(4), D(200))
    assert move.reason == "receipt" and move.lot_id == lot.pk
    assert move.source_number == "GR-SHA001-000007"
    assert move.posting_id == result.posting.pk
    balance = StockBalance.objects.get()
    assert (balance.lot_id, balance.quantity, balance.value) == (lot.pk, D(50), D(200))
    valuation = ItemValuation.objects.get()
    assert (valuation.quantity, valuation.value, valuation.average_cost) == (D(50), D(200), D(4))
    entry = AuditEntry.objects.get(action="inventory.receive")
    assert entry.target_id == str(result.posting.pk)
    assert entry.after["move_count"] == 1
    event = OutboxEvent.objects.get(event_type="inventory.stock.posted")
    assert event.payload["posting_id"] == result.posting.pk
    assert event.payload["items"] == [stock.flour.pk]


def test_replay_with_the_same_key_returns_the_first_result_and_changes_nothing(stock):
    first = services.receive(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D(5),
        unit_cost=D(3),
        key="same",
        actor=SYSTEM,
    )
    again = services.receive(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D(9),
        unit_cost=D(7),
        key="same",
        actor=SYSTEM,
    )
    assert again.replayed is True
    assert [m.pk for m in again.moves] == [m.pk for m in first.moves]
    assert again.posting.pk == first.posting.pk
    assert StockMove.objects.count() == 1
    assert StockPosting.objects.count() == 1
    assert ItemValuation.objects.get().quantity == D(5)
    assert AuditEntry.objects.filter(action="inventory.receive").count() == 1


def test_consume_fefo_across_lots_skipping_expired(stock):
    today = site_today(stock.walk_in.site)  # the store's business date (not the calendar's)
    for code, days, qty in (
        ("LATE", 20, 5),
        ("EXPIRED", -1, 4),
        ("SOON", 3, 2),
        ("NOEXP", None, 1),
    ):
        services.receive(
            item=stock.flour,
            location=stock.walk_in,
            quantity=D(qty),
            unit_cost=D(2),
            lot_code=code,
            expiry_date=None if days is None else today + dt.timedelta(days=days),
            key=key(),
            actor=SYSTEM,
        )
    result = services.consume(
        item=stock.flour, location=stock.walk_in, quantity=D(6), key="use", actor=SYSTEM
    )
    taken = [(Lot.objects.get(pk=m.lot_id).code, m.quantity) for m in result.moves]
    assert taken == [("SOON", D(-2)), ("LATE", D(-4))]
    assert all(m.value == m.quantity * 2 for m in result.moves)


def test_consume_short_fails_up_front_with_short_by_and_changes_nothing(stock):
    services.receive(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D(3),
        unit_cost=D(2),
        lot_code="OLD",
        expiry_date=timezone.localdate() - dt.timedelta(days=2),
        key=key(),
        actor=SYSTEM,
    )
    services.receive(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D(4),
        unit_cost=D(2),
        key=key(),
        actor=SYSTEM,
    )
    moves, audits = StockMove.objects.count(), AuditEntry.objects.count()
    from backroom.inventory.exceptions import InsufficientStock

    with pytest.raises(InsufficientStock) as caught:
        services.consume(
            item=stock.flour, location=stock.walk_in, quantity=D("4.5"), key="x", actor=SYSTEM
        )
    assert caught.value.code == "insufficient_stock"
    assert caught.value.details["short_by"] == "0.500000"
    assert "short by 0.5 kg" in caught.value.message
    assert StockMove.objects.count() == moves
    assert AuditEntry.objects.count() == audits


def test_warn_policy_goes_negative_with_a_warning_and_event(stock):
    result = services.consume(
        item=stock.milk, location=stock.walk_in, quantity=D(2), key="milk", actor=SYSTEM
    )
    assert result.warnings == [
        {
            "code": "negative_stock",
            "item_id": stock.milk.pk,
            "location_id": stock.walk_in.pk,
            "quantity": "-2.000000",
        }
    ]
    assert StockBalance.objects.get(item=stock.milk, lot__isnull=True).quantity == D(-2)
    assert OutboxEvent.objects.filter(event_type="inventory.stock.negative").count() == 1
