"""On a phone: a store manager ticks two low-value requisitions and approves them together (the
larger one offers no tick box); then delegates their approvals (a mistake first, shown on the
form, then fixed); HQ's administrator reads the approvals report. Screenshots in
test-artifacts/."""

from __future__ import annotations

from typing import Any

import pytest

from backroom.accounts.models import User
from backroom.approvals import runtime
from backroom.approvals.models import ApprovalRequest, Delegation
from tests.browser.conftest import DESKTOP, PHONE, screenshot
from tests.browser.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def viewport() -> tuple[str, dict[str, int]]:
    return "phone", PHONE


def _fits(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def _submit(staff: User, document_id: str, amount: str) -> ApprovalRequest:
    return runtime.submit(
        runtime.Submission(
            document_type="procurement.requisition",
            document_id=document_id,
            fields={"amount": amount, "store": "SH001"},
        ),
        requester=staff,
        actor=staff,
    )


def test_bulk_approve_on_a_phone(demo, live_server, page_at):
    page = page_at
    staff = User.objects.get(username="staff.sh001")
    small = [_submit(staff, "REQ-BULK-1", "800.00"), _submit(staff, "REQ-BULK-2", "1500.00")]
    sign_in(page, live_server.url, "manager.sh001")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/approvals/inbox/")
    big = ApprovalRequest.objects.get(document_id="REQ-DEMO-0002")  # ¥3,200: decide alone
    big_card = page.locator(f"[data-testid=inbox-card][data-request='{big.pk}']")
    assert big_card.locator("[data-testid=bulk-pick]").count() == 0
    for request in small:
        card = page.locator(f"[data-testid=inbox-card][data-request='{request.pk}']")
        card.locator("[data-testid=bulk-pick]").check()
    _fits(page)
    assert page.locator("[data-testid=bulk-approve]").is_visible()  # the bar sticks in view
    screenshot(page, "approval-bulk-selected-en-phone")
    page.locator("[data-testid=bulk-approve]").click()
    page.locator("[data-testid=bulk-summary]").wait_for()
    assert "2 tasks approved." in page.locator("[data-testid=bulk-summary]").inner_text()
    for request in small:
        card = page.locator(f"[data-testid=inbox-card][data-request='{request.pk}']")
        assert "Approved." in card.locator("[data-testid=card-done]").inner_text()
        request.refresh_from_db()
        assert request.status == "approved"
    big.refresh_from_db()
    assert big.status == "pending"
    _fits(page)
    screenshot(page, "approval-bulk-done-en-phone")
    assert not page.js_errors  # type: ignore[attr-defined]

    # Out of office next week: a typo in the delegate's name first.
    page.goto(f"{live_server.url}/approvals/delegations/")
    page.fill("[data-testid=delegate]", "region.eest")
    page.fill("[data-testid=starts-at]", "2030-03-10T09:00")
    page.fill("[data-testid=ends-at]", "2030-03-09T09:00")
    page.fill("[data-testid=reason]", "Annual leave")
    page.locator("[data-testid=delegation-save]").click()
    page.locator("[data-testid=form-errors]").wait_for()
    assert "There is no such user." in page.locator("[data-testid=error-delegate]").inner_text()
    assert "after the start" in page.locator("[data-testid=error-ends_at]").inner_text()
    assert page.input_value("[data-testid=reason]") == "Annual leave"  # kept
    _fits(page)
    screenshot(page, "approval-delegation-errors-en-phone")
    page.fill("[data-testid=delegate]", "region.east")
    page.fill("[data-testid=ends-at]", "2030-03-14T18:00")
    page.locator("[data-testid=delegation-save]").click()
    page.locator("[data-testid=given-open] [data-testid=delegation-row]").wait_for()
    delegation = Delegation.objects.get(delegator__username="manager.sh001")
    assert delegation.delegate.username == "region.east"
    _fits(page)
    screenshot(page, "approval-delegations-en-phone")
    assert not page.js_errors  # type: ignore[attr-defined]

    page.context.clear_cookies()
    sign_in(page, live_server.url, "admin")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/approvals/report/")
    page.locator("[data-testid=report-steps]").wait_for()
    assert page.locator("[data-testid=step-item]").first.is_visible()  # phone lists, no tables
    assert not page.locator("[data-testid=step-row]").first.is_visible()
    assert page.locator("[data-testid=approver-item][data-username='manager.sh001']").is_visible()
    _fits(page)
    screenshot(page, "approval-report-en-phone")
    page.locator("[data-testid=phone-sort-open]").click()
    page.wait_for_url("**sort=open**")
    assert page.locator("[data-testid=phone-sort-open]").get_attribute("aria-current") == "true"
    page.set_viewport_size(DESKTOP)  # the same report as tables with sortable headers
    assert page.locator("[data-testid=step-row]").first.is_visible()
    assert page.locator("[data-testid=sort-open]").get_attribute("aria-sort") == "descending"
    screenshot(page, "approval-report-en-desktop")
    assert not page.js_errors  # type: ignore[attr-defined]
