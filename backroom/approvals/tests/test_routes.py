"""Test this policy: the route a document would take, with approvers resolved or reported."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backroom.approvals import services
from backroom.approvals.conditions import evaluate_condition
from backroom.approvals.document_types import PROCUREMENT_REQUISITION
from backroom.kernel.exceptions import ValidationFailed
from backroom.testing.factories import make_user

from .conftest import requisition_input

pytestmark = pytest.mark.django_db


def route(policy, amount, **more):
    fields = {"amount": Decimal(amount), "store": "SHA001", **more}
    return services.preview_route(policy, "procurement.requisition", fields)


def applying(steps):
    return [step.name for step in steps if step.applies]


@pytest.mark.parametrize(
    ("amount", "names"),
    [
        ("3000", ["Store manager"]),
        ("5000.00", ["Store manager"]),
        ("5000.01", ["Store manager", "Region manager"]),
        ("50000.00", ["Store manager", "Region manager"]),
        ("60000", ["Store manager", "Region manager", "HQ operations"]),
        ("100000.00", ["Store manager", "Region manager", "HQ operations"]),
        ("100000.01", ["Store manager", "Region manager", "HQ operations", "VP countersign"]),
    ],
)
def test_requisition_route_thresholds(requisition_policy, amount, names):
    assert applying(route(requisition_policy, amount)) == names


def test_golden_requisition_route_above_100000(tree, people, requisition_policy):
    steps = route(requisition_policy, "150000.00")

    assert [
        (
            s.position,
            s.name,
            s.applies,
            s.mode,
            s.approver_description,
            [a.username for a in s.approvers],
            s.problem,
        )
        for s in steps
    ] == [
        (
            1,
            "Store manager",
            True,
            "any_one",
            "Store manager at Store SHA001 (SHA001)",
            ["sm-a"],
            None,
        ),
        (
            2,
            "Region manager",
            True,
            "any_one",
            "Region manager at Region EAST (EAST)",
            ["rm-east"],
            None,
        ),
        (3, "HQ operations", True, "any_one", "HQ operations at Group GRP (GRP)", ["hq-ops"], None),
        (4, "VP countersign", True, "all", "vp-one, vp-two", ["vp-one", "vp-two"], None),
    ]
    assert [(s.sla_hours, s.on_breach) for s in steps] == [
        (24, "remind"),
        (24, "escalate"),
        (48, "escalate"),
        (72, "remind"),
    ]


def test_an_unassigned_region_manager_is_reported_not_raised(tree, people, requisition_policy):
    steps = route(requisition_policy, "8000", store="SHA002")  # store B: no store manager either
    assert steps[0].problem == "No one holds Store manager at Store SHA002 (SHA002)."
    assert [a.username for a in steps[1].approvers] == ["rm-east"]
    assert steps[1].problem is None

    hk_steps = route(requisition_policy, "8000", store="HKG001")
    assert hk_steps[1].applies
    assert hk_steps[1].approvers == []
    assert hk_steps[1].problem == "Store HKG001 (HKG001) has no region above it."


def test_unknown_store_is_reported_on_each_role_step(requisition_policy):
    steps = route(requisition_policy, "8000", store="NOPE")
    assert steps[0].problem == "The document's store is unknown, so no one can be found."


def test_requesters_manager(tree, people):
    boss = make_user(username="boss")
    clerk = make_user(username="clerk")
    clerk.manager = boss
    clerk.save()
    policy = services.create_policy(
        requisition_input(
            people,
            name="Manager",
            steps=[services.StepInput(name="Manager", approver_kind="requester_manager")],
        ),
        actor=people.admin,
    )

    assert [a.username for a in route(policy, "1", requester=clerk.pk)[0].approvers] == ["boss"]
    assert route(policy, "1", requester=boss.pk)[0].problem == "boss has no active manager."
    assert route(policy, "1")[0].problem == (
        "The requester is unknown, so their manager cannot be found."
    )


def test_preview_refuses_bad_fields_and_another_document_type(requisition_policy):
    with pytest.raises(ValidationFailed) as raised:
        services.preview_route(requisition_policy, "procurement.requisition", {"amount": "x"})
    assert raised.value.errors == {
        "fields.amount": ['Give an exact decimal amount (e.g. "5000.00").'],
        "fields.store": ["This field is required."],
    }
    with pytest.raises(ValidationFailed):
        services.preview_route(requisition_policy, "inventory.waste", {"amount": "1"})


def test_region_is_filled_from_the_store(people, tree):
    policy = services.create_policy(
        requisition_input(people, name="East only", condition='region == "EAST"'),
        actor=people.admin,
        publish_now=True,
    )
    version = policy.versions.get()
    assert services.version_matches(version, {"amount": "1", "store": "SHA001"})
    assert not services.version_matches(version, {"amount": "1", "store": "HKG001"})


@settings(max_examples=60, deadline=None)
@given(
    threshold=st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False),
    amount=st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False),
)
def test_any_threshold_routes_like_decimal_comparison(threshold, amount):
    fields = {"amount": amount, "store": "SHA001"}
    for operator, expected in ((">", amount > threshold), (">=", amount >= threshold)):
        condition = f"amount {operator} {threshold}"
        assert evaluate_condition(condition, PROCUREMENT_REQUISITION, fields) is expected
