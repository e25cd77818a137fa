"""Suggested orders: SH001's manager reviews the morning's suggestion on the phone (and the
desktop), opens a line's explanation, orders more of one item with a reason and submits it as
a requisition; the forecast page shows the store's forecast."""

from __future__ import annotations

from decimal import Decimal

import pytest

from backroom.org.models import Site
from backroom.planning.models import SuggestedOrder, SuggestionStatus
from backroom.procurement.models import Requisition
from tests.browser.conftest import PHONE, screenshot
from tests.browser.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_edits_and_submits_a_suggestion(demo, live_server, page_at, viewport):
    name, _size = viewport
    page = page_at
    site = Site.objects.get(node__code="SH001")
    order = (
        SuggestedOrder.objects.filter(site=site, status=SuggestionStatus.OPEN)
        .filter(lines__packs__gt=0)
        .distinct()
        .first()
    )
    assert order is not None, "the demo suggests an order at SH001"
    line = order.lines.filter(packs__gt=0).select_related("item").first()
    sign_in(page, live_server.url, "manager.sh001")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/planning/suggestions/?store={site.pk}")
    card = page.locator(f"[data-testid=suggestion][data-supplier='{order.supplier.code}']")
    card.wait_for()
    row = card.locator(f"[data-testid=suggestion-line][data-sku='{line.item.sku}']")
    row.locator("[data-testid=line-why]").click()
    explanation = row.locator("[data-testid=line-explanation]")
    assert "need" in explanation.inner_text()
    if name == "phone":
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, f"suggested-orders-en-{name}")
    more = line.quantity + line.supplier_item.pack_size * 4
    row.locator("[data-testid=line-quantity]").fill(str(more))
    row.locator("[data-testid=line-reason]").fill("Catering order on Saturday")
    card.locator("[data-testid=suggestion-submit]").click()
    page.locator(".alert-success").wait_for()
    order.refresh_from_db()
    assert order.status == SuggestionStatus.SUBMITTED
    requisition = Requisition.objects.get(pk=order.requisition_id)
    submitted = requisition.lines.get(item=line.item)
    assert submitted.quantity == Decimal(more)
    assert submitted.deviation_reason == "Catering order on Saturday"
    page.locator(
        f"[data-testid=suggestion][data-supplier='{order.supplier.code}'] [data-testid=suggestion-submitted]"
    ).wait_for()

    page.goto(f"{live_server.url}/planning/?store={site.pk}")
    page.locator("[data-testid=forecast-row][data-sku=guests]").wait_for()
    screenshot(page, f"forecasts-en-{name}")
