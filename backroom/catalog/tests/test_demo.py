"""The catalog demo seed: size, realism and that every dish explodes and costs."""

from __future__ import annotations

import random
import time
from decimal import Decimal

from backroom.catalog import costing, demo, recipes
from backroom.catalog.models import Item, ItemUnit, MenuPrice, Modifier, Recipe
from backroom.config.demo import DemoContext


def test_demo_catalog_is_realistic_and_consistent(tree):
    ctx = DemoContext(random=random.Random(42))
    started = time.perf_counter()
    demo.seed(ctx)
    elapsed = time.perf_counter() - started
    kinds = dict.fromkeys(["ingredient", "prepared", "menu", "retail", "supplies", "spare_part"], 0)
    for kind in Item.objects.values_list("kind", flat=True):
        kinds[kind] += 1
    assert kinds == {
        "ingredient": len(demo.INGREDIENTS),
        "prepared": 24,
        "menu": 40,
        "retail": 5,
        "supplies": 12,
        "spare_part": 3,
    }
    assert 110 <= kinds["ingredient"] <= 130
    assert Recipe.objects.count() == 64
    assert Modifier.objects.count() == 10
    assert MenuPrice.objects.count() == 90
    assert ItemUnit.objects.get(item__sku="EGG", code="tray").factor == Decimal(30)
    assert ItemUnit.objects.get(item__sku="SHAOXING", code="bottle").factor == Decimal("0.75")
    assert ItemUnit.objects.get(item__sku="FLOUR-HG", code="case").name == "case of 6 × 2.5 kg"
    # made-ahead preps carry the standard cost of their recipe: 40 l of broth from 20 kg of
    # bones at 14 (280), 400 g ginger at 10 % trim (6.2222), 500 g leek at 15 % (2.9412),
    # spices 6.30 and salt 0.75 = 296.2134 → 7.4053 per litre
    broth = Item.objects.get(sku="PREP-BEEF-BROTH")
    assert broth.standard_cost == Decimal("7.4053")
    # every dish explodes to stocked items and has a complete chain cost card in CNY
    for sku in ctx.extra["catalog"]["menu"]:
        item = Item.objects.get(sku=sku)
        assert recipes.explode(item, Decimal(1), on=demo.MENU_FROM)
        card = costing.cost_card(item, None, on=demo.MENU_FROM)
        assert card.is_complete, (sku, card.warnings)
        assert Decimal(5) < card.food_cost_percent < Decimal(45), (sku, card.food_cost_percent)
    hk = costing.cost_card(
        Item.objects.get(sku="M-BEEF-NOODLE"), tree.store_hk.site, on=demo.MENU_FROM
    )
    assert (hk.price_amount, hk.price_currency) == (Decimal("48"), "HKD")
    print(f"catalog demo seed: {elapsed:.2f}s")
