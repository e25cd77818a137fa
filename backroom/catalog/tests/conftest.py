"""Catalog test data, built through the catalog services as the system actor."""

from __future__ import annotations

from decimal import Decimal

import pytest

from backroom.catalog import services
from backroom.catalog.models import Item
from backroom.kernel.actors import SYSTEM


def make_item(sku: str, base_unit: str = "kg", kind: str = "ingredient", **extra) -> Item:
    units = extra.pop("units", [])
    item = services.create_item(
        services.ItemInput(
            sku=sku,
            name=extra.pop("name", sku.title()),
            kind=kind,
            base_unit=base_unit,
            item_class=extra.pop("item_class", "food"),
            **extra,
        ),
        actor=SYSTEM,
    )
    for code, factor, *rest in units:
        options = rest[0] if rest else {}
        services.add_item_unit(
            item, services.ItemUnitInput(code=code, factor=Decimal(factor), **options), actor=SYSTEM
        )
    return item


@pytest.fixture
def food_class(db):
    return services.create_item_class(
        services.ItemClassInput(code="food", name="Food", negative_stock_policy="forbid"),
        actor=SYSTEM,
    )


@pytest.fixture
def flour(food_class) -> Item:
    """Flour kept in kg, bought in 25 kg bags and cases of 6 × 2.5 kg, counted in bags."""
    return make_item(
        "FLOUR",
        "kg",
        units=[
            (
                "bag",
                "25",
                {
                    "name": "bag of 25 kg",
                    "is_purchase": True,
                    "decimal_places": 0,
                    "rounding": "up",
                },
            ),
            (
                "case",
                "15",
                {
                    "name": "case of 6 × 2.5 kg",
                    "is_purchase": True,
                    "decimal_places": 0,
                    "rounding": "up",
                },
            ),
            (
                "pack",
                "2.5",
                {
                    "name": "pack of 2.5 kg",
                    "is_count": True,
                    "decimal_places": 0,
                    "rounding": "down",
                },
            ),
        ],
    )


def catalog_role(code: str, permissions: list[str]):
    """A custom role (administrators define these; there is no role service yet)."""
    from backroom.accounts.models import Role

    role, _created = Role.objects.get_or_create(
        code=code, defaults={"name": code, "permissions": ["org.view", *permissions]}
    )
    return role


@pytest.fixture
def catalog_roles(db):
    """`catalog_manager` (view + manage) and `catalog_viewer` (view) roles."""
    return {
        "manager": catalog_role("catalog_manager", ["catalog.view", "catalog.manage"]),
        "viewer": catalog_role("catalog_viewer", ["catalog.view"]),
        # Every shipped role sees the catalog; this one is for users who must not.
        "outsider": catalog_role("org_viewer", []),
    }


# --- the noodle shop: golden numbers for recipes and cost cards (docs/catalog.md) ----------

OPENING = __import__("datetime").date(2026, 1, 1)


def line(sku: str, quantity: str, unit: str, loss: str = "0"):
    return services.RecipeLineInput(
        component_sku=sku, quantity=Decimal(quantity), unit_code=unit, loss_percent=Decimal(loss)
    )


def publish(sku: str, lines, *, yield_quantity: str = "1", effective_from=OPENING):
    return services.publish_recipe(
        Item.objects.get(sku=sku),
        services.RecipeInput(
            effective_from=effective_from, lines=lines, yield_quantity=Decimal(yield_quantity)
        ),
        actor=SYSTEM,
    )


class NoodleShop:
    """Beef noodle soup with a broth and a dough sub-recipe, made-ahead chilli oil, modifiers."""

    def __init__(self) -> None:
        ingredients = [
            ("BEEF-BONE", "kg", "12", "chilled"),
            ("STAR-ANISE", "kg", "120", "ambient"),
            ("GINGER", "kg", "16", "chilled"),
            ("FLOUR", "kg", "6", "ambient"),
            ("SALT", "kg", "4", "ambient"),
            ("KANSUI", "l", "20", "ambient"),
            ("BEEF-SHANK", "kg", "80", "chilled"),
            ("CORIANDER", "kg", "30", "chilled"),
            ("SPRING-ONION", "kg", "10", "chilled"),
            ("RICE-NOODLE", "kg", "9", "ambient"),
            ("CHILLI", "kg", "30", "ambient"),
            ("OIL", "l", "14", "ambient"),
        ]
        self.items: dict[str, Item] = {}
        for sku, base, cost, storage in ingredients:
            self.items[sku] = make_item(sku, base, standard_cost=Decimal(cost), storage=storage)
        self.items["BROTH"] = make_item("BROTH", "l", kind="prepared", name="Beef broth")
        self.items["DOUGH"] = make_item("DOUGH", "kg", kind="prepared", name="Noodle dough")
        self.items["CHILLI-OIL"] = make_item(
            "CHILLI-OIL",
            "l",
            kind="prepared",
            name="Chilli oil",
            is_made_ahead=True,
            standard_cost=Decimal("40"),
        )
        self.items["BNS"] = make_item("BNS", "each", kind="menu", name="Beef noodle soup")
        self.broth = publish(
            "BROTH",
            [
                line("BEEF-BONE", "10", "kg"),
                line("STAR-ANISE", "50", "g"),
                line("GINGER", "500", "g", loss="20"),
            ],
            yield_quantity="20",
        )
        self.dough = publish(
            "DOUGH",
            [line("FLOUR", "1", "kg"), line("SALT", "10", "g"), line("KANSUI", "20", "ml")],
            yield_quantity="1.5",
        )
        self.chilli_oil = publish(
            "CHILLI-OIL", [line("CHILLI", "1", "kg"), line("OIL", "4", "l")], yield_quantity="4"
        )
        self.soup = publish(
            "BNS",
            [
                line("BROTH", "400", "ml"),
                line("DOUGH", "150", "g"),
                line("BEEF-SHANK", "120", "g", loss="25"),
                line("CORIANDER", "5", "g", loss="20"),
                line("CHILLI-OIL", "10", "ml"),
                line("SPRING-ONION", "10", "g"),
            ],
        )
        make = services.create_modifier
        E = services.ModifierEffectInput
        self.extra_beef = make(
            services.ModifierInput(
                code="extra-beef",
                name="Extra beef",
                effects=[
                    E(action="add", item_sku="BEEF-SHANK", quantity=Decimal(60), unit_code="g")
                ],
            ),
            actor=SYSTEM,
        )
        self.no_coriander = make(
            services.ModifierInput(
                code="no-coriander",
                name="No coriander",
                effects=[E(action="remove", item_sku="CORIANDER")],
            ),
            actor=SYSTEM,
        )
        self.large = make(
            services.ModifierInput(
                code="large", name="Large", effects=[E(action="scale", factor=Decimal("1.5"))]
            ),
            actor=SYSTEM,
        )
        self.rice_noodles = make(
            services.ModifierInput(
                code="rice-noodles",
                name="Rice noodles instead",
                effects=[
                    E(
                        action="replace",
                        item_sku="DOUGH",
                        replacement_sku="RICE-NOODLE",
                        quantity=Decimal(180),
                        unit_code="g",
                    )
                ],
            ),
            actor=SYSTEM,
        )

    def by_sku(self, exploded: dict[int, Decimal]) -> dict[str, Decimal]:
        names = {item.pk: sku for sku, item in self.items.items()}
        return {names[item_id]: quantity for item_id, quantity in exploded.items()}


@pytest.fixture
def shop(food_class) -> NoodleShop:
    return NoodleShop()
