"""Concurrent completions and refunds of one store's orders (PostgreSQL, threads with their own
connections): no count is lost and the rebuild finds nothing to fix.

Order transitions through the intake also queue on the audit chain's head row (taken before the
rollups), so the last round calls `refresh_order_sales` itself from every thread at once, on
empty rollups: every row is inserted by racing transactions and then updated concurrently."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from backroom.channels import intake, rollups, services
from backroom.channels.models import (
    Order,
    OrderSales,
    SalesChannelDay,
    SalesDay,
    SalesHour,
    SalesItemDay,
)
from backroom.channels.tests.conftest import D, status_event
from backroom.channels.tests.test_rollups import DAY, at, meituan_order
from backroom.kernel.actors import SYSTEM

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row-lock concurrency is tested on PostgreSQL"
)

THREADS = 8


def _run_at_once(work: list[tuple[str, str]], account) -> list[str]:
    """Apply (external id, status) events from one thread each, released together; with
    status "refresh", call `refresh_order_sales` for that order instead."""
    barrier = threading.Barrier(len(work))
    errors: list[str] = []

    def run(external_id: str, status: str) -> None:
        try:
            barrier.wait(timeout=30)
            if status == "refresh":
                order = Order.objects.get(account=account, external_id=external_id)
                rollups.refresh_order_sales(order.pk)
            else:
                intake.apply_event(account, status_event(external_id, status))
        except Exception as error:  # reported by the test
            errors.append(f"{external_id}: {error!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=item) for item in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_completions_and_refunds_lose_no_counts(menu):
    account = menu.meituan
    for code, item in (("NOODLES", menu.noodles), ("TEA", menu.tea)):
        services.save_mapping(account=account, external_code=code, item=item, actor=SYSTEM)
    ids = [f"C{n}" for n in range(THREADS * 3 // 2)]
    for minute, external_id in enumerate(ids):
        intake.apply_event(
            account,
            meituan_order(
                external_id,
                [("NOODLES", "1", "18.00"), ("TEA", "1", "6.00"), ("MYSTERY", "1", "10.00")],
                placed_at=at(12, minute),
                merchant="3.40",
            ),
        )
    assert not SalesDay.objects.exists()

    # Round 1: the first THREADS orders complete at once (every rollup row is new).
    first, rest = ids[:THREADS], ids[THREADS:]
    assert _run_at_once([(external_id, "completed") for external_id in first], account) == []
    site = account.site
    day = SalesDay.objects.get(site=site, business_date=DAY)
    assert (day.orders, day.gross, day.merchant_discount, day.net) == (
        THREADS,
        D(34) * THREADS,
        D("3.4") * THREADS,
        D("30.6") * THREADS,
    )

    # Round 2: half of those are refunded while the rest complete.
    refunded = first[: THREADS // 2]
    work = [(external_id, "refunded") for external_id in refunded] + [
        (external_id, "completed") for external_id in rest
    ]
    assert _run_at_once(work, account) == []
    counted = THREADS - len(refunded) + len(rest)
    day = SalesDay.objects.get(site=site, business_date=DAY)
    assert (day.orders, day.net) == (counted, D("30.6") * counted)
    items = {
        row.menu_item_id: (row.quantity, row.net)
        for row in SalesItemDay.objects.filter(site=site, business_date=DAY)
    }
    # 18 − 1.80, 6 − 0.60, 10 − 1.00 (3.40 split 18:6:10)
    assert items == {
        menu.noodles.pk: (D(counted), D("16.2") * counted),
        menu.tea.pk: (D(counted), D("5.4") * counted),
        None: (D(counted), D(9) * counted),
    }
    assert SalesHour.objects.get(site=site, business_date=DAY, hour=12).orders == counted
    assert SalesChannelDay.objects.get(site=site, kind="meituan").orders == counted
    assert rollups.rebuild_sales(date_from=DAY, date_to=DAY, fix=False).differences == []

    # Round 3: the rollups are emptied and every counted order refreshes them at once.
    expected = sorted(SalesItemDay.objects.values_list("menu_item_id", "quantity", "net"), key=str)
    for model in (SalesDay, SalesChannelDay, SalesHour, SalesItemDay, OrderSales):
        model.objects.all().delete()
    counted_ids = [external_id for external_id in ids if external_id not in refunded]
    work = [(external_id, "refresh") for external_id in counted_ids]
    assert _run_at_once(work, account) == []
    day = SalesDay.objects.get(site=site, business_date=DAY)
    assert (day.orders, day.net) == (counted, D("30.6") * counted)
    again = sorted(SalesItemDay.objects.values_list("menu_item_id", "quantity", "net"), key=str)
    assert again == expected
    assert OrderSales.objects.count() == counted
    assert rollups.rebuild_sales(date_from=DAY, date_to=DAY, fix=False).differences == []
