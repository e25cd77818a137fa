"""Shared arguments of the commands that work on stores' business days (the rollup rebuilds)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import CommandError, CommandParser

from backroom.org.models import Site


def add_day_range_arguments(parser: CommandParser) -> None:
    parser.add_argument(
        "--site", action="append", default=[], help="site code (repeat; default: all)"
    )
    parser.add_argument("--from", dest="date_from", required=True, help="first business date")
    parser.add_argument("--to", dest="date_to", required=True, help="last business date")
    parser.add_argument("--check", action="store_true", help="report only, change nothing")


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def day_range(options: dict[str, Any], *, max_days: int) -> tuple[dt.date, dt.date]:
    """The --from/--to business dates, in order and at most `max_days` apart."""
    date_from, date_to = _date(options["date_from"]), _date(options["date_to"])
    if date_to < date_from:
        raise CommandError("--to is before --from")
    if (date_to - date_from).days >= max_days:
        raise CommandError(f"at most {max_days} days at a time")
    return date_from, date_to


def site_ids(options: dict[str, Any]) -> list[int] | None:
    """The sites named by --site codes (None: every site); unknown codes are an error."""
    if not options["site"]:
        return None
    codes = set(options["site"])
    found = dict(Site.objects.filter(node__code__in=codes).values_list("node__code", "pk"))
    missing = sorted(codes - set(found))
    if missing:
        raise CommandError(f"unknown site code(s): {', '.join(missing)}")
    return sorted(found.values())
