"""Catalog pages: the item list, an item, a cost card per store; matrices and phone layout."""

from __future__ import annotations

from decimal import Decimal

import pytest

from backroom.accounts.services import grant_membership
from backroom.catalog import costing, services
from backroom.catalog.tests.conftest import OPENING
from backroom.kernel.actors import SYSTEM
from backroom.testing.factories import client_for, make_user
from backroom.testing.matrix import assert_matrix


@pytest.fixture
def people(tree, catalog_roles):
    def holder(role, node):
        user = make_user()
        grant_membership(user, catalog_roles[role], node, actor=SYSTEM)
        return user

    return {
        "viewer_a": holder("viewer", tree.store_a),
        "viewer_b": holder("viewer", tree.store_b),
        "nobody": holder("outsider", tree.store_a),
    }


def test_item_list_matrix_search_and_queries(shop, people, django_assert_max_num_queries):
    result = assert_matrix(
        "GET",
        "/catalog/items/",
        allowed=people["viewer_a"],
        forbidden=people["nobody"],
        other_scope=None,
    )
    body = result.allowed.content.decode()
    assert body.count('data-testid="item-row"') == 16
    assert "table-responsive" in body
    client = client_for(people["viewer_a"])
    found = client.get("/catalog/items/", {"q": "beef", "kind": "ingredient"}).content.decode()
    assert found.count('data-testid="item-row"') == 2
    fragment = client.get("/catalog/items/", {"q": "broth"}, HTTP_HX_REQUEST="true")
    assert fragment.content.decode().count('data-testid="item-row"') == 1
    assert "<html" not in fragment.content.decode()
    with django_assert_max_num_queries(12):
        client.get("/catalog/items/")


def test_item_detail_shows_units(flour, people):
    body = client_for(people["viewer_b"]).get(f"/catalog/items/{flour.pk}/").content.decode()
    assert "1 case = 15 kg" in body
    assert "case of 6 × 2.5 kg" in body
    assert body.count('data-testid="unit-row"') == 3


def test_item_detail_shows_recipe_and_versions(shop, people):
    result = assert_matrix(
        "GET",
        f"/catalog/items/{shop.items['BNS'].pk}/",
        allowed=people["viewer_b"],
        forbidden=people["nobody"],
        other_scope=None,
    )
    body = result.allowed.content.decode()
    assert body.count('data-testid="recipe-line"') == 6
    assert body.count('data-testid="recipe-version"') == 1


def test_cost_card_page_per_store(shop, tree, people, monkeypatch):
    monkeypatch.setattr(costing, "_average_cost_function", lambda: None)
    services.set_menu_price(
        shop.items["BNS"],
        services.MenuPriceInput(price=Decimal("38"), currency="CNY", effective_from=OPENING),
        actor=SYSTEM,
    )
    url = f"/catalog/items/{shop.items['BNS'].pk}/cost-card/"
    result = assert_matrix(
        "GET",
        url,
        payload={"site": tree.store_a.site.pk},
        allowed=people["viewer_a"],
        forbidden=people["nobody"],
        other_scope=people["viewer_b"],
    )
    body = result.allowed.content.decode()
    assert 'data-testid="total-cost">16.85' in body
    assert "44.35 %" in body
    assert body.count('data-testid="cost-line"') == 6
    assert body.count('data-testid="cost-component"') == 6
    salt = client_for(people["viewer_a"]).get(f"/catalog/items/{shop.items['SALT'].pk}/cost-card/")
    assert salt.status_code == 200  # an ingredient sold as it is: a one-line card
