"""Production pages: the permission matrix of the list, the form and its post; the golden
production (ingredients consumed at their average cost, the product's lot carrying their value);
a replayed submit posting once; every refusal shown with nothing posted; the HTMX preview."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from backroom.audit.models import AuditEntry
from backroom.catalog import services as catalog_services
from backroom.events.models import OutboxEvent
from backroom.inventory import services
from backroom.inventory.ledger import site_today
from backroom.inventory.models import ItemValuation, Lot, StockBalance, StockMove, StockPosting
from backroom.inventory.tests.conftest import D, key, make_item
from backroom.kernel.actors import SYSTEM
from backroom.testing.factories import client_for, make_user
from backroom.testing.matrix import assert_matrix

LIST = "/stock/production/"
NEW = "/stock/production/new/"
HX = {"HTTP_HX_REQUEST": "true"}
FORM_KEY = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def dough(stock):
    """Dough: 5 kg from 4 kg of flour and 1.5 l of milk; kept 2 days; a 10 kg tub."""
    item = make_item(
        "DOUGH", "kg", "food", kind="prepared", shelf_life_days=2, units=[("tub", "10")]
    )
    catalog_services.publish_recipe(
        item,
        catalog_services.RecipeInput(
            effective_from=dt.date(2026, 1, 1),
            yield_quantity=D(5),
            lines=[
                catalog_services.RecipeLineInput("FLOUR", D(4), "kg"),
                catalog_services.RecipeLineInput("MILK", D("1.5"), "l"),
            ],
        ),
        actor=SYSTEM,
    )
    return item


@pytest.fixture
def people(tree):
    return {
        "staff_a": make_user("store_staff", tree.store_a),  # view, move, count
        "tech_a": make_user("technician", tree.store_a),  # no inventory permission
        "staff_b": make_user("store_staff", tree.store_b),
    }


def _receive(stock, item, quantity, cost):
    services.receive(
        item=item,
        location=stock.walk_in,
        quantity=D(quantity),
        unit_cost=D(cost),
        key=key(),
        actor=SYSTEM,
    )


def _stocked(stock):
    """10 kg of flour at 2.00 and 10 kg at 3.00 (average 2.50); 3 l of milk at 1.20."""
    _receive(stock, stock.flour, "10", "2")
    _receive(stock, stock.flour, "10", "3")
    _receive(stock, stock.milk, "3", "1.2")


def _form(stock, dough, **changes):
    form = {
        "key": FORM_KEY,
        "location_id": stock.walk_in.pk,
        "item_id": dough.pk,
        "quantity": "5",
        "unit": "",
        "lot_code": "",
        "expiry_date": "",
    }
    form.update(changes)
    return form


def _state():
    return (
        StockMove.objects.count(),
        StockPosting.objects.count(),
        Lot.objects.count(),
        list(StockBalance.objects.order_by("id").values_list("id", "quantity", "value")),
    )


def _produce(stock, dough, quantity="5"):
    return services.produce(
        item=dough,
        location=stock.walk_in,
        quantity=D(quantity),
        components=[
            services.ComponentInput(stock.flour.pk, D(quantity) * D("0.8")),
            services.ComponentInput(stock.milk.pk, D(quantity) * D("0.3")),
        ],
        key=key(),
        actor=SYSTEM,
    )


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def _options(body: str, name: str) -> list[str]:
    """The values offered by the form's select `name` (blank left out)."""
    select = re.search(rf'<select[^>]*name="{name}".*?</select>', body)
    assert select is not None, name
    return [value for value in re.findall(r'<option value="(\d*)"', select.group(0)) if value]


# --- the permission matrix -------------------------------------------------------------------


def test_list_matrix(stock, dough, people):
    _stocked(stock)
    made = _produce(stock, dough)
    lot = Lot.objects.get(item=dough)
    result = assert_matrix(
        "GET",
        LIST,
        allowed=people["staff_a"],
        forbidden=people["tech_a"],
        other_scope=people["staff_b"],
        expect_other_scope=200,
    )
    body = _text(result.allowed)
    assert body.count('data-testid="production-row"') == 1
    assert f'data-lot="{lot.code}"' in body
    assert "11.80 CNY" in body and "5 kg" in body
    assert 'data-testid="new-production"' in body
    other = _text(result.other_scope)
    assert 'data-testid="production-row"' not in other and lot.code not in other
    assert made.posting.operation == "produce"


def test_new_page_matrix(stock, dough, people):
    result = assert_matrix(
        "GET",
        NEW,
        allowed=people["staff_a"],
        forbidden=people["tech_a"],
        other_scope=people["staff_b"],
        expect_other_scope=200,  # a form for their own store
    )
    body = _text(result.allowed)
    assert _options(body, "item_id") == [str(dough.pk)]  # not the ingredients
    assert _options(body, "location_id") == [str(stock.dry.pk), str(stock.walk_in.pk)]
    assert re.search(r'name="key" value="[0-9a-f]{32}"', body)
    other = _text(result.other_scope)
    assert _options(other, "location_id") == [str(stock.freezer_b.pk)]
    # Naming another store's location tells nothing.
    assert_matrix(
        "GET",
        f"{NEW}?location_id={stock.walk_in.pk}&item_id={dough.pk}&quantity=5",
        allowed=people["staff_a"],
        forbidden=people["tech_a"],
        other_scope=people["staff_b"],
    )


def test_post_matrix_records_for_the_allowed_user_only(stock, dough, people):
    _stocked(stock)
    result = assert_matrix(
        "POST",
        NEW,
        payload=_form(stock, dough),
        allowed=people["staff_a"],
        forbidden=people["tech_a"],
        other_scope=people["staff_b"],  # store B's staff naming store A's location
        expect_allowed=302,
        snapshot=_state,
    )
    assert result.allowed["Location"] == LIST
    move = StockMove.objects.get(reason="production")
    assert (move.item_id, move.location_id, move.quantity, move.actor_id) == (
        dough.pk,
        stock.walk_in.pk,
        D(5),
        people["staff_a"].pk,
    )


def test_store_b_cannot_post_to_store_a_even_with_store_a_items(stock, dough, people):
    _stocked(stock)
    before = _state()
    response = client_for(people["staff_b"]).post(NEW, _form(stock, dough))
    assert response.status_code == 404
    assert _state() == before


# --- posting ----------------------------------------------------------------------------------


def test_golden_production_consumes_the_recipe_and_carries_its_value(stock, dough, people):
    """Flour at 2.50 and milk at 1.20: 5 kg of dough uses 4 kg of flour (10.00) and 1.5 l of
    milk (1.80); its lot holds 5 kg worth 11.80 (2.36 / kg) and expires after 2 days."""
    _stocked(stock)
    audits, events = AuditEntry.objects.count(), OutboxEvent.objects.count()
    client = client_for(people["staff_a"])
    response = client.post(NEW, _form(stock, dough, quantity="0,5", unit="tub", lot_code="D-0412"))
    assert response.status_code == 302, _text(response)[:3000]
    posting = StockPosting.objects.get(operation="produce")
    assert (posting.operation, posting.site_id, posting.actor_id, posting.move_count) == (
        "produce",
        stock.walk_in.site_id,
        people["staff_a"].pk,
        3,
    )
    moves = list(
        StockMove.objects.filter(posting=posting)
        .order_by("id")
        .values_list("reason", "item_id", "location_id", "quantity", "unit_cost", "value")
    )
    walk_in = stock.walk_in.pk
    assert moves == [
        ("production_input", stock.flour.pk, walk_in, D(-4), D("2.5"), D("-10")),
        ("production_input", stock.milk.pk, walk_in, D("-1.5"), D("1.2"), D("-1.8")),
        ("production", dough.pk, walk_in, D(5), D("2.36"), D("11.8")),
    ]
    made = StockMove.objects.get(posting=posting, reason="production")
    lot = Lot.objects.get(pk=made.lot_id)
    assert (lot.item_id, lot.code) == (dough.pk, "D-0412")
    assert lot.expiry_date == site_today(stock.walk_in) + dt.timedelta(days=2)
    assert made.idempotency_key == f"page:u{people['staff_a'].pk}:production:{FORM_KEY}"
    assert made.source_type == "inventory.production"
    valuation = ItemValuation.objects.get(item=dough, location=stock.walk_in)
    assert (valuation.quantity, valuation.value, valuation.average_cost) == (
        D(5),
        D("11.8"),
        D("2.36"),
    )
    flour = ItemValuation.objects.get(item=stock.flour, location=stock.walk_in)
    assert (flour.quantity, flour.value) == (D(16), D(40))
    balance = StockBalance.objects.get(item=dough, location=stock.walk_in)
    assert (balance.lot_id, balance.quantity, balance.value) == (lot.pk, D(5), D("11.8"))
    audit = AuditEntry.objects.get(action="inventory.produce")
    assert audit.after["lot"] == "D-0412" and audit.actor_id == people["staff_a"].pk
    assert AuditEntry.objects.count() == audits + 1
    assert OutboxEvent.objects.count() == events + 1
    assert OutboxEvent.objects.filter(event_type="inventory.stock.posted").count() >= 1
    listing = client.get(response["Location"])
    body = _text(listing)
    assert "0.5 tub of Dough produced, lot D-0412." in body
    assert 'data-lot="D-0412"' in body and "11.80 CNY" in body and "5 kg" in body


def test_a_replayed_submit_posts_once(stock, dough, people):
    _stocked(stock)
    client = client_for(people["staff_a"])
    first = client.post(NEW, _form(stock, dough))
    assert first.status_code == 302
    after_first = _state()
    audits = AuditEntry.objects.count()
    second = client.post(NEW, _form(stock, dough))  # the double tap: same form, same key
    assert second.status_code == 302
    assert _state() == after_first
    assert AuditEntry.objects.count() == audits
    assert StockPosting.objects.filter(operation="produce").count() == 1
    assert "already recorded" in _text(client.get(second["Location"]))
    # A new form (a new key) produces again.
    third = client.post(NEW, _form(stock, dough, key="f" * 32, quantity="1"))
    assert third.status_code == 302
    assert StockPosting.objects.filter(operation="produce").count() == 2


def test_short_of_stock_shows_the_error_and_posts_nothing(stock, dough, people):
    _receive(stock, stock.flour, "1", "2")  # 4 kg needed; milk (warn) has none at all
    before = _state()
    response = client_for(people["staff_a"]).post(NEW, _form(stock, dough))
    assert response.status_code == 422
    body = _text(response)
    assert 'data-testid="form-errors"' in body
    assert "FLOUR at SHA001/WALKIN: short by 3 kg." in body
    assert "Nothing was posted." in body
    # The preview marks every short ingredient, not only the one the ledger refused first.
    assert body.count('data-testid="component-short"') == 2
    assert "short by 1.5 l" in body
    # What was typed is kept, with the same key for the next try.
    assert f'name="key" value="{FORM_KEY}"' in body
    assert re.search(r'name="quantity"[^>]*value="5"', body)
    assert _state() == before


def test_every_form_problem_at_once_and_nothing_posted(stock, dough, people):
    _stocked(stock)
    client = client_for(people["staff_a"])
    before = _state()
    response = client.post(NEW, {"key": FORM_KEY, "item_id": "", "quantity": "", "location_id": ""})
    assert response.status_code == 422
    body = _text(response)
    for message in ("Choose a location.", "Choose a prepared item.", "Type the quantity made."):
        assert message in body
    response = client.post(NEW, _form(stock, dough, unit="crate", quantity="-1", lot_code="x" * 61))
    assert response.status_code == 422
    body = _text(response)
    assert "The quantity must be more than zero." in body
    assert "A lot code has at most 60 characters." in body
    response = client.post(NEW, _form(stock, dough, unit="crate"))
    assert response.status_code == 422
    assert "“crate” is not a unit of DOUGH." in _text(response)
    # A prepared item without a recipe is not offered, and refused when named.
    plain = make_item("SAUCE", "l", "food", kind="prepared")
    response = client.post(NEW, _form(stock, plain))
    assert response.status_code == 422
    assert "Choose a prepared item that has a recipe." in _text(response)
    # No key (an old or forged form): refused, and a fresh key is drawn.
    response = client.post(NEW, _form(stock, dough, key=""))
    assert response.status_code == 422
    body = _text(response)
    assert "This form is out of date" in body
    assert re.search(r'name="key" value="[0-9a-f]{32}"', body)
    assert _state() == before


def test_a_closed_location_is_refused(stock, dough, people):
    _stocked(stock)
    services.update_location(stock.dry, actor=SYSTEM, is_active=False)
    before = _state()
    response = client_for(people["staff_a"]).post(
        NEW, _form(stock, dough, location_id=stock.dry.pk)
    )
    assert response.status_code == 422
    assert "Choose an open stock location." in _text(response)
    assert _state() == before


# --- the preview ------------------------------------------------------------------------------


def test_preview_fragment_explodes_the_recipe_with_htmx(stock, dough, people):
    _stocked(stock)
    client = client_for(people["staff_a"])
    query = {"location_id": stock.walk_in.pk, "item_id": dough.pk, "quantity": "1", "unit": "tub"}
    response = client.get(NEW, query, **HX)
    assert response.status_code == 200
    body = _text(response)
    assert "<html" not in body and 'id="production-preview"' in body
    rows = re.findall(r'data-testid="component-row" data-sku="([A-Z]+)"', body)
    assert rows == ["FLOUR", "MILK"]
    # 1 tub = 10 kg of dough: 8 kg of flour (20 on hand), 3 l of milk (3 on hand).
    assert "8 kg</div>" in body and "20 kg on hand" in body
    assert "3 l</div>" in body and "3 l on hand" in body
    assert 'data-testid="component-short"' not in body
    assert "Worth about 23.60 CNY" in body
    assert 'data-testid="preview-summary">Makes 1 tub of Dough.' in body
    assert '<option value="tub">' in body  # the item's units for the unit field
    response = client.get(NEW, {**query, "quantity": "3"}, **HX)
    body = _text(response)
    assert "short by 4 kg" in body and "short by 6 l" in body
    response = client.get(NEW, {**query, "unit": "crate"}, **HX)
    assert "“crate” is not a unit of DOUGH." in _text(response)
    assert StockMove.objects.filter(reason="production").count() == 0
    # Without JavaScript, "Update what it uses" re-renders the whole page and posts nothing.
    response = client.post(NEW, {**_form(stock, dough), "preview": "1"})
    assert response.status_code == 200
    assert 'data-testid="component-row"' in _text(response)
    assert StockMove.objects.filter(reason="production").count() == 0


def test_list_paginates_and_its_query_count_does_not_grow(
    stock, dough, people, django_assert_max_num_queries
):
    _receive(stock, stock.flour, "1000", "2")
    _receive(stock, stock.milk, "1000", "1")
    client = client_for(people["staff_a"])
    _produce(stock, dough, "1")
    with django_assert_max_num_queries(12) as small:
        assert client.get(LIST).status_code == 200
    for _ in range(34):
        _produce(stock, dough, "1")
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(LIST)
    body = _text(response)
    assert body.count('data-testid="production-row"') == 30
    assert "35 productions" in body and "Page 1 of 2" in body
    second = client.get(LIST, {"page": "2"}, **HX)
    assert _text(second).count('data-testid="production-row"') == 5
    assert "<html" not in _text(second)
