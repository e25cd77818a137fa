"""`backroom rebuild-dashboard-rollups`: recompute the daily stock rollups from the ledger,
report what differed and fix it (`--check`: report only, exit 1 on differences)."""

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backroom.dashboards.rollups import MAX_DAYS, rebuild_stock_days
from backroom.org.models import Site


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD)") from None


class Command(BaseCommand):
    help = (
        "Recompute the daily stock rollups (flows and stock value per store and business day) "
        "from the stock ledger; list the differences and fix them (with --check, only list "
        "them and exit 1)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--site", action="append", default=[], help="site code (repeat; default: all)"
        )
        parser.add_argument("--from", dest="date_from", required=True, help="first business date")
        parser.add_argument("--to", dest="date_to", required=True, help="last business date")
        parser.add_argument("--check", action="store_true", help="report only, change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        date_from, date_to = _date(options["date_from"]), _date(options["date_to"])
        if date_to < date_from:
            raise CommandError("--to is before --from")
        if (date_to - date_from).days >= MAX_DAYS:
            raise CommandError(f"at most {MAX_DAYS} days at a time")
        site_ids = None
        if options["site"]:
            codes = set(options["site"])
            found = dict(Site.objects.filter(node__code__in=codes).values_list("node__code", "pk"))
            missing = sorted(codes - set(found))
            if missing:
                raise CommandError(f"unknown site code(s): {', '.join(missing)}")
            site_ids = sorted(found.values())
        result = rebuild_stock_days(
            site_ids=site_ids, date_from=date_from, date_to=date_to, fix=not options["check"]
        )
        for difference in result.differences:
            self.stderr.write(difference)
        summary = f"{result.store_days} store-days, {len(result.differences)} differences"
        if options["check"] and result.differences:
            raise CommandError(summary, returncode=1)
        if result.differences:
            summary += " (fixed)"
        self.stdout.write(summary)
