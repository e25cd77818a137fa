"""Recipes import: whole recipes published as versions through the catalog service, sub-recipes
first; the same recipe again publishes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from backroom.audit.models import AuditEntry
from backroom.catalog import services as catalog_services
from backroom.catalog.models import Item, Recipe, RecipeLine
from backroom.catalog.recipes import explode
from backroom.events.models import OutboxEvent
from backroom.imports.importers.recipes import RecipesImporter
from backroom.imports.models import ImportStatus
from backroom.imports.services import export_file, import_file
from backroom.imports.testing import problem_codes, run_import
from backroom.inventory.tests.conftest import make_class, make_item
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import PermissionDenied
from backroom.testing.factories import make_user

pytestmark = pytest.mark.django_db

HEADER = ["Recipe SKU", "Effective from", "Yield", "Recipe notes", "Ingredient SKU", "Quantity",
          "Unit", "Loss %", "Line notes"]  # fmt: skip


def counts() -> tuple[int, int, int, int]:
    return (
        Recipe.objects.count(),
        RecipeLine.objects.count(),
        AuditEntry.objects.exclude(action__startswith="imports.").count(),
        OutboxEvent.objects.count(),
    )


@pytest.fixture
def admin(tree):
    make_class("food", "forbid")
    for sku, base in (("FLOUR", "kg"), ("SALT", "kg"), ("BONE", "kg")):
        make_item(sku, base, "food")
    make_item("BEEF", "kg", "food", units=[("case", "10")])
    make_item("CHILLI-OIL", "l", "food", kind="prepared", is_made_ahead=True)
    for sku, base, kind in (("DOUGH", "kg", "prepared"), ("BROTH", "l", "prepared"),
                            ("NOODLE", "each", "menu"), ("PREP-X", "kg", "prepared"),
                            ("PREP-Y", "kg", "prepared")):  # fmt: skip
        make_item(sku, base, "food", kind=kind)
    return make_user("hq_admin", tree.group)


def publish(sku: str, lines: list[tuple[str, str, str]], start: dt.date) -> None:
    catalog_services.publish_recipe(
        Item.objects.get(sku=sku),
        catalog_services.RecipeInput(
            effective_from=start,
            lines=[catalog_services.RecipeLineInput(c, Decimal(q), u) for c, q, u in lines],
        ),
        actor=SYSTEM,
    )


def noodle_file(start: dt.date) -> list[list]:
    # The menu item first, its sub-recipes (dough, broth) further down, rows interleaved.
    return [
        ["NOODLE", start, 1, "", "DOUGH", 150, "g", None, None],
        ["DOUGH", start, "1.5", "knead 10 min", "FLOUR", 1, "kg", None, None],
        ["NOODLE", None, None, None, "BROTH", "0.4", "l", None, None],
        ["NOODLE", None, None, None, "BEEF", 120, "g", 25, "sliced"],
        ["BROTH", start, 20, None, "BONE", 10, "kg", None, None],
        ["DOUGH", None, None, None, "SALT", 15, "g", None, None],
        ["NOODLE", None, None, None, "CHILLI-OIL", 10, "ml", None, None],
    ]


def test_creates_with_sub_recipes_below_then_unchanged_then_new_version(admin, monkeypatch):
    start = timezone.localdate() - dt.timedelta(days=30)
    rows = noodle_file(start)
    monkeypatch.setattr(RecipesImporter, "chunk_size", 2)  # each recipe still in one call
    job = run_import("recipes", HEADER, rows, actor=admin)
    monkeypatch.undo()
    assert job.status == ImportStatus.APPLIED, (job.problems, job.error)
    assert (job.created_count, job.updated_count, job.unchanged_count) == (7, 0, 0)
    assert Recipe.objects.count() == 3
    noodle = Recipe.objects.get(item__sku="NOODLE")
    assert (noodle.version, noodle.effective_from, noodle.yield_quantity) == (1, start, Decimal(1))
    assert [
        (line.component.sku, line.quantity, line.unit_code, line.loss_percent, line.notes)
        for line in noodle.lines.order_by("position")
    ] == [
        ("DOUGH", Decimal(150), "g", Decimal(0), ""),
        ("BROTH", Decimal("0.4"), "l", Decimal(0), ""),
        ("BEEF", Decimal(120), "g", Decimal(25), "sliced"),
        ("CHILLI-OIL", Decimal(10), "ml", Decimal(0), ""),
    ]
    dough = Recipe.objects.get(item__sku="DOUGH")
    assert (dough.yield_quantity, dough.notes) == (Decimal("1.5"), "knead 10 min")
    exploded = explode(noodle.item, Decimal(1), on=timezone.localdate())
    skus = dict(Item.objects.filter(pk__in=exploded).values_list("pk", "sku"))
    assert {skus[pk]: quantity for pk, quantity in exploded.items()} == {
        "FLOUR": Decimal("0.1"),
        "SALT": Decimal("0.0015"),
        "BONE": Decimal("0.2"),
        "BEEF": Decimal("0.16"),
        "CHILLI-OIL": Decimal("0.01"),
    }  # fmt: skip

    before = counts()
    again = run_import("recipes", HEADER, rows, actor=admin, file_type="csv")
    assert again.status == ImportStatus.APPLIED, again.problems
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 7)
    assert counts() == before

    today = timezone.localdate()
    rows[1][1], rows[1][5] = today, "1.2"
    edited = run_import("recipes", HEADER, rows, actor=admin)
    assert edited.status == ImportStatus.APPLIED, edited.problems
    assert (edited.created_count, edited.updated_count, edited.unchanged_count) == (0, 2, 5)
    assert edited.changes == [
        {"row": 3, "action": "updated", "key": "DOUGH/FLOUR", "fields": ["quantity"]},
        {"row": 7, "action": "updated", "key": "DOUGH/SALT", "fields": []},
    ]
    first, second = Recipe.objects.filter(item__sku="DOUGH").order_by("version")
    assert (first.effective_to, second.version, second.effective_from) == (today, 2, today)
    assert second.lines.get(component__sku="FLOUR").quantity == Decimal("1.2")
    assert Recipe.objects.count() == 4


def test_export_imports_back_unchanged(admin):
    run_import("recipes", HEADER, noodle_file(timezone.localdate()), actor=admin)
    before = counts()
    data = export_file("recipes", actor=admin, file_type="xlsx")
    job = import_file("recipes", "recipes.xlsx", data, actor=admin, dry_run=False)
    assert job.status == ImportStatus.APPLIED, job.problems
    assert (job.created_count, job.updated_count, job.unchanged_count) == (0, 0, 7)
    assert counts() == before


def test_dry_run_reports_every_problem_and_changes_nothing(admin):
    start = timezone.localdate() - dt.timedelta(days=10)
    publish("DOUGH", [("FLOUR", "1", "kg")], start)
    before = counts()
    rows = [
        ["BROTH", None, 20, None, "GHOST", 1, "kg", None, None],
        ["BROTH", None, 10, None, "FLOUR", 1, "box", None, None],
        ["BROTH", None, None, None, "SALT", 1, "ml", None, None],
        ["BROTH", None, None, None, "SALT", 2, "g", None, None],
        ["NOODLE", None, None, None, "BEEF", "1e+15", "g", None, None],
        ["NOODLE", None, None, None, "BONE", -1, "g", None, None],
        ["NOODLE", None, None, None, "FLOUR", 1, "g", 100, None],
        ["NOODLE", None, None, None, "PREP-X", 1, "kg", None, None],
        ["FLOUR", None, None, None, "SALT", 1, "g", None, None],
        ["NOPE", None, None, None, "SALT", 1, "g", None, None],
        ["DOUGH", start, None, None, "FLOUR", 2, "kg", None, None],
        ["PREP-Y", None, None, None, "PREP-X", 1, "kg", None, None],
    ]
    job = run_import("recipes", HEADER, rows, actor=admin, dry_run=True)
    assert job.status == ImportStatus.INVALID
    assert sorted(problem_codes(job)) == [
        (2, "component_sku", "unknown_reference"),
        (3, "unit", "unknown_unit"),
        (3, "yield_quantity", "conflicting_values"),
        (4, "unit", "missing_conversion"),
        (5, "component_sku", "duplicate_key"),
        (6, "quantity", "invalid_number"),
        (7, "quantity", "invalid_number"),
        (8, "loss_percent", "invalid_number"),
        (9, "component_sku", "recipe_not_found"),
        (10, "recipe_sku", "invalid_value"),
        (11, "recipe_sku", "unknown_reference"),
        (12, "effective_from", "version_published"),
        (13, "component_sku", "recipe_not_found"),
    ]
    assert counts() == before


def test_cycles_in_the_file_and_through_the_database(admin):
    today = timezone.localdate()
    publish("DOUGH", [("FLOUR", "1", "kg")], today - dt.timedelta(days=5))
    publish("PREP-Y", [("DOUGH", "1", "kg")], today - dt.timedelta(days=5))
    rows = [
        ["PREP-X", None, None, None, "BROTH", 1, "l", None, None],
        ["BROTH", None, None, None, "PREP-X", 1, "kg", None, None],
        ["DOUGH", today, None, None, "PREP-Y", 1, "kg", None, None],
        ["NOODLE", None, None, None, "NOODLE", 1, "each", None, None],
    ]
    before = counts()
    job = run_import("recipes", HEADER, rows, actor=admin)
    assert job.status == ImportStatus.INVALID
    assert problem_codes(job) == [
        (2, "component_sku", "recipe_cycle"),
        (3, "component_sku", "recipe_cycle"),
        (4, "component_sku", "recipe_cycle"),
        (5, "component_sku", "recipe_cycle"),
    ]
    messages = [problem["message"] for problem in job.problems]
    assert "PREP-X → BROTH → PREP-X" in messages[0]
    assert "DOUGH → PREP-Y → DOUGH" in messages[2]
    assert "NOODLE → NOODLE" in messages[3]
    assert counts() == before


def test_refused_without_permission(admin, tree):
    staff = make_user("store_staff", tree.store_a)
    manager = make_user("store_manager", tree.store_a)
    rows = noodle_file(timezone.localdate())
    before = counts()
    with pytest.raises(PermissionDenied):
        run_import("recipes", HEADER, rows, actor=staff)
    with pytest.raises(PermissionDenied):  # imports.use, but no catalog.manage anywhere
        run_import("recipes", HEADER, rows, actor=manager)
    assert counts() == before
