"""Consolidation across entities: the balance sheet at the closing rate with intercompany
balances eliminated (golden numbers), the P&L at the average rate, a missing rate, the API's
permission matrix and scope, and the page with its exports."""

from __future__ import annotations

import csv
import io
import re

import pytest
from openpyxl import load_workbook

from backroom.finance.exceptions import FxRateMissing
from backroom.finance.models import FxRate
from backroom.finance.reports import consolidated_balance_sheet
from backroom.finance.services.journals import create_journal
from backroom.finance.tests.conftest import DAY, D, line
from backroom.kernel.actors import SYSTEM
from backroom.testing.factories import client_for, make_user
from backroom.testing.matrix import assert_matrix

pytestmark = pytest.mark.django_db

MONTH = DAY.replace(day=1)


@pytest.fixture
def people(tree):
    return {
        "group_finance": make_user("finance", tree.group),  # both entities
        "hk_finance": make_user("finance", tree.entity_hk),  # HK-CO only
        "staff": make_user("store_staff", tree.store_a),  # no finance.view
    }


@pytest.fixture
def group(books):
    """November in both entities.

    CN-CO (CNY): 10,000 paid in; 3,000 of stock bought; 1,000 of it sent to HK-CO at cost
    (intercompany receivable 1,000); 1,060 of sales (1,000 revenue, 60 VAT); 400 food cost.
    HK-CO (HKD): 5,000 paid in; the stock received at 1,100 HKD (intercompany payable 1,100);
    500 of sales; 200 of rent.
    Rates HKD→CNY: 0.90 on the 20th, 0.92 on the 27th (the closing rate: the latest within
    7 days of the 30th), 0.99 on 1 December (after the month: not used).
    """
    entries = [
        (books.cn, "Capital", [line("1002", "10000"), line("3001", "-10000")]),
        (books.cn, "Purchase", [line("1403", "3000"), line("1002", "-3000")]),
        (books.cn, "Transfer to HK-CO", [line("1221.01", "1000"), line("1403", "-1000")]),
        (
            books.cn,
            "Sales",
            [line("1001", "1060"), line("5001.02", "-1000"), line("2221.02", "-60")],
        ),
        (books.cn, "Food cost", [line("5401.01", "400"), line("1403", "-400")]),
        (books.hk, "Capital", [line("1010", "5000"), line("3000", "-5000")]),
        (books.hk, "Transfer from CN-CO", [line("1210", "1100"), line("2030", "-1100")]),
        (books.hk, "Sales", [line("1000", "500"), line("4010", "-500")]),
        (books.hk, "Rent", [line("6020", "200"), line("1010", "-200")]),
    ]
    for book, description, lines in entries:
        create_journal(
            book, actor=SYSTEM, date=DAY, description=description, lines=lines, post=True
        )
    for day, rate in ((DAY.replace(day=20), "0.90"), (DAY.replace(day=27), "0.92")):
        FxRate.objects.create(date=day, currency="HKD", quote="CNY", rate=rate)
    FxRate.objects.create(
        date=DAY.replace(month=12, day=1), currency="HKD", quote="CNY", rate="0.99"
    )
    return books


def _lines(section):
    return [
        (
            line.key,
            line.account.code if line.account else None,
            [str(value) for value in line.values],
            str(line.elimination),
            str(line.group),
        )
        for line in section.lines
    ]


def test_golden_consolidated_balance_sheet(group):
    """CN-CO at 1; HK-CO at the closing rate 0.92, its profit (300 HKD) at the year's average
    0.91 (273.00), leaving 3.00 of translation difference. The receivable (1,000.00) and the
    payable (1,100 HKD = 1,012.00) are eliminated; the 12.00 they differ by joins the
    difference line (15.00), and the group balances: 15,548.00 of assets = 60.00 + 15,488.00."""
    report = consolidated_balance_sheet([group.cn, group.hk], MONTH, currency="CNY")
    assert [(e.book.entity.node.code, e.rate) for e in report.entities] == [
        ("CN-CO", D("1")),
        ("HK-CO", D("0.92")),
    ]
    assert str(report.at) == "2026-11-30"
    assert _lines(report.assets) == [
        ("account", "1001", ["1060.0000", "0"], "0", "1060.0000"),
        ("account", "1002", ["7000.0000", "0"], "0", "7000.0000"),
        ("account", "1221.01", ["1000.0000", "0"], "-1000.0000", "0.0000"),
        ("account", "1403", ["1600.0000", "0"], "0", "1600.0000"),
        ("account", "1000", ["0", "460.0000"], "0", "460.0000"),
        ("account", "1010", ["0", "4416.0000"], "0", "4416.0000"),
        ("account", "1210", ["0", "1012.0000"], "0", "1012.0000"),
    ]
    assert _lines(report.liabilities) == [
        ("account", "2221.02", ["60.0000", "0"], "0", "60.0000"),
        ("account", "2030", ["0", "1012.0000"], "-1012.0000", "0.0000"),
    ]
    assert _lines(report.equity) == [
        ("account", "3001", ["10000.0000", "0"], "0", "10000.0000"),
        ("account", "3000", ["0", "4600.0000"], "0", "4600.0000"),
        ("profit_this_year", None, ["600.0000", "273.0000"], "0", "873.0000"),
        ("difference", None, ["0.0000", "3.0000"], "12.0000", "15.0000"),
    ]
    assert [line.is_eliminated for line in report.assets.lines].count(True) == 1
    assert report.eliminated_receivables == D("1000")
    assert report.eliminated_payables == D("1012")
    assert report.difference.group == D("15")
    assert report.assets.totals == [D("10660"), D("5888")]
    assert report.liabilities.totals == [D("60"), D("1012")]
    assert report.equity.totals == [D("10600"), D("4876")]
    assert (report.assets.group, report.liabilities.group, report.equity.group) == (
        D("15548"),
        D("60"),
        D("15488"),
    )
    assert report.balances


def test_every_column_balances_when_translation_rounds(group):
    """In HKD, CN-CO translates at 1 / 0.92 (12 places), its profit (600.00) at the year's
    average: each line rounds to 4 places, and the translation difference with the rounding is
    CN-CO's part of the difference line, so its column still balances."""
    report = consolidated_balance_sheet([group.cn, group.hk], MONTH, currency="HKD")
    assert report.entities[0].rate == D("1.086956521739")
    assert report.entities[1].rate == D("1")
    cn = report.entities[0]
    translation = D(600) * (cn.rate - cn.average)  # -7.2465
    assert abs(report.difference.values[0] - translation) < D("0.001")
    for index in range(2):
        assert (
            report.assets.totals[index]
            == report.liabilities.totals[index] + report.equity.totals[index]
        )
    assert report.eliminated_payables == D("1100")
    assert report.eliminated_receivables == D("1086.9565")  # 1,000 × 1.086956521739
    assert report.difference.elimination == D("13.0435")
    assert report.balances


def test_a_missing_closing_rate_names_every_pair(group):
    with pytest.raises(FxRateMissing) as raised:
        consolidated_balance_sheet([group.cn, group.hk], MONTH, currency="USD")
    assert raised.value.code == "fx_rate_missing"
    assert raised.value.errors == {
        "CNY": ["No CNY→USD rate on 2026-11-30 or in the 7 days before it."],
        "HKD": ["No HKD→USD rate on 2026-11-30 or in the 7 days before it."],
    }
    # Without the 27th's rate, the 20th's is 10 days before the month end: too old.
    FxRate.objects.filter(date=DAY.replace(day=27)).delete()
    with pytest.raises(FxRateMissing) as raised:
        consolidated_balance_sheet([group.cn, group.hk], MONTH, currency="CNY")
    assert raised.value.errors == {
        "HKD": ["No HKD→CNY rate on 2026-11-30 or in the 7 days before it."]
    }


# --- API ------------------------------------------------------------------------------------


def test_balance_sheet_api_matrix_and_scope(group, people):
    url = "/api/v1/finance/consolidated/balance-sheet?month=2026-11-01&currency=CNY"
    result = assert_matrix(
        "GET",
        url,
        allowed=people["group_finance"],
        forbidden=people["staff"],
        other_scope=people["hk_finance"],
        expect_other_scope=200,
    )
    data = result.allowed.json()
    assert [(e["entity_code"], e["currency"], e["rate"]) for e in data["entities"]] == [
        ("CN-CO", "CNY", "1"),
        ("HK-CO", "HKD", "0.920000000000"),
    ]
    assert data["at"] == "2026-11-30"
    receivable = data["assets"]["lines"][2]
    assert receivable == {
        "key": "account",
        "entity_code": "CN-CO",
        "account_code": "1221.01",
        "account_name": "Other receivables - related parties",
        "amounts": ["1000.0000", "0"],
        "elimination": "-1000.0000",
        "group": "0.0000",
        "is_eliminated": True,
    }
    assert data["equity"]["lines"][-1]["key"] == "difference"
    assert (data["eliminated_receivables"], data["eliminated_payables"], data["difference"]) == (
        "1000.0000",
        "1012.0000",
        "15.0000",
    )
    assert (data["assets"]["group"], data["liabilities"]["group"], data["equity"]["group"]) == (
        "15548.0000",
        "60.0000",
        "15488.0000",
    )
    # A user at HK-CO consolidates HK-CO alone: its payable is to someone outside the report,
    # so nothing is eliminated; the difference is its translation difference.
    hk = result.other_scope.json()
    assert [e["entity_code"] for e in hk["entities"]] == ["HK-CO"]
    assert {line["account_code"] for line in hk["assets"]["lines"]} == {"1000", "1010", "1210"}
    assert hk["assets"]["group"] == "5888.0000"
    assert (hk["eliminated_receivables"], hk["eliminated_payables"]) == ("0", "0")
    assert hk["difference"] == "3.0000"


def test_balance_sheet_api_reports_a_missing_rate(group, people):
    response = client_for(people["group_finance"]).get(
        "/api/v1/finance/consolidated/balance-sheet?month=2026-11-01&currency=USD"
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "fx_rate_missing"
    assert body["details"]["fields"]["HKD"] == [
        "No HKD→USD rate on 2026-11-30 or in the 7 days before it."
    ]
    assert set(body["details"]["fields"]) == {"CNY", "HKD"}


def test_pnl_api_matrix_and_scope(group, people):
    """Golden numbers: CN-CO's 1,000 of revenue and 600 of profit; HK-CO's 500 and 300 HKD at
    the November average of 0.91 (0.90 and 0.92): 455.00 and 273.00."""
    url = "/api/v1/finance/consolidated/pnl?start=2026-11-01&currency=CNY"
    result = assert_matrix(
        "GET",
        url,
        allowed=people["group_finance"],
        forbidden=people["staff"],
        other_scope=people["hk_finance"],
        expect_other_scope=200,
    )
    data = result.allowed.json()
    assert (data["start"], data["end"]) == ("2026-11-01", "2026-11-30")
    hk = data["entities"][1]
    assert (hk["entity_code"], hk["rate"]) == ("HK-CO", "0.910000")
    assert hk["own"]["revenue"] == "500.0000"
    assert hk["translated"]["revenue"] == "455.0000"
    assert data["total"] == {
        "revenue": "1455.0000",
        "food_cost": "400.0000",
        "gross_profit": "1055.0000",
        "expenses": "182.0000",
        "profit": "873.0000",
    }
    assert data["food_cost_pct"] == "27.5"
    assert [e["entity_code"] for e in result.other_scope.json()["entities"]] == ["HK-CO"]
    missing = client_for(people["group_finance"]).get(
        "/api/v1/finance/consolidated/pnl?start=2026-11-01&currency=USD"
    )
    assert missing.status_code == 422 and missing.json()["code"] == "fx_rate_missing"


# --- page -------------------------------------------------------------------------------------


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_consolidated_balance_sheet_page_and_exports(group, people):
    url = "/finance/consolidated/?view=balance-sheet&month=2026-11&currency=CNY"
    result = assert_matrix(
        "GET", url, allowed=people["group_finance"], forbidden=people["staff"], other_scope=None
    )
    body = _text(result.allowed)
    assert 'data-testid="consolidation-errors"' not in body
    total = re.search(r'data-testid="cbs-total-assets">(.*?)</tr>', body).group(1)
    assert re.findall(r">([\d.,-]+)</td>", total) == ["10660.00", "5888.00", "-1000.00", "15548.00"]
    both = re.search(r'data-testid="cbs-total-liabilities-equity">(.*?)</tr>', body).group(1)
    assert re.findall(r">([\d.,-]+)</td>", both) == ["10660.00", "5888.00", "-1000.00", "15548.00"]
    assert "?view=balance-sheet&amp;month=2026-11&amp;currency=CNY" in body
    difference = re.search(r'data-key="difference"[^>]*>(.*?)</tr>', body).group(1)
    assert "Currency translation and elimination difference" in difference
    assert re.findall(r">([\d.,-]+)</td>", difference) == ["0.00", "3.00", "12.00", "15.00"]
    assert 'data-account="1221.01"' in body and "Intercompany elimination" in body

    client = client_for(people["group_finance"])
    workbook = client.get(url + "&export=xlsx")
    assert workbook.status_code == 200
    assert workbook["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(workbook.content)).active
    rows = [[cell for cell in row] for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == [
        "Section",
        "Company",
        "Account",
        "Name",
        "CN-CO (CNY × 1)",
        "HK-CO (HKD × 0.92)",
        "Intercompany elimination",
        "Group",
    ]
    by_name = {row[3]: row for row in rows[1:]}
    assert [str(v) for v in by_name["Currency translation and elimination difference"][4:]] == [
        "0",
        "3",
        "12",
        "15",
    ]
    assert str(by_name["Total assets"][7]) == "15548"

    pnl = client.get("/finance/consolidated/?start=2026-11&currency=CNY&export=csv")
    assert pnl.status_code == 200 and pnl["Content-Type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(pnl.content.decode("utf-8-sig"))))
    assert table[0] == ["Line", "CN-CO (CNY × 1)", "HK-CO (HKD × 0.91)", "Group"]
    assert table[1] == ["Revenue", "1000", "455", "1455"]


def test_consolidated_page_shows_a_missing_closing_rate(group, people):
    body = _text(
        client_for(people["group_finance"]).get(
            "/finance/consolidated/?view=balance-sheet&month=2026-11&currency=USD"
        )
    )
    assert "No HKD→USD rate on 2026-11-30" in body and "No CNY→USD rate" in body
    assert 'data-testid="consolidated-balance-sheet"' not in body
