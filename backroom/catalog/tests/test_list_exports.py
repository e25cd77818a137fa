"""The item list's exports are the items and recipes importers' (so that export → edit → import
round-trips), offered only to those who may use those importers; the items export keeps the
list's search and kind filters (only the listed items), and its links follow an HTMX swap."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.urls import reverse

from backroom.catalog.tests.conftest import make_item
from backroom.testing.factories import client_for, make_user

ITEMS = "/catalog/items/"


def _round_trip_kinds(body: str) -> list[str]:
    return re.findall(r'data-testid="round-trip-export" data-kind="([a-z_]+)"', body)


@pytest.fixture
def flour(food_class):
    return make_item("FLOUR")


def test_the_item_list_is_where_the_tests_look(db):
    assert reverse("catalog:items") == ITEMS


@pytest.mark.parametrize("role", ["buyer", "hq_admin"])  # imports.use and catalog.manage
def test_links_to_the_items_and_recipes_exports_for_who_may_import_them(tree, flour, role):
    client = client_for(make_user(role, tree.group))
    response = client.get(f"{ITEMS}?q=flour&kind=ingredient")
    assert response.status_code == 200
    body = response.content.decode()
    assert "FLOUR" in body
    assert _round_trip_kinds(body) == ["items", "recipes"]
    items = reverse("imports:export", args=["items"])
    assert f'href="{items}?kind=ingredient&amp;q=flour&amp;format=xlsx"' in body
    assert f'href="{items}?kind=ingredient&amp;q=flour&amp;format=csv"' in body
    recipes = reverse("imports:export", args=["recipes"])  # recipes: the whole scope
    assert f'href="{recipes}?format=xlsx"' in body
    assert f'href="{recipes}?format=csv"' in body
    # The link leads to a file the user may download: the round trip starts there.
    response = client.get(f"{reverse('imports:export', args=['items'])}?format=csv")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="items.csv"'
    assert "FLOUR" in response.content.decode("utf-8-sig")


@pytest.mark.parametrize(
    ("role", "at"),
    [
        ("store_manager", "store_a"),  # catalog.view and imports.use, not catalog.manage
        ("technician", "store_a"),  # catalog.view only
        ("hq_operations", "group"),  # catalog.view and imports.use, not catalog.manage
    ],
)
def test_no_links_for_who_may_see_items_but_not_import_them(tree, flour, role, at):
    response = client_for(make_user(role, getattr(tree, at))).get(ITEMS)
    assert response.status_code == 200
    body = response.content.decode()
    assert _round_trip_kinds(body) == []
    assert "/imports/items/export/" not in body and "/imports/recipes/export/" not in body


def test_an_htmx_search_returns_the_table_and_the_links_out_of_band(tree, flour):
    client = client_for(make_user("buyer", tree.group))
    body = client.get(ITEMS).content.decode()
    assert 'id="item-exports" class="d-flex flex-wrap gap-2">' in body
    assert "hx-swap-oob" not in body
    body = client.get(f"{ITEMS}?q=flour", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in body
    assert 'id="item-exports" class="d-flex flex-wrap gap-2" hx-swap-oob="true"' in body
    assert _round_trip_kinds(body) == ["items", "recipes"]
    assert 'href="/imports/items/export/?q=flour&amp;format=csv"' in body


def test_the_items_export_keeps_the_lists_filters(tree, flour):
    make_item("SALT", name="Sea salt")
    make_item("NOODLES", kind="menu", name="Flour noodles")
    client = client_for(make_user("buyer", tree.group))
    export = reverse("imports:export", args=["items"])

    def skus(query: str) -> list[str]:
        response = client.get(f"{export}?{query}format=csv")
        assert response.status_code == 200
        lines = response.content.decode("utf-8-sig").splitlines()[1:]
        return sorted({line.split(",")[0] for line in lines})

    assert skus("") == ["FLOUR", "NOODLES", "SALT"]
    assert skus("q=flour&") == ["FLOUR", "NOODLES"]
    assert skus("q=flour&kind=ingredient&") == ["FLOUR"]
    assert skus("kind=nonsense&page=2&") == ["FLOUR", "NOODLES", "SALT"]  # not its filters


def test_an_anonymous_caller_is_sent_to_sign_in(db):
    response = client_for(None).get(ITEMS)
    assert response.status_code == 302
    assert response["Location"].startswith(f"{resolve_url(settings.LOGIN_URL)}?next=")


def test_a_caller_without_catalog_view_is_refused(tree):
    response = client_for(make_user(None)).get(ITEMS)
    assert response.status_code == 403
