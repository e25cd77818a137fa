"""Alert rules: conditions checked in CEL over the KPI variables (every problem with its column),
evaluated per scope node with golden KPI values, raising exactly the expected alerts, grouped and
kept quiet through the cool-down; schedules come due; events trigger; a dry run writes nothing."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from backroom.channels.models import SalesDay
from backroom.dashboards import rules
from backroom.dashboards.choices import AlertStatus
from backroom.dashboards.models import Alert, AlertActivity, AlertRule, ForecastDay, StockDay
from backroom.events.models import OutboxEvent
from backroom.kernel.dates import business_date

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture(autouse=True)
def _noon(monkeypatch):
    """The clock at noon in the chain's time zone: the rules read "yesterday" from it, and a
    test that runs them 90 minutes on would cross the stores' 04:00 cut-off when started at
    03:00 (a test sets its own time where the hour matters)."""
    noon = dt.datetime.combine(
        timezone.localdate(), dt.time(12), tzinfo=timezone.get_default_timezone()
    )
    monkeypatch.setattr(timezone, "now", lambda: noon)


def _rule(**values) -> AlertRule:
    defaults = {
        "code": "food-cost-test",
        "name": "Food cost high",
        "condition": "food_cost_pct > 0.34 && sales > 5000",
        "scope": "store",
        "period": "yesterday",
        "schedule": "daily",
        "recipient_roles": ["store_manager"],
    }
    return AlertRule.objects.create(**{**defaults, **values})


def _yesterday(site) -> dt.date:
    today = business_date(timezone.now(), time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)
    return today - dt.timedelta(days=1)


def _day(site, day, *, net, cost=None, waste=None, forecast=None, currency="CNY"):
    """A store-day's rollups as the workers would have written them."""
    cost, waste = cost or D(0), waste or D(0)
    SalesDay.objects.create(
        site=site, business_date=day, currency=currency, orders=100, gross=net, net=net
    )
    StockDay.objects.create(site=site, business_date=day, sales=-cost, waste=-waste)
    if forecast is not None:
        ForecastDay.objects.create(site=site, business_date=day, currency=currency, gross=forecast)


# --- checking conditions ---------------------------------------------------------------------


def test_a_valid_condition_over_kpis_and_strings_has_no_problems():
    assert rules.check_rule_condition("food_cost_pct > 0.34 && sales > 5000") == []
    assert rules.check_rule_condition('waste_pct > 0.03 && region == "EAST" && days >= 1') == []
    assert rules.check_rule_condition('store in ["SHA001", "SHA002"] || sales < 100') == []


def test_problems_are_reported_all_at_once_with_their_columns():
    problems = rules.check_rule_condition('food_cost > 0.34 && sales > "x" && salse < 3')
    messages = [p.message for p in problems]
    assert [p.column for p in problems] == [1, 29, 36]
    assert messages[0].startswith("Column 1: unknown field “food_cost”. Fields of alert rules: ")
    assert "food_cost_pct" in messages[0] and "waste_pct" in messages[0]
    assert messages[1].startswith("Column 29: “>” cannot compare “sales” (a decimal number) with")
    assert messages[2].startswith("Column 36: unknown field “salse”.")


def test_syntax_errors_type_errors_and_unsupported_constructs():
    (syntax,) = rules.check_rule_condition("sales > ")
    assert "ends too early" in syntax.message
    (column,) = rules.check_rule_condition("sales >> 3")
    assert column.message.startswith("Syntax error at column 8")
    (not_bool,) = rules.check_rule_condition("sales + 1")
    assert "must give true or false" in not_bool.message
    (string_vs_number,) = rules.check_rule_condition("store == 5")
    assert string_vs_number.column == 10
    (member,) = rules.check_rule_condition("sales.x > 1")
    assert member.message.endswith("is not supported in alert rule conditions.")
    (blank,) = rules.check_rule_condition("  ")
    assert blank.message == "Write the condition that raises the alert."


def test_referenced_kpis_and_the_documented_variables():
    assert rules.referenced_kpis("food_cost_pct > 0.34 && sales > 5000 && store != ''") == [
        "food_cost_pct",
        "sales",
    ]
    names = {row["name"]: row["type"] for row in rules.variables()}
    assert names["food_cost_pct"] == "double" and names["store"] == "string"
    assert names["days"] == "int" and "event" in names


# --- evaluation ------------------------------------------------------------------------------


def test_golden_kpis_raise_exactly_the_stores_over_the_threshold(tree):
    a, b = tree.store_a.site, tree.store_b.site
    # A: cost 2,160 / sales 6,000 = 36 % with sales over 5,000 → fires.
    _day(a, _yesterday(a), net=D(6000), cost=D(2160))
    # B: 40 % but only 4,000 of sales → quiet.
    _day(b, _yesterday(b), net=D(4000), cost=D(1600))
    # HK: no sales at all → food cost has no value → does not fire (and does not crash).
    rule = _rule()
    outcomes = rules.run_rule(rule)
    by_store = {o.evaluation.node.code: o for o in outcomes}
    assert set(by_store) == {"SHA001", "SHA002", "HKG001"}
    assert by_store["SHA001"].action == "new"
    assert by_store["SHA001"].evaluation.kpis["food_cost_pct"] == D("0.36")
    assert by_store["SHA002"].action == "" and not by_store["SHA002"].evaluation.fired
    assert by_store["HKG001"].evaluation.missing == ["food_cost_pct"]
    assert by_store["HKG001"].evaluation.currency == "HKD"
    alert = Alert.objects.get()
    assert (alert.origin, alert.node, alert.site, alert.severity) == (
        f"rule:{rule.pk}",
        tree.store_a,
        a,
        "warning",
    )
    assert alert.title == "Food cost high"
    assert alert.details["kpis"]["food_cost_pct"] == "0.36"
    assert alert.details["kpis"]["sales"] == "6000"
    assert alert.details["period"] == "yesterday"
    assert alert.details["date_from"] == _yesterday(a).isoformat()
    assert alert.details["condition"] == rule.condition
    assert "36.0 %" in alert.message and "6,000.00 CNY" in alert.message
    event = OutboxEvent.objects.get(event_type="dashboards.alert.raised")
    assert event.payload["alert_id"] == alert.pk and event.org_node == tree.store_a


def test_region_and_chain_scopes_sum_their_stores_then_take_the_ratio(tree):
    a, b = tree.store_a.site, tree.store_b.site
    _day(a, _yesterday(a), net=D(6000), cost=D(1800))  # 30 %
    _day(b, _yesterday(b), net=D(4000), cost=D(1800))  # 45 %
    # East: 3,600 / 10,000 = 36 % (not the 37.5 % average of the ratios).
    region_rule = _rule(code="region", scope="region")
    (outcome,) = rules.run_rule(region_rule)
    assert outcome.evaluation.node == tree.region
    assert outcome.evaluation.kpis["food_cost_pct"] == D("0.36")
    assert outcome.evaluation.variables["region"] == "EAST"
    assert outcome.action == "new"
    chain_rule = _rule(code="chain", scope="chain", condition="sales > 9999 && node == 'GRP'")
    (chain,) = rules.run_rule(chain_rule)
    assert chain.evaluation.node == tree.group and chain.action == "new"
    assert Alert.objects.filter(site__isnull=True).count() == 2


def test_after_midnight_a_region_still_means_its_stores_business_day(tree):
    """At 01:30 the stores (cutoff 04:00) still trade on the day before: the region's
    "yesterday" is theirs, not the calendar's."""
    a, b = tree.store_a.site, tree.store_b.site
    calendar_today = dt.date(2026, 3, 10)
    now = dt.datetime.combine(
        calendar_today, dt.time(1, 30), tzinfo=timezone.get_default_timezone()
    )
    store_yesterday = calendar_today - dt.timedelta(days=2)
    assert business_date(now, time_zone=a.time_zone, cutoff_hour=a.cutoff_hour) == (
        calendar_today - dt.timedelta(days=1)
    )
    _day(a, store_yesterday, net=D(6000), cost=D(1800))
    _day(b, store_yesterday, net=D(4000), cost=D(1800))
    (outcome,) = rules.run_rule(_rule(code="region", scope="region"), now=now)
    assert outcome.evaluation.date_from == outcome.evaluation.date_to == store_yesterday
    assert outcome.evaluation.kpis["food_cost_pct"] == D("0.36")


def test_the_rule_node_limits_its_scope(tree):
    a = tree.store_a.site
    _day(a, _yesterday(a), net=D(6000), cost=D(3000))
    rule = _rule(node=tree.store_b)
    assert [o.evaluation.node for o in rules.run_rule(rule)] == [tree.store_b]
    assert not Alert.objects.exists()


def test_waste_and_forecast_rules(tree):
    a = tree.store_a.site
    _day(a, _yesterday(a), net=D(1000), cost=D(300), waste=D(40), forecast=D(1500))
    waste = _rule(code="waste", condition="waste_pct > 0.03", node=tree.store_a)
    forecast = _rule(code="fc", condition="sales_vs_forecast < -0.2", node=tree.store_a)
    (w,) = rules.run_rule(waste)
    (f,) = rules.run_rule(forecast)
    assert w.evaluation.kpis["waste_pct"] == D("0.04") and w.action == "new"
    # 1,000 against 1,500 forecast is 33 % under.
    assert f.evaluation.kpis["sales_vs_forecast"] == D(1000) / D(1500) - 1 and f.action == "new"


def test_repeats_are_grouped_and_the_cooldown_keeps_quiet_after_resolution(tree):
    a = tree.store_a.site
    _day(a, _yesterday(a), net=D(6000), cost=D(2160))
    rule = _rule(cooldown_minutes=60)
    now = timezone.now()
    rules.run_rule(rule, now=now)
    (again,) = [o for o in rules.run_rule(rule, now=now + dt.timedelta(minutes=15)) if o.action]
    assert again.action == "grouped"
    alert = Alert.objects.get()
    assert alert.occurrences == 2
    Alert.objects.filter(pk=alert.pk).update(status=AlertStatus.RESOLVED)
    (quiet,) = [o for o in rules.run_rule(rule, now=now + dt.timedelta(minutes=30)) if o.action]
    assert quiet.action == "quiet" and Alert.objects.count() == 1
    (fresh,) = [o for o in rules.run_rule(rule, now=now + dt.timedelta(minutes=90)) if o.action]
    assert fresh.action == "new" and Alert.objects.count() == 2


def test_a_dry_run_says_what_would_happen_and_writes_nothing(tree):
    a = tree.store_a.site
    _day(a, _yesterday(a), net=D(6000), cost=D(2160))
    rule = _rule()
    before = (Alert.objects.count(), OutboxEvent.objects.count(), AlertActivity.objects.count())
    outcomes = rules.dry_run(rule)
    assert [(o.evaluation.node.code, o.action) for o in outcomes] == [
        ("SHA001", "new"),
        ("SHA002", ""),
        ("HKG001", ""),
    ]
    assert (
        Alert.objects.count(),
        OutboxEvent.objects.count(),
        AlertActivity.objects.count(),
    ) == before
    rules.run_rule(rule)
    assert next(o.action for o in rules.dry_run(rule)) == "grouped"


def test_periods():
    today = dt.date(2026, 12, 5)
    assert rules.period_dates("today", today) == (today, today)
    assert rules.period_dates("yesterday", today) == (dt.date(2026, 12, 4),) * 2
    assert rules.period_dates("last_7_days", today) == (dt.date(2026, 11, 28), dt.date(2026, 12, 4))
    assert rules.period_dates("last_28_days", today)[0] == dt.date(2026, 11, 7)


# --- schedule and trigger --------------------------------------------------------------------


def test_schedules_come_due(settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    zone = timezone.get_default_timezone()
    at = dt.datetime(2026, 12, 5, 8, 0, tzinfo=zone)
    quarter = AlertRule(schedule="15min", trigger="schedule", is_active=True)
    assert rules.is_due(quarter, at)
    quarter.last_evaluated_at = at - dt.timedelta(minutes=10)
    assert not rules.is_due(quarter, at)
    quarter.last_evaluated_at = at - dt.timedelta(minutes=15)
    assert rules.is_due(quarter, at)
    hourly = AlertRule(schedule="hourly", trigger="schedule", is_active=True)
    hourly.last_evaluated_at = at - dt.timedelta(minutes=30)
    assert not rules.is_due(hourly, at)
    hourly.last_evaluated_at = at - dt.timedelta(minutes=60)
    assert rules.is_due(hourly, at)
    daily = AlertRule(schedule="daily", run_at=dt.time(7, 0), trigger="schedule", is_active=True)
    assert rules.is_due(daily, at)
    assert not rules.is_due(daily, dt.datetime(2026, 12, 5, 6, 59, tzinfo=zone))
    daily.last_evaluated_at = dt.datetime(2026, 12, 5, 7, 0, tzinfo=zone)
    assert not rules.is_due(daily, at)
    assert rules.is_due(daily, dt.datetime(2026, 12, 6, 7, 5, tzinfo=zone))
    daily.is_active = False
    assert not rules.is_due(daily, dt.datetime(2026, 12, 6, 7, 5, tzinfo=zone))
    assert not rules.is_due(AlertRule(trigger="event", is_active=True), at)


def test_the_sweep_evaluates_each_due_rule_once(tree):
    a = tree.store_a.site
    _day(a, _yesterday(a), net=D(6000), cost=D(2160))
    AlertRule.objects.update(is_active=False)  # the shipped rules
    rule = _rule(schedule="15min")
    now = timezone.now()
    assert rules.evaluate_due_rules(now) == 1
    assert rules.evaluate_due_rules(now + dt.timedelta(minutes=5)) == 0
    rule.refresh_from_db()
    assert rule.last_evaluated_at == now
    assert Alert.objects.get().occurrences == 1
    assert rules.evaluate_due_rules(now + dt.timedelta(minutes=15)) == 1
    assert Alert.objects.get().occurrences == 2


def test_an_event_evaluates_its_rules_for_the_events_store(tree):
    a, b = tree.store_a.site, tree.store_b.site
    _day(a, _yesterday(a), net=D(6000), cost=D(2160))
    _day(b, _yesterday(b), net=D(6000), cost=D(2160))
    rule = _rule(trigger="event", event_type="inventory.stock.posted")
    assert rules.evaluate_for_event("inventory.stock.posted", tree.store_a) == 1
    assert rules.evaluate_for_event("channels.order.received", tree.store_a) == 0
    alert = Alert.objects.get()
    assert alert.node == tree.store_a and alert.rule == rule
    assert alert.details["variables"]["event"] == "inventory.stock.posted"


def test_the_builtin_rules_are_shipped_valid_and_active():
    builtin = AlertRule.objects.filter(is_builtin=True).order_by("code")
    assert [r.code for r in builtin] == [
        "food-cost-high",
        "sales-below-forecast",
        "sold-out-long",
        "waste-high",
    ]
    for rule in builtin:
        assert rules.check_rule_condition(rule.condition) == [], rule.code
        assert rule.is_active
    assert builtin.get(code="food-cost-high").condition == "food_cost_pct > 0.34 && sales > 5000"


def test_the_worker_looks_only_at_events_some_rule_waits_for(tree, django_assert_num_queries):
    from backroom.dashboards import handlers, services
    from backroom.testing.factories import make_user

    assert "inventory.stock.posted" not in rules.triggered_event_types()
    event = OutboxEvent(event_type="inventory.stock.posted", payload={}, org_node=tree.store_a)
    with django_assert_num_queries(0):  # cached: no rule, nothing read
        handlers.evaluate_rules_on_event(event)
    admin = make_user("hq_operations", tree.group)
    rule = services.create_rule(
        services.RuleInput(
            code="stock-event",
            name="On stock",
            condition="waste_value > 1",
            scope="store",
            period="today",
            trigger="event",
            event_type="inventory.stock.posted",
        ),
        actor=admin,
    )
    assert "inventory.stock.posted" in rules.triggered_event_types()
    services.set_rule_active(rule, False, actor=admin)
    assert "inventory.stock.posted" not in rules.triggered_event_types()
