"""Items import: items and their units through the catalog services; idempotent by SKU + unit."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.utils import translation

from backroom.audit.models import AuditEntry
from backroom.catalog import services as catalog_services
from backroom.catalog.models import Item, ItemUnit
from backroom.events.models import OutboxEvent
from backroom.imports.importers.items import ItemsImporter
from backroom.imports.models import ImportStatus
from backroom.imports.services import export_file, import_file, template_workbook
from backroom.imports.testing import problem_codes, run_import
from backroom.inventory.tests.conftest import make_class, make_item
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import PermissionDenied
from backroom.testing.factories import make_user

pytestmark = pytest.mark.django_db

COLUMNS = {
    "sku": "SKU",
    "name": "Name",
    "kind": "Kind",
    "category": "Category code",
    "item_class": "Item class code",
    "base_unit": "Base unit",
    "barcode": "Barcode",
    "shelf_life_days": "Shelf life (days)",
    "storage": "Storage",
    "is_made_ahead": "Made ahead and stocked",
    "standard_cost": "Standard cost",
    "is_active": "Active",
    "unit": "Unit",
    "unit_factor": "Base units per unit",
    "unit_name": "Unit description",
    "is_purchase": "Used for purchasing",
    "is_count": "Used for counting",
    "is_recipe": "Used in recipes",
    "unit_places": "Unit decimal places",
    "unit_rounding": "Unit rounding",
}
HEADER = list(COLUMNS.values())


def line(**values) -> list:
    assert set(values) <= set(COLUMNS), set(values) - set(COLUMNS)
    return [values.get(key) for key in COLUMNS]


def counts() -> tuple[int, int, int, int]:
    return (
        Item.objects.count(),
        ItemUnit.objects.count(),
        AuditEntry.objects.exclude(action__startswith="imports.").count(),
        OutboxEvent.objects.count(),
    )


@pytest.fixture
def admin(tree):
    make_class("food", "forbid")
    catalog_services.create_category(
        catalog_services.CategoryInput(code="meat", name="Meat"), actor=SYSTEM
    )
    make_item("FLOUR", "kg", "food", units=[("bag", "25")])
    make_item("MILK", "l", "food")
    return make_user("hq_admin", tree.group)


def first_file() -> list[list]:
    return [
        line(sku="BEEF", name="Beef shank 牛腱", kind="ingredient", category="meat",
             item_class="food", base_unit="kg", barcode="6901234567892", shelf_life_days=5,
             storage="冷藏", standard_cost="58.5", unit="case", unit_factor=10,
             unit_name="case of 4 × 2.5 kg", is_purchase="yes", is_count="yes", unit_places=0,
             unit_rounding="up"),
        line(sku="SALT", name="Salt", kind="原料", item_class="food", base_unit="kg"),
        # the second unit of BEEF, further down, without repeating the item columns
        line(sku="BEEF", unit="pack", unit_factor="2.5", is_count="是"),
        line(sku="OIL", name="Oil", kind="ingredient", item_class="food", base_unit="l",
             unit="bottle", unit_factor=Decimal("1.333333333333"), is_recipe="yes"),
        line(sku="BROTH", name="Broth", kind="prepared", item_class="food", base_unit="l",
             is_made_ahead="yes", is_active="no"),
    ]  # fmt: skip


def test_creates_then_same_file_changes_nothing_then_edits_update(admin, monkeypatch):
    rows = first_file()
    monkeypatch.setattr(ItemsImporter, "chunk_size", 2)  # BEEF's rows, far apart: one call
    job = run_import("items", HEADER, rows, actor=admin)
    monkeypatch.undo()
    assert job.status == ImportStatus.APPLIED, job.problems
    assert (job.created_count, job.updated_count, job.unchanged_count) == (5, 0, 0)
    beef = Item.objects.select_related("category", "item_class", "base_unit").get(sku="BEEF")
    assert (beef.name, beef.kind, beef.category.code, beef.item_class.code, beef.base_unit.code) == (
        "Beef shank 牛腱", "ingredient", "meat", "food", "kg"
    )  # fmt: skip
    assert (beef.barcode, beef.shelf_life_days, beef.storage, beef.standard_cost) == (
        "6901234567892", 5, "chilled", Decimal("58.5")
    )  # fmt: skip
    units = {unit.code: unit for unit in ItemUnit.objects.filter(item=beef)}
    assert set(units) == {"case", "pack"}
    case, pack = units["case"], units["pack"]
    assert (case.factor, case.name, case.is_purchase, case.is_count, case.is_recipe) == (
        Decimal(10), "case of 4 × 2.5 kg", True, True, False
    )  # fmt: skip
    assert (case.decimal_places, case.rounding) == (0, "up")
    assert (pack.factor, pack.is_purchase, pack.is_count, pack.decimal_places) == (
        Decimal("2.5"), False, True, 3
    )  # fmt: skip
    # a factor is kept exactly as written: no float on the way
    assert ItemUnit.objects.get(item__sku="OIL", code="bottle").factor == Decimal("1.333333333333")
    broth = Item.objects.get(sku="BROTH")
    assert (broth.is_made_ahead, broth.is_active) == (True, False)
    assert Item.objects.get(sku="SALT").units.count() == 0
    assert AuditEntry.objects.filter(action="catalog.item.create").count() == 4 + 2

    before = counts()
    again = run_import("items", HEADER, rows, actor=admin, file_type="csv")
    assert again.status == ImportStatus.APPLIED, again.problems
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 5)
    assert counts() == before

    rows[0][HEADER.index("Name")] = "Beef shank"
    rows[0][HEADER.index("Base units per unit")] = 12
    rows[1][HEADER.index("Barcode")] = "123"
    rows.append(line(sku="SALT", unit="bag", unit_factor=25, is_purchase="yes"))
    edited = run_import("items", HEADER, rows, actor=admin)
    assert edited.status == ImportStatus.APPLIED, edited.problems
    assert (edited.created_count, edited.updated_count, edited.unchanged_count) == (1, 2, 3)
    assert edited.changes == [
        {"row": 2, "action": "updated", "key": "BEEF/case", "fields": ["name", "unit_factor"]},
        {"row": 3, "action": "updated", "key": "SALT", "fields": ["barcode"]},
        {"row": 7, "action": "created", "key": "SALT/bag", "fields": []},
    ]
    assert Item.objects.get(sku="BEEF").name == "Beef shank"
    assert ItemUnit.objects.get(item__sku="BEEF", code="case").factor == Decimal(12)
    assert Item.objects.get(sku="SALT").barcode == "123"
    assert ItemUnit.objects.get(item__sku="SALT", code="bag").is_purchase is True
    assert AuditEntry.objects.filter(action="catalog.item_unit.change").count() == 1


def test_export_imports_back_unchanged_in_both_languages(admin):
    run_import("items", HEADER, first_file(), actor=admin)
    # More digits than Excel keeps (exported as text) where the database holds them exactly.
    exact = "1234567.123456789012" if connection.vendor == "postgresql" else "123.123456789012"
    catalog_services.add_item_unit(
        Item.objects.get(sku="FLOUR"),
        catalog_services.ItemUnitInput(code="pallet", factor=Decimal(exact)),
        actor=SYSTEM,
    )
    before = counts()
    for language in ("en", "zh-hans"):
        with translation.override(language):
            data = export_file("items", actor=admin, file_type="xlsx")
            job = import_file("items", "items.xlsx", data, actor=admin, dry_run=False)
        assert job.status == ImportStatus.APPLIED, job.problems
        # BEEF ×2, SALT, OIL, BROTH, FLOUR ×2 (bag, pallet), MILK
        assert (job.created_count, job.updated_count, job.unchanged_count) == (0, 0, 8)
    assert counts() == before
    assert ItemUnit.objects.get(code="pallet").factor == Decimal(exact)


def test_template_sample_row_checks_clean(admin):
    data = template_workbook("items", actor=admin)
    job = import_file("items", "template.xlsx", data, actor=admin, dry_run=True)
    assert (job.status, job.total_rows, job.problems) == (ImportStatus.CHECKED, 1, [])


def test_dry_run_reports_every_problem_and_changes_nothing(admin):
    before = counts()
    rows = [
        line(sku="NEW1", name="A", kind="ingredient", item_class="food", base_unit="box"),
        line(sku="NEW2", name="B", kind="ingredient", item_class="nope", base_unit="kg",
             category="veg"),
        line(sku="NEW3", name="C", kind="ingredient", item_class="food", base_unit="kg",
             unit="case", unit_factor="-1"),
        line(sku="new3", unit="CASE", unit_factor=2),
        line(sku=1234567890123456.0, name="D", kind="ingredient", item_class="food",
             base_unit="kg"),
        line(sku="FLOUR", kind="prepared", base_unit="l"),
        line(sku="NEW4", kind="ingredient", item_class="food", base_unit="kg",
             is_made_ahead="yes", barcode="6.90123E+12"),
        line(sku="NEW5", name="E", kind="ingredient", item_class="food", base_unit="kg",
             unit="g", unit_factor=2),
        line(sku="NEW6", name="F", kind="ingredient", item_class="food", base_unit="kg",
             unit="bag", shelf_life_days="abc"),
        line(sku="MILK", name="Milk"),
        line(sku="MILK", name="Whole milk", unit="carton", unit_factor=1, storage="warm"),
        line(sku="NEW7", name="G", kind="ingredient", item_class="food", base_unit="kg",
             unit="tray", unit_factor=0),
    ]  # fmt: skip
    job = run_import("items", HEADER, rows, actor=admin, dry_run=True)
    assert job.status == ImportStatus.INVALID
    assert sorted(problem_codes(job)) == [
        (2, "base_unit", "unknown_reference"),
        (3, "category", "unknown_reference"),
        (3, "item_class", "unknown_reference"),
        (4, "unit_factor", "invalid_number"),
        (5, "unit", "duplicate_key"),
        (6, "sku", "invalid_value"),
        (7, "base_unit", "cannot_change"),
        (7, "kind", "cannot_change"),
        (8, "barcode", "invalid_value"),
        (8, "is_made_ahead", "invalid_value"),
        (8, "name", "required"),
        (9, "unit_factor", "invalid_number"),
        (10, "shelf_life_days", "invalid_number"),
        (10, "unit_factor", "required"),
        (12, "name", "conflicting_values"),
        (12, "storage", "invalid_choice"),
        (13, "unit_factor", "invalid_number"),
    ]
    messages = {(problem["row"], problem["field"]): problem["message"] for problem in job.problems}
    assert messages[(2, "base_unit")].startswith("The unit “box” does not exist")
    assert counts() == before


def test_refused_without_permission(admin, tree):
    rows = first_file()
    staff = make_user("store_staff", tree.store_a)
    manager = make_user("store_manager", tree.store_a)
    before = counts()
    with pytest.raises(PermissionDenied):
        run_import("items", HEADER, rows, actor=staff)
    with pytest.raises(PermissionDenied):  # imports.use, but no catalog.manage anywhere
        run_import("items", HEADER, rows, actor=manager)
    assert counts() == before
