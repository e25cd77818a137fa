"""Numbers on the dashboards equal the same figures computed directly from the orders and the
stock ledger (no drift between rollups and facts), and the rebuild commands restore damaged
rollups to the same dashboard."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db.models import Sum
from django.test import Client

from backroom.channels.choices import OrderStatus
from backroom.channels.models import Order, OrderLine, SalesChannelDay, SalesDay
from backroom.channels.tests.conftest import menu  # noqa: F401  (fixture)
from backroom.dashboards.models import StockDay
from backroom.dashboards.tests.hq_data import seed_day
from backroom.inventory.models import StockMove
from backroom.kernel.dates import business_day_bounds
from backroom.testing.factories import make_user

pytestmark = pytest.mark.django_db

D = Decimal
SIX = D("0.000001")


def _close(value: str | None, expected: Decimal) -> bool:
    return value is not None and D(value).quantize(SIX) == expected.quantize(SIX)


def _direct(sites, day: dt.date) -> dict[str, Decimal]:
    """The day's figures straight from Order/OrderLine and StockMove rows."""
    orders = Order.objects.filter(site__in=sites, business_date=day, status=OrderStatus.COMPLETED)
    lines = OrderLine.objects.filter(order__in=orders)
    gross = sum((line.quantity * line.unit_price for line in lines), D(0))
    discounts = orders.aggregate(total=Sum("merchant_discount"))["total"] or D(0)
    net = gross - discounts
    channels: dict[str, Decimal] = {}
    for order in orders.prefetch_related("lines"):
        order_gross = sum((line.quantity * line.unit_price for line in order.lines.all()), D(0))
        channels[order.kind] = (
            channels.get(order.kind, D(0)) + order_gross - order.merchant_discount
        )

    def moved(reason: str) -> Decimal:
        total = D(0)
        for site in sites:
            start, end = business_day_bounds(
                day, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour
            )
            total -= StockMove.objects.filter(
                site=site, reason=reason, occurred_at__gte=start, occurred_at__lt=end
            ).aggregate(total=Sum("value"))["total"] or D(0)
        return total

    theoretical, waste, variance = moved("sale"), moved("waste"), moved("count_variance")
    return {
        "orders": D(orders.count()),
        "gross": gross,
        "net": net,
        "theoretical": theoretical,
        "waste": waste,
        "variance": variance,
        "stock_value": StockMove.objects.filter(site__in=sites).aggregate(total=Sum("value"))[
            "total"
        ],
        **{f"channel_{kind}": value for kind, value in channels.items()},
    }


def _cards(body: dict) -> dict[str, str | None]:
    return {card["code"]: card["value"] for card in body["cards"]}


def _hq(client: Client, node_id: int, day: dt.date) -> dict:
    response = client.get(
        "/api/v1/dashboards/hq",
        {"node_id": node_id, "date_from": day.isoformat(), "date_to": day.isoformat()},
    )
    assert response.status_code == 200, response.content
    return response.json()


def test_dashboard_numbers_equal_the_orders_and_the_ledger(tree, menu):  # noqa: F811
    data = seed_day(menu)
    site_a, site_b = menu.walk_in.site, menu.walk_in_b.site
    client = Client()
    client.force_login(make_user("hq_operations", tree.group))

    body = _hq(client, tree.region.pk, data.day)
    cards = _cards(body)
    expected = _direct([site_a, site_b], data.day)
    # Golden: A sells 36 + 18 + 50 = 104 net over 3 orders, B 72 over 1.
    assert expected["net"] == D(176) and expected["orders"] == 4
    assert _close(cards["sales"], expected["net"])
    assert _close(cards["orders"], expected["orders"])
    assert _close(cards["guests"], expected["orders"])
    assert _close(cards["average_ticket"], expected["net"] / expected["orders"])
    assert _close(cards["food_cost_pct"], expected["theoretical"] / expected["net"])
    assert _close(
        cards["actual_food_cost_pct"],
        (expected["theoretical"] + expected["waste"] + expected["variance"]) / expected["net"],
    )
    assert _close(cards["waste_pct"], expected["waste"] / expected["net"])
    assert _close(cards["avt_variance"], expected["variance"])
    assert _close(cards["stock_value"], expected["stock_value"])
    # One bowl: 0.2 kg flour at 4, 0.0025 kg salt at 2, 0.1 kg beef at 60 = 6.805; ten bowls.
    assert expected["theoretical"] == D("68.05")
    assert expected["waste"] == D(12) and expected["variance"] == D(6)

    channels = {row["kind"]: D(row["net"]) for row in body["channels"]}
    assert channels == {"pos": D(126), "meituan": D(50)}
    assert channels == {
        key.removeprefix("channel_"): value
        for key, value in expected.items()
        if key.startswith("channel_")
    }

    ranked = {row["node"]["code"]: row for row in body["children"]}
    assert set(ranked) == {"SHA001", "SHA002"}
    assert D(ranked["SHA001"]["sales"]) == _direct([site_a], data.day)["net"] == D(104)
    assert D(ranked["SHA002"]["sales"]) == D(72)
    assert [row["node"]["code"] for row in body["children"]] == ["SHA001", "SHA002"]
    assert [(point["date"], D(point["value"])) for point in ranked["SHA001"]["sparkline"]] == [
        (data.day.isoformat(), D(104))
    ]
    assert [(row["date"], D(row["sales"]), D(row["orders"])) for row in body["trend"]] == [
        (data.day.isoformat(), D(176), D(4))
    ]

    # A store's day: hours, categories, items from the same orders.
    day = client.get(f"/api/v1/dashboards/stores/{site_a.pk}/days/{data.day.isoformat()}")
    assert day.status_code == 200, day.content
    day_body = day.json()
    assert _close(_cards(day_body)["sales"], D(104))
    assert [(D(row["quantity"]), D(row["net"])) for row in day_body["items"]] == [(D(6), D(104))]
    assert sum(D(row["net"]) for row in day_body["hours"]) == D(104)
    assert sum(row["orders"] for row in day_body["hours"]) == 3
    assert sum(D(row["net"]) for row in day_body["categories"]) == D(104)

    store = client.get(
        f"/api/v1/dashboards/stores/{site_a.pk}",
        {"date_from": data.day.isoformat(), "date_to": data.day.isoformat()},
    ).json()
    assert _close(_cards(store)["sales"], D(104))
    assert _close(_cards(store)["food_cost_pct"], _direct([site_a], data.day)["theoretical"] / 104)


def test_rebuilds_restore_damaged_rollups_to_the_same_dashboard(tree, menu):  # noqa: F811
    data = seed_day(menu)
    client = Client()
    client.force_login(make_user("hq_operations", tree.group))
    before = _hq(client, tree.region.pk, data.day)

    # Damage both kinds of rollups (as a bad deploy or a hand edit would).
    SalesDay.objects.filter(business_date=data.day).update(net=D(1), orders=99)
    SalesChannelDay.objects.filter(business_date=data.day).delete()
    StockDay.objects.filter(business_date=data.day).update(sales=D(0), waste=D(-999))
    damaged = _hq(client, tree.region.pk, data.day)
    assert _cards(damaged) != _cards(before)

    span = ["--from", data.day.isoformat(), "--to", data.day.isoformat()]
    call_command("rebuild_sales_rollups", *span)
    call_command("rebuild_dashboard_rollups", *span)
    after = _hq(client, tree.region.pk, data.day)
    assert after == before


def test_a_hong_kong_store_counts_in_the_reporting_currency(tree, menu):  # noqa: F811
    from backroom.channels import services
    from backroom.channels.choices import ChannelKind
    from backroom.dashboards.tests.hq_data import till_sale
    from backroom.finance.services.fx import set_fx_rate
    from backroom.kernel.actors import SYSTEM

    data = seed_day(menu)
    site_hk = tree.store_hk.site
    services.create_account(site=site_hk, kind=ChannelKind.POS, name="Till", actor=SYSTEM)
    till_sale(site_hk, quantity="5", price="40.00", placed_at=data.moment, currency="HKD")
    set_fx_rate(date=data.day, currency="HKD", quote="CNY", rate="0.92", actor=SYSTEM)
    client = Client()
    client.force_login(make_user("hq_operations", tree.group))

    body = _hq(client, tree.group.pk, data.day)
    assert body["currency"] == "CNY"
    # 176 CNY in Shanghai + 200 HKD × 0.92 = 184 CNY in Hong Kong.
    assert D(_cards(body)["sales"]) == D(360)
    children = {row["node"]["code"]: D(row["sales"]) for row in body["children"]}
    assert children == {"CN-CO": D(176), "HK-CO": D(184)}
    assert D(_cards(body)["orders"]) == 5
    day = client.get(f"/api/v1/dashboards/stores/{site_hk.pk}/days/{data.day.isoformat()}").json()
    assert D(_cards(day)["sales"]) == D(184)
    assert [D(row["net"]) for row in day["items"]] == [D(184)]


def test_daily_weekly_and_monthly_buckets_add_up_to_each_stores_totals(tree, menu):  # noqa: F811
    from backroom.dashboards import facts, running

    data = seed_day(menu)
    sites = [menu.walk_in.site, menu.walk_in_b.site]
    start, end = data.day - dt.timedelta(days=59), data.day
    running.roll(data.day + dt.timedelta(days=1))  # and again from the running totals
    per_site = facts.measures(sites, start, end, by="site")
    for by in ("site_day", "site_week", "site_month"):
        buckets = facts.measures(sites, start, end, by=by)  # type: ignore[arg-type]
        for site in sites:
            mine = sorted(
                (key[1], value)
                for key, value in buckets.items()
                if isinstance(key, tuple) and key[0] == site.pk
            )
            for name in ("net", "orders", "theoretical_cost", "waste_cost", "variance_cost"):
                assert sum((getattr(m, name) for _day, m in mine), D(0)) == getattr(
                    per_site[site.pk], name
                ), (by, name)
            assert mine[-1][1].stock_value == per_site[site.pk].stock_value
            if by == "site_week":
                assert all(day.weekday() == 0 for day, _m in mine)
                week, last = mine[-1]
                assert last.days == 1  # the days of its week with stock history: the last one
                # Without stock flows: the days of its week in the period.
                sales = facts.measures(sites, start, end, by=by, sources={"sales"})
                assert sales[(site.pk, week)].days == (end - week).days + 1
            if by == "site_month":
                assert all(day.day == 1 for day, _m in mine)

    client = Client()
    client.force_login(make_user("hq_operations", tree.group))
    body = client.get(
        "/api/v1/dashboards/hq",
        {"node_id": tree.region.pk, "date_from": start.isoformat(), "date_to": end.isoformat()},
    ).json()
    assert body["trend_grain"] == "week"
    line = next(row for row in body["children"] if row["node"]["code"] == "SHA001")["sparkline"]
    weeks = [dt.date.fromisoformat(point["date"]) for point in line]
    # Each week's first day in the period: the period's first day, then Mondays.
    assert weeks[0] == start and all(week.weekday() == 0 for week in weeks[1:])
    assert len(weeks) in (9, 10)
    assert sum(D(point["value"] or 0) for point in line) == D(104)
    assert [dt.date.fromisoformat(day["date"]) for day in body["trend"]] == weeks
    assert sum(D(day["sales"]) for day in body["trend"]) == D(_cards(body)["sales"])


def test_days_of_inventory_average_usage_over_the_days_of_stock_history(tree, menu):  # noqa: F811
    """Stores whose stock history began one day ago: over 60 days, their usage is a day's,
    not a sixtieth of it (days of inventory would be 60 times too high)."""
    from backroom.dashboards import facts, kpis

    data = seed_day(menu)
    sites = [menu.walk_in.site, menu.walk_in_b.site]
    start, end = data.day - dt.timedelta(days=59), data.day
    assert set(StockDay.objects.values_list("business_date", flat=True)) == {data.day}
    total = facts.measures(sites, start, end)[None]
    per_site = facts.measures(sites, start, end, by="site")
    weeks = facts.measures(sites, start, end, by="week")
    assert total.days == 1
    assert {site.pk: m.days for site, m in zip(sites, per_site.values(), strict=True)} == {
        site.pk: 1 for site in sites
    }
    assert sorted(m.days for m in weeks.values()) == [0] * (len(weeks) - 1) + [1]
    doi = kpis.KPIS["days_of_inventory"].formula(total)
    assert total.usage_cost > 0
    assert doi == total.stock_value / total.usage_cost
    # Without stock flows, nothing asks: the period's days.
    assert facts.measures(sites, start, end, sources={"sales"})[None].days == 60


def test_a_till_order_of_a_past_day_marks_its_store_one_of_today_passes_by(tree, menu):  # noqa: F811
    from django.utils import timezone

    from backroom.dashboards.models import StoreRunningDirty
    from backroom.dashboards.tests.hq_data import till_sale
    from backroom.events.models import EventConsumption
    from backroom.events.services import dispatch_outbox

    site = menu.walk_in.site
    received = EventConsumption.objects.filter(subscriber="dashboards.running.order_received")
    till_sale(site, quantity="1", price="18.00", placed_at=timezone.now())
    dispatch_outbox()
    assert not received.exists()  # passed by: no transaction, no record
    assert not StoreRunningDirty.objects.exists()
    # A till that was offline for three days catches up.
    till_sale(site, quantity="1", price="18.00", placed_at=timezone.now() - dt.timedelta(days=3))
    dispatch_outbox()
    late = Order.objects.latest("pk")
    assert received.get().event.payload["business_date"] == late.business_date.isoformat()
    assert list(StoreRunningDirty.objects.values_list("site_id", "day")) == [
        (site.pk, late.business_date)
    ]
