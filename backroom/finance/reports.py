"""Reports over the balances projection: the trial balance, the profit and loss, the balance
sheet, and their consolidation across entities.

Both read `AccountBalance` (one row per account, month, store and currency), never the lines,
so they stay fast whatever the history. Months are whole periods; the fiscal year is the
calendar year (P&L accounts start each year at zero in the trial balance's opening column).
The P&L's food cost is what automatic postings book for stock leaving other than by transfer:
the accounts mapped to cost of sales, waste, count variance and price variance. So it matches
the actual usage of the AvT report valued at moving-average cost.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backroom.finance.choices import PROFIT_AND_LOSS, AccountKind, PostingRole
from backroom.finance.exceptions import FxRateMissing
from backroom.finance.models import (
    Account,
    AccountBalance,
    AccountMap,
    Book,
    FxRate,
    PostingAccount,
)
from backroom.finance.services.fx import rate_on
from backroom.finance.services.periods import month_start, next_month
from backroom.inventory.selectors import stock_value_by_site

ZERO = Decimal(0)
Q4 = Decimal("0.0001")
FOOD_COST_ROLES = [
    PostingRole.COST_OF_SALES,
    PostingRole.WASTE,
    PostingRole.INVENTORY_VARIANCE,
    PostingRole.PURCHASE_PRICE_VARIANCE,
]


def summed(value: Any) -> Decimal:
    """A database sum at money precision (SQLite sums decimals as floats)."""
    return Decimal(value or 0).quantize(Q4)


@dataclass
class TrialBalanceRow:
    account: Account
    opening: Decimal  # signed: debit +
    debit: Decimal
    credit: Decimal

    @property
    def closing(self) -> Decimal:
        return self.opening + self.debit - self.credit


@dataclass
class TrialBalance:
    book: Book
    start: dt.date
    end: dt.date  # the first day of the last month
    rows: list[TrialBalanceRow] = field(default_factory=list)

    @property
    def debit(self) -> Decimal:
        return sum((row.debit for row in self.rows), ZERO)

    @property
    def credit(self) -> Decimal:
        return sum((row.credit for row in self.rows), ZERO)

    @property
    def closing(self) -> Decimal:
        return sum((row.closing for row in self.rows), ZERO)


def _balances(book: Book, sites: Iterable[int] | None) -> Any:
    rows = AccountBalance.objects.filter(account__book=book)
    if sites is not None:
        rows = rows.filter(site_id__in=list(sites))
    return rows


def trial_balance(
    book: Book, start: dt.date, end: dt.date, *, sites: Iterable[int] | None = None
) -> TrialBalance:
    """Opening, debits, credits and closing per postable account for months start…end."""
    start, end = month_start(start), month_start(end)
    year_start = start.replace(month=1)
    balances = _balances(book, sites)
    pnl = [kind.value for kind in PROFIT_AND_LOSS]
    opening = dict(
        balances.filter(period__start__lt=start)
        .filter(~Q(account__kind__in=pnl) | Q(period__start__gte=year_start))
        .values("account_id")
        .annotate(total=Sum("debit") - Sum("credit"))
        .order_by()
        .values_list("account_id", "total")
    )
    movement = {
        row["account_id"]: (row["debit"], row["credit"])
        for row in balances.filter(period__start__gte=start, period__start__lte=end)
        .values("account_id")
        .annotate(debit=Sum("debit"), credit=Sum("credit"))
        .order_by()
    }
    report = TrialBalance(book=book, start=start, end=end)
    for account in book.accounts.filter(pk__in={*opening, *movement}).order_by("code"):
        debit, credit = movement.get(account.pk, (ZERO, ZERO))
        row = TrialBalanceRow(
            account, summed(opening.get(account.pk)), summed(debit), summed(credit)
        )
        if row.opening or row.debit or row.credit:
            report.rows.append(row)
    return report


# --- profit and loss -------------------------------------------------------------------------


@dataclass
class PnlLine:
    account: Account
    values: list[Decimal]  # one per column, in the section's natural sign (income +, cost +)


@dataclass
class PnlSection:
    key: str
    lines: list[PnlLine] = field(default_factory=list)

    def totals(self, columns: int) -> list[Decimal]:
        return [sum((line.values[i] for line in self.lines), ZERO) for i in range(columns)]


@dataclass
class Pnl:
    book: Book
    columns: list[tuple[dt.date, dt.date]]  # (first month, last month) per column
    revenue: PnlSection
    food_cost: PnlSection
    expenses: PnlSection

    @property
    def width(self) -> int:
        return len(self.columns)

    def gross_profit(self) -> list[Decimal]:
        revenue, food = self.revenue.totals(self.width), self.food_cost.totals(self.width)
        return [r - f for r, f in zip(revenue, food, strict=True)]

    def profit(self) -> list[Decimal]:
        expenses = self.expenses.totals(self.width)
        return [g - e for g, e in zip(self.gross_profit(), expenses, strict=True)]

    def food_cost_pct(self) -> list[Decimal | None]:
        revenue, food = self.revenue.totals(self.width), self.food_cost.totals(self.width)
        return [
            (f / r * 100).quantize(Decimal("0.1")) if r else None
            for r, f in zip(revenue, food, strict=True)
        ]


def comparison_columns(start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date]]:
    """The months asked for, the same number of months before them, and a year earlier."""
    start, end = month_start(start), month_start(end)
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    previous_end = month_start(start - dt.timedelta(days=1))
    previous_start = previous_end
    for _month in range(months - 1):
        previous_start = month_start(previous_start - dt.timedelta(days=1))
    last_year = (start.replace(year=start.year - 1), end.replace(year=end.year - 1))
    return [(start, end), (previous_start, previous_end), last_year]


def role_accounts(book: Book, roles: Iterable[str], *, default_only: bool = False) -> set[int]:
    """The book's accounts mapped to posting roles: the primary book's own, or in a secondary
    book the accounts its account map sends them to."""
    mapped = PostingAccount.objects.filter(entity_id=book.entity_id, role__in=list(roles))
    if default_only:
        mapped = mapped.filter(category__isnull=True)
    if book.is_primary:
        return set(mapped.filter(account__book=book).values_list("account_id", flat=True))
    return set(
        AccountMap.objects.filter(book=book, source_id__in=mapped.values("account_id")).values_list(
            "target_id", flat=True
        )
    )


def food_cost_accounts(book: Book) -> set[int]:
    return role_accounts(book, FOOD_COST_ROLES)


def profit_and_loss(
    book: Book,
    start: dt.date,
    end: dt.date,
    *,
    sites: Iterable[int] | None = None,
) -> Pnl:
    """Revenue, food cost, gross profit, other expenses and profit, with comparison columns."""
    columns = comparison_columns(start, end)
    balances = _balances(book, sites).filter(account__kind__in=[k.value for k in PROFIT_AND_LOSS])
    totals: dict[int, list[Decimal]] = defaultdict(lambda: [ZERO] * len(columns))
    for index, (first, last) in enumerate(columns):
        for account_id, net in (
            balances.filter(period__start__gte=first, period__start__lte=last)
            .values("account_id")
            .annotate(net=Sum("debit") - Sum("credit"))
            .order_by()
            .values_list("account_id", "net")
        ):
            totals[account_id][index] = summed(net)
    food = food_cost_accounts(book)
    report = Pnl(
        book=book,
        columns=columns,
        revenue=PnlSection("revenue"),
        food_cost=PnlSection("food_cost"),
        expenses=PnlSection("expenses"),
    )
    for account in book.accounts.filter(pk__in=totals).order_by("code"):
        values = totals[account.pk]
        if account.kind == AccountKind.REVENUE:
            report.revenue.lines.append(PnlLine(account, [-v for v in values]))
        elif account.pk in food:
            report.food_cost.lines.append(PnlLine(account, values))
        else:
            report.expenses.lines.append(PnlLine(account, values))
    return report


def last_month_of(end: dt.date) -> dt.date:
    """The last day of the month starting at `end` (for journal links)."""
    return next_month(end) - dt.timedelta(days=1)


# --- stock ledger vs inventory accounts -------------------------------------------------------


@dataclass
class ReconciliationRow:
    site: Any
    stock_value: Decimal
    accounts: Decimal

    @property
    def difference(self) -> Decimal:
        return self.accounts - self.stock_value


def inventory_reconciliation(book: Book) -> list[ReconciliationRow]:
    """Per site of the entity: the stock ledger's value on hand and the balance of the
    accounts mapped to inventory (all periods). They are equal when every stock posting has
    been posted; a difference names the store to look at (postings waiting in the queue,
    or sales not yet posted for today)."""
    sites = list(book.entity.sites.select_related("node").order_by("node__code"))
    stock = stock_value_by_site(site.pk for site in sites)
    inventory = role_accounts(book, [PostingRole.INVENTORY])
    balances = dict(
        AccountBalance.objects.filter(account_id__in=inventory, site__isnull=False)
        .values("site_id")
        .annotate(total=Sum("debit") - Sum("credit"))
        .order_by()
        .values_list("site_id", "total")
    )
    rows = [
        ReconciliationRow(site, summed(stock.get(site.pk)), summed(balances.get(site.pk)))
        for site in sites
    ]
    return [row for row in rows if row.stock_value or row.accounts]


# --- balance sheet ---------------------------------------------------------------------------


@dataclass
class BalanceSheet:
    book: Book
    month: dt.date  # the first day of the month it is drawn at the end of
    assets: list[tuple[Account, Decimal]] = field(default_factory=list)
    liabilities: list[tuple[Account, Decimal]] = field(default_factory=list)
    equity: list[tuple[Account, Decimal]] = field(default_factory=list)
    profit_this_year: Decimal = ZERO
    profit_earlier_years: Decimal = ZERO

    @property
    def total_assets(self) -> Decimal:
        return sum((amount for _, amount in self.assets), ZERO)

    @property
    def total_liabilities(self) -> Decimal:
        return sum((amount for _, amount in self.liabilities), ZERO)

    @property
    def total_equity(self) -> Decimal:
        return (
            sum((amount for _, amount in self.equity), ZERO)
            + self.profit_this_year
            + self.profit_earlier_years
        )

    @property
    def difference(self) -> Decimal:
        """Zero when the books balance (assets = liabilities + equity)."""
        return self.total_assets - self.total_liabilities - self.total_equity


def balance_sheet(book: Book, month: dt.date) -> BalanceSheet:
    """Balances at the end of `month`: assets (debit +), liabilities and equity (credit +);
    the profit not yet closed into equity shows as this year's and earlier years' profit."""
    month = month_start(month)
    year_start = month.replace(month=1)
    rows = (
        AccountBalance.objects.filter(account__book=book, period__start__lte=month)
        .values("account_id")
        .annotate(net=Sum("debit") - Sum("credit"))
        .order_by()
    )
    net = {row["account_id"]: summed(row["net"]) for row in rows}
    pnl_this_year = summed(
        AccountBalance.objects.filter(
            account__book=book,
            account__kind__in=[kind.value for kind in PROFIT_AND_LOSS],
            period__start__gte=year_start,
            period__start__lte=month,
        ).aggregate(net=Sum("debit") - Sum("credit"))["net"]
    )
    report = BalanceSheet(book=book, month=month)
    pnl_total = ZERO
    for account in book.accounts.filter(pk__in=net).order_by("code"):
        amount = net[account.pk]
        if not amount:
            continue
        if account.kind == AccountKind.ASSET:
            report.assets.append((account, amount))
        elif account.kind == AccountKind.LIABILITY:
            report.liabilities.append((account, -amount))
        elif account.kind == AccountKind.EQUITY:
            report.equity.append((account, -amount))
        else:
            pnl_total += amount
    report.profit_this_year = -pnl_this_year
    report.profit_earlier_years = -(pnl_total - pnl_this_year)
    return report


# --- consolidation ---------------------------------------------------------------------------


@dataclass
class EntityFigures:
    """One entity's P&L totals in its own currency and translated at the period's average
    rate into the reporting currency."""

    book: Book
    rate: Decimal
    own: dict[str, Decimal]

    @property
    def translated(self) -> dict[str, Decimal]:
        return {key: summed(value * self.rate) for key, value in self.own.items()}


@dataclass
class ConsolidatedPnl:
    currency: str
    start: dt.date
    end: dt.date
    entities: list[EntityFigures]

    @property
    def total(self) -> dict[str, Decimal]:
        keys = ("revenue", "food_cost", "gross_profit", "expenses", "profit")
        return {
            key: sum((entity.translated[key] for entity in self.entities), ZERO) for key in keys
        }

    @property
    def food_cost_pct(self) -> Decimal | None:
        total = self.total
        if not total["revenue"]:
            return None
        return (total["food_cost"] / total["revenue"] * 100).quantize(Decimal("0.1"))


def average_rate(currency: str, quote: str, start: dt.date, end: dt.date) -> Decimal:
    """The mean of the daily rates entered in [start, end] (direct or inverse); missing:
    `FxRateMissing` naming the pair and the period."""
    if currency == quote:
        return Decimal(1)
    rows = list(
        FxRate.objects.filter(
            currency=currency, quote=quote, date__gte=start, date__lte=end
        ).values_list("rate", flat=True)
    )
    if not rows:
        rows = [
            Decimal(1) / rate
            for rate in FxRate.objects.filter(
                currency=quote, quote=currency, date__gte=start, date__lte=end
            ).values_list("rate", flat=True)
        ]
    if not rows:
        raise FxRateMissing(
            {
                "currency": [
                    _("No %(currency)s→%(quote)s rates between %(start)s and %(end)s.")
                    % {
                        "currency": currency,
                        "quote": quote,
                        "start": start.isoformat(),
                        "end": end.isoformat(),
                    }
                ]
            }
        )
    return (sum(rows, ZERO) / len(rows)).quantize(Decimal("0.000001"))


def consolidated_pnl(
    books: Iterable[Book], start: dt.date, end: dt.date, *, currency: str
) -> ConsolidatedPnl:
    """The P&L of several entities' primary books, each translated at its average rate for
    the months, and their sum. Transfers between entities are booked at cost to intercompany
    receivable and payable (balance-sheet accounts), so no intercompany revenue or cost reaches
    a P&L and nothing needs eliminating here."""
    start, end = month_start(start), month_start(end)
    last_day = last_month_of(end)
    figures = []
    errors: dict[str, list[str]] = {}
    for book in books:
        report = profit_and_loss(book, start, end)
        try:
            rate = average_rate(book.currency, currency, start, last_day)
        except FxRateMissing as error:
            errors.setdefault(book.currency, error.errors.get("currency", []))
            continue
        revenue = report.revenue.totals(report.width)[0]
        food = report.food_cost.totals(report.width)[0]
        expenses = report.expenses.totals(report.width)[0]
        own = {
            "revenue": revenue,
            "food_cost": food,
            "gross_profit": revenue - food,
            "expenses": expenses,
            "profit": revenue - food - expenses,
        }
        figures.append(EntityFigures(book, rate, own))
    if errors:
        raise FxRateMissing(errors)
    return ConsolidatedPnl(currency, start, end, figures)


# --- consolidated balance sheet ----------------------------------------------------------------

INTERCOMPANY_ROLES = [PostingRole.INTERCOMPANY_RECEIVABLE, PostingRole.INTERCOMPANY_PAYABLE]
LINE_LABELS = {
    "profit_this_year": gettext_lazy("Profit of this year"),
    "profit_earlier_years": gettext_lazy("Profit of earlier years"),
    "difference": gettext_lazy("Currency translation and elimination difference"),
}


@dataclass
class ConsolidatedLine:
    """One line of the consolidated balance sheet, in the reporting currency.

    `key` is "account" for an entity's account (only that entity's column has an amount), or
    "profit_this_year", "profit_earlier_years" and "difference" for the lines every entity
    shares. `elimination` is the intercompany adjustment; `group` what is left of the line."""

    key: str
    values: list[Decimal]  # one per entity, translated at its closing rate
    elimination: Decimal = ZERO
    account: Account | None = None
    entity: int | None = None  # for an account: the index of the entity it belongs to
    is_eliminated: bool = False  # an intercompany account, removed from the group

    @property
    def label(self) -> str:
        return self.account.label if self.account else str(LINE_LABELS[self.key])

    @property
    def group(self) -> Decimal:
        return sum(self.values, ZERO) + self.elimination

    @property
    def cells(self) -> list[Decimal | None]:
        """The values to show per entity: an account's in its own entity's column only."""
        return [
            value if self.entity is None or index == self.entity else None
            for index, value in enumerate(self.values)
        ]


@dataclass
class ConsolidatedSection:
    key: str  # "assets", "liabilities" or "equity"
    width: int  # the number of entities
    lines: list[ConsolidatedLine] = field(default_factory=list)

    @property
    def totals(self) -> list[Decimal]:
        return [sum((line.values[i] for line in self.lines), ZERO) for i in range(self.width)]

    @property
    def elimination(self) -> Decimal:
        return sum((line.elimination for line in self.lines), ZERO)

    @property
    def group(self) -> Decimal:
        return sum((line.group for line in self.lines), ZERO)


@dataclass
class ConsolidatedEntity:
    """One entity's balance sheet in its own currency, the closing rate that translates it
    and the year-to-date average rate that translates this year's profit."""

    book: Book
    rate: Decimal
    sheet: BalanceSheet
    average: Decimal = Decimal(1)


def closing_day(month: dt.date) -> dt.date:
    """The day of a month's closing rate: its last day, or today in the current month (whose
    last day has no rate yet)."""
    return min(last_month_of(month), timezone.localdate())


@dataclass
class ConsolidatedBalanceSheet:
    currency: str
    month: dt.date  # the first day of the month it is drawn at the end of
    entities: list[ConsolidatedEntity]
    assets: ConsolidatedSection
    liabilities: ConsolidatedSection
    equity: ConsolidatedSection

    @property
    def at(self) -> dt.date:
        return closing_day(self.month)

    @property
    def sections(self) -> list[ConsolidatedSection]:
        return [self.assets, self.liabilities, self.equity]

    @property
    def difference(self) -> ConsolidatedLine:
        """The equity line that makes the group balance (listed, never hidden)."""
        return next(line for line in self.equity.lines if line.key == "difference")

    @property
    def eliminated_receivables(self) -> Decimal:
        """What was taken out of the group's assets (a positive amount)."""
        return -self.assets.elimination

    @property
    def eliminated_payables(self) -> Decimal:
        """What was taken out of the group's liabilities (a positive amount)."""
        return -self.liabilities.elimination

    @property
    def liabilities_and_equity(self) -> tuple[list[Decimal], Decimal, Decimal]:
        """Per entity, in the elimination column and for the group: equal to the assets."""
        liabilities, equity = self.liabilities, self.equity
        return (
            [a + b for a, b in zip(liabilities.totals, equity.totals, strict=True)],
            liabilities.elimination + equity.elimination,
            liabilities.group + equity.group,
        )

    @property
    def balances(self) -> bool:
        return self.assets.group == self.liabilities.group + self.equity.group


def intercompany_accounts(book: Book) -> set[int]:
    """The book's accounts mapped (by default, not per category) to intercompany roles."""
    return role_accounts(book, INTERCOMPANY_ROLES, default_only=True)


def consolidated_balance_sheet(
    books: Iterable[Book], month: dt.date, *, currency: str
) -> ConsolidatedBalanceSheet:
    """The balance sheets of several entities' primary books at the end of `month`, in
    `currency`, with intercompany balances eliminated.

    The method, kept simple and explicit:
    1. Each entity's balance sheet (`balance_sheet`) is translated line by line at the closing
       rate: the rate of the month's last day (today, for the current month), or the latest
       in the days before it
       (`fx.rate_on`, direct or inverse). This year's profit is translated at the average
       rate of the year to date, as the consolidated P&L translates it; capital and earlier
       years' profit at the closing rate (historical rates are not kept). A missing rate for
       any entity is `FxRateMissing` naming every missing pair at once.
    2. With two entities or more, the balances on the accounts mapped by default to the
       intercompany receivable and payable roles are eliminated: the elimination column takes
       each of them out, so the group column shows zero for them. (Alone, an entity's
       intercompany balances are with someone outside the report: nothing is eliminated.)
    3. Whatever no longer balances goes to one equity line, "Currency translation and
       elimination difference", computed per column so that every column balances: in an
       entity's column it is the translation difference (profit at the average rather than
       the closing rate, and rounding); in the elimination column it is the eliminated
       payables less the eliminated receivables (the two sides of an intercompany balance
       translated at different rates, or not matching). The line is always listed, even at
       zero.
    """
    month = month_start(month)
    day = closing_day(month)
    entities: list[ConsolidatedEntity] = []
    errors: dict[str, list[str]] = {}
    for book in books:
        try:
            rate = rate_on(book.currency, currency, day)
            average = average_rate(book.currency, currency, month.replace(month=1), day)
        except FxRateMissing as error:
            errors.setdefault(book.currency, error.errors.get("currency", []))
            continue
        entities.append(ConsolidatedEntity(book, rate, balance_sheet(book, month), average))
    if errors:
        raise FxRateMissing(errors)
    width = len(entities)
    report = ConsolidatedBalanceSheet(
        currency=currency,
        month=month,
        entities=entities,
        assets=ConsolidatedSection("assets", width),
        liabilities=ConsolidatedSection("liabilities", width),
        equity=ConsolidatedSection("equity", width),
    )

    def column(index: int, amount: Decimal) -> list[Decimal]:
        values = [ZERO] * width
        values[index] = summed(amount * entities[index].rate)
        return values

    for index, entity in enumerate(entities):
        intercompany = intercompany_accounts(entity.book) if width > 1 else set()
        for section, rows in (
            (report.assets, entity.sheet.assets),
            (report.liabilities, entity.sheet.liabilities),
            (report.equity, entity.sheet.equity),
        ):
            for account, amount in rows:
                values = column(index, amount)
                eliminated = account.pk in intercompany and section is not report.equity
                section.lines.append(
                    ConsolidatedLine(
                        "account",
                        values,
                        elimination=-values[index] if eliminated else ZERO,
                        account=account,
                        entity=index,
                        is_eliminated=eliminated,
                    )
                )
    for key in ("profit_this_year", "profit_earlier_years"):
        values = [
            summed(
                getattr(entity.sheet, key)
                * (entity.average if key == "profit_this_year" else entity.rate)
            )
            for entity in entities
        ]
        if key == "profit_this_year" or any(values):
            report.equity.lines.append(ConsolidatedLine(key, values))
    assets, liabilities, equity = report.assets, report.liabilities, report.equity
    report.equity.lines.append(
        ConsolidatedLine(
            "difference",
            [assets.totals[i] - liabilities.totals[i] - equity.totals[i] for i in range(width)],
            elimination=assets.elimination - liabilities.elimination - equity.elimination,
        )
    )
    return report
