"""A store manager's requisition is approved by the region manager on a phone, in two taps from
the inbox, and the requester sees the result on "My requests"."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from backroom.accounts.models import User
from backroom.approvals import runtime
from backroom.approvals.models import ApprovalRequest
from tests.browser.conftest import PHONE, screenshot
from tests.browser.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def viewport() -> tuple[str, dict[str, int]]:
    return "phone", PHONE


def _fits(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_region_manager_approves_on_a_phone(demo, live_server, page_at):
    page = page_at
    manager = User.objects.get(username="manager.sh001")
    request = runtime.submit(
        runtime.Submission(
            document_type="procurement.requisition",
            document_id="REQ-PHONE-1",
            fields={"amount": "9200.00", "store": "SH001", "category": "equipment"},
            document_currency="CNY",
            document_amount=Decimal("9200.00"),
        ),
        requester=manager,
        actor=manager,
    )

    sign_in(page, live_server.url, "region.east")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/approvals/inbox/")
    cards = page.locator("[data-testid=inbox-card]")
    # The demo's ¥8,600 requisition (and a write-off) wait too, older: the new one comes last.
    assert cards.count() >= 2
    demo_card = page.locator("[data-testid=inbox-card]", has_text="REQ-DEMO-0003")
    assert "8,600.00 CNY" in demo_card.inner_text()
    assert cards.nth(cards.count() - 1).get_attribute("data-request") == str(request.pk)
    card = page.locator(f"[data-testid=inbox-card][data-request='{request.pk}']")
    assert "9,200.00 CNY" in card.locator("[data-testid=card-amount]").inner_text()
    assert "SH001" in card.locator("[data-testid=card-store]").inner_text()
    _fits(page)
    screenshot(page, "approval-inbox-en-phone")
    assert not page.js_errors  # type: ignore[attr-defined]

    card.locator("[data-testid=reject]").click()  # the inline form opens, nothing is sent
    assert card.locator("[data-testid=reject-reason]").is_visible()
    _fits(page)
    screenshot(page, "approval-inbox-reject-open-en-phone")
    card.locator("[data-testid=reject]").click()  # and closes again
    card.locator("[data-testid=approve]").click()
    card.locator("[data-testid=card-done]").wait_for()
    assert "Approved." in card.inner_text()
    request.refresh_from_db()
    assert request.status == "approved"
    screenshot(page, "approval-inbox-decided-en-phone")

    page.context.clear_cookies()
    sign_in(page, live_server.url, "manager.sh001")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/approvals/requests/")
    row = page.locator(f"[data-testid=request-row][data-request='{request.pk}']")
    assert row.get_attribute("data-status") == "approved"
    assert "Approved" in row.locator("[data-testid=request-status]").inner_text()
    demo_request = ApprovalRequest.objects.get(document_id="REQ-DEMO-0003")
    waiting = page.locator(f"[data-testid=request-row][data-request='{demo_request.pk}']")
    assert "Waiting at" in waiting.inner_text()
    _fits(page)
    screenshot(page, "approval-my-requests-en-phone")
    row.locator("[data-testid=request-link]").click()
    page.wait_for_selector("[data-testid=request-route]")
    assert page.locator("[data-testid=request-status]").get_attribute("data-status") == "approved"
    _fits(page)
    screenshot(page, "approval-request-en-phone")
    assert not page.js_errors  # type: ignore[attr-defined]
