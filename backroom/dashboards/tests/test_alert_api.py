"""The alerts API (/api/v1/alerts/): every endpoint's permission matrix (anonymous, no
permission, another store's user, allowed) with denials changing nothing, filters and
pagination, the actions' effects and coded conflicts, idempotent retries, rules CRUD, test now
and condition checks."""

import json

import pytest
from django.test import Client

from backroom.dashboards.models import Alert, AlertActivity, AlertRead, AlertRule
from backroom.dashboards.tests.test_alert_actions import people, raise_at  # noqa: F401
from backroom.testing.factories import client_for, make_user
from backroom.testing.matrix import assert_matrix

pytestmark = pytest.mark.django_db
API = "/api/v1/alerts"


def _state(alert):
    return lambda: (
        Alert.objects.filter(pk=alert.pk).values_list("status", "assignee_id").get(),
        AlertActivity.objects.count(),
        AlertRead.objects.count(),
    )


def _rules():
    return list(
        AlertRule.objects.order_by("pk").values_list("pk", "name", "condition", "is_active")
    )


def _rule_body(**changes):
    body = {
        "name": "Discounts high",
        "condition": "discount_pct > 0.15 && sales > 1000",
        "scope": "store",
        "recipient_roles": ["store_manager"],
    }
    return {**body, **changes}


def test_list_matrix_filters_and_pagination(tree, people):  # noqa: F811
    a = raise_at(tree.store_a)
    b = raise_at(tree.store_b)
    waste = raise_at(tree.store_a, detector="waste_spike", title="Unusual waste")
    result = assert_matrix(
        "GET",
        f"{API}/",
        allowed=people.region,
        forbidden=people.nobody,
        other_scope=people.manager_b,
        expect_forbidden=200,
        expect_other_scope=200,
    )
    assert result.forbidden.json() == {"items": [], "count": 0}
    assert [row["id"] for row in result.other_scope.json()["items"]] == [b.pk]
    body = result.allowed.json()
    assert body["count"] == 3
    row = next(item for item in body["items"] if item["id"] == a.pk)
    assert row["source_label"] == "Sales far below forecast"
    assert (row["store_id"], row["status"], row["is_read"]) == (tree.store_a.site.pk, "open", False)
    client = client_for(people.manager_a)
    assert client.get(f"{API}/", {"limit": 1}).json()["count"] == 2
    assert len(client.get(f"{API}/", {"limit": 1}).json()["items"]) == 1
    store = client.get(f"{API}/", {"store_id": tree.store_a.site.pk, "source": "detector"}).json()
    assert {item["id"] for item in store["items"]} == {a.pk, waste.pk}
    client.post(f"{API}/{a.pk}/read")
    unread = client.get(f"{API}/", {"unread": "true"}).json()["items"]
    assert [item["id"] for item in unread] == [waste.pk]
    assert client.get(f"{API}/", {"status": "bogus"}).status_code == 422


def test_get_and_read_matrix(tree, people):  # noqa: F811
    alert = raise_at(tree.store_a)
    result = assert_matrix(
        "GET",
        f"{API}/{alert.pk}",
        allowed=people.staff_a,
        forbidden=people.nobody,
        other_scope=people.manager_b,
        expect_forbidden=404,
    )
    assert [entry["action"] for entry in result.allowed.json()["activity"]] == ["raised"]
    result = assert_matrix(
        "POST",
        f"{API}/{alert.pk}/read",
        allowed=people.staff_a,
        forbidden=people.nobody,
        other_scope=people.manager_b,
        expect_forbidden=404,
        snapshot=_state(alert),
    )
    assert result.allowed.json()["is_read"] is True
    assert AlertRead.objects.filter(alert=alert, user=people.staff_a).count() == 1
    read_all = client_for(people.region).post(f"{API}/read")
    assert read_all.json() == {"marked": 1}


def test_acknowledge_matrix_and_conflict(tree, people):  # noqa: F811
    alert = raise_at(tree.store_a)
    result = assert_matrix(
        "POST",
        f"{API}/{alert.pk}/acknowledge",
        payload={"note": "On it"},
        allowed=people.staff_a,
        forbidden=people.nobody,
        other_scope=people.manager_b,
        expect_forbidden=404,
        snapshot=_state(alert),
    )
    assert result.allowed.json()["status"] == "acknowledged"
    assert result.allowed.json()["acknowledged_by_id"] == people.staff_a.pk
    again = client_for(people.staff_a).post(
        f"{API}/{alert.pk}/acknowledge", json.dumps({}), content_type="application/json"
    )
    assert again.status_code == 409 and again.json()["code"] == "alert_acknowledged"


def test_assign_matrix_and_bad_assignee(tree, people):  # noqa: F811
    alert = raise_at(tree.store_a)
    result = assert_matrix(
        "POST",
        f"{API}/{alert.pk}/assign",
        payload={"assignee_id": people.manager_a.pk, "note": "Yours"},
        allowed=people.region,
        forbidden=people.staff_a,
        other_scope=people.manager_b,
        snapshot=_state(alert),
    )
    assert result.allowed.json()["assignee_id"] == people.manager_a.pk
    bad = client_for(people.region).post(
        f"{API}/{alert.pk}/assign",
        json.dumps({"assignee_id": people.staff_a.pk}),
        content_type="application/json",
    )
    assert bad.status_code == 422 and "assignee_id" in bad.json()["details"]["fields"]
    mine = client_for(people.manager_a).get(f"{API}/", {"assigned_to_me": "true"}).json()
    assert [item["id"] for item in mine["items"]] == [alert.pk]


def test_resolve_matrix_conflict_and_idempotent_retry(tree, people):  # noqa: F811
    alert = raise_at(tree.store_a)
    result = assert_matrix(
        "POST",
        f"{API}/{alert.pk}/resolve",
        payload={"note": "Fixed the till"},
        allowed=people.manager_a,
        forbidden=people.staff_a,
        other_scope=people.manager_b,
        snapshot=_state(alert),
    )
    assert result.allowed.json()["status"] == "resolved"
    conflict = client_for(people.region).post(
        f"{API}/{alert.pk}/resolve", json.dumps({}), content_type="application/json"
    )
    assert conflict.status_code == 409 and conflict.json()["code"] == "alert_resolved"
    # A retry with the same Idempotency-Key replays the first answer.
    other = raise_at(tree.store_a, detector="waste_spike")
    client = client_for(people.manager_a)
    first = client.post(
        f"{API}/{other.pk}/resolve",
        json.dumps({"note": "x"}),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="resolve-1",
    )
    replay = client.post(
        f"{API}/{other.pk}/resolve",
        json.dumps({"note": "x"}),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="resolve-1",
    )
    assert (first.status_code, replay.status_code) == (200, 200)
    assert replay.json() == first.json()
    assert AlertActivity.objects.filter(alert=other, action="resolved").count() == 1


def test_rule_endpoints_matrix(tree, people):  # noqa: F811
    hq_b = make_user("hq_operations", tree.store_b)
    result = assert_matrix(
        "GET",
        f"{API}/rules",
        allowed=people.hq,
        forbidden=people.manager_a,
        other_scope=hq_b,
        expect_forbidden=200,
        expect_other_scope=200,
    )
    assert result.forbidden.json()["count"] == 0
    assert result.other_scope.json()["count"] == 0
    assert result.allowed.json()["count"] == 4  # the shipped rules
    result = assert_matrix(
        "POST",
        f"{API}/rules",
        payload=_rule_body(node_id=tree.store_a.pk),
        allowed=people.hq,
        forbidden=people.manager_a,
        other_scope=hq_b,
        expect_allowed=201,
        snapshot=_rules,
    )
    created = result.allowed.json()
    assert (created["code"], created["node_id"], created["is_builtin"]) == (
        "discounts-high",
        tree.store_a.pk,
        False,
    )
    rule_id = created["id"]
    for method, suffix, payload, expected in [
        ("GET", "", None, 200),
        ("PUT", "", _rule_body(node_id=tree.store_a.pk, severity="critical"), 200),
        ("POST", "/active", {"is_active": False}, 200),
        ("POST", "/test", None, 200),
        ("DELETE", "", None, 204),
    ]:
        response = assert_matrix(
            method,
            f"{API}/rules/{rule_id}{suffix}",
            payload=payload,
            allowed=people.hq,
            forbidden=people.manager_a,
            other_scope=hq_b,
            expect_forbidden=404,
            expect_allowed=expected,
            snapshot=_rules,
        )
        if method == "PUT":
            assert response.allowed.json()["severity"] == "critical"
        if suffix == "/test":
            (row,) = response.allowed.json()
            assert (row["node_code"], row["action"], row["missing"]) == (
                "SHA001",
                "",
                ["discount_pct"],
            )
    assert not AlertRule.objects.filter(pk=rule_id).exists()
    check = assert_matrix(
        "POST",
        f"{API}/rules/check",
        payload={"condition": "food_cost > 1 && sales > 'x'"},
        allowed=people.hq,
        forbidden=people.manager_a,
        other_scope=None,
    )
    assert check.allowed.json()["is_valid"] is False
    assert [p["column"] for p in check.allowed.json()["problems"]] == [1, 26]
    variables = client_for(people.hq).get(f"{API}/rules/variables").json()
    assert any(v["name"] == "store" and v["type"] == "string" for v in variables)
    assert Client().get(f"{API}/rules/variables").status_code == 401


def test_rule_api_errors(tree, people):  # noqa: F811
    client = client_for(people.hq)
    invalid = client.post(
        f"{API}/rules",
        json.dumps(_rule_body(condition="sales >", period="never")),
        content_type="application/json",
    )
    assert invalid.status_code == 422
    fields = invalid.json()["details"]["fields"]
    assert set(fields) == {"condition", "period"}
    builtin = AlertRule.objects.get(code="food-cost-high")
    kept = client.delete(f"{API}/rules/{builtin.pk}")
    assert kept.status_code == 409 and kept.json()["code"] == "builtin_rule"
    valid = client.post(
        f"{API}/rules/check",
        json.dumps({"condition": "food_cost_pct > 0.34 && sales > 5000"}),
        content_type="application/json",
    ).json()
    assert valid == {"is_valid": True, "problems": [], "kpis": ["food_cost_pct", "sales"]}


def test_read_all_and_variables_matrix(tree, people):  # noqa: F811
    raise_at(tree.store_a)
    raise_at(tree.store_b)
    result = assert_matrix(
        "POST",
        f"{API}/read",
        allowed=people.manager_a,
        forbidden=people.nobody,
        other_scope=None,
        expect_forbidden=200,
        snapshot=lambda: AlertRead.objects.count(),
    )
    assert result.forbidden.json() == {"marked": 0}
    assert result.allowed.json() == {"marked": 1}
    assert list(AlertRead.objects.values_list("user_id", flat=True)) == [people.manager_a.pk]
    variables = assert_matrix(
        "GET",
        f"{API}/rules/variables",
        allowed=people.hq,
        forbidden=None,
        other_scope=None,
    )
    assert {row["name"] for row in variables.allowed.json()} >= {"sales", "store", "days"}
