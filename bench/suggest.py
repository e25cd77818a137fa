"""Suggested orders for many stores at once: the morning job's cost.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/br_suggest_bench \
        .venv/bin/python bench/suggest.py --stores 500 --items 300

The database in DATABASE_URL is dropped and re-created (unless --keep), migrated and seeded:
`--stores` stores under one region; `--items` ingredients (with a case unit) sold by one
supplier that delivers Mon/Wed/Fri, each store's order guide holding all of them (pars on a
tenth); `--items / 5` menu items whose recipes use 6 ingredients each; 14 days of forecasts
per store × menu item and each series' backtest error. Only `build_suggestions` for every
store is timed (the nightly job's second half); it prints stores/s, lines/s and the total.
Target (issue 6): 500 stores × 300 items in ≤ 60 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ledger import _setup  # noqa: E402

MONDAY = dt.date(2026, 11, 2)


def _seed(store_count: int, item_count: int) -> list:  # type: ignore[type-arg]
    from backroom.catalog import services as catalog
    from backroom.catalog.models import Item
    from backroom.kernel.actors import SYSTEM
    from backroom.org.choices import NodeKind
    from backroom.planning.models import DemandForecast, ForecastAccuracy, ForecastRun
    from backroom.procurement import services as procurement
    from backroom.testing.factories import make_node

    rng = random.Random(7)
    group = make_node(NodeKind.GROUP, None, "BENCH")
    entity = make_node(NodeKind.ENTITY, group, "BENCH-CO")
    region = make_node(NodeKind.REGION, entity, "BENCH-R")
    stores = [make_node(NodeKind.STORE, region, f"S{n:04d}").site for n in range(store_count)]
    catalog.create_item_class(
        catalog.ItemClassInput(code="food", name="Food", negative_stock_policy="allow"),
        actor=SYSTEM,
    )
    ingredients = []
    for n in range(item_count):
        item = catalog.create_item(
            catalog.ItemInput(
                sku=f"ING{n:04d}",
                name=f"Ingredient {n}",
                kind="ingredient",
                base_unit="kg",
                item_class="food",
            ),
            actor=SYSTEM,
        )
        ingredients.append(item)
    menu = []
    for n in range(max(item_count // 5, 1)):
        dish = catalog.create_item(
            catalog.ItemInput(
                sku=f"DISH{n:03d}",
                name=f"Dish {n}",
                kind="menu",
                base_unit="each",
                item_class="food",
            ),
            actor=SYSTEM,
        )
        catalog.publish_recipe(
            dish,
            catalog.RecipeInput(
                effective_from=dt.date(2026, 1, 1),
                lines=[
                    catalog.RecipeLineInput(
                        component_sku=part.sku,
                        quantity=Decimal(rng.randint(20, 200)),
                        unit_code="g",
                    )
                    for part in rng.sample(ingredients, 6)
                ],
            ),
            actor=SYSTEM,
        )
        menu.append(Item.objects.get(pk=dish.pk))
    supplier = procurement.create_supplier(
        procurement.SupplierInput(
            code="BIG", name="Big Supplier", node_id=entity.pk, currency="CNY"
        ),
        actor=SYSTEM,
    )
    supplier_items = [
        procurement.set_supplier_item(
            supplier,
            procurement.SupplierItemInput(
                item_id=item.pk, purchase_unit="kg", pack_size=Decimal(rng.choice([1, 2.5, 5, 10]))
            ),
            actor=SYSTEM,
        )
        for item in ingredients
    ]
    procurement.create_price_list(
        supplier,
        procurement.PriceListInput(
            name="2026",
            valid_from=dt.date(2026, 1, 1),
            lines=[procurement.PriceLineInput(item.pk, Decimal("10.00")) for item in ingredients],
        ),
        actor=SYSTEM,
    )
    procurement.set_delivery_calendar(
        supplier,
        procurement.CalendarInput(node_id=region.pk, weekdays=[1, 3, 5], cutoff_time=dt.time(10)),
        actor=SYSTEM,
    )
    pars = {si.pk: Decimal(20) for si in supplier_items[::10]}
    for store in stores:
        procurement.set_order_guide(
            store, supplier, [si.pk for si in supplier_items], actor=SYSTEM, pars=pars
        )
    run = ForecastRun.objects.create(
        started_at=dt.datetime.now(dt.UTC),
        as_of=MONDAY - dt.timedelta(days=1),
        horizon=14,
        status="done",
    )
    rows, errors = [], []
    for store in stores:
        for dish in menu:
            level = rng.randint(5, 60)
            errors.append(
                ForecastAccuracy(
                    run=run, site=store, menu_item=dish, model="bench", error_scale=level / 5
                )
            )
            for day in range(14):
                rows.append(
                    DemandForecast(
                        run=run,
                        site=store,
                        menu_item=dish,
                        date=MONDAY + dt.timedelta(days=day),
                        quantity=Decimal(level),
                        model="bench",
                    )
                )
    DemandForecast.objects.bulk_create(rows, batch_size=5000)
    ForecastAccuracy.objects.bulk_create(errors, batch_size=5000)
    return stores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stores", type=int, default=500)
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--keep", action="store_true", help="reuse the database as it is")
    args = parser.parse_args()
    _setup(args.keep)
    started = time.perf_counter()
    stores = _seed(args.stores, args.items)
    print(
        f"seeded {args.stores} stores × {args.items} items in {time.perf_counter() - started:.0f} s"
    )

    from backroom.catalog.batch import catalog_batch
    from backroom.planning.models import SuggestedLine
    from backroom.planning.suggestions import build_suggestions

    started = time.perf_counter()
    cpu = time.process_time()
    shared: dict[str, object] = {}
    with catalog_batch():
        for store in stores:
            build_suggestions(store, today=MONDAY, shared=shared)
    elapsed = time.perf_counter() - started
    lines = SuggestedLine.objects.count()
    print(
        f"suggested {len(stores)} stores, {lines} lines in {elapsed:.1f} s "
        f"({len(stores) / elapsed:.1f} stores/s, {lines / elapsed:.0f} lines/s; "
        f"client CPU {time.process_time() - cpu:.1f} s)"
    )


if __name__ == "__main__":
    main()
