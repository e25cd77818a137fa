"""The notification centre on a phone: a store manager sees the unread alerts of the store
(badge and markers), opens the food-cost alert with the figures behind it, acknowledges it with
a note, then resolves it; the history shows both, and the list shows it resolved. The rules page
on a desktop shows the shipped rules and a test run."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from backroom.dashboards import rules as rule_engine
from backroom.dashboards.alerts import Signal, raise_alert
from backroom.dashboards.models import Alert, AlertActivity, AlertRule
from backroom.testing.factories import PASSWORD, make_user
from tests.browser.conftest import ARTIFACTS, DESKTOP, PHONE, screenshot
from tests.browser.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _look(page: Any, name: str) -> None:
    screenshot(page, name)
    page.screenshot(path=str(ARTIFACTS / f"{name}-screen.png"))


def _alerts(tree: Any) -> Alert:
    rule = AlertRule.objects.get(code="food-cost-high")
    day = timezone.localdate() - dt.timedelta(days=1)
    evaluation = rule_engine.Evaluation(
        node=tree.store_a,
        site=tree.store_a.site,
        period="yesterday",
        date_from=day,
        date_to=day,
        currency="CNY",
        kpis={
            "food_cost_pct": Decimal("0.362"),
            "sales": Decimal("6240"),
            "orders": Decimal("131"),
            "waste_pct": Decimal("0.021"),
        },
    )
    alert, _ = raise_alert(rule_engine.signal_for(rule, evaluation), rule=rule)
    assert alert is not None
    raise_alert(
        Signal(
            title="Sales far below forecast",
            severity="critical",
            node=tree.store_a,
            site=tree.store_a.site,
            message="Sales since 11:00 are 42 % of the forecast for the time of day.",
            details={"expected": "2400", "actual": "1010"},
        ),
        detector="sales_drop",
    )
    return alert


@pytest.mark.parametrize("viewport", [("phone", PHONE)])
def test_a_store_manager_acknowledges_then_resolves_on_a_phone(live_server, page_at, tree):
    manager = make_user("store_manager", tree.store_a, username="manager.a")
    alert = _alerts(tree)
    page = page_at
    sign_in(page, live_server.url, "manager.a", PASSWORD)
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/dashboards/alerts/")
    page.wait_for_selector("[data-testid=alert-row]")
    assert page.locator("[data-testid=alert-row][data-unread=true]").count() == 2
    _look(page, "alerts-centre-phone")
    page.click(f"[data-testid=alert-row][data-alert='{alert.pk}']")
    page.wait_for_selector("[data-testid=alert-figures]")
    assert "36.2 %" in page.inner_text("[data-testid=alert-figures]")
    page.fill("[data-testid=acknowledge-note]", "Checking the recipe cards with the kitchen")
    _look(page, "alert-detail-phone")
    page.click("[data-testid=acknowledge-submit]")
    page.wait_for_selector("[data-testid=alert-summary][data-status=acknowledged]")
    page.fill("[data-testid=resolve-note]", "Portion of beef corrected on the card")
    page.click("[data-testid=resolve-submit]")
    page.wait_for_selector("[data-testid=alert-summary][data-status=resolved]")
    history = page.inner_text("[data-testid=alert-activity]")
    assert "Checking the recipe cards" in history and "Portion of beef corrected" in history
    _look(page, "alert-resolved-phone")
    alert.refresh_from_db()
    assert (alert.status, alert.resolved_by) == ("resolved", manager)
    assert list(AlertActivity.objects.filter(alert=alert).values_list("action", flat=True)) == [
        "raised",
        "read",
        "acknowledged",
        "resolved",
    ]
    page.goto(f"{live_server.url}/dashboards/alerts/?status=all")
    assert page.get_attribute(f"[data-alert='{alert.pk}']", "data-status") == "resolved"
    assert page.js_errors == []


@pytest.mark.parametrize("viewport", [("desktop", DESKTOP)])
def test_hq_sees_the_rules_and_tests_one(live_server, page_at, tree):
    make_user("hq_operations", tree.group, username="hq.ops")
    _alerts(tree)
    page = page_at
    sign_in(page, live_server.url, "hq.ops", PASSWORD)
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/dashboards/alerts/")
    page.wait_for_selector("[data-testid=alert-row]")
    _look(page, "alerts-centre-desktop")
    page.goto(f"{live_server.url}/dashboards/alerts/rules/")
    assert page.locator("[data-testid=rule-row]").count() == 4
    _look(page, "alert-rules-desktop")
    page.click("[data-testid=rule-row][data-code=food-cost-high] [data-testid=test-rule]")
    page.wait_for_selector("[data-testid=test-row]")
    assert page.locator("[data-testid=test-row]").count() == 3
    _look(page, "alert-rule-test-desktop")
    page.goto(
        f"{live_server.url}/dashboards/alerts/rules/{AlertRule.objects.get(code='waste-high').pk}/"
    )
    page.fill("[data-testid=rule-condition]", "waste > 0.03 && sales > 'x'")
    page.click("[data-testid=save-rule]")
    page.wait_for_selector("[data-testid=condition-errors]")
    assert page.locator("[data-testid=condition-errors] li").count() == 2
    _look(page, "alert-rule-errors-desktop")
    assert page.js_errors == []
