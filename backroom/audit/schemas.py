"""Audit API schemas."""

import datetime as dt
from typing import Any

from ninja import Field, Schema

from backroom.config.api_support import Instant, ObjectId, Text


class AuditEntryOut(Schema):
    id: int
    occurred_at: dt.datetime
    actor_id: int | None
    actor_label: str
    on_behalf_of_label: str
    action: str
    target_type: str
    target_id: str
    target_label: str
    before: Any
    after: Any
    reason: str
    request_id: str
    org_node_id: int | None
    org_node_code: str | None
    previous_hash: str
    hash: str

    @staticmethod
    def resolve_org_node_code(obj: object) -> str | None:
        node = obj.org_node  # type: ignore[attr-defined]
        return node.code if node is not None else None


class AuditEntryFilter(Schema):
    action: Text | None = Field(None, max_length=100, description="e.g. org.site.update")
    target_type: Text | None = Field(None, max_length=100, description="e.g. org.orgnode")
    target_id: Text | None = Field(None, max_length=64)
    actor_id: ObjectId | None = None
    occurred_from: Instant | None = Field(None, description="At or after this instant")
    occurred_to: Instant | None = Field(None, description="Before this instant")


class AuditVerifyOut(Schema):
    checked: int = Field(description="How many entries were checked, in chain order")
    is_valid: bool
    first_bad_id: int | None
    problem: str
