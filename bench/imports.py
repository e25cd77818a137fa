"""Import a large opening-stock file on PostgreSQL as the worker does, kill it mid-way, resume
it, and check that exactly the right rows are in the ledger; print time and memory.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/br_imports_bench \\
        .venv/bin/python bench/imports.py --rows 200000

The database is dropped and re-created, migrated and seeded (a chain of two stores with a
walk-in each, `rows / 100` items). A CSV file of `rows` rows (store × item × lot, a litre to a
few at a cost) is uploaded through the imports service. The job then runs in a child process
calling the worker task's body (`run_job`): with `--kill-at F` (default 0.4) the child is
SIGKILLed once a fraction F of the rows is applied, and a second child resumes the job under a
new token (what `resume_stalled_imports` and the worker do). The child's resident memory is
sampled from /proc every 0.2 s. At the end the ledger must hold exactly one opening move per
row with the file's total quantity.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
VAR = Path(os.environ.setdefault("BACKROOM_VAR_DIR", "/tmp/br-imports-bench"))


def _environment() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backroom.config.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret")
    os.environ.setdefault("HUEY_IMMEDIATE", "0")
    os.environ.setdefault("ALLOWED_HOSTS", "localhost")


def _setup() -> None:
    from ledger import _recreate_database  # bench/ledger.py

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database (it is dropped and re-created).")
    _environment()
    _recreate_database(url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _seed(rows: int) -> tuple[object, bytes, Decimal]:
    from backroom.catalog import services as catalog
    from backroom.imports.testing import csv_file
    from backroom.inventory import services as inventory
    from backroom.kernel.actors import SYSTEM
    from backroom.testing.factories import make_tree, make_user

    tree = make_tree()
    for node in (tree.store_a, tree.store_b):
        inventory.create_location(
            node.site, code="WALKIN", name="Walk-in", kind="walk_in", actor=SYSTEM
        )
    catalog.create_item_class(
        catalog.ItemClassInput(code="food", name="Food", negative_stock_policy="forbid"),
        actor=SYSTEM,
    )
    items = max(1, rows // 100)
    for number in range(items):
        catalog.create_item(
            catalog.ItemInput(
                sku=f"SKU{number:05d}",
                name=f"Item {number}",
                kind="ingredient",
                base_unit="l",
                item_class="food",
            ),
            actor=SYSTEM,
        )
    admin = make_user("hq_admin", tree.group, username="bench-admin")
    header = [
        "Store code",
        "Location code",
        "Item SKU",
        "Lot",
        "Expiry date",
        "Quantity",
        "Unit",
        "Unit cost",
    ]
    lines = []
    total = Decimal(0)
    for number in range(rows):
        store = ("SHA001", "SHA002")[number % 2]
        item = (number // 2) % items
        lot = number // (2 * items)
        quantity = Decimal(1 + number % 7) / 2
        total += quantity
        lines.append(
            [store, "WALKIN", f"SKU{item:05d}", f"L{lot:04d}", "2099-12-31", quantity, "", "12.5"]
        )
    return admin, csv_file(header, lines), total


def _child(job_id: int, token: str) -> None:
    _environment()
    import django

    django.setup()
    from backroom.imports.services import run_job

    job = run_job(job_id, token)
    print(job.status if job else "superseded", flush=True)


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _run(job_id: int, token: str, *, kill_at: int | None, total: int) -> dict[str, object]:
    from backroom.imports.models import ImportJob

    child = subprocess.Popen(
        [sys.executable, __file__, "--child", str(job_id), token],
        env=os.environ.copy(),
    )
    started = time.perf_counter()
    samples: list[tuple[float, int, int]] = []  # (seconds, applied rows, rss kB)
    killed = False
    while child.poll() is None:
        job = ImportJob.objects.filter(pk=job_id).values("applied_rows", "status").get()
        samples.append((time.perf_counter() - started, job["applied_rows"], _rss_kb(child.pid)))
        if kill_at is not None and job["applied_rows"] >= kill_at:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
            killed = True
            break
        time.sleep(0.2)
    elapsed = time.perf_counter() - started
    by_quarter = {}
    for quarter in (1, 2, 3, 4):
        seen = [rss for _s, applied, rss in samples if rss and applied <= total * quarter / 4]
        if seen:
            by_quarter[quarter] = max(seen) // 1024
    return {
        "seconds": elapsed,
        "killed": killed,
        "peak_mb": max(s[2] for s in samples) // 1024,
        "rss_mb_by_quarter_applied": by_quarter,
        "samples": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--kill-at", type=float, default=0.4)
    parser.add_argument("--child", nargs=2, metavar=("JOB", "TOKEN"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        _child(int(options.child[0]), options.child[1])
        return
    _setup()
    from django.db.models import Count, Sum

    from backroom.imports.models import ImportJob
    from backroom.imports.services import upload_import
    from backroom.imports.services.engine import claim
    from backroom.inventory.models import StockMove

    admin, data, expected = _seed(options.rows)
    print(f"file: {options.rows} rows, {len(data) / 1e6:.1f} MB CSV", flush=True)
    job = upload_import("opening_stock", "stock.csv", data, actor=admin)
    ImportJob.objects.filter(pk=job.pk).update(apply_requested=True)
    kill_at = int(options.rows * options.kill_at) if options.kill_at else None
    first = _run(job.pk, claim(job, "checking"), kill_at=kill_at, total=options.rows)
    job.refresh_from_db()
    print(
        f"run 1: {first['seconds']:.1f} s, killed={first['killed']} at "
        f"{job.applied_rows} rows applied (status {job.status}), peak RSS "
        f"{first['peak_mb']} MB",
        flush=True,
    )
    second = _run(job.pk, claim(job, job.status), kill_at=None, total=options.rows)
    job.refresh_from_db()
    moves = StockMove.objects.filter(source_type="opening_stock").aggregate(
        count=Count("id"), quantity=Sum("quantity"), keys=Count("idempotency_key", distinct=True)
    )
    print(
        f"run 2 (resume): {second['seconds']:.1f} s, status {job.status}, peak RSS "
        f"{second['peak_mb']} MB; RSS by quarter of rows applied: "
        f"{second['rss_mb_by_quarter_applied']}",
        flush=True,
    )
    applied = [(s, a) for s, a, _r in second["samples"] if a]
    if len(applied) > 1:
        (s0, a0), (s1, a1) = applied[0], applied[-1]
        if s1 > s0:
            print(f"apply rate after the check: {(a1 - a0) / (s1 - s0):,.0f} rows/s")
    ok = (
        job.status == "applied"
        and moves["count"] == options.rows
        and moves["keys"] == options.rows
        and moves["quantity"] == expected
        and job.created_count + job.unchanged_count == options.rows
    )
    print(
        f"ledger: {moves['count']} moves, {moves['keys']} keys, quantity {moves['quantity']} "
        f"(expected {options.rows} and {expected}); job counts created {job.created_count}, "
        f"unchanged {job.unchanged_count} -> {'OK' if ok else 'WRONG'}"
    )
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
