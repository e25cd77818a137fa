"""KPIs are ratios of sums: golden numbers for every formula, and how measures combine."""

from decimal import Decimal

from backroom.dashboards.kpis import KPIS, Measures, better, evaluate

D = Decimal


def _store(**values) -> Measures:
    return Measures(**{"days": 7, **values})


def test_golden_numbers():
    m = _store(
        orders=D(200),
        gross=D(11000),
        net=D(10000),
        merchant_discount=D(1000),
        depleted_net=D(8000),
        forecast_gross=D(10000),
        forecast_sales=D(11000),  # all seven days had a forecast
        last_year_net=D(12500),
        theoretical_cost=D(2400),
        waste_cost=D(160),
        variance_cost=D(240),
        other_usage_cost=D(0),
        stock_value=D(5600),
        soldout_minutes=D(95),
    )
    values = evaluate(m)
    assert values["sales"] == 10000
    assert values["average_ticket"] == 50
    assert values["sales_vs_forecast"] == D("0.1")
    assert values["sales_vs_last_year"] == D("-0.2")
    assert values["discount_pct"] == D(1000) / D(11000)
    assert values["food_cost_pct"] == D("0.3")
    assert values["actual_food_cost_pct"] == D("0.35")
    assert values["waste_pct"] == D("0.016")  # of all net sales, not only depleted ones
    assert values["avt_variance"] == 240
    assert values["avt_variance_pct"] == D("0.03")
    # Usage 2,800 over 7 days = 400 a day; 5,600 of stock lasts 14 days.
    assert values["days_of_inventory"] == 14
    assert values["soldout_minutes"] == 95
    assert set(values) == set(KPIS)


def test_sales_vs_forecast_compares_only_the_days_with_a_forecast():
    # A week of 11,000 gross, of which 4,000 on the three days with a forecast of 5,000.
    m = _store(gross=D(11000), net=D(10000), forecast_gross=D(5000), forecast_sales=D(4000))
    assert evaluate(m, ["sales_vs_forecast"])["sales_vs_forecast"] == D("-0.2")


def test_ratios_without_a_base_are_empty():
    values = evaluate(Measures(days=1))
    assert values["average_ticket"] is None
    assert values["food_cost_pct"] is None
    assert values["sales_vs_forecast"] is None
    assert values["days_of_inventory"] is None


def test_a_region_is_the_ratio_of_its_stores_sums_not_the_average_of_ratios():
    a = _store(net=D(1000), depleted_net=D(1000), theoretical_cost=D(300), stock_value=D(10))
    b = _store(net=D(3000), depleted_net=D(3000), theoretical_cost=D(600), stock_value=D(20))
    both = a + b
    assert evaluate(both, ["food_cost_pct"])["food_cost_pct"] == D("0.225")
    assert both.stock_value == 30 and both.days == 7


def test_consecutive_periods_add_flows_and_keep_the_later_stock_value():
    week1 = _store(net=D(100), stock_value=D(50), channel_net={"pos": D(100)})
    week2 = _store(net=D(200), stock_value=D(70), channel_net={"pos": D(50), "meituan": D(150)})
    both = week1.then(week2)
    assert (both.net, both.stock_value, both.days) == (300, 70, 14)
    assert both.channel_net == {"pos": D(150), "meituan": D(150)}


def test_better_follows_each_kpis_good_direction():
    assert better("sales", D(2), D(1)) is True
    assert better("food_cost_pct", D("0.3"), D("0.2")) is False
    assert better("stock_value", D(2), D(1)) is None
    assert better("sales", None, D(1)) is None
