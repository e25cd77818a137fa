"""Available-to-promise (ATP): on hand in a store's own locations (in transit left out) minus
active, unexpired reservations. Golden numbers through `GET /api/v1/inventory/available`, the
shared computation behind `available_to_promise` and `reserve`, the permission matrix, query
guards, and the Reserved / Available figures of the on-hand page."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.utils import timezone

from backroom.inventory import reports, selectors, services
from backroom.inventory.exceptions import InsufficientStock
from backroom.inventory.models import Reservation, StockMove
from backroom.inventory.services import MoveInput
from backroom.inventory.tests.conftest import D, key, make_class, make_item, make_location
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import ValidationFailed
from backroom.testing.factories import client_for, make_user
from backroom.testing.matrix import assert_matrix

API = "/api/v1/inventory/available"


def _receive(item, location, quantity):
    services.receive(
        item=item,
        location=location,
        quantity=D(quantity),
        unit_cost=D(2),
        key=key("in"),
        actor=SYSTEM,
    )


def _reserve(item, site, quantity, **extra):
    return services.reserve(
        item=item, site=site, quantity=D(quantity), key=key("r"), actor=SYSTEM, **extra
    )


def _get(client, site, *, items=(), location=None):
    query = [f"site_id={site.pk}", *(f"item_id={item.pk}" for item in items)]
    if location is not None:
        query.append(f"location_id={location.pk}")
    response = client.get(f"{API}?{'&'.join(query)}")
    assert response.status_code == 200, response.content
    return response.json()


def _figures(body) -> list[tuple[str, str, str, str, str]]:
    return [
        (row["sku"], row["unit"], row["on_hand"], row["reserved"], row["available"])
        for row in body["items"]
    ]


@pytest.fixture
def manager(tree):
    return client_for(make_user("store_manager", tree.store_a))


# --- golden numbers ------------------------------------------------------------------------


def test_receive_ten_reserve_three_leaves_seven(stock, tree, manager):
    site = tree.store_a.site
    _receive(stock.flour, stock.walk_in, 10)
    _reserve(stock.flour, site, 3)
    body = _get(manager, site, items=[stock.flour])
    assert body == {
        "items": [
            {
                "item_id": stock.flour.pk,
                "sku": "FLOUR",
                "item": "Flour",
                "unit": "kg",
                "on_hand": "10.000000",
                "reserved": "3.000000",
                "available": "7.000000",
            }
        ],
        "count": 1,
    }
    assert selectors.available_to_promise(stock.flour, site) == D(7)


def test_expired_reservation_is_not_counted(stock, tree, manager):
    site = tree.store_a.site
    _receive(stock.flour, stock.walk_in, 10)
    _reserve(stock.flour, site, 3, expires_at=timezone.now() + dt.timedelta(hours=1))
    _reserve(stock.flour, site, 2)
    assert _figures(_get(manager, site, items=[stock.flour])) == [
        ("FLOUR", "kg", "10.000000", "5.000000", "5.000000")
    ]
    later = timezone.now() + dt.timedelta(hours=2)
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert _figures(_get(manager, site, items=[stock.flour])) == [
            ("FLOUR", "kg", "10.000000", "2.000000", "8.000000")
        ]
        assert selectors.available_to_promise(stock.flour, site) == D(8)


def test_ended_reservations_are_not_counted(stock, tree, manager):
    site = tree.store_a.site
    _receive(stock.flour, stock.walk_in, 10)
    released = _reserve(stock.flour, site, 3)
    fulfilled = _reserve(stock.flour, site, 4)
    _reserve(stock.flour, site, 1)
    services.end_reservation(released, actor=SYSTEM)
    services.end_reservation(fulfilled, actor=SYSTEM, status="fulfilled")
    assert _figures(_get(manager, site, items=[stock.flour])) == [
        ("FLOUR", "kg", "10.000000", "1.000000", "9.000000")
    ]


def test_negative_on_hand_and_overpromised_stock_are_shown(stock, tree, manager):
    """Napkins allow negative stock: 5 issued from nothing, 2 reserved → available −7."""
    site = tree.store_a.site
    services.consume(item=stock.napkins, location=stock.dry, quantity=D(5), key=key(), actor=SYSTEM)
    _reserve(stock.napkins, site, 2)
    assert _figures(_get(manager, site, items=[stock.napkins])) == [
        ("NAPKIN", "each", "-5.000000", "2.000000", "-7.000000")
    ]
    assert selectors.available_to_promise(stock.napkins, site) == D(-7)


def test_in_transit_stock_is_left_out_of_the_sender(stock, tree, manager):
    """10 kg received, 4 kg sent to store B: 6 kg are still here to promise, 0 at B until it
    arrives; reserving follows the same figure."""
    site = tree.store_a.site
    _receive(stock.flour, stock.walk_in, 10)
    services.transfer(
        item=stock.flour,
        from_location=stock.walk_in,
        to_location=stock.freezer_b,
        quantity=D(4),
        key=key("t"),
        actor=SYSTEM,
    )
    assert _figures(_get(manager, site, items=[stock.flour])) == [
        ("FLOUR", "kg", "6.000000", "0.000000", "6.000000")
    ]
    assert selectors.available_to_promise(stock.flour, site) == D(6)
    assert selectors.available_to_promise(stock.flour, tree.store_b.site) == D(0)
    with pytest.raises(InsufficientStock) as caught:
        _reserve(stock.flour, site, 7)
    assert caught.value.details["short_by"] == "1.000000"
    assert Reservation.objects.count() == 0
    transit = services.transit_location(site, actor=SYSTEM)
    with pytest.raises(ValidationFailed):
        _reserve(stock.flour, site, 1, location=transit)
    response = manager.get(f"{API}?site_id={site.pk}&location_id={transit.pk}")
    assert response.status_code == 422
    assert response.json()["details"]["fields"] == {
        "location_id": ["Stock in transit cannot be promised."]
    }


def test_a_location_counts_its_own_and_the_site_wide_reservations(stock, tree, manager):
    """Walk-in 10, dry store 6; 2 reserved at the walk-in, 3 at the dry store, 4 for the
    whole site (any location may have to fill those)."""
    site = tree.store_a.site
    _receive(stock.flour, stock.walk_in, 10)
    _receive(stock.flour, stock.dry, 6)
    _reserve(stock.flour, site, 2, location=stock.walk_in)
    _reserve(stock.flour, site, 3, location=stock.dry)
    _reserve(stock.flour, site, 4)
    assert _figures(_get(manager, site, items=[stock.flour])) == [
        ("FLOUR", "kg", "16.000000", "9.000000", "7.000000")
    ]
    assert _figures(_get(manager, site, items=[stock.flour], location=stock.walk_in)) == [
        ("FLOUR", "kg", "10.000000", "6.000000", "4.000000")
    ]
    assert selectors.available_to_promise(stock.flour, site, stock.dry) == D(-1)
    # The dry store has nothing left to promise, though its own stock covers its own order.
    with pytest.raises(InsufficientStock):
        _reserve(stock.flour, site, 1, location=stock.dry)
    _reserve(stock.flour, site, 4, location=stock.walk_in)
    assert selectors.available_to_promise(stock.flour, site) == D(3)
    other = manager.get(f"{API}?site_id={site.pk}&location_id={stock.freezer_b.pk}")
    assert other.status_code == 404


def test_without_items_every_item_with_stock_or_reservations(stock, tree, manager):
    site = tree.store_a.site
    _receive(stock.flour, stock.walk_in, 10)
    _receive(stock.milk, stock.dry, 3)
    services.consume(item=stock.milk, location=stock.dry, quantity=D(3), key=key(), actor=SYSTEM)
    _reserve(stock.napkins, site, 5)  # nothing on hand, allowed by the item class
    _receive(stock.flour, stock.freezer_b, 8)  # store B: not listed
    body = _get(manager, site)
    assert body["count"] == 2
    assert _figures(body) == [
        ("FLOUR", "kg", "10.000000", "0.000000", "10.000000"),
        ("NAPKIN", "each", "0.000000", "5.000000", "-5.000000"),
    ]
    # Asked for by id, an item with nothing there is listed with zeros; by SKU.
    assert _figures(_get(manager, site, items=[stock.napkins, stock.milk])) == [
        ("MILK", "l", "0.000000", "0.000000", "0.000000"),
        ("NAPKIN", "each", "0.000000", "5.000000", "-5.000000"),
    ]
    paged = manager.get(f"{API}?site_id={site.pk}&limit=1&offset=1").json()
    assert (paged["count"], [row["sku"] for row in paged["items"]]) == (2, ["NAPKIN"])


def test_bad_requests(stock, tree, manager):
    site = tree.store_a.site
    assert manager.get(API).status_code == 422  # site_id is required
    assert manager.get(f"{API}?site_id={site.pk}&item_id=0").status_code == 422
    unknown = manager.get(f"{API}?site_id={site.pk}&item_id={stock.flour.pk}&item_id=999999")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")
    assert manager.get(f"{API}?site_id=999999").status_code == 404


# --- permission matrix ---------------------------------------------------------------------


def _snapshot():
    return lambda: (
        StockMove.objects.count(),
        list(Reservation.objects.order_by("pk").values_list("pk", "status", "quantity")),
    )


def test_available_api_matrix(stock, tree):
    site = tree.store_a.site
    _receive(stock.flour, stock.walk_in, 10)
    _reserve(stock.flour, site, 3)
    result = assert_matrix(
        "GET",
        f"{API}?site_id={site.pk}&item_id={stock.flour.pk}",
        allowed=make_user("store_staff", tree.store_a),
        forbidden=make_user("technician", tree.store_a),  # sees the store, not its stock
        other_scope=make_user("store_manager", tree.store_b),
        snapshot=_snapshot(),
    )
    assert _figures(result.allowed.json()) == [("FLOUR", "kg", "10.000000", "3.000000", "7.000000")]


def test_available_api_matrix_for_a_region(stock, tree):
    """A region manager sees store B's figures; store A's manager gets a 404 for them."""
    site = tree.store_b.site
    _receive(stock.flour, stock.freezer_b, 5)
    result = assert_matrix(
        "GET",
        f"{API}?site_id={site.pk}",
        allowed=make_user("region_manager", tree.region),
        forbidden=make_user("technician", tree.store_b),
        other_scope=make_user("store_manager", tree.store_a),
        snapshot=_snapshot(),
    )
    assert _figures(result.allowed.json()) == [("FLOUR", "kg", "5.000000", "0.000000", "5.000000")]


# --- query counts --------------------------------------------------------------------------


@pytest.fixture
def many_items(tree):
    """60 items at store A, each received in two locations and reserved twice."""
    make_class("food", "forbid")
    items = [make_item(f"ITEM{index:02d}", "kg", "food") for index in range(60)]
    locations = [make_location(tree.store_a, "WALKIN"), make_location(tree.store_a, "DRY")]
    services.post_moves(
        [
            MoveInput(
                action=services.RECEIVE,
                item_id=item.pk,
                location_id=location.pk,
                quantity=D(5),
                unit_cost=D(1),
                key=key("bulk"),
            )
            for item in items
            for location in locations
        ],
        actor=SYSTEM,
    )
    for item in items:
        _reserve(item, tree.store_a.site, 1)
        _reserve(item, tree.store_a.site, 2, location=locations[0])
    return items


def test_available_api_queries_do_not_grow_with_items(
    tree, many_items, django_assert_max_num_queries
):
    client = client_for(make_user("store_manager", tree.store_a))
    site = tree.store_a.site
    client.get(f"{API}?site_id={site.pk}")  # warm the session and permission caches
    # 7 today: session, user, memberships, site, reserved, on hand, items.
    with django_assert_max_num_queries(8):
        body = client.get(f"{API}?site_id={site.pk}&limit=500").json()
    assert body["count"] == 60
    assert {(row["on_hand"], row["reserved"], row["available"]) for row in body["items"]} == {
        ("10.000000", "3.000000", "7.000000")
    }
    query = "&".join(f"item_id={item.pk}" for item in many_items)
    with django_assert_max_num_queries(8):
        body = client.get(f"{API}?site_id={site.pk}&{query}&limit=500").json()
    assert body["count"] == 60


def test_on_hand_page_queries_do_not_grow_with_reserved_items(
    tree, many_items, django_assert_max_num_queries
):
    client = client_for(make_user("store_manager", tree.store_a))
    url = f"/stock/on-hand/?site={tree.store_a.site.pk}"
    client.get(url)
    # 16 today: the table's 11, 3 for ATP and 2 for the navigation's approval badges.
    with django_assert_max_num_queries(17):
        html = client.get(url).content.decode()
    assert html.count('data-testid="atp-row"') == 60
    assert html.count('data-testid="on-hand-row"') == 120


# --- the on-hand page ----------------------------------------------------------------------


def test_on_hand_page_shows_reserved_and_available(stock, tree, manager):
    site = tree.store_a.site
    _receive(stock.flour, stock.walk_in, 10)
    _receive(stock.milk, stock.dry, 4)  # nothing reserved: no figures
    _reserve(stock.flour, site, 3)
    _reserve(stock.napkins, site, 2)  # reserved with nothing on hand: shown, negative
    html = manager.get(f"/stock/on-hand/?site={site.pk}").content.decode()
    assert html.count('data-testid="atp-row"') == 2
    assert 'data-testid="atp-row" data-sku="FLOUR"' in html
    assert 'data-testid="atp-row" data-sku="MILK"' not in html
    assert "Reserved" in html and "Available" in html
    assert 'data-testid="atp-reserved">3 kg<' in html
    assert 'data-testid="atp-available">7 kg<' in html
    assert 'text-danger" data-testid="atp-available">-2 each<' in html
    # The figures follow the filters (an HTMX swap of the table included) ...
    fragment = manager.get(
        f"/stock/on-hand/?site={site.pk}&q=flour", headers={"HX-Request": "true"}
    ).content.decode()
    assert "<html" not in fragment
    assert fragment.count('data-testid="atp-row"') == 1
    # ... and need a store: ATP is per store.
    assert 'data-testid="atp"' not in manager.get("/stock/on-hand/").content.decode()
    for row in reports.reserved_stock(SYSTEM, site):
        assert row.available == row.on_hand - row.reserved


def test_on_hand_page_without_reservations_shows_no_figures(stock, tree, manager):
    site = tree.store_a.site
    _receive(stock.flour, stock.walk_in, 10)
    released = _reserve(stock.flour, site, 3)
    services.end_reservation(released, actor=SYSTEM)
    html = manager.get(f"/stock/on-hand/?site={site.pk}").content.decode()
    assert 'data-testid="atp"' not in html
    assert html.count('data-testid="on-hand-row"') == 1
