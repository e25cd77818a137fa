"""Small readers shared by the adapters: exact decimals, big-int-safe JSON, stable digests."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from backroom.channels.platforms.errors import NOT_JSON, NOT_NUMBER, NOT_TIME, REQUIRED, Problems

CHINA = ZoneInfo("Asia/Shanghai")


def loads_exact(text: str | bytes) -> Any:
    """JSON with every integer kept as its digits (a str) and every fraction as a Decimal.

    Ele.me order ids exceed 2**53, so a float (or a round trip through one) would change them.
    """
    return json.loads(text, parse_int=str, parse_float=Decimal)


def decimal_or_none(value: Any) -> Decimal | None:
    """A Decimal from a JSON number, digits or a numeric string; None when it is not one."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        value = repr(value)  # shortest round-trip text: 38.5, never 38.500000000000003
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return result if result.is_finite() else None


def read_decimal(
    data: Mapping[str, Any],
    key: str,
    problems: Problems,
    *,
    where: str = "",
    default: Decimal | None = Decimal(0),
) -> Decimal:
    """`data[key]` as a Decimal; a missing key gives `default`, a bad value a problem."""
    raw = data.get(key)
    if raw is None or raw == "":
        if default is None:
            problems.add(where + key, REQUIRED)
            return Decimal(0)
        return default
    value = decimal_or_none(raw)
    if value is None:
        problems.add(where + key, NOT_NUMBER)
        return Decimal(0)
    return value


def read_json(text: str, field: str, problems: Problems, *, default: Any) -> Any:
    """A nested JSON string (big-int safe); a problem and `default` when it is not JSON."""
    if text is None or str(text).strip() == "":
        return default
    try:
        return loads_exact(text)
    except ValueError:
        problems.add(field, NOT_JSON)
        return default


def from_unix(
    value: Any, field: str, problems: Problems, *, milliseconds: bool = False
) -> dt.datetime | None:
    """An aware UTC datetime from Unix seconds (or milliseconds); None when absent."""
    if value is None or value == "":
        return None
    number = decimal_or_none(value)
    if number is None or number < 0:
        problems.add(field, NOT_TIME)
        return None
    seconds = number / 1000 if milliseconds else number
    try:
        return dt.datetime.fromtimestamp(float(seconds), tz=dt.UTC)
    except (OverflowError, ValueError, OSError):
        problems.add(field, NOT_TIME)
        return None


def from_local_iso(
    value: Any, field: str, problems: Problems, *, zone: ZoneInfo = CHINA
) -> dt.datetime | None:
    """An aware datetime from ISO text; naive text is read in `zone` (Ele.me sends China time)."""
    if value is None or value == "":
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace(" ", "T", 1))
    except ValueError:
        problems.add(field, NOT_TIME)
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed


def digest(*parts: str) -> str:
    """A short stable digest of some text, for event keys: the same push gives the same key."""
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(part.encode())
        hasher.update(b"\x1f")
    return hasher.hexdigest()[:24]


def text(value: Any) -> str:
    """A JSON scalar as text (ids stay exact since `loads_exact` keeps integers as digits)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
