"""Demo seed for approvals: published policies for store requisitions, write-offs and expense
claims, written through the policy services as the system.

- Store requisitions (要货): the store manager; the region manager above ¥5,000; HQ operations
  above ¥50,000; and above ¥100,000 a countersign (会签) by every HQ administrator — the demo has
  no VP role, so `hq_admin` at the group stands in for the VPs.
- Write-offs (报损, `inventory.waste`): the store manager, then the region manager above ¥2,000.
- Expense claims (报销): the requester's manager, then finance of the store's legal entity above
  ¥1,000. The demo's finance user sits at the group, so that step shows as unresolvable in
  "Test this policy" until someone holds `finance` at an entity: a deliberate example.

Requests (pending and finished) are seeded by the runtime slice, not here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from backroom.approvals import services
from backroom.approvals.services import PolicyInput, StepInput
from backroom.kernel.actors import SYSTEM

if TYPE_CHECKING:
    from backroom.config.demo import DemoContext


def _role(role: str, level: str) -> dict[str, str]:
    return {"role": role, "level": level}


POLICIES = [
    PolicyInput(
        document_type="procurement.requisition",
        name="门店要货审批 Store requisitions",
        description="Store manager; region manager above ¥5,000; HQ operations above ¥50,000; "
        "HQ administrators countersign above ¥100,000 (standing in for the VPs).",
        steps=[
            StepInput(
                name="店长 Store manager",
                approver_kind="role",
                approver_params=_role("store_manager", "store"),
                sla_hours=24,
            ),
            StepInput(
                name="区域经理 Region manager",
                approver_kind="role",
                approver_params=_role("region_manager", "region"),
                condition="amount > 5000",
                sla_hours=24,
                on_breach="escalate",
            ),
            StepInput(
                name="总部运营 HQ operations",
                approver_kind="role",
                approver_params=_role("hq_operations", "group"),
                condition="amount > 50000",
                sla_hours=48,
                on_breach="escalate",
            ),
            StepInput(
                name="副总会签 VP countersign",
                approver_kind="role",
                approver_params=_role("hq_admin", "group"),
                mode="all",
                condition="amount > 100000",
                sla_hours=72,
            ),
        ],
    ),
    PolicyInput(
        document_type="inventory.waste",
        name="报损审批 Write-offs",
        description="Store manager; region manager above ¥2,000.",
        steps=[
            StepInput(
                name="店长 Store manager",
                approver_kind="role",
                approver_params=_role("store_manager", "store"),
                sla_hours=24,
            ),
            StepInput(
                name="区域经理 Region manager",
                approver_kind="role",
                approver_params=_role("region_manager", "region"),
                condition="amount > 2000",
                sla_hours=48,
                on_breach="escalate",
            ),
        ],
    ),
    PolicyInput(
        document_type="finance.expense_claim",
        name="费用报销 Expense claims",
        description="The requester's manager; finance of the legal entity above ¥1,000.",
        steps=[
            StepInput(
                name="直属上级 Manager",
                approver_kind="requester_manager",
                sla_hours=48,
            ),
            StepInput(
                name="财务 Finance",
                approver_kind="role",
                approver_params=_role("finance", "entity"),
                condition="amount > 1000",
                sla_hours=72,
            ),
        ],
    ),
]


def seed(ctx: DemoContext) -> None:
    """The demo's published policies (see the module); chain-wide, as the system."""
    for data in POLICIES:
        services.create_policy(data, actor=SYSTEM, publish_now=True)
