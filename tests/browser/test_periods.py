"""Month end: finance closes SH001's stock period on the stock periods page (desktop and phone),
tries to reopen it without a reason (refused next to the store's form), and finds the change in
the store's history."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from backroom.inventory.models import StockPeriodClose
from backroom.inventory.periods import closed_through
from backroom.org.models import Site
from tests.browser.conftest import ARTIFACTS, PHONE, screenshot
from tests.browser.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _fits(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_finance_closes_a_store_month(demo, live_server, page_at, viewport):
    name, _size = viewport
    page = page_at
    site = Site.objects.get(node__code="SH001")
    sign_in(page, live_server.url, "finance")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/stock/periods/")
    row = page.locator(f"#site-{site.pk}")
    suggested = row.locator("[data-testid=period-through]").input_value()
    assert suggested, "the form suggests last month's end"
    if name == "phone":
        _fits(page)
    screenshot(page, f"periods-en-{name}")
    page.screenshot(path=str(ARTIFACTS / f"periods-en-{name}-screen.png"))
    row.locator("[data-testid=period-close]").click()
    page.wait_for_selector(".alert-success")
    assert closed_through([site.pk]) == {site.pk: dt.date.fromisoformat(suggested)}
    row = page.locator(f"#site-{site.pk}")
    assert row.locator("[data-testid=closed-through]").inner_text().strip() == suggested
    # Reopening without a reason is refused next to the store's form; nothing changes.
    count = StockPeriodClose.objects.count()
    row.locator("[data-testid=period-reopen]").click()
    page.wait_for_selector(f"#site-{site.pk} [data-testid=reason-errors]")
    assert StockPeriodClose.objects.count() == count
    if name == "phone":
        _fits(page)
    screenshot(page, f"periods-error-en-{name}")
    page.locator(f"#site-{site.pk}").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"periods-error-en-{name}-screen.png"))
    page.locator(f"#site-{site.pk} [data-testid=period-history-link]").click()
    page.wait_for_selector("[data-testid=period-change]")
    assert page.locator("[data-testid=change-through]").first.inner_text().strip() == suggested
    if name == "phone":
        _fits(page)
    screenshot(page, f"period-history-en-{name}")
    assert page.js_errors == [], page.js_errors
