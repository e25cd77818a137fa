"""Settling foreign-currency balances: realised exchange differences (golden numbers)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from backroom.finance.exceptions import FxRateMissing
from backroom.finance.models import AccountBalance, FxRate, Journal
from backroom.finance.services.fx import set_fx_rate
from backroom.finance.services.journals import create_journal
from backroom.finance.services.settlements import foreign_balances, settle_balance
from backroom.finance.tests.conftest import DAY, D, line
from backroom.finance.tests.test_api import people  # noqa: F401 (a fixture)
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import ValidationFailed
from backroom.testing.factories import client_for, make_user
from backroom.testing.matrix import assert_matrix

pytestmark = pytest.mark.django_db

LATER = dt.date(2026, 11, 20)


@pytest.fixture
def export_sale(books):
    """100 USD due from a customer abroad, booked at 7.00 (700.00)."""
    return create_journal(
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


def lines_of(journal: Journal) -> list[tuple[str, object, object]]:
    return [
        (ln.account.code, ln.amount, ln.base_amount)
        for ln in journal.lines.select_related("account").order_by("line_no")
    ]


def receivable(books):
    return books.cn.accounts.get(code="1122.02")


def test_a_receivable_settled_in_two_parts_realises_a_gain_then_a_loss(books, export_sale):
    """40 USD paid at 7.10: 284.00 in the bank for 280.00 carried, 4.00 gained. The other
    60 USD at 6.90: 414.00 for the 420.00 left, 6.00 lost; nothing is left in base."""
    set_fx_rate(date=LATER, currency="USD", quote="CNY", rate="7.10", actor=SYSTEM)
    first = settle_balance(
        books.cn, account=receivable(books), currency="USD", amount="40", date=LATER, actor=SYSTEM
    )
    assert lines_of(first) == [
        ("1122.02", D(-40), D(-280)),
        ("1002", D(40), D(284)),
        ("5603.01", D(0), D(-4)),  # realised gain
    ]
    second = settle_balance(
        books.cn,
        account=receivable(books),
        currency="USD",
        amount="60",
        rate="6.90",
        date=LATER,
        actor=SYSTEM,
        reference="Remittance 7781",
    )
    assert lines_of(second) == [
        ("1122.02", D(-60), D(-420)),
        ("1002", D(60), D(414)),
        ("5603.01", D(0), D(6)),  # realised loss
    ]
    assert "Remittance 7781" in second.description
    left = [b for b in foreign_balances(books.cn, through=LATER) if b.account.code == "1122.02"]
    assert left == []


def test_a_payable_paid_at_a_higher_rate_is_a_loss(books):
    create_journal(
        books.cn,
        actor=SYSTEM,
        date=DAY,
        description="Imported equipment",
        lines=[
            line("1601", "100", currency="USD", rate="7.00"),
            line("2202.02", "-100", currency="USD", rate="7.00"),
        ],
        post=True,
    )
    journal = settle_balance(
        books.cn,
        account=books.cn.accounts.get(code="2202.02"),
        currency="USD",
        amount="100",
        rate="7.20",
        date=LATER,
        actor=SYSTEM,
    )
    assert lines_of(journal) == [
        ("2202.02", D(100), D(700)),
        ("1002", D(-100), D(-720)),
        ("5603.01", D(0), D(20)),
    ]


def test_bad_settlements_say_every_problem_and_change_nothing(books, export_sale):
    before = list(AccountBalance.objects.values_list("account_id", "amount", "debit", "credit"))
    with pytest.raises(ValidationFailed) as problem:
        settle_balance(
            books.cn,
            account=books.cn.accounts.get(code="5001.02"),
            currency="CNY",
            amount="-5",
            rate="0",
            date=LATER,
            actor=SYSTEM,
        )
    assert set(problem.value.errors) == {"amount", "account", "currency", "rate"}
    with pytest.raises(ValidationFailed) as problem:
        settle_balance(
            books.cn,
            account=receivable(books),
            currency="USD",
            amount="150",
            date=LATER,
            actor=SYSTEM,
        )
    assert "Only 100.00 USD is open on 1122.02" in problem.value.errors["amount"][0]
    with pytest.raises(FxRateMissing):
        settle_balance(
            books.cn,
            account=receivable(books),
            currency="USD",
            amount="10",
            date=LATER,
            actor=SYSTEM,
        )
    after = list(AccountBalance.objects.values_list("account_id", "amount", "debit", "credit"))
    assert before == after


def test_settlement_api_matrix_and_balances_list(books, export_sale, people):  # noqa: F811
    url = f"/api/v1/finance/books/{books.cn.pk}/settlements"
    body = {
        "account": "1122.02",
        "currency": "USD",
        "amount": "100",
        "rate": "7.05",
        "date": LATER.isoformat(),
    }
    result = assert_matrix(
        "POST",
        url,
        payload=body,
        allowed=people["finance"],
        forbidden=people["ops"],
        other_scope=people["hk_finance"],
        expect_allowed=201,
        snapshot=lambda: list(Journal.objects.values_list("number", flat=True)),
    )
    assert [
        (row["account_code"], row["base_amount"]) for row in result.allowed.json()["lines"]
    ] == [
        ("1122.02", "-700.0000"),
        ("1002", "705.0000"),
        ("5603.01", "-5.0000"),
    ]
    balances = client_for(people["ops"]).get(
        f"/api/v1/finance/books/{books.cn.pk}/currency-balances?on={LATER.isoformat()}"
    )
    assert balances.status_code == 200
    assert {row["account_code"] for row in balances.json()} == {"1002"}
    assert balances.json()[0]["amount"] == "100.0000"
    denied = client_for(people["hk_finance"]).get(
        f"/api/v1/finance/books/{books.cn.pk}/currency-balances"
    )
    assert denied.status_code == 404


def test_currency_balances_page_shows_the_position_and_settles(books, export_sale, tree):
    finance = make_user("finance", tree.entity)
    set_fx_rate(date=timezone.localdate(), currency="USD", quote="CNY", rate="7.25", actor=SYSTEM)
    result = assert_matrix(
        "GET",
        f"/finance/currencies/?book={books.cn.pk}",
        allowed=finance,
        forbidden=make_user("store_staff", tree.store_a),
        other_scope=None,
    )
    body = result.allowed.content.decode()
    assert 'data-account="1122.02" data-currency="USD"' in body
    assert ">25.00<" in body  # 100 USD at 7.25 is 725.00, carried at 700.00
    assert 'data-testid="settle-form"' in body
    assert_matrix(
        "POST",
        f"/finance/currencies/{books.cn.pk}/settle/",
        payload={
            "account": receivable(books).pk,
            "currency": "USD",
            "amount": "100",
            "rate": "7.25",
            "date": timezone.localdate().isoformat(),
        },
        allowed=finance,
        forbidden=make_user("region_manager", tree.region),
        other_scope=make_user("finance", tree.entity_hk),
        expect_allowed=302,
        snapshot=lambda: list(Journal.objects.values_list("number", flat=True)),
    )
    journal = Journal.objects.filter(source_type="finance.settlement").get()
    assert lines_of(journal)[-1] == ("5603.01", D(0), D(-25))
    body = client_for(finance).get(f"/finance/currencies/?book={books.cn.pk}").content.decode()
    assert 'data-account="1122.02"' not in body
    response = client_for(finance).post(
        f"/finance/currencies/{books.cn.pk}/settle/",
        {"account": receivable(books).pk, "currency": "USD", "amount": "5"},
        follow=True,
    )
    assert "Only 0.00 USD is open on 1122.02" in response.content.decode()


def test_rates_are_entered_on_the_currencies_page(books, tree):
    finance = make_user("finance", tree.entity)
    url = f"/finance/currencies/rates/?book={books.cn.pk}"
    body = {"date": "2026-11-20", "currency": "usd", "quote": "CNY", "rate": "7.1234"}
    assert_matrix(
        "POST",
        url,
        payload=body,
        allowed=finance,
        forbidden=make_user("store_staff", tree.store_a),
        other_scope=None,
        expect_allowed=302,
        snapshot=lambda: list(FxRate.objects.values_list("currency", "rate")),
    )
    assert FxRate.objects.get(date=LATER, currency="USD", quote="CNY").rate == D("7.1234")
    page = client_for(finance).post(url, {**body, "rate": "-1", "quote": "XX"}, follow=True)
    text = page.content.decode()
    assert "A rate must be above zero." in text and "not an ISO 4217 currency code" in text
    assert FxRate.objects.count() == 1
