"""An administrator edits the demo's requisition policy (desktop and phone): adds a finance step
with a mistyped condition, sees the error with its column on that step, fixes it, saves a draft
version, publishes it, and tests the policy with an amount."""

from __future__ import annotations

from typing import Any

import pytest

from backroom.approvals.models import ApprovalPolicy
from tests.browser.conftest import ARTIFACTS, PHONE, screenshot
from tests.browser.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _fits(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_admin_edits_publishes_and_tests_a_policy(demo, live_server, page_at, viewport):
    name, _size = viewport
    page = page_at
    policy = ApprovalPolicy.objects.get(document_type="procurement.requisition")
    sign_in(page, live_server.url, "admin")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/approvals/policies/")
    assert page.locator("[data-testid=policy-row]").count() == 3
    if name == "phone":
        _fits(page)
    screenshot(page, f"approval-policies-en-{name}")
    page.locator(f"[data-policy='{policy.pk}'] [data-testid=policy-link]").click()
    page.wait_for_selector("[data-testid=policy-form]")
    assert page.locator("[data-testid=step-row]").count() == 4

    page.click("[data-testid=add-step]")
    # (no wait_for_function: its string is eval'd, which the page's CSP forbids when it polls)
    page.locator("[data-testid=step-row]").nth(4).wait_for()
    assert page.locator("[data-testid=step-row]").count() == 5
    row = page.locator("[data-testid=step-row]").nth(4)
    row.locator("[data-testid=step-name]").fill("Finance review")
    row.locator("[data-testid=step-kind]").select_option("finance")
    assert not row.locator("[data-testid=step-role]").is_visible()  # no role to pick
    row.locator("[data-testid=step-condition]").fill("amount > 200000 && categry == 'x'")
    page.click("[data-testid=save]")
    page.wait_for_selector("[data-testid=form-errors]")
    row = page.locator("[data-testid=step-row]").nth(4)
    error = row.locator("[data-testid=step-condition-error]").inner_text()
    assert error.startswith("Column 20: unknown field “categry”"), error
    assert policy.versions.count() == 1  # nothing saved
    if name == "phone":
        _fits(page)
    row.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"approval-policy-error-en-{name}-screen.png"))

    row.locator("[data-testid=step-condition]").fill("amount > 200000")
    page.click("[data-testid=save]")
    page.wait_for_selector(".alert-success")
    assert "Saved as version 2 (draft)." in page.locator(".alert-success").inner_text()
    page.click("[data-testid=publish]")
    page.wait_for_selector(".alert-success")
    assert "Version 2 is published." in page.locator(".alert-success").inner_text()
    assert policy.versions.get(number=2).is_published

    preview = page.locator("[data-testid=preview]")
    preview.locator("[data-testid=preview-amount]").fill("250000")
    preview.locator("[data-testid=preview-store]").fill("SH001")
    preview.locator("[data-testid=preview-run]").click()
    page.wait_for_selector("[data-testid=preview-result]")
    steps = page.locator("[data-testid=route-step]")
    assert steps.count() == 5
    assert [steps.nth(i).get_attribute("data-applies") for i in range(5)] == ["yes"] * 5
    # The demo's finance user works at the group, not at a legal entity: shown, not hidden.
    assert steps.nth(4).get_attribute("data-problem") == "yes"
    assert "Unresolvable" in steps.nth(4).inner_text()
    if name == "phone":
        _fits(page)
    screenshot(page, f"approval-policy-en-{name}")
    page.locator("[data-testid=preview]").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"approval-policy-preview-en-{name}-screen.png"))

    page.click("[data-testid=history-link]")
    page.wait_for_selector("[data-testid=version]")
    assert page.locator("[data-testid=version]").count() == 2
    if name == "phone":
        _fits(page)
    screenshot(page, f"approval-policy-versions-en-{name}")
    assert page.js_errors == [], page.js_errors
