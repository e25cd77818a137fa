"""Finance importers: exchange rates by date and the chart of accounts, written through the
finance services (audited), refused row by row with the services' own rules, round-tripping."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.core.management import call_command

from backroom.audit.models import AuditEntry
from backroom.finance.models import Account, Book, FxRate
from backroom.finance.services.books import open_books
from backroom.finance.services.journals import LineInput, create_journal
from backroom.imports.models import ImportStatus
from backroom.imports.selectors import importers_for
from backroom.imports.services import export_file, import_file
from backroom.imports.testing import problem_codes, run_import
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import PermissionDenied
from backroom.testing.factories import make_user

pytestmark = pytest.mark.django_db

FX_HEADER = ["Date", "Currency", "Quote currency", "Rate"]
CHART_HEADER = [
    "Entity code",
    "Book code",
    "Account code",
    "Name",
    "Chinese name",
    "Kind",
    "Parent code",
    "Takes postings",
    "Active",
]


@dataclass
class Finance:
    cn: Book  # CN-CO PRIMARY, the Chinese small-business chart
    hk: Book  # HK-CO IFRS
    finance_cn: object  # finance at CN-CO only
    admin: object
    manager: object  # a store manager: imports.use, no finance permission
    operations: object  # HQ operations: imports.use and finance.view only


@pytest.fixture
def finance(tree) -> Finance:
    return Finance(
        cn=open_books(tree.entity.legal_entity, chart="cn_small_business", actor=SYSTEM),
        hk=open_books(tree.entity_hk.legal_entity, chart="ifrs", actor=SYSTEM),
        finance_cn=make_user("finance", tree.entity),
        admin=make_user("hq_admin", tree.group),
        manager=make_user("store_manager", tree.store_a),
        operations=make_user("hq_operations", tree.group),
    )


def messages(job) -> dict[tuple[int | None, str], str]:
    return {(problem["row"], problem["field"]): problem["message"] for problem in job.problems}


# --- exchange rates -------------------------------------------------------------------------


def test_fx_rates_import_update_and_round_trip(finance):
    rows = [
        ["2026-11-10", "USD", "CNY", "7.1234"],
        ["2026/11/10", "hkd", "人民币", "0.9132"],  # a text date, a lower-case code, a name
        [dt.date(2026, 11, 11), "EUR", "CNY", "7.7"],  # an Excel date
        ["2026年11月12日", "USD", "HKD", "7.8"],
    ]
    job = run_import("fx_rates", FX_HEADER, rows, actor=finance.finance_cn)
    assert job.status == ImportStatus.APPLIED, job.problems
    assert (job.created_count, job.updated_count, job.unchanged_count) == (4, 0, 0)
    assert sorted(
        (rate.date, rate.currency, rate.quote, rate.rate, rate.source)
        for rate in FxRate.objects.all()
    ) == [
        (dt.date(2026, 11, 10), "HKD", "CNY", Decimal("0.9132"), "import"),
        (dt.date(2026, 11, 10), "USD", "CNY", Decimal("7.1234"), "import"),
        (dt.date(2026, 11, 11), "EUR", "CNY", Decimal("7.7"), "import"),
        (dt.date(2026, 11, 12), "USD", "HKD", Decimal("7.8"), "import"),
    ]
    assert AuditEntry.objects.filter(action="finance.fx_rate.set").count() == 4

    again = run_import("fx_rates", FX_HEADER, rows, actor=finance.finance_cn)
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 4)
    assert AuditEntry.objects.filter(action="finance.fx_rate.set").count() == 4

    rows[0][3] = "7.2"
    changed = run_import("fx_rates", FX_HEADER, rows, actor=finance.finance_cn)
    assert (changed.created_count, changed.updated_count, changed.unchanged_count) == (0, 1, 3)
    assert changed.changes == [
        {"row": 2, "action": "updated", "key": "2026-11-10 USD/CNY", "fields": ["rate"]}
    ]
    assert FxRate.objects.get(date=dt.date(2026, 11, 10), currency="USD").rate == Decimal("7.2")
    entry = AuditEntry.objects.filter(action="finance.fx_rate.set").order_by("-id").first()
    assert entry is not None and entry.before == {"rate": "7.123400000000"}

    for file_type in ("xlsx", "csv"):  # the CSV holds its dates as text
        data = export_file("fx_rates", actor=finance.finance_cn, file_type=file_type)
        round_trip = import_file(
            "fx_rates", f"rates.{file_type}", data, actor=finance.finance_cn, dry_run=False
        )
        assert round_trip.status == ImportStatus.APPLIED, round_trip.problems
        assert round_trip.unchanged_count == round_trip.total_rows == 4
    assert FxRate.objects.count() == 4
    assert AuditEntry.objects.filter(action="finance.fx_rate.set").count() == 5


def test_fx_rates_bad_input_each_with_its_message(finance):
    rows = [
        ["2026-11-10", "XYZ", "CNY", "7"],  # 2: not a currency
        ["2026-11-10", "USD", "CNY", "0"],  # 3: not above zero
        ["2026-11-11", "USD", "CNY", "-7.1"],  # 4: negative
        ["2026-11-12", "USD", "CNY", "seven"],  # 5: not a number
        ["11/12/2026", "USD", "CNY", "7.1"],  # 6: day/month or month/day
        ["2026-11-13", "USD", "USD", "1"],  # 7: one currency twice
        ["2026-11-14", "USD", "CNY", "7.1"],  # 8
        ["2026-11-14", "usd", "CNY", "7.2"],  # 9: the key of row 8 again
        ["2026-11-15", "USD", "CNY", ""],  # 10: no rate
        ["2026-11-16", "USD", "CNY", "7.1234567890123"],  # 11: 13 decimal places
    ]
    job = run_import("fx_rates", FX_HEADER, rows, actor=finance.finance_cn)
    assert job.status == ImportStatus.INVALID
    assert problem_codes(job) == [
        (2, "currency", "invalid_choice"),
        (3, "rate", "invalid_number"),
        (4, "rate", "invalid_number"),
        (5, "rate", "invalid_number"),
        (6, "date", "invalid_date"),
        (7, "quote", "invalid_value"),
        (9, "quote", "duplicate_key"),
        (10, "rate", "required"),
        (11, "rate", "invalid_number"),
    ]
    said = messages(job)
    assert said[(2, "currency")].startswith("“XYZ” is not one of: CNY, HKD, USD")
    assert said[(3, "rate")] == said[(4, "rate")] == "A rate must be above zero."
    assert said[(5, "rate")] == "“seven” is not a number."
    assert said[(6, "date")].startswith("“11/12/2026” could be day/month or month/day")
    assert said[(7, "quote")] == "A rate needs two different currencies."
    assert said[(9, "quote")] == (
        "Row 8 has the same Date + Currency + Quote currency: keep one of the two rows."
    )
    assert said[(11, "rate")] == "At most 12 decimal places."
    assert not FxRate.objects.exists()
    assert not AuditEntry.objects.filter(action="finance.fx_rate.set").exists()


def test_fx_rates_need_the_permission_to_enter_rates(finance):
    rows = [["2026-11-10", "USD", "CNY", "7.1"]]
    for user in (finance.manager, finance.operations):
        assert "fx_rates" not in importers_for(user)
        with pytest.raises(PermissionDenied):
            run_import("fx_rates", FX_HEADER, rows, actor=user)
        with pytest.raises(PermissionDenied):
            export_file("fx_rates", actor=user)
    assert not FxRate.objects.exists()
    assert {"fx_rates", "chart_of_accounts"} <= set(importers_for(finance.finance_cn))


# --- chart of accounts ----------------------------------------------------------------------


def test_chart_of_accounts_import_update_and_round_trip(finance):
    cn_accounts = finance.cn.accounts.count()
    rows = [
        # A sub-account above its new header: the header is applied first.
        ["CN-CO", "PRIMARY", "5604.01", "Software", "软件服务费", "expense", "5604", "", ""],
        ["cn-co", "primary", "5604", "IT expenses", "信息技术费用", "费用", "", "", ""],
        ["CN-CO", "PRIMARY", "5604.02", "Licences", "", "expense", "5604", "yes", "no"],
        [
            "CN-CO",
            "PRIMARY",
            "5001.03",
            "Beverage sales",
            "饮品销售收入",
            "revenue",
            "5001",
            "",
            "",
        ],
        ["CN-CO", "PRIMARY", "1001", "Cash on hand", "现金", "asset", "", "", ""],  # renamed
    ]
    job = run_import("chart_of_accounts", CHART_HEADER, rows, actor=finance.finance_cn)
    assert job.status == ImportStatus.APPLIED, job.problems
    assert (job.created_count, job.updated_count, job.unchanged_count) == (4, 1, 0)
    assert finance.cn.accounts.count() == cn_accounts + 4
    header = finance.cn.accounts.get(code="5604")
    assert (header.kind, header.parent, header.is_postable, header.name_zh) == (
        "expense",
        None,
        False,  # a new account with sub-accounts in the file is a header
        "信息技术费用",
    )
    software, licences = (finance.cn.accounts.get(code=code) for code in ("5604.01", "5604.02"))
    assert (software.parent, software.is_postable, software.is_active) == (header, True, True)
    assert (licences.parent, licences.name_zh, licences.is_active) == (header, "", False)
    drinks = finance.cn.accounts.get(code="5001.03")
    assert drinks.parent == finance.cn.accounts.get(code="5001")
    assert finance.cn.accounts.get(code="1001").name_zh == "现金"
    assert [change["key"] for change in job.changes if change["action"] == "created"] == [
        "CN-CO/PRIMARY/5604",  # applied parents first
        "CN-CO/PRIMARY/5604.01",
        "CN-CO/PRIMARY/5604.02",
        "CN-CO/PRIMARY/5001.03",
    ]
    assert {"row": 6, "action": "updated", "key": "CN-CO/PRIMARY/1001", "fields": ["name_zh"]} in (
        job.changes
    )
    assert AuditEntry.objects.filter(action="finance.account.created").count() == 4
    assert AuditEntry.objects.filter(action="finance.account.updated").count() == 1

    again = run_import("chart_of_accounts", CHART_HEADER, rows, actor=finance.finance_cn)
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 5)

    rows[2][7] = ""  # a blank keeps the setting…
    rows[2][6] = ""  # …but a blank parent is the top of the chart
    rows[0][5] = "费用"
    moved = run_import("chart_of_accounts", CHART_HEADER, rows, actor=finance.finance_cn)
    assert (moved.created_count, moved.updated_count, moved.unchanged_count) == (0, 1, 4)
    assert moved.changes[0]["fields"] == ["parent_code"]
    licences.refresh_from_db()
    assert (licences.parent, licences.is_postable) == (None, True)

    data = export_file("chart_of_accounts", actor=finance.finance_cn)
    round_trip = import_file(
        "chart_of_accounts", "chart.xlsx", data, actor=finance.finance_cn, dry_run=False
    )
    assert round_trip.status == ImportStatus.APPLIED, round_trip.problems
    assert round_trip.unchanged_count == round_trip.total_rows == cn_accounts + 4  # CN-CO only
    everything = export_file("chart_of_accounts", actor=finance.admin, file_type="csv")
    both = import_file(
        "chart_of_accounts", "all.csv", everything, actor=finance.admin, dry_run=False
    )
    assert both.status == ImportStatus.APPLIED, both.problems
    assert both.unchanged_count == both.total_rows == Account.objects.count()


def test_chart_of_accounts_refuses_what_the_books_service_refuses(finance, tree):
    store = tree.store_a.site
    create_journal(
        finance.cn,
        actor=SYSTEM,
        date=dt.date(2026, 11, 10),
        description="Till takings",
        lines=[
            LineInput(account="1001", amount=Decimal("100.00"), site=store),
            LineInput(account="5001.02", amount=Decimal("-100.00"), site=store),
        ],
        post=True,
    )
    before = Account.objects.count()
    rows = [
        ["NOPE", "PRIMARY", "1", "X", "", "asset", "", "", ""],  # 2
        ["CN-CO", "IFRS", "1", "X", "", "asset", "", "", ""],  # 3
        ["HK-CO", "IFRS", "1000", "Cash", "", "asset", "", "", ""],  # 4: not CN-CO's
        ["CN-CO", "PRIMARY", "1001", "Cash", "", "liability", "", "", ""],  # 5: has postings
        ["CN-CO", "PRIMARY", "5001.02", "Sales", "", "revenue", "5001", "no", ""],  # 6: same
        ["CN-CO", "PRIMARY", "9001.01", "X", "", "asset", "9001", "", ""],  # 7: no parent
        ["CN-CO", "PRIMARY", "1002.01", "X", "", "asset", "1002", "", ""],  # 8: postable parent
        ["CN-CO", "PRIMARY", "1122.09", "X", "", "expense", "1122", "", ""],  # 9: kind
        ["CN-CO", "PRIMARY", "1221", "Other", "", "asset", "", "yes", ""],  # 10: has children
        ["CN-CO", "PRIMARY", "5401", "Costs", "", "asset", "", "no", ""],  # 11: children' kind
        ["CN-CO", "PRIMARY", "7001", "A", "", "asset", "7002", "no", ""],  # 12: circle
        ["CN-CO", "PRIMARY", "7002", "B", "", "asset", "7001", "no", ""],  # 13: circle
        ["CN-CO", "PRIMARY", "7003", "C", "", "garage", "", "", ""],  # 14: no such kind
        ["CN-CO", "PRIMARY", "7004", "D", "", "asset", "", "", ""],  # 15
        ["CN-CO", "PRIMARY", "7004", "D", "", "asset", "", "", ""],  # 16: row 15 again
    ]
    job = run_import("chart_of_accounts", CHART_HEADER, rows, actor=finance.finance_cn)
    assert job.status == ImportStatus.INVALID
    assert problem_codes(job) == [
        (2, "entity_code", "unknown_reference"),
        (3, "book_code", "unknown_reference"),
        (4, "entity_code", "permission_denied"),
        (5, "kind", "cannot_change"),
        (6, "postable", "cannot_change"),
        (7, "parent_code", "unknown_reference"),
        (8, "parent_code", "invalid_parent"),
        (9, "kind", "invalid_parent"),
        (10, "postable", "cannot_change"),
        (11, "kind", "cannot_change"),
        (12, "parent_code", "cycle"),
        (13, "parent_code", "cycle"),
        (14, "kind", "invalid_choice"),
        (16, "code", "duplicate_key"),
    ]
    said = messages(job)
    assert said[(2, "entity_code")] == "There is no legal entity NOPE."
    assert said[(3, "book_code")] == "CN-CO has no book IFRS (its books: PRIMARY)."
    assert said[(4, "entity_code")] == "You may not edit the chart of accounts of HK-CO."
    assert said[(5, "kind")] == "The account has postings; its kind cannot change."
    assert said[(6, "postable")] == "The account has postings; it must keep taking them."
    assert said[(7, "parent_code")] == (
        "There is no account 9001 in CN-CO PRIMARY, in Backroom or in this file."
    )
    assert said[(8, "parent_code")] == "1002 takes postings; it cannot hold sub-accounts."
    assert said[(9, "kind")] == (
        "1122 is of the kind Asset: a sub-account has the kind of its parent."
    )
    assert said[(10, "postable")] == (
        "1221 holds sub-accounts (1221.01, 1221.02, 1221.03): it cannot take postings."
    )
    assert said[(11, "kind")] == (
        "5401 has sub-accounts of another kind (5401.01, 5401.02, 5401.03, 5401.04): a "
        "sub-account has the kind of its parent; change theirs in this file too."
    )
    assert (
        said[(12, "parent_code")]
        == said[(13, "parent_code")]
        == ("The parent codes go round in a circle: 7001 → 7002 → 7001.")
    )
    assert Account.objects.count() == before
    assert not AuditEntry.objects.filter(action__startswith="finance.account.").exists()


def test_chart_of_accounts_needs_finance_manage_and_lists_only_its_books(finance, tmp_path):
    rows = [["CN-CO", "PRIMARY", "5604", "IT expenses", "", "expense", "", "", ""]]
    for user in (finance.manager, finance.operations):
        assert "chart_of_accounts" not in importers_for(user)
        with pytest.raises(PermissionDenied):
            run_import("chart_of_accounts", CHART_HEADER, rows, actor=user)
    assert not Account.objects.filter(code="5604").exists()

    # The CLI, as the finance user: export lists CN-CO's book only; a dry run changes nothing.
    path = tmp_path / "chart.xlsx"
    call_command("export", "chart_of_accounts", str(path), "--user", finance.finance_cn.username)
    exported = import_file(
        "chart_of_accounts", "chart.xlsx", path.read_bytes(), actor=finance.admin, dry_run=True
    )
    assert exported.status == ImportStatus.CHECKED
    assert exported.total_rows == finance.cn.accounts.count()
    call_command(
        "import", "chart_of_accounts", str(path), "--dry-run", "--user", finance.finance_cn.username
    )
    assert AuditEntry.objects.filter(action__startswith="finance.account.").count() == 0
