"""Finance in the browser: finance drills from SH001's P&L food cost into the journals behind
it, and from the inventory account into a receipt's journal and the receiving document; a
store staff member submits an expense claim with a receipt photo on a phone."""

from __future__ import annotations

from typing import Any

import pytest

from backroom.finance.demo import receipt_image
from backroom.finance.models import ExpenseClaim, Journal
from backroom.org.models import Site
from tests.browser.conftest import PHONE, screenshot
from tests.browser.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _fits(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


@pytest.mark.parametrize("viewport", [("desktop", {"width": 1366, "height": 900})])
def test_finance_drills_from_the_pnl_to_journals_and_the_receipt(demo, live_server, page_at):
    page = page_at
    site = Site.objects.get(node__code="SH001")
    sign_in(page, live_server.url, "finance")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/finance/pnl/")
    page.select_option("#f-store", str(site.pk))
    page.click("[data-testid=report-show]")
    food = page.locator("[data-testid=pnl-line][data-section=food_cost]").first
    food.wait_for()
    assert page.locator("[data-testid=pnl-food-cost-pct] td").nth(1).inner_text().endswith("%")
    screenshot(page, "finance-pnl-sh001-desktop")
    food.locator("[data-testid=pnl-figure]").first.click()
    page.wait_for_selector("[data-testid=journal-row]")
    screenshot(page, "finance-food-cost-journals-desktop")
    page.locator("[data-testid=journal-row]").first.click()
    page.wait_for_selector("[data-testid=journal-lines]")
    assert page.locator("[data-testid=journal-status]").inner_text().strip() == "Posted"
    # From the inventory account of the trial balance to a receipt and its receiving document.
    page.goto(f"{live_server.url}/finance/trial-balance/?store={site.pk}")
    page.locator("[data-testid=tb-row][data-account='1403'] a").click()
    page.wait_for_selector("[data-testid=journal-row]")
    # A receipt of the SH001 story (received through procurement): found by its number.
    receipt = (
        Journal.objects.filter(source_type="procurement.receipt", lines__site=site)
        .exclude(source_id__contains="-")
        .order_by("-id")
        .first()
    )
    page.fill("#j-q", receipt.source_number)
    page.locator("[data-testid=journal-filters] button[type=submit]").click()
    page.locator(f"[data-testid=journal-row][data-number='{receipt.number}']").click()
    page.locator("[data-testid=source-link]").click()
    page.wait_for_url("**/procurement/receipts/**")
    screenshot(page, "finance-receipt-from-journal-desktop")
    assert page.js_errors == [], page.js_errors


@pytest.mark.parametrize("viewport", [("phone", PHONE)])
def test_staff_submits_an_expense_claim_on_a_phone(demo, live_server, page_at):
    page = page_at
    sign_in(page, live_server.url, "staff.sh001")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/finance/claims/")
    _fits(page)
    page.click("[data-testid=new-claim]")
    page.select_option("[data-testid=claim-category]", "repairs")
    page.fill("[data-testid=claim-description]", "Fridge door handle")
    page.fill("[data-testid=claim-amount]", "not money")
    page.set_input_files(
        "[data-testid=claim-receipt]",
        files=[{"name": "receipt.png", "mimeType": "image/png", "buffer": receipt_image(7)}],
    )
    page.click("[data-testid=claim-submit]")
    page.wait_for_selector("[data-testid=error-amount]")
    _fits(page)
    screenshot(page, "finance-claim-error-phone")
    before = ExpenseClaim.objects.count()
    page.fill("[data-testid=claim-amount]", "88.50")
    page.set_input_files(
        "[data-testid=claim-receipt]",
        files=[{"name": "receipt.png", "mimeType": "image/png", "buffer": receipt_image(7)}],
    )
    page.click("[data-testid=claim-submit]")
    page.wait_for_selector("[data-testid=claim-summary]")
    _fits(page)
    screenshot(page, "finance-claim-submitted-phone")
    claim = ExpenseClaim.objects.order_by("-id").first()
    assert ExpenseClaim.objects.count() == before + 1
    assert claim.description == "Fridge door handle" and str(claim.amount) == "88.5000"
    assert page.locator("[data-testid=claim-status]").inner_text().strip() == (
        claim.get_status_display()
    )
    assert page.js_errors == [], page.js_errors
