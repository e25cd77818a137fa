"""Journals: drafts, posting, reversal, balance rules, currencies, periods; the whole effect."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backroom.audit.models import AuditEntry
from backroom.config.ledger_checks import run_ledger_checks
from backroom.events.models import OutboxEvent
from backroom.finance.choices import JournalKind, JournalStatus, PeriodStatus
from backroom.finance.exceptions import (
    AlreadyReversed,
    FxRateMissing,
    JournalPosted,
    PeriodClosed,
    Unbalanced,
)
from backroom.finance.models import AccountBalance, Journal, JournalLine
from backroom.finance.services.fx import set_fx_rate
from backroom.finance.services.journals import (
    LineInput,
    create_journal,
    discard_draft,
    post_journal,
    reverse_journal,
    update_draft,
)
from backroom.finance.services.periods import change_period_status, period_for
from backroom.finance.tests.conftest import DAY, D, line
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import NotFound, PermissionDenied, ValidationFailed
from backroom.testing.factories import make_user

pytestmark = pytest.mark.django_db


def balances(book, account):
    rows = AccountBalance.objects.filter(account__book=book, account__code=account)
    return sum(row.debit for row in rows), sum(row.credit for row in rows)


def test_a_posted_journal_updates_balances_audit_and_events(books, tree):
    store = tree.store_a.site
    journal = create_journal(
        books.cn,
        actor=SYSTEM,
        date=DAY,
        description="Till takings",
        lines=[line("1001", "100.00", site=store), line("5001.02", "-100.00", site=store)],
        post=True,
    )
    assert journal.status == JournalStatus.POSTED
    assert journal.number.startswith("JV-CN-CO-")
    assert journal.period.name == "2026-11"
    assert [(ln.account.code, ln.base_amount, ln.rate) for ln in journal.lines.all()] == [
        ("1001", D("100.0000"), D(1)),
        ("5001.02", D("-100.0000"), D(1)),
    ]
    assert balances(books.cn, "1001") == (D(100), D(0))
    assert balances(books.cn, "5001.02") == (D(0), D(100))
    assert AuditEntry.objects.filter(
        action="finance.journal.posted", target_id=str(journal.pk)
    ).exists()
    assert OutboxEvent.objects.filter(event_type="finance.journal.posted").count() == 1
    assert all(
        outcome.is_consistent
        for outcome in run_ledger_checks()
        if outcome.name.startswith("finance")
    )


def test_unbalanced_journal_lists_every_problem_and_changes_nothing(books):
    with pytest.raises(Unbalanced) as error:
        create_journal(
            books.cn,
            actor=SYSTEM,
            date=DAY,
            description="Wrong",
            lines=[line("1001", "100"), line("5001.02", "-90")],
            post=True,
        )
    assert error.value.code == "unbalanced"
    assert "10.0000" in error.value.errors["lines"][0]
    with pytest.raises(ValidationFailed) as error:
        create_journal(
            books.cn,
            actor=SYSTEM,
            date=DAY,
            description="Bad accounts",
            lines=[line("9999", "1"), LineInput("1403", "x"), line("5401", "-1")],
        )
    assert set(error.value.errors) == {"lines.0.account", "lines.1.amount", "lines.2.account"}
    assert "header account" in error.value.errors["lines.2.account"][0]
    assert not Journal.objects.exists() and not AccountBalance.objects.exists()


def test_foreign_lines_convert_at_the_rate_of_the_day_and_a_missing_rate_is_an_error(books):
    with pytest.raises(FxRateMissing) as error:
        create_journal(
            books.cn,
            actor=SYSTEM,
            date=DAY,
            description="USD bank",
            lines=[line("1002", "10", currency="USD"), line("5001.02", "-10", currency="USD")],
            post=True,
        )
    assert "USD→CNY" in error.value.errors["lines.0.currency"][0]
    set_fx_rate(
        date=DAY - dt.timedelta(days=2), currency="USD", quote="CNY", rate="7.1234", actor=SYSTEM
    )
    # Three lines of 3.33 USD at 7.1234 round to 23.7209 each; the credit of 9.99 to 71.1628:
    # the 0.0001 residue goes to the largest line, so the base balances exactly.
    journal = create_journal(
        books.cn,
        actor=SYSTEM,
        date=DAY,
        description="USD sales",
        lines=[
            line("1002", "3.33", currency="USD"),
            line("1002", "3.33", currency="USD"),
            line("1002", "3.33", currency="USD"),
            line("5001.02", "-9.99", currency="USD"),
        ],
        post=True,
    )
    bases = [ln.base_amount for ln in journal.lines.all()]
    assert bases == [D("23.7209"), D("23.7209"), D("23.7209"), D("-71.1627")]
    assert sum(bases) == 0


def test_an_exchange_difference_line_books_base_only(books):
    """Settling 100 USD booked at 7.00 with a receipt at 7.20: the gain has no USD amount."""
    journal = create_journal(
        books.cn,
        actor=SYSTEM,
        date=DAY,
        description="Settlement",
        lines=[
            line("1002", "100", currency="USD", rate="7.20"),
            line("1122.01", "-100", currency="USD", rate="7.00"),
            line("5603.01", "0", currency="USD", base_amount="-20"),
        ],
        post=True,
    )
    assert [ln.base_amount for ln in journal.lines.all()] == [D(720), D(-700), D(-20)]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    amounts=st.lists(
        st.decimals(min_value="-99999", max_value="99999", places=2, allow_nan=False),
        min_size=1,
        max_size=6,
    ),
    currency=st.sampled_from(["CNY", "USD", "HKD"]),
)
def test_every_posted_journal_balances_in_each_currency_and_in_base(books, amounts, currency):
    """Property: whatever the amounts and the currency, a posted journal sums to zero in its
    transaction currency and in base, and the balances equal the lines."""
    from backroom.finance.models import FxRate

    for quote_currency, rate in (("USD", "7.123457"), ("HKD", "0.912345")):
        FxRate.objects.get_or_create(
            date=DAY, currency=quote_currency, quote="CNY", defaults={"rate": D(rate)}
        )
    lines = [line("1002", str(a), currency=currency) for a in amounts if a]
    if not lines:
        return
    lines.append(line("5001.02", str(-sum(D(ln.amount) for ln in lines)), currency=currency))
    journal = create_journal(
        books.cn, actor=SYSTEM, date=DAY, description="p", lines=lines, post=True
    )
    posted = list(JournalLine.objects.filter(journal=journal))
    assert sum(ln.amount for ln in posted) == 0
    assert sum(ln.base_amount for ln in posted) == 0
    problems = [
        o for o in run_ledger_checks() if o.name.startswith("finance") and not o.is_consistent
    ]
    assert not problems


def test_drafts_change_until_posted_then_never(books):
    draft = create_journal(
        books.cn,
        actor=SYSTEM,
        date=DAY,
        description="Accrual",
        lines=[line("5602.99", "50"), line("2241.02", "-50")],
    )
    assert draft.status == JournalStatus.DRAFT and not AccountBalance.objects.exists()
    update_draft(
        draft,
        actor=SYSTEM,
        date=DAY,
        description="Accrual, corrected",
        lines=[line("5602.99", "60"), line("2241.02", "-60")],
    )
    post_journal(draft, actor=SYSTEM)
    assert balances(books.cn, "5602.99") == (D(60), D(0))
    with pytest.raises(JournalPosted):
        update_draft(draft, actor=SYSTEM, date=DAY, description="x", lines=[])
    with pytest.raises(JournalPosted):
        discard_draft(draft, actor=SYSTEM)
    with pytest.raises(JournalPosted):
        post_journal(draft, actor=SYSTEM)
    with pytest.raises(TypeError):
        JournalLine.objects.filter(journal=draft).update(amount=1)
    assert balances(books.cn, "5602.99") == (D(60), D(0))


def test_a_reversal_mirrors_the_journal_once_into_the_first_open_period(books, tree):
    journal = create_journal(
        books.cn,
        actor=SYSTEM,
        date=DAY,
        description="Rent",
        lines=[line("5602.99", "1000", site=tree.store_a.site), line("1002", "-1000")],
        post=True,
    )
    november = journal.period
    change_period_status(november, status=PeriodStatus.SOFT_CLOSED, actor=SYSTEM)
    change_period_status(november, status=PeriodStatus.CLOSED, actor=SYSTEM)
    reversal = reverse_journal(journal, actor=SYSTEM, date=DAY, reason="wrong store")
    assert reversal.kind == JournalKind.REVERSAL and reversal.reverses == journal
    assert reversal.date == dt.date(2026, 12, 1)  # November is closed
    assert [ln.base_amount for ln in reversal.lines.all()] == [D(-1000), D(1000)]
    assert balances(books.cn, "5602.99") == (D(1000), D(1000))
    with pytest.raises(AlreadyReversed):
        reverse_journal(journal, actor=SYSTEM)


def test_closed_and_soft_closed_periods(books, tree):
    finance = make_user("finance", tree.group)
    clerk = make_user("store_manager", tree.store_a)
    october = period_for(books.cn.entity, dt.date(2026, 10, 5))
    november = period_for(books.cn.entity, DAY)
    with pytest.raises(Exception, match="earlier periods"):
        change_period_status(november, status=PeriodStatus.SOFT_CLOSED, actor=finance)
    change_period_status(october, status=PeriodStatus.SOFT_CLOSED, actor=finance)
    # Soft-closed: finance posts, nobody else; closed: nobody.
    create_journal(
        books.cn,
        actor=finance,
        date=dt.date(2026, 10, 31),
        description="Late accrual",
        lines=[line("5602.99", "5"), line("2241.02", "-5")],
        post=True,
    )
    change_period_status(october, status=PeriodStatus.CLOSED, actor=finance)
    with pytest.raises(PeriodClosed) as error:
        create_journal(
            books.cn,
            actor=finance,
            date=dt.date(2026, 10, 31),
            description="Too late",
            lines=[line("5602.99", "5"), line("2241.02", "-5")],
            post=True,
        )
    assert error.value.code == "period_closed"
    with pytest.raises(ValidationFailed):
        change_period_status(october, status=PeriodStatus.SOFT_CLOSED, actor=finance)  # no reason
    with pytest.raises(NotFound):
        change_period_status(october, status=PeriodStatus.SOFT_CLOSED, actor=clerk, reason="x")
    change_period_status(
        october, status=PeriodStatus.SOFT_CLOSED, actor=finance, reason="audit fix"
    )
    october.refresh_from_db()
    assert october.status == PeriodStatus.SOFT_CLOSED
    assert Journal.objects.count() == 1


def test_permissions_and_scope(books, tree):
    outsider = make_user("store_staff", tree.store_a)
    hk_finance = make_user("finance", tree.entity_hk)
    lines = [line("5602.99", "5"), line("2241.02", "-5")]
    with pytest.raises((PermissionDenied, NotFound)):
        create_journal(books.cn, actor=outsider, date=DAY, description="x", lines=lines)
    with pytest.raises(NotFound):
        create_journal(books.cn, actor=hk_finance, date=DAY, description="x", lines=lines)
    with pytest.raises(PermissionDenied):
        create_journal(books.cn, actor=None, date=DAY, description="x", lines=lines)
    assert not Journal.objects.exists()


def test_a_store_of_another_entity_is_refused(books, tree):
    with pytest.raises(ValidationFailed) as error:
        create_journal(
            books.cn,
            actor=SYSTEM,
            date=DAY,
            description="x",
            lines=[line("5602.99", "5", site=tree.store_hk.site), line("2241.02", "-5")],
        )
    assert "lines.0.site" in error.value.errors


def test_a_replayed_key_returns_the_first_journal(books):
    kwargs = dict(
        date=DAY,
        description="Once",
        lines=[line("5602.99", "5"), line("2241.02", "-5")],
        post=True,
        key="once-1",
    )
    first = create_journal(books.cn, actor=SYSTEM, **kwargs)
    again = create_journal(books.cn, actor=SYSTEM, **kwargs)
    assert again.pk == first.pk and Journal.objects.count() == 1
    assert balances(books.cn, "5602.99") == (D(5), D(0))


def test_month_end_revaluation_books_unrealised_gains_and_reverses_them(books, tree):
    """Golden numbers: 100 USD receivable booked at 7.00 (700.00); the closing rate on
    30 November is 7.20, so 20.00 of unrealised gain, reversed on 1 December."""
    from backroom.finance.services.revaluation import revalue_period

    create_journal(
        books.cn,
        actor=SYSTEM,
        date=DAY,
        description="Export sale",
        lines=[
            line("1122.01", "100", currency="USD", rate="7.00"),
            line("5001.02", "-100", currency="USD", rate="7.00"),
        ],
        post=True,
    )
    november = period_for(books.cn.entity, DAY)
    with pytest.raises(FxRateMissing):
        revalue_period(november, actor=SYSTEM)
    set_fx_rate(date=dt.date(2026, 11, 30), currency="USD", quote="CNY", rate="7.20", actor=SYSTEM)
    journal = revalue_period(november, actor=SYSTEM)
    assert journal.date == dt.date(2026, 11, 30) and journal.kind == JournalKind.REVALUATION
    assert [(ln.account.code, ln.amount, ln.base_amount) for ln in journal.lines.all()] == [
        ("1122.01", D(0), D(20)),
        ("5603.02", D(0), D(-20)),
    ]
    reversal = Journal.objects.get(reverses=journal)
    assert reversal.date == dt.date(2026, 12, 1)
    assert revalue_period(november, actor=SYSTEM) == journal  # once per period
    november_rows = AccountBalance.objects.filter(period=november, account__code="1122.01")
    assert sum(r.debit - r.credit for r in november_rows) == D(720)
    assert all(o.is_consistent for o in run_ledger_checks() if o.name.startswith("finance"))
