"""Demo seed for approvals: published policies for store requisitions, write-offs and expense
claims, written through the policy services as the system.

- Store requisitions (要货): the store manager; the region manager above ¥5,000; HQ operations
  above ¥50,000; and above ¥100,000 a countersign (会签) by every HQ administrator — the demo has
  no VP role, so `hq_admin` at the group stands in for the VPs.
- Write-offs (报损, `inventory.waste`) above ¥200: the store manager, then the region manager
  above ¥2,000; smaller ones post at once.
- Expense claims (报销): the requester's manager, then finance of the store's legal entity above
  ¥1,000. The demo's finance user sits at the group, so that step shows as unresolvable in
  "Test this policy" until someone holds `finance` at an entity: a deliberate example.

After the policies, a few requests go through the runtime as the demo users, dated in the past
days with `kernel.clock.at`: waiting for region.east (manager.sh001's ¥8,600 requisition) and for
manager.sh001 (a staff requisition, past its SLA), one approved and one rejected with a reason.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from django.utils import timezone

from backroom.approvals import runtime, services
from backroom.approvals.services import PolicyInput, StepInput
from backroom.kernel import clock
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
        description="Write-offs above ¥200 (smaller ones post at once): store manager; region "
        "manager above ¥2,000. A store manager's own write-off goes to their region manager.",
        condition="amount > 200",
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
    if {"manager.sh001", "staff.sh001", "region.east"} <= set(ctx.users):
        seed_requests(ctx)


# (document type, id, requester, amount in CNY, category, submitted hours ago,
#  then the decision: None (pending), ("approve" | "reject", by whom, hours ago, reason))
REQUESTS: list[tuple[str, str, str, str, str, int, tuple[str, str, int, str] | None]] = [
    ("procurement.requisition", "REQ-DEMO-0001", "staff.sh001", "2400.00", "packaging", 96,
     ("approve", "manager.sh001", 90, "")),
    ("finance.expense_claim", "EXP-DEMO-0001", "staff.sh001", "680.00", "taxi", 72,
     ("reject", "manager.sh001", 70, "请附上发票 Please attach the receipt.")),
    ("procurement.requisition", "REQ-DEMO-0002", "staff.sh001", "3200.00", "dry goods", 30, None),
    ("procurement.requisition", "REQ-DEMO-0003", "manager.sh001", "8600.00", "equipment", 20,
     None),
]  # fmt: skip


def seed_requests(ctx: DemoContext) -> None:
    """Pending and finished requests at SH001 (see the module), dated from the last full hour."""
    base = timezone.now().replace(minute=0, second=0, microsecond=0)
    store = ctx.nodes.get("SH001")
    for document_type, document_id, who, amount, category, hours, decision in REQUESTS:
        requester = ctx.users[who]
        with clock.at(base - dt.timedelta(hours=hours)):
            request = runtime.submit(
                runtime.Submission(
                    document_type=document_type,
                    document_id=document_id,
                    fields={"amount": amount, "store": "SH001", "category": category},
                    org_node=store,
                    document_currency="CNY",
                    document_amount=Decimal(amount),
                ),
                requester=requester,
                actor=requester,
            )
        if decision is None:
            continue
        verb, by, decided_hours, reason = decision
        task = request.tasks.get(status="pending", assignee=ctx.users[by])
        with clock.at(base - dt.timedelta(hours=decided_hours)):
            if verb == "approve":
                runtime.approve(task, actor=ctx.users[by])
            else:
                runtime.reject(task, actor=ctx.users[by], reason=reason)
