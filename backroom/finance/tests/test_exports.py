"""Exports of the finance pages (`?export=xlsx|csv` on the page's own URL): the P&L, the balance
sheet, payables, expense claims and periods. Each keeps the page's filters and scope: the
same golden figures as the page, nothing of another entity or store, a login for anonymous
callers and 403 (no file) for a user without the permission."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from backroom.finance.models import Period
from backroom.finance.services.journals import create_journal
from backroom.finance.tests.conftest import DAY, line
from backroom.finance.tests.test_claims import claim_input, receipt
from backroom.finance.tests.test_pages import november, people  # noqa: F401  (fixtures)
from backroom.kernel.actors import SYSTEM
from backroom.testing.factories import make_user
from backroom.testing.matrix import assert_matrix, client_of

pytestmark = pytest.mark.django_db

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

PNL_HEADER = [
    "Section",
    "Account",
    "Name",
    "This period 2026-11",
    "Previous 2026-10",
    "Last year 2025-11",
]
BALANCE_SHEET_HEADER = ["Section", "Account", "Name", "Amount"]
PAYABLES_HEADER = [
    "Supplier code",
    "Supplier",
    "Invoice number",
    "Invoice date",
    "Due date",
    "Days overdue",
    "Ageing",
    "Amount",
]
CLAIM_HEADER = [
    "Number",
    "Date",
    "Store code",
    "Store",
    "Category",
    "Description",
    "Cost centre",
    "Amount",
    "Currency",
    "Status",
    "Claimant",
]
PERIOD_HEADER = ["Entity code", "Entity", "Period", "Start", "End", "Status"]


def _xlsx(response):
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    assert response["Content-Disposition"].startswith("attachment;")
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).active
    header, *rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    return header, rows


def _csv(response):
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;")
    header, *rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    return header, rows


def _both(user, url):
    """The export as .xlsx and as CSV: (header, rows) of each."""
    client = client_of(user)
    joiner = "&" if "?" in url else "?"
    return (
        _xlsx(client.get(f"{url}{joiner}export=xlsx")),
        _csv(client.get(f"{url}{joiner}export=csv")),
    )


def _denied(url, forbidden):
    """Anonymous goes to the login page; a user without the permission gets 403 and no file."""
    joiner = "&" if "?" in url else "?"
    for file_type in ("xlsx", "csv"):
        result = assert_matrix(
            "GET",
            f"{url}{joiner}export={file_type}",
            allowed=None,
            forbidden=forbidden,
            other_scope=None,
        )
        for response in (result.anonymous, result.forbidden):
            assert "Content-Disposition" not in response
            assert response["Content-Type"] not in (XLSX, "text/csv; charset=utf-8")


def _by_name(rows):
    return {row[2]: row for row in rows}


# --- profit and loss --------------------------------------------------------------------------


def test_pnl_exports_lines_and_totals_of_the_store(books, tree, people, november):  # noqa: F811
    url = f"/finance/pnl/?book={books.cn.pk}&store={november.pk}&start=2026-11"
    page = client_of(people["finance"]).get(url).content.decode()
    assert 'data-testid="export-xlsx"' in page and "export=xlsx" in page
    (header, rows), (csv_header, csv_rows) = _both(people["finance"], url)
    assert header == csv_header == PNL_HEADER
    lines = {row[1]: row for row in rows if row[1]}
    assert lines["5001.02"][0] == "Revenue" and lines["5001.02"][3] == pytest.approx(943.40)
    assert lines["5401.02"][3:] == [20, 0, 0]
    totals = _by_name(rows)
    assert totals["Total · Revenue"][3] == pytest.approx(943.40)
    assert totals["Total · Food cost"][3] == 300
    assert totals["Gross profit"][3] == pytest.approx(643.40)
    assert totals["Food cost %"][3] == pytest.approx(31.8)
    assert totals["Total · Operating expenses"][3] == 120  # store A's rent only
    assert totals["Profit"][3] == pytest.approx(523.40)
    assert [row[2] for row in rows][-1] == "Profit"
    csv_totals = _by_name(csv_rows)
    assert csv_totals["Profit"][3:] == ["523.4", "0", "0"]
    assert csv_totals["Food cost %"][3:] == ["31.8", "", ""]  # no revenue: no rate
    # The entity's P&L has store B's rent too.
    (_header, entity), _csv_rows = _both(
        people["finance"], f"/finance/pnl/?book={books.cn.pk}&start=2026-11"
    )
    assert _by_name(entity)["Profit"][3] == pytest.approx(473.40)
    # Head-office costs booked without a store count for the entity, not for a store.
    create_journal(
        books.cn,
        actor=SYSTEM,
        date=DAY,
        description="Head-office stationery",
        lines=[line("5602.02", "50"), line("1002", "-50")],
        post=True,
    )
    (_header, entity), _csv_rows = _both(
        people["finance"], f"/finance/pnl/?book={books.cn.pk}&start=2026-11"
    )
    assert _by_name(entity)["Profit"][3] == pytest.approx(423.40)
    (_header, store), _csv_rows = _both(people["finance"], url)
    assert _by_name(store)["Profit"][3] == pytest.approx(523.40)


def test_pnl_export_names_the_months_of_each_column(books, people, november):  # noqa: F811
    url = f"/finance/pnl/?book={books.cn.pk}&start=2026-09&end=2026-11"
    (header, rows), _csv_export = _both(people["finance"], url)
    assert header[3:] == [
        "This period 2026-09–2026-11",
        "Previous 2026-06–2026-08",
        "Last year 2025-09–2025-11",
    ]
    assert _by_name(rows)["Profit"][3] == pytest.approx(473.40)


def test_pnl_export_denied_and_scoped(books, tree, people, november):  # noqa: F811
    url = f"/finance/pnl/?book={books.cn.pk}&start=2026-11"
    _denied(url, people["staff"])
    # HK-CO's finance asks for CN-CO's book: it gets its own (HK-CO's), none of CN-CO's lines.
    create_journal(
        books.hk,
        actor=SYSTEM,
        date=DAY,
        description="HK sales",
        lines=[
            line("1000", "100", site=tree.store_hk.site),
            line("4010", "-100", site=tree.store_hk.site),
        ],
        post=True,
    )
    (_header, rows), (_csv_header, csv_rows) = _both(people["hk_finance"], url)
    assert {row[1] for row in rows if row[1]} == {"4010"}
    assert {row[1] for row in csv_rows if row[1]} == {"4010"}
    assert _by_name(rows)["Profit"][3] == 100


# --- balance sheet ----------------------------------------------------------------------------


def test_balance_sheet_exports_accounts_and_totals(books, people, november):  # noqa: F811
    """The page's golden numbers: 530.00 of assets = 56.60 of output VAT + 473.40 of profit."""
    url = f"/finance/balance-sheet/?book={books.cn.pk}&month=2026-11"
    page = client_of(people["finance"]).get(url).content.decode()
    assert 'data-testid="export-csv"' in page
    (header, rows), (csv_header, csv_rows) = _both(people["finance"], url)
    assert header == csv_header == BALANCE_SHEET_HEADER
    accounts = {row[1]: row for row in rows if row[1]}
    assert accounts["1001"][0] == "Assets" and accounts["1001"][3] == 1000
    assert accounts["2221.02"][0] == "Liabilities" and accounts["2221.02"][3] == pytest.approx(
        56.60
    )
    totals = _by_name(rows)
    assert totals["Total assets"][3] == 530
    assert totals["Total liabilities"][3] == pytest.approx(56.60)
    assert totals["Profit of this year"][3] == pytest.approx(473.40)
    assert totals["Total equity"][3] == pytest.approx(473.40)
    assert totals["Total liabilities and equity"][3] == 530
    assert _by_name(csv_rows)["Total assets"][3] == "530"


def test_balance_sheet_export_denied_and_scoped(books, people, november):  # noqa: F811
    url = f"/finance/balance-sheet/?book={books.cn.pk}&month=2026-11"
    _denied(url, people["staff"])
    (_header, rows), (_csv_header, csv_rows) = _both(people["hk_finance"], url)
    assert [row for row in rows if row[1]] == [] and [row for row in csv_rows if row[1]] == []
    assert _by_name(rows)["Total assets"][3] == 0


# --- payables ---------------------------------------------------------------------------------


@pytest.fixture
def invoice(books, tree, world):
    """INV-5: 10 × 80.00 and 12 × 45.50 received and invoiced, 1,346.00, due 2025-04-11."""
    from backroom.events.services import dispatch_outbox
    from backroom.procurement.tests.test_flow import _invoice, _received

    order, _tomato, _oil = _received(world, tree)
    found = _invoice(world, order, "INV-5", "80.00")
    dispatch_outbox()
    return found


def test_payables_export_one_row_per_open_invoice(books, people, world, invoice):  # noqa: F811
    url = f"/finance/payables/?book={books.cn.pk}"
    page = client_of(people["finance"]).get(url).content.decode()
    assert 'data-testid="export-xlsx"' in page
    (header, rows), (csv_header, csv_rows) = _both(people["finance"], url)
    assert header == csv_header == PAYABLES_HEADER
    overdue = (timezone.localdate() - dt.date(2025, 4, 11)).days
    assert len(rows) == 1
    row = rows[0]
    assert row[:3] == [world.supplier.code, world.supplier.name, "INV-5"]
    assert row[3].date() == dt.date(2025, 3, 12) and row[4].date() == dt.date(2025, 4, 11)
    assert row[5:] == [overdue, "90+ days", 1346]
    assert csv_rows == [
        [
            world.supplier.code,
            world.supplier.name,
            "INV-5",
            "2025-03-12",
            "2025-04-11",
            str(overdue),
            "90+ days",
            "1346",
        ]
    ]


def test_payables_export_denied_and_scoped(books, people, invoice):  # noqa: F811
    url = f"/finance/payables/?book={books.cn.pk}"
    _denied(url, people["staff"])
    (_header, rows), (_csv_header, csv_rows) = _both(people["hk_finance"], url)
    assert rows == [] and csv_rows == []


# --- expense claims ---------------------------------------------------------------------------


@pytest.fixture
def claims(books, tree):
    """A 58.50 taxi claimed at store A and a 12.00 one at store B, each by its own staff."""
    from backroom.finance.services.claims import submit_claim

    staff_a = make_user("store_staff", tree.store_a)
    staff_b = make_user("store_staff", tree.store_b)
    a = submit_claim(tree.store_a.site, claim_input(), receipt=receipt(), actor=staff_a)
    b = submit_claim(
        tree.store_b.site,
        claim_input(description="Ice", amount="12.00", category="other"),
        receipt=receipt(),
        actor=staff_b,
    )
    return {"a": a, "b": b, "staff_a": staff_a, "staff_b": staff_b}


def test_claims_export_has_every_claim_finance_may_see(books, tree, people, claims):  # noqa: F811
    page = client_of(claims["staff_a"]).get("/finance/claims/").content.decode()
    assert 'data-testid="export-xlsx"' in page
    (header, rows), (csv_header, csv_rows) = _both(people["finance"], "/finance/claims/")
    assert header == csv_header == CLAIM_HEADER
    assert sorted(row[0] for row in rows) == sorted([claims["a"].number, claims["b"].number])
    a = next(row for row in rows if row[0] == claims["a"].number)
    assert a[1].date() == claims["a"].spent_on
    assert a[2:] == [
        "SHA001",
        tree.store_a.site.node.name,
        "Travel",
        "Taxi to the supplier",
        "KITCHEN",
        58.5,
        "CNY",
        "Approved, to be paid",
        str(claims["staff_a"]),
    ]
    a_csv = next(row for row in csv_rows if row[0] == claims["a"].number)
    assert a_csv[7:9] == ["58.5", "CNY"]


def test_claims_export_denied_and_scoped(books, tree, people, claims):  # noqa: F811
    _denied("/finance/claims/", make_user(None))
    # Store staff export their own claims only; HK-CO's finance none of CN-CO's.
    for user, expected in (
        (claims["staff_a"], [claims["a"].number]),
        (claims["staff_b"], [claims["b"].number]),
        (people["hk_finance"], []),
    ):
        (_header, rows), (_csv_header, csv_rows) = _both(user, "/finance/claims/")
        assert [row[0] for row in rows] == expected
        assert [row[0] for row in csv_rows] == expected


# --- periods ----------------------------------------------------------------------------------


def test_periods_export_lists_the_entitys_periods(books, tree, people, november):  # noqa: F811
    october = Period.objects.create(
        entity=books.cn.entity, start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31)
    )
    Period.objects.filter(pk=october.pk).update(status="closed")
    Period.objects.create(entity=books.hk.entity, start=dt.date(2026, 11, 1), end=DAY)
    page = client_of(people["finance"]).get("/finance/periods/").content.decode()
    assert 'data-testid="export-xlsx"' in page
    (header, rows), (csv_header, csv_rows) = _both(people["finance"], "/finance/periods/")
    assert header == csv_header == PERIOD_HEADER
    code = books.cn.entity.node.code
    assert [row[:3] for row in rows] == [
        [code, books.cn.entity.node.name, "2026-11"],
        [
            code,
            books.cn.entity.node.name,
            "2026-10",
        ],
    ]
    assert rows[1][3].date() == dt.date(2026, 10, 1) and rows[1][5] == "Closed"
    assert csv_rows[1][3:] == ["2026-10-01", "2026-10-31", "Closed"]
    _denied("/finance/periods/", people["staff"])
    (_header, hk_rows), (_csv_header, hk_csv) = _both(people["hk_finance"], "/finance/periods/")
    assert [row[0] for row in hk_rows] == [row[0] for row in hk_csv] == [books.hk.entity.node.code]


def test_anonymous_export_goes_to_the_login_page():
    response = Client().get("/finance/pnl/?export=xlsx")
    assert response.status_code == 302 and "/login/" in response["Location"]
