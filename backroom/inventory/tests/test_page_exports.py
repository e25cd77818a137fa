"""Exports of the stock report pages that had none (`?export=xlsx|csv` on the page's own URL):
expiring stock, in the stock-on-hand export's columns, the page's filters kept, never another
store's lots; anonymous callers sent to sign in, callers without inventory.view refused."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils import timezone

from backroom.inventory import services
from backroom.inventory.tests.conftest import D, key
from backroom.inventory.tests.test_list_exports import ON_HAND_HEADER, _csv, _xlsx
from backroom.inventory.views.periods import site_today
from backroom.kernel.actors import SYSTEM
from backroom.testing.factories import client_for, make_user

EXPIRING = "/stock/expiring/"
HX = {"HTTP_HX_REQUEST": "true"}


def _receive_lot(item, location, quantity, cost, lot, in_days) -> dt.date:
    expiry = site_today(location.site) + dt.timedelta(days=in_days)
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
