"""Ingest N till orders through the POS batch API with depletion on; print orders/s and rows/s.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/br_ingest_bench \
        .venv/bin/python bench/ingest.py --orders 1000000 --single 2000
    DATABASE_URL=sqlite:////tmp/br-ingest-bench/bench.sqlite3 \
        .venv/bin/python bench/ingest.py --orders 50000

The database named in DATABASE_URL is dropped and re-created (a SQLite file is deleted), migrated
and seeded with the demo chain's organisation and menu (45 menu items, recipes with sub-recipes
and modifiers), a stock location at store SH001 holding plenty of every stocked item, and a POS
channel account. Each order has 4 lines of random menu items (a third of them with a modifier),
so a completed order explodes into about 20–30 ingredient quantities that the ledger consumes.
Orders go to POST /api/v1/channels/pos/batches (`--batch` orders per request, ≤ 1,000)
in-process through Django's full middleware stack (bearer token, ninja validation, JSON), with
synchronous commit on. Only the posting loop is timed. `--single N` then posts N orders one
request each to POST /api/v1/channels/pos/orders and prints requests/s and p50/p99 latency;
the request stores the order and the worker applies it (decision 0012), so the worker's job is
then run here on what they stored and timed too. `--steady RATE` instead offers single orders
at a steady RATE per second for `--seconds` from `--clients` processes (open loop: a request's
latency counts from the moment it was due, so falling behind shows) while `backroom worker`
runs beside them; it prints the latencies, how far the worker lagged, and the machine's CPU.
The posting time is split into `post_moves` (the ledger), the in-process subscribers of the
channels order events (sales rollups) and the rest; `--profile PATH` writes cProfile data for
the batch requests to PATH and for the single ones to PATH.single. CPU time is printed too
(this process while posting, and the PostgreSQL backend's, read from /proc on a local server):
on a shared machine it is steadier than wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LINES_PER_ORDER = 4


def _recreate_database(url: str) -> None:
    if url.startswith("sqlite"):
        path = Path(urlparse(url).path)
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def _setup() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres", "sqlite")):
        sys.exit("Set DATABASE_URL to a PostgreSQL or SQLite database (it is re-created).")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backroom.config.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret")
    os.environ.setdefault("BACKROOM_VAR_DIR", "/tmp/br-ingest-bench")
    os.environ.setdefault("HUEY_IMMEDIATE", "0")
    os.environ.setdefault("ALLOWED_HOSTS", "localhost")
    _recreate_database(url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return "postgresql" if url.startswith("postgres") else "sqlite"


STORES = ("SH001", "SH002", "SH003", "HZ001", "NJ001")


def _seed(stores: int = 1):  # type: ignore[no-untyped-def]
    """The demo organisation and menu; SH001 (and the next `stores` − 1 stores) stocked, each
    with a POS account; an API token. Returns the first store's site id, the menu, the
    modifiers, the token and every stocked store's site id."""
    from backroom.accounts import services as accounts
    from backroom.accounts.models import Role
    from backroom.catalog.choices import STOCKED_KINDS
    from backroom.catalog.models import Item, Modifier, Recipe
    from backroom.channels import services as channels
    from backroom.config.demo import seed_demo
    from backroom.inventory import services as inventory
    from backroom.kernel.actors import SYSTEM
    from backroom.org.models import OrgNode
    from backroom.testing.factories import make_user

    seed_demo(only=["org", "accounts", "catalog"])
    stocked = list(Item.objects.filter(kind__in=STOCKED_KINDS, is_active=True).order_by("pk"))
    site_ids = []
    for code in STORES[:stores]:
        store = OrgNode.objects.get(code=code)
        location = inventory.create_location(
            store.site, code="BENCH", name="Bench walk-in", kind="walk_in", actor=SYSTEM
        )
        inventory.post_moves(
            [
                inventory.MoveInput(
                    action="receive",
                    item_id=item.pk,
                    location_id=location.pk,
                    quantity=10**9,
                    unit_cost=1,
                    key=f"bench-stock-{code}-{item.pk}",
                )
                for item in stocked
            ],
            actor=SYSTEM,
        )
        channels.create_account(
            site=store.site, kind="pos", name="Bench tills", location=location, actor=SYSTEM
        )
        site_ids.append(store.site.pk)
    menu = sorted(
        set(
            Recipe.objects.filter(item__kind="menu", item__is_active=True).values_list(
                "item__sku", flat=True
            )
        )
    )
    modifiers = list(Modifier.objects.filter(is_active=True).values_list("code", flat=True))
    group = OrgNode.objects.get(parent=None)
    user = make_user("hq_admin", group, username="bench")
    token = accounts.create_api_token(
        actor=user, name="bench", role=Role.objects.get(code="hq_admin"), node=group
    ).raw
    return site_ids[0], menu, modifiers, token, site_ids


def _order(rng: random.Random, site_id: int, menu: list[str], modifiers: list[str], at: datetime):  # type: ignore[no-untyped-def]
    lines = []
    for _ in range(LINES_PER_ORDER):
        line = {
            "sku": rng.choice(menu),
            "quantity": str(rng.choice((1, 1, 1, 2))),
            "unit_price": f"{rng.randint(800, 4800) / 100:.2f}",
        }
        if modifiers and rng.random() < 1 / 3:
            line["modifiers"] = [{"code": rng.choice(modifiers)}]
        lines.append(line)
    return {
        "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "store_id": site_id,
        "placed_at": at.isoformat(),
        "lines": lines,
    }


class _LedgerClock:
    """Time spent inside `inventory.services.post_moves` (wherever it is called from)."""

    def __init__(self) -> None:
        from backroom.inventory import services
        from backroom.inventory.services import posting

        self.seconds = 0.0
        self.modules = (services, posting)
        self.original = posting.post_moves
        original = self.original

        def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
            tick = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - tick

        for module in self.modules:
            module.post_moves = timed  # type: ignore[attr-defined]

    def stop(self) -> float:
        for module in self.modules:
            module.post_moves = self.original  # type: ignore[attr-defined]
        return self.seconds


class _SubscriberClock:
    """Time spent in the in-process subscribers of the channels order events (sales rollups)."""

    def __init__(self) -> None:
        import dataclasses

        from backroom.events import services

        self.seconds = 0.0
        self.services = services
        self.original = list(services._subscribers)

        def timed(handler):  # type: ignore[no-untyped-def]
            def run(*args, **kwargs):  # type: ignore[no-untyped-def]
                tick = time.perf_counter()
                try:
                    return handler(*args, **kwargs)
                finally:
                    self.seconds += time.perf_counter() - tick

            return run

        services._subscribers[:] = [
            dataclasses.replace(
                s,
                handler=timed(s.handler),
                many=timed(s.many) if getattr(s, "many", None) else getattr(s, "many", None),
            )
            if not s.is_async and s.event_type.startswith("channels.order.")
            else s
            for s in self.original
        ]

    def stop(self) -> float:
        self.services._subscribers[:] = self.original
        return self.seconds


class _CollectorPauses:
    """The garbage collector's pauses (count and longest per generation) until `stop()`."""

    def __init__(self) -> None:
        import gc

        self.by_generation: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self.started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        else:
            self.by_generation[info["generation"]].append(time.perf_counter() - self.started)

    def stop(self) -> None:
        import gc

        gc.callbacks.remove(self._callback)

    def __str__(self) -> str:
        return ", ".join(
            f"generation {generation}: {len(pauses)} × "
            f"(longest {max(pauses, default=0) * 1e3:.1f} ms)"
            for generation, pauses in self.by_generation.items()
        )


def _backend_cpu_seconds() -> float | None:
    """CPU seconds used so far by this connection's PostgreSQL backend (a local server only)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        return _process_cpu(pid)
    except OSError:
        return None


def _stock_day_rollups() -> float:
    """Run the dashboards' stock-day rollup for the postings the worker has not dispatched
    yet, as the worker would (one refresh per `inventory.stock.posted` event); seconds taken."""
    from backroom.dashboards.rollups import refresh_posting
    from backroom.events.models import OutboxEvent

    posting_ids = [
        event.payload["posting_id"]
        for event in OutboxEvent.objects.filter(
            event_type="inventory.stock.posted", dispatched_at__isnull=True
        ).only("payload")
    ]
    tick = time.perf_counter()
    for posting_id in posting_ids:
        refresh_posting(int(posting_id))
    return time.perf_counter() - tick


def _apply_stored() -> tuple[int, float, float]:
    """Run the worker's job on what single requests stored: (orders, seconds, CPU seconds)."""
    from backroom.channels.jobs import apply_stored_orders

    tick, cpu = time.perf_counter(), time.process_time()
    applied = apply_stored_orders.call_local()
    return applied, time.perf_counter() - tick, time.process_time() - cpu


def _machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(fields) - idle) / tick, sum(fields) / tick


def _process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _forked_client(token: str, seed: int, index: int):  # type: ignore[no-untyped-def]
    """A forked process's own test client (its own connection) and random numbers."""
    from django.test import Client

    client = Client(SERVER_NAME="localhost", HTTP_AUTHORIZATION=f"Bearer {token}")
    return client, random.Random(seed * 1000 + index)


def _steady_client(
    index: int, args: argparse.Namespace, due: float, setup: tuple, results: object
) -> None:  # type: ignore[type-arg]
    """One client process of `--steady`: its share of the requests, each sent when due."""
    from django.db import connection

    site_id, menu, modifiers, token = setup
    client, rng = _forked_client(token, args.seed, index)
    interval = args.clients / args.steady
    first = due + index / args.steady
    latencies: list[float] = []
    failed = 0
    cpu = time.process_time()
    for number in range(int(args.seconds * args.steady / args.clients)):
        body = json.dumps(_order(rng, site_id, menu, modifiers, datetime.now(UTC)))
        at = first + number * interval
        wait = at - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        response = client.post("/api/v1/channels/pos/orders", body, content_type="application/json")
        latencies.append((time.monotonic() - at) * 1000)
        failed += response.status_code != 201
    results.put((latencies, failed, time.process_time() - cpu))  # type: ignore[attr-defined]
    connection.close()


def _steady(args: argparse.Namespace, setup: tuple) -> None:  # type: ignore[type-arg]
    import multiprocessing
    import subprocess

    from django.db import connections
    from huey.contrib.djhuey import HUEY

    from backroom.channels.choices import InboxStatus
    from backroom.channels.models import InboxMessage, Order
    from backroom.events.models import OutboxEvent
    from backroom.events.services import dispatch_outbox

    # Start from a quiet worker: the earlier phases' events dispatched, their tasks dropped.
    while dispatch_outbox():
        pass
    HUEY.flush()
    connections.close_all()  # each forked client opens its own
    worker = subprocess.Popen(
        [sys.executable, "-m", "backroom", "worker", "--quiet"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=open(Path(os.environ["BACKROOM_VAR_DIR"]) / "worker.log", "w"),
    )
    print(f"worker pid {worker.pid}", flush=True)
    time.sleep(4)  # the consumer starts
    first_id = InboxMessage.objects.order_by("-id").values_list("id", flat=True).first() or 0
    first_event = OutboxEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    connections.close_all()
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    due = time.monotonic() + 1.0
    clients = [
        context.Process(target=_steady_client, args=(index, args, due, setup, results))
        for index in range(args.clients)
    ]
    busy, total = _machine_cpu()
    worker_cpu = _process_cpu(worker.pid)
    for process in clients:
        process.start()
    gathered = [results.get() for _ in clients]
    for process in clients:
        process.join()
    sent_at = time.monotonic()
    # The worker catches up with what is left.
    while InboxMessage.objects.filter(status=InboxStatus.STORED).exists():
        if time.monotonic() - sent_at > 300:
            sys.exit("The worker did not apply the stored orders within 5 minutes.")
        time.sleep(0.05)
    drained = time.monotonic() - sent_at
    # ... and dispatches their events (the subscribers' work is the worker's too).
    while OutboxEvent.objects.filter(dispatched_at__isnull=True, pk__gt=first_event).exists():
        if time.monotonic() - sent_at > 300:
            sys.exit("The worker did not dispatch the events within 5 minutes.")
        time.sleep(0.05)
    dispatched = time.monotonic() - sent_at
    busy_after, total_after = _machine_cpu()
    worker_cpu = _process_cpu(worker.pid) - worker_cpu
    worker.terminate()
    worker.wait(timeout=30)
    latencies = sorted(value for rows, _failed, _cpu in gathered for value in rows)
    failed = sum(count for _rows, count, _cpu in gathered)
    client_cpu = sum(cpu for _rows, _count, cpu in gathered)
    sent = len(latencies)
    wall = sent / args.steady

    def percentile(values: list[float], share: float) -> float:
        return values[min(len(values) - 1, int(len(values) * share))]

    lags = sorted(
        (message.processed_at - message.received_at).total_seconds() * 1000
        for message in InboxMessage.objects.filter(pk__gt=first_id).only(
            "received_at", "processed_at"
        )
    )
    depleted = Order.objects.filter(
        pk__in=InboxMessage.objects.filter(pk__gt=first_id).values("order_id"), is_depleted=True
    ).count()
    print(
        f"steady {args.steady:g} requests/s for {args.seconds:g} s from {args.clients} client "
        f"processes: {sent:,} sent, {failed} failed; latency from when due p50 "
        f"{statistics.median(latencies):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms, "
        f"max {latencies[-1]:.1f} ms"
    )
    print(
        f"the worker: stored → applied p50 {statistics.median(lags):.0f} ms, p99 "
        f"{percentile(lags, 0.99):.0f} ms, max {lags[-1]:.0f} ms; caught up "
        f"{drained:.2f} s after the last request (their events dispatched after {dispatched:.2f} s); "
        f"{depleted:,} of {sent:,} orders depleted"
    )
    machine = (busy_after - busy) / max(total_after - total, 1e-9)
    print(
        f"CPU per order: clients {client_cpu / sent * 1e3:.1f} ms, worker "
        f"{worker_cpu / sent * 1e3:.1f} ms; the machine {machine:.0%} busy "
        f"({os.cpu_count()} cores, everything included) over {wall + drained:.1f} s"
    )
    if failed or depleted != sent:
        sys.exit("Not every order was stored and depleted.")


def _batch_client(
    index: int, args: argparse.Namespace, setup: tuple, start: float, results: object
) -> None:  # type: ignore[type-arg]
    """One process of `--batch-clients`: its share of the orders, in batches, for its store."""
    from django.db import connection

    menu, modifiers, token, site_id = setup
    client, rng = _forked_client(token, args.seed, index)
    share = args.orders // args.batch_clients
    at = datetime.now(UTC) - timedelta(days=1)
    bodies = []
    for offset in range(0, share, args.batch):
        size = min(args.batch, share - offset)
        orders = [_order(rng, site_id, menu, modifiers, at) for _ in range(size)]
        bodies.append(json.dumps({"orders": orders}))
    wait = start - time.monotonic()
    if wait > 0:
        time.sleep(wait)
    cpu = time.process_time()
    for body in bodies:
        response = client.post(
            "/api/v1/channels/pos/batches", body, content_type="application/json"
        )
        if response.status_code != 201:
            sys.exit(f"batch failed: {response.status_code} {response.content[:800]!r}")
    results.put((share, time.monotonic(), time.process_time() - cpu))  # type: ignore[attr-defined]
    connection.close()


GROWING = (
    "channels_order",
    "channels_orderline",
    "channels_inboxmessage",
    "channels_orderhistory",
    "inventory_stockmove",
    "events_outboxevent",
    "audit_auditentry",
)


class _Analyzer:
    """Autovacuum's analyze where the server runs without it (this machine's PostgreSQL has
    `autovacuum = off`): `ANALYZE` whenever the orders grew by a tenth since the last one (its
    default scale factor). Without it the planner never learns that the tables grew, and a
    statement prepared while they were nearly empty keeps that plan (a sequential scan) for
    good."""

    def __init__(self) -> None:
        from django.db import connection

        self.runs = 0
        self.seconds = 0.0
        self.analyzed = 0
        self.needed = False
        if connection.vendor == "postgresql":  # SQLite has no SHOW
            with connection.cursor() as cursor:
                cursor.execute("SHOW autovacuum")
                self.needed = cursor.fetchone()[0] == "off"

    def maybe(self) -> None:
        if not self.needed:
            return
        from django.db import connection

        with connection.cursor() as cursor:
            # The statistics' insert counter, as autovacuum reads it: a count(*) would scan the
            # whole orders table every few seconds, on the machine being measured.
            cursor.execute(
                "SELECT n_tup_ins FROM pg_stat_user_tables WHERE relname = 'channels_order'"
            )
            orders = cursor.fetchone()[0]
            if orders >= max(10_000, self.analyzed * 1.1):
                tick = time.perf_counter()
                cursor.execute(f"ANALYZE {', '.join(GROWING)}")
                self.seconds += time.perf_counter() - tick
                self.runs += 1
                self.analyzed = orders


def _parallel_batches(
    args: argparse.Namespace, menu: list[str], modifiers: list[str], token: str, site_ids: list[int]
) -> None:
    """`--batch-clients K`: K processes post their batches at once, each for its own store (a
    chain's tills catching up at the end of the day); orders/s over the wall time of all."""
    import multiprocessing

    from django.db import connections

    from backroom.channels.models import Order

    connections.close_all()
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    # Each process builds its bodies first; the posting starts together.
    start = time.monotonic() + 3 + args.orders / 20_000
    processes = [
        context.Process(
            target=_batch_client,
            args=(index, args, (menu, modifiers, token, site_ids[index]), start, results),
        )
        for index in range(args.batch_clients)
    ]
    for process in processes:
        process.start()
    time.sleep(max(0.0, start - time.monotonic()))
    busy, total = _machine_cpu()
    gathered = []
    analyzer = _Analyzer()
    while len(gathered) < len(processes):
        try:
            gathered.append(results.get(timeout=5))
        except queue.Empty:
            analyzer.maybe()
    if analyzer.runs:
        print(f"ANALYZE run {analyzer.runs} times, as autovacuum would ({analyzer.seconds:.1f} s)")
    for process in processes:
        process.join()
    busy_after, total_after = _machine_cpu()
    posted = sum(count for count, _end, _cpu in gathered)
    elapsed = max(end for _count, end, _cpu in gathered) - start
    client_cpu = sum(cpu for _count, _end, cpu in gathered)
    depleted = Order.objects.filter(is_depleted=True).count()
    print(
        f"{args.batch_clients} processes at once, batches of {args.batch}: {posted:,} orders "
        f"({depleted:,} depleted) in {elapsed:.1f} s → {posted / elapsed:,.0f} orders/s"
    )
    machine = (busy_after - busy) / max(total_after - total, 1e-9)
    print(
        f"CPU per order: the posting processes {client_cpu / posted * 1e6:,.0f} µs; the machine "
        f"{machine:.0%} busy while posting ({os.cpu_count()} cores, everything included)"
    )
    if depleted != posted:
        sys.exit("Not every order was depleted.")


def _rows() -> int:
    from backroom.inventory.models import StockMove

    return StockMove.objects.count()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=100_000, help="orders to post in batches")
    parser.add_argument("--batch", type=int, default=1000, help="orders per request (≤ 1000)")
    parser.add_argument("--single", type=int, default=0, help="then N single-order requests")
    parser.add_argument(
        "--steady",
        type=float,
        default=0,
        metavar="RATE",
        help="then single orders at RATE requests/s with the worker running",
    )
    parser.add_argument("--seconds", type=float, default=30, help="how long --steady runs")
    parser.add_argument("--clients", type=int, default=2, help="client processes for --steady")
    parser.add_argument(
        "--batch-clients",
        type=int,
        default=1,
        choices=range(1, len(STORES) + 1),
        metavar="K",
        help="post the batches from K processes at once, each for its own store",
    )
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--rollups",
        choices=("on", "off"),
        default="on",
        help="off: without the sales-rollup subscribers (to measure what they cost)",
    )
    parser.add_argument(
        "--profile",
        metavar="PATH",
        help="cProfile the batch requests into PATH and the single ones into PATH.single",
    )
    parser.add_argument(
        "--queries",
        action="store_true",
        help="at the end, print the SQL statements of one more single-order request",
    )
    args = parser.parse_args()
    vendor = _setup()
    site_id, menu, modifiers, token, site_ids = _seed(args.batch_clients)
    if not menu:
        sys.exit("The demo menu has no recipes.")
    from django.db import connection
    from django.test import Client

    # Set up as a web server process is: the WSGI module imports what requests use and
    # freezes it (backroom/config/wsgi.py).
    import backroom.config.wsgi  # noqa: F401
    from backroom.channels.models import Order

    if args.batch_clients > 1:
        _parallel_batches(args, menu, modifiers, token, site_ids)
        if args.steady:
            _steady(args, (site_id, menu, modifiers, token))
        return
    client = Client(SERVER_NAME="localhost", HTTP_AUTHORIZATION=f"Bearer {token}")
    if args.rollups == "off":
        from backroom.events import services as event_services

        event_services._subscribers[:] = [
            s for s in event_services._subscribers if not s.name.startswith("channels.sales.")
        ]
    ledger = _LedgerClock()
    subscribers = _SubscriberClock()
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
    rng = random.Random(args.seed)
    start_at = datetime.now(UTC) - timedelta(days=1)
    rows_before = _rows()
    posted = 0
    posting = 0.0
    client_cpu = 0.0
    server_started = _backend_cpu_seconds()
    started = time.perf_counter()
    while posted < args.orders:
        size = min(args.batch, args.orders - posted)
        at = start_at + timedelta(seconds=posted // 50)
        body = json.dumps(
            {"orders": [_order(rng, site_id, menu, modifiers, at) for _ in range(size)]}
        )
        tick = time.perf_counter()
        cpu_tick = time.process_time()
        if profiler is not None:
            profiler.enable()
        response = client.post(
            "/api/v1/channels/pos/batches", body, content_type="application/json"
        )
        if profiler is not None:
            profiler.disable()
        posting += time.perf_counter() - tick
        client_cpu += time.process_time() - cpu_tick
        if response.status_code != 201:
            sys.exit(f"batch at {posted} failed: {response.status_code} {response.content[:800]!r}")
        posted += size
        if posted % (args.batch * 10) == 0 or posted == args.orders:
            print(f"{posted:>9,} orders  {posted / posting:>8,.0f} orders/s (posting)", flush=True)
    elapsed = time.perf_counter() - started
    server_ended = _backend_cpu_seconds()
    if profiler is not None:
        profiler.dump_stats(args.profile)
    in_ledger = ledger.stop()
    in_subscribers = subscribers.stop()
    rows = _rows() - rows_before
    depleted = Order.objects.filter(is_depleted=True).count()
    print(f"{vendor}: {posted:,} orders ({depleted:,} depleted) → {rows:,} ledger rows")
    print(f"orders/s (posting only): {posted / posting:,.0f}   (wall: {posted / elapsed:,.0f})")
    print(f"ledger rows/s (posting only): {rows / posting:,.0f}")
    rest = posting - in_ledger - in_subscribers
    print(
        f"of {posting:,.1f} s posting: post_moves {in_ledger:,.1f} s, order-event subscribers "
        f"(sales rollups) {in_subscribers:,.1f} s, the rest (channels, request) {rest:,.1f} s"
    )
    print(
        f"channel-side / ledger: {(posting - in_ledger) / max(in_ledger, 1e-9):.2f} "
        f"(without the subscribers: {rest / max(in_ledger, 1e-9):.2f})"
    )
    server = (
        f", PostgreSQL backend {(server_ended - server_started) / posted * 1e6:,.0f} µs"
        if server_started is not None and server_ended is not None
        else ""
    )
    print(f"CPU per order: this process {client_cpu / posted * 1e6:,.0f} µs{server}")
    if depleted != posted:
        sys.exit("Not every order was depleted.")
    stock_days = _stock_day_rollups()
    print(
        f"dashboard stock-day rollups (the worker, after commit): {stock_days:,.2f} s, "
        f"{stock_days / posted * 1e6:,.0f} µs per order; rollups (sales in the request + "
        f"stock days in the worker) = {(in_subscribers + stock_days) / posting:.1%} of posting"
    )
    if args.single:
        latencies = []
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
        started = time.perf_counter()
        single_cpu = time.process_time()
        single_server = _backend_cpu_seconds()
        pauses = _CollectorPauses()
        for _ in range(args.single):
            body = json.dumps(_order(rng, site_id, menu, modifiers, datetime.now(UTC)))
            tick = time.perf_counter()
            if profiler is not None:
                profiler.enable()
            response = client.post(
                "/api/v1/channels/pos/orders", body, content_type="application/json"
            )
            if profiler is not None:
                profiler.disable()
            latencies.append((time.perf_counter() - tick) * 1000)
            if response.status_code != 201:
                sys.exit(f"single order failed: {response.status_code} {response.content[:800]!r}")
        elapsed = time.perf_counter() - started
        single_cpu = time.process_time() - single_cpu
        pauses.stop()
        single_server_end = _backend_cpu_seconds()
        if profiler is not None:
            profiler.dump_stats(f"{args.profile}.single")
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(
            f"single orders: {args.single / elapsed:,.0f} requests/s back to back, "
            f"p50 {statistics.median(latencies):.1f} ms, p99 {p99:.1f} ms"
        )
        backend = (
            f", PostgreSQL backend {(single_server_end - single_server) / args.single * 1e3:.1f} ms"
            if single_server is not None and single_server_end is not None
            else ""
        )
        print(
            f"CPU per single order: this process {single_cpu / args.single * 1e3:.1f} ms{backend}"
        )
        print(f"garbage collector while posting single orders: {pauses}")
        applied, seconds, cpu = _apply_stored()
        print(
            f"the worker's job on them (here, after the requests): {applied:,} orders in "
            f"{seconds:.2f} s, CPU {cpu / max(applied, 1) * 1e3:.2f} ms per order"
        )
        if applied != args.single:
            sys.exit("Not every single order was applied.")
    if args.steady:
        _steady(args, (site_id, menu, modifiers, token))
    if args.queries:
        from django.test.utils import CaptureQueriesContext

        body = json.dumps(_order(rng, site_id, menu, modifiers, datetime.now(UTC)))
        with CaptureQueriesContext(connection) as captured:
            client.post("/api/v1/channels/pos/orders", body, content_type="application/json")
        db_time = sum(float(query["time"]) for query in captured.captured_queries)
        print(
            f"one single-order request: {len(captured.captured_queries)} statements, "
            f"{db_time * 1000:.1f} ms waiting for the database"
        )
        for query in captured.captured_queries:
            print(f"  {query['time']:>6} s  {query['sql'][:300]}")
    connection.close()


if __name__ == "__main__":
    main()
