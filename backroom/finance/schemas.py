"""Finance API schemas. Amounts are signed on lines (debit +, credit −) or given as separate
debit and credit columns; bounds keep every value inside its database column."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from ninja import Field, Schema
from pydantic import model_validator

from backroom.config.api_support import ObjectId, text
from backroom.finance.choices import (
    AccountKind,
    ClaimStatus,
    JournalKind,
    JournalStatus,
    PeriodStatus,
    PostingRole,
)

Amount = Annotated[Decimal, Field(ge=-(10**13), le=10**13, max_digits=18, decimal_places=4)]
Rate = Annotated[Decimal, Field(gt=0, le=10**9, max_digits=24, decimal_places=12)]
Day = Annotated[dt.date, Field(ge=dt.date(2000, 1, 1), le=dt.date(2100, 12, 31))]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
MAX_LINES = 500


class BookOut(Schema):
    id: int
    entity_id: int
    entity_code: str = Field(..., alias="entity.node.code")
    code: str
    name: str
    chart: str
    currency: str
    is_primary: bool


class BookIn(Schema):
    entity_id: ObjectId
    chart: str = text(max_length=30)
    code: str = text(max_length=20, default="")
    name: str = text(max_length=100, default="")


class LedgerAccountOut(Schema):
    id: int
    code: str
    name: str
    name_zh: str
    kind: AccountKind
    parent_id: int | None
    is_postable: bool
    is_active: bool


class PostingAccountOut(Schema):
    """Which account automatic postings use for a role (per item category when set)."""

    id: int
    role: PostingRole
    category_id: int | None
    account_id: int
    account_code: str = Field(..., alias="account.code")


class PostingAccountIn(Schema):
    role: PostingRole
    category_id: ObjectId | None = None
    account_id: ObjectId


class AccountMapOut(Schema):
    """Where a secondary book takes the postings of a primary-book account."""

    id: int
    source_id: int
    source_code: str = Field(..., alias="source.code")
    target_id: int
    target_code: str = Field(..., alias="target.code")


class AccountMapIn(Schema):
    source_id: ObjectId
    target_id: ObjectId


class LedgerAccountIn(Schema):
    code: str = text(min_length=1, max_length=20)
    name: str = text(min_length=1, max_length=200)
    name_zh: str = text(max_length=200, default="")
    kind: AccountKind
    parent_id: ObjectId | None = None
    is_postable: bool = True


class LedgerAccountPatch(Schema):
    name: str | None = text(min_length=1, max_length=200, default=None)
    name_zh: str | None = text(max_length=200, default=None)
    is_active: bool | None = None


class LineIn(Schema):
    account: str = text(min_length=1, max_length=20, default="")
    debit: Amount | None = Field(None, ge=0)
    credit: Amount | None = Field(None, ge=0)
    amount: Amount | None = Field(None, description="Signed instead of debit/credit: debit +")
    currency: Currency | None = None
    rate: Rate | None = None
    base_amount: Amount | None = None
    store_id: ObjectId | None = None
    cost_centre: str = text(max_length=40, default="")
    channel: str = text(max_length=40, default="")
    description: str = text(max_length=300, default="")

    @model_validator(mode="after")
    def one_amount(self) -> LineIn:
        given = [value is not None for value in (self.debit, self.credit, self.amount)]
        if sum(given) != 1:
            raise ValueError("Give exactly one of debit, credit or amount.")
        return self

    def signed(self) -> Decimal:
        if self.amount is not None:
            return self.amount
        return self.debit if self.debit is not None else -(self.credit or Decimal(0))


class JournalIn(Schema):
    book_id: ObjectId
    date: Day
    description: str = text(min_length=1, max_length=300)
    lines: list[LineIn] = Field(..., min_length=2, max_length=MAX_LINES)
    post: bool = Field(False, description="Post at once instead of saving a draft")


class JournalUpdate(Schema):
    date: Day
    description: str = text(min_length=1, max_length=300)
    lines: list[LineIn] = Field(..., min_length=2, max_length=MAX_LINES)


class SettlementIn(Schema):
    """Settle (part of) a foreign-currency balance; the rate defaults to the day's."""

    account: str = text(min_length=1, max_length=20)
    currency: Currency
    amount: Amount
    date: Day
    store_id: ObjectId | None = None
    rate: Rate | None = None
    bank_account: str | None = text(max_length=20, default=None)
    reference: str = text(max_length=64, default="")


class CurrencyBalanceOut(Schema):
    account_id: int
    account_code: str
    account_name: str
    store_id: int | None
    store_code: str | None
    currency: str
    amount: Decimal
    base: Decimal
    carrying_rate: Decimal | None


class JournalReverseIn(Schema):
    date: Day | None = Field(None, description="Defaults to today (or the first open period)")
    reason: str = text(max_length=300, default="")


class LineOut(Schema):
    line_no: int
    account_id: int
    account_code: str = Field(..., alias="account.code")
    account_name: str = Field(..., alias="account.label")
    description: str
    currency: str
    amount: Decimal
    rate: Decimal
    base_amount: Decimal
    store_id: int | None = Field(None, alias="site_id")
    cost_centre: str
    channel: str


class JournalOut(Schema):
    id: int
    number: str
    book_id: int
    date: dt.date
    period: str = Field(..., alias="period.name")
    status: JournalStatus
    kind: JournalKind
    description: str
    source_type: str
    source_id: str
    source_number: str
    reverses_id: int | None
    posted_at: dt.datetime | None


class JournalDetailOut(JournalOut):
    lines: list[LineOut]

    @staticmethod
    def resolve_lines(journal: Any) -> list[Any]:
        return list(journal.lines.select_related("account", "site").order_by("line_no"))


class AccountingPeriodOut(Schema):
    id: int
    entity_id: int
    entity_code: str = Field(..., alias="entity.node.code")
    name: str
    start: dt.date
    end: dt.date
    status: PeriodStatus
    changed_at: dt.datetime | None


class AccountingPeriodStatusIn(Schema):
    status: PeriodStatus
    reason: str = text(max_length=500, default="")


class FxRateIn(Schema):
    date: Day
    currency: Currency
    quote: Currency
    rate: Rate


class FxRateOut(Schema):
    date: dt.date
    currency: str
    quote: str
    rate: Decimal
    source: str


class PendingOut(Schema):
    id: int
    entity_code: str = Field(..., alias="entity.node.code")
    rule: str
    source_type: str
    source_id: str
    source_number: str
    problem_code: str
    problem: str
    attempts: int
    created_at: dt.datetime


class TrialBalanceRowOut(Schema):
    account_id: int
    account_code: str
    account_name: str
    kind: AccountKind
    opening: Decimal
    debit: Decimal
    credit: Decimal
    closing: Decimal


class TrialBalanceOut(Schema):
    book_id: int
    currency: str
    start: dt.date
    end: dt.date
    rows: list[TrialBalanceRowOut]
    debit: Decimal
    credit: Decimal


class ClaimIn(Schema):
    store_id: ObjectId
    category: str = text(min_length=1, max_length=20)
    description: str = text(min_length=1, max_length=300)
    spent_on: Day
    amount: Decimal = Field(..., gt=0, le=1_000_000, max_digits=18, decimal_places=2)
    cost_centre: str = text(max_length=40, default="")


class ClaimOut(Schema):
    id: int
    number: str
    store_id: int = Field(..., alias="site_id")
    store_code: str = Field(..., alias="site.node.code")
    claimant: str = Field(..., alias="claimant.username")
    category: str
    description: str
    spent_on: dt.date
    amount: Decimal
    currency: str
    cost_centre: str
    status: ClaimStatus
    decision_reason: str
    journal_id: int | None
    payment_journal_id: int | None
    created_at: dt.datetime


class OpenInvoiceOut(Schema):
    invoice_id: int
    invoice_number: str
    supplier_code: str
    due_date: dt.date
    days_overdue: int
    bucket: str
    amount: Decimal
    journal_id: int


class PnlLineOut(Schema):
    account_code: str
    account_name: str
    values: list[Decimal]  # one per column; income and cost both positive


class PnlSectionOut(Schema):
    key: str
    lines: list[PnlLineOut]
    totals: list[Decimal]


class PnlColumnOut(Schema):
    start: dt.date
    end: dt.date


class PnlOut(Schema):
    """Profit and loss for months, the months before and the same months a year earlier."""

    book_id: int
    currency: str
    store_ids: list[int] | None  # None: the whole entity (lines without a store included)
    columns: list[PnlColumnOut]
    revenue: PnlSectionOut
    food_cost: PnlSectionOut
    expenses: PnlSectionOut
    gross_profit: list[Decimal]
    food_cost_pct: list[Decimal | None]
    profit: list[Decimal]


class BalanceSheetLineOut(Schema):
    account_code: str
    account_name: str
    amount: Decimal


class BalanceSheetOut(Schema):
    book_id: int
    currency: str
    at: dt.date
    assets: list[BalanceSheetLineOut]
    liabilities: list[BalanceSheetLineOut]
    equity: list[BalanceSheetLineOut]
    profit_this_year: Decimal
    profit_earlier_years: Decimal
    total_assets: Decimal
    total_liabilities: Decimal
    total_equity: Decimal


class ConsolidatedEntityOut(Schema):
    book_id: int
    entity_id: int
    entity_code: str
    currency: str
    rate: Decimal = Field(..., description="Units of the reporting currency for one unit")


class ConsolidatedPnlFiguresOut(Schema):
    revenue: Decimal
    food_cost: Decimal
    gross_profit: Decimal
    expenses: Decimal
    profit: Decimal


class ConsolidatedPnlEntityOut(ConsolidatedEntityOut):
    translated: ConsolidatedPnlFiguresOut
    own: ConsolidatedPnlFiguresOut = Field(..., description="In the entity's own currency")


class ConsolidatedPnlOut(Schema):
    currency: str
    start: dt.date
    end: dt.date
    entities: list[ConsolidatedPnlEntityOut]
    total: ConsolidatedPnlFiguresOut
    food_cost_pct: Decimal | None


class ConsolidatedBalanceSheetLineOut(Schema):
    key: str = Field(
        ...,
        description="`account`, or a line every entity shares: `profit_this_year`, "
        "`profit_earlier_years`, `difference`",
    )
    entity_code: str | None
    account_code: str | None
    account_name: str
    amounts: list[Decimal] = Field(..., description="Translated, one per entity in order")
    elimination: Decimal
    group: Decimal
    is_eliminated: bool


class ConsolidatedBalanceSheetSectionOut(Schema):
    lines: list[ConsolidatedBalanceSheetLineOut]
    totals: list[Decimal]
    elimination: Decimal
    group: Decimal


class ConsolidatedBalanceSheetOut(Schema):
    currency: str
    at: dt.date
    entities: list[ConsolidatedEntityOut]
    assets: ConsolidatedBalanceSheetSectionOut
    liabilities: ConsolidatedBalanceSheetSectionOut
    equity: ConsolidatedBalanceSheetSectionOut
    eliminated_receivables: Decimal
    eliminated_payables: Decimal
    difference: Decimal = Field(
        ..., description="The currency translation and elimination difference in equity"
    )
