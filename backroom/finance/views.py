"""Finance pages: journals (list, detail, post, reverse), trial balance, store P&L, periods.

Thin views over `finance.selectors`, `finance.reports` and `finance.services`. Every figure on
the P&L and the trial balance links to the journals behind it; every journal to its source
document. Lists and reports export to .xlsx/CSV (`?export=`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from backroom.finance import reports, selectors
from backroom.finance.choices import JournalStatus, PeriodStatus
from backroom.finance.models import Book, FxRate, Journal
from backroom.finance.permissions import FINANCE_CLOSE, FINANCE_POST, FINANCE_VIEW
from backroom.finance.services import journals, periods, revaluation
from backroom.finance.services import payables as payable_services
from backroom.finance.services import settlements as settlement_services
from backroom.finance.services.fx import rate_on, set_fx_rate
from backroom.finance.services.journals import money
from backroom.finance.services.periods import month_start
from backroom.inventory.reports import source_page
from backroom.kernel.exceptions import DomainError, ValidationFailed
from backroom.web.errors import page, problem_messages
from backroom.web.exports import Column, export_format, export_table
from backroom.web.forms import posted_id
from backroom.web.rendering import render_page

PAGE_SIZE = 100


def _month(value: str | None, default: dt.date) -> dt.date:
    """A month typed as YYYY-MM (or a date); the default when empty or unreadable."""
    try:
        return month_start(
            dt.date.fromisoformat(f"{value}-01" if value and len(value) == 7 else value or "")
        )
    except ValueError:
        return default


def chosen_book(request: HttpRequest, books: list[Book]) -> Book | None:
    wanted = posted_id(request.GET.get("book"))
    return next((book for book in books if book.pk == wanted), books[0] if books else None)


def journals_url(**filters: Any) -> str:
    query = urlencode({key: value for key, value in filters.items() if value not in (None, "")})
    return f"{reverse('finance:journal_list')}?{query}"


# --- journals ---------------------------------------------------------------------------------

JOURNAL_COLUMNS = [
    Column(gettext_lazy("Number"), lambda journal: journal.number),
    Column(gettext_lazy("Date"), lambda journal: journal.date),
    Column(gettext_lazy("Book"), lambda journal: str(journal.book)),
    Column(gettext_lazy("Status"), lambda journal: journal.get_status_display()),
    Column(gettext_lazy("Kind"), lambda journal: journal.get_kind_display()),
    Column(gettext_lazy("Description"), lambda journal: journal.description),
    Column(gettext_lazy("Source document"), lambda journal: journal.source_number),
]


def _filtered_journals(request: HttpRequest) -> tuple[QuerySet[Journal], dict[str, str]]:
    rows = selectors.journals_for(request.user)
    wanted = {
        name: request.GET.get(name, "").strip()
        for name in (
            "book",
            "status",
            "account",
            "store",
            "region",
            "brand",
            "date_from",
            "date_to",
            "q",
        )
    }
    days: dict[str, dt.date | None] = {}
    for name in ("date_from", "date_to"):
        try:
            days[name] = dt.date.fromisoformat(wanted[name]) if wanted[name] else None
        except ValueError:
            wanted[name], days[name] = "", None
    rows = selectors.filter_journals(
        rows,
        book_id=posted_id(wanted["book"]),
        status=wanted["status"] if wanted["status"] in JournalStatus.values else None,
        account=wanted["account"],
        store_id=posted_id(wanted["store"]),
        region_id=posted_id(wanted["region"]),
        brand_id=posted_id(wanted["brand"]),
        q=wanted["q"],
        date_from=days["date_from"],
        date_to=days["date_to"],
    )
    return rows, wanted


@page(FINANCE_VIEW)
def journal_list(request: HttpRequest) -> HttpResponse:
    """Journals newest first, filtered as the P&L and trial balance links ask."""
    rows, wanted = _filtered_journals(request)
    if file_type := export_format(request):
        return export_table(file_type, "journals", JOURNAL_COLUMNS, rows)
    shown = list(rows[: PAGE_SIZE + 1])
    return render_page(
        request,
        "finance/journal_list.html",
        {
            "title": _("Journals"),
            "journals": shown[:PAGE_SIZE],
            "more": len(shown) > PAGE_SIZE,
            "wanted": wanted,
            "books": list(selectors.books_for(request.user)),
            "statuses": JournalStatus.choices,
            "pending": selectors.pending_for(request.user).count(),
            "export_base": reverse("finance:journal_list"),
        },
    )


@page(FINANCE_VIEW)
def journal_detail(request: HttpRequest, journal_id: int) -> HttpResponse:
    journal = selectors.get_journal(request.user, journal_id)
    lines = selectors.journal_lines(journal)
    node = journal.book.entity.node
    reversal = Journal.objects.filter(reverses=journal).first()
    return render_page(
        request,
        "finance/journal_detail.html",
        {
            "title": _("Journal %(number)s") % {"number": journal.number},
            "journal": journal,
            "lines": lines,
            "debit": sum((line.base_amount for line in lines if line.base_amount > 0), Decimal(0)),
            "credit": -sum(
                (line.base_amount for line in lines if line.base_amount < 0), Decimal(0)
            ),
            "source_url": source_page(journal.source_type, journal.source_id),
            "reversal": reversal,
            "may_post": request.user.has_scoped_permission(FINANCE_POST, node),  # type: ignore[union-attr]
        },
    )


def report_error(request: HttpRequest, error: DomainError, prefix: str = "") -> None:
    """Show a refused action's every problem as a message; denials propagate (403/404)."""
    if error.http_status in (403, 404):
        raise error
    for text in problem_messages(error):
        messages.error(request, f"{prefix}{text}")


def _act(request: HttpRequest, journal: Journal, action: Any, success: str) -> HttpResponse:
    try:
        result = action()
    except DomainError as error:
        report_error(request, error)
        return redirect("finance:journal_detail", journal.pk)
    messages.success(request, success)
    return redirect("finance:journal_detail", result.pk)


@page(FINANCE_POST)
def journal_post(request: HttpRequest, journal_id: int) -> HttpResponse:
    journal = selectors.get_journal(request.user, journal_id)
    if request.method != "POST":
        return redirect("finance:journal_detail", journal.pk)
    return _act(
        request,
        journal,
        lambda: journals.post_journal(journal, actor=request.user),
        _("%(number)s is posted.") % {"number": journal.number},
    )


@page(FINANCE_POST)
def journal_reverse(request: HttpRequest, journal_id: int) -> HttpResponse:
    journal = selectors.get_journal(request.user, journal_id)
    if request.method != "POST":
        return redirect("finance:journal_detail", journal.pk)
    reason = request.POST.get("reason", "").strip()[:200]
    return _act(
        request,
        journal,
        lambda: journals.reverse_journal(journal, actor=request.user, reason=reason),
        _("%(number)s is reversed.") % {"number": journal.number},
    )


# --- reports ----------------------------------------------------------------------------------


def _report_context(request: HttpRequest) -> dict[str, Any]:
    books = list(selectors.books_for(request.user))
    book = chosen_book(request, books)
    this_month = month_start(timezone.localdate())
    start = _month(request.GET.get("start"), this_month)
    end = max(_month(request.GET.get("end"), start), start)
    scope = (
        selectors.report_scope(
            request.user,
            book,
            store_id=posted_id(request.GET.get("store")),
            region_id=posted_id(request.GET.get("region")),
            brand_id=posted_id(request.GET.get("brand")),
        )
        if book
        else None
    )
    return {
        "books": books,
        "book": book,
        "start": start,
        "end": end,
        "end_day": reports.last_month_of(end),
        "scope": scope,
        "store": scope.store if scope else None,
        "stores": scope.stores if scope else [],
    }


@page(FINANCE_VIEW)
def trial_balance(request: HttpRequest) -> HttpResponse:
    context = _report_context(request)
    book, store = context["book"], context["store"]
    report = (
        reports.trial_balance(
            book, context["start"], context["end"], sites=[store.pk] if store else None
        )
        if book
        else None
    )
    if report is not None and (file_type := export_format(request)):
        return export_table(file_type, "trial-balance", TRIAL_BALANCE_COLUMNS, report.rows)
    for row in report.rows if report else []:
        row.url = journals_url(  # type: ignore[attr-defined]
            book=book.pk,
            account=row.account.code,
            store=store.pk if store else None,
            date_from=context["start"].isoformat(),
            date_to=context["end_day"].isoformat(),
            status=JournalStatus.POSTED,
        )
    return render_page(
        request,
        "finance/trial_balance.html",
        {
            **context,
            "title": _("Trial balance"),
            "report": report,
            "reconciliation": reports.inventory_reconciliation(book) if book else [],
            "export_base": reverse("finance:trial_balance"),
        },
    )


TRIAL_BALANCE_COLUMNS = [
    Column(gettext_lazy("Account"), lambda row: row.account.code),
    Column(gettext_lazy("Name"), lambda row: row.account.label),
    Column(gettext_lazy("Opening"), lambda row: row.opening),
    Column(gettext_lazy("Debit"), lambda row: row.debit),
    Column(gettext_lazy("Credit"), lambda row: row.credit),
    Column(gettext_lazy("Closing"), lambda row: row.closing),
]


@dataclass
class ReportRow:
    """One row of a report's export: an account's line or a total (no account code)."""

    section: str
    code: str
    name: str
    values: list[Any]


def _months(first: dt.date, last: dt.date) -> str:
    return f"{first:%Y-%m}" if first == last else f"{first:%Y-%m}–{last:%Y-%m}"


def _value(index: int) -> Callable[[ReportRow], Any]:
    return lambda row: row.values[index]


def pnl_columns(columns: list[tuple[dt.date, dt.date]]) -> list[Column]:
    """Section, account, name, and one column per comparison column, named with its months."""
    labels = [_("This period %(months)s"), _("Previous %(months)s"), _("Last year %(months)s")]
    return [
        Column(gettext_lazy("Section"), lambda row: row.section),
        Column(gettext_lazy("Account"), lambda row: row.code),
        Column(gettext_lazy("Name"), lambda row: row.name),
        *(
            Column(label % {"months": _months(first, last)}, _value(index))
            for index, (label, (first, last)) in enumerate(zip(labels, columns, strict=True))
        ),
    ]


def pnl_rows(
    report: reports.Pnl, sections: list[tuple[reports.PnlSection, str, list[Decimal]]]
) -> list[ReportRow]:
    """The P&L as the page shows it: each section's lines and total; gross profit and the food
    cost % after the food cost; the profit last."""
    rows: list[ReportRow] = []
    for section, label, total in sections:
        rows += [
            ReportRow(label, line.account.code, line.account.label, line.values)
            for line in section.lines
        ]
        rows.append(ReportRow(label, "", f"{_('Total')} · {label}", total))
        if section.key == "food_cost":
            rows.append(ReportRow(_("Gross profit"), "", _("Gross profit"), report.gross_profit()))
            rows.append(ReportRow(_("Food cost %"), "", _("Food cost %"), report.food_cost_pct()))
    rows.append(ReportRow(_("Profit"), "", _("Profit"), report.profit()))
    return rows


@page(FINANCE_VIEW)
def profit_and_loss(request: HttpRequest) -> HttpResponse:
    """A store's (or the entity's) P&L for months, against the months before and a year ago;
    each figure links to its journals."""
    context = _report_context(request)
    book, store = context["book"], context["store"]
    report = None
    if book is not None:
        # The whole entity includes lines booked without a store (head-office costs) for
        # those who see the entity; others see the sum of the stores they may see.
        scope = context["scope"]
        report = reports.profit_and_loss(
            book, context["start"], context["end"], sites=scope.site_ids()
        )
        for section in (report.revenue, report.food_cost, report.expenses):
            for line in section.lines:
                line.cells = list(  # type: ignore[attr-defined]
                    zip(
                        line.values,
                        [
                            journals_url(
                                book=book.pk,
                                account=line.account.code,
                                store=store.pk if store else None,
                                region=scope.region.pk if scope.region and not store else None,
                                brand=scope.brand.pk if scope.brand and not store else None,
                                date_from=first.isoformat(),
                                date_to=reports.last_month_of(last).isoformat(),
                                status=JournalStatus.POSTED,
                            )
                            for first, last in report.columns
                        ],
                        strict=True,
                    )
                )
    sections = []
    if report is not None:
        for section, label in (
            (report.revenue, _("Revenue")),
            (report.food_cost, pgettext("profit and loss", "Food cost")),
            (report.expenses, _("Operating expenses")),
        ):
            sections.append((section, label, section.totals(report.width)))
        if file_type := export_format(request):
            return export_table(
                file_type,
                "profit-and-loss",
                pnl_columns(report.columns),
                pnl_rows(report, sections),
            )
    return render_page(
        request,
        "finance/pnl.html",
        {
            **context,
            "title": _("Profit and loss"),
            "report": report,
            "sections": sections,
            "scopes": True,
            "export_base": reverse("finance:pnl"),
        },
    )


BALANCE_SHEET_COLUMNS = [
    Column(gettext_lazy("Section"), lambda row: row.section),
    Column(gettext_lazy("Account"), lambda row: row.code),
    Column(gettext_lazy("Name"), lambda row: row.name),
    Column(gettext_lazy("Amount"), lambda row: row.values[0]),
]


def balance_sheet_rows(report: reports.BalanceSheet) -> list[ReportRow]:
    """Assets, liabilities and equity with their totals, as the page shows them."""
    assets, liabilities, equity = _("Assets"), _("Liabilities"), _("Equity")
    rows = [ReportRow(assets, a.code, a.label, [amount]) for a, amount in report.assets]
    rows.append(ReportRow(assets, "", _("Total assets"), [report.total_assets]))
    rows += [ReportRow(liabilities, a.code, a.label, [amount]) for a, amount in report.liabilities]
    rows.append(ReportRow(liabilities, "", _("Total liabilities"), [report.total_liabilities]))
    rows += [ReportRow(equity, a.code, a.label, [amount]) for a, amount in report.equity]
    rows.append(ReportRow(equity, "", _("Profit of this year"), [report.profit_this_year]))
    if report.profit_earlier_years:
        rows.append(
            ReportRow(equity, "", _("Profit of earlier years"), [report.profit_earlier_years])
        )
    rows.append(ReportRow(equity, "", _("Total equity"), [report.total_equity]))
    rows.append(
        ReportRow(
            "",
            "",
            _("Total liabilities and equity"),
            [report.total_liabilities + report.total_equity],
        )
    )
    return rows


@page(FINANCE_VIEW)
def balance_sheet(request: HttpRequest) -> HttpResponse:
    """The entity's balance sheet at the end of a month (`?month=YYYY-MM`)."""
    context = _report_context(request)
    book = context["book"]
    month = _month(request.GET.get("month"), month_start(timezone.localdate()))
    report = reports.balance_sheet(book, month) if book else None
    if report is not None and (file_type := export_format(request)):
        return export_table(
            file_type, "balance-sheet", BALANCE_SHEET_COLUMNS, balance_sheet_rows(report)
        )
    return render_page(
        request,
        "finance/balance_sheet.html",
        {
            **context,
            "title": _("Balance sheet"),
            "report": report,
            "month": month,
            "month_end": reports.last_month_of(month),
            "export_base": reverse("finance:balance_sheet"),
        },
    )


def bucket_label(key: str) -> str:
    """An ageing bucket as the page heads it: "Not due", "1-30 days"…"""
    return _("Not due") if key == "current" else f"{key} {_('days')}"


CURRENCY_BALANCE_COLUMNS = [
    Column(gettext_lazy("Account"), lambda row: row.account.code),
    Column(gettext_lazy("Name"), lambda row: row.account.label),
    Column(gettext_lazy("Store code"), lambda row: row.site.node.code if row.site else ""),
    Column(gettext_lazy("Currency"), lambda row: row.currency),
    Column(gettext_lazy("Amount"), lambda row: row.amount),
    Column(gettext_lazy("Carried at"), lambda row: row.base),
    Column(gettext_lazy("Carrying rate"), lambda row: row.carrying_rate),
    Column(gettext_lazy("Rate today"), lambda row: row.rate_today),
    Column(gettext_lazy("Unrealised difference"), lambda row: row.unrealised),
]
PAYABLE_COLUMNS = [
    Column(gettext_lazy("Supplier code"), lambda item: item.invoice.supplier.code),
    Column(gettext_lazy("Supplier"), lambda item: item.invoice.supplier.name),
    Column(gettext_lazy("Invoice number"), lambda item: item.invoice.invoice_number),
    Column(gettext_lazy("Invoice date"), lambda item: item.invoice.invoice_date),
    Column(gettext_lazy("Due date"), lambda item: item.invoice.due_date),
    Column(gettext_lazy("Days overdue"), lambda item: item.days_overdue),
    Column(gettext_lazy("Ageing"), lambda item: bucket_label(item.bucket)),
    Column(gettext_lazy("Amount"), lambda item: item.amount),
]


@page(FINANCE_VIEW)
def payables(request: HttpRequest) -> HttpResponse:
    """What is owed to suppliers: open invoices per supplier in ageing buckets."""
    context = _report_context(request)
    book = context["book"]
    suppliers = payable_services.open_invoices(book) if book else []
    if book is not None and (file_type := export_format(request)):
        rows = [item for supplier in suppliers for item in supplier.invoices]
        return export_table(file_type, "payables", PAYABLE_COLUMNS, rows)
    return render_page(
        request,
        "finance/payables.html",
        {
            **context,
            "title": _("Payables"),
            "suppliers": suppliers,
            "buckets": [key for key, _low, _high in payable_services.BUCKETS],
            "totals": [
                sum((row.bucket_totals()[i] for row in suppliers), Decimal(0))
                for i in range(len(payable_services.BUCKETS))
            ],
            "may_pay": book is not None
            and request.user.has_scoped_permission(FINANCE_POST, book.entity.node),  # type: ignore[union-attr]
            "export_base": reverse("finance:payables"),
        },
    )


@page(FINANCE_POST)
def invoice_paid(request: HttpRequest, book_id: int, invoice_id: int) -> HttpResponse:
    book = selectors.get_book(request.user, book_id)
    if request.method == "POST":
        try:
            payable_services.mark_invoice_paid(book, invoice_id, actor=request.user)
        except DomainError as error:
            report_error(request, error)
        else:
            messages.success(request, _("The invoice is marked paid."))
    return redirect(f"{reverse('finance:payables')}?book={book.pk}")


@page(FINANCE_VIEW)
def currency_balances(request: HttpRequest) -> HttpResponse:
    """Open foreign-currency balances, what they are carried at and what they are worth at
    today's rate; settling one books the realised exchange difference."""
    context = _report_context(request)
    book = context["book"]
    today = timezone.localdate()
    balances = settlement_services.foreign_balances(book, through=today) if book else []
    today_rates: dict[str, Decimal | None] = {}
    for balance in balances:
        if balance.currency not in today_rates:
            try:
                today_rates[balance.currency] = rate_on(balance.currency, book.currency, today)  # type: ignore[union-attr]
            except DomainError:
                today_rates[balance.currency] = None
        rate = today_rates[balance.currency]
        balance.rate_today = rate  # type: ignore[attr-defined]
        balance.open_amount = f"{abs(balance.amount):f}".rstrip("0").rstrip(".")  # type: ignore[attr-defined]
        balance.unrealised = (  # type: ignore[attr-defined]
            money(balance.amount * rate) - balance.base if rate is not None else None
        )
    if book is not None and (file_type := export_format(request)):
        return export_table(file_type, "currency-balances", CURRENCY_BALANCE_COLUMNS, balances)
    rates = (
        FxRate.objects.filter(date__gte=today - dt.timedelta(days=14))
        .filter(Q(quote=book.currency) | Q(currency=book.currency))
        .order_by("-date", "currency", "quote")[:40]
        if book
        else []
    )
    return render_page(
        request,
        "finance/currency_balances.html",
        {
            **context,
            "title": _("Foreign-currency balances"),
            "balances": balances,
            "rates": rates,
            "today": today,
            "may_settle": book is not None
            and request.user.has_scoped_permission(FINANCE_POST, book.entity.node),  # type: ignore[union-attr]
            "export_base": reverse("finance:currency_balances"),
        },
    )


@page(FINANCE_POST)
def settle_balance(request: HttpRequest, book_id: int) -> HttpResponse:
    book = selectors.get_book(request.user, book_id)
    back = redirect(f"{reverse('finance:currency_balances')}?book={book.pk}")
    if request.method != "POST":
        return back
    account = book.accounts.filter(pk=posted_id(request.POST.get("account")) or 0).first()
    site = book.entity.sites.filter(pk=posted_id(request.POST.get("store")) or 0).first()
    try:
        if account is None:
            raise ValidationFailed({"account": [_("There is no such account in this book.")]})
        day = _day(request.POST.get("date"), timezone.localdate())
        journal = settlement_services.settle_balance(
            book,
            account=account,
            currency=request.POST.get("currency", ""),
            amount=request.POST.get("amount", ""),
            rate=request.POST.get("rate") or None,
            date=day,
            site=site,
            reference=request.POST.get("reference", "")[:64],
            actor=request.user,
        )
    except DomainError as error:
        report_error(request, error)
        return back
    messages.success(request, _("Settled: %(number)s posted.") % {"number": journal.number})
    return back


@page(FINANCE_POST)
def fx_rate_new(request: HttpRequest) -> HttpResponse:
    """Enter (or correct) a day's exchange rate from the Currencies page."""
    back = redirect(f"{reverse('finance:currency_balances')}?{request.GET.urlencode()}")
    if request.method != "POST":
        return back
    try:
        rate = set_fx_rate(
            date=_day(request.POST.get("date"), timezone.localdate()),
            currency=request.POST.get("currency", "").strip(),
            quote=request.POST.get("quote", "").strip(),
            rate=request.POST.get("rate", "").strip(),
            actor=request.user,
        )
    except DomainError as error:
        report_error(request, error)
        return back
    messages.success(
        request,
        _("1 %(currency)s = %(rate)s %(quote)s on %(date)s.")
        % {
            "currency": rate.currency,
            "rate": rate.rate.normalize(),
            "quote": rate.quote,
            "date": rate.date.isoformat(),
        },
    )
    return back


def _day(value: str | None, default: dt.date) -> dt.date:
    if not value:
        return default
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed({"date": [_("Enter a date as YYYY-MM-DD.")]}) from None


def consolidated_pnl_rows() -> list[tuple[str, str]]:
    return [
        ("revenue", _("Revenue")),
        ("food_cost", pgettext("profit and loss", "Food cost")),
        ("gross_profit", _("Gross profit")),
        ("expenses", _("Operating expenses")),
        ("profit", _("Profit")),
    ]


def _entity_header(book: Book, rate: Decimal) -> str:
    return f"{book.entity.node.code} ({book.currency} × {rate.normalize():f})"


def _value_at(index: int) -> Callable[[dict[str, Any]], Any]:
    return lambda row: row["values"][index]


def _consolidated_pnl_export(file_type: str, report: reports.ConsolidatedPnl) -> HttpResponse:
    total = report.total
    rows = [
        {
            "name": label,
            "values": [entity.translated[key] for entity in report.entities],
            "group": total[key],
        }
        for key, label in consolidated_pnl_rows()
    ]
    columns = [Column(gettext_lazy("Line"), lambda row: row["name"])]
    columns += [
        Column(_entity_header(entity.book, entity.rate), _value_at(index))
        for index, entity in enumerate(report.entities)
    ]
    columns.append(Column(gettext_lazy("Group"), lambda row: row["group"]))
    return export_table(file_type, "consolidated-pnl", columns, rows)


def _consolidated_balance_sheet_export(
    file_type: str, report: reports.ConsolidatedBalanceSheet
) -> HttpResponse:
    """Every line of every section, then the section's total, as a flat table."""
    rows: list[dict[str, Any]] = []
    labels = balance_sheet_section_labels()
    for section in report.sections:
        for line in section.lines:
            rows.append(
                {
                    "section": labels[section.key][0],
                    "entity": report.entities[line.entity].book.entity.node.code
                    if line.entity is not None
                    else "",
                    "account": line.account.code if line.account else "",
                    "name": line.label,
                    "values": line.cells,
                    "elimination": line.elimination,
                    "group": line.group,
                }
            )
        rows.append(
            {
                "section": labels[section.key][0],
                "entity": "",
                "account": "",
                "name": labels[section.key][1],
                "values": section.totals,
                "elimination": section.elimination,
                "group": section.group,
            }
        )
    columns = [
        Column(gettext_lazy("Section"), lambda row: row["section"]),
        Column(gettext_lazy("Company"), lambda row: row["entity"]),
        Column(gettext_lazy("Account"), lambda row: row["account"]),
        Column(gettext_lazy("Name"), lambda row: row["name"]),
    ]
    columns += [
        Column(_entity_header(entity.book, entity.rate), _value_at(index))
        for index, entity in enumerate(report.entities)
    ]
    columns += [
        Column(gettext_lazy("Intercompany elimination"), lambda row: row["elimination"]),
        Column(gettext_lazy("Group"), lambda row: row["group"]),
    ]
    return export_table(file_type, "consolidated-balance-sheet", columns, rows)


def balance_sheet_section_labels() -> dict[str, tuple[str, str]]:
    """Each section's heading and the label of its total."""
    return {
        "assets": (_("Assets"), _("Total assets")),
        "liabilities": (_("Liabilities"), _("Total liabilities")),
        "equity": (_("Equity"), _("Total equity")),
    }


@page(FINANCE_VIEW)
def consolidated(request: HttpRequest) -> HttpResponse:
    """Every entity the user may see, in one reporting currency: the P&L for a range of months
    (each entity at the range's average rate), or with `?view=balance-sheet` the balance sheet
    at the end of `month` (closing rates, intercompany balances eliminated). Both export."""
    context = _report_context(request)
    currency = (request.GET.get("currency") or "CNY").upper()[:3]
    view = "balance-sheet" if request.GET.get("view") == "balance-sheet" else "pnl"
    month = _month(request.GET.get("month"), context["end"])
    books = list(selectors.primary_books_for(request.user))
    report: reports.ConsolidatedPnl | None = None
    sheet: reports.ConsolidatedBalanceSheet | None = None
    problems: list[str] = []
    if books:
        try:
            if view == "pnl":
                report = reports.consolidated_pnl(
                    books, context["start"], context["end"], currency=currency
                )
            else:
                sheet = reports.consolidated_balance_sheet(books, month, currency=currency)
        except DomainError as error:
            problems = problem_messages(error)
    if file_type := export_format(request):
        if report is not None:
            return _consolidated_pnl_export(file_type, report)
        if sheet is not None:
            return _consolidated_balance_sheet_export(file_type, sheet)
    labels = balance_sheet_section_labels()
    return render_page(
        request,
        "finance/consolidated.html",
        {
            **context,
            "title": _("Consolidated balance sheet")
            if view == "balance-sheet"
            else _("Consolidated profit and loss"),
            "view": view,
            "month": month,
            "report": report,
            "sheet": sheet,
            "sections": [(section, *labels[section.key]) for section in sheet.sections]
            if sheet
            else [],
            "problems": problems,
            "currency": currency,
            "currencies": sorted({book.currency for book in books} | {"CNY"}),
            "rows": consolidated_pnl_rows(),
            "export_base": reverse("finance:consolidated"),
        },
    )


# --- periods ----------------------------------------------------------------------------------


PERIOD_COLUMNS = [
    Column(gettext_lazy("Entity code"), lambda period: period.entity.node.code),
    Column(gettext_lazy("Entity"), lambda period: period.entity.node.name),
    Column(gettext_lazy("Period"), lambda period: period.name),
    Column(gettext_lazy("Start"), lambda period: period.start),
    Column(gettext_lazy("End"), lambda period: period.end),
    Column(gettext_lazy("Status"), lambda period: str(period.get_status_display())),
]


@page(FINANCE_VIEW)
def period_list(request: HttpRequest) -> HttpResponse:
    if file_type := export_format(request):
        return export_table(
            file_type, "periods", PERIOD_COLUMNS, selectors.periods_for(request.user)
        )
    rows = list(selectors.periods_for(request.user)[:120])
    for period in rows:
        node = period.entity.node
        period.may_close = request.user.has_scoped_permission(FINANCE_CLOSE, node)  # type: ignore[attr-defined, union-attr]
        period.next_status = periods.STEP_FORWARD.get(period.status)  # type: ignore[attr-defined]
        period.back_status = periods.STEP_BACK.get(period.status)  # type: ignore[attr-defined]
    return render_page(
        request,
        "finance/period_list.html",
        {
            "title": _("Accounting periods"),
            "periods": rows,
            "statuses": dict(PeriodStatus.choices),
            "export_base": reverse("finance:period_list"),
        },
    )


@page(FINANCE_CLOSE)
def period_revalue(request: HttpRequest, period_id: int) -> HttpResponse:
    period = selectors.get_period(request.user, period_id)
    if request.method == "POST":
        try:
            journal = revaluation.revalue_period(period, actor=request.user)
        except DomainError as error:
            report_error(request, error, f"{period.entity.node.code} {period.name}: ")
        else:
            if journal is None:
                messages.info(request, _("Nothing is held in a foreign currency."))
            else:
                return redirect("finance:journal_detail", journal.pk)
    return redirect("finance:period_list")


@page(FINANCE_CLOSE)
def period_status(request: HttpRequest, period_id: int) -> HttpResponse:
    period = selectors.get_period(request.user, period_id)
    if request.method == "POST":
        try:
            periods.change_period_status(
                period,
                status=request.POST.get("status", ""),
                actor=request.user,
                reason=request.POST.get("reason", "").strip()[:500],
            )
        except DomainError as error:
            report_error(request, error, f"{period.entity.node.code} {period.name}: ")
        else:
            period.refresh_from_db()
            messages.success(
                request,
                _("%(entity)s %(period)s is %(status)s.")
                % {
                    "entity": period.entity.node.code,
                    "period": period.name,
                    "status": period.get_status_display().lower(),
                },
            )
    return redirect("finance:period_list")
