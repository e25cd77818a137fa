"""Finance pages: the permission matrix of each; the P&L's golden figures and its drill-down to
journals and their source document; posting and reversing from the journal page; periods."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest

from backroom.finance.choices import PeriodStatus
from backroom.finance.models import AccountBalance, Journal, Period
from backroom.finance.services.journals import create_journal
from backroom.finance.tests.conftest import DAY, line
from backroom.kernel.actors import SYSTEM
from backroom.testing.factories import client_for, make_user
from backroom.testing.matrix import assert_matrix

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(tree):
    return {
        "finance": make_user("finance", tree.entity),
        "hk_finance": make_user("finance", tree.entity_hk),
        "staff": make_user("store_staff", tree.store_a),
        "region": make_user("region_manager", tree.region),  # finance.view at its stores
    }


@pytest.fixture
def november(books, tree):
    """Store A's November: 1,000 of sales (revenue 943.40 net of VAT), 300 food cost,
    120 rent; store B's 50 of rent."""
    a, b = tree.store_a.site, tree.store_b.site
    entries = [
        (
            "Sales",
            [
                line("1001", "1000", site=a),
                line("5001.02", "-943.40", site=a),
                line("2221.02", "-56.60", site=a),
            ],
        ),
        (
            "Food cost",
            [
                line("5401.01", "280", site=a),
                line("5401.02", "20", site=a),
                line("1403", "-300", site=a),
            ],
        ),
        ("Rent A", [line("5602.99", "120", site=a), line("1002", "-120")]),
        ("Rent B", [line("5602.99", "50", site=b), line("1002", "-50")]),
    ]
    for description, lines in entries:
        create_journal(
            books.cn, actor=SYSTEM, date=DAY, description=description, lines=lines, post=True
        )
    return a


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_pnl_shows_golden_figures_and_drills_to_journals(books, tree, people, november):
    url = f"/finance/pnl/?book={books.cn.pk}&store={november.pk}&start=2026-11"
    result = assert_matrix(
        "GET",
        url,
        allowed=people["finance"],
        forbidden=people["staff"],
        other_scope=None,
    )
    body = _text(result.allowed)
    assert (
        'data-testid="pnl-total-revenue"><td>Total · Revenue</td><td class="text-end text-nowrap">943.40'
        in body
    )
    assert (
        'data-testid="pnl-total-food_cost"><td>Total · Food cost</td><td class="text-end text-nowrap">300.00'
        in body
    )
    assert (
        'data-testid="pnl-gross-profit"><td>Gross profit</td><td class="text-end text-nowrap">643.40'
        in body
    )
    assert "31.8%" in body  # 300 / 943.40
    assert 'data-testid="pnl-profit"><td>Profit</td><td class="text-end text-nowrap">523.40' in body
    # The rent of store B is not in store A's P&L; the entity's P&L has both.
    entity = _text(
        client_for(people["finance"]).get(f"/finance/pnl/?book={books.cn.pk}&start=2026-11")
    )
    assert (
        'data-testid="pnl-profit"><td>Profit</td><td class="text-end text-nowrap">473.40' in entity
    )
    # Drill-down: the waste figure opens the journals behind it.
    link = (
        re.search(r'data-account="5401.02".*?href="([^"]+)"', body).group(1).replace("&amp;", "&")
    )
    query = parse_qs(urlparse(link).query)
    assert query["account"] == ["5401.02"] and query["store"] == [str(november.pk)]
    journals = _text(client_for(people["finance"]).get(link))
    assert "Food cost" in journals and "Rent A" not in journals


def test_region_manager_sees_the_pnl_of_their_stores_only(books, tree, people, november):
    body = _text(client_for(people["region"]).get("/finance/pnl/?start=2026-11"))
    assert "Profit" in body
    hk = client_for(people["region"]).get(f"/finance/pnl/?book={books.hk.pk}&start=2026-11")
    assert "HKG001" not in _text(hk)


def test_trial_balance_page_balances_and_exports(books, people, november):
    url = f"/finance/trial-balance/?book={books.cn.pk}&start=2026-11"
    result = assert_matrix(
        "GET", url, allowed=people["finance"], forbidden=people["staff"], other_scope=None
    )
    body = _text(result.allowed)
    totals = re.search(r'data-testid="tb-totals">(.*?)</tr>', body).group(1)
    assert re.findall(r">([\d.,-]+)</td>", totals) == ["1470.00", "1470.00", "0.00"]
    export = client_for(people["finance"]).get(url + "&export=csv")
    assert export.status_code == 200 and b"5602.99" in export.content


def test_journal_page_reverses_and_shows_the_link(books, tree, people, november):
    journal = Journal.objects.get(description="Rent A")
    url = f"/finance/journals/{journal.pk}/"
    assert_matrix(
        "GET",
        url,
        allowed=people["finance"],
        forbidden=people["staff"],
        other_scope=people["hk_finance"],
        expect_forbidden=403,
    )
    assert_matrix(
        "POST",
        f"{url}reverse/",
        payload={"reason": "wrong month"},
        allowed=people["finance"],
        forbidden=people["region"],
        other_scope=people["hk_finance"],
        expect_allowed=302,
        snapshot=lambda: list(Journal.objects.values_list("number")),
    )
    reversal = Journal.objects.get(reverses=journal)
    assert "wrong month" in reversal.description
    page = _text(client_for(people["finance"]).get(url))
    assert "Reversed by" in page and reversal.number in page
    again = client_for(people["finance"]).post(f"{url}reverse/", {"reason": "again"})
    assert again.status_code == 302 and Journal.objects.filter(reverses=journal).count() == 1


def test_a_draft_is_posted_from_its_page_or_the_error_shown(books, tree, people):
    draft = create_journal(
        books.cn,
        actor=SYSTEM,
        date=DAY,
        description="Accrual",
        lines=[line("5602.99", "10"), line("2241.02", "-10")],
    )
    Period.objects.filter(entity=books.cn.entity).update(status=PeriodStatus.CLOSED)
    client = client_for(people["finance"])
    response = client.post(f"/finance/journals/{draft.pk}/post/", follow=True)
    assert "closed" in _text(response) and not AccountBalance.objects.exists()
    Period.objects.filter(entity=books.cn.entity).update(status=PeriodStatus.OPEN)
    client.post(f"/finance/journals/{draft.pk}/post/")
    draft.refresh_from_db()
    assert draft.status == "posted"


def test_periods_page_closes_in_order(books, people):
    october = Period.objects.create(
        entity=books.cn.entity, start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31)
    )
    november = Period.objects.create(
        entity=books.cn.entity, start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30)
    )
    assert_matrix(
        "GET",
        "/finance/periods/",
        allowed=people["finance"],
        forbidden=people["staff"],
        other_scope=None,
    )
    client = client_for(people["finance"])
    response = client.post(
        f"/finance/periods/{november.pk}/status/", {"status": "soft_closed"}, follow=True
    )
    assert "Close the earlier periods first" in _text(response)
    assert_matrix(
        "POST",
        f"/finance/periods/{october.pk}/status/",
        payload={"status": "soft_closed"},
        allowed=people["finance"],
        forbidden=people["region"],
        other_scope=people["hk_finance"],
        expect_allowed=302,
        snapshot=lambda: list(Period.objects.values_list("status")),
    )
    october.refresh_from_db()
    assert october.status == PeriodStatus.SOFT_CLOSED


def test_trial_balance_reconciles_the_stock_ledger_per_site(books, stock, tree, people):
    from backroom.events.services import dispatch_outbox
    from backroom.inventory import services as inventory

    inventory.receive(
        item=stock.flour,
        location=stock.walk_in,
        quantity=Decimal(4),
        unit_cost=Decimal("2.50"),
        key="tb-receipt",
        actor=SYSTEM,
    )
    dispatch_outbox()
    body = _text(client_for(people["finance"]).get(f"/finance/trial-balance/?book={books.cn.pk}"))
    row = re.search(r'data-site="SHA001">(.*?)</tr>', body).group(1)
    assert re.findall(r">([\d.,-]+)</td>", row) == ["10.00", "10.00", "0.00"]


def test_balance_sheet_balances_with_the_years_profit(books, people, november):
    """Golden numbers (the November fixture): cash 1,000.00; bank −170.00; raw materials
    −300.00; output VAT 56.60 owed; profit 473.40: 530.00 of assets = 56.60 + 473.40."""
    url = f"/finance/balance-sheet/?book={books.cn.pk}&month=2026-11"
    result = assert_matrix(
        "GET", url, allowed=people["finance"], forbidden=people["staff"], other_scope=None
    )
    body = _text(result.allowed)
    assert 'data-testid="bs-difference"' not in body
    assert re.search(r'bs-total-assets"><td>Total assets</td><td[^>]*>530.00<', body)
    assert re.search(r'bs-profit-year"><td>Profit of this year</td><td[^>]*>473.40<', body)
    assert re.search(r'bs-total-equity"><td>Total equity</td><td[^>]*>473.40<', body)


def test_payables_page_ages_and_marks_invoices_paid(books, tree, people, world):
    from backroom.events.services import dispatch_outbox
    from backroom.procurement.tests.test_flow import _invoice, _received

    order, _tomato, _oil = _received(world, tree)
    invoice = _invoice(world, order, "INV-5", "80.00")
    dispatch_outbox()
    result = assert_matrix(
        "GET",
        f"/finance/payables/?book={books.cn.pk}",
        allowed=people["finance"],
        forbidden=people["staff"],
        other_scope=None,
    )
    body = _text(result.allowed)
    assert 'data-invoice="INV-5"' in body and 'data-testid="invoice-pay"' in body
    assert_matrix(
        "POST",
        f"/finance/payables/{books.cn.pk}/{invoice.pk}/paid/",
        allowed=people["finance"],
        forbidden=people["region"],
        other_scope=people["hk_finance"],
        expect_allowed=302,
        snapshot=lambda: list(Journal.objects.values_list("number")),
    )
    body = _text(client_for(people["finance"]).get(f"/finance/payables/?book={books.cn.pk}"))
    assert "Nothing is owed to suppliers." in body


def test_consolidated_pnl_translates_each_entity_at_its_average_rate(books, tree, people, november):
    """Golden numbers: CN-CO's 943.40 CNY of revenue and HK-CO's 100.00 HKD at an average of
    0.90 (0.89 and 0.91 entered): 1,033.40 CNY for the group."""
    from backroom.finance.models import FxRate

    create_journal(
        books.hk,
        actor=SYSTEM,
        date=DAY,
        description="HK sales",
        lines=[line("1000", "100"), line("4010", "-100")],
        post=True,
    )
    finance = make_user("finance", tree.group)
    url = "/finance/consolidated/?start=2026-11&currency=CNY"
    body = _text(client_for(finance).get(url))
    assert "No HKD→CNY rates" in body
    for day, rate in ((1, "0.89"), (20, "0.91")):
        FxRate.objects.create(date=DAY.replace(day=day), currency="HKD", quote="CNY", rate=rate)
    result = assert_matrix("GET", url, allowed=finance, forbidden=people["staff"], other_scope=None)
    row = re.search(r'data-testid="consolidated-revenue">(.*?)</tr>', _text(result.allowed))
    assert re.findall(r">([\d.,-]+)</td>", row.group(1)) == ["943.40", "90.00", "1033.40"]
