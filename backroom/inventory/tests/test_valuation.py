"""Golden numbers of the moving-average rules; docs/inventory.md shows the same tables."""

from decimal import Decimal

from backroom.inventory import services
from backroom.inventory.models import ItemValuation, StockMove
from backroom.inventory.tests.conftest import D, key
from backroom.inventory.valuation import Valuation
from backroom.kernel.actors import SYSTEM


def _state(item, location):
    row = ItemValuation.objects.get(item=item, location=location)
    return row.quantity, row.value, row.average_cost


def _moves(result):
    return [(m.reason, m.quantity, m.unit_cost, m.value) for m in result.moves]


def test_receipts_at_different_prices_and_consumption_at_average(stock):
    flour, here = stock.flour, stock.walk_in
    services.receive(
        item=flour, location=here, quantity=D(10), unit_cost=D(2), key=key(), actor=SYSTEM
    )
    assert _state(flour, here) == (D(10), D(20), D(2))
    services.receive(
        item=flour, location=here, quantity=D(30), unit_cost=D(3), key=key(), actor=SYSTEM
    )
    assert _state(flour, here) == (D(40), D(110), D("2.75"))
    used = services.consume(item=flour, location=here, quantity=D(8), key=key(), actor=SYSTEM)
    assert _moves(used) == [("consumption", D(-8), D("2.75"), D(-22))]
    assert _state(flour, here) == (D(32), D(88), D("2.75"))
    services.receive(
        item=flour, location=here, quantity=D(3), unit_cost=D("3.3333"), key=key(), actor=SYSTEM
    )
    assert _state(flour, here) == (D(35), D("97.9999"), D("2.7999971429"))
    # Taking on-hand to zero takes the whole value: no rounding residue is left behind.
    last = services.consume(item=flour, location=here, quantity=D(35), key=key(), actor=SYSTEM)
    assert _moves(last) == [("consumption", D(-35), D("2.7999971429"), D("-97.9999"))]
    assert _state(flour, here) == (D(0), D(0), D("2.7999971429"))


def test_receipt_into_negative_stock_is_settled_at_the_new_price(stock):
    milk, here = stock.milk, stock.walk_in  # warn: negatives allowed with a warning
    first = services.consume(item=milk, location=here, quantity=D(5), key=key(), actor=SYSTEM)
    assert _moves(first) == [("consumption", D(-5), D(0), D(0))]  # never received: cost 0
    assert _state(milk, here) == (D(-5), D(0), None)
    receipt = services.receive(
        item=milk, location=here, quantity=D(20), unit_cost=D("1.5"), key=key(), actor=SYSTEM
    )
    assert _moves(receipt) == [
        ("price_variance", D(0), D("1.5"), D("-7.5")),
        ("receipt", D(20), D("1.5"), D(30)),
    ]
    assert _state(milk, here) == (D(15), D("22.5"), D("1.5"))
    cross = services.consume(item=milk, location=here, quantity=D(20), key=key(), actor=SYSTEM)
    assert [(m.quantity, m.value) for m in cross.moves] == [(D(-20), D(-30))]
    assert _state(milk, here) == (D(-5), D("-7.5"), D("1.5"))
    again = services.receive(
        item=milk, location=here, quantity=D(10), unit_cost=D(2), key=key(), actor=SYSTEM
    )
    assert _moves(again) == [
        ("price_variance", D(0), D(2), D("-2.5")),
        ("receipt", D(10), D(2), D(20)),
    ]
    assert _state(milk, here) == (D(5), D(10), D(2))


def test_price_correction_revalues_what_remains_and_sends_the_rest_to_variance(stock):
    flour, here = stock.flour, stock.walk_in
    receipt = services.receive(
        item=flour, location=here, quantity=D(100), unit_cost=D(4), key=key(), actor=SYSTEM
    )
    services.consume(item=flour, location=here, quantity=D(60), key=key(), actor=SYSTEM)
    assert _state(flour, here) == (D(40), D(160), D(4))
    fix = services.correct_receipt_cost(
        receipt.moves[0], unit_cost=D("4.5"), key=key(), actor=SYSTEM
    )
    assert _moves(fix) == [
        ("revaluation", D(0), D("4.5"), D(50)),
        ("price_variance", D(0), D("4.5"), D(-30)),
    ]
    assert _state(flour, here) == (D(40), D(180), D("4.5"))
    # A correction downwards when everything is still on hand: all of it is revalued.
    other = services.receive(
        item=flour, location=here, quantity=D(10), unit_cost=D(5), key=key(), actor=SYSTEM
    )
    assert _state(flour, here) == (D(50), D(230), D("4.6"))
    down = services.correct_receipt_cost(other.moves[0], unit_cost=D(4), key=key(), actor=SYSTEM)
    assert _moves(down) == [("revaluation", D(0), D(4), D(-10))]
    assert _state(flour, here) == (D(50), D(220), D("4.4"))


def test_transfer_moves_value_at_the_sending_average_and_production_sums_inputs(stock, tree):
    flour, milk = stock.flour, stock.milk
    services.receive(
        item=flour, location=stock.walk_in, quantity=D(10), unit_cost=D(2), key=key(), actor=SYSTEM
    )
    services.receive(
        item=flour, location=stock.walk_in, quantity=D(10), unit_cost=D(3), key=key(), actor=SYSTEM
    )
    moved = services.transfer(
        item=flour,
        from_location=stock.walk_in,
        to_location=stock.dry,
        quantity=D(4),
        key=key(),
        actor=SYSTEM,
    )
    assert _moves(moved) == [
        ("transfer_out", D(-4), D("2.5"), D(-10)),
        ("transfer_in", D(4), D("2.5"), D(10)),
    ]
    services.receive(
        item=milk, location=stock.dry, quantity=D(3), unit_cost=D("1.2"), key=key(), actor=SYSTEM
    )
    from backroom.inventory.tests.conftest import make_item

    dough = make_item("DOUGH", "kg", "food", kind="prepared", shelf_life_days=2)
    made = services.produce(
        item=dough,
        location=stock.dry,
        quantity=D(5),
        key=key(),
        actor=SYSTEM,
        components=[
            services.ComponentInput(flour.pk, D(4)),
            services.ComponentInput(milk.pk, D("1.5")),
        ],
    )
    assert _moves(made) == [
        ("production_input", D(-4), D("2.5"), D(-10)),
        ("production_input", D("-1.5"), D("1.2"), D("-1.8")),
        ("production", D(5), D("2.36"), D("11.8")),
    ]
    assert _state(dough, stock.dry) == (D(5), D("11.8"), D("2.36"))
    assert StockMove.objects.get(reason="production").lot.expiry_date is not None


def test_pure_valuation_rounds_half_even_and_clears_residue():
    state = Valuation()
    assert state.receive(D(3), D("0.3333333333")) == (D("1.0000"), Decimal(0))
    assert state.issue(D(1)) == (D("-0.3333"), D("0.3333333333"))
    assert state.issue(D(2)) == (D("-0.6667"), D("0.3333333333"))
    assert (state.quantity, state.value) == (D(0), D(0))
