"""The item list's exports are the items and recipes importers' (so that export → edit → import
round-trips), offered only to those who may use those importers; the search and kind filters
of the list do not hide them after an HTMX swap (they sit in the page header)."""

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
    for kind in ("items", "recipes"):
        export = reverse("imports:export", args=[kind])
        assert f'href="{export}?format=xlsx"' in body
        assert f'href="{export}?format=csv"' in body
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


def test_an_htmx_search_returns_the_table_only(tree, flour):
    client = client_for(make_user("buyer", tree.group))
    body = client.get(f"{ITEMS}?q=flour", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in body
    assert _round_trip_kinds(body) == []  # the links stay in the page header, unchanged


def test_an_anonymous_caller_is_sent_to_sign_in(db):
    response = client_for(None).get(ITEMS)
    assert response.status_code == 302
    assert response["Location"].startswith(f"{resolve_url(settings.LOGIN_URL)}?next=")


def test_a_caller_without_catalog_view_is_refused(tree):
    response = client_for(make_user(None)).get(ITEMS)
    assert response.status_code == 403
