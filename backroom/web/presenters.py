"""Pure presentation: shaping already-fetched rows for templates (no queries, no rules)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from backroom.kernel.dates import business_date
from backroom.org.models import Site


@dataclass(frozen=True)
class StoreClock:
    """What a store's clock says now: local time and the business date it belongs to."""

    site: Site
    local_now: dt.datetime
    business_date: dt.date
    cutoff: str


def store_clock(site: Site, now: dt.datetime) -> StoreClock:
    return StoreClock(
        site=site,
        local_now=now.astimezone(ZoneInfo(site.time_zone)),
        business_date=business_date(now, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour),
        cutoff=f"{site.cutoff_hour:02d}:00",
    )


@dataclass
class SiteGroup:
    """Sites under one parent (a region, or an entity for sites placed directly under it)."""

    parent_name: str
    parent_code: str
    sites: list[Site]


def group_by_parent(sites: Iterable[Site]) -> list[SiteGroup]:
    """Group sites (fetched with node__parent) by parent node in tree order; sites by code."""
    groups: dict[int | None, SiteGroup] = {}
    for site in sites:
        parent = site.node.parent
        key = parent.pk if parent else None
        if key not in groups:
            groups[key] = SiteGroup(
                parent_name=parent.name if parent else "",
                parent_code=parent.code if parent else "",
                sites=[],
            )
        groups[key].sites.append(site)
    for group in groups.values():
        group.sites.sort(key=lambda site: site.node.code)
    return list(groups.values())


@dataclass(frozen=True)
class DiffRow:
    key: str
    before: str
    after: str
    status: str  # "added", "removed", "changed" or "same"


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


_MISSING = object()


def json_diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[DiffRow]:
    """Field-by-field comparison of an audit entry's before and after snapshots."""
    before = before or {}
    after = after or {}
    rows = []
    for key in sorted(set(before) | set(after)):
        old = before.get(key, _MISSING)
        new = after.get(key, _MISSING)
        if old is _MISSING:
            status = "added"
        elif new is _MISSING:
            status = "removed"
        elif old != new:
            status = "changed"
        else:
            status = "same"
        rows.append(
            DiffRow(
                key=key,
                before="" if old is _MISSING else _show(old),
                after="" if new is _MISSING else _show(new),
                status=status,
            )
        )
    return rows
