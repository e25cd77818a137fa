"""Approvals fixtures: the test tree with the people a requisition route needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from backroom.accounts.models import User
from backroom.approvals import services
from backroom.approvals.models import ApprovalPolicy
from backroom.kernel.actors import SYSTEM
from backroom.testing.factories import Tree, make_user


@dataclass
class People:
    admin: User  # hq_admin at the group: manages every policy
    store_manager: User  # store manager of store A
    region_manager: User  # region manager of EAST
    hq_operations: User
    vp_one: User
    vp_two: User


@pytest.fixture
def people(tree: Tree) -> People:
    vp_one = make_user(username="vp-one")
    vp_two = make_user(username="vp-two")
    return People(
        admin=make_user("hq_admin", tree.group, username="admin"),
        store_manager=make_user("store_manager", tree.store_a, username="sm-a"),
        region_manager=make_user("region_manager", tree.region, username="rm-east"),
        hq_operations=make_user("hq_operations", tree.group, username="hq-ops"),
        vp_one=vp_one,
        vp_two=vp_two,
    )


def requisition_steps(people: People) -> list[services.StepInput]:
    """The demo route: store manager → region manager above ¥5,000 → HQ operations above
    ¥50,000 → VP countersign above ¥100,000."""
    return [
        services.StepInput(
            name="Store manager",
            approver_kind="role",
            approver_params={"role": "store_manager", "level": "store"},
            sla_hours=24,
        ),
        services.StepInput(
            name="Region manager",
            approver_kind="role",
            approver_params={"role": "region_manager", "level": "region"},
            condition="amount > 5000",
            sla_hours=24,
            on_breach="escalate",
        ),
        services.StepInput(
            name="HQ operations",
            approver_kind="role",
            approver_params={"role": "hq_operations", "level": "group"},
            condition="amount > 50000",
            sla_hours=48,
            on_breach="escalate",
        ),
        services.StepInput(
            name="VP countersign",
            approver_kind="users",
            approver_params={"user_ids": [people.vp_one.pk, people.vp_two.pk]},
            mode="all",
            condition="amount > 100000",
            sla_hours=72,
        ),
    ]


def requisition_input(people: People, **overrides: Any) -> services.PolicyInput:
    values: dict[str, Any] = {
        "document_type": "procurement.requisition",
        "name": "Requisitions",
        "steps": requisition_steps(people),
    }
    values.update(overrides)
    return services.PolicyInput(**values)


@pytest.fixture
def requisition_policy(people: People) -> ApprovalPolicy:
    return services.create_policy(requisition_input(people), actor=SYSTEM, publish_now=True)
