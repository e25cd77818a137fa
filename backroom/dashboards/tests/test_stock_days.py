"""Daily stock rollups (`StockDay`) equal the ledger: flows per day and the stock value at each
day's end, whatever the order postings are rolled up in, replays, back-dated moves and
reversals; the rebuild finds and fixes any difference."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backroom.dashboards import rollups
from backroom.dashboards.models import StockDay
from backroom.events.services import dispatch_outbox
from backroom.inventory import services
from backroom.inventory.models import StockBalance, StockMove
from backroom.kernel.actors import SYSTEM
from backroom.kernel.dates import business_date, business_day_bounds
from backroom.kernel.money import quantize_money

pytestmark = pytest.mark.django_db

D = Decimal


def _at(site, days_ago: int, hour: int = 12) -> dt.datetime:
    """Noon (local) `days_ago` business days before today at the site."""
    today = business_date(timezone.now(), time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)
    start, _end = business_day_bounds(
        today - dt.timedelta(days=days_ago), time_zone=site.time_zone, cutoff_hour=site.cutoff_hour
    )
    return start + dt.timedelta(hours=hour - site.cutoff_hour)


def _today(site) -> dt.date:
    return business_date(timezone.now(), time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)


def _row(site, day) -> StockDay:
    return StockDay.objects.get(site=site, business_date=day)


def test_a_days_moves_roll_up_by_kind_with_the_value_at_its_end(stock):
    site = stock.walk_in.site
    services.receive(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D(10),
        unit_cost=D(5),
        key="r1",
        actor=SYSTEM,
        occurred_at=_at(site, 1),
    )
    services.consume(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D(2),
        reason="sale",
        key="s1",
        actor=SYSTEM,
        occurred_at=_at(site, 0),
    )
    services.consume(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D(1),
        reason="waste",
        key="w1",
        actor=SYSTEM,
        occurred_at=_at(site, 0),
    )
    services.adjust(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D("-0.5"),
        reason="count_variance",
        key="c1",
        actor=SYSTEM,
        occurred_at=_at(site, 0),
    )
    assert not StockDay.objects.exists()  # the worker rolls up, after commit
    dispatch_outbox()

    yesterday, today = _row(site, _today(site) - dt.timedelta(days=1)), _row(site, _today(site))
    assert (yesterday.receipts, yesterday.net_change, yesterday.closing_value) == (50, 50, 50)
    assert (today.sales, today.waste, today.variance) == (D(-10), D(-5), D("-2.5"))
    assert today.moves == 3
    assert today.net_change == D("-17.5")
    assert today.closing_value == D("32.5")
    on_hand = StockBalance.objects.filter(location__site=site).aggregate(v=Sum("value"))["v"]
    assert today.closing_value == on_hand


def test_a_replayed_event_or_refresh_changes_nothing(stock):
    site = stock.walk_in.site
    result = services.receive(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D(4),
        unit_cost=D(3),
        key="r1",
        actor=SYSTEM,
    )
    dispatch_outbox()
    before = list(StockDay.objects.values())
    assert rollups.refresh_posting(result.posting.pk) == 0
    assert list(StockDay.objects.values()) == before
    assert _row(site, _today(site)).closing_value == 12


def test_a_back_dated_move_moves_every_later_days_value(stock):
    site = stock.walk_in.site
    services.receive(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D(10),
        unit_cost=D(2),
        key="r1",
        actor=SYSTEM,
        occurred_at=_at(site, 1),
    )
    services.receive(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D(10),
        unit_cost=D(2),
        key="r2",
        actor=SYSTEM,
        occurred_at=_at(site, 0),
    )
    dispatch_outbox()
    services.receive(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D(5),
        unit_cost=D(2),
        key="r3",
        actor=SYSTEM,
        occurred_at=_at(site, 3),
    )
    dispatch_outbox()
    today = _today(site)
    assert [
        (row.business_date, row.receipts, row.closing_value)
        for row in StockDay.objects.filter(site=site).order_by("business_date")
    ] == [
        (today - dt.timedelta(days=3), 10, 10),
        (today - dt.timedelta(days=1), 20, 30),
        (today, 20, 50),
    ]


def test_a_reversal_counts_under_the_reversed_moves_kind_on_its_own_day(stock):
    site = stock.walk_in.site
    services.receive(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D(10),
        unit_cost=D(5),
        key="r1",
        actor=SYSTEM,
        occurred_at=_at(site, 2),
    )
    sale = services.consume(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D(2),
        reason="sale",
        key="s1",
        actor=SYSTEM,
        occurred_at=_at(site, 2),
    )
    services.reverse_move(sale.moves[0], key="rev1", actor=SYSTEM)
    dispatch_outbox()
    today = _today(site)
    assert _row(site, today - dt.timedelta(days=2)).sales == -10
    assert _row(site, today).sales == 10
    assert _row(site, today).closing_value == 50


def test_the_rebuild_lists_differences_and_fixes_them(stock, capsys):
    site = stock.walk_in.site
    services.receive(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D(10),
        unit_cost=D(5),
        key="r1",
        actor=SYSTEM,
        occurred_at=_at(site, 1),
    )
    services.consume(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D(2),
        reason="waste",
        key="w1",
        actor=SYSTEM,
        occurred_at=_at(site, 0),
    )
    dispatch_outbox()
    today = _today(site)
    span = ["--from", str(today - dt.timedelta(days=5)), "--to", str(today)]
    call_command("rebuild_dashboard_rollups", *span, "--check")
    assert "0 differences" in capsys.readouterr().out

    StockDay.objects.filter(site=site, business_date=today).update(waste=0, closing_value=1)
    with pytest.raises(CommandError, match="1 differences"):
        call_command("rebuild_dashboard_rollups", *span, "--check")
    err = capsys.readouterr().err
    assert "waste rollup 0.0000 ledger -10.0000" in err
    assert "closing value rollup 1.0000 ledger 40.0000" in err

    call_command("rebuild_dashboard_rollups", *span, "--site", site.node.code)
    assert "(fixed)" in capsys.readouterr().out
    assert (_row(site, today).waste, _row(site, today).closing_value) == (-10, 40)
    with pytest.raises(CommandError, match="unknown site code"):
        call_command("rebuild_dashboard_rollups", *span, "--site", "NOPE")


def test_carry_forward_gives_every_site_a_row_with_the_last_value(stock):
    site = stock.walk_in.site
    services.receive(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D(3),
        unit_cost=D(5),
        key="r1",
        actor=SYSTEM,
        occurred_at=_at(site, 2),
    )
    dispatch_outbox()
    yesterday = _today(site) - dt.timedelta(days=1)
    created = rollups.carry_forward(yesterday)
    assert created >= 2  # both stores of the tree (store B has no stock: value 0)
    assert _row(site, yesterday).closing_value == 15
    assert _row(site, yesterday).moves == 0
    assert rollups.carry_forward(yesterday) == 0


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    operations=st.lists(
        st.tuples(
            st.sampled_from(["receive", "sale", "waste", "variance"]),
            st.integers(0, 4),  # days ago
            st.decimals(min_value=D("0.5"), max_value=D(20), places=1),
            st.decimals(min_value=D(0), max_value=D(9), places=2),
        ),
        min_size=1,
        max_size=10,
    ),
    order=st.randoms(use_true_random=False),
)
def test_rollups_equal_the_ledger_whatever_the_order_of_rolling_up(stock, operations, order):
    """Whatever moves were posted on whichever days, and in whatever order the worker rolls
    their postings up (twice each), each day's closing value is Σ of the moves up to it."""
    site = stock.walk_in.site
    with transaction.atomic():
        postings = []
        for number, (kind, days_ago, quantity, cost) in enumerate(operations):
            when = _at(site, days_ago)
            if kind == "receive":
                result = services.receive(
                    item=stock.napkins,
                    location=stock.walk_in,
                    quantity=quantity,
                    unit_cost=cost,
                    key=f"p{number}",
                    actor=SYSTEM,
                    occurred_at=when,
                )
            elif kind == "variance":
                result = services.adjust(
                    item=stock.napkins,
                    location=stock.walk_in,
                    quantity=-quantity,
                    reason="count_variance",
                    key=f"p{number}",
                    actor=SYSTEM,
                    occurred_at=when,
                )
            else:
                result = services.consume(
                    item=stock.napkins,
                    location=stock.walk_in,
                    quantity=quantity,
                    reason=kind,
                    key=f"p{number}",
                    actor=SYSTEM,
                    occurred_at=when,
                )
            postings.append(result.posting.pk)
        order.shuffle(postings)
        for posting_id in postings + postings:
            rollups.refresh_posting(posting_id)
        today = _today(site)
        for days_ago in range(5):
            day = today - dt.timedelta(days=days_ago)
            _start, end = business_day_bounds(
                day, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour
            )
            ledger = StockMove.objects.filter(site_id=site.pk, occurred_at__lt=end).aggregate(
                v=Sum("value")
            )["v"] or D(0)
            assert rollups.closing_values([site.pk], day)[site.pk] == quantize_money(ledger)
        assert not rollups.rebuild_stock_days(
            site_ids=[site.pk], date_from=today - dt.timedelta(days=6), date_to=today, fix=False
        ).differences
        transaction.set_rollback(True)


def test_measures_read_costs_and_stock_value_from_the_rollups(stock):
    from backroom.dashboards.facts import measures

    site = stock.walk_in.site
    services.receive(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D(10),
        unit_cost=D(5),
        key="r1",
        actor=SYSTEM,
        occurred_at=_at(site, 2),
    )
    services.consume(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D(2),
        reason="sale",
        key="s1",
        actor=SYSTEM,
        occurred_at=_at(site, 1),
    )
    services.consume(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D(1),
        reason="waste",
        key="w1",
        actor=SYSTEM,
        occurred_at=_at(site, 0),
    )
    dispatch_outbox()
    today = _today(site)
    total = measures([site], today - dt.timedelta(days=1), today, currency="CNY")[None]
    assert (total.theoretical_cost, total.waste_cost, total.receipts) == (10, 5, 0)
    assert (total.stock_value, total.days) == (35, 2)
    per_day = measures([site], today - dt.timedelta(days=3), today, by="day", currency="CNY")
    assert [(day, per_day[day].stock_value) for day in sorted(per_day)] == [
        (today - dt.timedelta(days=2), 50),
        (today - dt.timedelta(days=1), 40),
        (today, 35),
    ]
    per_site = measures([site], today, today, by="site", currency="CNY")
    assert per_site[site.pk].stock_value == 35


def test_sold_lines_on_sale_depletions_give_food_cost_a_sales_base(stock, capsys):
    """Sales recorded straight on sale depletions (a sales import, the demo's history) are
    not orders: their menu price × portions is rolled up with the day (golden numbers), so
    theoretical food cost has a base; the rebuild restores it."""
    from backroom.catalog.models import MenuPrice
    from backroom.catalog.tests.conftest import make_item
    from backroom.dashboards.facts import measures
    from backroom.inventory.reports import SALES_SOURCE

    site = stock.walk_in.site
    dish = make_item("NOODLES", base_unit="each", kind="menu")
    MenuPrice.objects.create(
        item=dish, currency="CNY", price=D("28.00"), effective_from=dt.date(2020, 1, 1)
    )
    services.receive(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D(10),
        unit_cost=D(5),
        key="r1",
        actor=SYSTEM,
        occurred_at=_at(site, 2),
    )
    # 3 bowls sold yesterday, 1.5 kg of flour at 5.00: 7.50 of cost on 84.00 of sales.
    services.consume(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D("1.5"),
        reason="sale",
        key="s1",
        actor=SYSTEM,
        source=services.Source(SALES_SOURCE, str(dish.pk), "3"),
        occurred_at=_at(site, 1),
    )
    dispatch_outbox()
    yesterday = _today(site) - dt.timedelta(days=1)
    assert _row(site, yesterday).sold_revenue == D("84.0000")
    total = measures([site], yesterday, yesterday, currency="CNY")[None]
    assert (total.theoretical_cost, total.depleted_net) == (D("7.5"), D(84))
    from backroom.dashboards.kpis import KPIS

    assert KPIS["food_cost_pct"].formula(total) == D("7.5") / D(84)

    StockDay.objects.filter(site=site, business_date=yesterday).update(sold_revenue=0)
    span = ["--from", str(yesterday), "--to", str(yesterday)]
    with pytest.raises(CommandError):
        call_command("rebuild_dashboard_rollups", *span, "--check")
    assert "sold revenue rollup 0.0000 ledger 84.0000" in capsys.readouterr().err
    call_command("rebuild_dashboard_rollups", *span)
    assert _row(site, yesterday).sold_revenue == 84
