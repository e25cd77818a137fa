"""The HQ dashboard in a browser: HQ operations drill from the chain to a region, a store, one
of its days and an item on it; every step's charts draw (desktop and a 390 px phone)."""

from __future__ import annotations

from typing import Any

import pytest

from backroom.org.models import OrgNode
from tests.browser.conftest import ARTIFACTS, screenshot
from tests.browser.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _look(page: Any, name: str) -> None:
    screenshot(page, name)
    page.screenshot(path=str(ARTIFACTS / f"{name}-screen.png"))


def _fits(page: Any, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def _drew(page: Any, testid: str) -> None:
    page.wait_for_function(f"document.querySelector('[data-testid={testid}] canvas') !== null")


def test_hq_drills_from_the_chain_to_an_item(demo, live_server, page_at, viewport):
    name, size = viewport
    page = page_at
    sign_in(page, live_server.url, "ops")
    page.wait_for_url(f"{live_server.url}/")
    assert "/dashboards/" in page.locator("[data-testid=nav] a").evaluate_all(
        "links => links.map(a => a.pathname)"
    )
    page.goto(f"{live_server.url}/dashboards/?period=last_28_days")
    page.wait_for_selector("[data-testid=dashboard-cards]")
    _drew(page, "chart-trend")
    _drew(page, "chart-channels")
    _drew(page, "chart-map")
    sales = page.locator("[data-testid=card-sales] [data-testid=card-value]")
    assert float(sales.get_attribute("data-value") or 0) > 0
    _fits(page, size["width"])
    _look(page, f"dashboard-chain-{name}")

    east = OrgNode.objects.select_related("parent").get(code="EAST")
    page.click(f"[data-testid=ranked-row][data-code='{east.parent.code}'] [data-testid=drill]")
    page.wait_for_url(f"**node={east.parent_id}**")
    page.click("[data-testid=ranked-row][data-code=EAST] [data-testid=drill]")
    page.wait_for_url(f"**node={east.pk}**")
    _drew(page, "chart-trend")
    rows = page.locator("[data-testid=ranked-row]")
    assert rows.count() >= 2
    values = [float(value or "nan") for value in rows.evaluate_all(
        "rows => rows.map(row => row.dataset.value)"
    )]  # fmt: skip
    assert values == sorted(values, reverse=True)  # sales: best first
    _fits(page, size["width"])
    _look(page, f"dashboard-region-{name}")

    rows.first.locator("[data-testid=drill]").click()
    page.wait_for_url("**/dashboards/stores/**")
    _drew(page, "chart-days")
    _fits(page, size["width"])
    _look(page, f"dashboard-store-{name}")

    page.locator("[data-testid=store-day-row]").nth(1).locator("[data-testid=drill-day]").click()
    page.wait_for_url("**/days/**")
    _drew(page, "chart-hours")
    assert page.locator("[data-testid=day-item]").count() >= 3
    _fits(page, size["width"])
    _look(page, f"dashboard-day-{name}")

    page.locator("[data-testid=drill-item]").first.click()
    page.wait_for_url("**/items/**")
    _drew(page, "chart-item")
    assert page.locator("[data-testid=item-day]").count() >= 1
    _fits(page, size["width"])
    _look(page, f"dashboard-item-{name}")
