"""History import (sales before go-live): counted in the rollups, never depleted or reserved,
idempotent, all or nothing, kept out of the AvT's revenue; and the demo's 60 days of it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from backroom.audit.models import AuditEntry
from backroom.catalog.selectors import site_today
from backroom.channels import history, rollups, services
from backroom.channels.choices import OrderStatus
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
