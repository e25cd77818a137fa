"""Exports of the stock list pages (`?export=xlsx|csv` on the page's own URL): the columns, every
row the user may see (not the page's first ones), the page's filters kept, never another store's
rows; anonymous callers sent to sign in, callers without inventory.view refused."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zoneinfo

import openpyxl
import pytest
from django.conf import settings
from django.db import connection
from django.shortcuts import resolve_url
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backroom.catalog import services as catalog_services
from backroom.inventory import periods, services
from backroom.inventory.models import CountSheet, StockMove, TransferOrder, WasteDocument
from backroom.inventory.services import TransferLineInput, WasteLineInput
from backroom.inventory.tests.conftest import D, key, make_item, make_location
from backroom.inventory.views import counts as count_views
from backroom.inventory.views import documents as document_views
from backroom.inventory.views import production as production_views
from backroom.inventory.views.periods import site_today
from backroom.kernel.actors import SYSTEM
from backroom.org.choices import NodeKind
from backroom.testing.factories import client_for, make_node, make_user

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
HX = {"HTTP_HX_REQUEST": "true"}

COUNTS = "/stock/counts/"
WASTE = "/stock/waste/"
TRANSFERS = "/stock/transfers/"
PRODUCTION = "/stock/production/"
PERIODS = "/stock/periods/"
ON_HAND = "/stock/on-hand/"

COUNT_HEADER = [
    "Number",
    "Store code",
    "Store",
    "Kind",
    "Status",
    "Needs approval",
    "Template",
    "Lines",
    "Lines counted",
    "Started at",
    "Submitted at",
    "Posted at",
    "Created by",
    "Approved by",
]
WASTE_HEADER = [
    "Number",
    "Store code",
    "Store",
    "Occurred at",
    "Status",
    "Lines",
    "Currency",
    "Value",
    "Needs approval",
    "Submitted by",
    "Submitted at",
    "Decided by",
    "Decided at",
    "Decision reason",
    "Posted at",
    "Note",
]
TRANSFER_HEADER = [
    "Number",
    "Status",
    "From store code",
    "From store",
    "From location",
    "To store code",
    "To store",
    "To location",
    "Expected on",
    "Lines",
    "Currency",
    "Dispatched value",
    "Discrepancy value",
    "Created at",
    "Dispatched at",
    "Received at",
    "Cancelled at",
    "Cancel reason",
    "Note",
]
PRODUCTION_HEADER = [
    "Produced at",
    "Store code",
    "Store",
    "Location",
    "SKU",
    "Item",
    "Quantity",
    "Unit",
    "Lot",
    "Use by",
    "Unit cost",
    "Value",
    "Currency",
    "Reversed",
    "Recorded by",
    "Posting",
]
PERIOD_HEADER = [
    "Store code",
    "Store",
    "Time zone",
    "Closed through",
    "Changed by",
    "Changed at",
    "Reason",
]
ON_HAND_HEADER = [
    "Store code",
    "Store",
    "Location code",
    "Location",
    "SKU",
    "Item",
    "Category",
    "Lot",
    "Expiry date",
    "Days to expiry",
    "On hand",
    "Unit",
    "Average cost",
    "Value",
    "Currency",
]


def _xlsx(response) -> list[list]:
    """The rows of a downloaded workbook's only sheet (header first)."""
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Cache-Control"] == "private, no-store"
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    assert len(workbook.worksheets) == 1
    return [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]


def _csv(response) -> list[list[str]]:
    """The rows of a downloaded CSV (UTF-8 with a BOM, header first)."""
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def _at_store(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(SHANGHAI).replace(tzinfo=None, microsecond=0)


def _column(rows: list[list], name: str) -> list:
    index = rows[0].index(name)
    return [row[index] for row in rows[1:]]


# --- data ----------------------------------------------------------------------------------


@pytest.fixture
def store_c(tree):
    """A third store of the East region, with a walk-in: somewhere store B sends to."""
    node = make_node(NodeKind.STORE, tree.region, "SHA003", city="Shanghai")
    return make_location(node, "WALKIN", "walk_in")


@pytest.fixture
def people(tree):
    return {
        "manager_a": make_user("store_manager", tree.store_a),  # inventory.view at A
        "region": make_user("region_manager", tree.region),  # A, B and C
        "finance": make_user("finance", tree.group),  # everywhere
        "tech_a": make_user("technician", tree.store_a),  # no inventory permission
    }


def _receive(item, location, quantity, cost) -> None:
    services.receive(
        item=item,
        location=location,
        quantity=D(quantity),
        unit_cost=D(cost),
        key=key(),
        actor=SYSTEM,
    )


@pytest.fixture
def dough(stock):
    """A prepared item: 1 kg of dough from 0.8 kg of flour."""
    item = make_item("DOUGH", "kg", "food", kind="prepared", shelf_life_days=2)
    catalog_services.publish_recipe(
        item,
        catalog_services.RecipeInput(
            effective_from=dt.date(2026, 1, 1),
            yield_quantity=D(1),
            lines=[catalog_services.RecipeLineInput("FLOUR", D("0.8"), "kg")],
        ),
        actor=SYSTEM,
    )
    return item


@pytest.fixture
def stocked(stock):
    """Flour at A's walk-in (40 kg at 2.00) and B's freezer (20 kg at 3.00); milk at A."""
    _receive(stock.flour, stock.walk_in, "40", "2")
    _receive(stock.milk, stock.walk_in, "10", "1.2")
    _receive(stock.flour, stock.freezer_b, "20", "3")
    return stock


def _count(location) -> CountSheet:
    return services.create_count(location.site, actor=SYSTEM, location_ids=[location.pk])


def _waste(location, item, quantity, note="", clerk=None) -> WasteDocument:
    """Waste recorded by a clerk of the store (a record needs a person to submit it)."""
    return services.create_waste(
        location.site,
        [
            WasteLineInput(
                item_id=item.pk, location_id=location.pk, quantity=D(quantity), reason="spoiled"
            )
        ],
        actor=clerk or make_user("store_staff", location.site.node),
        note=note,
    )


def _transfer(source, destination, item, quantity) -> TransferOrder:
    return services.create_transfer_order(
        from_location_id=source.pk,
        to_location_id=destination.pk,
        lines=[TransferLineInput(item_id=item.pk, quantity=D(quantity))],
        actor=SYSTEM,
    )


def _produce(item, location, quantity, flour) -> StockMove:
    result = services.produce(
        item=item,
        location=location,
        quantity=D(quantity),
        components=[services.ComponentInput(flour.pk, D(quantity) * D("0.8"))],
        key=key(),
        actor=SYSTEM,
    )
    return StockMove.objects.get(posting_id=result.posting.pk, reason="production")


# --- the permission matrix -------------------------------------------------------------------

URLS = [COUNTS, WASTE, TRANSFERS, PRODUCTION, PERIODS, ON_HAND]


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("file_type", ["xlsx", "csv"])
def test_an_anonymous_caller_is_sent_to_sign_in(db, url, file_type):
    response = client_for(None).get(f"{url}?export={file_type}")
    assert response.status_code == 302
    assert response["Location"].startswith(f"{resolve_url(settings.LOGIN_URL)}?next=")


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("file_type", ["xlsx", "csv"])
def test_a_caller_without_inventory_view_is_refused(people, url, file_type):
    response = client_for(people["tech_a"]).get(f"{url}?export={file_type}")
    assert response.status_code == 403
    assert "Content-Disposition" not in response


@pytest.mark.parametrize("url", URLS)
def test_the_page_offers_both_exports(people, url):
    body = client_for(people["manager_a"]).get(url).content.decode()
    assert 'data-testid="export-xlsx"' in body
    assert f'href="{url}?export=xlsx"' in body or 'href="?export=xlsx"' in body
    assert f'href="{url}?export=csv"' in body or 'href="?export=csv"' in body


# --- counts ----------------------------------------------------------------------------------


def test_counts_every_count_of_the_users_stores_not_just_the_recent_ones(
    stocked, people, monkeypatch
):
    monkeypatch.setattr(count_views, "RECENT", 1)
    first = _count(stocked.walk_in)
    services.cancel_count(first, actor=SYSTEM, reason="wrong day")
    second = _count(stocked.walk_in)
    services.cancel_count(second, actor=SYSTEM, reason="wrong day")
    started = services.start_count(_count(stocked.walk_in), actor=SYSTEM)
    _count(stocked.freezer_b)  # store B's: never in store A's file
    client = client_for(people["manager_a"])
    page = client.get(COUNTS).content.decode()
    assert page.count('data-testid="count-row"') == 2  # the open one and one recent

    rows = _xlsx(client.get(f"{COUNTS}?export=xlsx"))
    assert rows[0] == COUNT_HEADER
    assert _column(rows, "Number") == [started.number, second.number, first.number]
    started.refresh_from_db()
    assert rows[1] == [
        started.number,
        "SHA001",
        "Store SHA001",
        "Full count",
        "Counting",
        False,
        None,  # "" reads back as an empty cell
        started.lines.count(),
        0,
        _at_store(started.started_at),
        None,
        None,
        None,
        None,
    ]
    assert _column(rows, "Status") == ["Counting", "Cancelled", "Cancelled"]

    table = _csv(client.get(f"{COUNTS}?export=csv"))
    assert table[0] == COUNT_HEADER
    assert [row[0] for row in table[1:]] == [started.number, second.number, first.number]
    assert table[1][:9] == [
        started.number,
        "SHA001",
        "Store SHA001",
        "Full count",
        "Counting",
        "False",
        "",
        str(started.lines.count()),
        "0",
    ]
    assert table[1][9] == _at_store(started.started_at).isoformat(sep=" ")


def test_counts_of_every_store_for_the_region_manager(stocked, people):
    at_a = _count(stocked.walk_in)
    at_b = _count(stocked.freezer_b)
    rows = _xlsx(client_for(people["region"]).get(f"{COUNTS}?export=xlsx"))
    assert _column(rows, "Number") == [at_b.number, at_a.number]
    assert _column(rows, "Store code") == ["SHA002", "SHA001"]


# --- waste -----------------------------------------------------------------------------------


def test_waste_every_record_of_the_users_stores_with_value_and_currency(
    stocked, people, monkeypatch
):
    monkeypatch.setattr(document_views, "RECENT", 1)
    clerk = make_user("store_staff", stocked.walk_in.site.node, username="clerk")
    first = _waste(stocked.walk_in, stocked.flour, "2", note="mould", clerk=clerk)
    second = _waste(stocked.walk_in, stocked.milk, "1", clerk=clerk)
    _waste(stocked.freezer_b, stocked.flour, "1")  # store B's
    client = client_for(people["manager_a"])
    assert client.get(WASTE).content.decode().count('data-testid="waste-row"') == 1

    rows = _xlsx(client.get(f"{WASTE}?export=xlsx"))
    assert rows[0] == WASTE_HEADER
    assert _column(rows, "Number") == [second.number, first.number]
    first.refresh_from_db()
    assert rows[2] == [
        first.number,
        "SHA001",
        "Store SHA001",
        _at_store(first.occurred_at),
        "Posted",
        1,
        "CNY",
        4,  # 2 kg at 2.00
        False,
        "clerk",
        _at_store(first.submitted_at),
        None,
        None,
        None,
        _at_store(first.posted_at),
        "mould",
    ]
    assert _column(rows, "Value") == [1.2, 4]

    table = _csv(client.get(f"{WASTE}?export=csv"))
    assert table[0] == WASTE_HEADER
    assert [(row[0], row[6], row[7]) for row in table[1:]] == [
        (second.number, "CNY", "1.2"),  # trailing zeros dropped
        (first.number, "CNY", "4"),
    ]


# --- transfers -------------------------------------------------------------------------------


def test_transfers_sent_or_received_by_the_users_store_only(stocked, people, store_c):
    a_to_b = _transfer(stocked.walk_in, stocked.freezer_b, stocked.flour, "5")
    line = a_to_b.lines.get()
    services.dispatch_transfer_order(a_to_b, [services.DispatchLine(line.pk, D(5))], actor=SYSTEM)
    b_to_a = _transfer(stocked.freezer_b, stocked.walk_in, stocked.flour, "1")
    b_to_c = _transfer(stocked.freezer_b, store_c, stocked.flour, "2")  # not store A's

    rows = _xlsx(client_for(people["manager_a"]).get(f"{TRANSFERS}?export=xlsx"))
    assert rows[0] == TRANSFER_HEADER
    assert _column(rows, "Number") == [b_to_a.number, a_to_b.number]
    a_to_b.refresh_from_db()
    assert rows[2] == [
        a_to_b.number,
        "Dispatched",
        "SHA001",
        "Store SHA001",
        "WALKIN",
        "SHA002",
        "Store SHA002",
        "FREEZER",
        None,
        1,
        "CNY",
        10,  # 5 kg at 2.00
        None,
        _at_store(a_to_b.created_at),
        _at_store(a_to_b.dispatched_at),
        None,
        None,
        None,
        None,
    ]

    table = _csv(client_for(people["region"]).get(f"{TRANSFERS}?export=csv"))
    assert table[0] == TRANSFER_HEADER
    assert [row[0] for row in table[1:]] == [b_to_c.number, b_to_a.number, a_to_b.number]
    assert table[3][9:13] == ["1", "CNY", "10", ""]


# --- production ------------------------------------------------------------------------------


def test_production_every_product_made_at_the_users_stores(stocked, dough, people, monkeypatch):
    monkeypatch.setattr(production_views, "PAGE_SIZE", 1)
    first = _produce(dough, stocked.walk_in, "5", stocked.flour)
    second = _produce(dough, stocked.walk_in, "2", stocked.flour)
    _produce(dough, stocked.freezer_b, "1", stocked.flour)  # store B's
    client = client_for(people["manager_a"])
    assert client.get(PRODUCTION).content.decode().count('data-testid="production-row"') == 1

    # The page's own query (here its page number) is kept, and does not narrow the file.
    rows = _xlsx(client.get(f"{PRODUCTION}?page=2&export=xlsx"))
    assert rows[0] == PRODUCTION_HEADER
    assert _column(rows, "Posting") == [second.posting_id, first.posting_id]
    assert rows[2] == [
        _at_store(first.occurred_at),
        "SHA001",
        "Store SHA001",
        "WALKIN",
        "DOUGH",
        "Dough",
        5,
        "kg",
        first.lot.code,
        dt.datetime.combine(first.lot.expiry_date, dt.time()),
        1.6,  # 4 kg of flour at 2.00 for 5 kg
        8,
        "CNY",
        False,
        None,  # by the system
        first.posting_id,
    ]

    table = _csv(client.get(f"{PRODUCTION}?export=csv"))
    assert table[0] == PRODUCTION_HEADER
    assert [row[6:8] + row[11:13] for row in table[1:]] == [
        ["2", "kg", "3.2", "CNY"],
        ["5", "kg", "8", "CNY"],
    ]
    assert table[2][9] == first.lot.expiry_date.isoformat()


# --- stock periods ---------------------------------------------------------------------------


def test_periods_the_stores_listed_with_the_region_filter_kept(stocked, people, tree):
    yesterday = site_today(tree.store_a.site) - dt.timedelta(days=1)
    change = periods.close_period(
        tree.store_a.site, through=yesterday, actor=people["finance"], reason="month end"
    )
    client = client_for(people["finance"])

    rows = _xlsx(client.get(f"{PERIODS}?export=xlsx"))
    assert rows[0] == PERIOD_HEADER
    assert _column(rows, "Store code") == ["SHA001", "SHA002", "HKG001"]
    assert rows[1] == [
        "SHA001",
        "Store SHA001",
        "Asia/Shanghai",
        dt.datetime.combine(yesterday, dt.time()),
        str(people["finance"]),
        _at_store(change.created_at),
        "month end",
    ]
    assert rows[2] == ["SHA002", "Store SHA002", "Asia/Shanghai", None, None, None, None]

    table = _csv(client.get(f"{PERIODS}?node={tree.entity_hk.pk}&export=csv"))
    assert table == [PERIOD_HEADER, ["HKG001", "Store HKG001", "Asia/Hong_Kong", "", "", "", ""]]

    table = _csv(client.get(f"{PERIODS}?node={tree.region.pk}&export=csv"))
    assert [row[0] for row in table[1:]] == ["SHA001", "SHA002"]
    assert table[1][3:5] == [yesterday.isoformat(), str(people["finance"])]


def test_periods_a_store_manager_gets_their_store_only(stocked, people):
    rows = _xlsx(client_for(people["manager_a"]).get(f"{PERIODS}?export=xlsx"))
    assert rows == [PERIOD_HEADER, ["SHA001", "Store SHA001", "Asia/Shanghai"] + [None] * 4]


def test_periods_the_filter_swap_carries_export_buttons_with_the_filter(people, tree):
    client = client_for(people["finance"])
    body = client.get(f"{PERIODS}?node={tree.region.pk}", **HX).content.decode()
    assert 'id="period-exports" class="d-flex" hx-swap-oob="true"' in body
    assert f'href="/stock/periods/?node={tree.region.pk}&amp;export=xlsx"' in body
    full = client.get(PERIODS).content.decode()
    assert "hx-swap-oob" not in full
    assert full.count('id="period-exports"') == 1


# --- stock on hand ---------------------------------------------------------------------------


def test_on_hand_every_line_of_the_users_stores(stocked, people):
    rows = _xlsx(client_for(people["manager_a"]).get(f"{ON_HAND}?export=xlsx"))
    assert rows[0] == ON_HAND_HEADER
    assert [row[:6] + row[10:] for row in rows[1:]] == [
        ["SHA001", "Store SHA001", "WALKIN", "Walkin", "FLOUR", "Flour", 40, "kg", 2, 80, "CNY"],
        ["SHA001", "Store SHA001", "WALKIN", "Walkin", "MILK", "Milk", 10, "l", 1.2, 12, "CNY"],
    ]
    assert [row[6:10] for row in rows[1:]] == [[None, None, None, None]] * 2  # no category, lot

    table = _csv(client_for(people["region"]).get(f"{ON_HAND}?export=csv"))
    assert table[0] == ON_HAND_HEADER
    assert [(row[0], row[4], row[10], row[13]) for row in table[1:]] == [
        ("SHA001", "FLOUR", "40", "80"),
        ("SHA001", "MILK", "10", "12"),
        ("SHA002", "FLOUR", "20", "60"),
    ]


def test_on_hand_a_lot_with_its_expiry_and_the_items_category(stocked, people):
    catalog_services.create_category(
        catalog_services.CategoryInput(code="DAIRY", name="Dairy"), actor=SYSTEM
    )
    cream = make_item("CREAM", "l", "dairy", category="DAIRY")
    expiry = site_today(stocked.walk_in.site) + dt.timedelta(days=3)
    services.receive(
        item=cream,
        location=stocked.walk_in,
        quantity=D("2.5"),
        unit_cost=D("12.3456"),
        key=key(),
        actor=SYSTEM,
        lot_code="L-77",
        expiry_date=expiry,
    )
    client = client_for(people["manager_a"])
    rows = _xlsx(client.get(f"{ON_HAND}?q=CREAM&export=xlsx"))
    days = (expiry - timezone.localdate()).days  # the report counts from the chain's date
    assert rows[1:] == [
        [
            "SHA001",
            "Store SHA001",
            "WALKIN",
            "Walkin",
            "CREAM",
            "Cream",
            "Dairy",
            "L-77",
            dt.datetime.combine(expiry, dt.time()),
            days,
            2.5,
            "l",
            12.3456,
            30.864,
            "CNY",
        ]
    ]
    table = _csv(client.get(f"{ON_HAND}?q=CREAM&export=csv"))
    assert table[1][6:] == [
        "Dairy",
        "L-77",
        expiry.isoformat(),
        str(days),
        "2.5",  # trailing zeros dropped
        "l",
        "12.3456",
        "30.864",
        "CNY",
    ]


def test_on_hand_the_filters_are_kept(stocked, people, tree):
    client = client_for(people["region"])
    site_b = tree.store_b.site.pk
    table = _csv(client.get(f"{ON_HAND}?site={site_b}&export=csv"))
    assert [(row[0], row[4]) for row in table[1:]] == [("SHA002", "FLOUR")]
    table = _csv(client.get(f"{ON_HAND}?q=milk&export=csv"))
    assert [(row[0], row[4]) for row in table[1:]] == [("SHA001", "MILK")]
    table = _csv(client.get(f"{ON_HAND}?q=nothing-like-it&export=csv"))
    assert table == [ON_HAND_HEADER]
    # Another store's id is not a way in.
    response = client_for(people["manager_a"]).get(f"{ON_HAND}?site={site_b}&export=csv")
    assert response.status_code == 404


def test_on_hand_the_filter_swap_carries_export_buttons_with_the_filters(stocked, people, tree):
    client = client_for(people["region"])
    site_b = tree.store_b.site.pk
    body = client.get(f"{ON_HAND}?site={site_b}&q=flour", **HX).content.decode()
    assert 'id="on-hand-exports" class="d-flex" hx-swap-oob="true"' in body
    assert f'href="?site={site_b}&amp;q=flour&amp;export=csv"' in body
    assert "hx-swap-oob" not in client.get(ON_HAND).content.decode()


# --- query counts ------------------------------------------------------------------------------


def _one_of_each(stocked, dough, store_c) -> None:
    """A count, a waste record, two transfers and a production at store A (and its region)."""
    services.start_count(_count(stocked.walk_in), actor=SYSTEM)
    _waste(stocked.walk_in, stocked.flour, "1", note="dropped")
    _transfer(stocked.walk_in, stocked.freezer_b, stocked.flour, "1")
    _transfer(stocked.freezer_b, store_c, stocked.flour, "1")
    _produce(dough, stocked.walk_in, "1", stocked.flour)


def test_the_exports_read_the_same_number_of_queries_for_more_rows(stocked, dough, store_c, people):
    client = client_for(people["region"])

    def queries() -> dict[str, int]:
        found = {}
        for url in URLS:
            with CaptureQueriesContext(connection) as captured:
                response = client.get(f"{url}?export=xlsx")
            assert response.status_code == 200
            found[url] = len(captured)
        return found

    _one_of_each(stocked, dough, store_c)
    before = queries()
    for _ in range(3):
        _one_of_each(stocked, dough, store_c)
    assert queries() == before
