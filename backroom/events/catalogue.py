"""The event catalogue: each app declares its event types (an enum) and payload dataclasses.

class OrgEvent(StrEnum):
    SITE_CREATED = "org.site.created"

@event(OrgEvent.SITE_CREATED)
@dataclass(frozen=True)
class SiteCreated:
    site_id: int
    code: str
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

from backroom.kernel.jsonutil import jsonable

T = TypeVar("T")

_PAYLOADS: dict[str, type] = {}


def event(event_type: str) -> Callable[[type[T]], type[T]]:
    """Register a payload dataclass for an event type."""

    def register(cls: type[T]) -> type[T]:
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"{cls.__name__} must be a dataclass")
        if str(event_type) in _PAYLOADS and _PAYLOADS[str(event_type)] is not cls:
            raise ValueError(f"event type {event_type} registered twice")
        _PAYLOADS[str(event_type)] = cls
        cls.event_type = str(event_type)  # type: ignore[attr-defined]
        return cls

    return register


def event_types() -> list[str]:
    """Every registered event type, sorted; webhooks offer these for subscription."""
    return sorted(_PAYLOADS)


def payload_class(event_type: str) -> type:
    return _PAYLOADS[event_type]


def payload_to_dict(payload: Any) -> dict[str, Any]:
    """The payload as stored (`to_jsonable(dataclasses.asdict(payload))`, in one pass)."""
    return jsonable(payload)  # type: ignore[no-any-return]
