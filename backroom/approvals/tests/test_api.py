"""Approvals API: every endpoint's permission matrix, writes' whole effect, validation errors."""

import pytest

from backroom.approvals import services
from backroom.approvals.models import ApprovalPolicy, PolicyStep, PolicyVersion
from backroom.audit.models import AuditEntry
from backroom.events.models import OutboxEvent
from backroom.kernel.actors import SYSTEM
from backroom.testing.factories import client_for, make_user
from backroom.testing.matrix import assert_matrix

from .conftest import requisition_input

API = "/api/v1/approvals"

pytestmark = pytest.mark.django_db


@pytest.fixture
def callers(tree):
    return {
        "region_admin": make_user("hq_admin", tree.region),  # manages EAST's policies
        "manager_a": make_user("store_manager", tree.store_a),  # sees store A, manages nothing
        "admin_hk": make_user("hq_admin", tree.store_hk),  # manages another subtree
    }


@pytest.fixture
def east_policy(tree, people):
    return services.create_policy(
        requisition_input(people, name="East requisitions", scope_node_id=tree.store_a.pk),
        actor=SYSTEM,
        publish_now=True,
    )


def policies():
    return list(
        ApprovalPolicy.objects.values_list("pk", "name", "is_active", "scope_node_id").order_by(
            "pk"
        )
    )


def versions():
    return list(PolicyVersion.objects.values_list("pk", "number", "condition", "published_at"))


def steps_payload(people):
    return [
        {
            "name": "Store manager",
            "approver_kind": "role",
            "approver_params": {"role": "store_manager", "level": "store"},
            "sla_hours": 24,
        },
        {
            "name": "Region manager",
            "approver_kind": "role",
            "approver_params": {"role": "region_manager", "level": "region"},
            "condition": "amount > 5000",
            "sla_hours": 24,
            "on_breach": "escalate",
        },
        {
            "name": "VP countersign",
            "approver_kind": "users",
            "approver_params": {"user_ids": [people.vp_one.pk, people.vp_two.pk]},
            "mode": "all",
            "condition": "amount > 100000",
        },
    ]


def test_document_types_matrix(callers, people):
    result = assert_matrix(
        "GET",
        f"{API}/document-types",
        allowed=callers["region_admin"],
        forbidden=callers["manager_a"],
        other_scope=None,
    )
    by_code = {row["code"]: row for row in result.allowed.json()}
    assert {"inventory.waste", "procurement.requisition"} <= set(by_code)
    amount = by_code["procurement.requisition"]["fields"][0]
    assert amount == {
        "name": "amount",
        "type": "money",
        "cel_type": "double",
        "label": "Amount in the entity's base currency",
        "required": True,
    }


def test_list_policies_matrix_shows_each_caller_their_scope(tree, people, callers, east_policy):
    chain = services.create_policy(requisition_input(people, name="Chain"), actor=SYSTEM)
    result = assert_matrix(
        "GET",
        f"{API}/policies",
        allowed=callers["region_admin"],
        forbidden=callers["manager_a"],
        other_scope=callers["admin_hk"],
        expect_forbidden=200,
        expect_other_scope=200,
    )
    assert [row["name"] for row in result.allowed.json()["items"]] == ["East requisitions"]
    assert result.allowed.json()["items"][0]["version_in_force"] == 1
    assert result.forbidden.json() == {"items": [], "count": 0}
    assert result.other_scope.json() == {"items": [], "count": 0}
    # The chain-wide policy is seen from the root only.
    everything = client_for(people.admin).get(f"{API}/policies").json()
    assert sorted(row["id"] for row in everything["items"]) == sorted([east_policy.pk, chain.pk])


def test_get_policy_matrix(callers, east_policy):
    result = assert_matrix(
        "GET",
        f"{API}/policies/{east_policy.pk}",
        allowed=callers["region_admin"],
        forbidden=callers["manager_a"],
        other_scope=callers["admin_hk"],
    )
    body = result.allowed.json()
    assert body["name"] == "East requisitions"
    assert [v["number"] for v in body["versions"]] == [1]
    assert [s["name"] for s in body["latest"]["steps"]][:2] == ["Store manager", "Region manager"]


def test_get_version_matrix(callers, east_policy):
    result = assert_matrix(
        "GET",
        f"{API}/policies/{east_policy.pk}/versions/1",
        allowed=callers["region_admin"],
        forbidden=callers["manager_a"],
        other_scope=callers["admin_hk"],
    )
    assert result.allowed.json()["published_at"] is not None
    response = client_for(callers["region_admin"]).get(
        f"{API}/policies/{east_policy.pk}/versions/9"
    )
    assert response.status_code == 404


def test_create_policy_matrix_and_whole_effect(tree, people, callers):
    payload = {
        "document_type": "procurement.requisition",
        "name": "Store A requisitions",
        "scope_node_id": tree.store_a.pk,
        "condition": 'category != "equipment"',
        "steps": steps_payload(people),
    }
    result = assert_matrix(
        "POST",
        f"{API}/policies",
        payload=payload,
        allowed=callers["region_admin"],
        forbidden=callers["manager_a"],
        other_scope=callers["admin_hk"],
        expect_allowed=201,
        snapshot=policies,
    )
    body = result.allowed.json()
    policy = ApprovalPolicy.objects.get(pk=body["id"])
    assert (policy.name, policy.scope_node_id) == ("Store A requisitions", tree.store_a.pk)
    assert body["latest_version"] == 1 and body["version_in_force"] is None
    assert body["latest"]["condition"] == 'category != "equipment"'
    assert PolicyStep.objects.filter(version__policy=policy).count() == 3
    assert (
        AuditEntry.objects.filter(
            action="approvals.policy.create", target_id=str(policy.pk)
        ).count()
        == 1
    )
    assert OutboxEvent.objects.filter(event_type="approvals.policy.created").count() == 1


def test_create_reports_every_invalid_condition_with_its_step(tree, people, callers):
    steps = steps_payload(people)
    steps[2]["condition"] = "amount > > 1"
    steps[1]["condition"] = "store == 5"
    response = client_for(callers["region_admin"]).post(
        f"{API}/policies",
        {
            "document_type": "procurement.requisition",
            "name": "Bad",
            "scope_node_id": tree.region.pk,
            "condition": 'amount > "x"',
            "steps": steps,
        },
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response.json() == {
        "code": "invalid",
        "message": "Some fields are invalid.",
        "details": {
            "fields": {
                "condition": [
                    "Column 10: “>” cannot compare “amount” (a decimal number) with text."
                ],
                "steps.1.condition": [
                    "Column 10: “==” cannot compare “store” (text) with a whole number."
                ],
                "steps.2.condition": ["Syntax error at column 10: unexpected “>”."],
            }
        },
    }
    assert ApprovalPolicy.objects.count() == 0


def test_update_policy_matrix_creates_a_new_version(people, callers, east_policy):
    steps = steps_payload(people)
    steps[1]["condition"] = "amount > 8000"
    payload = {
        "document_type": "procurement.requisition",
        "name": "East requisitions",
        "scope_node_id": east_policy.scope_node_id,
        "steps": steps,
        "reason": "higher threshold",
    }
    result = assert_matrix(
        "PUT",
        f"{API}/policies/{east_policy.pk}",
        payload=payload,
        allowed=callers["region_admin"],
        forbidden=callers["manager_a"],
        other_scope=callers["admin_hk"],
        snapshot=versions,
    )
    body = result.allowed.json()
    assert (body["latest_version"], body["version_in_force"]) == (2, 1)
    assert body["latest"]["steps"][1]["condition"] == "amount > 8000"
    v1 = PolicyVersion.objects.get(policy=east_policy, number=1)
    assert v1.steps.get(position=2).condition == "amount > 5000"


def test_publish_matrix_and_conflict(people, callers, east_policy):
    services.update_policy(
        east_policy,
        requisition_input(
            people,
            name="East requisitions",
            scope_node_id=east_policy.scope_node_id,
            condition="amount > 1",
        ),
        actor=SYSTEM,
    )
    url = f"{API}/policies/{east_policy.pk}/versions/2/publish"
    result = assert_matrix(
        "POST",
        url,
        allowed=callers["region_admin"],
        forbidden=callers["manager_a"],
        other_scope=callers["admin_hk"],
        snapshot=versions,
    )
    assert result.allowed.json()["version_in_force"] == 2
    assert (
        PolicyVersion.objects.get(policy=east_policy, number=2).published_by
        == callers["region_admin"]
    )
    again = client_for(callers["region_admin"]).post(url)
    assert again.status_code == 409
    assert again.json()["code"] == "policy_version_published"
    older = client_for(callers["region_admin"]).post(
        f"{API}/policies/{east_policy.pk}/versions/1/publish"
    )
    assert older.status_code == 409


def test_preview_matrix_shows_the_route_and_changes_nothing(people, callers, east_policy):
    result = assert_matrix(
        "POST",
        f"{API}/policies/{east_policy.pk}/preview",
        payload={"fields": {"amount": "120000.00", "store": "SHA001", "category": "equipment"}},
        allowed=callers["region_admin"],
        forbidden=callers["manager_a"],
        other_scope=callers["admin_hk"],
        snapshot=versions,
    )
    body = result.allowed.json()
    assert body["version"] == 1 and body["policy_matches"] is True
    assert [(s["name"], s["applies"], s["problem"]) for s in body["steps"]] == [
        ("Store manager", True, None),
        ("Region manager", True, None),
        ("HQ operations", True, None),
        ("VP countersign", True, None),
    ]
    assert [a["username"] for a in body["steps"][3]["approvers"]] == ["vp-one", "vp-two"]


def test_preview_reports_bad_fields(callers, east_policy):
    response = client_for(callers["region_admin"]).post(
        f"{API}/policies/{east_policy.pk}/preview",
        {"fields": {"amount": 12.5, "store": "SHA001", "colour": "red"}},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response.json()["details"]["fields"] == {
        "fields.colour": ["“colour” is not a field of procurement.requisition."],
        "fields.amount": ['Give an exact decimal amount (e.g. "5000.00").'],
    }


def test_preview_with_the_amount_as_an_integer(callers, east_policy):
    response = client_for(callers["region_admin"]).post(
        f"{API}/policies/{east_policy.pk}/preview",
        {"fields": {"amount": 5000, "store": "SHA001"}},
        content_type="application/json",
    )
    assert [s["applies"] for s in response.json()["steps"]] == [True, False, False, False]
