"""Org API: every endpoint's permission matrix, filters, writes' whole effect, query counts."""

import pytest

from backroom.audit.models import AuditEntry
from backroom.events.models import OutboxEvent
from backroom.org.models import Brand, OrgNode, Site
from backroom.testing.factories import client_for, make_node, make_user
from backroom.testing.matrix import assert_matrix

API = "/api/v1/org"


@pytest.fixture
def people(tree):
    return {
        "hq": make_user("hq_admin", tree.group),
        "region_admin": make_user("hq_admin", tree.region),
        "manager_a": make_user("store_manager", tree.store_a),
        "region_manager": make_user("region_manager", tree.region),
        "admin_b": make_user("hq_admin", tree.store_b),
        "nobody": make_user(),
    }


def _codes(response):
    """The codes listed, sorted: sibling order follows ids, which differ between databases."""
    return sorted(row["code"] for row in response.json()["items"])


def _assert_tree_order(response):
    """Every listed node comes after its listed parent (the tree order)."""
    seen: set[int] = set()
    for row in response.json()["items"]:
        assert row["parent_id"] in seen or all(
            other["id"] != row["parent_id"] for other in response.json()["items"]
        ), row["code"]
        seen.add(row["id"])


# --- nodes -----------------------------------------------------------------------------------


def test_list_nodes_matrix_shows_each_caller_their_subtree(tree, people):
    result = assert_matrix(
        "GET",
        f"{API}/nodes",
        allowed=people["region_admin"],
        forbidden=people["nobody"],
        other_scope=people["admin_b"],
        expect_forbidden=200,
        expect_other_scope=200,
    )
    assert _codes(result.allowed) == ["EAST", "SHA001", "SHA002"]
    _assert_tree_order(result.allowed)
    assert result.allowed.json()["count"] == 3
    assert result.forbidden.json() == {"items": [], "count": 0}
    assert _codes(result.other_scope) == ["SHA002"]


def test_list_nodes_filters_and_pages(tree, people):
    client = client_for(people["hq"])
    assert _codes(client.get(f"{API}/nodes", {"kind": "store"})) == ["HKG001", "SHA001", "SHA002"]
    assert _codes(client.get(f"{API}/nodes", {"parent_id": tree.region.pk})) == [
        "SHA001",
        "SHA002",
    ]
    assert _codes(client.get(f"{API}/nodes", {"search": "hk"})) == ["HK-CO", "HKG001"]
    everything = client.get(f"{API}/nodes").json()["items"]
    _assert_tree_order(client.get(f"{API}/nodes"))
    page = client.get(f"{API}/nodes", {"limit": 2, "offset": 1}).json()
    assert page["count"] == 7
    assert page["items"] == everything[1:3]


def test_list_filters_reject_bad_values_all_at_once(tree, people):
    response = client_for(people["hq"]).get(
        f"{API}/nodes", {"kind": "castle", "parent_id": "x", "limit": 0}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["details"]["fields"]) == {"kind", "parent_id", "limit"}


def test_get_node_matrix(tree, people):
    result = assert_matrix(
        "GET",
        f"{API}/nodes/{tree.store_a.pk}",
        allowed=people["manager_a"],
        forbidden=people["nobody"],
        other_scope=people["admin_b"],
        expect_forbidden=404,
    )
    assert result.allowed.json() == {
        "id": tree.store_a.pk,
        "kind": "store",
        "code": "SHA001",
        "name": tree.store_a.name,
        "parent_id": tree.region.pk,
        "path": tree.store_a.path,
        "depth": 3,
        "is_active": True,
    }


def test_children_and_tree_matrix(tree, people):
    result = assert_matrix(
        "GET",
        f"{API}/nodes/{tree.region.pk}/children",
        allowed=people["region_admin"],
        forbidden=people["nobody"],
        other_scope=people["admin_b"],
        expect_forbidden=404,
    )
    assert _codes(result.allowed) == ["SHA001", "SHA002"]
    result = assert_matrix(
        "GET",
        f"{API}/nodes/{tree.entity.pk}/tree",
        allowed=people["hq"],
        forbidden=people["nobody"],
        other_scope=people["admin_b"],
        expect_forbidden=404,
    )
    entity = result.allowed.json()
    assert entity["code"] == "CN-CO"
    [region] = entity["children"]
    assert region["code"] == "EAST"
    assert sorted(child["code"] for child in region["children"]) == ["SHA001", "SHA002"]
    assert region["children"][0]["children"] == []


def test_create_node_matrix_and_whole_effect(tree, people):
    payload = {
        "kind": "store",
        "code": "sha003",
        "name": "Jing'an",
        "parent_id": tree.region.pk,
        "site": {"city": "Shanghai", "cutoff_hour": 5},
    }
    result = assert_matrix(
        "POST",
        f"{API}/nodes",
        payload=payload,
        allowed=people["region_admin"],
        forbidden=people["region_manager"],  # sees the region, may not change it
        other_scope=people["admin_b"],
        expect_allowed=201,
        snapshot=lambda: OrgNode.objects.count(),
    )
    node = OrgNode.objects.get(code="SHA003")
    assert result.allowed.json()["id"] == node.pk
    assert result.allowed.json()["path"] == f"{tree.region.path}{node.pk:010d}/"
    assert Site.objects.get(node=node).cutoff_hour == 5
    entry = AuditEntry.objects.get(action="org.node.create", target_id=str(node.pk))
    assert entry.actor_id == people["region_admin"].pk
    event = OutboxEvent.objects.get(event_type="org.node.created", payload__node_id=node.pk)
    assert event.payload["code"] == "SHA003"


def test_create_node_reports_every_problem_at_once(tree, people):
    nodes, audits = OrgNode.objects.count(), AuditEntry.objects.count()
    response = client_for(people["hq"]).post(
        f"{API}/nodes",
        {
            "kind": "store",
            "code": "SHA001",
            "name": "Dup",
            "parent_id": tree.group.pk,
            "site": {"time_zone": "Mars/Olympus"},
        },
        content_type="application/json",
    )
    assert response.status_code == 422
    assert set(response.json()["details"]["fields"]) == {"parent_id", "code", "time_zone"}
    assert (OrgNode.objects.count(), AuditEntry.objects.count()) == (nodes, audits)


def test_schema_validation_reports_every_field_at_once(tree, people):
    response = client_for(people["hq"]).post(
        f"{API}/nodes",
        {"kind": "castle", "code": "", "site": {"cutoff_hour": 99}},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid"
    assert set(response.json()["details"]["fields"]) == {
        "kind",
        "code",
        "name",
        "site.cutoff_hour",
    }


# --- sites -----------------------------------------------------------------------------------


def test_list_sites_matrix_and_filters(tree, people):
    result = assert_matrix(
        "GET",
        f"{API}/sites",
        allowed=people["hq"],
        forbidden=people["nobody"],
        other_scope=people["admin_b"],
        expect_forbidden=200,
        expect_other_scope=200,
    )
    assert _codes(result.allowed) == ["HKG001", "SHA001", "SHA002"]
    assert result.forbidden.json()["count"] == 0
    assert _codes(result.other_scope) == ["SHA002"]
    client = client_for(people["hq"])
    hk_entity = tree.entity_hk.legal_entity
    assert _codes(client.get(f"{API}/sites", {"legal_entity_id": hk_entity.pk})) == ["HKG001"]
    assert _codes(client.get(f"{API}/sites", {"city": "shanghai"})) == ["SHA001", "SHA002"]
    assert _codes(client.get(f"{API}/sites", {"search": "002"})) == ["SHA002"]
    assert _codes(client.get(f"{API}/sites", {"status": "closed"})) == []


def test_get_site_matrix(tree, people):
    site = tree.store_a.site
    result = assert_matrix(
        "GET",
        f"{API}/sites/{site.pk}",
        allowed=people["manager_a"],
        forbidden=people["nobody"],
        other_scope=people["admin_b"],
        expect_forbidden=404,
    )
    assert result.allowed.json()["code"] == "SHA001"
    assert result.allowed.json()["city"] == "Shanghai"


def test_patch_site_matrix_and_whole_effect(tree, people):
    site = tree.store_a.site
    result = assert_matrix(
        "PATCH",
        f"{API}/sites/{site.pk}",
        payload={"name": "Renamed", "cutoff_hour": 3, "reason": "moved"},
        allowed=people["region_admin"],
        forbidden=people["manager_a"],
        other_scope=people["admin_b"],
        snapshot=lambda: Site.objects.filter(pk=site.pk).values_list("node__name", "cutoff_hour"),
    )
    assert result.allowed.json()["name"] == "Renamed"
    assert result.allowed.json()["cutoff_hour"] == 3
    site.refresh_from_db()
    assert (site.node.name, site.cutoff_hour, site.city) == ("Renamed", 3, "Shanghai")
    entry = AuditEntry.objects.get(action="org.site.update")
    assert (entry.before["cutoff_hour"], entry.after["cutoff_hour"], entry.reason) == (
        4,
        3,
        "moved",
    )
    event = OutboxEvent.objects.get(event_type="org.node.updated")
    assert sorted(event.payload["changed"]) == ["cutoff_hour", "name"]


# --- legal entities and brands ---------------------------------------------------------------


def test_legal_entities_matrix_and_filters(tree, people):
    result = assert_matrix(
        "GET",
        f"{API}/legal-entities",
        allowed=people["hq"],
        forbidden=people["nobody"],
        other_scope=people["admin_b"],
        expect_forbidden=200,
        expect_other_scope=200,
    )
    assert _codes(result.allowed) == ["CN-CO", "HK-CO"]
    assert result.other_scope.json()["count"] == 0
    client = client_for(people["hq"])
    assert _codes(client.get(f"{API}/legal-entities", {"base_currency": "hkd"})) == ["HK-CO"]
    entity = tree.entity.legal_entity
    result = assert_matrix(
        "GET",
        f"{API}/legal-entities/{entity.pk}",
        allowed=people["hq"],
        forbidden=people["nobody"],
        other_scope=make_user("hq_admin", tree.entity_hk),
        expect_forbidden=404,
    )
    assert result.allowed.json() == {
        "id": entity.pk,
        "node_id": tree.entity.pk,
        "code": "CN-CO",
        "name": tree.entity.name,
        "base_currency": "CNY",
        "country": "CN",
        "tax_id": "",
    }


def test_brands_list_and_create(tree, people):
    result = assert_matrix(
        "POST",
        f"{API}/brands",
        payload={"code": "noodle", "name": "Noodle Bar"},
        allowed=people["hq"],
        forbidden=people["manager_a"],
        other_scope=None,  # brands are chain-wide: there is no other scope
        expect_allowed=201,
        snapshot=lambda: Brand.objects.count(),
    )
    brand = Brand.objects.get(code="NOODLE")
    assert result.allowed.json() == {"id": brand.pk, "code": "NOODLE", "name": "Noodle Bar"}
    assert AuditEntry.objects.get(action="org.brand.create").target_id == str(brand.pk)
    listed = assert_matrix(
        "GET",
        f"{API}/brands",
        allowed=people["manager_a"],
        forbidden=people["nobody"],
        other_scope=None,
        expect_forbidden=200,
    )
    assert _codes(listed.allowed) == ["NOODLE"]
    assert listed.forbidden.json()["count"] == 0
    duplicate = client_for(people["hq"]).post(
        f"{API}/brands", {"code": "NOODLE", "name": ""}, content_type="application/json"
    )
    assert duplicate.status_code == 422
    assert set(duplicate.json()["details"]["fields"]) == {"name"}  # schema: min_length 1


# --- query counts ------------------------------------------------------------------------------


def test_list_endpoints_do_not_grow_queries_with_rows(tree, people, django_assert_max_num_queries):
    for number in range(10):
        make_node("store", tree.region, f"EXTRA{number}")
    client = client_for(people["hq"])
    client.get(f"{API}/nodes")  # warm the session
    for url in ("nodes", "sites", "legal-entities", "brands", f"nodes/{tree.group.pk}/tree"):
        with django_assert_max_num_queries(8):
            response = client.get(f"{API}/{url}")
        assert response.status_code == 200


def test_out_of_range_ids_and_nul_characters_are_a_422_not_a_500(tree, people):
    client = client_for(people["hq"])
    for url in (
        f"{API}/nodes/99999999999999999999",
        f"{API}/nodes?offset=99999999999999999999",
        f"{API}/nodes?search=a%00b",
    ):
        response = client.get(url)
        assert response.status_code == 422, url
        assert response.json()["code"] == "invalid"
