"""JSON helpers: plain values for audit snapshots and event payloads, canonical text for hashes."""

import dataclasses
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


def jsonable(value: Any) -> Any:
    """`to_jsonable(dataclasses.asdict(value))` in one pass, without asdict's deep copies: for
    dataclasses (event payloads, canonical orders) built many at a time."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is Decimal:
        return str(value)
    if kind is dt.datetime:
        return value.isoformat()
    if isinstance(value, str):  # a text choice (an enum of strings): JSON text as it is
        return value
    names = _FIELD_NAMES.get(kind)
    if names is None and dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _FIELD_NAMES[kind] = tuple(field.name for field in dataclasses.fields(value))
    if names is not None:
        fields = {}
        for name in names:
            item = getattr(value, name)
            fields[name] = item if type(item) in _PLAIN else jsonable(item)
        return fields
    if isinstance(value, list | tuple):
        return [item if type(item) in _PLAIN else jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    return to_jsonable(value)


_PLAIN = frozenset({str, int, bool, float, type(None)})
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
