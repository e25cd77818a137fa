"""A stock count (盘点) on a phone, from start to posting: the store manager starts the daily
walk-in count from its template, types quantities in two units (cases and packs) and saves each
line with HTMX, saves the rest of the location at once, submits; the variances are above the
review threshold, so the region manager approves and posts, and the on-hand follows the count."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from backroom.inventory.models import CountLine, CountSheet, CountTemplate, StockBalance
from tests.browser.conftest import ARTIFACTS, PHONE, screenshot
from tests.browser.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _templates() -> None:
    """The demo's count templates (seeded here too until the demo seed calls them)."""
    from backroom.config.demo import DemoContext
    from backroom.inventory.demo_counts import seed_count_templates
    from backroom.org.models import OrgNode

    if not CountTemplate.objects.exists():
        nodes = {node.code: node for node in OrgNode.objects.all()}
        seed_count_templates(DemoContext(random=random.Random(1), nodes=nodes))


def _look(page: Any, name: str) -> None:
    """A full-page screenshot and one of what the phone's screen shows."""
    screenshot(page, name)
    page.screenshot(path=str(ARTIFACTS / f"{name}-screen.png"))


def _wait_saved(page: Any, line_id: str) -> None:
    page.wait_for_selector(f"#{line_id}.is-saved")


@pytest.mark.parametrize("viewport", [("phone", PHONE)])
def test_a_count_on_a_phone_from_template_to_posting(
    demo, live_server, page_at, viewport, settings
):
    _templates()
    # The demo's stock depends on the day it is seeded: a low threshold makes review certain.
    settings.INVENTORY_COUNT_REVIEW_THRESHOLD = "1"
    page = page_at
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, live_server.url, "manager.sh001")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/stock/counts/")
    page.click("[data-testid=new-count]")
    page.wait_for_selector("[data-testid=count-templates]")
    _look(page, "count-start-en-phone")
    page.click("[data-testid=start-template][data-name*='Daily walk-in']")
    page.wait_for_selector("[data-testid=count-line]")
    sheet = CountSheet.objects.get(status="counting")
    assert sheet.template is not None and sheet.site.node.code == "SH001"
    total = sheet.lines.count()
    assert total >= 6
    assert page.locator("[data-testid=count-line]").count() == total
    # Phone layout: nothing wider than the screen, inputs big enough to touch.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    first_input = page.locator("[data-testid=count-line] input[data-unit]").first
    assert first_input.get_attribute("inputmode") == "decimal"
    assert first_input.bounding_box()["height"] >= 44
    _look(page, "count-sheet-en-phone")

    # Three lines counted in two units each (e.g. 1 case + 2 packs), saved with Enter.
    lines = page.locator("[data-testid=count-line]")
    typed: list[str] = []
    for index in range(total):
        line = lines.nth(index)
        inputs = line.locator("input[data-unit]")
        if inputs.count() < 2:
            continue
        line_id = line.get_attribute("id")
        inputs.nth(0).fill("1")
        inputs.nth(1).fill("2")
        assert "is-dirty" in (line.get_attribute("class") or "")
        inputs.nth(inputs.count() - 1).press("Enter")
        _wait_saved(page, line_id)
        typed.append(line_id)
        if len(typed) == 3:
            break
    assert len(typed) == 3
    assert page.locator("[data-testid=count-progress]").get_attribute("data-counted") == "3"
    counted = {
        f"line-{line.pk}": line
        for line in CountLine.objects.filter(sheet=sheet, counted_quantity__isnull=False)
    }
    assert sorted(counted) == sorted(typed)
    for line in counted.values():
        assert [entry["quantity"] for entry in line.entries][:2] == ["1", "2"]

    # A typo is shown on its line; nothing else is lost.
    open_lines = page.locator("[data-testid=count-line].is-uncounted")
    bad = open_lines.nth(0)
    bad_id = bad.get_attribute("id")
    bad.locator("input[data-unit]").last.fill("3..5")
    bad.locator("[data-testid=save-line]").click()
    page.wait_for_selector(f"#{bad_id} [data-testid=line-error]")
    _look(page, "count-line-error-en-phone")

    # The rest: find one by searching, then zero everything left and save the location at once.
    page.fill("[data-testid=count-search]", "zzz-no-such-item")
    assert page.locator("[data-testid=count-line]:visible").count() == 0
    page.fill("[data-testid=count-search]", "")
    for index in range(page.locator("[data-testid=count-line].is-uncounted").count()):
        page.locator("[data-testid=count-line].is-uncounted").nth(index).locator(
            "input[data-unit]"
        ).last.fill("0")
    page.locator("[data-testid=save-group]").first.click()
    page.wait_for_function(
        "total => document.querySelector('[data-testid=count-progress]').dataset.counted == total",
        arg=str(total),
    )
    _look(page, "count-sheet-done-en-phone")
    page.click("[data-testid=submit-count]")
    try:
        page.wait_for_selector("[data-testid=review-required]")
    except Exception:
        _look(page, "count-debug")
        raise
    assert page.locator("[data-testid=waiting-approval]").count() == 1
    rows = page.locator("[data-testid=variance-row]")
    assert rows.count() >= 1
    values = [
        abs(Decimal(text.replace(",", "").strip()))
        for text in page.locator("[data-testid=variance-value]").all_inner_texts()
    ]
    assert values == sorted(values, reverse=True)
    _look(page, "count-review-en-phone")
    assert page.js_errors == []

    # The region manager approves and posts.
    page.context.clear_cookies()
    sign_in(page, live_server.url, "region.east")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/stock/counts/{sheet.pk}/")
    page.click("[data-testid=approve-post]")
    page.wait_for_selector("[data-testid=posted]")
    _look(page, "count-posted-en-phone")
    sheet.refresh_from_db()
    assert sheet.status == "posted" and sheet.approved_by.username == "region.east"
    # Nothing moved during the count: each line's stock is now what was counted.
    for line in CountLine.objects.filter(sheet=sheet):
        balance = StockBalance.objects.filter(
            item=line.item, location=line.location, lot=line.lot
        ).first()
        assert (balance.quantity if balance else Decimal(0)) == line.counted_quantity
    changed = CountLine.objects.filter(sheet=sheet).exclude(variance_quantity=0).count()
    assert changed >= 1
    assert page.js_errors == []
