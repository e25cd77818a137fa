"""KPIs, defined once: a code, a label, a unit, which way is good, and a formula over
`Measures` (sums read from the rollups). Pages, the API, exports and alert rules (CEL
variables are the KPI codes) all evaluate them through `evaluate`.

`Measures` are additive over stores and days, so a region's figures are the sum of its
stores', and a ratio KPI is always the ratio of sums (never an average of ratios). Money is in
one currency (the report's: see facts.py). Costs are positive (the ledger's issues negated).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Literal

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

ZERO = Decimal(0)

Unit = Literal["money", "percent", "count", "minutes", "days"]
# What `facts.measures` reads, by source: sales (orders, gross, net), discounts and
# commission, depleted sales (the net sales whose usage the ledger holds), the channel mix,
# last year's sales, the forecast, stock flows (usage, waste, variances, receipts, sold lines
# on depletions), the stock value and sold-out minutes. A KPI names the sources its formula
# reads.
SOURCES = frozenset(
    {
        "sales",
        "discounts",
        "depleted",
        "channels",
        "last_year",
        "forecast",
        "stock_flows",
        "stock_value",
        "soldout",
    }
)
Direction = Literal["up", "down", "none"]


@dataclass
class Measures:
    """Sums over a set of stores and days. `stock_value` is the value at the period's end (it
    adds up over stores, not days: `combine_days` keeps the last day's)."""

    days: int = 0
    orders: Decimal = ZERO
    gross: Decimal = ZERO
    net: Decimal = ZERO
    merchant_discount: Decimal = ZERO
    platform_discount: Decimal = ZERO
    commission: Decimal = ZERO
    # Net sales whose usage the ledger holds: orders (not imported history) and sold lines
    # recorded straight on sale depletions. The base of the food-cost ratios, as in the AvT
    # report.
    depleted_net: Decimal = ZERO
    forecast_gross: Decimal = ZERO
    forecast_guests: Decimal = ZERO
    # Gross sales of the days that had a forecast.
    forecast_sales: Decimal = ZERO
    # The same weekdays a year (52 weeks) earlier.
    last_year_net: Decimal = ZERO
    last_year_orders: Decimal = ZERO
    theoretical_cost: Decimal = ZERO
    waste_cost: Decimal = ZERO
    variance_cost: Decimal = ZERO
    other_usage_cost: Decimal = ZERO
    receipts: Decimal = ZERO
    stock_value: Decimal = ZERO
    soldout_minutes: Decimal = ZERO
    channel_net: dict[str, Decimal] = field(default_factory=dict)

    def __add__(self, other: Measures) -> Measures:
        """Stores side by side (same days): every sum adds, stock value too."""
        result = Measures()
        for f in fields(self):
            if f.name == "channel_net":
                continue
            setattr(result, f.name, getattr(self, f.name) + getattr(other, f.name))
        result.days = max(self.days, other.days)
        result.channel_net = dict(self.channel_net)
        for kind, value in other.channel_net.items():
            result.channel_net[kind] = result.channel_net.get(kind, ZERO) + value
        return result

    def then(self, later: Measures) -> Measures:
        """Consecutive periods of the same stores: flows add, stock value is the later one's."""
        result = self + later
        result.days = self.days + later.days
        result.stock_value = later.stock_value
        return result

    @property
    def usage_cost(self) -> Decimal:
        """What stock was used up at cost: sold, wasted, lost at counts and consumed."""
        return self.theoretical_cost + self.waste_cost + self.variance_cost + self.other_usage_cost


def ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    if not denominator:
        return None
    return numerator / denominator


def change(now: Decimal, before: Decimal) -> Decimal | None:
    """Relative change (0.05 = 5 % up); none without a base."""
    if not before:
        return None
    return now / before - 1


@dataclass(frozen=True)
class Kpi:
    code: str
    label: Promise | str
    unit: Unit
    good: Direction
    formula: Callable[[Measures], Decimal | None]
    description: Promise | str = ""
    sources: frozenset[str] = frozenset({"sales"})


KPIS: dict[str, Kpi] = {
    kpi.code: kpi
    for kpi in [
        Kpi(
            "sales",
            _("Sales"),
            "money",
            "up",
            lambda m: m.net,
            _("Net sales (after merchant-borne discounts)."),
        ),
        Kpi("gross_sales", _("Gross sales"), "money", "up", lambda m: m.gross),
        Kpi("orders", _("Orders"), "count", "up", lambda m: m.orders),
        Kpi(
            "guests",
            _("Guests"),
            "count",
            "up",
            lambda m: m.orders,
            _("Counted as orders until the tills send covers."),
        ),
        Kpi("average_ticket", _("Average ticket"), "money", "up", lambda m: ratio(m.net, m.orders)),
        Kpi(
            "sales_vs_forecast",
            _("Sales vs forecast"),
            "percent",
            "up",
            lambda m: change(m.forecast_sales, m.forecast_gross),
            _("Gross sales against the forecast at menu prices, over the days with a forecast."),
            sources=frozenset({"forecast"}),
        ),
        Kpi(
            "sales_vs_last_year",
            _("Sales vs last year"),
            "percent",
            "up",
            lambda m: change(m.net, m.last_year_net),
            _("Against the same weekdays 52 weeks earlier."),
            sources=frozenset({"sales", "last_year"}),
        ),
        Kpi(
            "discount_pct",
            _("Discounts"),
            "percent",
            "down",
            lambda m: ratio(m.merchant_discount, m.gross),
            _("Merchant-borne discounts as a share of gross sales."),
            sources=frozenset({"sales", "discounts"}),
        ),
        Kpi(
            "food_cost_pct",
            _("Theoretical food cost"),
            "percent",
            "down",
            lambda m: ratio(m.theoretical_cost, m.depleted_net),
            _("Recipe cost of what was sold, as a share of its sales."),
            sources=frozenset({"depleted", "stock_flows"}),
        ),
        Kpi(
            "actual_food_cost_pct",
            _("Actual food cost"),
            "percent",
            "down",
            lambda m: ratio(m.theoretical_cost + m.waste_cost + m.variance_cost, m.depleted_net),
            _("Theoretical cost plus waste and count variances, as a share of sales."),
            sources=frozenset({"depleted", "stock_flows"}),
        ),
        Kpi(
            "waste_pct",
            _("Waste"),
            "percent",
            "down",
            lambda m: ratio(m.waste_cost, m.net),
            _("Value written off, as a share of net sales."),
            sources=frozenset({"sales", "stock_flows"}),
        ),
        Kpi(
            "waste_value",
            _("Waste value"),
            "money",
            "down",
            lambda m: m.waste_cost,
            sources=frozenset({"stock_flows"}),
        ),
        Kpi(
            "avt_variance",
            _("AvT variance"),
            "money",
            "down",
            lambda m: m.variance_cost,
            _("Actual minus theoretical usage found at counts (a loss is positive)."),
            sources=frozenset({"stock_flows"}),
        ),
        Kpi(
            "avt_variance_pct",
            # xgettext:no-python-format
            _("AvT variance % of sales"),
            "percent",
            "down",
            lambda m: ratio(m.variance_cost, m.depleted_net),
            sources=frozenset({"depleted", "stock_flows"}),
        ),
        Kpi(
            "soldout_minutes",
            _("Sold-out minutes"),
            "minutes",
            "down",
            lambda m: m.soldout_minutes,
            _("Minutes menu items were sold out, summed over items."),
            sources=frozenset({"soldout"}),
        ),
        Kpi(
            "stock_value",
            _("Stock value"),
            "money",
            "none",
            lambda m: m.stock_value,
            sources=frozenset({"stock_value"}),
        ),
        Kpi(
            "days_of_inventory",
            _("Days of inventory"),
            "days",
            "down",
            lambda m: ratio(m.stock_value, ratio(m.usage_cost, Decimal(m.days)) or ZERO),
            _("Stock value over the average daily usage at cost."),
            sources=frozenset({"stock_value", "stock_flows"}),
        ),
        Kpi(
            "receipts",
            _("Receipts"),
            "money",
            "none",
            lambda m: m.receipts,
            sources=frozenset({"stock_flows"}),
        ),
    ]
}


def evaluate(measures: Measures, codes: list[str] | None = None) -> dict[str, Decimal | None]:
    """The KPIs' values for one set of measures (all KPIs, or those named)."""
    return {code: KPIS[code].formula(measures) for code in codes or list(KPIS)}


def better(code: str, value: Decimal | None, other: Decimal | None) -> bool | None:
    """Whether `value` is better than `other` for this KPI (None: no direction or no values)."""
    kpi = KPIS[code]
    if value is None or other is None or kpi.good == "none" or value == other:
        return None
    return (value > other) == (kpi.good == "up")
