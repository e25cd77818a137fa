"""Recipes: publishing versions, cycles, explosion with yields, loss % and modifiers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backroom.audit.models import AuditEntry
from backroom.catalog import recipes, services
from backroom.catalog.exceptions import RecipeCycle, RecipeNotFound, UnknownUnit
from backroom.catalog.models import Recipe, RecipeLine
from backroom.catalog.tests.conftest import OPENING, line, make_item, publish
from backroom.events.models import OutboxEvent
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import PermissionDenied, ValidationFailed
from backroom.testing.factories import make_user

D = Decimal


def world():
    return (
        Recipe.objects.count(),
        RecipeLine.objects.count(),
        AuditEntry.objects.count(),
        OutboxEvent.objects.count(),
        list(Recipe.objects.values_list("pk", "effective_to")),
    )


def test_plain_bowl_explodes_to_stocked_items(shop):
    exploded = shop.by_sku(recipes.explode(shop.items["BNS"], D(1), on=OPENING))
    assert exploded == {
        # broth 0.4 l of a 20 l batch: 10 kg bones, 50 g anise, 500 g ginger at 20 % trim
        "BEEF-BONE": D("0.200000"),
        "STAR-ANISE": D("0.001000"),
        "GINGER": D("0.012500"),
        # dough 150 g of a 1.5 kg batch
        "FLOUR": D("0.100000"),
        "SALT": D("0.001000"),
        "KANSUI": D("0.002000"),
        # 120 g net beef at 25 % loss → 160 g; 5 g coriander at 20 % → 6.25 g
        "BEEF-SHANK": D("0.160000"),
        "CORIANDER": D("0.006250"),
        # chilli oil is made ahead and stocked: taken as it is
        "CHILLI-OIL": D("0.010000"),
        "SPRING-ONION": D("0.010000"),
    }


def test_two_large_bowls_extra_beef_no_coriander(shop):
    exploded = recipes.explode(
        shop.items["BNS"], D(2), modifiers=["large", "extra-beef", "no-coriander"], on=OPENING
    )
    assert shop.by_sku(exploded) == {
        "BEEF-BONE": D("0.600000"),
        "STAR-ANISE": D("0.003000"),
        "GINGER": D("0.037500"),
        "FLOUR": D("0.300000"),
        "SALT": D("0.003000"),
        "KANSUI": D("0.006000"),
        # (160 g × 1.5 + 60 g extra, not scaled) × 2
        "BEEF-SHANK": D("0.600000"),
        "CHILLI-OIL": D("0.030000"),
        "SPRING-ONION": D("0.030000"),
    }


def test_replace_dough_by_rice_noodles(shop):
    exploded = shop.by_sku(
        recipes.explode(shop.items["BNS"], D(1), modifiers=[shop.rice_noodles], on=OPENING)
    )
    assert exploded["RICE-NOODLE"] == D("0.180000")
    assert {"FLOUR", "SALT", "KANSUI"}.isdisjoint(exploded)


def test_sub_recipe_rounds_once_at_the_end(shop):
    assert shop.by_sku(recipes.explode(shop.items["DOUGH"], D(1), on=OPENING)) == {
        "FLOUR": D("0.666667"),
        "SALT": D("0.006667"),
        "KANSUI": D("0.013333"),
    }
    # 3 kg of dough is exactly two batches: no rounding error accumulates
    assert shop.by_sku(recipes.explode(shop.items["DOUGH"], D(3), on=OPENING)) == {
        "FLOUR": D("2.000000"),
        "SALT": D("0.020000"),
        "KANSUI": D("0.040000"),
    }


def test_made_ahead_item_asked_for_explodes_its_own_recipe(shop):
    # producing 2 l of chilli oil consumes its ingredients
    assert shop.by_sku(recipes.explode(shop.items["CHILLI-OIL"], D(2), on=OPENING)) == {
        "CHILLI": D("0.500000"),
        "OIL": D("2.000000"),
    }


def test_stocked_item_without_recipe_explodes_to_itself(shop):
    assert recipes.explode(shop.items["SALT"], D("0.5"), on=OPENING) == {
        shop.items["SALT"].pk: D("0.500000")
    }
    with pytest.raises(ValidationFailed):
        recipes.explode(shop.items["SALT"], D(1), modifiers=["large"], on=OPENING)


def test_no_recipe_yet_is_a_clear_error(shop):
    with pytest.raises(RecipeNotFound) as caught:
        recipes.explode(shop.items["BNS"], D(1), on=dt.date(2025, 12, 31))
    assert caught.value.code == "recipe_not_found"
    assert caught.value.details["item"] == "BNS"


def test_unknown_modifier_is_refused(shop):
    with pytest.raises(ValidationFailed) as caught:
        recipes.explode(shop.items["BNS"], D(1), modifiers=["extra-cheese"], on=OPENING)
    assert list(caught.value.details["fields"]) == ["modifiers"]


def test_explode_many_sums_sold_lines(shop):
    totals = recipes.explode_many(
        [
            recipes.SoldLine(shop.items["BNS"], D(1)),
            recipes.SoldLine(shop.items["BNS"], D(1), ("no-coriander",)),
            recipes.SoldLine(shop.items["SALT"], D("0.01")),
        ],
        on=OPENING,
    )
    assert shop.by_sku(totals)["CORIANDER"] == D("0.006250")
    assert shop.by_sku(totals)["SALT"] == D("0.012000")
    assert shop.by_sku(totals)["BEEF-SHANK"] == D("0.320000")


# --- publishing -------------------------------------------------------------------------


def test_publish_records_version_lines_audit_and_event(shop):
    recipe = shop.soup
    assert recipe.version == 1
    assert recipe.effective_to is None
    assert list(
        recipe.lines.values_list("position", "component__sku", "quantity", "unit_code")
    ) == [
        (1, "BROTH", D("400"), "ml"),
        (2, "DOUGH", D("150"), "g"),
        (3, "BEEF-SHANK", D("120"), "g"),
        (4, "CORIANDER", D("5"), "g"),
        (5, "CHILLI-OIL", D("10"), "ml"),
        (6, "SPRING-ONION", D("10"), "g"),
    ]
    entry = AuditEntry.objects.get(action="catalog.recipe.publish", target_id=str(recipe.pk))
    assert entry.after["lines"][2] == {
        "component": "BEEF-SHANK",
        "quantity": "120.000000",
        "unit_code": "g",
        "loss_percent": "25.0000",
    }
    event = OutboxEvent.objects.get(event_type="catalog.recipe.published", payload__sku="BNS")
    assert event.payload["version"] == 1
    assert event.payload["previous_recipe_id"] is None


def test_new_version_closes_the_previous_one(shop):
    start = timezone.localdate() + dt.timedelta(days=7)
    v2 = publish(
        "BNS",
        [line("BROTH", "450", "ml"), line("DOUGH", "150", "g"), line("BEEF-SHANK", "150", "g")],
        effective_from=start,
    )
    shop.soup.refresh_from_db()
    assert (v2.version, v2.effective_from, v2.effective_to) == (2, start, None)
    assert shop.soup.effective_to == start
    close = AuditEntry.objects.get(action="catalog.recipe.close")
    assert close.before == {"effective_to": None}
    assert close.after == {"effective_to": start.isoformat()}
    assert (
        OutboxEvent.objects.get(event_type="catalog.recipe.published", payload__version=2).payload[
            "previous_recipe_id"
        ]
        == shop.soup.pk
    )
    # each date sees its own version
    day_before = start - dt.timedelta(days=1)
    assert shop.by_sku(recipes.explode(shop.items["BNS"], D(1), on=day_before))["BEEF-SHANK"] == D(
        "0.160000"
    )
    assert shop.by_sku(recipes.explode(shop.items["BNS"], D(1), on=start))["BEEF-SHANK"] == D(
        "0.150000"
    )


def test_versions_cannot_be_back_dated_or_overlap(shop):
    before = world()
    for start in (OPENING, timezone.localdate() - dt.timedelta(days=1)):
        with pytest.raises(ValidationFailed) as caught:
            publish("BNS", [line("BROTH", "450", "ml")], effective_from=start)
        assert list(caught.value.details["fields"]) == ["effective_from"]
    assert world() == before


def test_cycle_is_refused_naming_the_path(shop):
    make_item("SAUCE-A", "kg", kind="prepared")
    make_item("SAUCE-B", "kg", kind="prepared")
    publish("SAUCE-A", [line("SALT", "1", "kg")])
    publish("SAUCE-B", [line("SAUCE-A", "1", "kg")])
    before = world()
    later = timezone.localdate() + dt.timedelta(days=1)
    with pytest.raises(RecipeCycle) as caught:
        publish("SAUCE-A", [line("SAUCE-B", "1", "kg")], effective_from=later)
    assert caught.value.code == "recipe_cycle"
    assert caught.value.details["path"] == ["SAUCE-A", "SAUCE-B", "SAUCE-A"]
    assert "SAUCE-A → SAUCE-B → SAUCE-A" in caught.value.message
    with pytest.raises(RecipeCycle) as caught:
        publish("SAUCE-A", [line("SAUCE-A", "1", "kg")], effective_from=later)
    assert caught.value.details["path"] == ["SAUCE-A", "SAUCE-A"]
    assert world() == before


def test_deeper_cycle_through_a_dish(shop):
    later = timezone.localdate() + dt.timedelta(days=1)
    with pytest.raises(RecipeCycle) as caught:
        publish("DOUGH", [line("FLOUR", "1", "kg"), line("BNS", "1", "each")], effective_from=later)
    assert caught.value.details["path"] == ["DOUGH", "BNS", "DOUGH"]


def test_every_line_problem_at_once(shop):
    make_item("SOUP-2", "each", kind="menu")
    make_item("GRAVY", "l", kind="prepared")  # no recipe and not made ahead
    before = world()
    with pytest.raises(ValidationFailed) as caught:
        services.publish_recipe(
            shop.items["BNS"].__class__.objects.get(sku="SOUP-2"),
            services.RecipeInput(
                effective_from=OPENING,
                yield_quantity=D(0),
                lines=[
                    line("NOPE", "1", "kg"),
                    line("BEEF-SHANK", "-1", "kg"),
                    line("GINGER", "1", "kg", loss="100"),
                    line("SALT", "1", "ml"),
                    line("OIL", "1", "crate"),
                    line("GRAVY", "1", "l"),
                ],
            ),
            actor=SYSTEM,
        )
    error = caught.value
    assert error.code == "invalid"
    assert set(error.details["fields"]) == {
        "yield_quantity",
        "lines.0.component_sku",
        "lines.1.quantity",
        "lines.2.loss_percent",
        "lines.3.unit_code",
        "lines.4.unit_code",
        "lines.5.component_sku",
    }
    assert error.details["codes"] == {
        "lines.3.unit_code": ["missing_conversion"],
        "lines.4.unit_code": ["unknown_unit"],
    }
    assert world() == before


def test_a_single_unit_problem_keeps_its_code(shop):
    make_item("SOUP-3", "each", kind="menu")
    with pytest.raises(UnknownUnit) as caught:
        publish("SOUP-3", [line("SALT", "1", "pinch")])
    assert caught.value.details["fields"] == {
        "lines.0.unit_code": ["“pinch” is not a unit of SALT."]
    }


def test_only_dishes_and_preps_have_recipes_and_only_managers_publish(shop, tree):
    with pytest.raises(ValidationFailed) as caught:
        publish("SALT", [line("FLOUR", "1", "kg")])
    assert list(caught.value.details["fields"]) == ["item"]
    manager = make_user("store_manager", tree.store_a)
    before = world()
    with pytest.raises(PermissionDenied):
        services.publish_recipe(
            shop.items["BNS"],
            services.RecipeInput(
                effective_from=timezone.localdate(), lines=[line("SALT", "1", "g")]
            ),
            actor=manager,
        )
    assert world() == before


def test_modifier_problems_at_once(shop):
    E = services.ModifierEffectInput
    with pytest.raises(ValidationFailed) as caught:
        services.create_modifier(
            services.ModifierInput(
                code="large",
                name="",
                effects=[
                    E(action="explode"),
                    E(action="add", item_sku="SALT", quantity=D(1), unit_code="ml"),
                    E(action="scale", factor=D(0)),
                    E(action="replace", item_sku="SALT", replacement_sku="SALT"),
                    E(action="remove"),
                ],
            ),
            actor=SYSTEM,
        )
    assert set(caught.value.details["fields"]) == {
        "code",
        "name",
        "effects.0.action",
        "effects.1.unit_code",
        "effects.2.factor",
        "effects.3.replacement_sku",
        "effects.4.item_sku",
    }


# --- properties ----------------------------------------------------------------------------


portions = st.decimals(min_value=D("0.001"), max_value=D("500"), places=3)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=portions, second=portions)
def test_explosion_is_additive_and_scale_is_a_multiplier(shop, first, second):
    """Two sales explode like one of their sum (to the ledger's 6 places), and "large" is
    exactly ×1.5 of the dish."""
    bns = shop.items["BNS"]
    together = recipes.explode(bns, first + second, on=OPENING)
    apart = recipes.explode_many(
        [recipes.SoldLine(bns, first), recipes.SoldLine(bns, second)], on=OPENING
    )
    assert together.keys() == apart.keys()
    for item_id, quantity in together.items():
        assert abs(quantity - apart[item_id]) <= D("0.000001")
    large = recipes.explode(bns, first, modifiers=["large"], on=OPENING)
    assert large == recipes.explode(bns, first * D("1.5"), on=OPENING)


def test_recipe_versions_ledger_check(shop):
    from backroom.catalog.ledger_checks import check_recipe_versions
    from backroom.config.ledger_checks import registered_checks

    assert "catalog.recipe_versions" in registered_checks()
    start = timezone.localdate() + dt.timedelta(days=3)
    publish("BNS", [line("BROTH", "450", "ml")], effective_from=start)
    assert check_recipe_versions() == []
    Recipe.objects.filter(item=shop.items["BNS"], version=1).update(effective_to=None)  # tamper
    assert check_recipe_versions() == [
        f"BNS: version 1 ends on None but version 2 starts on {start.isoformat()}"
    ]
