"""JSON helpers: plain values for audit snapshots and event payloads, canonical text for hashes."""

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

from django.db import models


def to_jsonable(value: Any) -> Any:
    """Decimals as strings (exact), datetimes as ISO 8601, model instances by primary key."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    return value


def canonical_json(value: Any) -> str:
    """Stable JSON (sorted keys, no spaces) used for hashing."""
    return json.dumps(to_jsonable(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
