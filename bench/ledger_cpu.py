"""CPU per batch of the ledger's batch API, for A/B comparisons on a shared machine.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/br_ledger_cpu_a \
        .venv/bin/python bench/ledger_cpu.py --batches 40 --warm 10 --label after

Re-creates the database and seeds it as `bench/ledger.py` does, posts `--warm` batches of 5,000
lines through the API and then `--batches` more, and prints the medians over the latter of
the client's CPU per line (the request only: building the JSON is left out), of the
PostgreSQL backend's CPU per move row and of the wall time per move row; then the
`check-ledgers` rebuild's differences. Wall time needs a quiet machine; CPU time much less so.

On a busy machine, compare two trees in the same minutes: run one copy of this script per tree
at once, each with its own database (paired), and repeat a few times:

    for tree in /tmp/before /tmp/after; do
        DATABASE_URL=postgres://postgres@127.0.0.1:5432/br_ledger_cpu_$(basename $tree) \
            PYTHONPATH=$tree nice -n 19 .venv/bin/python $tree/bench/ledger_cpu.py \
            --label $(basename $tree) &
    done; wait
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import ledger as bench  # noqa: E402 (bench/ledger.py: database set-up, seed, batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=40, help="measured batches")
    parser.add_argument("--warm", type=int, default=10, help="batches posted first, not measured")
    parser.add_argument("--label", default="run")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    bench._setup(keep=False)

    from django.test import Client

    from backroom.accounts import services as accounts
    from backroom.inventory.ledger_checks import balance_differences, valuation_differences
    from backroom.inventory.models import StockMove

    items, sites, user, role, group = bench._seed(200)
    token = accounts.create_api_token(actor=user, name="bench", role=role, node=group).raw
    locations = [location for site in sites for location in site]
    client = Client(SERVER_NAME="localhost", HTTP_AUTHORIZATION=f"Bearer {token}")
    rng = random.Random(args.seed)
    run = f"cpu{int(time.time())}"
    measured: list[tuple[float, float, float]] = []
    for number in range(args.warm + args.batches):
        data = json.dumps({"moves": bench._batch(rng, number * 5000, 5000, items, locations, run)})
        rows_before = StockMove.objects.count()
        server_started = bench._backend_cpu_seconds() or 0.0
        cpu_started, wall_started = time.process_time(), time.perf_counter()
        response = client.post(
            "/api/v1/inventory/batches",
            data=data,
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=f"{run}-batch-{number}",
        )
        wall = time.perf_counter() - wall_started
        cpu = time.process_time() - cpu_started
        server = (bench._backend_cpu_seconds() or 0.0) - server_started
        if response.status_code != 201:
            sys.exit(f"batch {number} failed: {response.status_code} {response.content[:500]!r}")
        if number >= args.warm:
            rows = StockMove.objects.count() - rows_before
            measured.append((1e6 * cpu / 5000, 1e6 * server / rows, 1e6 * wall / rows))
    differences = len(balance_differences() + valuation_differences())

    def median(position: int) -> float:
        return statistics.median(row[position] for row in measured)

    print(
        f"{args.label}: client {median(0):.1f} µs/line (fastest {min(r[0] for r in measured):.1f}), "
        f"server {median(1):.1f} µs/move row, wall {median(2):.1f} µs/move row, "
        f"{differences} differences, load {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
