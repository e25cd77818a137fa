"""Sales rollups: golden numbers for a small day of orders (discounts split, a whole and a
partial refund, an unmapped line that is mapped later), replays, the AvT's % of sales, and the
rebuild command finding a tampered row. Orders go through the intake (`apply_event`) and the
POS service, as in production."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from backroom.channels import intake, pos, rollups, services
from backroom.channels.choices import OrderStatus
from backroom.channels.models import (
    OrderSales,
    SalesChannelDay,
    SalesDay,
    SalesHour,
    SalesItemDay,
)
from backroom.channels.platforms.base import (
    CanonicalOrder,
    EventKind,
    LineIn,
    PlatformEvent,
    RefundLine,
)
from backroom.channels.tests.conftest import D, status_event
from backroom.events.services import dispatch_outbox
from backroom.inventory import reports
from backroom.kernel.actors import SYSTEM

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 12, 3)
CHINA = ZoneInfo("Asia/Shanghai")


def at(hour: int, minute: int = 0, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=CHINA)


def meituan_order(
    external_id: str,
    lines: list[tuple[str, str, str]],
    *,
    placed_at: dt.datetime,
    merchant: str = "0",
    platform: str = "0",
    packaging: str = "0",
    delivery: str = "0",
    commission: str = "0",
    income: str | None = None,
    total: str | None = None,
) -> PlatformEvent:
    """A placed Meituan order with (sku, quantity, unit price) lines."""
    gross = sum((D(q) * D(p) for _sku, q, p in lines), Decimal(0))
    paid = gross + D(packaging) + D(delivery) - D(merchant) - D(platform)
    order = CanonicalOrder(
        external_id=external_id,
        display_id=f"#{external_id}",
        store_ref="MT-1001",
        placed_at=placed_at,
        status=OrderStatus.RECEIVED,
        lines=tuple(
            LineIn(line_no=n, external_sku=sku, name=sku.title(), quantity=D(q), unit_price=D(p))
            for n, (sku, q, p) in enumerate(lines, start=1)
        ),
        total=D(total) if total is not None else paid,
        original_price=gross + D(packaging) + D(delivery),
        platform_discount=D(platform),
        merchant_discount=D(merchant),
        packaging_fee=D(packaging),
        delivery_fee=D(delivery),
        commission=D(commission),
        income=D(income) if income is not None else None,
    )
    return PlatformEvent(
        kind=EventKind.ORDER_PLACED,
        external_order_id=external_id,
        event_key="placed",
        raw_type="new",
        status=OrderStatus.RECEIVED,
        order=order,
        occurred_at=placed_at,
    )


def refund(external_id: str, sku: str, quantity: str, key: str) -> PlatformEvent:
    return PlatformEvent(
        kind=EventKind.PARTIALLY_REFUNDED,
        external_order_id=external_id,
        event_key=key,
        raw_type="partial",
        refund_lines=(RefundLine(external_sku=sku, quantity=D(quantity)),),
        refund_amount=D("18.00"),
    )


def till_sale(menu, *, sku: str, quantity: str, price: str, placed_at: dt.datetime):
    return pos.submit_orders(
        [
            pos.TillOrder(
                uuid=uuid.uuid4(),
                store_id=menu.pos.site_id,
                placed_at=placed_at,
                channel="pos",
                status="completed",
                display_id="T-1",
                currency="CNY",
                total=D(quantity) * D(price),
                original_price=D(quantity) * D(price),
                merchant_discount=D(0),
                delivery_fee=D(0),
                packaging_fee=D(0),
                customer_name="",
                customer_phone="",
                address="",
                notes="",
                lines=[pos.TillLine(sku=sku, name=sku, quantity=D(quantity), unit_price=D(price))],
            )
        ],
        actor=SYSTEM,
    )[0].order


@pytest.fixture
def day(menu):
    """The golden day at store A (see each order's comment)."""
    services.save_mapping(
        account=menu.meituan, external_code="NOODLES", item=menu.noodles, actor=SYSTEM
    )
    services.save_mapping(account=menu.meituan, external_code="TEA", item=menu.tea, actor=SYSTEM)
    account = menu.meituan
    # M1, 12:30: NOODLES 2 × 18, TEA 1 × 6, MYSTERY (unmapped) 1 × 10; gross 52; discounts
    # merchant 5.20 / platform 2.60 split 36:6:10; fees and commission.
    intake.apply_event(
        account,
        meituan_order(
            "M1",
            [("NOODLES", "2", "18.00"), ("TEA", "1", "6.00"), ("MYSTERY", "1", "10.00")],
            placed_at=at(12, 30),
            merchant="5.20",
            platform="2.60",
            packaging="2.00",
            delivery="5.00",
            commission="4.16",
            income="45.84",
        ),
    )
    intake.apply_event(account, status_event("M1", "completed"))
    # M2, 12:40: completed, then refunded whole: counts for nothing.
    intake.apply_event(
        account, meituan_order("M2", [("NOODLES", "1", "18.00")], placed_at=at(12, 40))
    )
    intake.apply_event(account, status_event("M2", "completed"))
    intake.apply_event(account, status_event("M2", "refunded"))
    # M3, 12:45: NOODLES 3 × 18, merchant 6; completed, then one bowl refunded: 2/3 remain.
    intake.apply_event(
        account,
        meituan_order("M3", [("NOODLES", "3", "18.00")], placed_at=at(12, 45), merchant="6.00"),
    )
    intake.apply_event(account, status_event("M3", "completed"))
    intake.apply_event(account, refund("M3", "NOODLES", "1", "refund-1"))
    # M4: accepted, never completed: counts for nothing.
    intake.apply_event(account, meituan_order("M4", [("NOODLES", "1", "18.00")], placed_at=at(13)))
    intake.apply_event(account, status_event("M4", "accepted"))
    # P1, 19:10: a till sale of NOODLES 1 × 18, completed at once.
    till_sale(menu, sku="NOODLES", quantity="1", price="18.00", placed_at=at(19, 10))
    return menu


def values(row, *names):
    return tuple(getattr(row, name) for name in names)


ITEM = ("quantity", "gross", "merchant_discount", "platform_discount", "net")
ORDER = ("orders", "gross", "merchant_discount", "platform_discount", "net")
FEES = ("packaging_fee", "delivery_fee", "commission")


def test_golden_rollups(day):
    site = day.pos.site
    items = {
        row.menu_item_id: row for row in SalesItemDay.objects.filter(site=site, business_date=DAY)
    }
    assert set(items) == {day.noodles.pk, day.tea.pk, None}
    assert values(items[day.noodles.pk], *ITEM) == (D(5), D(90), D("7.6"), D("1.8"), D("82.4"))
    assert values(items[day.tea.pk], *ITEM) == (D(1), D(6), D("0.6"), D("0.3"), D("5.4"))
    assert values(items[None], *ITEM) == (D(1), D(10), D(1), D("0.5"), D(9))

    total = SalesDay.objects.get(site=site, business_date=DAY)
    assert values(total, *ORDER) == (3, D(106), D("9.2"), D("2.6"), D("96.8"))
    assert values(total, *FEES) == (D(2), D(5), D("4.16"))
    assert total.currency == "CNY"

    channels = {
        row.kind: row for row in SalesChannelDay.objects.filter(site=site, business_date=DAY)
    }
    assert values(channels["meituan"], *ORDER) == (2, D(88), D("9.2"), D("2.6"), D("78.8"))
    assert values(channels["pos"], *ORDER) == (1, D(18), D(0), D(0), D(18))
    hours = {
        row.hour: values(row, "orders", "gross", "net")
        for row in SalesHour.objects.filter(site=site, business_date=DAY)
    }
    # M2 was in hour 12 too: its row went back to zero with the refund.
    assert hours == {12: (2, D(88), D("78.8")), 19: (1, D(18), D(18))}
    # One snapshot per counted order; none for the refunded, the open one.
    assert sorted(OrderSales.objects.values_list("order__external_id", flat=True)) == sorted(
        ["M1", "M3", str(day.pos.orders.get().external_id)]
    )
    # Store B sold nothing.
    assert not SalesDay.objects.filter(site=day.pos_b.site).exists()


def test_replays_and_repeated_refreshes_change_nothing(day):
    before = list(SalesItemDay.objects.values_list("menu_item_id", *ITEM).order_by("menu_item_id"))
    account = day.meituan
    intake.apply_event(account, status_event("M1", "completed"))  # replayed key
    intake.apply_event(account, refund("M3", "NOODLES", "1", "refund-1"))  # replayed key
    for order in day.meituan.orders.all():
        assert rollups.refresh_order_sales(order.pk) is False
    after = list(SalesItemDay.objects.values_list("menu_item_id", *ITEM).order_by("menu_item_id"))
    assert after == before


def test_second_partial_refund_and_cancellation_after_completion(day):
    site = day.pos.site
    account = day.meituan
    intake.apply_event(account, refund("M3", "NOODLES", "1", "refund-2"))  # 1 of 3 left
    noodles = SalesItemDay.objects.get(site=site, business_date=DAY, menu_item=day.noodles)
    assert values(noodles, *ITEM) == (D(4), D(72), D("5.6"), D("1.8"), D("66.4"))
    intake.apply_event(account, status_event("M1", "cancelled", key="cancel-after"))
    total = SalesDay.objects.get(site=site, business_date=DAY)
    # Left: M3's last bowl (18 − 2) and the till sale (18).
    assert values(total, *ORDER) == (2, D(36), D(2), D(0), D(34))
    assert values(total, *FEES) == (D(0), D(0), D(0))
    assert SalesItemDay.objects.get(site=site, business_date=DAY, menu_item=None).quantity == 0


def test_mapping_moves_unmapped_sales_to_the_item(day):
    site = day.pos.site
    services.save_mapping(account=day.meituan, external_code="MYSTERY", item=day.tea, actor=SYSTEM)
    dispatch_outbox()  # the worker runs the asynchronous subscriber
    tea = SalesItemDay.objects.get(site=site, business_date=DAY, menu_item=day.tea)
    assert values(tea, *ITEM) == (D(2), D(16), D("1.6"), D("0.8"), D("14.4"))
    unmapped = SalesItemDay.objects.get(site=site, business_date=DAY, menu_item=None)
    assert values(unmapped, *ITEM) == (D(0), D(0), D(0), D(0), D(0))
    # The store's totals do not move.
    assert SalesDay.objects.get(site=site, business_date=DAY).net == D("96.8")
    assert rollups.rebuild_sales(date_from=DAY, date_to=DAY, fix=False).differences == []


def test_rebuild_finds_and_fixes_a_tampered_rollup(day):
    site = day.pos.site
    assert rollups.rebuild_sales(date_from=DAY, date_to=DAY, fix=False).differences == []
    SalesItemDay.objects.filter(site=site, menu_item=day.noodles).update(quantity=D(50))
    SalesHour.objects.filter(site=site, hour=19).delete()
    found = rollups.rebuild_sales(site_ids=[site.pk], date_from=DAY, date_to=DAY, fix=False)
    code = site.node.code
    assert sorted(found.differences) == sorted(
        [
            f"{code} {DAY} CNY hour:19 gross: stored 0, orders give 18.0000",
            f"{code} {DAY} CNY hour:19 net: stored 0, orders give 18.0000",
            f"{code} {DAY} CNY hour:19 orders: stored 0, orders give 1",
            f"{code} {DAY} CNY item:{day.noodles.pk} quantity: stored 50.000000, orders give 5.000000",
        ]
    )
    # Checking changed nothing; the command reports and fixes.
    assert SalesItemDay.objects.get(site=site, menu_item=day.noodles).quantity == D(50)
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "rebuild_sales_rollups",
        "--site",
        code,
        "--from",
        str(DAY),
        "--to",
        str(DAY),
        stdout=out,
        stderr=err,
    )
    assert "4 differences" in out.getvalue()
    assert f"item:{day.noodles.pk} quantity" in err.getvalue()
    assert SalesItemDay.objects.get(site=site, menu_item=day.noodles).quantity == D(5)
    assert values(SalesHour.objects.get(site=site, hour=19), "orders", "net") == (1, D(18))
    # Consistent now: --check exits 0; after another tamper it exits 1 and changes nothing.
    call_command(
        "rebuild_sales_rollups", "--from", str(DAY), "--to", str(DAY), "--check", stdout=out
    )
    SalesDay.objects.filter(site=site).update(net=D(1))
    with pytest.raises(CommandError):
        call_command(
            "rebuild_sales_rollups",
            "--from",
            str(DAY),
            "--to",
            str(DAY),
            "--check",
            stdout=out,
            stderr=err,
        )
    assert SalesDay.objects.get(site=site).net == D(1)
    # Live updates continue from the rebuilt snapshots.
    call_command(
        "rebuild_sales_rollups", "--from", str(DAY), "--to", str(DAY), stdout=out, stderr=err
    )
    intake.apply_event(day.meituan, status_event("M1", "refunded", key="refund-all"))
    assert SalesDay.objects.get(site=site).net == D("96.8") - D("46.8")
    assert rollups.rebuild_sales(date_from=DAY, date_to=DAY, fix=False).differences == []


def test_rebuild_command_rejects_bad_arguments(day):
    with pytest.raises(CommandError):
        call_command(
            "rebuild_sales_rollups", "--site", "NOPE", "--from", str(DAY), "--to", str(DAY)
        )
    with pytest.raises(CommandError):
        call_command("rebuild_sales_rollups", "--from", "2026-12-05", "--to", "2026-12-01")


def test_avt_percent_of_sales_uses_the_rollups(day, tree):
    site = day.pos.site
    bounds = {
        site.pk: (at(4), at(4, day=DAY + dt.timedelta(days=1))),
        day.pos_b.site_id: (at(4), at(4, day=DAY + dt.timedelta(days=1))),
    }
    revenue = reports.sales_revenue([site, day.pos_b.site], bounds)
    # Store A has channel orders: their net sales. Store B has none, and no sold lines
    # recorded on sale depletions either.
    assert revenue[site.pk] == D("96.8")
    assert revenue.get(day.pos_b.site_id, D(0)) == D(0)
    other_day = {
        site.pk: (at(4, day=DAY + dt.timedelta(days=2)), at(4, day=DAY + dt.timedelta(days=3)))
    }
    assert reports.sales_revenue([site], other_day) == {site.pk: D(0)}


def test_providers_are_summed_each_covering_its_own_sales(day, monkeypatch):
    """Channel orders (the rollups) and sold lines recorded on sale depletions (a sales import,
    the demo's history) are different sales: a store with both gets both."""

    def recorded_lines(sites, bounds):
        return {site.pk: D(1000) for site in sites}

    providers = [provider for provider in reports._REVENUE_PROVIDERS]
    providers[providers.index(reports.sold_line_revenue)] = recorded_lines
    monkeypatch.setattr(reports, "_REVENUE_PROVIDERS", providers)
    site, site_b = day.pos.site, day.pos_b.site
    window = (at(4), at(4, day=DAY + dt.timedelta(days=1)))
    revenue = reports.sales_revenue([site, site_b], {site.pk: window, site_b.pk: window})
    assert revenue == {site.pk: D("1096.8"), site_b.pk: D(1000)}


def _state():
    return [
        sorted(model.objects.values_list(*names).order_by(), key=str)
        for model, names in (
            (SalesDay, ("site_id", "business_date", *ORDER, *FEES)),
            (SalesChannelDay, ("site_id", "kind", *ORDER, *FEES)),
            (SalesHour, ("site_id", "hour", "orders", "gross", "net")),
            (SalesItemDay, ("site_id", "menu_item_id", *ITEM)),
            (OrderSales, ("order_id", "currency", "rows")),
        )
    ]


def test_a_batch_of_orders_is_refreshed_set_wise(day, django_assert_max_num_queries):
    """All the day's orders at once, from empty rollups: the same golden rows as order by
    order, in a fixed number of queries (not per order); a second pass changes nothing."""
    before = _state()
    for model in (SalesItemDay, SalesHour, SalesChannelDay, SalesDay, OrderSales):
        model.objects.all().delete()
    ids = list(day.meituan.orders.values_list("pk", flat=True)) + list(
        day.pos.orders.values_list("pk", flat=True)
    )
    assert len(ids) == 5
    with django_assert_max_num_queries(12):
        assert rollups.refresh_orders_sales(ids) == 3
    assert _state() == before
    with django_assert_max_num_queries(5):
        assert rollups.refresh_orders_sales(ids) == 0
    assert _state() == before
