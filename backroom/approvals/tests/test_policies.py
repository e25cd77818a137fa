"""Policy services: create, edit (new versions), publish once, immutability, permissions."""

from decimal import Decimal

import pytest

from backroom.accounts.models import Role
from backroom.approvals import selectors, services
from backroom.approvals.models import ApprovalPolicy, PolicyStep, PolicyVersion
from backroom.approvals.permissions import APPROVALS_MANAGE
from backroom.audit.models import AuditEntry
from backroom.events.models import OutboxEvent
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import PermissionDenied, ValidationFailed

from .conftest import requisition_input, requisition_steps

pytestmark = pytest.mark.django_db


def world():
    return (
        ApprovalPolicy.objects.count(),
        PolicyVersion.objects.count(),
        PolicyStep.objects.count(),
        AuditEntry.objects.count(),
        OutboxEvent.objects.count(),
    )


def test_hq_admin_holds_approvals_manage_by_default():
    assert Role.objects.get(code="hq_admin").grants(APPROVALS_MANAGE)


def test_create_policy_writes_a_draft_version_with_its_steps_audit_and_event(tree, people):
    policy = services.create_policy(
        requisition_input(people, scope_node_id=tree.region.pk, condition="amount > 0"),
        actor=people.admin,
    )

    assert (policy.document_type, policy.name, policy.scope_node) == (
        "procurement.requisition",
        "Requisitions",
        tree.region,
    )
    version = PolicyVersion.objects.get(policy=policy)
    assert (version.number, version.condition, version.is_published) == (1, "amount > 0", False)
    assert version.created_by == people.admin
    steps = list(version.steps.order_by("position"))
    assert [(s.position, s.name, s.mode, s.condition) for s in steps] == [
        (1, "Store manager", "any_one", ""),
        (2, "Region manager", "any_one", "amount > 5000"),
        (3, "HQ operations", "any_one", "amount > 50000"),
        (4, "VP countersign", "all", "amount > 100000"),
    ]
    assert steps[1].approver_params == {"role": "region_manager", "level": "region"}
    assert (steps[1].sla_hours, steps[1].on_breach) == (24, "escalate")
    entry = AuditEntry.objects.get(action="approvals.policy.create")
    assert entry.actor == people.admin
    assert entry.after["version"] == 1
    assert entry.after["route"]["condition"] == "amount > 0"
    event = OutboxEvent.objects.get(event_type="approvals.policy.created")
    assert event.payload == {
        "policy_id": policy.pk,
        "document_type": "procurement.requisition",
        "name": "Requisitions",
        "version": 1,
    }
    assert selectors.version_in_force(policy) is None


def test_every_invalid_field_is_reported_at_once_and_nothing_is_written(people):
    steps = requisition_steps(people)
    steps[2].condition = 'amount > "x"'
    steps[1].approver_params = {"role": "no_such_role", "level": "planet"}
    steps[3].approver_params = {"user_ids": [999999]}
    steps[0].on_breach = "auto_approve"
    steps[0].sla_hours = None
    before = world()

    with pytest.raises(ValidationFailed) as raised:
        services.create_policy(
            requisition_input(people, condition="amont > 1", steps=steps), actor=people.admin
        )

    assert raised.value.errors == {
        "condition": [
            "Column 1: unknown field “amont”. Fields of procurement.requisition: amount, store, "
            "region, category, supplier, requester, is_urgent."
        ],
        "steps.0.sla_hours": ["An action on breach needs an SLA."],
        "steps.1.approver_params.role": ["There is no role “no_such_role”."],
        "steps.1.approver_params.level": [
            "The level must be one of: node, store, region, entity, group."
        ],
        "steps.2.condition": [
            "Column 10: “>” cannot compare “amount” (a decimal number) with text."
        ],
        "steps.3.approver_params.user_ids": ["No active user with id 999999."],
    }
    assert world() == before


def test_unknown_document_type_and_duplicate_name(people, requisition_policy):
    with pytest.raises(ValidationFailed) as raised:
        services.create_policy(requisition_input(people), actor=people.admin)
    assert raised.value.errors == {"name": ["Another policy for this document type has this name."]}
    with pytest.raises(ValidationFailed) as raised:
        services.create_policy(
            requisition_input(people, document_type="nope.nothing", name="X"), actor=people.admin
        )
    assert raised.value.errors == {
        "document_type": ["“nope.nothing” is not a registered document type."]
    }


def test_managing_policies_needs_the_permission_and_denial_changes_nothing(tree, people):
    before = world()
    with pytest.raises(PermissionDenied):
        services.create_policy(
            requisition_input(people, scope_node_id=tree.store_a.pk), actor=people.store_manager
        )
    assert world() == before


def test_editing_the_route_creates_a_new_version_and_keeps_the_published_one(
    people, requisition_policy
):
    v1 = PolicyVersion.objects.get(policy=requisition_policy, number=1)
    v1_steps = list(v1.steps.values_list("position", "name", "condition"))
    steps = requisition_steps(people)
    steps[1].condition = "amount > 8000"

    services.update_policy(
        requisition_policy,
        requisition_input(people, steps=steps),
        actor=people.admin,
        reason="raise the region threshold",
    )

    v1.refresh_from_db()
    assert v1.is_published
    assert list(v1.steps.values_list("position", "name", "condition")) == v1_steps
    v2 = PolicyVersion.objects.get(policy=requisition_policy, number=2)
    assert not v2.is_published
    assert v2.steps.get(position=2).condition == "amount > 8000"
    assert selectors.version_in_force(requisition_policy) == v1  # until v2 is published
    entry = AuditEntry.objects.get(action="approvals.policy.update")
    assert entry.reason == "raise the region threshold"
    assert entry.before["version"] == 1 and entry.after["version"] == 2
    event = OutboxEvent.objects.get(event_type="approvals.policy.updated")
    assert event.payload["changed"] == ["route"]

    services.publish_version(v2, actor=people.admin)
    assert selectors.version_in_force(requisition_policy) == PolicyVersion.objects.get(pk=v2.pk)


def test_renaming_only_changes_the_policy_not_its_versions(people, requisition_policy):
    services.update_policy(
        requisition_policy, requisition_input(people, name="Store requisitions"), actor=people.admin
    )
    requisition_policy.refresh_from_db()
    assert requisition_policy.name == "Store requisitions"
    assert PolicyVersion.objects.filter(policy=requisition_policy).count() == 1
    assert OutboxEvent.objects.get(event_type="approvals.policy.updated").payload["changed"] == [
        "name"
    ]


def test_saving_the_same_policy_again_changes_nothing(people, requisition_policy):
    before = world()
    services.update_policy(requisition_policy, requisition_input(people), actor=people.admin)
    assert world() == before


def test_a_version_is_published_once_and_never_over_a_newer_one(people):
    policy = services.create_policy(requisition_input(people), actor=people.admin)
    v1 = PolicyVersion.objects.get(policy=policy, number=1)
    steps = requisition_steps(people)[:2]
    services.update_policy(policy, requisition_input(people, steps=steps), actor=people.admin)
    v2 = PolicyVersion.objects.get(policy=policy, number=2)

    services.publish_version(v2, actor=people.admin)
    before = world()
    with pytest.raises(services.VersionPublished) as raised:
        services.publish_version(v2, actor=people.admin)
    assert raised.value.code == "policy_version_published"
    with pytest.raises(services.VersionSuperseded) as raised:
        services.publish_version(v1, actor=people.admin)
    assert raised.value.code == "policy_version_superseded"
    assert world() == before
    assert AuditEntry.objects.filter(action="approvals.policy.publish").count() == 1


def test_published_versions_and_their_steps_cannot_be_changed(requisition_policy):
    version = PolicyVersion.objects.get(policy=requisition_policy, number=1)
    version.condition = "amount > 1"
    with pytest.raises(services.VersionPublished):
        version.save()
    step = version.steps.get(position=2)
    step.condition = "amount > 1"
    with pytest.raises(services.VersionPublished):
        step.save()
    with pytest.raises(services.VersionPublished):
        step.delete()
    with pytest.raises(services.VersionPublished):
        version.delete()
    version.refresh_from_db()
    assert version.condition == ""
    assert version.steps.get(position=2).condition == "amount > 5000"


def test_select_policy_prefers_the_most_specific_scope_then_the_matching_condition(tree, people):
    def policy(name, scope=None, condition="", publish=True, active=True):
        return services.create_policy(
            requisition_input(
                people,
                name=name,
                scope_node_id=scope.pk if scope else None,
                condition=condition,
                is_active=active,
            ),
            actor=SYSTEM,
            publish_now=publish,
        )

    chain = policy("Chain")
    region_big = policy("East, big", tree.region, "amount > 10000")
    region_small = policy("East, small", tree.region, "amount <= 10000")
    store_a = policy("Store A", tree.store_a)
    policy("Store B draft", tree.store_b, publish=False)
    policy("Store B inactive", tree.store_b, active=False)

    def chosen(node, amount):
        version = services.select_policy(
            "procurement.requisition", {"amount": Decimal(amount), "store": node.code}, node
        )
        return version.policy if version else None

    assert chosen(tree.store_a, "50000") == store_a
    assert chosen(tree.store_b, "50000") == region_big
    assert chosen(tree.store_b, "10000.00") == region_small
    assert chosen(tree.store_hk, "50000") == chain
    assert (
        services.select_policy(
            "inventory.waste", {"amount": "1", "store": "X", "reason": "spoiled"}, tree.store_a
        )
        is None
    )

    # A scope whose policies do not match falls back to the broader one.
    services.update_policy(
        region_small,
        requisition_input(
            people, name="East, small", scope_node_id=tree.region.pk, condition="amount < 0"
        ),
        actor=SYSTEM,
        publish_now=True,
    )
    assert chosen(tree.store_b, "10000.00") == chain
