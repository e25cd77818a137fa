"""A store's live order board: staff at SH001 see an own-app order waiting, accept it and start
preparing it from the board (desktop and phone); a line the chain does not know is flagged."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from backroom.channels import intake, services
from backroom.channels.choices import ChannelKind, OrderStatus
from backroom.channels.models import Order
from backroom.channels.platforms.base import CanonicalOrder, EventKind, LineIn, PlatformEvent
from backroom.kernel.actors import SYSTEM
from backroom.org.models import Site
from tests.browser.conftest import PHONE, screenshot
from tests.browser.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _order(account: Any, external_id: str) -> Order:
    from decimal import Decimal

    event = PlatformEvent(
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
            lines=(LineIn(1, "APP-MYSTERY", "Mystery bowl", Decimal(1), Decimal("28.00")),),
            total=Decimal("28.00"),
        ),
    )
    order = intake.apply_event(account, event).order
    assert order is not None
    return order


def test_staff_move_an_order_on_from_the_board(demo, live_server, page_at, viewport):
    name, _size = viewport
    page = page_at
    site = Site.objects.get(node__code="SH001")
    account = services.create_account(
        site=site, kind=ChannelKind.OWN_APP, name="Mini-program", actor=SYSTEM
    )
    order = _order(account, "APP-0001")
    sign_in(page, live_server.url, "staff.sh001")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/channels/board/?store={site.pk}")
    card = page.locator("[data-status=received] [data-order=APP-0001]")
    card.wait_for()
    assert card.locator("[data-testid=unmapped-badge]").count() == 1
    if name == "phone":
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, f"channel-board-en-{name}")
    card.locator("[data-testid=next-step]").click()
    page.wait_for_selector(".alert-success")
    page.locator("[data-status=accepted] [data-order=APP-0001]").wait_for()
    order.refresh_from_db()
    assert order.status == "accepted"
    page.locator("[data-status=accepted] [data-order=APP-0001] [data-testid=next-step]").click()
    page.locator("[data-status=preparing] [data-order=APP-0001]").wait_for()
    order.refresh_from_db()
    assert order.status == "preparing"
    assert list(order.history.values_list("to_status", flat=True)) == [
        "received",
        "accepted",
        "preparing",
    ]
    assert page.js_errors == [], page.js_errors
