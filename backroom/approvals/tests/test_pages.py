"""Approval policy pages: the permission matrix of the list, the editor (GET and POST), publishing
and "Test this policy"; row actions; every bad condition shown at once on its own row with nothing
saved; the golden preview of a ¥120,000 requisition; the version history; the nav item."""

from __future__ import annotations

import html
import re
from decimal import Decimal
from typing import Any

import pytest

from backroom.accounts.models import User
from backroom.approvals import services
from backroom.approvals.models import ApprovalPolicy, PolicyStep, PolicyVersion
from backroom.approvals.views import FINANCE
from backroom.audit.models import AuditEntry
from backroom.events.models import OutboxEvent
from backroom.kernel.actors import SYSTEM
from backroom.testing.factories import client_for, make_user
from backroom.testing.matrix import assert_matrix

from .conftest import requisition_input

pytestmark = pytest.mark.django_db

LIST = "/approvals/policies/"
NEW = "/approvals/policies/new/"
HX = {"HTTP_HX_REQUEST": "true"}


def edit_url(policy: ApprovalPolicy) -> str:
    return f"/approvals/policies/{policy.pk}/"


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def state() -> Any:
    return (
        list(ApprovalPolicy.objects.order_by("pk").values_list("pk", "name", "is_active")),
        list(PolicyVersion.objects.order_by("pk").values_list("pk", "number", "published_at")),
        PolicyStep.objects.count(),
    )


def step_form(index: int, **values: str) -> dict[str, str]:
    row = {
        "name": f"Step {index + 1}",
        "kind": "role",
        "role": "store_manager",
        "level": "store",
        "users": "",
        "mode": "any_one",
        "condition": "",
        "sla_hours": "24",
        "on_breach": "remind",
        **values,
    }
    return {f"steps-{index}-{name}": value for name, value in row.items()}


def policy_form(*steps: dict[str, str], **values: str) -> dict[str, str]:
    data = {
        "name": "Requisitions",
        "document_type": "procurement.requisition",
        "scope_node_id": "",
        "condition": "",
        "description": "",
        "is_active": "on",
        "step_count": str(len(steps)),
        **values,
    }
    for step in steps:
        data.update(step)
    return data


@pytest.fixture
def others(tree):
    return {
        "region_admin": make_user("hq_admin", tree.region, username="admin-east"),
        "store_b_admin": make_user("hq_admin", tree.store_b, username="admin-b"),
        "manager_a": make_user("store_manager", tree.store_a, username="manager-a"),
    }


@pytest.fixture
def store_policy(tree, people):
    """A policy scoped to store A (so store B's administrator may not see it), with a draft."""
    policy = services.create_policy(
        requisition_input(people, name="Store A", scope_node_id=tree.store_a.pk),
        actor=SYSTEM,
        publish_now=True,
    )
    services.update_policy(
        policy,
        requisition_input(people, name="Store A", scope_node_id=tree.store_a.pk, condition="true"),
        actor=SYSTEM,
    )
    return policy


# --- the permission matrix -------------------------------------------------------------------


def test_list_matrix(tree, people, others, requisition_policy, store_policy):
    result = assert_matrix(
        "GET",
        LIST,
        allowed=people.admin,
        forbidden=others["manager_a"],
        other_scope=others["store_b_admin"],
        expect_other_scope=200,  # nothing of theirs
    )
    body = text(result.allowed)
    assert re.findall(r'data-policy="(\d+)"', body) == [
        str(requisition_policy.pk),
        str(store_policy.pk),
    ]
    assert body.count('data-testid="policy-draft"') == 1  # store A's version 2
    assert "The whole chain" in body
    assert "Store SHA001 (SHA001)" in body
    other = text(result.other_scope)
    assert 'data-testid="policy-row"' not in other
    # The region's administrator sees store A's policy but not the chain-wide one.
    region = text(client_for(others["region_admin"]).get(LIST))
    assert re.findall(r'data-policy="(\d+)"', region) == [str(store_policy.pk)]


def test_nav_item_shows_to_administrators_only(tree, people, others):
    assert 'href="/approvals/policies/"' in text(client_for(people.admin).get("/"))
    assert 'href="/approvals/policies/"' not in text(client_for(others["manager_a"]).get("/"))


def test_editor_get_matrix(tree, people, others, store_policy):
    result = assert_matrix(
        "GET",
        edit_url(store_policy),
        allowed=others["region_admin"],
        forbidden=others["manager_a"],
        other_scope=others["store_b_admin"],
    )
    body = text(result.allowed)
    assert body.count('data-testid="step-row"') == 4
    assert 'value="amount &gt; 100000"' in body
    assert 'data-testid="publish"' in body  # version 2 is a draft
    # The chain-wide policy is another scope for the region's administrator.
    chain_wide = services.create_policy(
        requisition_input(people, name="Chain"), actor=SYSTEM, publish_now=True
    )
    assert client_for(others["region_admin"]).get(edit_url(chain_wide)).status_code == 404
    assert client_for(people.admin).get("/approvals/policies/999999/").status_code == 404


def test_new_page_matrix(tree, people, others):
    result = assert_matrix(
        "GET",
        NEW,
        allowed=people.admin,
        forbidden=others["manager_a"],
        other_scope=None,  # a new policy has no scope yet
    )
    body = text(result.allowed)
    assert 'data-testid="condition-fields" data-type="finance.expense_claim"' in body
    assert '<option value="">The whole chain</option>' in body
    # Without the permission at the top, the whole chain is not offered.
    region = text(client_for(others["region_admin"]).get(NEW))
    assert "The whole chain" not in region


def test_editor_post_matrix_saves_a_new_draft_version(tree, people, others, store_policy):
    data = policy_form(
        step_form(0, name="Store manager"),
        step_form(
            1,
            name="Region manager",
            role="region_manager",
            level="region",
            condition="amount > 8000",
        ),
        name="Store A",
        scope_node_id=str(tree.store_a.pk),
    )
    result = assert_matrix(
        "POST",
        edit_url(store_policy),
        payload=data,
        allowed=others["region_admin"],
        forbidden=others["manager_a"],
        other_scope=others["store_b_admin"],
        expect_allowed=302,
        snapshot=state,
    )
    assert result.allowed["Location"] == edit_url(store_policy)
    versions = list(store_policy.versions.order_by("number"))
    assert [(v.number, v.is_published) for v in versions] == [(1, True), (2, False), (3, False)]
    assert versions[2].created_by == others["region_admin"]
    assert list(versions[2].steps.order_by("position").values_list("name", "condition")) == [
        ("Store manager", ""),
        ("Region manager", "amount > 8000"),
    ]
    assert AuditEntry.objects.filter(action="approvals.policy.update").count() == 2
    # Saving the same form again writes nothing.
    again = client_for(others["region_admin"]).post(edit_url(store_policy), data)
    assert again.status_code == 302
    assert store_policy.versions.count() == 3


def test_create_through_the_page(tree, people):
    data = policy_form(
        step_form(0, kind="requester_manager", sla_hours=""),
        step_form(1, kind=FINANCE, condition="amount > 1000", sla_hours="72"),
        name="Claims",
        document_type="finance.expense_claim",
    )
    response = client_for(people.admin).post(NEW, {**data, "publish": "1"})
    assert response.status_code == 302
    policy = ApprovalPolicy.objects.get(name="Claims")
    assert response["Location"] == edit_url(policy)
    assert policy.scope_node is None
    version = policy.versions.get()
    assert version.is_published
    assert list(
        version.steps.order_by("position").values_list("approver_kind", "approver_params")
    ) == [("requester_manager", {}), ("role", {"role": "finance", "level": "entity"})]
    # The editor shows the finance step as "finance", not as a bare role.
    body = text(client_for(people.admin).get(edit_url(policy)))
    assert f'<option value="{FINANCE}" selected>' in body


def test_publish_matrix(tree, people, others, store_policy):
    url = f"/approvals/policies/{store_policy.pk}/versions/2/publish/"
    result = assert_matrix(
        "POST",
        url,
        allowed=others["region_admin"],
        forbidden=others["manager_a"],
        other_scope=others["store_b_admin"],
        expect_allowed=302,
        snapshot=state,
    )
    assert result.allowed["Location"] == edit_url(store_policy)
    version = store_policy.versions.get(number=2)
    assert version.is_published
    assert version.published_by == others["region_admin"]
    assert OutboxEvent.objects.filter(event_type="approvals.policy.published").count() == 2
    # Publishing again is refused with a message; nothing changes.
    before = state()
    again = client_for(others["region_admin"]).post(url, follow=True)
    assert "already published" in text(again) or "no longer change" in text(again)
    assert state() == before


def test_preview_matrix_and_golden_route(tree, people, others, requisition_policy):
    url = f"/approvals/policies/{requisition_policy.pk}/preview/"
    payload = {"field-amount": "120000", "field-store": "SHA001", "field-category": ""}
    result = assert_matrix(
        "POST",
        url,
        payload=payload,
        allowed=people.admin,
        forbidden=others["manager_a"],
        other_scope=others["region_admin"],  # the chain-wide policy is beyond the region
        snapshot=state,
    )
    body = text(result.allowed)
    steps = re.findall(r'data-testid="route-step" data-applies="(\w+)"', body)
    assert steps == ["yes", "yes", "yes", "yes"]
    assert "Store manager at Store SHA001 (SHA001)" in body
    assert "Region manager at Region EAST (EAST)" in body
    assert "HQ operations at Group GRP (GRP)" in body
    assert 'data-testid="route-problem"' not in body
    assert 'value="120000"' in body  # the sample stays in the form


def test_preview_marks_unresolvable_and_skipped_steps(tree, people, requisition_policy):
    people.region_manager.is_active = False
    people.region_manager.save()
    url = f"/approvals/policies/{requisition_policy.pk}/preview/"
    response = client_for(people.admin).post(
        url, {"field-amount": "6000", "field-store": "SHA001"}, **HX
    )
    assert response.status_code == 200
    body = text(response)
    assert not body.lstrip().startswith("<!DOCTYPE")  # the fragment only
    assert re.findall(r'data-testid="route-step" data-applies="(\w+)"', body) == [
        "yes",
        "yes",
        "no",
        "no",
    ]
    assert body.count('data-problem="yes"') == 1
    assert "Unresolvable: No one holds Region manager at Region EAST (EAST)." in body


def test_preview_shows_bad_values_next_to_their_inputs(tree, people, requisition_policy):
    url = f"/approvals/policies/{requisition_policy.pk}/preview/"
    response = client_for(people.admin).post(url, {"field-amount": "12.345678", "field-store": ""})
    assert response.status_code == 422
    body = text(response)
    assert "An amount may have at most 4 decimal places." in body
    assert 'data-testid="route-step"' not in body


# --- validation ------------------------------------------------------------------------------


def test_three_bad_conditions_show_on_their_rows_and_save_nothing(tree, people, store_policy):
    data = policy_form(
        step_form(0, condition="amont > 5000"),
        step_form(1, role="region_manager", level="region"),
        step_form(2, condition='amount > "x"'),
        name="Store A",
        scope_node_id=str(tree.store_a.pk),
        condition="amount > > 3",
    )
    before = state()
    audit = AuditEntry.objects.count()
    response = client_for(people.admin).post(edit_url(store_policy), data)
    assert response.status_code == 422
    assert state() == before
    assert AuditEntry.objects.count() == audit
    body = text(response)
    assert "Nothing was saved." in body
    assert re.findall(r'data-testid="condition-error">([^<]+)<', body) == [
        "Syntax error at column 10: unexpected “&gt;”."
    ]
    rows = re.split(r'data-testid="step-row"', body)[1:]
    assert len(rows) == 3
    errors = [re.findall(r'data-testid="step-condition-error">([^<]+)<', row) for row in rows]
    assert errors[0] == [errors[0][0]] and errors[0][0].startswith("Column 1: unknown field")
    assert errors[1] == []
    assert errors[2] == ["Column 10: “&gt;” cannot compare “amount” (a decimal number) with text."]
    # What was typed stays.
    assert 'value="amont &gt; 5000"' in rows[0]


def test_unreadable_values_are_reported_with_the_conditions(tree, people):
    data = policy_form(
        step_form(0, kind="users", users="nobody, admin", condition="amont > 1"),
        step_form(1, sla_hours="soon"),
    )
    response = client_for(people.admin).post(NEW, data)
    assert response.status_code == 422
    assert not ApprovalPolicy.objects.exists()
    rows = re.split(r'data-testid="step-row"', text(response))[1:]
    assert "No user “nobody”." in rows[0]
    assert "unknown field" in rows[0]
    assert "Give the SLA as a whole number of hours." in rows[1]


def test_row_actions_rerender_without_saving(tree, people):
    data = policy_form(step_form(0, name="First"), step_form(1, name="Second"))
    admin = client_for(people.admin)

    def names(response: Any) -> list[str]:
        return re.findall(
            r'data-testid="step-name"[^>]*|name="steps-\d+-name" value="([^"]*)"', text(response)
        )

    moved = admin.post(NEW, {**data, "row_action": "up:1"})
    assert moved.status_code == 200
    assert [n for n in names(moved) if n] == ["Second", "First"]
    added = admin.post(NEW, {**data, "row_action": "add"})
    assert text(added).count('data-testid="step-row"') == 3
    removed = admin.post(NEW, {**data, "row_action": "remove:0"})
    assert [n for n in names(removed) if n] == ["Second"]
    assert not ApprovalPolicy.objects.exists()


def test_version_history(tree, people, others, store_policy):
    result = assert_matrix(
        "GET",
        f"/approvals/policies/{store_policy.pk}/versions/",
        allowed=others["region_admin"],
        forbidden=others["manager_a"],
        other_scope=others["store_b_admin"],
    )
    body = text(result.allowed)
    assert re.findall(r'data-testid="version" data-number="(\d+)"', body) == ["2", "1"]
    assert body.count('data-testid="version-published"') == 1
    assert body.count('data-testid="version-step"') == 8
    approvers = [html.unescape(found) for found in re.findall(r'version-approver">([^<]+)<', body)]
    assert approvers[:4] == [
        "Store manager at the document's store",
        "Region manager at the document's region",
        "HQ operations at the document's group",
        "vp-one, vp-two",
    ]


def test_list_query_count_is_flat(tree, people, django_assert_max_num_queries):
    for number in range(5):
        services.create_policy(requisition_input(people, name=f"Policy {number}"), actor=SYSTEM)
    admin = client_for(people.admin)
    with django_assert_max_num_queries(15):
        assert admin.get(LIST).status_code == 200


# --- the demo --------------------------------------------------------------------------------


def test_demo_seeds_published_policies(db):
    """Only the parts the policies need (org tree, users), to keep it fast."""
    from backroom.config.demo import seed_demo

    assert seed_demo(only=["org", "accounts", "approvals"]).created
    policies = {
        policy.document_type: policy
        for policy in ApprovalPolicy.objects.filter(is_active=True, scope_node__isnull=True)
    }
    assert sorted(policies) == [
        "finance.expense_claim",
        "inventory.waste",
        "procurement.requisition",
    ]
    for policy in policies.values():
        assert [version.is_published for version in policy.versions.all()] == [True]
    assert AuditEntry.objects.filter(action="approvals.policy.publish").count() == 3
    requisition = services.select_policy(
        "procurement.requisition",
        {"amount": Decimal("120000"), "store": "SH001"},
        tree_node("SH001"),
    )
    assert requisition is not None
    route = services.preview_route(
        requisition, "procurement.requisition", {"amount": Decimal("120000"), "store": "SH001"}
    )
    assert [(step.applies, [a.username for a in step.approvers], step.mode) for step in route] == [
        (True, ["manager.sh001"], "any_one"),
        (True, ["region.east"], "any_one"),
        (True, ["ops"], "any_one"),
        (True, ["admin"], "all"),
    ]
    waste = services.preview_route(
        policies["inventory.waste"],
        "inventory.waste",
        {"amount": Decimal("1500"), "store": "SH001", "reason": "spoiled"},
    )
    assert [step.applies for step in waste] == [True, False]
    # The page lists all three for the demo's administrator.
    admin = client_for(User.objects.get(username="admin"))
    assert text(admin.get(LIST)).count('data-testid="policy-row"') == 3


def tree_node(code: str) -> Any:
    from backroom.org.models import OrgNode

    return OrgNode.objects.get(code=code)
