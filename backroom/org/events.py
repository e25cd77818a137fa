"""Org events."""

from dataclasses import dataclass
from enum import StrEnum

from backroom.events.catalogue import event


class OrgEvent(StrEnum):
    NODE_CREATED = "org.node.created"
    NODE_UPDATED = "org.node.updated"
    BRAND_CREATED = "org.brand.created"


@event(OrgEvent.NODE_CREATED)
@dataclass(frozen=True)
class NodeCreated:
    node_id: int
    kind: str
    code: str
    name: str
    parent_id: int | None


@event(OrgEvent.NODE_UPDATED)
@dataclass(frozen=True)
class NodeUpdated:
    node_id: int
    kind: str
    code: str
    changed: list[str]


@event(OrgEvent.BRAND_CREATED)
@dataclass(frozen=True)
class BrandCreated:
    brand_id: int
    code: str
    name: str
