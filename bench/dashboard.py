"""Time the HQ dashboard on a big history: 500 stores × 2 years of daily rollups.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/br_dash_bench \
        .venv/bin/python bench/dashboard.py --stores 500 --days 730 --items 40 --repeat 20

The database named in DATABASE_URL is dropped and re-created, migrated and seeded with the
demo chain's organisation and menu, then `--stores` more stores in 10 regions (one in ten in
Hong Kong, in HKD, so translation is on the path). Their history is written straight into the
rollup tables with `INSERT … SELECT` over `generate_series` (weekly and yearly seasonality,
noise): per store and day `SalesDay`, `SalesChannelDay` (three channels), `SalesItemDay`
(`--items` menu items), `StockDay` and `ForecastDay`, and `SalesHour` (14 trading hours) for
the last 90 days. Facts (orders, moves) are not generated: the dashboard reads only rollups.
The nightly roll then writes the running totals of every store and day (running.py).

Then it times, `--repeat` times each, for the last month, quarter and year:
- `facts.measures` for the chain by store, and by the trend's buckets (the building blocks);
- the HQ dashboard API (`GET /api/v1/dashboards/hq`) and page (`GET /dashboards/`) for the
  chain, in-process through Django's full stack (session of an HQ user), in a process set up
  as a web server's is (the WSGI module loaded: what requests use imported, then frozen),
and prints p50/p95 per case. Target: p95 ≤ 300 ms for the API and the page.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import _recreate_database  # noqa: E402

HOURS = list(range(10, 24))


def _setup(reuse: bool) -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database (it is re-created).")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backroom.config.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret")
    os.environ.setdefault("BACKROOM_VAR_DIR", "/tmp/br-dash-bench")
    os.environ.setdefault("HUEY_IMMEDIATE", "0")
    os.environ.setdefault("ALLOWED_HOSTS", "localhost")
    if not reuse:
        _recreate_database(url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _stores(count: int) -> list[int]:
    """`count` stores under 10 new regions (every tenth in the Hong Kong entity)."""
    from backroom.org.choices import NodeKind
    from backroom.org.models import OrgNode, Site
    from backroom.testing.factories import make_node

    cn = OrgNode.objects.get(code="CN-SH")
    hk = OrgNode.objects.get(code="HK-01")
    regions = [
        make_node(NodeKind.REGION, hk if number == 9 else cn, f"BR{number:02d}")
        for number in range(10)
    ]
    ids = []
    for number in range(count):
        region = regions[number % 10]
        is_hk = region.parent_id == hk.pk
        node = make_node(
            NodeKind.STORE,
            region,
            f"B{number:04d}",
            city="Hong Kong" if is_hk else "Shanghai",
            time_zone="Asia/Hong_Kong" if is_hk else "Asia/Shanghai",
            latitude=Decimal(f"{(22.3 if is_hk else 31.2) + (number % 17) / 100:.6f}"),
            longitude=Decimal(f"{(114.2 if is_hk else 121.4) + (number % 13) / 100:.6f}"),
        )
        ids.append(Site.objects.get(node=node).pk)
    return ids


def _history(site_ids: list[int], days: int, items: int) -> dict[str, int]:
    """Rollup rows for every store and day up to yesterday, written in SQL."""
    from django.db import connection
    from django.utils import timezone

    from backroom.catalog.models import Item

    today = timezone.localdate()
    first = today - dt.timedelta(days=days)
    menu = list(Item.objects.filter(kind="menu").order_by("pk").values_list("pk", flat=True))
    menu = (menu * (items // max(len(menu), 1) + 1))[:items]
    if len(set(menu)) < items:
        sys.exit(f"the demo menu has only {len(set(menu))} items; use --items ≤ that")
    counts: dict[str, int] = {}
    base = """
        WITH s AS (
            SELECT site.id AS site_id,
                   CASE WHEN e.base_currency = 'HKD' THEN 'HKD' ELSE 'CNY' END AS currency,
                   (site.id %% 7) * 0.05 + 0.8 AS level
            FROM org_site site JOIN org_legalentity e ON e.id = site.legal_entity_id
            WHERE site.id = ANY(%(sites)s)
        ), d AS (
            SELECT day::date AS day,
                   1 + 0.35 * (extract(isodow FROM day) >= 5)::int
                     + 0.15 * sin(2 * pi() * extract(doy FROM day) / 365.0) AS season
            FROM generate_series(%(first)s::date, %(last)s::date, interval '1 day') AS day
        )
    """
    params = {"sites": site_ids, "first": first, "last": today - dt.timedelta(days=1)}
    statements = {
        "channels_salesday": """
            INSERT INTO channels_salesday (site_id, business_date, currency, orders, gross,
                merchant_discount, platform_discount, net, packaging_fee, delivery_fee,
                commission, history_net)
            SELECT site_id, day, currency, o, round(o * 52.0, 4), round(o * 3.0, 4),
                   round(o * 1.0, 4), round(o * 49.0, 4), round(o * 0.5, 4), 0,
                   round(o * 4.0, 4), 0
            FROM (SELECT s.site_id, d.day, s.currency,
                         greatest(1, round(300 * s.level * d.season * (0.9 + random() * 0.2)::numeric))::int AS o
                  FROM s CROSS JOIN d) x
        """,
        "channels_saleschannelday": """
            INSERT INTO channels_saleschannelday (site_id, business_date, kind, currency, orders,
                gross, merchant_discount, platform_discount, net, packaging_fee, delivery_fee,
                commission)
            SELECT sd.site_id, sd.business_date, k.kind, sd.currency,
                   round(sd.orders * k.share)::int, round(sd.gross * k.share, 4),
                   round(sd.merchant_discount * k.share, 4), 0, round(sd.net * k.share, 4), 0, 0,
                   round(sd.commission * k.share, 4)
            FROM channels_salesday sd
            CROSS JOIN (VALUES ('pos', 0.6), ('meituan', 0.28), ('eleme', 0.12)) AS k(kind, share)
            WHERE sd.site_id = ANY(%(sites)s)
        """,
        "channels_salesitemday": """
            INSERT INTO channels_salesitemday (site_id, business_date, menu_item_id, currency,
                quantity, gross, merchant_discount, platform_discount, net)
            SELECT sd.site_id, sd.business_date, m.item_id, sd.currency,
                   round(sd.orders * 4.0 / %(items)s, 6), round(sd.gross / %(items)s, 4),
                   round(sd.merchant_discount / %(items)s, 4), 0, round(sd.net / %(items)s, 4)
            FROM channels_salesday sd CROSS JOIN unnest(%(menu)s::bigint[]) AS m(item_id)
            WHERE sd.site_id = ANY(%(sites)s)
        """,
        "channels_saleshour": """
            INSERT INTO channels_saleshour (site_id, business_date, hour, currency, orders, gross,
                net)
            SELECT sd.site_id, sd.business_date, h.hour, sd.currency,
                   round(sd.orders / 14.0)::int, round(sd.gross / 14.0, 4), round(sd.net / 14.0, 4)
            FROM channels_salesday sd CROSS JOIN unnest(%(hours)s::int[]) AS h(hour)
            WHERE sd.site_id = ANY(%(sites)s) AND sd.business_date >= %(recent)s
        """,
        "dashboards_stockday": """
            INSERT INTO dashboards_stockday (site_id, business_date, receipts, sales, waste,
                consumption, production, transfers, variance, revaluation, net_change,
                closing_value, moves, sold_revenue)
            SELECT site_id, business_date, r, -c, -w, 0, 0, 0, -v, 0, r - c - w - v,
                   20000 + sum(r - c - w - v) OVER (PARTITION BY site_id ORDER BY business_date),
                   orders * 20, 0
            FROM (SELECT site_id, business_date, orders,
                         round(net * 0.31, 4) AS r, round(net * 0.29, 4) AS c,
                         round(net * 0.012 * (0.5 + random())::numeric, 4) AS w,
                         round(net * 0.008 * (0.5 + random())::numeric, 4) AS v
                  FROM channels_salesday WHERE site_id = ANY(%(sites)s)) x
        """,
        "dashboards_forecastday": """
            INSERT INTO dashboards_forecastday (site_id, business_date, currency, gross, guests,
                made_at)
            SELECT site_id, business_date, currency, round(gross * (0.92 + random() * 0.16)::numeric, 4),
                   orders, now()
            FROM channels_salesday WHERE site_id = ANY(%(sites)s)
        """,
    }
    params.update(items=items, menu=menu, hours=HOURS, recent=today - dt.timedelta(days=90))
    from backroom.finance.models import FxRate

    FxRate.objects.bulk_create(
        [
            FxRate(currency="HKD", quote="CNY", date=first + dt.timedelta(days=n), rate="0.9150")
            for n in range(days + 1)
        ],
        ignore_conflicts=True,
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.42)")
        for table, sql in statements.items():
            tick = time.perf_counter()
            cursor.execute((base if table == "channels_salesday" else "") + sql, params)
            counts[table] = cursor.rowcount
            print(
                f"  {table}: {cursor.rowcount:,} rows in {time.perf_counter() - tick:.1f} s",
                flush=True,
            )
        cursor.execute("ANALYZE")
    return counts


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return statistics.median(ordered), p95


def _time(label: str, call, repeat: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    call()  # warm
    samples = []
    for _ in range(repeat):
        tick = time.perf_counter()
        call()
        samples.append((time.perf_counter() - tick) * 1000)
    p50, p95 = _percentiles(samples)
    print(f"  {label:<42} p50 {p50:8.1f} ms   p95 {p95:8.1f} ms", flush=True)
    return p50, p95


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stores", type=int, default=500)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--items", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument(
        "--reuse", action="store_true", help="time the history a previous run left in place"
    )
    args = parser.parse_args()
    _setup(args.reuse)
    from django.test import Client
    from django.urls import NoReverseMatch, reverse
    from django.utils import timezone

    from backroom.accounts.models import User
    from backroom.config.demo import seed_demo
    from backroom.dashboards import facts, running, selectors
    from backroom.org.models import OrgNode
    from backroom.testing.factories import make_user

    if not args.reuse:
        tick = time.perf_counter()
        seed_demo(only=["org", "accounts", "catalog"])
        site_ids = _stores(args.stores)
        print(f"{args.stores} stores in {time.perf_counter() - tick:.1f} s", flush=True)
        tick = time.perf_counter()
        _history(site_ids, args.days, args.items)
        print(f"history in {time.perf_counter() - tick:.1f} s", flush=True)
        make_user("hq_admin", OrgNode.objects.get(parent=None), username="bench-hq")
    tick = time.perf_counter()
    rows = running.roll()
    print(f"running totals: {rows:,} rows rolled in {time.perf_counter() - tick:.1f} s", flush=True)
    # What a web server process does at start: the WSGI module imports what requests use
    # and freezes the objects alive then (backroom/config/wsgi.py).
    import backroom.config.wsgi  # noqa: F401

    user = User.objects.get(username="bench-hq")
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    sites = facts.dashboard_sites(user)
    today = timezone.localdate()
    yesterday = today - dt.timedelta(days=1)
    this_month = today.replace(day=1)
    last_month = (this_month - dt.timedelta(days=1)).replace(day=1)
    quarter_start = last_month.replace(month=(last_month.month - 1) // 3 * 3 + 1)
    periods = {
        "month (last calendar month)": (last_month, this_month - dt.timedelta(days=1)),
        "month (last 30 days)": (yesterday - dt.timedelta(days=29), yesterday),
        "quarter (last calendar quarter to date)": (quarter_start, yesterday),
        "quarter (last 91 days)": (yesterday - dt.timedelta(days=90), yesterday),
        "year (last 365 days)": (yesterday - dt.timedelta(days=364), yesterday),
        "year (the last 12 whole months)": (
            this_month.replace(year=this_month.year - 1),
            this_month - dt.timedelta(days=1),
        ),
    }
    try:
        page_url = reverse("dashboards:hq")
    except NoReverseMatch:
        page_url = None
    for name, (start, end) in periods.items():
        print(f"{name}: {start} – {end}, {len(sites)} sites", flush=True)
        _time(
            "facts.measures by store",
            lambda s=start, e=end: facts.measures(sites, s, e, by="site"),
            args.repeat,
        )
        grain = selectors.Period(start, end).grain
        _time(
            f"facts.measures by {grain} (sales only)",
            lambda s=start, e=end, g=grain: facts.measures(sites, s, e, by=g, sources={"sales"}),
            args.repeat,
        )
        query = f"date_from={start}&date_to={end}"

        def api(query=query):  # type: ignore[no-untyped-def]
            response = client.get(f"/api/v1/dashboards/hq?{query}")
            if response.status_code != 200:
                sys.exit(f"API {response.status_code}: {response.content[:500]!r}")

        if client.get(f"/api/v1/dashboards/hq?{query}").status_code != 404:
            _time("GET /api/v1/dashboards/hq", api, args.repeat)
        if page_url:

            def page(query=f"from={start}&to={end}"):  # type: ignore[no-untyped-def]
                response = client.get(f"{page_url}?{query}")
                if response.status_code != 200:
                    sys.exit(f"page {response.status_code}")

            _time(f"GET {page_url}", page, args.repeat)


if __name__ == "__main__":
    main()
