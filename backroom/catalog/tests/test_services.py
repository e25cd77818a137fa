"""Catalog master data services: whole effects, every problem at once, permissions."""

from __future__ import annotations

from decimal import Decimal

import pytest

from backroom.audit.models import AuditEntry
from backroom.catalog import selectors, services
from backroom.catalog.exceptions import MissingConversion, UnknownUnit
from backroom.catalog.models import Category, Item, ItemClass, ItemUnit, Unit
from backroom.catalog.tests.conftest import make_item
from backroom.events.models import OutboxEvent
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import PermissionDenied, ValidationFailed
from backroom.testing.factories import make_user


def counts():
    return (
        Item.objects.count(),
        ItemUnit.objects.count(),
        Unit.objects.count(),
        AuditEntry.objects.count(),
        OutboxEvent.objects.count(),
    )


def test_standard_units_are_installed(db):
    assert set(Unit.objects.values_list("code", flat=True)) == {
        "mg",
        "g",
        "jin",
        "kg",
        "ml",
        "l",
        "each",
    }
    assert Unit.objects.get(code="kg").to_reference == Decimal(1000)


def test_create_unit_records_row_audit_and_event(tree):
    unit = services.create_unit(
        services.UnitInput(
            code="liang", name="liang (两)", dimension="mass", to_reference=Decimal(50)
        ),
        actor=SYSTEM,
    )
    assert Unit.objects.get(code="liang").to_reference == Decimal(50)
    entry = AuditEntry.objects.get(action="catalog.unit.create")
    assert entry.target_id == str(unit.pk)
    assert entry.org_node_id == tree.group.pk
    event = OutboxEvent.objects.get(event_type="catalog.unit.created")
    assert event.payload == {
        "unit_id": unit.pk,
        "code": "liang",
        "dimension": "mass",
        "to_reference": "50.000000000000",
    }


def test_create_unit_reports_every_problem(db):
    before = counts()
    with pytest.raises(ValidationFailed) as caught:
        services.create_unit(
            services.UnitInput(
                code="kg",
                name=" ",
                dimension="length",
                to_reference=Decimal("-1"),
                decimal_places=9,
                rounding="sideways",
            ),
            actor=SYSTEM,
        )
    assert set(caught.value.details["fields"]) == {
        "code",
        "name",
        "dimension",
        "to_reference",
        "decimal_places",
        "rounding",
    }
    assert counts() == before


def test_create_item_with_units(food_class, tree):
    services.create_category(services.CategoryInput(code="dry", name="Dry goods"), actor=SYSTEM)
    services.create_category(
        services.CategoryInput(code="flour", name="Flour", parent_code="dry"), actor=SYSTEM
    )
    item = services.create_item(
        services.ItemInput(
            sku="FLOUR-HG",
            name="High-gluten flour",
            kind="ingredient",
            base_unit="kg",
            item_class="food",
            category="flour",
            barcode="6901234567890",
            shelf_life_days=365,
            storage="ambient",
            standard_cost=Decimal("6.2000"),
        ),
        actor=SYSTEM,
    )
    item_unit = services.add_item_unit(
        item,
        services.ItemUnitInput(
            code="case",
            name="case of 6 × 2.5 kg",
            factor=Decimal(15),
            is_purchase=True,
            decimal_places=0,
            rounding="up",
        ),
        actor=SYSTEM,
    )
    item.refresh_from_db()
    assert item.category == Category.objects.get(code="flour")
    assert item.category.parent.code == "dry"
    assert item.standard_cost == Decimal("6.2")
    assert item.cost_currency == "CNY"
    assert ItemUnit.objects.get(item=item).pk == item_unit.pk
    assert (
        AuditEntry.objects.filter(target_id=str(item.pk), action="catalog.item.create").count() == 1
    )
    assert (
        AuditEntry.objects.get(action="catalog.item_unit.add").after["factor"] == "15.000000000000"
    )
    assert OutboxEvent.objects.get(event_type="catalog.item.created").payload == {
        "item_id": item.pk,
        "sku": "FLOUR-HG",
        "name": "High-gluten flour",
        "kind": "ingredient",
        "base_unit": "kg",
    }
    assert OutboxEvent.objects.get(event_type="catalog.item_unit.added").payload["code"] == "case"


def test_create_item_reports_every_problem_and_changes_nothing(food_class):
    make_item("DUP")
    before = counts()
    with pytest.raises(ValidationFailed) as caught:
        services.create_item(
            services.ItemInput(
                sku="DUP",
                name="",
                kind="gadget",
                base_unit="furlong",
                item_class="nope",
                category="nope",
                barcode="12-34",
                shelf_life_days=0,
                storage="attic",
                is_made_ahead=True,
                standard_cost=Decimal("-1"),
                cost_currency="XXX",
            ),
            actor=SYSTEM,
        )
    assert set(caught.value.details["fields"]) == {
        "sku",
        "name",
        "kind",
        "base_unit",
        "item_class",
        "category",
        "barcode",
        "shelf_life_days",
        "storage",
        "is_made_ahead",
        "standard_cost",
        "cost_currency",
    }
    assert counts() == before


def test_item_unit_must_agree_with_base_and_global_units(flour):
    before = counts()
    for code, factor in (("kg", "2"), ("g", "0.002"), ("case", "10")):
        with pytest.raises(ValidationFailed) as caught:
            services.add_item_unit(
                flour, services.ItemUnitInput(code=code, factor=Decimal(factor)), actor=SYSTEM
            )
        assert set(caught.value.details["fields"]) <= {"factor", "code"}
    assert counts() == before
    services.add_item_unit(
        flour,
        services.ItemUnitInput(code="g", factor=Decimal("0.001"), is_recipe=True),
        actor=SYSTEM,
    )
    with pytest.raises(ValidationFailed) as caught:
        services.add_item_unit(
            flour,
            services.ItemUnitInput(code="tin", factor=Decimal("0.0000000000001"), decimal_places=7),
            actor=SYSTEM,
        )
    assert set(caught.value.details["fields"]) == {"factor", "decimal_places"}


def test_update_item_changes_only_given_fields(flour, tree):
    services.update_item(
        flour,
        services.ItemChanges(name="Flour T55", shelf_life_days=None, standard_cost=Decimal("5")),
        actor=SYSTEM,
        reason="new supplier",
    )
    flour.refresh_from_db()
    assert flour.name == "Flour T55"
    assert flour.standard_cost == Decimal("5")
    assert flour.storage == "ambient"
    entry = AuditEntry.objects.get(action="catalog.item.update")
    assert entry.reason == "new supplier"
    assert entry.before["name"] == "Flour"
    assert entry.after["name"] == "Flour T55"
    assert OutboxEvent.objects.get(event_type="catalog.item.updated").payload["changed"] == [
        "name",
        "standard_cost",
    ]
    # nothing to change: no audit, no event
    services.update_item(flour, services.ItemChanges(name="Flour T55"), actor=SYSTEM)
    assert AuditEntry.objects.filter(action="catalog.item.update").count() == 1


def test_deactivate_item(flour):
    services.deactivate_item(flour, actor=SYSTEM, reason="discontinued")
    flour.refresh_from_db()
    assert flour.is_active is False
    assert AuditEntry.objects.get(action="catalog.item.deactivate").reason == "discontinued"
    assert OutboxEvent.objects.filter(event_type="catalog.item.deactivated").count() == 1
    services.deactivate_item(flour, actor=SYSTEM)  # twice: nothing more
    assert OutboxEvent.objects.filter(event_type="catalog.item.deactivated").count() == 1


def test_change_item_unit(flour):
    case = ItemUnit.objects.get(item=flour, code="case")
    services.change_item_unit(
        case,
        services.ItemUnitChanges(factor=Decimal("12.5"), name="case of 5 × 2.5 kg"),
        actor=SYSTEM,
        reason="supplier changed the pack",
    )
    case.refresh_from_db()
    assert case.factor == Decimal("12.5")
    assert OutboxEvent.objects.get(event_type="catalog.item_unit.changed").payload["changed"] == [
        "factor",
        "name",
    ]
    from backroom.catalog import units

    assert units.to_base(flour, Decimal(2), "case") == Decimal(25)


def test_master_data_needs_catalog_manage_at_the_root(flour, tree, catalog_roles):
    from backroom.accounts.services import grant_membership

    region_editor = make_user()
    grant_membership(region_editor, catalog_roles["manager"], tree.region, actor=SYSTEM)
    store_manager = make_user("store_manager", tree.store_a)
    chain_editor = make_user()
    grant_membership(chain_editor, catalog_roles["manager"], tree.group, actor=SYSTEM)
    before = counts()
    for actor in (region_editor, store_manager, None):
        with pytest.raises(PermissionDenied):
            services.create_item(
                services.ItemInput(
                    sku="X", name="X", kind="ingredient", base_unit="kg", item_class="food"
                ),
                actor=actor,
            )
        with pytest.raises(PermissionDenied):
            services.update_item(flour, services.ItemChanges(name="Mine"), actor=actor)
    assert counts() == before
    services.create_item(
        services.ItemInput(sku="X", name="X", kind="ingredient", base_unit="kg", item_class="food"),
        actor=chain_editor,
    )
    assert AuditEntry.objects.get(action="catalog.item.create", target_label="X (X)").actor_id == (
        chain_editor.pk
    )


def test_selectors_show_the_catalog_to_viewers_anywhere(flour, tree, catalog_roles):
    from backroom.accounts.services import grant_membership

    viewer = make_user()
    grant_membership(viewer, catalog_roles["viewer"], tree.store_a, actor=SYSTEM)
    nobody = make_user()
    grant_membership(nobody, catalog_roles["outsider"], tree.store_a, actor=SYSTEM)
    assert list(selectors.items_for(viewer).values_list("sku", flat=True)) == ["FLOUR"]
    assert selectors.items_for(nobody).count() == 0
    assert selectors.items_for(None).count() == 0
    assert selectors.get_item(viewer, flour.pk) == flour
    from backroom.kernel.exceptions import NotFound

    with pytest.raises(NotFound):
        selectors.get_item(nobody, flour.pk)
    assert selectors.can_manage(viewer) is False
    assert selectors.search_items(selectors.items_for(viewer), "flo").count() == 1


def test_item_class_and_category_problems(db):
    services.create_item_class(services.ItemClassInput(code="dry", name="Dry"), actor=SYSTEM)
    before = ItemClass.objects.count()
    with pytest.raises(ValidationFailed) as caught:
        services.create_item_class(
            services.ItemClassInput(code="dry", name="", negative_stock_policy="maybe"),
            actor=SYSTEM,
        )
    assert set(caught.value.details["fields"]) == {"code", "name", "negative_stock_policy"}
    with pytest.raises(ValidationFailed) as caught:
        services.create_category(
            services.CategoryInput(code="veg", name="Veg", parent_code="missing"), actor=SYSTEM
        )
    assert set(caught.value.details["fields"]) == {"parent_code"}
    assert ItemClass.objects.count() == before
    assert Category.objects.count() == 0


def test_typed_unit_errors_keep_their_code():
    problems = services.Problems()
    item = Item(sku="Q", base_unit=Unit(code="kg", dimension="mass", to_reference=1000))
    problems.add_error("lines.0.unit_code", UnknownUnit(item, "box", field="lines.0.unit_code"))
    with pytest.raises(UnknownUnit):
        problems.raise_if_any()
    problems.add_error(
        "lines.1.unit_code", MissingConversion(item, "ml", field="lines.1.unit_code")
    )
    with pytest.raises(ValidationFailed) as caught:
        problems.raise_if_any()
    assert caught.value.code == "invalid"
    assert caught.value.details["codes"] == {
        "lines.0.unit_code": ["unknown_unit"],
        "lines.1.unit_code": ["missing_conversion"],
    }


def test_create_item_with_its_units_in_one_write(food_class):
    item = services.create_item(
        services.ItemInput(
            sku="EGG",
            name="Eggs",
            kind="ingredient",
            base_unit="each",
            item_class="food",
            units=[
                services.ItemUnitInput(
                    code="tray",
                    factor=Decimal(30),
                    name="tray of 30 eggs",
                    is_purchase=True,
                    is_count=True,
                    decimal_places=0,
                    rounding="up",
                ),
                services.ItemUnitInput(code="case", factor=Decimal(360), is_purchase=True),
            ],
        ),
        actor=SYSTEM,
    )
    assert list(ItemUnit.objects.filter(item=item).values_list("code", "factor")) == [
        ("tray", Decimal(30)),
        ("case", Decimal(360)),
    ]
    entry = AuditEntry.objects.get(action="catalog.item.create")
    assert [unit["code"] for unit in entry.after["units"]] == ["tray", "case"]
    assert list(
        OutboxEvent.objects.filter(
            event_type__in=["catalog.item.created", "catalog.item_unit.added"]
        )
        .order_by("id")
        .values_list("event_type", flat=True)
    ) == ["catalog.item.created", "catalog.item_unit.added", "catalog.item_unit.added"]


def test_create_item_unit_problems_are_numbered(food_class):
    before = counts()
    with pytest.raises(ValidationFailed) as caught:
        services.create_item(
            services.ItemInput(
                sku="OIL",
                name="Oil",
                kind="ingredient",
                base_unit="l",
                item_class="food",
                units=[
                    services.ItemUnitInput(code="ml", factor=Decimal("0.01")),
                    services.ItemUnitInput(code="drum", factor=Decimal(20)),
                    services.ItemUnitInput(code="drum", factor=Decimal(-1)),
                ],
            ),
            actor=SYSTEM,
        )
    assert set(caught.value.details["fields"]) == {
        "units.0.factor",
        "units.2.code",
        "units.2.factor",
    }
    assert counts() == before


def test_batch_cache_is_scoped_and_forgets_new_rows(food_class):
    from backroom.catalog import units
    from backroom.catalog.batch import cached, catalog_batch

    tea = make_item("TEA", "kg")
    calls = []
    with catalog_batch():
        assert cached("x", lambda: calls.append(1) or 1) == 1
        assert cached("x", lambda: calls.append(1) or 2) == 1
        with pytest.raises(UnknownUnit):
            units.to_base(tea, Decimal(1), "liang")  # "no such unit" is remembered...
        services.create_unit(
            services.UnitInput(
                code="liang", name="liang", dimension="mass", to_reference=Decimal(50)
            ),
            actor=SYSTEM,
        )
        assert units.to_base(tea, Decimal(2), "liang") == Decimal("0.1")  # ...until created
    assert calls == [1]
    assert cached("x", lambda: 3) == 3  # outside a batch nothing is cached
