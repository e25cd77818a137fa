"""Secondary books: the primary book's journals mirrored through the account map."""

from __future__ import annotations

import pytest
from django.db.models import Sum

from backroom.catalog.models import Category
from backroom.config.ledger_checks import run_ledger_checks
from backroom.events.services import dispatch_outbox
from backroom.finance import reports
from backroom.finance.choices import JournalKind, PostingRole
from backroom.finance.models import (
    AccountMap,
    Journal,
    JournalLine,
    PendingPosting,
    PostingAccount,
)
from backroom.finance.services.books import open_books
from backroom.finance.services.journals import create_journal, reverse_journal
from backroom.finance.services.mirror import mirror_key, set_account_map
from backroom.finance.tests.conftest import DAY, D, beverage_account, line
from backroom.finance.tests.test_api import people  # noqa: F401 (a fixture)
from backroom.finance.tests.test_automatic import receive
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import NotFound, PermissionDenied, ValidationFailed
from backroom.testing.factories import client_for, make_user
from backroom.testing.matrix import assert_matrix

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


def tea_sales(books, tree):
    return create_journal(
        books.cn,
        actor=SYSTEM,
        date=DAY,
        description="Tea sales",
        lines=[line("1001", "106", site=tree.store_a.site), line("5001.03", "-106")],
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
    assert AccountMap.objects.filter(book=ifrs).count() == 62  # every postable CN account
    mirrored = Journal.objects.get(idempotency_key=mirror_key(first.pk, ifrs.pk))
    assert codes_and_amounts(mirrored) == [("6020", D(1000), "SHA001"), ("1010", D(-1000), "")]
    assert (mirrored.source_type, mirrored.source_number) == ("finance.journal", first.number)
    assert mirrored.date == first.date and mirrored.kind == first.kind
    assert balance(ifrs, "1210") == D("45.0000") and balance(ifrs, "2010") == D("-45.0000")
    # The IFRS book's reports know its inventory and food-cost accounts through the map.
    (row,) = reports.inventory_reconciliation(ifrs)
    assert (row.stock_value, row.accounts) == (D("45.0000"), D("45.0000"))
    assert {a.code for a in ifrs.accounts.filter(pk__in=reports.food_cost_accounts(ifrs))} == {
        "5010",
        "5020",
        "5030",
        "5040",
    }

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
    beverages = beverage_account(books.cn)
    journal = tea_sales(books, tree)
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


def test_account_map_api_matrix(books, tree, people):  # noqa: F811
    ifrs = open_books(tree.entity.legal_entity, chart="ifrs", actor=SYSTEM)
    cash = books.cn.accounts.get(code="1001")
    petty_cash = ifrs.accounts.get(code="1020")
    url = f"/api/v1/finance/books/{ifrs.pk}/account-maps"

    def maps():
        return list(AccountMap.objects.values_list("source_id", "target_id").order_by("pk"))

    result = assert_matrix(
        "PUT",
        url,
        payload={"source_id": cash.pk, "target_id": petty_cash.pk},
        allowed=people["finance"],
        forbidden=people["ops"],  # reads the books, may not change them
        other_scope=people["hk_finance"],
        snapshot=maps,
    )
    assert result.allowed.json()["source_code"] == "1001"
    assert result.allowed.json()["target_code"] == "1020"
    listed = client_for(people["ops"]).get(url).json()
    assert {"source_code": "1001", "target_code": "1020"}.items() <= listed[0].items()
    assert len(listed) == 62
    response = client_for(people["finance"]).put(
        url,
        {"source_id": cash.pk, "target_id": books.hk.accounts.get(code="1000").pk},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert set(response.json()["details"]["fields"]) == {"target_id"}


def test_posting_account_api_matrix(books, tree, people):  # noqa: F811
    drinks = Category.objects.create(code="drinks", name="Drinks")
    account = books.cn.accounts.get(code="5001.02")
    url = f"/api/v1/finance/books/{books.cn.pk}/posting-accounts"

    def rows():
        return list(PostingAccount.objects.values_list("role", "category_id", "account_id"))

    result = assert_matrix(
        "PUT",
        url,
        payload={"role": "sales_revenue", "category_id": drinks.pk, "account_id": account.pk},
        allowed=people["finance"],
        forbidden=people["ops"],
        other_scope=people["hk_finance"],
        snapshot=rows,
    )
    assert result.allowed.json()["category_id"] == drinks.pk
    listed = client_for(people["finance"]).get(url).json()
    assert len(listed) == len(PostingRole.values) + 1
    response = client_for(people["finance"]).put(
        url,
        {"role": "sales_revenue", "category_id": 999999, "account_id": 999999},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert set(response.json()["details"]["fields"]) == {"account_id", "category_id"}


def test_mapping_page_shows_what_waits_and_a_mapping_posts_it(books, tree, people):  # noqa: F811
    ifrs = open_books(tree.entity.legal_entity, chart="ifrs", actor=SYSTEM)
    beverages = beverage_account(books.cn)
    journal = tea_sales(books, tree)
    result = assert_matrix(
        "GET",
        f"/finance/mapping/?book={ifrs.pk}",
        allowed=people["finance"],
        forbidden=people["staff"],
        other_scope=None,
    )
    body = result.allowed.content.decode()
    assert 'data-testid="waiting-row"' in body and "5001.03" in body
    assert 'data-testid="unmapped" data-account="5001.03"' in body
    read_only = client_for(people["ops"]).get(f"/finance/mapping/?book={ifrs.pk}")
    assert read_only.status_code == 200 and '<form class="d-flex' not in read_only.content.decode()

    target = ifrs.accounts.get(code="4010")
    assert_matrix(
        "POST",
        f"/finance/mapping/{ifrs.pk}/",
        payload={"source": beverages.pk, "account": target.pk},
        allowed=people["finance"],
        forbidden=people["ops"],
        other_scope=people["hk_finance"],
        expect_allowed=302,
        snapshot=lambda: list(AccountMap.objects.values_list("source_id", "target_id")),
    )
    assert Journal.objects.filter(idempotency_key=mirror_key(journal.pk, ifrs.pk)).exists()
    body = client_for(people["finance"]).get(f"/finance/mapping/?book={ifrs.pk}").content.decode()
    assert "Nothing is waiting." in body and 'data-testid="unmapped"' not in body

    # In the primary book: a category's own revenue account, from the page.
    drinks = Category.objects.create(code="drinks", name="Drinks")
    response = client_for(people["finance"]).post(
        f"/finance/mapping/{books.cn.pk}/",
        {"role": "sales_revenue", "category": drinks.pk, "account": beverages.pk},
        follow=True,
    )
    assert 'data-role="sales_revenue" data-category="drinks"' in response.content.decode()
    assert PostingAccount.objects.get(category=drinks).account == beverages
    response = client_for(people["finance"]).post(
        f"/finance/mapping/{books.cn.pk}/", {"role": "sales_revenue", "account": 0}, follow=True
    )
    assert "Choose an account of this book." in response.content.decode()
