"""Order alerts: a delivery order without an address is highlighted on SH001's board; the
manager filters the board to anomalies, opens the store's alerts and resolves it with a note
(desktop and phone)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from backroom.channels import intake, services
from backroom.channels.choices import ChannelKind, OrderStatus
from backroom.channels.models import OrderAnomaly
from backroom.channels.platforms.base import CanonicalOrder, EventKind, LineIn, PlatformEvent
from backroom.kernel.actors import SYSTEM
from backroom.org.models import Site
from tests.browser.conftest import PHONE, screenshot
from tests.browser.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _order(account: Any, external_id: str, *, address: str) -> None:
    intake.apply_event(
        account,
        PlatformEvent(
            kind=EventKind.ORDER_PLACED,
            external_order_id=external_id,
            event_key="placed",
            raw_type="new",
            status=OrderStatus.RECEIVED,
            order=CanonicalOrder(
                external_id=external_id,
                display_id=external_id,
                store_ref=account.store_ref,
                placed_at=timezone.now(),
                status=OrderStatus.RECEIVED,
                lines=(LineIn(1, "APP-BOWL", "Bowl", Decimal(1), Decimal("28.00")),),
                total=Decimal("33.00"),
                delivery_fee=Decimal("5.00"),
                address=address,
            ),
        ),
    )


def test_manager_sees_and_resolves_an_order_alert(demo, live_server, page_at, viewport):
    name, _size = viewport
    page = page_at
    site = Site.objects.get(node__code="SH001")
    account = services.create_account(
        site=site, kind=ChannelKind.OWN_APP, name="Mini-program", actor=SYSTEM
    )
    _order(account, "APP-NOADDR", address="")
    _order(account, "APP-FINE", address="88 Century Avenue, Pudong")
    anomaly = OrderAnomaly.objects.get(order__external_id="APP-NOADDR")
    sign_in(page, live_server.url, "manager.sh001")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/channels/board/?store={site.pk}")
    card = page.locator("[data-order=APP-NOADDR]")
    card.wait_for()
    assert card.locator("[data-testid=anomaly-badge][data-rule=missing_address]").count() == 1
    assert page.locator("[data-order=APP-FINE] [data-testid=anomaly-badge]").count() == 0
    page.click("[data-testid=anomalies-only]")
    page.wait_for_url("**anomalies=1**")
    assert page.locator("[data-order=APP-FINE]").count() == 0
    assert page.locator("[data-order=APP-NOADDR]").count() == 1
    if name == "phone":
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, f"channel-board-anomalies-en-{name}")

    page.goto(f"{live_server.url}/channels/alerts/?store={site.pk}")
    row = page.locator(f"[data-testid=alert-row][data-anomaly='{anomaly.pk}']")
    row.wait_for()
    assert "Delivery order without an address." in row.inner_text()
    if name == "phone":
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, f"channel-alerts-en-{name}")
    row.locator("[data-testid=resolve-open]").click()
    row.locator("[data-testid=resolve-note]").fill("Called the customer: pick-up instead")
    row.locator("[data-testid=resolve-submit]").click()
    page.wait_for_selector(".alert-success")
    assert page.locator(f"[data-testid=alert-row][data-anomaly='{anomaly.pk}']").count() == 0
    anomaly.refresh_from_db()
    assert anomaly.resolution == "manual"
    assert anomaly.resolution_note == "Called the customer: pick-up instead"
    assert anomaly.resolved_by is not None and anomaly.resolved_by.username == "manager.sh001"
    assert page.js_errors == [], page.js_errors
