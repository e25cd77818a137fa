"""The stock reports in a browser: the region manager runs actual vs theoretical for the East
region over the demo's last three weeks, sees the rows sorted by variance value, drills down to
an item's moves and downloads the CSV (desktop and phone); the SH001 store manager checks stock
on hand and what expires soon on a phone."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from backroom.catalog.models import Item
from backroom.catalog.selectors import site_today
from backroom.inventory import selectors, services
from backroom.kernel.actors import SYSTEM
from backroom.org.models import OrgNode
from tests.browser.conftest import ARTIFACTS, PHONE, screenshot
from tests.browser.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _look(page: Any, name: str) -> None:
    """A full-page screenshot and one of what the screen shows."""
    screenshot(page, name)
    page.screenshot(path=str(ARTIFACTS / f"{name}-screen.png"))


def _fits(page: Any, width: int) -> None:
    """Nothing on the page is wider than the screen (tables scroll inside their cards)."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def _period() -> tuple[dt.date, dt.date]:
    """The demo's counted history: three weeks ending yesterday (the store's business day)."""
    date_to = site_today(OrgNode.objects.get(code="SH001").site) - dt.timedelta(days=1)
    return date_to - dt.timedelta(days=20), date_to


def test_region_manager_runs_avt_drills_down_and_exports(demo, live_server, page_at, viewport):
    name, size = viewport
    page = page_at
    sign_in(page, live_server.url, "region.east")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/stock/avt/")
    page.wait_for_selector("[data-testid=avt-filters]")

    east = OrgNode.objects.get(code="EAST")
    date_from, date_to = _period()
    page.select_option("#avt-node", str(east.pk))
    page.fill("#avt-from", date_from.isoformat())
    page.fill("#avt-to", date_to.isoformat())
    page.click("[data-testid=avt-apply]")
    page.wait_for_url(f"**node_id={east.pk}**")
    page.wait_for_selector("[data-testid=avt-row]")
    assert page.input_value("#avt-node") == str(east.pk)
    assert page.input_value("#avt-from") == date_from.isoformat()

    rows = page.locator("[data-testid=avt-row]")
    values = [Decimal(value) for value in rows.evaluate_all(
        "rows => rows.map(row => row.dataset.varianceValue)"
    )]  # fmt: skip
    assert len(values) >= 10
    assert [abs(value) for value in values] == sorted(
        (abs(value) for value in values), reverse=True
    )
    assert values[0] > 0  # the demo loses beef and beer: the top line is a loss
    percent = page.inner_text("[data-testid=avt-variance-percent]")
    assert 0.5 <= float(percent.rstrip(" %")) <= 10
    page.wait_for_function(
        "document.querySelector('[data-testid=avt-chart] canvas') !== null"
    )  # the ECharts bar chart drew
    _fits(page, size["width"])
    _look(page, f"avt-report-en-{name}")
    page.locator("[data-testid=avt-table]").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"avt-table-en-{name}-screen.png"))
    page.locator("[data-testid=avt-categories]").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"avt-categories-en-{name}-screen.png"))

    # Drill down: the top item's moves in the period, each naming its document.
    top_sku = rows.first.get_attribute("data-sku")
    rows.first.locator("[data-testid=avt-drill]").click()
    moves = page.locator("[data-testid=avt-moves] [data-testid=move-row]")
    moves.first.wait_for()
    assert moves.count() >= 5
    reasons = set(moves.evaluate_all("rows => rows.map(row => row.dataset.reason)"))
    assert {"receipt", "sale", "count_variance"} <= reasons
    assert page.locator("[data-testid=avt-moves] [data-testid=move-source]").count() >= 1
    _fits(page, size["width"])
    page.locator("[data-testid=avt-moves]").scroll_into_view_if_needed()
    _look(page, f"avt-drill-en-{name}")
    # A region's drill-down can hold hundreds of moves: they scroll inside the row.
    box = page.locator("[data-testid=avt-moves]").bounding_box()
    assert box is not None and box["height"] < 700

    # Export: the same rows as CSV with a header, for Excel (UTF-8 with BOM).
    with page.expect_download() as download_info:
        page.click("[data-testid=export-csv]")
    download = download_info.value
    assert download.suggested_filename == f"avt-EAST-{date_from:%Y%m%d}-{date_to:%Y%m%d}.csv"
    raw = Path(download.path()).read_bytes()
    assert raw.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert table[0][:4] == ["SKU", "Item", "Category", "Unit"]
    assert table[0][-2:] == ["Variance value (CNY)", "Variance % of sales"]
    body = table[1:-2]
    assert len(body) == len(values)
    assert body[0][0] == top_sku
    assert [Decimal(row[16]) for row in body] == values
    assert table[-2][1] == "Total" and table[-1][1] == "Sales revenue"
    assert page.js_errors == []


@pytest.mark.parametrize("viewport", [("phone", PHONE)])
def test_store_manager_checks_stock_on_a_phone(demo, live_server, page_at, viewport):
    page = page_at
    sign_in(page, live_server.url, "manager.sh001")
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/stock/")
    page.wait_for_selector("[data-testid=on-hand-table]")
    rows = page.locator("[data-testid=on-hand-row]")
    assert rows.count() >= 20
    assert int(page.inner_text("[data-testid=on-hand-count]")) >= rows.count()
    assert Decimal(page.inner_text("[data-testid=on-hand-value]").replace(",", "")) > 0
    # Only the manager's store: every row's location is at SH001.
    locations = rows.evaluate_all("rows => rows.map(row => row.dataset.location)")
    assert locations and all(location.startswith("SH001/") for location in locations)
    _fits(page, PHONE["width"])
    _look(page, "stock-on-hand-en-phone")

    # Filter by SKU (HTMX swaps the table and pushes the URL).
    sku = rows.first.get_attribute("data-sku")
    page.fill("#oh-sku", sku)
    page.press("#oh-sku", "Enter")
    page.wait_for_url(f"**q={sku}**")
    page.wait_for_function(
        "sku => [...document.querySelectorAll('[data-testid=on-hand-row]')]"
        ".every(row => row.dataset.sku === sku)",
        arg=sku,
    )
    _fits(page, PHONE["width"])

    # With the store chosen, a reserved item shows what is left to promise, stacked.
    store = OrgNode.objects.get(code="SH001").site
    reserved = Item.objects.get(sku=sku)
    half = selectors.available_to_promise(reserved, store) / 2
    services.reserve(item=reserved, site=store, quantity=half, key="phone-atp", actor=SYSTEM)
    page.goto(f"{live_server.url}/stock/?site={store.pk}")
    atp = page.locator(f"[data-testid=atp-row][data-sku='{sku}']")
    atp.wait_for()
    assert "Reserved" in atp.inner_text() and "Available" in atp.inner_text()
    _fits(page, PHONE["width"])
    page.locator("[data-testid=atp]").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "stock-on-hand-atp-en-phone-screen.png"))

    page.click("[data-testid=report-nav] a[href='/stock/expiring/']")
    page.wait_for_selector("[data-testid=expiring-table]")
    page.fill("#ex-days", "30")
    page.press("#ex-days", "Enter")
    page.wait_for_url("**days=30**")
    expiring = page.locator("[data-testid=expiring-row]")
    expiring.first.wait_for()
    days = [int(value) for value in expiring.evaluate_all("rows => rows.map(r => r.dataset.days)")]
    assert days == sorted(days) and max(days) <= 30
    _fits(page, PHONE["width"])
    _look(page, "stock-expiring-en-phone")

    # An item's movements, from its on-hand row.
    page.goto(f"{live_server.url}/stock/")
    page.locator("[data-testid=on-hand-row] a").first.click()
    page.wait_for_selector("[data-testid=moves-table]")
    assert page.locator("[data-testid=move-row]").count() >= 1
    _fits(page, PHONE["width"])
    _look(page, "stock-movements-en-phone")
    assert page.js_errors == []
