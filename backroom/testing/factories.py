"""Build test data through the services (never invented rows)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from django.test import Client

from backroom.accounts import services as accounts_services
from backroom.accounts.models import Role, User
from backroom.kernel.actors import SYSTEM
from backroom.org import services as org_services
from backroom.org.choices import NodeKind
from backroom.org.models import OrgNode

PASSWORD = "Correct-horse-battery-9"
_counter = itertools.count(1)


@dataclass
class Tree:
    """A small chain: group → CN entity → East region → stores A and B; HK entity → store C."""

    group: OrgNode
    entity: OrgNode
    region: OrgNode
    store_a: OrgNode
    store_b: OrgNode
    entity_hk: OrgNode
    store_hk: OrgNode


def make_node(kind: str, parent: OrgNode | None, code: str | None = None, **site: Any) -> OrgNode:
    code = code or f"{kind[:3].upper()}{next(_counter):04d}"
    entity = None
    site_details = None
    if kind == NodeKind.ENTITY:
        entity = org_services.EntityDetails(
            base_currency=site.pop("base_currency", "CNY"), country=site.pop("country", "CN")
        )
    if kind in (NodeKind.STORE, NodeKind.WAREHOUSE, NodeKind.KITCHEN):
        site_details = org_services.SiteDetails(**site)
    return org_services.create_node(
        org_services.NodeInput(
            kind=kind,
            code=code,
            name=f"{kind.title()} {code}",
            parent_id=parent.pk if parent else None,
        ),
        actor=SYSTEM,
        entity=entity,
        site=site_details,
    )


def make_tree() -> Tree:
    group = make_node(NodeKind.GROUP, None, "GRP")
    entity = make_node(NodeKind.ENTITY, group, "CN-CO")
    region = make_node(NodeKind.REGION, entity, "EAST")
    store_a = make_node(NodeKind.STORE, region, "SHA001", city="Shanghai")
    store_b = make_node(NodeKind.STORE, region, "SHA002", city="Shanghai")
    entity_hk = make_node(NodeKind.ENTITY, group, "HK-CO", base_currency="HKD", country="HK")
    store_hk = make_node(
        NodeKind.STORE, entity_hk, "HKG001", city="Hong Kong", time_zone="Asia/Hong_Kong"
    )
    return Tree(group, entity, region, store_a, store_b, entity_hk, store_hk)


def make_user(
    role_code: str | None = None, node: OrgNode | None = None, username: str | None = None
) -> User:
    """A user holding `role_code` at `node` (or no role at all)."""
    username = username or f"user{next(_counter)}"
    role = Role.objects.get(code=role_code) if role_code else None
    return accounts_services.create_user(
        accounts_services.UserInput(username=username, password=PASSWORD),
        actor=SYSTEM,
        node=node if role else None,
        role=role,
    )


def client_for(user: User | None) -> Client:
    """A test client signed in as `user` (anonymous when None)."""
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def token_client_for(user: User, role_code: str, node: OrgNode) -> Client:
    """A test client sending a bearer token (no session)."""
    issued = accounts_services.create_api_token(
        actor=user, name="test", role=Role.objects.get(code=role_code), node=node
    )
    return Client(HTTP_AUTHORIZATION=f"Bearer {issued.raw}")
