"""Concurrent posts on PostgreSQL: balance rows stay exact; a journal is reversed once."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections

from backroom.config.ledger_checks import run_ledger_checks
from backroom.finance.exceptions import AlreadyReversed
from backroom.finance.models import AccountBalance, Journal
from backroom.finance.services.journals import create_journal, reverse_journal
from backroom.finance.tests.conftest import DAY, line
from backroom.kernel.actors import SYSTEM

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="row-lock concurrency is tested on PostgreSQL"
    ),
]


def run_together(count: int, work) -> list[object]:
    """Run `work(n)` in `count` threads released at once; each result or exception."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(n: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[n] = work(n)
        except Exception as error:  # the outcome under test
            results[n] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_to_the_same_accounts_keep_balances_exact(books, tree):
    site = tree.store_a.site

    def post(n: int) -> Journal:
        return create_journal(
            books.cn,
            actor=SYSTEM,
            date=DAY,
            description=f"Expense {n}",
            lines=[line("5602.99", "12.34", site=site), line("2241.02", "-12.34", site=site)],
            post=True,
        )

    results = run_together(6, post)
    assert all(isinstance(result, Journal) for result in results), results
    row = AccountBalance.objects.get(account__code="5602.99", site=site)
    assert row.debit == Decimal("74.0400") and row.credit == 0
    assert all(o.is_consistent for o in run_ledger_checks() if o.name.startswith("finance"))


@pytest.mark.django_db(transaction=True)
def test_two_people_reversing_one_journal_at_once_reverse_it_once(books):
    journal = create_journal(
        books.cn,
        actor=SYSTEM,
        date=DAY,
        description="Rent",
        lines=[line("5602.99", "1000"), line("1002", "-1000")],
        post=True,
    )
    results = run_together(2, lambda n: reverse_journal(journal, actor=SYSTEM, date=DAY))
    assert sorted(type(result).__name__ for result in results) == ["AlreadyReversed", "Journal"]
    assert Journal.objects.filter(reverses=journal).count() == 1
    assert isinstance(next(r for r in results if not isinstance(r, Journal)), AlreadyReversed)


@pytest.mark.django_db(transaction=True)
def test_two_people_settling_one_balance_at_once_never_settle_more_than_is_open(books):
    """100 USD receivable; two people each settle 70 at once: one posts, the other is told
    only 30 is left."""
    from backroom.finance.services.settlements import settle_balance
    from backroom.kernel.exceptions import ValidationFailed

    create_journal(
        books.cn,
        actor=SYSTEM,
        date=DAY,
        description="Export sale",
        lines=[
            line("1122.02", "100", currency="USD", rate="7.00"),
            line("5001.02", "-100", currency="USD", rate="7.00"),
        ],
        post=True,
    )
    receivable = books.cn.accounts.get(code="1122.02")
    results = run_together(
        2,
        lambda n: settle_balance(
            books.cn,
            account=receivable,
            currency="USD",
            amount="70",
            rate="7.10",
            date=DAY,
            actor=SYSTEM,
        ),
    )
    assert sorted(type(result).__name__ for result in results) == ["Journal", "ValidationFailed"]
    refused = next(r for r in results if isinstance(r, ValidationFailed))
    assert "Only 30.00 USD is open" in refused.errors["amount"][0]
    row = AccountBalance.objects.get(account=receivable, currency="USD")
    assert row.amount == Decimal("30.0000")
