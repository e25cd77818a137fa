"""Everyday flows on the pages: editing a site, filtering the audit log (HTMX), issuing a token."""

from typing import Any

import pytest

from tests.browser.conftest import DESKTOP, PHONE, screenshot
from tests.browser.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_site(page: Any, base_url: str, code: str) -> None:
    page.goto(f"{base_url}/org/")
    page.locator(f"[data-testid=tree-row][data-code={code}] a").click()
    page.wait_for_selector("[data-testid=site-card]")


@pytest.mark.parametrize("viewport", [("desktop", DESKTOP)])
def test_admin_edits_a_site_and_sees_every_error_at_once(demo, live_server, page_at, viewport):
    page, (size, _dimensions) = page_at, viewport
    sign_in(page, live_server.url, "admin")
    page.wait_for_url(f"{live_server.url}/")
    open_site(page, live_server.url, "SH001")
    form = page.locator("[data-testid=site-form]")
    form.locator("#id_name").fill(" ")
    form.locator("#id_time_zone").fill("Mars/Olympus")
    form.locator("#id_cutoff_hour").fill("30")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    invalid = form.locator(".is-invalid")
    assert sorted(invalid.evaluate_all("els => els.map(e => e.name)")) == [
        "cutoff_hour",
        "name",
        "time_zone",
    ]
    screenshot(page, f"site-errors-en-{size}")
    form.locator("#id_name").fill("人民广场店 People's Square")
    form.locator("#id_time_zone").fill("Asia/Shanghai")
    form.locator("#id_cutoff_hour").fill("5")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert page.get_by_text("Saved.").count() == 1
    assert "05:00" in page.locator("[data-testid=site-card]").inner_text()
    assert page.js_errors == []


@pytest.mark.parametrize("viewport", [("desktop", DESKTOP)])
def test_audit_filter_refreshes_the_table_in_place(demo, live_server, page_at, viewport):
    page = page_at
    sign_in(page, live_server.url, "admin")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/audit/")
    total = page.locator("[data-testid=audit-count]").inner_text()
    page.evaluate("window.notReloaded = true")
    page.select_option("#id_action", "accounts.user.create")
    page.wait_for_url("**/audit/?*action=accounts.user.create*")
    page.wait_for_function(
        "total => document.querySelector('[data-testid=audit-count]').innerText !== total",
        arg=total,
    )
    # Swapped by HTMX, not a full page load.
    assert page.evaluate("window.notReloaded") is True
    rows = page.locator("[data-testid=audit-row]")
    assert rows.count() == 9
    assert all("accounts.user.create" in text for text in rows.all_inner_texts())
    screenshot(page, "audit-filtered-en-desktop")
    rows.first.locator("a").click()
    page.wait_for_selector("[data-testid=audit-diff]")
    screenshot(page, "audit-entry-en-desktop")
    assert page.js_errors == []


@pytest.mark.parametrize("viewport", [("phone", PHONE)])
def test_integration_engineer_issues_a_token_once(demo, live_server, page_at, viewport):
    page = page_at
    sign_in(page, live_server.url, "integration")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/tokens/")
    page.fill("#id_name", "POS bridge")
    page.select_option("#id_role", label="Integration engineer")
    page.select_option("#id_node", index=1)
    page.locator("[data-testid=token-form] button[type=submit]").click()
    raw = page.locator("[data-testid=raw-token]").input_value()
    assert raw.startswith("brt_")
    screenshot(page, "token-issued-en-phone")
    page.goto(f"{live_server.url}/tokens/")
    assert page.locator("[data-testid=raw-token]").count() == 0
    assert page.locator("[data-testid=token-row]").count() == 1
    assert page.js_errors == []
