"""What the stock list pages' exports share (the exports themselves: `backroom.web.exports`).

A store document's times are written as the store's wall-clock time: Excel holds no time
zones, and a month-end check reads "when at the store", not "when where I sit"."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import cache

from django.utils import timezone

from backroom.org.models import Site

EXPORT_CHUNK = 2000  # rows fetched at a time while an export streams


@cache
def _zone(name: str) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return timezone.get_default_timezone()


def store_time(moment: dt.datetime | None, site: Site | None) -> dt.datetime | None:
    """An aware moment as the store's wall-clock time (the chain's without a store), to the
    second, without a zone."""
    if moment is None:
        return None
    zone = _zone(site.time_zone) if site is not None else timezone.get_default_timezone()
    return moment.astimezone(zone).replace(tzinfo=None, microsecond=0)
