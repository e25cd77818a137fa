"""The store manager of SH001 reads yesterday's sales (by channel, by hour, top items) and the
Meituan settlement differences, exports them as CSV (desktop and phone)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Sum

from backroom.catalog.models import Item
from backroom.catalog.selectors import site_today
from backroom.channels import intake, services
from backroom.channels.choices import ChannelKind, OrderStatus
from backroom.channels.models import ChannelAccount, SalesDay
from backroom.channels.platforms.base import CanonicalOrder, EventKind, LineIn, PlatformEvent
from backroom.kernel.actors import SYSTEM
from backroom.kernel.dates import business_day_bounds
from backroom.org.models import Site
from tests.browser.conftest import PHONE, screenshot
from tests.browser.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sell(account: Any, external_id: str, sku: str, *, at: dt.datetime, income: str) -> None:
    order = CanonicalOrder(
        external_id=external_id,
        display_id=external_id,
        store_ref=account.store_ref,
        placed_at=at,
        status=OrderStatus.RECEIVED,
        lines=(LineIn(1, sku, "Bowl", Decimal(2), Decimal("25.00")),),
        total=Decimal("50.00"),
        original_price=Decimal("50.00"),
        commission=Decimal("5.00"),
        income=Decimal(income),
    )
    placed = PlatformEvent(
        kind=EventKind.ORDER_PLACED,
        external_order_id=external_id,
        event_key="placed",
        raw_type="new",
        status=OrderStatus.RECEIVED,
        order=order,
    )
    intake.apply_event(account, placed)
    done = PlatformEvent(
        kind=EventKind.STATUS_CHANGED,
        external_order_id=external_id,
        event_key="completed",
        raw_type="completed",
        status=OrderStatus.COMPLETED,
    )
    intake.apply_event(account, done)


def test_manager_reads_sales_and_settlement(demo, live_server, page_at, viewport):
    name, _size = viewport
    page = page_at
    site = Site.objects.select_related("node").get(node__code="SH001")
    day = site_today(site) - dt.timedelta(days=1)
    start, _end = business_day_bounds(day, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)
    item = Item.objects.filter(kind="menu", is_active=True).order_by("sku").first()
    assert item is not None
    # The demo's Meituan account at SH001 (its orders are today's; these are yesterday's).
    account = ChannelAccount.objects.filter(site=site, kind=ChannelKind.MEITUAN).first()
    if account is None:
        account = services.create_account(
            site=site,
            kind=ChannelKind.MEITUAN,
            name="Meituan SH001",
            store_ref="MT-SH001",
            actor=SYSTEM,
        )
    services.save_mapping(account=account, external_code="MT-BOWL", item=item, actor=SYSTEM)
    # The demo's imported history (decision 0007) already holds orders of that day.
    history = SalesDay.objects.filter(site=site, business_date=day).aggregate(n=Sum("orders"))
    noon = start + dt.timedelta(hours=8)  # 12:00 local, 8 hours after the 04:00 cut-off
    _sell(account, "MT-1", "MT-BOWL", at=noon, income="45.00")
    _sell(account, "MT-2", "MT-BOWL", at=noon + dt.timedelta(minutes=5), income="44.00")

    sign_in(page, live_server.url, "manager.sh001")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/channels/sales/?store={site.pk}&date_from={day}&date_to={day}")
    page.locator("[data-testid=sales-net]").wait_for()
    assert page.locator("[data-testid=sales-orders]").inner_text() == str((history["n"] or 0) + 2)
    assert page.locator("[data-testid=sales-channel][data-channel=meituan]").count() == 1
    assert page.locator("[data-testid=sales-hour][data-hour='12']").count() == 1
    assert page.locator(f"[data-testid=sales-item][data-item='{item.sku}']").count() == 1
    if name == "phone":
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, f"channel-sales-en-{name}")

    page.goto(f"{live_server.url}/channels/settlement/?store={site.pk}&date={day}")
    # MT-2: 44.00 reported, 45.00 ours. (Run just after midnight, the demo's own orders of
    # today can still fall in yesterday's business day: only this test's orders are checked.)
    ours = page.locator("[data-testid=settlement-line][data-order^='MT-']")
    ours.first.wait_for()
    assert ours.count() == 1
    assert ours.first.get_attribute("data-order") == "MT-2"
    assert ours.first.get_attribute("data-reason") == "amount"
    if name == "phone":
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, f"channel-settlement-en-{name}")
    with page.expect_download() as download:
        page.locator("[data-testid=export-csv]").click()
    text = open(download.value.path(), encoding="utf-8-sig").read()
    assert "MT-2" in text and "MT-1" not in text
    assert page.js_errors == [], page.js_errors
