"""Exports of the stock report pages that had none (`?export=xlsx|csv` on the page's own URL):
expiring stock, in the stock-on-hand export's columns, the page's filters kept, never another
store's lots; an item's movements, every one of them (not the page's latest), the store filter
kept; a store's stock period history, never another store's; anonymous callers sent to sign
in, callers without inventory.view refused."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils import timezone

from backroom.inventory import periods, services
from backroom.inventory.choices import MoveReason
from backroom.inventory.models import StockMove
from backroom.inventory.tests.conftest import D, key
from backroom.inventory.tests.test_list_exports import ON_HAND_HEADER, _csv, _xlsx
from backroom.inventory.views import reports as report_views
from backroom.inventory.views.exporting import store_time
from backroom.inventory.views.periods import site_today
from backroom.kernel.actors import SYSTEM
from backroom.testing.factories import client_for, make_user

EXPIRING = "/stock/expiring/"
HX = {"HTTP_HX_REQUEST": "true"}


def _receive_lot(item, location, quantity, cost, lot, in_days) -> dt.date:
    # The report counts from the chain's calendar date (between midnight and the cutoff hour
    # a store's business date is still the day before).
    expiry = timezone.localdate() + dt.timedelta(days=in_days)
    services.receive(
        item=item,
        location=location,
        quantity=D(quantity),
        unit_cost=D(cost),
        key=key(),
        actor=SYSTEM,
        lot_code=lot,
        expiry_date=expiry,
    )
    return expiry


@pytest.fixture
def lots(stock):
    """Milk lots at A (in 2 and in 30 days) and flour at B (in 1 day)."""
    return {
        "soon": _receive_lot(stock.milk, stock.walk_in, "4", "1.5", "M-1", 2),
        "later": _receive_lot(stock.milk, stock.walk_in, "6", "1.5", "M-2", 30),
        "b": _receive_lot(stock.flour, stock.freezer_b, "5", "3", "F-1", 1),
    }


@pytest.fixture
def people(tree):
    return {
        "manager_a": make_user("store_manager", tree.store_a),  # inventory.view at A
        "region": make_user("region_manager", tree.region),  # A and B
        "tech_a": make_user("technician", tree.store_a),  # no inventory permission
    }


def test_the_page_is_where_the_tests_look(db):
    assert reverse("inventory:expiring") == EXPIRING


def test_expiring_the_lots_of_the_users_stores_in_the_on_hand_columns(lots, people):
    rows = _xlsx(client_for(people["manager_a"]).get(f"{EXPIRING}?export=xlsx"))
    assert rows[0] == ON_HAND_HEADER
    days = (lots["soon"] - timezone.localdate()).days  # the report counts from the chain's date
    assert rows[1:] == [
        [
            "SHA001",
            "Store SHA001",
            "WALKIN",
            "Walkin",
            "MILK",
            "Milk",
            None,
            "M-1",
            dt.datetime.combine(lots["soon"], dt.time()),
            days,
            4,
            "l",
            1.5,
            6,
            "CNY",
        ]
    ]
    table = _csv(client_for(people["region"]).get(f"{EXPIRING}?export=csv"))
    assert table[0] == ON_HAND_HEADER
    assert [(row[0], row[4], row[7], row[10], row[14]) for row in table[1:]] == [
        ("SHA002", "FLOUR", "F-1", "5", "CNY"),
        ("SHA001", "MILK", "M-1", "4", "CNY"),
    ]


def test_expiring_the_filters_are_kept(lots, people, tree):
    client = client_for(people["region"])
    table = _csv(client.get(f"{EXPIRING}?days=30&site={tree.store_a.site.pk}&export=csv"))
    assert [row[7] for row in table[1:]] == ["M-1", "M-2"]
    table = _csv(client.get(f"{EXPIRING}?days=1&export=csv"))
    assert [row[7] for row in table[1:]] == ["F-1"]
    table = _csv(client.get(f"{EXPIRING}?days=1&site={tree.store_a.site.pk}&export=csv"))
    assert table == [ON_HAND_HEADER]
    # Another store's id is not a way in.
    response = client_for(people["manager_a"]).get(
        f"{EXPIRING}?site={tree.store_b.site.pk}&export=csv"
    )
    assert response.status_code == 404


def test_expiring_the_page_offers_the_exports_and_the_swap_carries_them(lots, people, tree):
    client = client_for(people["region"])
    body = client.get(EXPIRING).content.decode()
    assert 'href="?export=xlsx"' in body and 'href="?export=csv"' in body
    assert "hx-swap-oob" not in body
    body = client.get(f"{EXPIRING}?days=30", **HX).content.decode()
    assert "<html" not in body
    assert 'id="expiring-exports" class="d-flex" hx-swap-oob="true"' in body
    assert 'href="?days=30&amp;export=csv"' in body


@pytest.mark.parametrize("file_type", ["xlsx", "csv"])
def test_expiring_an_anonymous_caller_is_sent_to_sign_in(db, file_type):
    response = client_for(None).get(f"{EXPIRING}?export={file_type}")
    assert response.status_code == 302
    assert response["Location"].startswith(f"{resolve_url(settings.LOGIN_URL)}?next=")


@pytest.mark.parametrize("file_type", ["xlsx", "csv"])
def test_expiring_a_caller_without_inventory_view_is_refused(people, file_type):
    response = client_for(people["tech_a"]).get(f"{EXPIRING}?export={file_type}")
    assert response.status_code == 403
    assert "Content-Disposition" not in response


# --- an item's movements -----------------------------------------------------------------------

MOVEMENT_HEADER = [
    "Occurred at",
    "Store code",
    "Store",
    "Location code",
    "Location",
    "SKU",
    "Item",
    "Reason",
    "Lot",
    "Quantity",
    "Unit",
    "Unit cost",
    "Value",
    "Currency",
    "Document",
    "Posting",
]


def _movements_url(item) -> str:
    return reverse("inventory:item_movements", args=[item.pk])


@pytest.fixture
def moves(stock):
    """Flour at A: received twice (10 at 5, then 6 at 6) and 4 used; at B: 5 received."""
    for quantity, cost in (("10", "5"), ("6", "6")):
        services.receive(
            item=stock.flour,
            location=stock.walk_in,
            quantity=D(quantity),
            unit_cost=D(cost),
            key=key(),
            actor=SYSTEM,
        )
    services.consume(
        item=stock.flour,
        location=stock.walk_in,
        quantity=D("4"),
        reason=MoveReason.CONSUMPTION,
        key=key(),
        actor=SYSTEM,
    )
    services.receive(
        item=stock.flour,
        location=stock.freezer_b,
        quantity=D("5"),
        unit_cost=D("3"),
        key=key(),
        actor=SYSTEM,
    )
    return StockMove.objects.filter(item=stock.flour).order_by("pk")


def test_movements_every_move_of_the_users_stores_not_just_the_latest(
    moves, stock, people, monkeypatch
):
    monkeypatch.setattr(report_views, "MOVES_SHOWN", 1)
    client = client_for(people["manager_a"])
    url = _movements_url(stock.flour)
    assert client.get(url).content.decode().count('data-testid="move-row"') == 1

    rows = _xlsx(client.get(f"{url}?export=xlsx"))
    assert rows[0] == MOVEMENT_HEADER
    # Newest first, as on the page; never store B's receipt.
    assert [(row[1], row[7], row[9]) for row in rows[1:]] == [
        ("SHA001", "Consumption", -4),
        ("SHA001", "Receipt", 6),
        ("SHA001", "Receipt", 10),
    ]
    first = moves[0]
    assert rows[3] == [
        store_time(first.occurred_at, first.site),
        "SHA001",
        "Store SHA001",
        "WALKIN",
        "Walkin",
        "FLOUR",
        "Flour",
        "Receipt",
        None,
        10,
        "kg",
        5,
        50,
        "CNY",
        None,
        first.posting_id,
    ]
    table = _csv(client_for(people["region"]).get(f"{url}?export=csv"))
    assert table[0] == MOVEMENT_HEADER
    assert [(row[1], row[9], row[12]) for row in table[1:]] == [
        ("SHA002", "5", "15"),
        ("SHA001", "-4", "-21.5"),  # at the average cost, 86 / 16
        ("SHA001", "6", "36"),
        ("SHA001", "10", "50"),
    ]


def test_movements_the_store_filter_is_kept(moves, stock, people, tree):
    url = _movements_url(stock.flour)
    client = client_for(people["region"])
    table = _csv(client.get(f"{url}?site={tree.store_b.site.pk}&export=csv"))
    assert [(row[1], row[3], row[9]) for row in table[1:]] == [("SHA002", "FREEZER", "5")]
    # Another store's id is not a way in; nor is an unknown item.
    manager_a = client_for(people["manager_a"])
    response = manager_a.get(f"{url}?site={tree.store_b.site.pk}&export=csv")
    assert response.status_code == 404
    assert "Content-Disposition" not in response
    response = manager_a.get(f"{reverse('inventory:item_movements', args=[999999])}?export=csv")
    assert response.status_code == 404


def test_movements_the_page_offers_the_exports_with_its_filter(moves, stock, people, tree):
    url = _movements_url(stock.flour)
    body = client_for(people["region"]).get(f"{url}?site={tree.store_a.site.pk}").content
    html = body.decode()
    assert f'href="?site={tree.store_a.site.pk}&amp;export=csv"' in html
    assert 'data-testid="export-xlsx"' in html


@pytest.mark.parametrize("file_type", ["xlsx", "csv"])
def test_movements_an_anonymous_caller_is_sent_to_sign_in(stock, file_type):
    response = client_for(None).get(f"{_movements_url(stock.flour)}?export={file_type}")
    assert response.status_code == 302
    assert response["Location"].startswith(f"{resolve_url(settings.LOGIN_URL)}?next=")


@pytest.mark.parametrize("file_type", ["xlsx", "csv"])
def test_movements_a_caller_without_inventory_view_is_refused(moves, stock, people, file_type):
    response = client_for(people["tech_a"]).get(f"{_movements_url(stock.flour)}?export={file_type}")
    assert response.status_code == 403
    assert "Content-Disposition" not in response


# --- a store's stock period history --------------------------------------------------------------

HISTORY_HEADER = [
    "Store code",
    "Store",
    "Closed through",
    "Previously closed through",
    "Reopened",
    "Changed by",
    "Changed at",
    "Reason",
]


def _history_url(site) -> str:
    return reverse("inventory:period_history", args=[site.pk])


@pytest.fixture
def closes(people, tree):
    """Store A closed through yesterday (month end) then reopened; store B closed once."""
    site_a, site_b = tree.store_a.site, tree.store_b.site
    yesterday = site_today(site_a) - dt.timedelta(days=1)
    region = people["region"]
    closed = periods.close_period(site_a, through=yesterday, actor=region, reason="month end")
    reopened = periods.close_period(site_a, through=None, actor=region, reason="a late invoice")
    periods.close_period(site_b, through=yesterday, actor=region, reason="B month end")
    return closed, reopened


def test_period_history_every_change_of_the_store(closes, people, tree):
    closed, reopened = closes
    client = client_for(people["manager_a"])
    rows = _xlsx(client.get(f"{_history_url(tree.store_a.site)}?export=xlsx"))
    assert rows[0] == HISTORY_HEADER
    through = dt.datetime.combine(closed.closed_through, dt.time())
    region = str(people["region"])
    assert rows[1:] == [  # newest first; never store B's change
        [
            "SHA001",
            "Store SHA001",
            None,
            through,
            True,
            region,
            store_time(reopened.created_at, tree.store_a.site),
            "a late invoice",
        ],
        [
            "SHA001",
            "Store SHA001",
            through,
            None,
            False,
            region,
            store_time(closed.created_at, tree.store_a.site),
            "month end",
        ],
    ]
    table = _csv(client.get(f"{_history_url(tree.store_a.site)}?export=csv"))
    assert table[0] == HISTORY_HEADER
    assert [row[2:5] + row[7:] for row in table[1:]] == [
        ["", closed.closed_through.isoformat(), "True", "a late invoice"],
        [closed.closed_through.isoformat(), "", "False", "month end"],
    ]


def test_period_history_another_stores_is_not_a_way_in(closes, people, tree):
    url = f"{_history_url(tree.store_b.site)}?export=csv"
    response = client_for(people["manager_a"]).get(url)
    assert response.status_code == 404
    assert "Content-Disposition" not in response
    table = _csv(client_for(people["region"]).get(url))
    assert [(row[0], row[7]) for row in table[1:]] == [("SHA002", "B month end")]


def test_period_history_the_page_offers_the_exports(closes, people, tree):
    body = client_for(people["manager_a"]).get(_history_url(tree.store_a.site)).content.decode()
    assert 'href="?export=xlsx"' in body and 'href="?export=csv"' in body


@pytest.mark.parametrize("file_type", ["xlsx", "csv"])
def test_period_history_an_anonymous_caller_is_sent_to_sign_in(tree, file_type):
    response = client_for(None).get(f"{_history_url(tree.store_a.site)}?export={file_type}")
    assert response.status_code == 302
    assert response["Location"].startswith(f"{resolve_url(settings.LOGIN_URL)}?next=")


@pytest.mark.parametrize("file_type", ["xlsx", "csv"])
def test_period_history_a_caller_without_inventory_view_is_refused(closes, people, tree, file_type):
    response = client_for(people["tech_a"]).get(
        f"{_history_url(tree.store_a.site)}?export={file_type}"
    )
    assert response.status_code == 403
    assert "Content-Disposition" not in response
