"""Post N stock moves through the ledger's batch API on PostgreSQL and print moves/s.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/br_ledger_bench \
        .venv/bin/python bench/ledger.py --moves 1000000 --batch 5000

The database named in DATABASE_URL is dropped and re-created (unless --keep), migrated, and
seeded with one store, a warehouse, 200 items and 8 locations. Each batch is a realistic mix:
receipts (a third with a lot and expiry), consumption FEFO across lots, and a few count
adjustments, spread over random item × location pairs, so every batch locks a few hundred
balance rows. `--via api` (default) posts JSON to POST /api/v1/inventory/batches in-process
through Django's full middleware stack (bearer token, Idempotency-Key, ninja validation);
`--via service` calls `inventory.services.post_moves` directly. Only the posting loop is timed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _recreate_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def _setup(keep: bool) -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database (it is dropped and re-created).")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backroom.config.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret")
    os.environ.setdefault("BACKROOM_VAR_DIR", "/tmp/br-ledger-bench")
    os.environ.setdefault("HUEY_IMMEDIATE", "0")
    os.environ.setdefault("ALLOWED_HOSTS", "localhost")
    if not keep:
        _recreate_database(url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _seed(item_count: int):  # type: ignore[no-untyped-def]
    from backroom.accounts.models import Role
    from backroom.catalog import services as catalog
    from backroom.inventory import services
    from backroom.kernel.actors import SYSTEM
    from backroom.org.choices import NodeKind
    from backroom.testing.factories import make_node, make_user

    group = make_node(NodeKind.GROUP, None, "BENCH")
    entity = make_node(NodeKind.ENTITY, group, "BENCH-CO")
    store = make_node(NodeKind.STORE, entity, "BENCH-S1")
    warehouse = make_node(NodeKind.WAREHOUSE, entity, "BENCH-W1")
    catalog.create_item_class(
        catalog.ItemClassInput(code="bench", name="Bench", negative_stock_policy="allow"),
        actor=SYSTEM,
    )
    items = [
        catalog.create_item(
            catalog.ItemInput(
                sku=f"B{n:05d}",
                name=f"Bench item {n}",
                kind="ingredient",
                base_unit="kg",
                item_class="bench",
            ),
            actor=SYSTEM,
        ).pk
        for n in range(item_count)
    ]
    locations = [
        services.create_location(node.site, code=code, name=code, kind=kind, actor=SYSTEM).pk
        for node in (store, warehouse)
        for code, kind in (
            ("WALKIN", "walk_in"),
            ("FREEZER", "freezer"),
            ("DRY", "dry_store"),
            ("BAR", "bar"),
        )
    ]
    user = make_user("hq_admin", group, username="bench")
    role = Role.objects.get(code="hq_admin")
    return items, locations, user, role, group


def _batch(rng: random.Random, start: int, size: int, items, locations, run: str):  # type: ignore[no-untyped-def]
    lines = []
    for n in range(start, start + size):
        item = rng.choice(items)
        location = rng.choice(locations)
        roll = rng.random()
        line = {"key": f"{run}-{n}", "item_id": item, "location_id": location}
        if roll < 0.5:
            line |= {
                "action": "receive",
                "quantity": str(rng.randint(1, 50)),
                "unit_cost": f"{rng.randint(100, 900) / 100:.2f}",
            }
            if roll < 0.17:
                day = rng.randint(1, 28)
                line |= {"lot_code": f"L{day:02d}", "expiry_date": f"2099-02-{day:02d}"}
        elif roll < 0.95:
            line |= {"action": "issue", "quantity": str(rng.randint(1, 20))}
        else:
            line |= {
                "action": "adjust",
                "quantity": str(rng.randint(-3, 3) or 1),
                "reason": "count_variance",
            }
        lines.append(line)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--moves", type=int, default=1_000_000, help="lines to post")
    parser.add_argument("--batch", type=int, default=5000, help="lines per request (≤ 5000)")
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--via", choices=["api", "service"], default="api")
    parser.add_argument("--keep", action="store_true", help="keep the database (no re-create)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    _setup(args.keep)

    from django.test import Client

    from backroom.accounts import services as accounts
    from backroom.inventory import services
    from backroom.inventory.ledger_checks import balance_differences, valuation_differences
    from backroom.inventory.models import StockMove

    items, locations, user, role, group = _seed(args.items)
    if args.via == "api":
        token = accounts.create_api_token(actor=user, name="bench", role=role, node=group)
        client = Client(SERVER_NAME="localhost", HTTP_AUTHORIZATION=f"Bearer {token.raw}")

    rng = random.Random(args.seed)
    run = f"bench{int(time.time())}"
    posted = 0
    request_seconds = 0.0
    started = time.perf_counter()
    while posted < args.moves:
        size = min(args.batch, args.moves - posted)
        lines = _batch(rng, posted, size, items, locations, run)
        tick = time.perf_counter()
        if args.via == "api":
            response = client.post(
                "/api/v1/inventory/batches",
                data=json.dumps({"moves": lines}),
                content_type="application/json",
                HTTP_IDEMPOTENCY_KEY=f"{run}-batch-{posted}",
            )
            if response.status_code != 201:
                sys.exit(
                    f"batch at {posted} failed: {response.status_code} {response.content[:500]!r}"
                )
        else:
            services.post_moves(
                [
                    services.MoveInput(
                        action=line["action"],
                        item_id=line["item_id"],
                        location_id=line["location_id"],
                        quantity=Decimal(line["quantity"]),
                        key=line["key"],
                        unit_cost=Decimal(line["unit_cost"]) if "unit_cost" in line else None,
                        lot_code=line.get("lot_code"),
                        reason=line.get("reason"),
                        expiry_date=(
                            dt.date.fromisoformat(line["expiry_date"])
                            if "expiry_date" in line
                            else None
                        ),
                    )
                    for line in lines
                ],
                actor=user,
            )
        request_seconds += time.perf_counter() - tick
        posted += size
        if posted % (args.batch * 20) == 0 or posted == args.moves:
            elapsed = time.perf_counter() - started
            print(f"{posted:>9,} lines  {posted / elapsed:>9,.0f} lines/s", flush=True)
    elapsed = time.perf_counter() - started
    rows = StockMove.objects.count()
    print(f"posted {posted:,} lines as {rows:,} move rows via {args.via} in {elapsed:.1f} s")
    print(f"lines/s (wall, incl. building requests): {posted / elapsed:,.0f}")
    print(f"lines/s (posting only): {posted / request_seconds:,.0f}")
    print(f"move rows/s (posting only): {rows / request_seconds:,.0f}")
    tick = time.perf_counter()
    differences = balance_differences() + valuation_differences()
    print(
        f"check-ledgers rebuild: {len(differences)} differences in {time.perf_counter() - tick:.1f} s"
    )


if __name__ == "__main__":
    main()
