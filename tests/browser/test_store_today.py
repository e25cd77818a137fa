"""The store manager of SH001 opens "Today" from the home page on a phone (390 × 844) and on a
desktop: the hourly chart draws today's sales against the forecast, the cards and sections are
there, and the body refreshes itself by HTMX."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from backroom.catalog.models import Item
from backroom.channels import pos
from backroom.dashboards.today import today_sales
from backroom.kernel.actors import SYSTEM
from backroom.kernel.dates import business_date
from backroom.org.models import Site
from tests.browser.conftest import screenshot
from tests.browser.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sell_now(site: Site) -> None:
    """A till sale at SH001 right now, so the running hour has a bar whatever the demo's hours."""
    item = Item.objects.filter(kind="menu", is_active=True).order_by("sku").first()
    assert item is not None
    pos.submit_orders(
        [
            pos.TillOrder(
                uuid=uuid.uuid4(),
                store_id=site.pk,
                placed_at=timezone.now(),
                display_id="T-TODAY",
                currency="CNY",
                total=Decimal("88.00"),
                original_price=Decimal("88.00"),
                lines=[
                    pos.TillLine(
                        sku=item.sku,
                        name=item.name,
                        quantity=Decimal(1),
                        unit_price=Decimal("88.00"),
                    )
                ],
            )
        ],
        actor=SYSTEM,
    )


def test_store_manager_opens_today(demo, live_server, page_at, viewport):
    name, size = viewport
    page = page_at
    site = Site.objects.select_related("node", "legal_entity").get(node__code="SH001")
    _sell_now(site)
    day = business_date(timezone.now(), time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)
    expected = today_sales(site, day, timezone.now())
    assert expected.orders >= 1

    sign_in(page, live_server.url, "manager.sh001")
    page.click("[data-testid=store-today]")
    page.wait_for_url(f"**/dashboards/today/?site={site.pk}")
    chart = page.locator("[data-testid=today-chart]")
    chart.locator("canvas").first.wait_for(state="visible")
    box = chart.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] >= 200
    # The numbers the page shows are the selector's.
    gross = page.locator("[data-testid=today-gross]").inner_text()
    assert f"{expected.gross:,.0f}" in gross
    assert page.locator("[data-testid=today-orders]").inner_text() == str(expected.orders)
    assert page.locator("[data-testid=today-updated]").is_visible()
    for section in ("today-deliveries", "today-counts", "today-sold-out", "today-approvals"):
        assert page.locator(f"[data-testid={section}]").count() == 1, section
    # Nothing wider than the screen on a phone: no sideways scrolling in a busy kitchen.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= size["width"], width
    # The chart has data drawn: ECharts keeps its option with one bar per hour shown.
    bars = page.evaluate(
        "window.echarts.getInstanceByDom(document.getElementById('today-chart'))"
        ".getOption().series[0].data.length"
    )
    assert bars == len(expected.hours)
    screenshot(page, f"store-today-{name}")

    # The HTMX refresh brings the body back and the chart is drawn again.
    page.evaluate(
        "htmx.ajax('GET', document.getElementById('today-body').getAttribute('hx-get'),"
        " {target: '#today-body', swap: 'outerHTML'})"
    )
    page.wait_for_timeout(500)
    page.locator("[data-testid=today-chart] canvas").first.wait_for(state="visible")
    assert page.js_errors == []
