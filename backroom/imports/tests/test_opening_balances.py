"""Opening balances: the rows of one entity, book and date posted as one balanced opening journal
through the journals service; refused whole when it does not balance; re-imported unchanged;
never a second journal over a posted one; exported in its columns, round-tripping."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from backroom.audit.models import AuditEntry
from backroom.finance.choices import JournalStatus, PeriodStatus
from backroom.finance.models import AccountBalance, Journal
from backroom.finance.reports import trial_balance
from backroom.finance.services.books import open_books
from backroom.finance.services.journals import reverse_journal
from backroom.finance.services.periods import change_period_status, period_for
from backroom.imports.models import ImportStatus
from backroom.imports.selectors import importers_for
from backroom.imports.services import export_file, import_file
from backroom.imports.testing import problem_codes, run_import
from backroom.imports.tests import test_finance_imports
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import PermissionDenied

pytestmark = pytest.mark.django_db
finance = test_finance_imports.finance  # the books and the people, shared

HEADER = [
    "Entity code",
    "Book code",
    "Opening date",
    "Account code",
    "Store code",
    "Currency",
    "Debit",
    "Credit",
    "Amount in base",
    "Description",
]
DAY = "2026-12-01"


def golden_rows() -> list[list[object]]:
    """A trial balance at 2026-12-01: CNY and a USD bank account (its counterpart in USD too,
    since a journal balances in each currency) with the base amounts as booked."""
    return [
        ["CN-CO", "PRIMARY", DAY, "1001", "SHA001", "", "5000", "", "", "Till float"],
        ["cn-co", "primary", DAY, "1002", "", "CNY", 200000, "", "", "ICBC"],
        ["CN-CO", "PRIMARY", DAY, "1002", "", "美元", 10000, "", "71000", "BoC USD"],
        ["CN-CO", "PRIMARY", DAY, "1403", "SHA002", "", "24000.5", "", "", ""],
        ["CN-CO", "PRIMARY", DAY, "2202.02", "", "", "", "29000.5", "", ""],
        ["CN-CO", "PRIMARY", DAY, "3001", "", "", "", 200000, "", ""],
        ["CN-CO", "PRIMARY", DAY, "3001", "", "USD", "", 10000, 71000, "USD counterpart"],
    ]


def lines_of(journal: Journal) -> list[tuple[object, ...]]:
    return [
        (
            line.account.code,
            line.site.node.code if line.site else None,
            line.currency,
            line.amount,
            line.base_amount,
            line.description,
        )
        for line in journal.lines.select_related("account", "site__node").order_by("line_no")
    ]


def messages(job) -> dict[tuple[int | None, str], str]:
    return {(problem["row"], problem["field"]): problem["message"] for problem in job.problems}


def test_opening_balances_post_one_journal_and_round_trip(finance):
    job = run_import("opening_balances", HEADER, golden_rows(), actor=finance.finance_cn)
    assert job.status == ImportStatus.APPLIED, job.problems
    assert (job.created_count, job.updated_count, job.unchanged_count) == (7, 0, 0)
    journal = Journal.objects.get()
    assert journal.idempotency_key == f"opening:{finance.cn.pk}:{DAY}"
    assert (journal.book, journal.date, journal.status, journal.description) == (
        finance.cn,
        dt.date(2026, 12, 1),
        JournalStatus.POSTED,
        "Opening balances on 2026-12-01",
    )
    assert lines_of(journal) == [
        ("1001", "SHA001", "CNY", Decimal("5000"), Decimal("5000"), "Till float"),
        ("1002", None, "CNY", Decimal("200000"), Decimal("200000"), "ICBC"),
        ("1002", None, "USD", Decimal("10000"), Decimal("71000"), "BoC USD"),
        ("1403", "SHA002", "CNY", Decimal("24000.5"), Decimal("24000.5"), ""),
        ("2202.02", None, "CNY", Decimal("-29000.5"), Decimal("-29000.5"), ""),
        ("3001", None, "CNY", Decimal("-200000"), Decimal("-200000"), ""),
        ("3001", None, "USD", Decimal("-10000"), Decimal("-71000"), "USD counterpart"),
    ]
    usd_bank = AccountBalance.objects.get(account__code="1002", currency="USD")
    assert (usd_bank.amount, usd_bank.debit, usd_bank.credit) == (
        Decimal("10000"),
        Decimal("71000"),
        Decimal("0"),
    )
    report = trial_balance(finance.cn, dt.date(2026, 12, 1), dt.date(2026, 12, 1))
    assert [(row.account.code, row.debit, row.credit) for row in report.rows] == [
        ("1001", Decimal("5000"), Decimal("0")),
        ("1002", Decimal("271000"), Decimal("0")),
        ("1403", Decimal("24000.5"), Decimal("0")),
        ("2202.02", Decimal("0"), Decimal("29000.5")),
        ("3001", Decimal("0"), Decimal("271000")),
    ]
    assert report.debit == report.credit == Decimal("300000.5")
    assert AuditEntry.objects.filter(action="finance.journal.posted").count() == 1

    again = run_import("opening_balances", HEADER, golden_rows(), actor=finance.finance_cn)
    assert again.status == ImportStatus.APPLIED, again.problems
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 7)

    for file_type in ("xlsx", "csv"):
        data = export_file("opening_balances", actor=finance.finance_cn, file_type=file_type)
        round_trip = import_file(
            "opening_balances",
            f"opening.{file_type}",
            data,
            actor=finance.finance_cn,
            dry_run=False,
        )
        assert round_trip.status == ImportStatus.APPLIED, round_trip.problems
        assert round_trip.unchanged_count == round_trip.total_rows == 7
    assert Journal.objects.count() == 1
    assert AuditEntry.objects.filter(action="finance.journal.posted").count() == 1


def test_a_posted_opening_is_never_changed_only_reversed_and_imported_again(finance):
    run_import("opening_balances", HEADER, golden_rows(), actor=finance.finance_cn)
    first = Journal.objects.get()
    rows = golden_rows()
    rows[0][6], rows[5][7] = "6000", "201000"  # still balanced, but other lines
    refused = run_import("opening_balances", HEADER, rows, actor=finance.finance_cn)
    assert refused.status == ImportStatus.INVALID
    assert problem_codes(refused) == [(8, "date", "cannot_change")]
    assert messages(refused)[(8, "date")] == (
        f"The opening balances of CN-CO PRIMARY on 2026-12-01 were posted already "
        f"({first.number}) with other lines, and a posted journal never changes. Reverse the "
        "opening journal in Finance first, then import the file again."
    )
    assert Journal.objects.count() == 1

    reversal = reverse_journal(first, actor=finance.finance_cn, reason="Till float was 6000")
    job = run_import("opening_balances", HEADER, rows, actor=finance.finance_cn)
    assert job.status == ImportStatus.APPLIED, job.problems
    assert job.created_count == 7
    second = Journal.objects.exclude(pk__in=[first.pk, reversal.pk]).get()
    assert second.idempotency_key == f"opening:{finance.cn.pk}:{DAY}:2"
    assert lines_of(second)[0][3] == Decimal("6000")
    exported = import_file(
        "opening_balances",
        "opening.xlsx",
        export_file("opening_balances", actor=finance.finance_cn),
        actor=finance.finance_cn,
        dry_run=False,
    )
    assert exported.unchanged_count == exported.total_rows == 7  # the reversed one is gone


def test_an_unbalanced_file_is_refused_whole(finance):
    rows = golden_rows()
    rows[5][7] = "199900"  # CNY credits 100 short
    rows += [  # another date, balanced: not posted either
        ["CN-CO", "PRIMARY", "2026-12-02", "1001", "", "", 10, "", "", ""],
        ["CN-CO", "PRIMARY", "2026-12-02", "3001", "", "", "", 10, "", ""],
    ]
    job = run_import("opening_balances", HEADER, rows, actor=finance.finance_cn)
    assert job.status == ImportStatus.INVALID
    assert problem_codes(job) == [(8, "debit", "unbalanced")]
    assert messages(job)[(8, "debit")] == (
        "The opening balances of CN-CO PRIMARY on 2026-12-01 do not balance: Debits and "
        "credits in CNY differ by 100.0000."
    )
    rows[2][8] = "70000"  # USD now balanced in USD, not in base
    rows[5][7] = "200000"
    base = run_import("opening_balances", HEADER, rows, actor=finance.finance_cn)
    assert messages(base)[(8, "debit")] == (
        "The opening balances of CN-CO PRIMARY on 2026-12-01 do not balance: Debits and "
        "credits in the base currency CNY differ by -1,000.0000."
    )
    assert not Journal.objects.exists()
    assert not AccountBalance.objects.exists()


def test_bad_rows_each_with_its_message(finance, tree):
    november = period_for(tree.entity.legal_entity, dt.date(2025, 11, 1))
    change_period_status(november, status=PeriodStatus.SOFT_CLOSED, actor=SYSTEM)
    change_period_status(november, status=PeriodStatus.CLOSED, actor=SYSTEM)

    def row(account: str, *cells: object, entity: str = "CN-CO", book: str = "PRIMARY"):
        return [entity, book, DAY, account, *cells]

    rows = [
        row("1001", "", "", 1, "", "", "", entity="NOPE"),  # 2
        row("1001", "", "", 1, "", "", "", book="IFRS"),  # 3
        row("9999", "", "", 1, "", "", ""),  # 4: no such account
        row("1122", "", "", 1, "", "", ""),  # 5: a header account
        row("1001", "NOPE", "", 1, "", "", ""),  # 6: no such store
        row("1001", "HKG001", "", 1, "", "", ""),  # 7: HK-CO's store
        row("1002", "", "", 10, 10, "", ""),  # 8: both
        row("1002", "SHA001", "", "", "", "", ""),  # 9: neither
        row("1002", "SHA002", "", "-5", "", "", ""),  # 10: negative
        row("1012", "", "USD", 10, "", "", ""),  # 11: no USD rate
        row("1000", "", "", 1, "", "", "", entity="HK-CO", book="IFRS"),  # 12: not theirs
        ["CN-CO", "PRIMARY", "2025-11-30", "1001", "", "", 1, "", "", ""],  # 13: closed
        row("1012", "", "CNY", 1, "", "", ""),  # 14
        row("1012", "", "", 1, "", "", ""),  # 15: row 14 again (the book's currency)
        row("1012", "SHA001", "", 5, "", 6, ""),  # 16: a base amount in base
        row("1001", "", "", 0, "", "", ""),  # 17: zero
        row("1403", "", "USD", 1, "", 0, ""),  # 18: zero in base
    ]
    job = run_import("opening_balances", HEADER, rows, actor=finance.finance_cn)
    assert job.status == ImportStatus.INVALID
    assert problem_codes(job) == [
        (2, "entity_code", "unknown_reference"),
        (3, "book_code", "unknown_reference"),
        (4, "account_code", "unknown_reference"),
        (5, "account_code", "invalid_value"),
        (6, "store_code", "unknown_reference"),
        (7, "store_code", "invalid_value"),
        (8, "credit", "invalid_value"),
        (9, "debit", "required"),
        (10, "debit", "invalid_number"),
        (11, "currency", "fx_rate_missing"),
        (12, "entity_code", "permission_denied"),
        (13, "date", "period_closed"),
        (15, "currency", "duplicate_key"),
        (16, "base_amount", "invalid_value"),
        (17, "debit", "invalid_number"),
        (18, "base_amount", "invalid_number"),
    ]
    said = messages(job)
    assert said[(2, "entity_code")] == "There is no legal entity NOPE."
    assert said[(3, "book_code")] == "CN-CO has no book IFRS (its books: PRIMARY)."
    assert said[(4, "account_code")] == "There is no account 9999 in PRIMARY."
    assert said[(5, "account_code")] == "1122 is a header account; post to one of its sub-accounts."
    assert said[(6, "store_code")] == "There is no store NOPE."
    assert said[(7, "store_code")] == "HKG001 belongs to another legal entity."
    assert said[(8, "credit")] == "Fill in the debit or the credit, not both."
    assert said[(9, "debit")] == "Fill in the debit or the credit."
    assert said[(10, "debit")] == "Cannot be negative."
    assert said[(11, "currency")] == ("No USD→CNY rate on 2026-12-01 or in the 7 days before it.")
    assert said[(12, "entity_code")] == "You may not post journals in the books of HK-CO."
    assert said[(13, "date")] == "2025-11 is closed for CN-CO; date the journal later."
    assert said[(15, "currency")].startswith("Row 14 has the same Entity code + Book code")
    assert said[(17, "debit")] == "A line needs an amount."
    assert not Journal.objects.exists()


def test_opening_balances_need_finance_post(finance):
    rows = golden_rows()
    for user in (finance.manager, finance.operations):
        assert "opening_balances" not in importers_for(user)
        with pytest.raises(PermissionDenied):
            run_import("opening_balances", HEADER, rows, actor=user)
        with pytest.raises(PermissionDenied):
            export_file("opening_balances", actor=user)
    assert "opening_balances" in importers_for(finance.finance_cn)
    assert not Journal.objects.exists()


def test_opening_balances_go_into_the_primary_book_only(finance, tree):
    """A secondary book gets the primary book's journals mirrored: importing into it as well
    would count the balances twice."""
    open_books(tree.entity.legal_entity, chart="ifrs", actor=SYSTEM)
    rows = [
        ["CN-CO", "IFRS", DAY, "1000", "", "", 100, "", "", ""],
        ["CN-CO", "IFRS", DAY, "3000", "", "", "", 100, "", ""],
    ]
    job = run_import("opening_balances", HEADER, rows, actor=finance.finance_cn)
    assert job.status == ImportStatus.INVALID
    assert "is a secondary book" in messages(job)[(2, "book_code")]
    assert not Journal.objects.filter(idempotency_key__startswith="opening:").exists()
