import datetime as dt

import pytest
from django.utils import timezone

from backroom.audit.models import AuditEntry
from backroom.catalog.exceptions import UnknownUnit
from backroom.catalog.selectors import site_today
from backroom.config.ledger_checks import run_ledger_checks
from backroom.events.models import OutboxEvent
from backroom.inventory import selectors, services
from backroom.inventory.exceptions import (
    AlreadyReversed,
    BatchRejected,
    ExpiredLot,
    InsufficientStock,
    LocationInactive,
    NegativeQuantity,
    NotReversible,
    TransferToSelf,
)
from backroom.inventory.ledger_checks import balance_differences, valuation_differences
from backroom.inventory.models import (
    ItemValuation,
    Location,
    Reservation,
    StockBalance,
    StockMove,
    StockPosting,
)
from backroom.inventory.tests.conftest import D, key, make_location
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import NotFound, PermissionDenied, ValidationFailed
from backroom.testing.factories import make_user


def _receive(stock, quantity, cost="2", location=None, item=None, **extra):
    return services.receive(
        item=item or stock.flour,
        location=location or stock.walk_in,
        quantity=D(quantity),
        unit_cost=D(cost),
        key=key(),
        actor=SYSTEM,
        **extra,
    )


def _nothing_changed(counts):
    assert (
        StockMove.objects.count(),
        StockPosting.objects.count(),
        AuditEntry.objects.count(),
        OutboxEvent.objects.count(),
    ) == counts


def _counts():
    return (
        StockMove.objects.count(),
        StockPosting.objects.count(),
        AuditEntry.objects.count(),
        OutboxEvent.objects.count(),
    )


def test_bad_input_reports_every_problem_at_once_and_changes_nothing(stock):
    before = _counts()
    with pytest.raises(ValidationFailed) as caught:
        services.receive(
            item=stock.flour,
            location=stock.walk_in,
            quantity=D(-1),
            unit_cost=D(-2),
            key="bad",
            actor=SYSTEM,
        )
    assert set(caught.value.details["fields"]) == {"quantity", "unit_cost"}
    with pytest.raises(UnknownUnit):
        services.receive(
            item=stock.flour,
            location=stock.walk_in,
            quantity=D(1),
            unit="crate",
            unit_cost=D(1),
            key="bad2",
            actor=SYSTEM,
        )
    with pytest.raises(NegativeQuantity) as single:
        services.consume(
            item=stock.flour, location=stock.walk_in, quantity=D(0), key="z", actor=SYSTEM
        )
    assert single.value.code == "negative_quantity"
    _nothing_changed(before)


def test_closed_location_and_expired_lot_are_refused(stock):
    yesterday = site_today(stock.walk_in.site) - dt.timedelta(days=1)  # the store's business date
    _receive(stock, 5, lot_code="OLD", expiry_date=yesterday)
    with pytest.raises(ExpiredLot):
        services.consume(
            item=stock.flour,
            location=stock.walk_in,
            quantity=D(1),
            lot_code="OLD",
            key=key(),
            actor=SYSTEM,
        )
    wasted = services.consume(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D(5),
        lot_code="OLD",
        reason="waste",
        key=key(),
        actor=SYSTEM,
    )
    assert [m.reason for m in wasted.moves] == ["waste"]
    services.update_location(stock.dry, actor=SYSTEM, is_active=False)
    before = _counts()
    with pytest.raises(LocationInactive) as caught:
        _receive(stock, 1, location=Location.objects.get(pk=stock.dry.pk))
    assert caught.value.code == "location_inactive"
    _nothing_changed(before)


def test_transfer_between_sites_goes_through_transit_and_arrives_later(stock, tree):
    _receive(stock, 10, "3", lot_code="L1", expiry_date=timezone.localdate() + dt.timedelta(days=9))
    with pytest.raises(TransferToSelf):
        services.transfer(
            item=stock.flour,
            from_location=stock.walk_in,
            to_location=stock.walk_in,
            quantity=D(1),
            key=key(),
            actor=SYSTEM,
        )
    sent = services.transfer(
        item=stock.flour,
        from_location=stock.walk_in,
        to_location=stock.freezer_b,
        quantity=D(6),
        key="T1",
        actor=SYSTEM,
    )
    transit = Location.objects.get(site=tree.store_a.site, kind="in_transit")
    assert [(m.location_id, m.quantity, m.value) for m in sent.moves] == [
        (stock.walk_in.pk, D(-6), D(-18)),
        (transit.pk, D(6), D(18)),
    ]
    assert services.in_transit("T1") == {sent.moves[0].lot_id: D(6)}
    part = services.receive_transfer(
        transfer_key="T1", location=stock.freezer_b, quantity=D(4), key="T1-in-1", actor=SYSTEM
    )
    assert [(m.location_id, m.quantity, m.value) for m in part.moves] == [
        (transit.pk, D(-4), D(-12)),
        (stock.freezer_b.pk, D(4), D(12)),
    ]
    services.receive_transfer(
        transfer_key="T1", location=stock.freezer_b, key="T1-in-2", actor=SYSTEM
    )
    assert services.in_transit("T1") == {}
    assert ItemValuation.objects.get(item=stock.flour, location=stock.freezer_b).value == D(18)
    assert ItemValuation.objects.get(item=stock.flour, location=transit).quantity == 0
    assert balance_differences() == [] and valuation_differences() == []


def test_reversal_is_exact_dated_now_and_only_once(stock):
    receipt = _receive(stock, 10, "2")
    reversal = services.reverse_move(receipt.moves[0], key="rev", actor=SYSTEM, reason="typo")
    move = reversal.moves[0]
    assert (move.quantity, move.value, move.reason, move.reverses_id) == (
        D(-10),
        D(-20),
        "reversal",
        receipt.moves[0].pk,
    )
    assert ItemValuation.objects.get().quantity == 0
    with pytest.raises(AlreadyReversed):
        services.reverse_move(receipt.moves[0], key="rev2", actor=SYSTEM)
    with pytest.raises(NotReversible):
        services.reverse_move(move, key="rev3", actor=SYSTEM)
    assert AuditEntry.objects.get(action="inventory.reverse").reason == "typo"


def test_moves_are_append_only(stock):
    move = _receive(stock, 1).moves[0]
    with pytest.raises(TypeError):
        move.save()
    with pytest.raises(TypeError):
        move.delete()
    with pytest.raises(TypeError):
        StockMove.objects.filter(pk=move.pk).update(quantity=5)
    with pytest.raises(TypeError):
        StockMove.objects.all().delete()


def test_batch_reports_every_bad_line_and_posts_nothing(stock):
    _receive(stock, 2)
    before = _counts()
    batch = [
        services.MoveInput("receive", stock.flour.pk, stock.walk_in.pk, D(5), "b1", unit_cost=D(1)),
        services.MoveInput("issue", stock.flour.pk, stock.walk_in.pk, D(9), "b2"),
        services.MoveInput("issue", stock.flour.pk, 999999, D(1), "b3"),
        services.MoveInput("receive", stock.flour.pk, stock.walk_in.pk, D(1), "b4"),
    ]
    with pytest.raises(BatchRejected) as caught:
        services.post_moves(batch, actor=SYSTEM)
    lines = caught.value.details["lines"]
    assert [(line["index"], line["code"]) for line in lines] == [
        (2, "unknown_location"),
        (3, "invalid"),
    ]
    _nothing_changed(before)
    # With the input fixed, the shortage is found while applying (after line 0's receipt).
    batch[2].location_id, batch[3].unit_cost = stock.walk_in.pk, D(1)
    batch[1].quantity = D(10)
    with pytest.raises(BatchRejected) as short:
        services.post_moves(batch, actor=SYSTEM)
    assert [(line["index"], line["code"]) for line in short.value.details["lines"]] == [
        (1, "insufficient_stock")
    ]
    assert short.value.details["lines"][0]["details"]["short_by"] == "3.000000"
    _nothing_changed(before)


def test_batch_posts_one_document_and_replays_line_by_line(stock):
    batch = [
        services.MoveInput(
            "receive", stock.flour.pk, stock.walk_in.pk, D(5), f"m{n}", unit_cost=D(n + 1)
        )
        for n in range(3)
    ] + [services.MoveInput("issue", stock.flour.pk, stock.walk_in.pk, D(4), "m3")]
    result = services.post_moves(batch, actor=SYSTEM)
    assert [m.quantity for m in result.moves] == [D(5), D(5), D(5), D(-4)]
    assert result.moves[-1].value == D(-8)
    assert AuditEntry.objects.filter(action="inventory.batch").count() == 1
    assert OutboxEvent.objects.filter(event_type="inventory.stock.posted").count() == 1
    again = services.post_moves(
        [*batch, services.MoveInput("issue", stock.flour.pk, stock.walk_in.pk, D(1), "m4")],
        actor=SYSTEM,
    )
    assert [m.pk for m in again.moves[:4]] == [m.pk for m in result.moves]
    assert StockMove.objects.count() == 5
    assert ItemValuation.objects.get().quantity == D(10)


def test_reservations_reduce_available_to_promise(stock, tree):
    _receive(stock, 10)
    site = tree.store_a.site
    first = services.reserve(item=stock.flour, site=site, quantity=D(6), key="r1", actor=SYSTEM)
    assert (
        services.reserve(item=stock.flour, site=site, quantity=D(6), key="r1", actor=SYSTEM).pk
        == first.pk
    )
    assert selectors.available_to_promise(stock.flour, site) == D(4)
    with pytest.raises(InsufficientStock) as caught:
        services.reserve(item=stock.flour, site=site, quantity=D(5), key="r2", actor=SYSTEM)
    assert caught.value.details["short_by"] == "1.000000"
    services.end_reservation(first, actor=SYSTEM)
    assert selectors.available_to_promise(stock.flour, site) == D(10)
    assert Reservation.objects.get(pk=first.pk).status == "released"
    services.reserve(
        item=stock.flour,
        site=site,
        quantity=D(3),
        key="r3",
        actor=SYSTEM,
        expires_at=timezone.now() + dt.timedelta(hours=1),
    )
    assert selectors.available_to_promise(stock.flour, site) == D(7)
    from backroom.inventory.services.reservations import active_reservations

    later = timezone.now() + dt.timedelta(hours=2)
    assert Reservation.objects.filter(active_reservations(later)).count() == 0


def test_store_a_cannot_read_or_move_store_b_stock(stock, tree):
    _receive(stock, 5, location=stock.freezer_b)
    manager_a = make_user("hq_admin", tree.store_a)  # every permission, only at store A
    staff_a = make_user("technician", tree.store_a)  # no inventory permission
    before = _counts()
    with pytest.raises(NotFound):
        services.consume(
            item=stock.flour, location=stock.freezer_b, quantity=D(1), key=key(), actor=manager_a
        )
    with pytest.raises(PermissionDenied):
        services.consume(
            item=stock.flour, location=stock.walk_in, quantity=D(1), key=key(), actor=staff_a
        )
    _nothing_changed(before)
    assert list(selectors.on_hand(manager_a)) == []
    assert selectors.on_hand(SYSTEM).count() == 1
    with pytest.raises(NotFound):
        selectors.get_location(manager_a, stock.freezer_b.pk)


def test_check_ledgers_reports_a_tampered_balance(stock):
    _receive(stock, 5)
    assert all(outcome.is_consistent for outcome in run_ledger_checks())
    StockBalance.objects.filter(item=stock.flour).update(quantity=D(4))
    outcomes = {outcome.name: outcome.differences for outcome in run_ledger_checks()}
    assert outcomes["inventory.balances"] == [
        f"balance item {stock.flour.pk} location {stock.walk_in.pk} lot None: table says "
        "4.000000 / 10.0000, moves say 5.000000 / 10.0000"
    ]
    assert outcomes["inventory.valuations"] == []


def test_average_cost_contract_and_expiring_soon(stock, tree):
    site = tree.store_a.site
    assert selectors.average_cost(stock.flour, site) is None
    _receive(stock, 10, "2", lot_code="A", expiry_date=timezone.localdate() + dt.timedelta(days=2))
    _receive(
        stock,
        10,
        "4",
        location=stock.dry,
        lot_code="B",
        expiry_date=timezone.localdate() + dt.timedelta(days=30),
    )
    assert selectors.average_cost(stock.flour, site) == D(3)
    soon = selectors.expiring_soon(SYSTEM, within_days=3, site=site)
    assert [(row.lot.code, row.quantity) for row in soon] == [("A", D(10))]
    other = make_location(tree.store_b, "DRY2", "dry_store")
    assert selectors.average_cost(stock.flour, other.site) is None


def test_move_rows_list_the_model_fields_in_order():
    from backroom.inventory.ledger import MOVE_FIELDS

    assert tuple(f.attname for f in StockMove._meta.concrete_fields) == MOVE_FIELDS


def test_a_used_up_lot_can_be_received_into_again(stock):
    _receive(stock, 5, lot_code="L1")
    services.consume(
        item=stock.flour, location=stock.walk_in, quantity=D(5), key=key(), actor=SYSTEM
    )
    assert StockBalance.objects.get().quantity == 0
    _receive(stock, 3, "4", lot_code="L1")
    balance = StockBalance.objects.get()
    assert (balance.quantity, balance.value) == (D(3), D(12))
    assert balance_differences() == [] and valuation_differences() == []
