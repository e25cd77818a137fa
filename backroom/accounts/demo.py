"""Demo seed for accounts: one user per shipped role, each at the place that role works.

Called by `backroom.config.demo.seed_demo` after the org tree exists; all through the services.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from backroom.accounts.models import Role
from backroom.accounts.services import UserInput, create_user
from backroom.kernel.actors import SYSTEM

if TYPE_CHECKING:
    from backroom.config.demo import DemoContext

# username → display name (Chinese and English), and who they report to.
PEOPLE: dict[str, tuple[str, str | None]] = {
    "admin": ("陈管理 Chen (HQ admin)", None),
    "ops": ("周运营 Zhou (HQ operations)", "admin"),
    "finance": ("李财务 Li (Finance)", "admin"),
    "buyer": ("赵采购 Zhao (Buyer)", "ops"),
    "region.east": ("刘经理 Liu (East China)", "ops"),
    "manager.sh001": ("王店长 Wang (SH001)", "region.east"),
    "staff.sh001": ("张小美 Zhang (SH001)", "manager.sh001"),
    "tech": ("孙师傅 Sun (Technician)", "region.east"),
    "integration": ("集成账号 Integration", "admin"),
}


def seed(ctx: DemoContext) -> None:
    """Create the demo users (see DEMO_USERS) with their roles, all with the demo password."""
    from backroom.config.demo import DEMO_PASSWORD, DEMO_USERS

    roles = {role.code: role for role in Role.objects.all()}
    for username, role_code, node_code in DEMO_USERS:
        display_name, manager = PEOPLE[username]
        ctx.users[username] = create_user(
            UserInput(
                username=username,
                password=DEMO_PASSWORD,
                display_name=display_name,
                email=f"{username}@demo.backroom.invalid",
                manager_id=ctx.users[manager].pk if manager else None,
            ),
            actor=SYSTEM,
            node=ctx.nodes[node_code],
            role=roles[role_code],
        )
