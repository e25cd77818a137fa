"""Automatic postings from the stock ledger: golden numbers per rule, the waiting queue, and
the reconciliation (stock value = inventory accounts) after a sequence of operations."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import Sum

from backroom.catalog.models import Category, Item
from backroom.channels.models import SalesChannelDay, SalesDay
from backroom.channels.tests.conftest import menu  # noqa: F401 (a fixture)
from backroom.channels.tests.test_rollups import till_sale
from backroom.config.ledger_checks import run_ledger_checks
from backroom.events.services import dispatch_outbox
from backroom.finance.choices import JournalKind, PostingRole
from backroom.finance.models import Account, Journal, JournalLine, PendingPosting, PostingAccount
from backroom.finance.services.automatic import post_recent_sales, post_sales, post_sales_cost
from backroom.finance.services.books import open_books, set_posting_account
from backroom.finance.tests.conftest import D, beverage_account
from backroom.inventory import services as inventory
from backroom.inventory.choices import MoveReason
from backroom.inventory.models import Location, StockBalance
from backroom.inventory.tests.conftest import key
from backroom.kernel.actors import SYSTEM

pytestmark = pytest.mark.django_db

NOON = dt.datetime(2026, 11, 10, 4, 0, tzinfo=dt.UTC)  # 12:00 in Shanghai, business day 11-10


def lines_of(journal: Journal) -> list[tuple[str, str, object]]:
    return [
        (line.account.code, line.site.node.code if line.site else "", line.base_amount)
        for line in journal.lines.select_related("account", "site__node")
    ]


def receive(stock, quantity="10", cost="4.50", location=None, **extra):
    return inventory.receive(
        item=stock.flour,
        location=location or stock.walk_in,
        quantity=D(quantity),
        unit_cost=D(cost),
        key=key(),
        actor=SYSTEM,
        occurred_at=NOON,
        **extra,
    )


def test_a_receipt_posts_inventory_against_goods_received_not_invoiced(books, stock):
    receive(stock, "10", "4.50")
    dispatch_outbox()
    journal = Journal.objects.get(kind=JournalKind.AUTOMATIC)
    assert journal.book == books.cn and journal.date == dt.date(2026, 11, 10)
    assert lines_of(journal) == [
        ("1403", "SHA001", D("45.0000")),
        ("2202.01", "SHA001", D("-45.0000")),
    ]
    assert journal.idempotency_key.startswith("stock:")


def test_waste_and_count_variance_go_to_their_food_cost_accounts(books, stock):
    receive(stock, "10", "4.00")
    inventory.consume(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D("1.5"),
        key=key(),
        actor=SYSTEM,
        reason=MoveReason.WASTE,
        occurred_at=NOON,
    )
    inventory.adjust(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D("-0.25"),
        key=key(),
        actor=SYSTEM,
        reason=MoveReason.COUNT_VARIANCE,
        occurred_at=NOON,
    )
    dispatch_outbox()
    waste, variance = Journal.objects.filter(kind=JournalKind.AUTOMATIC).order_by("id")[1:]
    assert lines_of(waste) == [("5401.02", "SHA001", D("6.0000")), ("1403", "SHA001", D("-6.0000"))]
    assert lines_of(variance) == [
        ("5401.03", "SHA001", D("1.0000")),
        ("1403", "SHA001", D("-1.0000")),
    ]


def test_a_transfer_between_stores_of_one_entity_moves_inventory_by_store(books, stock, tree):
    receive(stock, "10", "3.00")
    inventory.transfer(
        item=stock.flour,
        from_location=stock.walk_in,
        to_location=stock.freezer_b,
        quantity=D(4),
        key="t-1",
        actor=SYSTEM,
        occurred_at=NOON,
    )
    inventory.receive_transfer(
        transfer_key="t-1", location=stock.freezer_b, key="t-1-in", actor=SYSTEM, occurred_at=NOON
    )
    dispatch_outbox()
    journals = Journal.objects.filter(kind=JournalKind.AUTOMATIC).order_by("id")
    stores = {
        (code, store): amount
        for journal in journals[1:]
        for code, store, amount in lines_of(journal)
    }
    # Only inventory accounts move; nothing lands in variance or intercompany.
    assert {code for code, _ in stores} == {"1403"}
    assert stores == {("1403", "SHA001"): D("-12.0000"), ("1403", "SHA002"): D("12.0000")}
    total = JournalLine.objects.filter(account__code="1403").aggregate(total=Sum("base_amount"))
    assert total["total"] == D(30)


def test_a_transfer_between_entities_books_intercompany_at_cost(books, stock, tree):
    """Golden numbers: 4 kg of flour at 3.00 from SHA001 (CN-CO) to BJ001 (CN-BJ, another
    company in CNY): CN-CO Dr intercompany receivable 12.00 / Cr inventory 12.00; CN-BJ Dr
    inventory 12.00 / Cr intercompany payable 12.00."""
    from backroom.inventory.tests.conftest import make_location
    from backroom.org.choices import NodeKind
    from backroom.testing.factories import make_node

    beijing = make_node(NodeKind.ENTITY, tree.group, "CN-BJ")
    store = make_node(NodeKind.STORE, beijing, "BJ001", city="Beijing")
    bj_books = open_books(beijing.legal_entity, chart="cn_small_business", actor=SYSTEM)
    receive(stock, "10", "3.00")
    inventory.transfer(
        item=stock.flour,
        from_location=stock.walk_in,
        to_location=make_location(store, "WALKIN", "walk_in"),
        quantity=D(4),
        key="ic-1",
        actor=SYSTEM,
        occurred_at=NOON,
    )
    inventory.receive_transfer(
        transfer_key="ic-1",
        location=Location.objects.get(site=store.site, code="WALKIN"),
        key="ic-1-in",
        actor=SYSTEM,
        occurred_at=NOON,
    )
    dispatch_outbox()

    def booked(book):
        totals: dict[tuple[str, str], object] = {}
        for journal in Journal.objects.filter(book=book, kind=JournalKind.AUTOMATIC):
            for code, site, amount in lines_of(journal):
                totals[(code, site)] = totals.get((code, site), D(0)) + amount
        return {key: amount for key, amount in totals.items() if amount}

    assert booked(books.cn) == {
        ("1403", "SHA001"): D("18.0000"),  # 30.00 received, 12.00 sent
        ("2202.01", "SHA001"): D("-30.0000"),
        ("1221.01", "SHA001"): D("12.0000"),
    }
    assert booked(bj_books) == {
        ("1403", "BJ001"): D("12.0000"),
        ("2241.01", "BJ001"): D("-12.0000"),
    }
    assert all(o.is_consistent for o in run_ledger_checks() if o.name.startswith("finance"))


def test_a_missing_mapping_waits_in_the_queue_and_posts_once_mapped(books, stock, tree):
    PostingAccount.objects.filter(entity=books.cn.entity, role=PostingRole.WASTE).delete()
    receive(stock, "10", "2.00")
    inventory.consume(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D(1),
        key=key(),
        actor=SYSTEM,
        reason=MoveReason.WASTE,
        occurred_at=NOON,
    )
    dispatch_outbox()
    pending = PendingPosting.objects.get()
    assert pending.problem_code == "mapping_missing" and "Waste" in pending.problem
    assert Journal.objects.count() == 1  # the receipt
    set_posting_account(
        books.cn.entity,
        role=PostingRole.WASTE,
        account=Account.objects.get(book=books.cn, code="5711"),
        actor=SYSTEM,
    )
    pending.refresh_from_db()
    assert pending.journal is not None
    assert lines_of(pending.journal)[0] == ("5711", "SHA001", D("2.0000"))


def test_sales_depletion_posts_per_store_and_day_with_a_top_up_for_late_orders(books, stock, tree):
    receive(stock, "10", "5.00")
    sell = dict(item=stock.flour, location=stock.walk_in, actor=SYSTEM, reason=MoveReason.SALE)
    inventory.consume(quantity=D(2), key=key(), occurred_at=NOON, **sell)
    dispatch_outbox()
    assert Journal.objects.count() == 1  # sales wait for the day's journal
    site = tree.store_a.site
    (first,) = post_sales_cost(site, dt.date(2026, 11, 10))
    assert lines_of(first) == [
        ("5401.01", "SHA001", D("10.0000")),
        ("1403", "SHA001", D("-10.0000")),
    ]
    assert post_sales_cost(site, dt.date(2026, 11, 10)) == []  # nothing new
    inventory.consume(quantity=D(1), key=key(), occurred_at=NOON + dt.timedelta(hours=2), **sell)
    dispatch_outbox()
    assert post_recent_sales(days=3, now=NOON + dt.timedelta(days=1)) == 1
    top_up = Journal.objects.filter(idempotency_key__endswith=":2").get()
    assert lines_of(top_up) == [
        ("5401.01", "SHA001", D("5.0000")),
        ("1403", "SHA001", D("-5.0000")),
    ]


def test_stock_value_equals_the_inventory_accounts_after_a_run_of_operations(books, stock, tree):
    receive(stock, "20", "4.10")
    receive(stock, "5", "4.70", location=stock.dry)
    inventory.consume(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D("3.3"),
        key=key(),
        actor=SYSTEM,
        reason=MoveReason.SALE,
        occurred_at=NOON,
    )
    inventory.consume(
        item=stock.flour,
        location=stock.dry,
        quantity=D("0.7"),
        key=key(),
        actor=SYSTEM,
        reason=MoveReason.WASTE,
        occurred_at=NOON,
    )
    inventory.transfer(
        item=stock.flour,
        from_location=stock.walk_in,
        to_location=stock.freezer_b,
        quantity=D(6),
        key="t-2",
        actor=SYSTEM,
        occurred_at=NOON,
    )
    inventory.adjust(
        item=stock.flour,
        location=stock.dry,
        quantity=D("0.2"),
        key=key(),
        actor=SYSTEM,
        reason=MoveReason.COUNT_VARIANCE,
        occurred_at=NOON,
    )
    dispatch_outbox()
    post_sales_cost(tree.store_a.site, dt.date(2026, 11, 10))
    stock_value = StockBalance.objects.aggregate(total=Sum("value"))["total"]
    inventory_accounts = JournalLine.objects.filter(
        account__code="1403", journal__book=books.cn
    ).aggregate(total=Sum("base_amount"))["total"]
    assert stock_value == inventory_accounts
    assert all(o.is_consistent for o in run_ledger_checks() if o.name.startswith("finance"))


def test_a_days_sales_post_per_channel_with_vat_discounts_and_commission(books, tree):
    """Golden numbers: Meituan sold 212.00 at list price, the merchant gave 12.00 off, the
    platform keeps 36.00 commission; the customers paid 5.30 of packaging and 8.00 of
    delivery (the platform's); menu prices and fees include 6% VAT."""
    site = tree.store_a.site
    day = dt.date(2026, 11, 10)
    row = SalesChannelDay.objects.create(
        site=site,
        business_date=day,
        kind="meituan",
        currency="CNY",
        orders=9,
        gross=D("212.00"),
        merchant_discount=D("12.00"),
        net=D("200.00"),
        commission=D("36.00"),
        packaging_fee=D("5.30"),
        delivery_fee=D("8.00"),
    )
    (journal,) = post_sales(site, day)
    assert [(code, amount) for code, _, amount in lines_of(journal)] == [
        ("1122.01", D("169.3000")),  # receivable from Meituan: 200 + 5.30 − 36
        ("5001.01", D("11.3208")),  # the merchant's discount, net of VAT
        ("5601.01", D("36.0000")),  # commission
        ("2221.02", D("-11.6208")),  # output VAT: 12.0000 − 0.6792 + 0.3000
        ("5001.02", D("-200.0000")),  # revenue: 212 / 1.06
        ("5051", D("-5.0000")),  # packaging: 5.30 / 1.06
    ]
    assert set(journal.lines.values_list("channel", flat=True)) == {"meituan"}
    assert post_sales(site, day) == []
    SalesChannelDay.objects.filter(pk=row.pk).update(gross=D("233.20"), net=D("221.20"))
    (top_up,) = post_sales(site, day)
    assert [(code, amount) for code, _, amount in lines_of(top_up)] == [
        ("1122.01", D("21.2000")),
        ("2221.02", D("-1.2000")),
        ("5001.02", D("-20.0000")),
    ]


def test_revenue_splits_by_menu_category_to_a_categorys_own_account(books, tree, menu):  # noqa: F811
    """Golden numbers: at the till, 2 noodles at 21.20 and a tea at 10.60 (53.00 with 6% VAT).
    Drinks have their own revenue account; mains use the default one."""
    mains = Category.objects.create(code="mains", name="Mains")
    drinks = Category.objects.create(code="drinks", name="Drinks")
    Item.objects.filter(pk=menu.noodles.pk).update(category=mains)
    Item.objects.filter(pk=menu.tea.pk).update(category=drinks)
    beverages = beverage_account(books.cn)
    set_posting_account(
        tree.entity.legal_entity,
        role=PostingRole.SALES_REVENUE,
        account=beverages,
        category=drinks,
        actor=SYSTEM,
    )
    till_sale(menu, sku="NOODLES", quantity="2", price="21.20", placed_at=NOON)
    till_sale(menu, sku="TEA", quantity="1", price="10.60", placed_at=NOON)
    (journal,) = post_sales(tree.store_a.site, NOON.date())
    assert [(code, amount) for code, _, amount in lines_of(journal)] == [
        ("1001", D("53.0000")),
        ("2221.02", D("-3.0000")),
        ("5001.02", D("-40.0000")),  # mains: 42.40 / 1.06
        ("5001.03", D("-10.0000")),  # drinks: 10.60 / 1.06
    ]
    assert set(journal.lines.values_list("channel", flat=True)) == {"pos"}


def test_packaging_fees_fall_back_to_sales_revenue_until_mapped(books, tree):
    """Books opened before the packaging role existed have no account for it: the fees post
    to the sales revenue account instead of waiting."""
    PostingAccount.objects.filter(role=PostingRole.PACKAGING_FEES).delete()
    site, day = tree.store_a.site, dt.date(2026, 11, 10)
    SalesChannelDay.objects.create(
        site=site,
        business_date=day,
        kind="meituan",
        currency="CNY",
        orders=1,
        gross=D("10.60"),
        net=D("10.60"),
        packaging_fee=D("1.06"),
    )
    (journal,) = post_sales(site, day)
    assert ("5001.02", "SHA001", D("-11.0000")) in lines_of(journal)


def test_sales_history_from_before_go_live_is_not_posted(books, tree):
    """Imported history (docs/decisions/0007) is in the rollups, not in the books."""
    site, day = tree.store_a.site, dt.date(2026, 10, 1)
    values = dict(currency="CNY", orders=3, gross=D("90.00"), net=D("90.00"))
    SalesChannelDay.objects.create(site=site, business_date=day, kind="pos", **values)
    SalesDay.objects.create(site=site, business_date=day, history_net=D("90.00"), **values)
    assert post_sales(site, day) == []
    SalesDay.objects.filter(site=site).update(history_net=D("60.00"))  # the go-live day
    (journal,) = post_sales(site, day)
    assert ("1001", "SHA001", D("30.0000")) in lines_of(journal)


def test_a_payable_invoice_clears_goods_received_with_price_variance_and_vat(books, world, tree):
    """Golden numbers: received 10 tomatoes at 80.00 and 12 oil at 45.50 (1,346.00); the
    invoice bills tomatoes at 80.08 (within tolerance): net 1,346.80, VAT 121.14."""
    from backroom.procurement.tests.test_flow import _invoice, _received

    order, _tomato, _oil = _received(world, tree)
    dispatch_outbox()
    invoice = _invoice(world, order, "INV-9", "80.08", tax=D("121.14"))
    dispatch_outbox()
    journal = Journal.objects.get(idempotency_key=f"invoice:{invoice.pk}")
    assert [(code, amount) for code, _, amount in lines_of(journal)] == [
        ("2202.01", D("1346.0000")),  # goods received not invoiced, cleared
        ("2221.01", D("121.1400")),  # input VAT
        ("5401.04", D("0.8000")),  # price variance
        ("2202.02", D("-1467.9400")),  # owed to the supplier
    ]
    assert (journal.source_number, journal.date) == ("INV-9", dt.date(2025, 3, 12))
    grni = JournalLine.objects.filter(account__code="2202.01").aggregate(total=Sum("base_amount"))
    assert grni["total"] == 0  # the receipt's accrual is cleared exactly


def test_payables_age_open_invoices_and_a_payment_closes_one(books, world, tree):
    from backroom.finance.services.payables import mark_invoice_paid, open_invoices
    from backroom.kernel.exceptions import Conflict
    from backroom.procurement.tests.test_flow import _invoice, _received

    order, _tomato, _oil = _received(world, tree)
    invoice = _invoice(world, order, "INV-7", "80.00", tax=D("121.14"))
    dispatch_outbox()
    (supplier,) = open_invoices(books.cn, on=dt.date(2025, 5, 20))  # due 2025-04-11: 39 days
    (item,) = supplier.invoices
    assert (item.amount, item.days_overdue, item.bucket) == (D("1467.1400"), 39, "31-60")
    assert supplier.bucket_totals() == [0, 0, D("1467.1400"), 0, 0]
    payment = mark_invoice_paid(books.cn, invoice.pk, actor=SYSTEM, paid_on=dt.date(2025, 5, 21))
    assert [(code, amount) for code, _, amount in lines_of(payment)] == [
        ("2202.02", D("1467.1400")),
        ("1002", D("-1467.1400")),
    ]
    assert open_invoices(books.cn) == []
    with pytest.raises(Conflict):
        mark_invoice_paid(books.cn, invoice.pk, actor=SYSTEM)
