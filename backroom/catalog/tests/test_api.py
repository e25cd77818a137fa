"""Catalog API: permission matrices, filters, writes' whole effect, explosion and cost cards."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from backroom.accounts.services import grant_membership
from backroom.audit.models import AuditEntry
from backroom.catalog import costing, services
from backroom.catalog.models import Item, ItemUnit, MenuPrice, Modifier, Recipe
from backroom.catalog.tests.conftest import OPENING
from backroom.events.models import OutboxEvent
from backroom.kernel.actors import SYSTEM
from backroom.testing.factories import client_for, make_user
from backroom.testing.matrix import assert_matrix

API = "/api/v1/catalog"
D = Decimal


@pytest.fixture
def people(tree, catalog_roles):
    def holder(role, node):
        user = make_user()
        grant_membership(user, catalog_roles[role], node, actor=SYSTEM)
        return user

    return {
        "editor": holder("manager", tree.group),
        "region_editor": holder("manager", tree.region),
        "viewer_a": holder("viewer", tree.store_a),
        "viewer_b": holder("viewer", tree.store_b),
        "nobody": holder("outsider", tree.store_a),
    }


def post(client, url, payload):
    return client.post(url, json.dumps(payload, default=str), content_type="application/json")


def patch(client, url, payload):
    return client.patch(url, json.dumps(payload, default=str), content_type="application/json")


# --- items -----------------------------------------------------------------------------------


def test_list_items_matrix(flour, people):
    result = assert_matrix(
        "GET",
        f"{API}/items",
        allowed=people["viewer_a"],
        forbidden=people["nobody"],
        other_scope=None,  # the catalog is chain-wide
        expect_forbidden=200,
    )
    body = result.allowed.json()
    assert body["count"] == 1
    row = body["items"][0]
    assert (row["sku"], row["base_unit"], row["item_class"], row["category"]) == (
        "FLOUR",
        "kg",
        "food",
        None,
    )
    assert [(u["code"], u["factor"]) for u in row["units"]] == [
        ("pack", "2.500000000000"),
        ("case", "15.000000000000"),
        ("bag", "25.000000000000"),
    ]
    assert result.forbidden.json() == {"items": [], "count": 0}


def test_list_items_filters_search_and_query_count(shop, people, django_assert_max_num_queries):
    client = client_for(people["viewer_a"])
    skus = lambda response: [row["sku"] for row in response.json()["items"]]  # noqa: E731
    assert skus(client.get(f"{API}/items", {"kind": "menu"})) == ["BNS"]
    assert skus(client.get(f"{API}/items", {"kind": "prepared"})) == [
        "BROTH",
        "CHILLI-OIL",
        "DOUGH",
    ]
    assert skus(client.get(f"{API}/items", {"search": "beef"})) == [
        "BEEF-BONE",
        "BEEF-SHANK",
        "BNS",
        "BROTH",
    ]
    assert client.get(f"{API}/items", {"kind": "gadget"}).status_code == 422
    with django_assert_max_num_queries(8):
        response = client.get(f"{API}/items", {"limit": 100})
    assert response.json()["count"] == 16


def test_get_item_matrix(flour, people):
    result = assert_matrix(
        "GET",
        f"{API}/items/{flour.pk}",
        allowed=people["viewer_b"],
        forbidden=people["nobody"],
        other_scope=None,
        expect_forbidden=404,
    )
    assert result.allowed.json()["sku"] == "FLOUR"


def test_create_item_matrix_and_whole_effect(food_class, people):
    payload = {
        "sku": "SOY-LIGHT",
        "name": "Light soy sauce",
        "kind": "ingredient",
        "base_unit": "l",
        "item_class": "food",
        "storage": "ambient",
        "standard_cost": "12.5",
        "shelf_life_days": 540,
    }
    result = assert_matrix(
        "POST",
        f"{API}/items",
        payload=payload,
        allowed=people["editor"],
        forbidden=people["region_editor"],  # catalog.manage below the root is not enough
        other_scope=None,
        expect_allowed=201,
        snapshot=lambda: Item.objects.values_list("sku"),
    )
    body = result.allowed.json()
    assert (body["sku"], body["base_unit"], body["standard_cost"], body["units"]) == (
        "SOY-LIGHT",
        "l",
        "12.5000",
        [],
    )
    item = Item.objects.get(sku="SOY-LIGHT")
    assert AuditEntry.objects.get(action="catalog.item.create").actor_id == people["editor"].pk
    assert OutboxEvent.objects.get(event_type="catalog.item.created").payload["item_id"] == item.pk


def test_create_item_reports_every_problem(food_class, people):
    response = post(
        client_for(people["editor"]),
        f"{API}/items",
        {
            "sku": "X",
            "name": "X",
            "kind": "ingredient",
            "base_unit": "furlong",
            "item_class": "none",
            "category": "none",
        },
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid"
    assert set(response.json()["details"]["fields"]) == {"base_unit", "item_class", "category"}
    assert Item.objects.count() == 0


def test_patch_item_matrix(flour, people):
    result = assert_matrix(
        "PATCH",
        f"{API}/items/{flour.pk}",
        payload={"name": "Bread flour", "shelf_life_days": None, "reason": "renamed"},
        allowed=people["editor"],
        forbidden=people["viewer_a"],
        other_scope=None,
        snapshot=lambda: Item.objects.values_list("name", "shelf_life_days"),
    )
    assert result.allowed.json()["name"] == "Bread flour"
    assert AuditEntry.objects.get(action="catalog.item.update").reason == "renamed"


def test_deactivate_item(flour, people):
    response = post(client_for(people["editor"]), f"{API}/items/{flour.pk}/deactivate", {})
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    inactive = client_for(people["viewer_a"]).get(f"{API}/items", {"is_active": False}).json()
    assert [row["sku"] for row in inactive["items"]] == ["FLOUR"]


def test_item_units_add_and_change(flour, people):
    url = f"{API}/items/{flour.pk}/units"
    result = assert_matrix(
        "POST",
        url,
        payload={
            "code": "sack",
            "name": "sack of 50 kg",
            "factor": "50",
            "is_purchase": True,
            "decimal_places": 0,
            "rounding": "up",
        },
        allowed=people["editor"],
        forbidden=people["viewer_a"],
        other_scope=None,
        expect_allowed=201,
        snapshot=lambda: ItemUnit.objects.values_list("code", "factor"),
    )
    sack = result.allowed.json()
    assert (sack["code"], sack["factor"], sack["rounding"]) == ("sack", "50.000000000000", "up")
    changed = patch(
        client_for(people["editor"]), f"{url}/{sack['id']}", {"factor": "45", "reason": "new bag"}
    )
    assert changed.status_code == 200
    assert changed.json()["factor"] == "45.000000000000"
    units = client_for(people["viewer_a"]).get(url).json()
    assert [u["code"] for u in units] == ["pack", "case", "bag", "sack"]
    wrong = post(client_for(people["editor"]), url, {"code": "g", "factor": "0.5"})
    assert (wrong.status_code, list(wrong.json()["details"]["fields"])) == (422, ["factor"])
    precise = post(client_for(people["editor"]), url, {"code": "x", "factor": "0.0000000000001"})
    assert precise.status_code == 422


def test_units_classes_categories(db, people):
    editor = client_for(people["editor"])
    assert (
        post(
            editor,
            f"{API}/units",
            {"code": "liang", "name": "liang", "dimension": "mass", "to_reference": "50"},
        ).status_code
        == 201
    )
    assert post(editor, f"{API}/item-classes", {"code": "dry", "name": "Dry"}).status_code == 201
    assert post(editor, f"{API}/categories", {"code": "veg", "name": "Veg"}).status_code == 201
    sub = post(
        editor, f"{API}/categories", {"code": "leafy", "name": "Leafy", "parent_code": "veg"}
    )
    assert sub.json()["parent_code"] == "veg"
    viewer = client_for(people["viewer_a"])
    assert "liang" in [
        u["code"] for u in viewer.get(f"{API}/units", {"limit": 100}).json()["items"]
    ]
    assert [c["code"] for c in viewer.get(f"{API}/categories").json()["items"]] == ["leafy", "veg"]
    assert (
        post(
            client_for(people["viewer_a"]), f"{API}/item-classes", {"code": "x", "name": "X"}
        ).status_code
        == 403
    )


# --- recipes and modifiers -----------------------------------------------------------------


def test_recipes_list_get_publish(shop, people):
    bns = shop.items["BNS"]
    client = client_for(people["viewer_a"])
    listed = client.get(f"{API}/items/{bns.pk}/recipes").json()
    assert [r["version"] for r in listed["items"]] == [1]
    one = client.get(f"{API}/items/{bns.pk}/recipes/1").json()
    assert [(row["component_sku"], row["quantity"], row["unit_code"]) for row in one["lines"]][
        :2
    ] == [
        ("BROTH", "400.000000", "ml"),
        ("DOUGH", "150.000000", "g"),
    ]
    assert client.get(f"{API}/items/{bns.pk}/recipes/9").status_code == 404
    from django.utils import timezone

    start = timezone.localdate().isoformat()
    payload = {
        "effective_from": start,
        "lines": [
            {"component_sku": "BROTH", "quantity": "450", "unit_code": "ml"},
            {
                "component_sku": "BEEF-SHANK",
                "quantity": "150",
                "unit_code": "g",
                "loss_percent": "25",
            },
        ],
        "reason": "bigger bowl",
    }
    result = assert_matrix(
        "POST",
        f"{API}/items/{bns.pk}/recipes",
        payload=payload,
        allowed=people["editor"],
        forbidden=people["viewer_a"],
        other_scope=None,
        expect_allowed=201,
        snapshot=lambda: Recipe.objects.values_list("pk", "effective_to"),
    )
    assert result.allowed.json()["version"] == 2
    assert Recipe.objects.get(item=bns, version=1).effective_to.isoformat() == start


def test_publish_recipe_errors_are_coded(shop, people):
    bns = shop.items["BNS"]
    editor = client_for(people["editor"])
    from django.utils import timezone

    start = timezone.localdate().isoformat()
    unknown = post(
        editor,
        f"{API}/items/{bns.pk}/recipes",
        {
            "effective_from": start,
            "lines": [{"component_sku": "BROTH", "quantity": "1", "unit_code": "bucket"}],
        },
    )
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "unknown_unit"
    assert unknown.json()["details"]["unit"] == "bucket"
    cycle = post(
        editor,
        f"{API}/items/{shop.items['DOUGH'].pk}/recipes",
        {
            "effective_from": start,
            "lines": [{"component_sku": "BNS", "quantity": "1", "unit_code": "each"}],
        },
    )
    assert cycle.status_code == 422
    assert cycle.json()["code"] == "recipe_cycle"
    assert cycle.json()["details"]["path"] == ["DOUGH", "BNS", "DOUGH"]
    floaty = post(
        editor,
        f"{API}/items/{bns.pk}/recipes",
        {
            "effective_from": start,
            "lines": [],
        },
    )
    assert floaty.status_code == 422
    assert Recipe.objects.count() == 4


def test_modifiers(shop, people):
    viewer = client_for(people["viewer_a"])
    codes = [m["code"] for m in viewer.get(f"{API}/modifiers").json()["items"]]
    assert codes == ["extra-beef", "large", "no-coriander", "rice-noodles"]
    rice = viewer.get(f"{API}/modifiers/{shop.rice_noodles.pk}").json()
    assert rice["effects"] == [
        {
            "action": "replace",
            "item_sku": "DOUGH",
            "replacement_sku": "RICE-NOODLE",
            "quantity": "180.000000",
            "unit_code": "g",
            "factor": None,
        }
    ]
    result = assert_matrix(
        "POST",
        f"{API}/modifiers",
        payload={
            "code": "extra-egg",
            "name": "Extra egg",
            "effects": [{"action": "add", "item_sku": "SALT", "quantity": "1", "unit_code": "g"}],
        },
        allowed=people["editor"],
        forbidden=people["viewer_a"],
        other_scope=None,
        expect_allowed=201,
        snapshot=lambda: Modifier.objects.values_list("code"),
    )
    assert result.allowed.json()["effects"][0]["item_sku"] == "SALT"


# --- explode and cost cards -----------------------------------------------------------------


def test_explode(shop, people):
    payload = {
        "item_id": shop.items["BNS"].pk,
        "quantity": "2",
        "modifiers": ["large", "extra-beef", "no-coriander"],
        "on": OPENING.isoformat(),
    }
    result = assert_matrix(
        "POST",
        f"{API}/explode",
        payload=payload,
        allowed=people["viewer_a"],
        forbidden=people["nobody"],
        other_scope=None,
        expect_forbidden=404,
    )
    body = result.allowed.json()
    assert {row["sku"]: row["quantity"] for row in body["ingredients"]} == {
        "BEEF-BONE": "0.600000",
        "BEEF-SHANK": "0.600000",
        "CHILLI-OIL": "0.030000",
        "FLOUR": "0.300000",
        "GINGER": "0.037500",
        "KANSUI": "0.006000",
        "SALT": "0.003000",
        "SPRING-ONION": "0.030000",
        "STAR-ANISE": "0.003000",
    }
    assert body["ingredients"][0]["base_unit"] == "kg"
    unknown = post(
        client_for(people["viewer_a"]), f"{API}/explode", {**payload, "modifiers": ["extra-cheese"]}
    )
    assert (unknown.status_code, list(unknown.json()["details"]["fields"])) == (422, ["modifiers"])
    too_early = post(
        client_for(people["viewer_a"]), f"{API}/explode", {**payload, "on": "2025-06-01"}
    )
    assert too_early.json()["code"] == "recipe_not_found"


def test_cost_card_matrix_per_store(shop, tree, people, monkeypatch):
    monkeypatch.setattr(costing, "_average_cost_function", lambda: None)
    services.set_menu_price(
        shop.items["BNS"],
        services.MenuPriceInput(price=D("38"), currency="CNY", effective_from=OPENING),
        actor=SYSTEM,
    )
    url = f"{API}/items/{shop.items['BNS'].pk}/cost-card"
    result = assert_matrix(
        "GET",
        url,
        payload={"site_id": tree.store_a.site.pk, "on": OPENING.isoformat()},
        allowed=people["viewer_a"],
        forbidden=people["nobody"],
        other_scope=people["viewer_b"],
        expect_forbidden=404,
    )
    card = result.allowed.json()
    assert (card["total_cost"], card["price"], card["food_cost_percent"]) == (
        "16.8515",
        "38.0000",
        "44.35",
    )
    assert [line["source"] for line in card["lines"]] == [
        "sub_recipe",
        "sub_recipe",
        "standard_cost",
        "standard_cost",
        "standard_cost",
        "standard_cost",
    ]
    assert card["lines"][0]["components"][0] == {
        "item_id": shop.items["BEEF-BONE"].pk,
        "sku": "BEEF-BONE",
        "name": "Beef-Bone",
        "base_unit": "kg",
        "base_quantity": "0.200000",
        "unit_cost": "12.0000",
        "cost": "2.4000",
        "currency": "CNY",
        "source": "standard_cost",
    }
    large = (
        client_for(people["viewer_a"])
        .get(
            url,
            {
                "site_id": tree.store_a.site.pk,
                "on": OPENING.isoformat(),
                "modifiers": "large,extra-beef",
            },
        )
        .json()
    )
    assert large["total_cost"] == "30.0773"


def test_menu_prices_api(shop, tree, people):
    url = f"{API}/items/{shop.items['BNS'].pk}/prices"
    result = assert_matrix(
        "POST",
        url,
        payload={
            "site_id": tree.store_a.site.pk,
            "price": "39.5",
            "currency": "CNY",
            "effective_from": OPENING.isoformat(),
        },
        allowed=people["region_editor"],
        forbidden=people["viewer_a"],
        other_scope=None,
        expect_allowed=201,
        snapshot=lambda: MenuPrice.objects.values_list("price"),
    )
    assert result.allowed.json()["site_code"] == "SHA001"
    chain = post(
        client_for(people["region_editor"]),
        url,
        {"price": "38", "currency": "CNY", "effective_from": OPENING.isoformat()},
    )
    assert chain.status_code == 403
    post(
        client_for(people["editor"]),
        url,
        {"price": "38", "currency": "CNY", "effective_from": OPENING.isoformat()},
    )
    seen_a = client_for(people["viewer_a"]).get(url).json()
    assert [(p["site_code"], p["price"]) for p in seen_a["items"]] == [
        (None, "38.0000"),
        ("SHA001", "39.5000"),
    ]
    seen_b = client_for(people["viewer_b"]).get(url).json()
    assert [(p["site_code"], p["price"]) for p in seen_b["items"]] == [(None, "38.0000")]


def test_convert(flour, people):
    client = client_for(people["viewer_a"])
    url = f"{API}/items/{flour.pk}/convert"
    body = client.get(url, {"quantity": "37", "from_unit": "kg", "to_unit": "case"}).json()
    assert body == {
        "item_id": flour.pk,
        "quantity": "37",
        "from_unit": "kg",
        "to_unit": "case",
        "base_quantity": "37.000000",
        "base_unit": "kg",
        "converted": "2.466666666666666667",
        "rounded": "3",  # buy whole cases
    }
    assert (
        client.get(url, {"quantity": "1", "from_unit": "kg", "to_unit": "ml"}).json()["code"]
        == "missing_conversion"
    )
    assert (
        client_for(people["nobody"])
        .get(url, {"quantity": "1", "from_unit": "kg", "to_unit": "g"})
        .status_code
        == 404
    )
