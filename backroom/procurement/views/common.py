"""What the procurement pages share: reading what was typed, and a service's problems sorted
by the document line they belong to (every problem at once, next to its line)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from backroom.kernel.exceptions import DomainError, ValidationFailed
from backroom.org.models import OrgNode
from backroom.procurement.exceptions import DocumentRejected

RECENT = 50
EXPORT_CHUNK = 2000  # rows fetched at a time while an export streams
_LINE_FIELD = re.compile(r"^lines\.(\d+)\.")


def typed(raw: str | None) -> str:
    """What was typed, with a decimal comma read as a point (2,5 → 2.5)."""
    value = (raw or "").strip().replace(" ", "")
    if value.count(",") == 1 and "." not in value:
        value = value.replace(",", ".")
    return value


def local_time(moment: dt.datetime | None) -> dt.datetime | None:
    """An aware moment as the local wall-clock time without a zone (Excel holds no zones)."""
    if moment is None:
        return None
    return timezone.localtime(moment).replace(tzinfo=None, microsecond=0)


def may(request: HttpRequest, permission: str, node: OrgNode | None = None) -> bool:
    """Whether the user holds `permission` at `node` (anywhere when None)."""
    user: Any = request.user
    if node is None:
        return bool(user.has_scoped_permission(permission))
    return bool(user.has_scoped_permission(permission, node))


def _sort(error: DomainError, by_line: dict[int, list[str]], general: list[str]) -> None:
    if isinstance(error, DocumentRejected):
        for problem in error.problems:
            _sort(problem, by_line, general)
        return
    if isinstance(error, ValidationFailed) and error.errors:
        for name, messages in error.errors.items():
            found = _LINE_FIELD.match(name)
            target = by_line.setdefault(int(found.group(1)), []) if found else general
            target.extend(str(message) for message in messages)
        return
    line = error.details.get("line") if isinstance(error.details, dict) else None
    if isinstance(line, int):
        by_line.setdefault(line, []).append(error.message)
    else:
        general.append(error.message)


def problems_by_line(error: DomainError) -> tuple[dict[int, list[str]], list[str]]:
    """A service error's messages by 0-based line index, and those of the whole document."""
    by_line: dict[int, list[str]] = {}
    general: list[str] = []
    _sort(error, by_line, general)
    return by_line, general
