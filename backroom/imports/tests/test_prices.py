"""Supplier items and prices import: supplier items through set_supplier_item, new prices as
price lists through create_price_list; idempotent by supplier + item + scope + start date."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest

from backroom.audit.models import AuditEntry
from backroom.catalog.models import Item
from backroom.events.models import OutboxEvent
from backroom.imports.importers.prices import PriceImporter
from backroom.imports.models import ImportStatus
from backroom.imports.services import export_file, import_file
from backroom.imports.testing import csv_file, problem_codes, run_import
from backroom.inventory.tests.conftest import make_class, make_item
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import NotFound, PermissionDenied
from backroom.procurement import services
from backroom.procurement.models import PriceList, PriceListLine, Supplier, SupplierItem
from backroom.testing.factories import make_user

HEADER = [
    "Supplier code",
    "Item SKU",
    "Supplier's item code",
    "Purchase unit",
    "Pack size",
    "Minimum order",
    "Price",
    "Currency",
    "Valid from",
    "Valid to",
    "Region or store",
    "Price list",
]
ROWS = [
    ["FRESH", "TOMATO", "T-10", "case", "", 2, 80, "", "2025-01-01", "", "", "2025"],
    ["FRESH", "MILK", "", "crate", "", "", 120, "CNY", "2025-01-01", "", "", "2025"],
    [
        "FRESH",
        "TOMATO",
        "T-10",
        "case",
        "",
        2,
        "78.5",
        "",
        "2025-03-01",
        "2025-03-31",
        "EAST",
        "East spring",
    ],
    ["FRESH", "OIL", "O-5", "bottle", 6, 12, "", "", "", "", "", ""],
]

pytestmark = pytest.mark.django_db


@dataclass
class Setup:
    admin: object
    fresh: Supplier
    sea: Supplier
    tomato: Item
    milk: Item
    oil: Item


@pytest.fixture
def setup(tree) -> Setup:
    make_class("food", "forbid")
    tomato = make_item("TOMATO", "kg", "food", units=[("case", "10")])
    milk = make_item("MILK", "l", "food", units=[("crate", "12")])
    oil = make_item("OIL", "l", "food", units=[("bottle", "5")])
    fresh = services.create_supplier(
        services.SupplierInput(code="FRESH", name="Fresh", node_id=tree.entity.pk, currency="CNY"),
        actor=SYSTEM,
    )
    sea = services.create_supplier(
        services.SupplierInput(code="SEA", name="Sea", node_id=tree.entity_hk.pk, currency="HKD"),
        actor=SYSTEM,
    )
    return Setup(make_user("hq_admin", tree.group), fresh, sea, tomato, milk, oil)


def counts() -> tuple[int, int, int, int, int]:
    return (
        SupplierItem.objects.count(),
        PriceList.objects.count(),
        PriceListLine.objects.count(),
        AuditEntry.objects.filter(action__startswith="procurement.").count(),
        OutboxEvent.objects.filter(event_type__startswith="procurement.price").count(),
    )


def price(setup: Setup, item: Item, store, day: str) -> Decimal:
    return services.price_for(setup.fresh, item, store.site, dt.date.fromisoformat(day)).price


def test_imports_then_reimport_changes_nothing_and_edit_updates(tree, setup):
    before = counts()
    job = run_import("prices", HEADER, [list(row) for row in ROWS], actor=setup.admin)
    assert job.status == ImportStatus.APPLIED, job.problems
    assert (job.created_count, job.updated_count, job.unchanged_count) == (4, 0, 0)
    tomato = SupplierItem.objects.get(supplier=setup.fresh, item=setup.tomato)
    assert (
        tomato.supplier_sku,
        tomato.purchase_unit,
        tomato.pack_size,
        tomato.minimum_order_quantity,
    ) == ("T-10", "case", 1, 2)
    oil = SupplierItem.objects.get(supplier=setup.fresh, item=setup.oil)
    assert (oil.purchase_unit, oil.pack_size, oil.minimum_order_quantity) == ("bottle", 6, 12)
    year = PriceList.objects.get(name="2025")
    assert (year.currency, year.valid_from, year.valid_to, year.node) == (
        "CNY",
        dt.date(2025, 1, 1),
        None,
        None,
    )
    assert sorted(year.lines.values_list("supplier_item__item__sku", "price")) == [
        ("MILK", Decimal(120)),
        ("TOMATO", Decimal(80)),
    ]
    spring = PriceList.objects.get(name="East spring")
    assert (spring.node, spring.valid_to, spring.lines.get().price) == (
        tree.region,
        dt.date(2025, 3, 31),
        Decimal("78.5"),
    )
    assert price(setup, setup.tomato, tree.store_a, "2025-03-15") == Decimal("78.5")
    assert price(setup, setup.tomato, tree.store_a, "2025-04-01") == Decimal(80)
    # three supplier items and two price lists audited; two lists saved, published
    assert counts() == (before[0] + 3, 2, 3, before[3] + 5, 2)
    assert {change["key"] for change in job.changes} == {
        "FRESH/TOMATO 2025-01-01",
        "FRESH/MILK 2025-01-01",
        "FRESH/TOMATO@EAST 2025-03-01",
        "FRESH/OIL",
    }

    after_first = counts()
    again = run_import(
        "prices", HEADER, [list(row) for row in ROWS], actor=setup.admin, file_type="csv"
    )
    assert again.status == ImportStatus.APPLIED, again.problems
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 4)
    assert counts() == after_first

    edited = [list(row) for row in ROWS]
    edited[1][4] = 2  # milk in packs of two crates
    edited[3][6:9] = ["45.5", "", "2025-01-01"]  # oil priced from 2025 (a new list)
    updated = run_import("prices", HEADER, edited, actor=setup.admin)
    assert updated.status == ImportStatus.APPLIED, updated.problems
    assert (updated.created_count, updated.updated_count, updated.unchanged_count) == (1, 1, 2)
    assert sorted(updated.changes, key=lambda change: change["row"]) == [
        {"row": 3, "action": "updated", "key": "FRESH/MILK 2025-01-01", "fields": ["pack_size"]},
        {"row": 5, "action": "created", "key": "FRESH/OIL 2025-01-01", "fields": []},
    ]
    assert SupplierItem.objects.get(supplier=setup.fresh, item=setup.milk).pack_size == 2
    assert price(setup, setup.oil, tree.store_b, "2025-02-01") == Decimal("45.5")
    assert counts()[:3] == (after_first[0], 3, 4)


def test_export_round_trips_unchanged(tree, setup):
    run_import("prices", HEADER, [list(row) for row in ROWS], actor=setup.admin)
    before = counts()
    data = export_file("prices", actor=setup.admin, file_type="xlsx")
    job = import_file("prices", "export.xlsx", data, actor=setup.admin, dry_run=False)
    assert job.status == ImportStatus.APPLIED, job.problems
    assert (job.created_count, job.updated_count, job.unchanged_count) == (0, 0, 4)
    assert counts() == before


def test_dry_run_reports_every_problem_and_changes_nothing(tree, setup):
    run_import("prices", HEADER, [list(row) for row in ROWS[:2]], actor=setup.admin)
    before = counts()
    rows = [
        ["GHOST", "TOMATO", "", "case", "", "", 1, "", "2025-01-01", "", "", ""],
        ["FRESH", "NOPE", "", "case", "", "", 1, "", "2025-01-01", "", "", ""],
        ["FRESH", "TOMATO", "", "box", "", "", 1, "", "2026-01-01", "", "", ""],
        ["FRESH", "MILK", "", "crate", "", "", 100, "", "", "", "SHA001", ""],
        ["FRESH", "MILK", "", "crate", "", "", "", "", "", "2025-12-31", "EAST", ""],
        ["FRESH", "TOMATO", "T-10", "case", "", 2, 80, "", "2025-01-01", "2025-12-31", "", ""],
        ["FRESH", "TOMATO", "T-10", "case", "", 2, 90, "", "2024-06-01", "", "", ""],
        ["FRESH", "MILK", "", "l", "", "", "", "", "", "", "", ""],
        ["FRESH", "OIL", "", "bottle", 0, "", 10, "", "2025-01-01", "", "SHA001", ""],
        ["FRESH", "OIL", "", "bottle", 6, 12, 10, "", "2025-05-01", "2025-04-01", "", ""],
        ["FRESH", "OIL", "", "bottle", 6, 12, 10, "", "2026-01-01", "", "", ""],
        ["FRESH", "OIL", "", "bottle", 6, 24, 11, "", "2026-06-01", "", "", ""],
        ["FRESH", "OIL", "", "bottle", 6, 12, 10, "", "2026-01-01", "", "HKG001", ""],
        ["FRESH", "OIL", "", "bottle", 6, 12, "1,5", "EUR", "2027-01-01", "", "", ""],
        ["fresh", "oil", "", "bottle", 6, 12, 10, "", "2026-01-01", "", "", ""],
    ]
    job = run_import("prices", HEADER, rows, actor=setup.admin, dry_run=True)
    assert job.status == ImportStatus.INVALID
    assert sorted(problem_codes(job)) == [
        (2, "supplier_code", "unknown_reference"),
        (3, "item_sku", "unknown_reference"),
        (4, "purchase_unit", "unknown_unit"),
        (5, "valid_from", "required"),
        (6, "price", "required"),
        (7, "valid_to", "price_changed"),
        (8, "valid_from", "price_overlap"),
        (9, "purchase_unit", "purchase_unit_changed"),
        (10, "pack_size", "invalid_number"),
        (11, "valid_to", "invalid_date"),
        (13, "minimum_order_quantity", "inconsistent_terms"),
        (13, "valid_from", "price_overlap"),
        (14, "scope_code", "invalid_scope"),
        (15, "price", "invalid_number"),
        (16, "valid_from", "duplicate_key"),
    ]
    assert counts() == before


def test_gbk_csv_with_chinese_headers_imports(tree, setup):
    header = [
        "供应商编码",
        "物料编码",
        "供应商物料编码",
        "采购单位",
        "起订量",
        "单价",
        "币种",
        "生效日期",
        "适用区域或门店",
        "价格表",
    ]
    rows = [
        [
            "FRESH",
            "TOMATO",
            "番茄-10",
            "case",
            2,
            "80.5",
            "人民币",
            "2025年1月1日",
            "",
            "2025年报价",
        ]
    ]
    data = csv_file(header, rows, encoding="gbk")
    job = import_file("prices", "报价.csv", data, actor=setup.admin, dry_run=False)
    assert job.status == ImportStatus.APPLIED, job.problems
    supplier_item = SupplierItem.objects.get(supplier=setup.fresh, item=setup.tomato)
    assert (supplier_item.supplier_sku, supplier_item.minimum_order_quantity) == ("番茄-10", 2)
    price_list = PriceList.objects.get()
    assert (price_list.name, price_list.valid_from, price_list.currency) == (
        "2025年报价",
        dt.date(2025, 1, 1),
        "CNY",
    )
    assert price(setup, setup.tomato, tree.store_a, "2025-01-01") == Decimal("80.5")


def test_user_without_permission_is_refused(tree, setup):
    with pytest.raises(PermissionDenied):
        run_import("prices", HEADER, [list(ROWS[0])], actor=make_user())
    store_manager = make_user("store_manager", tree.store_a)  # sees FRESH, may not manage it
    before = counts()
    with pytest.raises(PermissionDenied):  # no procurement.manage anywhere
        run_import("prices", HEADER, [list(ROWS[0])], actor=store_manager)
    assert counts() == before


def test_buyer_of_one_entity_cannot_write_another_entitys_supplier(tree, setup):
    services.create_supplier(
        services.SupplierInput(code="GROUPCO", name="Group", node_id=tree.group.pk, currency="CNY"),
        actor=SYSTEM,
    )
    buyer = make_user("buyer", tree.entity)
    before = counts()
    rows = [
        ["SEA", "TOMATO", "", "case", "", "", 50, "", "2025-01-01", "", "", ""],
        ["GROUPCO", "TOMATO", "", "case", "", "", 50, "", "2025-01-01", "", "", ""],
        ["FRESH", "TOMATO", "", "case", "", "", 50, "", "2025-01-01", "", "HKG001", ""],
    ]
    job = run_import("prices", HEADER, rows, actor=buyer)
    assert job.status == ImportStatus.INVALID
    assert problem_codes(job) == [
        (2, "supplier_code", "unknown_reference"),  # another entity's: not even visible
        (3, "supplier_code", "permission_denied"),  # the group's: visible, not theirs
        (4, "scope_code", "invalid_scope"),
    ]
    assert counts() == before
    job = run_import("prices", HEADER, [list(ROWS[0])], actor=buyer)
    assert job.status == ImportStatus.APPLIED, job.problems
    exported = export_file("prices", actor=buyer, file_type="csv").decode("utf-8-sig")
    assert "FRESH" in exported and "SEA" not in exported and "GROUPCO" not in exported


def test_a_price_list_is_created_whole_across_chunks(tree, setup, monkeypatch):
    monkeypatch.setattr(PriceImporter, "chunk_size", 2)
    rows = [
        ["FRESH", "TOMATO", "", "case", "", "", 80, "", "2025-01-01", "", "", ""],
        ["FRESH", "TOMATO", "", "case", "", "", 78, "", "2025-01-01", "", "EAST", "East"],
        ["FRESH", "MILK", "", "crate", "", "", 120, "", "2025-01-01", "", "", ""],
        ["FRESH", "OIL", "", "bottle", "", "", 45, "CNY", "2025-01-01", "", "", ""],
        ["FRESH", "MILK", "", "crate", "", "", 118, "", "2025-01-01", "", "EAST", "East"],
    ]
    job = run_import("prices", HEADER, rows, actor=setup.admin)
    assert job.status == ImportStatus.APPLIED, job.problems
    assert job.created_count == 5
    lists = {
        price_list.name: sorted(price_list.lines.values_list("supplier_item__item__sku", flat=True))
        for price_list in PriceList.objects.all()
    }
    assert lists == {
        "Prices from 2025-01-01": ["MILK", "OIL", "TOMATO"],
        "East": ["MILK", "TOMATO"],
    }


def _later(rows: list[list[object]]) -> list[list[object]]:
    """The first file with tomato's group price from 2026-12-10 appended (the rest kept)."""
    new = [list(row) for row in rows]
    new.append(["FRESH", "TOMATO", "T-10", "case", "", 2, 85, "", "2026-12-10", "", "", "2026"])
    return new


def test_a_later_price_ends_the_open_one_the_day_before(tree, setup):
    run_import("prices", HEADER, [list(row) for row in ROWS], actor=setup.admin)
    job = run_import("prices", HEADER, _later(ROWS), actor=setup.admin)
    assert job.status == ImportStatus.APPLIED, job.problems
    assert (job.created_count, job.updated_count, job.unchanged_count) == (0, 1, 4)
    assert [change for change in job.changes if change["action"] == "updated"] == [
        {
            "row": 6,
            "action": "updated",
            "key": "FRESH/TOMATO 2026-12-10",
            "fields": ["price from 2026-12-10"],
        }
    ]
    assert price(setup, setup.tomato, tree.store_b, "2026-12-09") == Decimal(80)
    assert price(setup, setup.tomato, tree.store_b, "2026-12-10") == Decimal(85)
    assert price(setup, setup.milk, tree.store_b, "2027-06-01") == Decimal(120)  # runs on
    ended = PriceList.objects.get(name="2025", valid_to=dt.date(2026, 12, 9))
    assert list(ended.lines.values_list("supplier_item__item__sku", flat=True)) == ["TOMATO"]
    assert PriceList.objects.get(name="2025", valid_to=None).lines.get().supplier_item.item == (
        setup.milk
    )
    assert AuditEntry.objects.filter(action="procurement.price_list.end").count() == 1

    before = counts()
    again = run_import("prices", HEADER, _later(ROWS), actor=setup.admin)
    assert again.status == ImportStatus.APPLIED, again.problems
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 5)
    assert counts() == before
    exported = export_file("prices", actor=setup.admin, file_type="xlsx")
    job = import_file("prices", "export.xlsx", exported, actor=setup.admin, dry_run=False)
    assert (job.status, job.updated_count, job.created_count) == (ImportStatus.APPLIED, 0, 0)
    assert counts() == before


def test_a_later_price_alone_supersedes_and_an_earlier_one_is_refused(tree, setup):
    run_import("prices", HEADER, [list(row) for row in ROWS[:2]], actor=setup.admin)
    later = [["FRESH", "MILK", "", "crate", "", "", 125, "", "2026-12-10", "", "", ""]]
    job = run_import("prices", HEADER, later, actor=setup.admin)
    assert (job.status, job.updated_count) == (ImportStatus.APPLIED, 1), job.problems
    assert price(setup, setup.milk, tree.store_a, "2026-12-09") == Decimal(120)
    assert price(setup, setup.milk, tree.store_a, "2026-12-10") == Decimal(125)
    before = counts()
    earlier = [["FRESH", "MILK", "", "crate", "", "", 99, "", "2024-06-01", "", "", ""]]
    job = run_import("prices", HEADER, earlier, actor=setup.admin)
    assert problem_codes(job) == [(2, "valid_from", "price_overlap")]
    assert counts() == before


def _order_milk(tree, setup, day: dt.date) -> None:
    from backroom.inventory.tests.conftest import make_location
    from backroom.kernel import clock

    make_location(tree.store_a, "WALKIN")
    with clock.at(dt.datetime.combine(day, dt.time(4), tzinfo=dt.UTC)):
        services.create_purchase_order(
            tree.store_a.site,
            setup.fresh,
            [services.PurchaseOrderLineInput(setup.milk.pk, Decimal(1))],
            actor=SYSTEM,
        )


def test_same_start_date_corrects_an_unused_price_and_refuses_a_used_one(tree, setup):
    run_import("prices", HEADER, [list(row) for row in ROWS[:2]], actor=setup.admin)
    fixed = [list(row) for row in ROWS[:2]]
    fixed[1][6] = 121
    job = run_import("prices", HEADER, fixed, actor=setup.admin)
    assert job.status == ImportStatus.APPLIED, job.problems
    assert (job.created_count, job.updated_count, job.unchanged_count) == (0, 1, 1)
    assert any(change["fields"] == ["price"] for change in job.changes)
    assert price(setup, setup.milk, tree.store_a, "2025-02-01") == Decimal(121)
    assert AuditEntry.objects.filter(action="procurement.price_list.correct").count() == 1

    _order_milk(tree, setup, dt.date(2025, 2, 3))  # priced at 121
    before = counts()
    fixed[1][6] = 122
    job = run_import("prices", HEADER, fixed, actor=setup.admin)
    assert problem_codes(job) == [(3, "price", "price_changed")]
    assert "purchase orders" in str(job.problems)
    assert counts() == before
    assert price(setup, setup.milk, tree.store_a, "2025-02-01") == Decimal(121)
    # a later price may not take away days already ordered at the old one
    later = [["FRESH", "MILK", "", "crate", "", "", 130, "", "2025-02-01", "", "", ""]]
    job = run_import("prices", HEADER, later, actor=setup.admin)
    assert problem_codes(job) == [(2, "valid_from", "price_overlap")]
    assert counts() == before


def test_superseding_needs_procurement_manage_at_the_supplier(tree, setup):
    run_import("prices", HEADER, [list(row) for row in ROWS[:2]], actor=setup.admin)
    price_list = PriceList.objects.get()
    with pytest.raises((PermissionDenied, NotFound)):
        services.end_price_list(
            price_list, dt.date(2026, 1, 1), actor=make_user("store_manager", tree.store_a)
        )
    with pytest.raises((PermissionDenied, NotFound)):  # another entity's buyer
        services.correct_price(
            price_list, setup.milk.pk, Decimal(1), actor=make_user("buyer", tree.entity_hk)
        )
    assert PriceList.objects.get().valid_to is None
