"""The demo chain: a realistic organisation to click through, seeded through the services.

Each app may ship `backroom/<app>/demo.py` with a `seed(ctx)` function; `seed_demo` calls them in
INSTALLED_APPS order inside one transaction, so later apps build on what earlier ones created
(the org tree first, then users, then stock, orders and books). Every write goes through the
services as the system actor, so the demo has the same audit trail and events as real use.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import import_module
from importlib.util import find_spec
from typing import Any, NamedTuple

from django.apps import apps
from django.db import transaction

from backroom.accounts.models import Membership, User
from backroom.org.choices import NodeKind
from backroom.org.models import OrgNode

DEMO_PASSWORD = "backroom-demo-2026"

# The demo logins in the order the table shows them (username → role code @ node code).
DEMO_USERS: list[tuple[str, str, str]] = [
    ("admin", "hq_admin", "GRP"),
    ("ops", "hq_operations", "GRP"),
    ("finance", "finance", "GRP"),
    ("buyer", "buyer", "GRP"),
    ("region.east", "region_manager", "EAST"),
    ("manager.sh001", "store_manager", "SH001"),
    ("staff.sh001", "store_staff", "SH001"),
    ("tech", "technician", "EAST"),
    ("integration", "integration", "GRP"),
]


@dataclass
class DemoContext:
    """What each app's `seed(ctx)` receives: a seeded random source and what came before."""

    random: random.Random
    nodes: dict[str, OrgNode] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


class DemoLogin(NamedTuple):
    """One row of the logins table: (username, role label, node name)."""

    username: str
    role: str
    where: str


@dataclass(frozen=True)
class DemoResult:
    created: bool
    logins: list[DemoLogin]


def demo_modules() -> list[str]:
    """The `demo` modules of the installed Backroom apps, in INSTALLED_APPS order."""
    modules = []
    for config in apps.get_app_configs():
        module = f"{config.name}.demo"
        if config.name.startswith("backroom.") and find_spec(module) is not None:
            modules.append(module)
    return modules


def is_seeded() -> bool:
    """An organisation exists (the demo's or a real one): the seed leaves it alone."""
    return OrgNode.objects.filter(kind=NodeKind.GROUP).exists()


def demo_logins() -> list[DemoLogin]:
    """The demo users present in the database with the role and place each holds."""
    usernames = [username for username, _role, _node in DEMO_USERS]
    memberships = {
        membership.user.username: membership
        for membership in Membership.objects.select_related("user", "role", "node")
        .filter(user__username__in=usernames, user__is_active=True)
        .order_by("node__depth", "id")
    }
    return [
        DemoLogin(
            username=username,
            role=str(memberships[username].role.name),
            where=memberships[username].node.name,
        )
        for username in usernames
        if username in memberships
    ]


def seed_demo(seed: int = 42, *, only: Sequence[str] | None = None) -> DemoResult:
    """Seed the demo chain into an empty database; a seeded one is left as it is.

    `only` limits the seed to the named apps' parts (e.g. ["org", "accounts"]), in order; tests
    that look at one part use it to skip the slower ones.
    """
    with transaction.atomic():
        if is_seeded():
            return DemoResult(created=False, logins=demo_logins())
        ctx = DemoContext(random=random.Random(seed))  # noqa: S311 (repeatable data, not secrets)
        for module in demo_modules():
            if only is not None and module.split(".")[-2] not in only:
                continue
            import_module(module).seed(ctx)
    return DemoResult(created=True, logins=demo_logins())
