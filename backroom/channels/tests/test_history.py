"""History import (sales before go-live): counted in the rollups, never depleted or reserved,
idempotent, all or nothing, kept out of the AvT's revenue; and the demo's 60 days of it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction

from backroom.audit.models import AuditEntry
from backroom.catalog.selectors import site_today
from backroom.channels import history, rollups, services
from backroom.channels.choices import OrderStatus
from backroom.channels.demo import HISTORY_DAYS
from backroom.channels.models import (
    Order,
    OrderHistory,
    OrderSales,
    SalesDay,
    SalesHour,
    SalesItemDay,
)
from backroom.channels.platforms.base import CanonicalOrder, LineIn
from backroom.inventory.models import StockMove
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import NotFound, PermissionDenied, ValidationFailed
from backroom.testing.factories import make_user

pytestmark = pytest.mark.django_db


def sale(
    external_id: str, day: dt.date, hour: int, lines: list[tuple[str, str, str]], **money
) -> CanonicalOrder:
    at = dt.datetime(day.year, day.month, day.day, hour, 15, tzinfo=ZoneInfo("Asia/Shanghai"))
    return CanonicalOrder(
        external_id=external_id,
        display_id=external_id,
        store_ref="x",
        placed_at=at,
        status=OrderStatus.COMPLETED,
        lines=tuple(
            LineIn(n, sku, sku.title(), Decimal(quantity), Decimal(price))
            for n, (sku, quantity, price) in enumerate(lines, start=1)
        ),
        total=sum((Decimal(q) * Decimal(p) for _s, q, p in lines), Decimal(0)),
        **money,
    )


def test_history_counts_in_the_rollups_and_never_touches_stock(tree, menu):
    site = tree.store_a.site
    today = site_today(site)
    days = [today - dt.timedelta(days=n) for n in (3, 2)]
    moves, on_hand = StockMove.objects.count(), menu.on_hand(menu.beef)
    result = history.import_history(
        menu.pos,
        [
            sale("H1", days[0], 12, [("NOODLES", "2", "18"), ("TEA", "1", "6")]),
            sale("H2", days[0], 19, [("NOODLES", "1", "18")]),
            sale("H3", days[1], 12, [("GHOST", "1", "30")]),  # unknown SKU: kept, unmapped
        ],
        actor=SYSTEM,
        today=today,
        source="old POS export",
    )
    assert (result.created, result.replayed) == (3, 0)
    assert (result.first_day, result.last_day) == (days[0], days[1])
    orders = list(Order.objects.order_by("external_id"))
    assert [(o.status, o.is_history, o.is_depleted, o.is_reserved) for o in orders] == [
        ("completed", True, False, False)
    ] * 3
    assert orders[2].unmapped_lines == 1
    assert StockMove.objects.count() == moves and menu.on_hand(menu.beef) == on_hand
    assert (
        OrderHistory.objects.filter(event_key="history", event_kind="history_imported").count() == 3
    )
    assert "old POS export" in OrderHistory.objects.first().note
    day = SalesDay.objects.get(site=site, business_date=days[0])
    assert (day.orders, day.net, day.history_net) == (2, Decimal("60"), Decimal("60"))
    noodles = SalesItemDay.objects.get(site=site, business_date=days[0], menu_item=menu.noodles)
    assert noodles.quantity == 3
    assert set(
        SalesHour.objects.filter(site=site, business_date=days[0]).values_list("hour", flat=True)
    ) == {12, 19}
    assert SalesItemDay.objects.get(site=site, business_date=days[1], menu_item=None).net == 30
    assert OrderSales.objects.count() == 3
    # The rebuild finds the rollups in line with the orders.
    check = rollups.rebuild_sales(date_from=days[0], date_to=days[1], fix=False)
    assert check.differences == [] and check.orders == 3
    # The AvT's revenue leaves history out (its stock usage is not in the ledger).
    start = dt.datetime.combine(days[0], dt.time(6), tzinfo=ZoneInfo("Asia/Shanghai"))
    revenue = rollups.net_sales_revenue([site], {site.pk: (start, start + dt.timedelta(days=2))})
    assert revenue == {site.pk: Decimal(0)}
    entry = AuditEntry.objects.get(action="channels.history.import")
    assert entry.after["orders"] == 3
    # Mapping the unknown SKU later moves its line out of the unmapped bucket, depletes nothing.
    services.save_mapping(account=menu.pos, external_code="GHOST", item=menu.noodles, actor=SYSTEM)
    assert StockMove.objects.count() == moves
    assert not Order.objects.get(external_id="H3").is_depleted


def test_a_replayed_import_changes_nothing(tree, menu):
    today = site_today(tree.store_a.site)
    day = today - dt.timedelta(days=1)
    orders = [sale("H1", day, 12, [("NOODLES", "1", "18")])]
    history.import_history(menu.pos, orders, actor=SYSTEM, today=today)
    again = history.import_history(
        menu.pos,
        [*orders, sale("H2", day, 13, [("NOODLES", "1", "18")])],
        actor=SYSTEM,
        today=today,
    )
    assert (again.created, again.replayed) == (1, 1)
    assert SalesDay.objects.get(business_date=day).orders == 2
    assert Order.objects.count() == 2


def test_every_problem_is_reported_and_nothing_imported(tree, menu):
    today = site_today(tree.store_a.site)
    day = today - dt.timedelta(days=1)
    with pytest.raises(ValidationFailed) as caught:
        history.import_history(
            menu.pos,
            [
                sale("H1", day, 12, [("NOODLES", "1", "18")]),
                sale("H1", day, 13, [("NOODLES", "1", "18")]),  # repeated id
                sale("H3", today, 12, [("NOODLES", "1", "18")]),  # not history
                sale("H4", day, 12, [("NOODLES", "0", "18")]),  # no quantity
            ],
            actor=SYSTEM,
            today=today,
        )
    problems = caught.value.details["orders"]
    assert [row["index"] for row in problems] == [1, 2, 3]
    assert not Order.objects.exists() and not SalesDay.objects.exists()


def test_history_needs_channels_manage_at_the_store(tree, menu):
    today = site_today(tree.store_a.site)
    orders = [sale("H1", today - dt.timedelta(days=1), 12, [("NOODLES", "1", "18")])]
    with pytest.raises(PermissionDenied):  # store staff: no channels.manage
        history.import_history(
            menu.pos, orders, actor=make_user("store_staff", tree.store_a), today=today
        )
    with pytest.raises(NotFound):  # another store's manager does not see this one
        history.import_history(
            menu.pos, orders, actor=make_user("store_manager", tree.store_b), today=today
        )
    assert not Order.objects.exists()
    manager = make_user("store_manager", tree.store_a)
    assert history.import_history(menu.pos, orders, actor=manager, today=today).created == 1


def test_holidays_between_finds_fixed_and_lunar_holidays():
    from backroom.channels.demo import holidays_between

    found = holidays_between(dt.date(2026, 9, 28), dt.date(2026, 10, 3))
    assert sorted(found) == [dt.date(2026, 10, day) for day in (1, 2, 3)]
    assert holidays_between(dt.date(2027, 2, 5), dt.date(2027, 2, 6)) == {
        dt.date(2027, 2, 6): "春节 Spring Festival"
    }


# --- the demo's 60 days ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def _demo(django_db_setup, django_db_blocker):
    from backroom.config.demo import seed_demo

    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield seed_demo(only=["org", "accounts", "catalog", "inventory", "channels"])
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def demo(_demo, db):
    return _demo


def test_the_demo_has_60_days_of_sales_at_every_store_with_weekend_peaks(demo):
    from backroom.org.models import Site

    stores = list(Site.objects.filter(node__kind="store").select_related("node"))
    assert len(stores) == 12
    for site in stores:
        today = site_today(site)
        first = today - dt.timedelta(days=HISTORY_DAYS)
        days = dict(
            SalesDay.objects.filter(
                site=site, business_date__gte=first, business_date__lt=today
            ).values_list("business_date", "net")
        )
        assert len(days) == 60, site.node.code
        assert all(net > 0 for net in days.values())
        items = SalesItemDay.objects.filter(
            site=site, business_date__gte=first, business_date__lt=today
        )
        assert items.values("business_date").distinct().count() == 60
        assert not items.filter(menu_item=None).exists()  # every sold line is mapped
        weekend = [net for day, net in days.items() if day.weekday() in (4, 5)]
        weekdays = [net for day, net in days.items() if day.weekday() in (0, 1, 2, 3)]
        assert sum(weekend) / len(weekend) > Decimal("1.15") * sum(weekdays) / len(weekdays)
        # Lunch and dinner peaks.
        hours = dict(
            SalesHour.objects.filter(site=site, business_date__gte=first, business_date__lt=today)
            .values("hour")
            .annotate(orders=models_sum("orders"))
            .values_list("hour", "orders")
        )
        assert max(hours, key=hours.get) in (11, 12, 13)
        assert hours.get(18, 0) + hours.get(19, 0) > 3 * (hours.get(15, 0) + hours.get(16, 0)) / 2
        assert hours.get(18, 0) > hours.get(16, 0)


def test_the_demo_history_follows_the_stock_demo_and_stays_out_of_stock(demo):
    from backroom.inventory.reports import SALES_SOURCE
    from backroom.kernel.dates import business_date
    from backroom.org.models import Site

    site = Site.objects.get(node__code="SH001")
    yesterday = site_today(site) - dt.timedelta(days=1)
    # Yesterday's item quantities are the portions the stock demo's sale depletions used.
    sold: dict[int, int] = {}
    for _posting, dish, portions, at in (
        StockMove.objects.filter(site=site, reason="sale", source_type=SALES_SOURCE)
        .values_list("posting_id", "source_id", "source_number", "occurred_at")
        .distinct()
        .order_by()  # one row per sold line, not per move
    ):
        if business_date(at, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour) == yesterday:
            sold[int(dish)] = sold.get(int(dish), 0) + int(portions)
    rows = SalesItemDay.objects.filter(site=site, business_date=yesterday)
    assert sold and {row.menu_item_id: int(row.quantity) for row in rows} == sold
    history_orders = Order.objects.filter(site=site, is_history=True)
    assert not history_orders.filter(is_depleted=True).exists()
    assert not StockMove.objects.filter(
        source_type="channels.order",
        source_id__in=[str(pk) for pk in history_orders.values_list("pk", flat=True)[:500]],
    ).exists()
    # Across channels at SH001: tills, Meituan and Ele.me.
    assert set(history_orders.values_list("kind", flat=True).distinct()) == {
        "pos",
        "meituan",
        "eleme",
    }
    # Kept out of the AvT's revenue: there the stock demo's sold lines count.
    day = SalesDay.objects.get(site=site, business_date=yesterday)
    assert day.history_net == day.net > 0


def models_sum(name: str):
    from django.db.models import Sum

    return Sum(name)
