"""Secondary books: the primary book's journals mirrored through the account map."""

from __future__ import annotations

import pytest
from django.db.models import Sum

from backroom.config.ledger_checks import run_ledger_checks
from backroom.events.services import dispatch_outbox
from backroom.finance.choices import JournalKind
from backroom.finance.models import AccountMap, Journal, JournalLine, PendingPosting
from backroom.finance.services.books import create_account, open_books
from backroom.finance.services.journals import create_journal, reverse_journal
from backroom.finance.services.mirror import mirror_key, set_account_map
from backroom.finance.tests.conftest import DAY, D, line
from backroom.finance.tests.test_automatic import receive
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import NotFound, PermissionDenied, ValidationFailed
from backroom.testing.factories import make_user

pytestmark = pytest.mark.django_db


def codes_and_amounts(journal: Journal) -> list[tuple[str, object, str]]:
    return [
        (ln.account.code, ln.base_amount, ln.site.node.code if ln.site else "")
        for ln in journal.lines.select_related("account", "site__node").order_by("line_no")
    ]


def rent(books, tree, amount="1000"):
    return create_journal(
        books.cn,
        actor=SYSTEM,
        date=DAY,
        description="Rent",
        lines=[line("5601.04", amount, site=tree.store_a.site), line("1002", f"-{amount}")],
        post=True,
    )


def balance(book, code: str):
    return JournalLine.objects.filter(journal__book=book, account__code=code).aggregate(
        total=Sum("base_amount")
    )["total"]


def test_an_ifrs_book_opened_later_mirrors_the_history_and_then_each_posting(books, stock, tree):
    """Golden numbers: a receipt of 10 kg at 4.50 and 1,000.00 of rent in the Chinese book
    land in the IFRS book as inventories/GRNI and rent/bank."""
    receive(stock)
    dispatch_outbox()
    first = rent(books, tree)
    ifrs = open_books(tree.entity.legal_entity, chart="ifrs", actor=SYSTEM)
    assert not ifrs.is_primary and ifrs.currency == "CNY"
    assert AccountMap.objects.filter(book=ifrs).count() == 61  # every postable CN account
    mirrored = Journal.objects.get(idempotency_key=mirror_key(first.pk, ifrs.pk))
    assert codes_and_amounts(mirrored) == [("6020", D(1000), "SHA001"), ("1010", D(-1000), "")]
    assert (mirrored.source_type, mirrored.source_number) == ("finance.journal", first.number)
    assert mirrored.date == first.date and mirrored.kind == first.kind
    assert balance(ifrs, "1210") == D("45.0000") and balance(ifrs, "2010") == D("-45.0000")

    second = rent(books, tree, "250")  # mirrored as it posts
    assert codes_and_amounts(Journal.objects.get(idempotency_key=mirror_key(second.pk, ifrs.pk)))[
        0
    ] == ("6020", D(250), "SHA001")
    reversal = reverse_journal(second, actor=SYSTEM, date=DAY)
    mirror_of_reversal = Journal.objects.get(idempotency_key=mirror_key(reversal.pk, ifrs.pk))
    assert mirror_of_reversal.kind == JournalKind.REVERSAL
    assert mirror_of_reversal.reverses.idempotency_key == mirror_key(second.pk, ifrs.pk)

    # The two books hold the same totals; nothing is mirrored back from the IFRS book.
    totals = [
        JournalLine.objects.filter(journal__book=book).aggregate(total=Sum("base_amount"))
        for book in (books.cn, ifrs)
    ]
    assert totals[0] == totals[1]
    assert (
        Journal.objects.filter(book=books.cn).count() == Journal.objects.filter(book=ifrs).count()
    )
    create_journal(
        ifrs,
        actor=SYSTEM,
        date=DAY,
        description="IFRS 16 adjustment",
        lines=[line("1530", "500"), line("2300", "-500")],
        post=True,
    )
    assert Journal.objects.filter(book=books.cn).count() == 4
    assert Journal.objects.filter(book=ifrs).count() == 5
    assert all(o.is_consistent for o in run_ledger_checks() if o.name.startswith("finance"))


def test_an_unmapped_account_parks_the_mirror_until_it_is_mapped(books, tree):
    ifrs = open_books(tree.entity.legal_entity, chart="ifrs", actor=SYSTEM)
    beverages = create_account(
        books.cn,
        actor=SYSTEM,
        code="5001.03",
        name="Beverage sales",
        name_zh="饮品销售收入",
        kind="revenue",
        parent=books.cn.accounts.get(code="5001"),
    )
    journal = create_journal(
        books.cn,
        actor=SYSTEM,
        date=DAY,
        description="Tea sales",
        lines=[line("1001", "106", site=tree.store_a.site), line("5001.03", "-106")],
        post=True,
    )
    assert journal.status == "posted"  # the primary posting never waits for the mirror
    pending = PendingPosting.objects.get(key=mirror_key(journal.pk, ifrs.pk))
    assert pending.problem_code == "mapping_missing" and "5001.03" in pending.problem
    assert not Journal.objects.filter(book=ifrs, source_id=str(journal.pk)).exists()

    clerk = make_user("store_manager", tree.store_a)
    with pytest.raises((PermissionDenied, NotFound)):
        set_account_map(ifrs, source=beverages, target=ifrs.accounts.get(code="4010"), actor=clerk)
    with pytest.raises(ValidationFailed) as problem:
        set_account_map(
            ifrs, source=beverages, target=books.cn.accounts.get(code="5001.02"), actor=SYSTEM
        )
    assert set(problem.value.errors) == {"target"}
    assert not AccountMap.objects.filter(source=beverages).exists()

    set_account_map(ifrs, source=beverages, target=ifrs.accounts.get(code="4010"), actor=SYSTEM)
    pending.refresh_from_db()
    assert pending.journal is not None
    assert codes_and_amounts(pending.journal) == [("1000", D(106), "SHA001"), ("4010", D(-106), "")]
