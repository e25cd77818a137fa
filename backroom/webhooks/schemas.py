import datetime as dt
import uuid
from typing import Annotated

from ninja import Field, Schema

from backroom.config.api_support import ObjectId, text

EventType = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00]*$")]


class EndpointOut(Schema):
    id: int
    node_id: int
    node_code: str
    name: str
    url: str
    event_types: list[str]
    description: str
    is_active: bool
    circuit_state: str
    circuit_open_until: dt.datetime | None
    consecutive_failures: int
    secret_rotated_at: dt.datetime | None
    previous_secret_expires_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_node_code(obj: object) -> str:
        return obj.node.code  # type: ignore[attr-defined, no-any-return]

    @staticmethod
    def resolve_circuit_state(obj: object) -> str:
        return obj.circuit_state()  # type: ignore[attr-defined, no-any-return]


class EndpointIn(Schema):
    node_id: ObjectId
    name: str = text(max_length=200)
    url: str = text(max_length=2000)
    event_types: list[EventType] = Field(max_length=200)
    description: str = text(max_length=5000, default="")
    is_active: bool = True


class EndpointCreatedOut(Schema):
    """The new endpoint and its signing secret: shown this once, never again."""

    endpoint: EndpointOut
    secret: str


class EndpointPatch(Schema):
    name: str | None = text(max_length=200, default=None)
    url: str | None = text(max_length=2000, default=None)
    event_types: list[EventType] | None = Field(None, max_length=200)
    description: str | None = text(max_length=5000, default=None)
    is_active: bool | None = None
    reason: str = text(max_length=2000, default="")


class RotateSecretIn(Schema):
    reason: str = text(max_length=2000, default="")


class SecretOut(Schema):
    """The new primary secret (shown once); the previous one stays valid until the time given."""

    endpoint: EndpointOut
    secret: str
    previous_secret_expires_at: dt.datetime


class DeliveryOut(Schema):
    id: int
    endpoint_id: int
    webhook_id: uuid.UUID
    event_type: str
    status: str
    attempt_count: int
    next_attempt_at: dt.datetime | None
    last_attempt_at: dt.datetime | None
    last_status_code: int | None
    last_error: str
    succeeded_at: dt.datetime | None
    failed_at: dt.datetime | None
    created_at: dt.datetime

    @staticmethod
    def resolve_webhook_id(obj: object) -> uuid.UUID:
        return obj.event.event_id  # type: ignore[attr-defined, no-any-return]


class AttemptOut(Schema):
    id: int
    number: int
    trigger: str
    started_at: dt.datetime
    request_timestamp: int
    status_code: int | None
    latency_ms: int | None
    response_excerpt: str
    error: str
    is_success: bool


class ReplayIn(Schema):
    reason: str = text(max_length=2000, default="")


class EventTypeOut(Schema):
    event_type: str
