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

`--clients N` posts with N processes at once, each on its own sites (locks are per item ×
location, so they never wait for each other); the rate is then measured on the wall clock,
building requests included. The CPU time of the client processes and of their PostgreSQL
backends (read from /proc: a local server only) is printed too: on a shared machine it is
steadier than wall time. `--profile PATH` writes a cProfile of the posting calls (one client).
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


def _seed(item_count: int, site_count: int = 2):  # type: ignore[no-untyped-def]
    from backroom.accounts.models import Role
    from backroom.catalog import services as catalog
    from backroom.inventory import services
    from backroom.kernel.actors import SYSTEM
    from backroom.org.choices import NodeKind
    from backroom.testing.factories import make_node, make_user

    group = make_node(NodeKind.GROUP, None, "BENCH")
    entity = make_node(NodeKind.ENTITY, group, "BENCH-CO")
    # A store and a warehouse, and more warehouses when more clients post at once (each client
    # posts to its own sites); the 8 locations are shared out between the sites.
    nodes = [make_node(NodeKind.STORE, entity, "BENCH-S1")] + [
        make_node(NodeKind.WAREHOUSE, entity, f"BENCH-W{n}") for n in range(1, site_count)
    ]
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
    kinds = (("WALKIN", "walk_in"), ("FREEZER", "freezer"), ("DRY", "dry_store"), ("BAR", "bar"))
    per_site = 8 // site_count
    sites = [
        [
            services.create_location(
                node.site, code=f"{code}{n // 4 or ''}", name=code, kind=kind, actor=SYSTEM
            ).pk
            for n, (code, kind) in enumerate(kinds[n % 4] for n in range(per_site))
        ]
        for node in nodes
    ]
    user = make_user("hq_admin", group, username="bench")
    role = Role.objects.get(code="hq_admin")
    return items, sites, user, role, group


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


def _backend_cpu_seconds() -> float | None:
    """CPU seconds used so far by this connection's PostgreSQL backend (a local server only):
    on a shared machine CPU time is steadier than wall time."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _post(  # type: ignore[no-untyped-def]
    args, items, locations, user, token: str | None, run: str, lines_to_post: int, seed: int
) -> dict[str, float]:
    """Post `lines_to_post` lines over `locations` in batches; timings and CPU of this client."""
    from django.test import Client

    from backroom.inventory import services

    if args.via == "api":
        client = Client(SERVER_NAME="localhost", HTTP_AUTHORIZATION=f"Bearer {token}")
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
    rng = random.Random(seed)
    posted = 0
    request_seconds = 0.0
    server_started = _backend_cpu_seconds()
    cpu_started = time.process_time()
    started = time.perf_counter()
    while posted < lines_to_post:
        size = min(args.batch, lines_to_post - posted)
        lines = _batch(rng, posted, size, items, locations, run)
        tick = time.perf_counter()
        if profiler is not None:
            profiler.enable()
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
        if profiler is not None:
            profiler.disable()
        request_seconds += time.perf_counter() - tick
        posted += size
        if args.clients == 1 and (posted % (args.batch * 20) == 0 or posted == lines_to_post):
            elapsed = time.perf_counter() - started
            print(f"{posted:>9,} lines  {posted / elapsed:>9,.0f} lines/s", flush=True)
    elapsed = time.perf_counter() - started
    client_cpu = time.process_time() - cpu_started
    server_ended = _backend_cpu_seconds()
    if profiler is not None:
        profiler.dump_stats(args.profile)
    return {
        "lines": posted,
        "elapsed": elapsed,
        "request_seconds": request_seconds,
        "client_cpu": client_cpu,
        "server_cpu": (
            server_ended - server_started
            if server_started is not None and server_ended is not None
            else float("nan")
        ),
    }


def _post_in_child(queue, barrier, *post_args) -> None:  # type: ignore[no-untyped-def]
    from django.db import connections

    connections.close_all()  # a forked child must not share the parent's connection
    barrier.wait()
    queue.put(_post(*post_args))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--moves", type=int, default=1_000_000, help="lines to post")
    parser.add_argument("--batch", type=int, default=5000, help="lines per request (≤ 5000)")
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--via", choices=["api", "service"], default="api")
    parser.add_argument(
        "--clients",
        type=int,
        default=1,
        choices=[1, 2, 4],
        help="concurrent posting processes, each on its own sites (default 1)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database (no re-create)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--profile", metavar="PATH", help="cProfile the posting calls into PATH (pstats format)"
    )
    args = parser.parse_args()
    _setup(args.keep)

    from backroom.accounts import services as accounts
    from backroom.inventory.ledger_checks import balance_differences, valuation_differences
    from backroom.inventory.models import StockMove

    items, sites, user, role, group = _seed(args.items, max(2, args.clients))
    token = None
    if args.via == "api":
        token = accounts.create_api_token(actor=user, name="bench", role=role, node=group).raw
    run = f"bench{int(time.time())}"
    if args.clients == 1:
        locations = [location for site in sites for location in site]
        results = [_post(args, items, locations, user, token, run, args.moves, args.seed)]
        elapsed = results[0]["elapsed"]
        posting_seconds = results[0]["request_seconds"]
    else:
        import multiprocessing

        from django.db import connections

        connections.close_all()
        context = multiprocessing.get_context("fork")
        queue = context.Queue()
        barrier = context.Barrier(args.clients + 1)
        share = args.moves // args.clients
        children = [
            context.Process(
                target=_post_in_child,
                args=(
                    queue,
                    barrier,
                    args,
                    items,
                    [location for site in sites[n :: args.clients] for location in site],
                    user,
                    token,
                    f"{run}c{n}",
                    share,
                    args.seed + n,
                ),
            )
            for n in range(args.clients)
        ]
        for child in children:
            child.start()
        barrier.wait()
        started = time.perf_counter()
        results = [queue.get() for _ in children]
        elapsed = time.perf_counter() - started
        for child in children:
            child.join()
            if child.exitcode != 0:
                sys.exit(f"a posting client failed (exit code {child.exitcode})")
        posting_seconds = elapsed  # clients overlap: only the wall time means anything
    posted = sum(int(result["lines"]) for result in results)
    client_cpu = sum(result["client_cpu"] for result in results)
    server_cpu = sum(result["server_cpu"] for result in results)
    rows = StockMove.objects.count()
    print(
        f"posted {posted:,} lines as {rows:,} move rows via {args.via} with {args.clients} "
        f"client(s) in {elapsed:.1f} s"
    )
    print(f"lines/s (wall, incl. building requests): {posted / elapsed:,.0f}")
    print(f"lines/s (posting only): {posted / posting_seconds:,.0f}")
    print(f"move rows/s (posting only): {rows / posting_seconds:,.0f}")
    print(
        f"CPU: clients {client_cpu:.1f} s ({1e6 * client_cpu / posted:.1f} µs/line, "
        f"building requests included), server backends {server_cpu:.1f} s "
        f"({1e6 * server_cpu / rows:.1f} µs/move row)"
    )
    tick = time.perf_counter()
    differences = balance_differences() + valuation_differences()
    print(
        f"check-ledgers rebuild: {len(differences)} differences in {time.perf_counter() - tick:.1f} s"
    )


if __name__ == "__main__":
    main()
