"""Production on a phone: the SH001 store manager makes scallion oil in the walk-in — picks the
item, sees the ingredients it will use (an HTMX preview), records it, and finds it in the list
with its lot; the ledger took the recipe's ingredients and made the lot at their value."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import expect

from backroom.catalog.models import Item
from backroom.catalog.recipes import explode
from backroom.inventory import services
from backroom.inventory.choices import LocationKind
from backroom.inventory.models import ItemValuation, Location, StockMove, StockPosting
from backroom.kernel.actors import SYSTEM
from tests.browser.conftest import ARTIFACTS, PHONE, screenshot
from tests.browser.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SKU = "PREP-SCALLION-OIL"


def _fits(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def _stock_ingredients(item: Item, location: Location, litres: Decimal) -> dict[int, Decimal]:
    """Make sure the walk-in holds what `litres` of the item use (received through the ledger)."""
    used = explode(item, litres, site=location.site)
    for item_id, quantity in used.items():
        held = ItemValuation.objects.filter(item_id=item_id, location=location).first()
        on_hand = held.quantity if held is not None else Decimal(0)
        if on_hand < quantity:
            services.receive(
                item=item_id,
                location=location,
                quantity=quantity - on_hand + 1,
                unit_cost=Decimal("4"),
                key=f"browser-production-{item_id}",
                actor=SYSTEM,
            )
    return used


@pytest.mark.parametrize("viewport", [("phone", PHONE)])
def test_store_manager_records_production_on_a_phone(demo, live_server, page_at, viewport):
    page = page_at
    item = Item.objects.get(sku=SKU)
    walk_in = Location.objects.get(site__node__code="SH001", kind=LocationKind.WALK_IN)
    used = _stock_ingredients(item, walk_in, Decimal(1))
    before = {
        row.item_id: row.quantity
        for row in ItemValuation.objects.filter(item_id__in=used, location=walk_in)
    }
    sign_in(page, live_server.url, "manager.sh001")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/stock/production/")
    _fits(page)
    page.click("[data-testid=new-production]")
    page.wait_for_selector("[data-testid=production-form]")
    assert page.locator("[data-testid=quantity]").get_attribute("inputmode") == "decimal"
    page.select_option("[data-testid=location]", str(walk_in.pk))
    page.select_option("[data-testid=item]", str(item.pk))
    page.fill("[data-testid=quantity]", "1")
    # The preview comes back with one row per ingredient, none of them short.
    expect(page.locator("[data-testid=component-row]")).to_have_count(len(used))
    page.wait_for_selector("[data-testid=preview-summary]:has-text('Makes 1 l')")
    assert page.locator("[data-testid=component-short]").count() == 0
    skus = page.locator("[data-testid=component-row]").evaluate_all(
        "rows => rows.map(row => row.dataset.sku)"
    )
    assert sorted(skus) == sorted(Item.objects.filter(pk__in=used).values_list("sku", flat=True))
    _fits(page)
    page.screenshot(path="/tmp/production-phone.png", full_page=True)
    screenshot(page, "production-new-en-phone")
    page.screenshot(path=str(ARTIFACTS / "production-new-en-phone-screen.png"))
    page.click("[data-testid=save-production]")
    page.wait_for_selector("[data-testid=production-row]")
    assert "produced, lot" in page.inner_text(".alert-success")
    posting = StockPosting.objects.filter(operation="produce").order_by("-id").first()
    assert posting is not None and posting.actor.username == "manager.sh001"
    made = StockMove.objects.get(posting=posting, reason="production")
    assert (made.item_id, made.location_id, made.quantity) == (item.pk, walk_in.pk, Decimal(1))
    # Each ingredient is taken first-expiry-first-out, so one ingredient may span several lots.
    inputs = list(StockMove.objects.filter(posting=posting, reason="production_input"))
    taken: dict[int, Decimal] = {}
    for move in inputs:
        taken[move.item_id] = taken.get(move.item_id, Decimal(0)) - move.quantity
    assert taken == used
    assert made.value == -sum(move.value for move in inputs)
    for item_id, quantity in used.items():
        row = ItemValuation.objects.get(item_id=item_id, location=walk_in)
        assert row.quantity == before[item_id] - quantity
    first = page.locator("[data-testid=production-row]").first
    assert first.get_attribute("data-lot") == made.lot.code
    assert first.get_attribute("data-sku") == SKU
    _fits(page)
    screenshot(page, "production-list-en-phone")
    page.screenshot(path="/tmp/production-list-phone.png", full_page=True)
    assert page.js_errors == [], page.js_errors
