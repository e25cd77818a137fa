"""Finance API (/api/v1/finance/): books, chart, journals, periods, rates, trial balance, the
queue of automatic postings waiting for a mapping. Writes go through `finance.services`."""

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import File, Form, Path, Query, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate

from backroom.accounts.authorization import require_permission
from backroom.catalog.models import Category
from backroom.config.api_support import ObjectId, Pagination, errors, parse_json_form
from backroom.finance import reports, selectors
from backroom.finance.choices import AccountKind, ClaimStatus, JournalStatus
from backroom.finance.models import (
    Account,
    AccountMap,
    ExpenseClaim,
    FxRate,
    Journal,
    PendingPosting,
    Period,
    PostingAccount,
)
from backroom.finance.permissions import FINANCE_CLAIM, FINANCE_VIEW
from backroom.finance.schemas import (
    AccountingPeriodOut,
    AccountingPeriodStatusIn,
    AccountMapIn,
    AccountMapOut,
    BalanceSheetOut,
    BookIn,
    BookOut,
    ClaimIn,
    ClaimOut,
    ConsolidatedBalanceSheetOut,
    ConsolidatedPnlOut,
    Currency,
    CurrencyBalanceOut,
    Day,
    FxRateIn,
    FxRateOut,
    JournalDetailOut,
    JournalIn,
    JournalOut,
    JournalReverseIn,
    JournalUpdate,
    LedgerAccountIn,
    LedgerAccountOut,
    LedgerAccountPatch,
    LineIn,
    OpenInvoiceOut,
    PendingOut,
    PnlOut,
    PostingAccountIn,
    PostingAccountOut,
    SettlementIn,
    TrialBalanceOut,
    TrialBalanceRowOut,
)
from backroom.finance.services import books as book_services
from backroom.finance.services import (
    claims,
    fx,
    journals,
    mirror,
    payables,
    periods,
    revaluation,
    settlements,
)
from backroom.finance.services.journals import LineInput
from backroom.kernel.exceptions import NotFound, ValidationFailed
from backroom.org.models import LegalEntity, Site
from backroom.org.selectors import sites_for

router = Router(tags=["finance"])
WRITE_ERRORS = errors(403, 404, 409)


def _lines(lines: list[LineIn]) -> list[LineInput]:
    """API lines as service lines (the service checks each store belongs to the entity)."""
    store_ids = {line.store_id for line in lines if line.store_id}
    sites = Site.objects.select_related("node").in_bulk(store_ids)
    problems: dict[str, list[str]] = {}
    for index, line in enumerate(lines):
        if line.store_id and line.store_id not in sites:
            problems[f"lines.{index}.store_id"] = ["There is no such store."]
    if problems:
        raise ValidationFailed(problems)
    return [
        LineInput(
            account=line.account,
            amount=line.signed(),
            currency=line.currency,
            rate=line.rate,
            base_amount=line.base_amount,
            site=sites.get(line.store_id) if line.store_id else None,
            cost_centre=line.cost_centre,
            channel=line.channel,
            description=line.description,
        )
        for line in lines
    ]


# --- books and the chart ---------------------------------------------------------------------


@router.get("/books", response={200: list[BookOut], **errors()})
def list_books(request: HttpRequest) -> QuerySet[Any]:
    """The books of the entities the caller may see (finance.view)."""
    return selectors.books_for(request.user)


@router.post("/books", response={201: BookOut, **WRITE_ERRORS})
def open_book(request: HttpRequest, payload: BookIn) -> Status:
    """Open a book for a legal entity from a chart template (`cn_small_business`, `ifrs`); the
    entity's first book is its primary one and gets a posting account for every role."""
    entity = (
        LegalEntity.objects.restrict(request.user, FINANCE_VIEW)
        .select_related("node")
        .filter(pk=payload.entity_id)
        .first()
    )
    if entity is None:
        raise NotFound()
    book = book_services.open_books(
        entity, chart=payload.chart, code=payload.code, name=payload.name, actor=request.user
    )
    return Status(201, book)


@router.get("/books/{book_id}/accounts", response={200: list[LedgerAccountOut], **errors(404)})
def list_accounts(request: HttpRequest, book_id: Path[ObjectId]) -> QuerySet[Account]:
    """The book's chart of accounts by code."""
    return selectors.accounts_of(selectors.get_book(request.user, book_id))


@router.post("/books/{book_id}/accounts", response={201: LedgerAccountOut, **WRITE_ERRORS})
def create_account(
    request: HttpRequest, book_id: Path[ObjectId], payload: LedgerAccountIn
) -> Status:
    book = selectors.get_book(request.user, book_id)
    values = payload.dict()
    parent_id = values.pop("parent_id")
    parent = book.accounts.filter(pk=parent_id).first() if parent_id else None
    if parent_id and parent is None:
        raise ValidationFailed({"parent_id": ["There is no such account in this book."]})
    account = book_services.create_account(book, actor=request.user, parent=parent, **values)
    return Status(201, account)


@router.patch("/accounts/{account_id}", response={200: LedgerAccountOut, **WRITE_ERRORS})
def update_account(
    request: HttpRequest, account_id: Path[ObjectId], payload: LedgerAccountPatch
) -> Account:
    """Rename an account or (de)activate it; kind and code stay once it has postings."""
    account = selectors.get_account(request.user, account_id)
    changes = {k: v for k, v in payload.dict(exclude_unset=True).items() if v is not None}
    return book_services.update_account(account, actor=request.user, **changes)


# --- posting accounts and secondary books' account maps ------------------------------------


@router.get(
    "/books/{book_id}/posting-accounts", response={200: list[PostingAccountOut], **errors(404)}
)
def list_posting_accounts(request: HttpRequest, book_id: Path[ObjectId]) -> QuerySet[Any]:
    """The account each posting role uses in the (primary) book, per item category when set."""
    book = selectors.get_book(request.user, book_id)
    return (
        PostingAccount.objects.filter(entity=book.entity, account__book=book)
        .select_related("account")
        .order_by("role", "category_id")
    )


@router.put("/books/{book_id}/posting-accounts", response={200: PostingAccountOut, **WRITE_ERRORS})
def set_posting_account(
    request: HttpRequest, book_id: Path[ObjectId], payload: PostingAccountIn
) -> PostingAccount:
    """Map a role (for one item category, or by default) to an account of the primary book;
    the postings waiting for it are posted."""
    book = selectors.get_book(request.user, book_id)
    account = book.accounts.filter(pk=payload.account_id).first()
    category = (
        Category.objects.filter(pk=payload.category_id).first() if payload.category_id else None
    )
    problems: dict[str, list[str]] = {}
    if account is None:
        problems["account_id"] = ["There is no such account in this book."]
    if payload.category_id and category is None:
        problems["category_id"] = ["There is no such category."]
    if problems or account is None:
        raise ValidationFailed(problems)
    return book_services.set_posting_account(
        book.entity, role=payload.role, account=account, category=category, actor=request.user
    )


@router.get("/books/{book_id}/account-maps", response={200: list[AccountMapOut], **errors(404)})
def list_account_maps(request: HttpRequest, book_id: Path[ObjectId]) -> QuerySet[Any]:
    """A secondary book's account map: where each primary-book account's postings land."""
    book = selectors.get_book(request.user, book_id)
    return (
        AccountMap.objects.filter(book=book)
        .select_related("source", "target")
        .order_by("source__code")
    )


@router.put("/books/{book_id}/account-maps", response={200: AccountMapOut, **WRITE_ERRORS})
def set_account_map(
    request: HttpRequest, book_id: Path[ObjectId], payload: AccountMapIn
) -> AccountMap:
    """Map a primary-book account into this secondary book; the mirrors waiting for it post."""
    book = selectors.get_book(request.user, book_id)
    accounts = Account.objects.filter(book__entity=book.entity).in_bulk(
        [payload.source_id, payload.target_id]
    )
    problems: dict[str, list[str]] = {}
    for field, pk in (("source_id", payload.source_id), ("target_id", payload.target_id)):
        if pk not in accounts:
            problems[field] = ["There is no such account in this entity's books."]
    if problems:
        raise ValidationFailed(problems)
    return mirror.set_account_map(
        book,
        source=accounts[payload.source_id],
        target=accounts[payload.target_id],
        actor=request.user,
    )


# --- journals -------------------------------------------------------------------------------


class JournalFilter(Schema):
    book_id: ObjectId | None = None
    status: JournalStatus | None = None
    date_from: Day | None = None
    date_to: Day | None = None
    account: str | None = None
    store_id: ObjectId | None = None
    source_type: str | None = None
    source_id: str | None = None


@router.get("/journals", response={200: list[JournalOut], **errors()})
@paginate(Pagination)
def list_journals(request: HttpRequest, filters: Query[JournalFilter]) -> QuerySet[Journal]:
    """Journals newest first; filter by book, status, dates, an account code or store on any
    line, or the source document."""
    return selectors.filter_journals(
        selectors.journals_for(request.user), **filters.dict(exclude_none=True)
    )


@router.post("/journals", response={201: JournalDetailOut, **WRITE_ERRORS})
def create_journal(request: HttpRequest, payload: JournalIn) -> Status:
    """Enter a manual journal (a draft, or posted with `post: true`). Every problem at once:
    `unbalanced`, `period_closed`, `fx_rate_missing` or `invalid` by line."""
    book = selectors.get_book(request.user, payload.book_id)
    journal = journals.create_journal(
        book,
        actor=request.user,
        date=payload.date,
        description=payload.description,
        lines=_lines(payload.lines),
        post=payload.post,
    )
    return Status(201, selectors.get_journal(request.user, journal.pk))


@router.get("/journals/{journal_id}", response={200: JournalDetailOut, **errors(404)})
def get_journal(request: HttpRequest, journal_id: Path[ObjectId]) -> Journal:
    """A journal with its lines and the document it records."""
    return selectors.get_journal(request.user, journal_id)


@router.put("/journals/{journal_id}", response={200: JournalDetailOut, **WRITE_ERRORS})
def update_journal(
    request: HttpRequest, journal_id: Path[ObjectId], payload: JournalUpdate
) -> Journal:
    """Replace a draft; a posted journal is refused with `journal_posted` (reverse it)."""
    journal = selectors.get_journal(request.user, journal_id)
    journals.update_draft(
        journal,
        actor=request.user,
        date=payload.date,
        description=payload.description,
        lines=_lines(payload.lines),
    )
    return selectors.get_journal(request.user, journal_id)


@router.delete("/journals/{journal_id}", response={204: None, **WRITE_ERRORS})
def discard_journal(request: HttpRequest, journal_id: Path[ObjectId]) -> Status:
    """Discard a draft; a posted journal is refused with `journal_posted`."""
    journals.discard_draft(selectors.get_journal(request.user, journal_id), actor=request.user)
    return Status(204, None)


@router.post("/journals/{journal_id}/post", response={200: JournalDetailOut, **WRITE_ERRORS})
def post_journal(request: HttpRequest, journal_id: Path[ObjectId]) -> Journal:
    """Post a draft after checking it again in full."""
    journal = selectors.get_journal(request.user, journal_id)
    journals.post_journal(journal, actor=request.user)
    return selectors.get_journal(request.user, journal_id)


@router.post("/journals/{journal_id}/reverse", response={201: JournalDetailOut, **WRITE_ERRORS})
def reverse_journal(
    request: HttpRequest, journal_id: Path[ObjectId], payload: JournalReverseIn
) -> Status:
    """Post the journal's mirror image, dated `date` or today; into the first open period when
    that one is closed. Once per journal (`already_reversed`)."""
    journal = selectors.get_journal(request.user, journal_id)
    reversal = journals.reverse_journal(
        journal, actor=request.user, date=payload.date, reason=payload.reason
    )
    return Status(201, selectors.get_journal(request.user, reversal.pk))


# --- periods, rates, the waiting queue --------------------------------------------------------


@router.get("/periods", response={200: list[AccountingPeriodOut], **errors()})
@paginate(Pagination)
def list_periods(request: HttpRequest, entity_id: ObjectId | None = None) -> QuerySet[Period]:
    rows = selectors.periods_for(request.user)
    return rows.filter(entity_id=entity_id) if entity_id else rows


@router.post("/periods/{period_id}/status", response={200: AccountingPeriodOut, **WRITE_ERRORS})
def change_period_status(
    request: HttpRequest, period_id: Path[ObjectId], payload: AccountingPeriodStatusIn
) -> Period:
    """Soft-close, close, or (with a reason) reopen a period, one step at a time and in order."""
    period = selectors.get_period(request.user, period_id)
    return periods.change_period_status(
        period, status=payload.status, actor=request.user, reason=payload.reason
    )


@router.post(
    "/periods/{period_id}/revalue", response={200: JournalDetailOut, 204: None, **WRITE_ERRORS}
)
def revalue_period(request: HttpRequest, period_id: Path[ObjectId]) -> Any:
    """Restate the open foreign-currency balances at the period's closing rate (unrealised
    gain or loss, reversed on the first day of the next period); 204 when there are none.
    Once per period; `fx_rate_missing` lists every currency without a closing rate."""
    period = selectors.get_period(request.user, period_id)
    journal = revaluation.revalue_period(period, actor=request.user)
    if journal is None:
        return Status(204, None)
    return selectors.get_journal(request.user, journal.pk)


@router.get("/fx-rates", response={200: list[FxRateOut], **errors()})
@paginate(Pagination)
def list_fx_rates(request: HttpRequest) -> QuerySet[FxRate]:
    if not selectors.books_for(request.user).exists():
        return FxRate.objects.none()
    return selectors.fx_rates()


@router.post("/fx-rates", response={201: FxRateOut, **WRITE_ERRORS})
def set_fx_rate(request: HttpRequest, payload: FxRateIn) -> Status:
    """Enter or correct the rate of a day: 1 `currency` = `rate` `quote`."""
    row = fx.set_fx_rate(
        date=payload.date,
        currency=payload.currency,
        quote=payload.quote,
        rate=payload.rate,
        actor=request.user,
    )
    return Status(201, row)


@router.get("/pending-postings", response={200: list[PendingOut], **errors()})
@paginate(Pagination)
def list_pending(request: HttpRequest) -> QuerySet[PendingPosting]:
    """Automatic postings waiting for an account mapping or a rate, oldest first."""
    return selectors.pending_for(request.user)


# --- foreign-currency balances and their settlement ----------------------------------------


class CurrencyBalanceFilter(Schema):
    on: Day | None = None


@router.get(
    "/books/{book_id}/currency-balances",
    response={200: list[CurrencyBalanceOut], **errors(404)},
)
def currency_balances(
    request: HttpRequest, book_id: Path[ObjectId], filters: Query[CurrencyBalanceFilter]
) -> list[dict[str, Any]]:
    """Open foreign-currency balances of asset and liability accounts per store, with the
    base amount they are carried at, at the end of the month of `on` (today by default)."""
    book = selectors.get_book(request.user, book_id)
    return [
        {
            "account_id": balance.account.pk,
            "account_code": balance.account.code,
            "account_name": balance.account.label,
            "store_id": balance.site.pk if balance.site else None,
            "store_code": balance.site.node.code if balance.site else None,
            "currency": balance.currency,
            "amount": balance.amount,
            "base": balance.base,
            "carrying_rate": balance.carrying_rate,
        }
        for balance in settlements.foreign_balances(
            book, through=filters.on or timezone.localdate()
        )
    ]


@router.post("/books/{book_id}/settlements", response={201: JournalDetailOut, **WRITE_ERRORS})
def settle(request: HttpRequest, book_id: Path[ObjectId], payload: SettlementIn) -> Status:
    """Settle (part of) a foreign-currency balance: the account is cleared at its carrying
    base, the bank takes the amount at the day's (or the given) rate, and the difference is a
    realised exchange gain or loss. `fx_rate_missing` when the day has no rate."""
    book = selectors.get_book(request.user, book_id)
    accounts = {
        a.code: a
        for a in book.accounts.filter(code__in=[payload.account, payload.bank_account or ""])
    }
    problems: dict[str, list[str]] = {}
    if payload.account not in accounts:
        problems["account"] = ["There is no such account in this book."]
    if payload.bank_account and payload.bank_account not in accounts:
        problems["bank_account"] = ["There is no such account in this book."]
    site = None
    if payload.store_id:
        site = Site.objects.filter(pk=payload.store_id, legal_entity=book.entity).first()
        if site is None:
            problems["store_id"] = ["There is no such store in this entity."]
    if problems:
        raise ValidationFailed(problems)
    journal = settlements.settle_balance(
        book,
        account=accounts[payload.account],
        currency=payload.currency,
        amount=payload.amount,
        date=payload.date,
        rate=payload.rate,
        site=site,
        bank=accounts.get(payload.bank_account or ""),
        reference=payload.reference,
        actor=request.user,
    )
    return Status(201, selectors.get_journal(request.user, journal.pk))


# --- reports ------------------------------------------------------------------------------------


@router.get("/books/{book_id}/trial-balance", response={200: TrialBalanceOut, **errors(404)})
def trial_balance(
    request: HttpRequest,
    book_id: Path[ObjectId],
    start: Day,
    end: Day | None = None,
    store_id: ObjectId | None = None,
) -> dict[str, Any]:
    """Opening, debits, credits and closing per account for the months `start`…`end` (whole
    months; one month when `end` is left out), optionally for one store."""
    book = selectors.get_book(request.user, book_id)
    sites = None
    if store_id:
        if not Site.objects.filter(pk=store_id, legal_entity_id=book.entity_id).exists():
            raise NotFound()
        sites = [store_id]
    report = reports.trial_balance(book, start, end or start, sites=sites)
    return {
        "book_id": book.pk,
        "currency": book.currency,
        "start": report.start,
        "end": reports.last_month_of(report.end),
        "debit": report.debit,
        "credit": report.credit,
        "rows": [
            TrialBalanceRowOut(
                account_id=row.account.pk,
                account_code=row.account.code,
                account_name=row.account.label,
                kind=AccountKind(row.account.kind),
                opening=row.opening,
                debit=row.debit,
                credit=row.credit,
                closing=row.closing,
            )
            for row in report.rows
        ],
    }


# --- expense claims --------------------------------------------------------------------------


@router.get("/expense-claims", response={200: list[ClaimOut], **errors()})
@paginate(Pagination)
def list_claims(request: HttpRequest, status: ClaimStatus | None = None) -> QuerySet[ExpenseClaim]:
    """The caller's own claims and those of the stores where they may see the books."""
    rows = selectors.claims_for(request.user)
    return rows.filter(status=status) if status else rows


@router.post("/expense-claims", response={201: ClaimOut, **WRITE_ERRORS})
def submit_claim(request: HttpRequest, payload: Form[str], receipt: File[UploadedFile]) -> Status:
    """Submit an expense claim as multipart/form-data: `payload` is JSON (`store_id`,
    `category`, `description`, `spent_on`, `amount`, `cost_centre`) and `receipt` a JPEG, PNG,
    WebP or HEIC photo (checked by its bytes). It waits for approval, or posts at once when no
    policy applies."""
    body = parse_json_form(ClaimIn, payload)
    site = sites_for(request.user, FINANCE_CLAIM).filter(pk=body.store_id).first()
    if site is None:
        raise NotFound()
    claim = claims.submit_claim(
        site,
        claims.ClaimInput(
            category=body.category,
            description=body.description,
            spent_on=body.spent_on,
            amount=body.amount,
            cost_centre=body.cost_centre,
        ),
        receipt=receipt,
        actor=request.user,
    )
    return Status(201, selectors.get_claim(request.user, claim.pk))


@router.get("/expense-claims/{claim_id}", response={200: ClaimOut, **errors(404)})
def get_claim(request: HttpRequest, claim_id: Path[ObjectId]) -> ExpenseClaim:
    return selectors.get_claim(request.user, claim_id)


@router.post("/expense-claims/{claim_id}/withdraw", response={200: ClaimOut, **WRITE_ERRORS})
def withdraw_claim(request: HttpRequest, claim_id: Path[ObjectId]) -> ExpenseClaim:
    """The claimant withdraws a claim still waiting for approval."""
    claim = selectors.get_claim(request.user, claim_id)
    claims.withdraw_claim(claim, actor=request.user)
    return selectors.get_claim(request.user, claim_id)


@router.post("/expense-claims/{claim_id}/paid", response={200: ClaimOut, **WRITE_ERRORS})
def mark_claim_paid(request: HttpRequest, claim_id: Path[ObjectId]) -> ExpenseClaim:
    """Finance paid an approved claim outside Backroom (payable to staff / bank)."""
    claim = selectors.get_claim(request.user, claim_id)
    claims.mark_claim_paid(claim, actor=request.user)
    return selectors.get_claim(request.user, claim_id)


# --- payables and the balance sheet ------------------------------------------------------------


@router.get("/books/{book_id}/payables", response={200: list[OpenInvoiceOut], **errors(404)})
def list_payables(request: HttpRequest, book_id: Path[ObjectId]) -> list[dict[str, Any]]:
    """Posted supplier invoices not yet marked paid, most owed supplier first, with their
    ageing bucket (`current`, `1-30`, `31-60`, `61-90`, `90+` days past due)."""
    book = selectors.get_book(request.user, book_id)
    return [
        {
            "invoice_id": item.invoice.pk,
            "invoice_number": item.invoice.invoice_number,
            "supplier_code": row.supplier.code,
            "due_date": item.invoice.due_date,
            "days_overdue": item.days_overdue,
            "bucket": item.bucket,
            "amount": item.amount,
            "journal_id": item.journal.pk,
        }
        for row in payables.open_invoices(book)
        for item in row.invoices
    ]


@router.post(
    "/books/{book_id}/payables/{invoice_id}/paid",
    response={201: JournalDetailOut, **WRITE_ERRORS},
)
def mark_invoice_paid(
    request: HttpRequest, book_id: Path[ObjectId], invoice_id: Path[ObjectId]
) -> Status:
    """Record that a posted invoice was paid outside Backroom: payables against the bank."""
    book = selectors.get_book(request.user, book_id)
    journal = payables.mark_invoice_paid(book, invoice_id, actor=request.user)
    return Status(201, selectors.get_journal(request.user, journal.pk))


class PnlFilter(Schema):
    start: Day
    end: Day | None = None
    store_id: ObjectId | None = None
    region_id: ObjectId | None = None
    brand_id: ObjectId | None = None


@router.get("/books/{book_id}/pnl", response={200: PnlOut, **errors(404)})
def profit_and_loss(
    request: HttpRequest, book_id: Path[ObjectId], filters: Query[PnlFilter]
) -> dict[str, Any]:
    """The P&L page's figures: one store, a region's and/or a brand's stores, or the entity
    (what the caller may see of it), for the months `start`…`end`, against the months before
    and the same months a year earlier."""
    book = selectors.get_book(request.user, book_id)
    scope = selectors.report_scope(
        request.user,
        book,
        store_id=filters.store_id,
        region_id=filters.region_id,
        brand_id=filters.brand_id,
    )
    asked = (
        (filters.store_id, scope.store),
        (filters.region_id, scope.region),
        (
            filters.brand_id,
            scope.brand,
        ),
    )
    if any(wanted and found is None for wanted, found in asked):
        raise NotFound()
    sites = scope.site_ids()
    report = reports.profit_and_loss(book, filters.start, filters.end or filters.start, sites=sites)

    def section(part: reports.PnlSection) -> dict[str, Any]:
        return {
            "key": part.key,
            "lines": [
                {
                    "account_code": line.account.code,
                    "account_name": line.account.label,
                    "values": line.values,
                }
                for line in part.lines
            ],
            "totals": part.totals(report.width),
        }

    return {
        "book_id": book.pk,
        "currency": book.currency,
        "store_ids": sites,
        "columns": [
            {"start": first, "end": reports.last_month_of(last)} for first, last in report.columns
        ],
        "revenue": section(report.revenue),
        "food_cost": section(report.food_cost),
        "expenses": section(report.expenses),
        "gross_profit": report.gross_profit(),
        "food_cost_pct": report.food_cost_pct(),
        "profit": report.profit(),
    }


@router.get("/books/{book_id}/balance-sheet", response={200: BalanceSheetOut, **errors(404)})
def balance_sheet(request: HttpRequest, book_id: Path[ObjectId], month: Day) -> dict[str, Any]:
    """Assets, liabilities and equity at the end of the month holding `month`."""
    book = selectors.get_book(request.user, book_id)
    report = reports.balance_sheet(book, month)

    def lines(rows: list[Any]) -> list[dict[str, Any]]:
        return [
            {"account_code": a.code, "account_name": a.label, "amount": amount}
            for a, amount in rows
        ]

    return {
        "book_id": book.pk,
        "currency": book.currency,
        "at": reports.last_month_of(report.month),
        "assets": lines(report.assets),
        "liabilities": lines(report.liabilities),
        "equity": lines(report.equity),
        "profit_this_year": report.profit_this_year,
        "profit_earlier_years": report.profit_earlier_years,
        "total_assets": report.total_assets,
        "total_liabilities": report.total_liabilities,
        "total_equity": report.total_equity,
    }


# --- consolidation ----------------------------------------------------------------------------


def _entity(book: Any, rate: Any) -> dict[str, Any]:
    return {
        "book_id": book.pk,
        "entity_id": book.entity_id,
        "entity_code": book.entity.node.code,
        "currency": book.currency,
        "rate": rate,
    }


@router.get("/consolidated/pnl", response={200: ConsolidatedPnlOut, **errors(403)})
def consolidated_pnl(
    request: HttpRequest, start: Day, currency: Currency, end: Day | None = None
) -> dict[str, Any]:
    """The P&L of every entity whose books the caller may see (their primary books), each
    translated into `currency` at its average rate for the months `start`…`end` (whole months),
    and the group total. `fx_rate_missing` names every pair without rates."""
    require_permission(request.user, FINANCE_VIEW)
    books = list(selectors.primary_books_for(request.user))
    report = reports.consolidated_pnl(books, start, end or start, currency=currency)
    return {
        "currency": report.currency,
        "start": report.start,
        "end": reports.last_month_of(report.end),
        "entities": [
            {
                **_entity(entity.book, entity.rate),
                "translated": entity.translated,
                "own": entity.own,
            }
            for entity in report.entities
        ],
        "total": report.total,
        "food_cost_pct": report.food_cost_pct,
    }


@router.get(
    "/consolidated/balance-sheet", response={200: ConsolidatedBalanceSheetOut, **errors(403)}
)
def consolidated_balance_sheet(
    request: HttpRequest, month: Day, currency: Currency
) -> dict[str, Any]:
    """The balance sheet of every entity whose books the caller may see at the end of the month
    holding `month`, translated into `currency` at the closing rate, with intercompany
    receivables and payables eliminated; what no longer balances is the `difference` line in
    equity. `fx_rate_missing` names every pair without a closing rate."""
    require_permission(request.user, FINANCE_VIEW)
    books = list(selectors.primary_books_for(request.user))
    report = reports.consolidated_balance_sheet(books, month, currency=currency)

    def section(rows: reports.ConsolidatedSection) -> dict[str, Any]:
        return {
            "lines": [
                {
                    "key": line.key,
                    "entity_code": report.entities[line.entity].book.entity.node.code
                    if line.entity is not None
                    else None,
                    "account_code": line.account.code if line.account else None,
                    "account_name": line.label,
                    "amounts": line.values,
                    "elimination": line.elimination,
                    "group": line.group,
                    "is_eliminated": line.is_eliminated,
                }
                for line in rows.lines
            ],
            "totals": rows.totals,
            "elimination": rows.elimination,
            "group": rows.group,
        }

    return {
        "currency": report.currency,
        "at": report.at,
        "entities": [_entity(entity.book, entity.rate) for entity in report.entities],
        "assets": section(report.assets),
        "liabilities": section(report.liabilities),
        "equity": section(report.equity),
        "eliminated_receivables": report.eliminated_receivables,
        "eliminated_payables": report.eliminated_payables,
        "difference": report.difference.group,
    }
