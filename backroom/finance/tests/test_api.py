"""The finance API: every endpoint as anonymous / without permission / other entity / allowed,
with the whole effect of the allowed call and nothing changed by the denied ones."""

from __future__ import annotations

import pytest

from backroom.finance.choices import PeriodStatus
from backroom.finance.models import Account, AccountBalance, FxRate, Journal, Period
from backroom.finance.services.journals import create_journal
from backroom.finance.tests.conftest import DAY, D, line
from backroom.kernel.actors import SYSTEM
from backroom.testing.factories import client_for, make_user
from backroom.testing.matrix import assert_matrix

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(tree):
    return {
        "finance": make_user("finance", tree.entity),
        "staff": make_user("store_staff", tree.store_a),  # sees the org, not the books
        "hk_finance": make_user("finance", tree.entity_hk),
        "ops": make_user("hq_operations", tree.group),  # reads the books, may not post
    }


def journal_body(books, tree, post=True, amount="88.00"):
    return {
        "book_id": books.cn.pk,
        "date": DAY.isoformat(),
        "description": "Petty cash",
        "post": post,
        "lines": [
            {"account": "5602.99", "debit": amount, "store_id": tree.store_a.site.pk},
            {"account": "1001", "credit": amount, "store_id": tree.store_a.site.pk},
        ],
    }


def ledger():
    return (
        list(Journal.objects.values_list("number", "status")),
        list(AccountBalance.objects.values_list("account_id", "debit", "credit")),
    )


def test_post_a_journal_matrix(books, tree, people):
    result = assert_matrix(
        "POST",
        "/api/v1/finance/journals",
        payload=journal_body(books, tree),
        allowed=people["finance"],
        forbidden=people["ops"],
        other_scope=people["hk_finance"],
        expect_allowed=201,
        snapshot=ledger,
    )
    data = result.allowed.json()
    assert data["status"] == "posted" and data["period"] == "2026-11"
    assert [(row["account_code"], row["base_amount"]) for row in data["lines"]] == [
        ("5602.99", "88.0000"),
        ("1001", "-88.0000"),
    ]
    assert AccountBalance.objects.get(account__code="1001").credit == 88


def test_unbalanced_and_bad_lines_are_422_with_every_problem(books, tree, people):
    client = client_for(people["finance"])
    body = journal_body(books, tree)
    body["lines"][1]["credit"] = "80.00"
    response = client.post("/api/v1/finance/journals", body, content_type="application/json")
    assert response.status_code == 422 and response.json()["code"] == "unbalanced"
    body["lines"][0]["account"] = "0000"
    body["lines"][1]["store_id"] = tree.store_hk.site.pk
    response = client.post("/api/v1/finance/journals", body, content_type="application/json")
    assert response.status_code == 422
    assert set(response.json()["details"]["fields"]) == {"lines.0.account", "lines.1.site"}
    body["lines"][0].update(debit=None, amount="5")
    body["lines"][0]["credit"] = "5"
    response = client.post("/api/v1/finance/journals", body, content_type="application/json")
    assert response.status_code == 422
    assert not Journal.objects.exists()


def test_editing_a_posted_journal_is_a_409_and_reversal_works(books, tree, people):
    client = client_for(people["finance"])
    journal = client.post(
        "/api/v1/finance/journals", journal_body(books, tree), content_type="application/json"
    ).json()
    url = f"/api/v1/finance/journals/{journal['id']}"
    response = client.put(url, journal_body(books, tree), content_type="application/json")
    assert response.status_code == 409 and response.json()["code"] == "journal_posted"
    assert client.delete(url).status_code == 409
    result = assert_matrix(
        "POST",
        f"{url}/reverse",
        payload={"reason": "duplicate"},
        allowed=people["finance"],
        forbidden=people["ops"],
        other_scope=people["hk_finance"],
        expect_allowed=201,
        snapshot=ledger,
    )
    reversal = result.allowed.json()
    assert reversal["reverses_id"] == journal["id"] and reversal["kind"] == "reversal"
    again = client.post(f"{url}/reverse", {}, content_type="application/json")
    assert again.status_code == 409 and again.json()["code"] == "already_reversed"


def test_drafts_are_edited_posted_or_discarded(books, tree, people):
    client = client_for(people["finance"])
    draft = client.post(
        "/api/v1/finance/journals",
        journal_body(books, tree, post=False),
        content_type="application/json",
    ).json()
    url = f"/api/v1/finance/journals/{draft['id']}"
    assert draft["status"] == "draft" and not AccountBalance.objects.exists()
    body = journal_body(books, tree, amount="99.00")
    del body["book_id"], body["post"]
    assert client.put(url, body, content_type="application/json").status_code == 200
    posted = client.post(f"{url}/post").json()
    assert posted["status"] == "posted" and posted["lines"][0]["base_amount"] == "99.0000"
    other = client.post(
        "/api/v1/finance/journals",
        journal_body(books, tree, post=False),
        content_type="application/json",
    ).json()
    assert client.delete(f"/api/v1/finance/journals/{other['id']}").status_code == 204
    assert Journal.objects.count() == 1


def test_reading_journals_is_scoped_to_the_entity(books, tree, people):
    create_journal(
        books.cn,
        actor=SYSTEM,
        date=DAY,
        description="CN",
        lines=[line("5602.99", "1"), line("1001", "-1")],
        post=True,
    )
    create_journal(
        books.hk,
        actor=SYSTEM,
        date=DAY,
        description="HK",
        lines=[line("6990", "1"), line("1000", "-1")],
        post=True,
    )
    result = assert_matrix(
        "GET",
        "/api/v1/finance/journals",
        allowed=people["finance"],
        forbidden=people["staff"],
        other_scope=people["hk_finance"],
        expect_forbidden=200,
        expect_other_scope=200,
    )
    assert [row["description"] for row in result.allowed.json()["items"]] == ["CN"]
    assert result.forbidden.json()["items"] == []
    assert [row["description"] for row in result.other_scope.json()["items"]] == ["HK"]
    cn = Journal.objects.get(description="CN")
    assert_matrix(
        "GET",
        f"/api/v1/finance/journals/{cn.pk}",
        allowed=people["finance"],
        forbidden=people["staff"],
        other_scope=people["hk_finance"],
        expect_forbidden=404,
    )


def test_period_close_matrix_and_order(books, tree, people):
    october = Period.objects.create(
        entity=books.cn.entity, start=DAY.replace(month=10, day=1), end=DAY.replace(day=1)
    )
    assert_matrix(
        "POST",
        f"/api/v1/finance/periods/{october.pk}/status",
        payload={"status": "soft_closed"},
        allowed=people["finance"],
        forbidden=people["ops"],
        other_scope=people["hk_finance"],
        snapshot=lambda: list(Period.objects.values_list("status")),
    )
    october.refresh_from_db()
    assert october.status == PeriodStatus.SOFT_CLOSED
    client = client_for(people["finance"])
    response = client.post(
        f"/api/v1/finance/periods/{october.pk}/status",
        {"status": "open"},
        content_type="application/json",
    )
    assert response.status_code == 422 and "reason" in response.json()["details"]["fields"]


def test_fx_rates_and_trial_balance(books, tree, people):
    result = assert_matrix(
        "POST",
        "/api/v1/finance/fx-rates",
        payload={"date": DAY.isoformat(), "currency": "USD", "quote": "CNY", "rate": "7.1"},
        allowed=people["finance"],
        forbidden=people["staff"],
        other_scope=None,
        expect_allowed=201,
        snapshot=lambda: list(FxRate.objects.values_list("rate")),
    )
    assert result.allowed.json()["rate"] == "7.100000000000"
    client = client_for(people["finance"])
    body = journal_body(books, tree)
    body["lines"] = [
        {"account": "1002", "debit": "10", "currency": "USD"},
        {"account": "5001.02", "credit": "10", "currency": "USD"},
    ]
    assert (
        client.post("/api/v1/finance/journals", body, content_type="application/json").status_code
        == 201
    )
    result = assert_matrix(
        "GET",
        f"/api/v1/finance/books/{books.cn.pk}/trial-balance?start=2026-11-01",
        allowed=people["finance"],
        forbidden=people["staff"],
        other_scope=people["hk_finance"],
        expect_forbidden=404,
    )
    report = result.allowed.json()
    assert report["debit"] == report["credit"] == "71.0000"
    assert [(row["account_code"], row["closing"]) for row in report["rows"]] == [
        ("1002", "71.0000"),
        ("5001.02", "-71.0000"),
    ]


def test_chart_is_editable_by_finance(books, people):
    parent = Account.objects.get(book=books.cn, code="5602")
    result = assert_matrix(
        "POST",
        f"/api/v1/finance/books/{books.cn.pk}/accounts",
        payload={"code": "5602.50", "name": "Cleaning", "kind": "expense", "parent_id": parent.pk},
        allowed=people["finance"],
        forbidden=people["ops"],
        other_scope=people["hk_finance"],
        expect_allowed=201,
        snapshot=lambda: Account.objects.count(),
    )
    assert result.allowed.json()["code"] == "5602.50"
    client = client_for(people["finance"])
    response = client.post(
        f"/api/v1/finance/books/{books.cn.pk}/accounts",
        {"code": "5602.50", "name": "Again", "kind": "asset", "parent_id": parent.pk},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert set(response.json()["details"]["fields"]) == {"code", "kind"}


def test_revalue_period_matrix(books, tree, people):
    from backroom.finance.services.fx import set_fx_rate

    create_journal(
        books.cn,
        actor=SYSTEM,
        date=DAY,
        description="USD deposit",
        lines=[
            line("1002", "50", currency="USD", rate="7.00"),
            line("5001.02", "-50", currency="USD", rate="7.00"),
        ],
        post=True,
    )
    set_fx_rate(date=DAY.replace(day=30), currency="USD", quote="CNY", rate="6.90", actor=SYSTEM)
    november = Period.objects.get(entity=books.cn.entity, start=DAY.replace(day=1))
    result = assert_matrix(
        "POST",
        f"/api/v1/finance/periods/{november.pk}/revalue",
        allowed=people["finance"],
        forbidden=people["ops"],
        other_scope=people["hk_finance"],
        snapshot=ledger,
    )
    lines = {row["account_code"]: row["base_amount"] for row in result.allowed.json()["lines"]}
    assert lines == {"1002": "-5.0000", "5603.02": "5.0000"}  # 50 × (6.90 − 7.00): a loss
    hk = Period.objects.create(
        entity=books.hk.entity, start=DAY.replace(day=1), end=DAY.replace(day=30)
    )
    empty = client_for(make_user("finance", tree.entity_hk)).post(
        f"/api/v1/finance/periods/{hk.pk}/revalue"
    )
    assert empty.status_code == 204


def test_payables_and_balance_sheet_endpoints(books, tree, people, world):
    from backroom.events.services import dispatch_outbox
    from backroom.procurement.tests.test_flow import _invoice, _received

    order, _tomato, _oil = _received(world, tree)
    invoice = _invoice(world, order, "INV-8", "80.00")
    dispatch_outbox()
    url = f"/api/v1/finance/books/{books.cn.pk}/payables"
    result = assert_matrix(
        "GET",
        url,
        allowed=people["finance"],
        forbidden=people["staff"],
        other_scope=people["hk_finance"],
        expect_forbidden=404,
    )
    assert [row["invoice_number"] for row in result.allowed.json()] == ["INV-8"]
    assert_matrix(
        "POST",
        f"{url}/{invoice.pk}/paid",
        allowed=people["finance"],
        forbidden=people["ops"],
        other_scope=people["hk_finance"],
        expect_allowed=201,
        expect_forbidden=403,
        snapshot=ledger,
    )
    assert client_for(people["finance"]).get(url).json() == []
    sheet = (
        client_for(people["finance"])
        .get(f"/api/v1/finance/books/{books.cn.pk}/balance-sheet?month=2025-03-01")
        .json()
    )
    assert D(sheet["total_assets"]) == D(sheet["total_liabilities"]) + D(sheet["total_equity"])
