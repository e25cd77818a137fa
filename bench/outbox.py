"""CPU of writing many events to the outbox at once (`events.publish_many`), as a till batch of
1,000 orders does with its 2,000 events; for A/B comparisons of two trees.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/br_outbox_bench \
        .venv/bin/python bench/outbox.py --events 2000 --repeat 12

Runs against the database as it is (migrated: `backroom migrate`); every round is rolled back.
The in-process subscribers are switched off, so only building and inserting the rows is
measured. Prints the median and the fastest round's CPU time of this process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=12)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backroom.config.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret")
    os.environ.setdefault("BACKROOM_VAR_DIR", "/tmp/br-outbox-bench")
    os.environ.setdefault("HUEY_IMMEDIATE", "0")
    import django

    django.setup()
    from django.db import connection, transaction

    from backroom.channels.events import OrderReceived
    from backroom.events import services

    payloads = [
        OrderReceived(
            order_id=n,
            account_id=1,
            site_id=1,
            kind="pos",
            external_id=f"2c1f6a8e-{n:012d}",
            status="completed",
            total=str(Decimal("48.50")),
            currency="CNY",
            unmapped_lines=0,
        )
        for n in range(args.events)
    ]
    services._subscribers[:] = []  # only the outbox rows (this process only)
    rounds = []
    for _ in range(args.repeat):
        with transaction.atomic():
            started = time.process_time()
            services.publish_many(payloads)
            rounds.append(time.process_time() - started)
            transaction.set_rollback(True)
    print(
        f"{connection.vendor}: {args.events:,} events, CPU per round: median "
        f"{statistics.median(rounds) * 1e3:.1f} ms, fastest {min(rounds) * 1e3:.1f} ms"
    )


if __name__ == "__main__":
    main()
