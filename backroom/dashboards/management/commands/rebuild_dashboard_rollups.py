"""`backroom rebuild-dashboard-rollups`: recompute the daily stock rollups from the ledger and
the closed months' store figures from the days, report what differed and fix it (`--check`:
report only, exit 1 on differences)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backroom.dashboards.rollups import MAX_DAYS, rebuild_stock_days
from backroom.org.commands import add_day_range_arguments, day_range, site_ids


class Command(BaseCommand):
    help = (
        "Recompute the daily stock rollups (flows and stock value per store and business day) "
        "from the stock ledger, and the closed months' store figures from the days; list the "
        "differences and fix them (with --check, only list them and exit 1)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_day_range_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        date_from, date_to = day_range(options, max_days=MAX_DAYS)
        result = rebuild_stock_days(
            site_ids=site_ids(options),
            date_from=date_from,
            date_to=date_to,
            fix=not options["check"],
        )
        for difference in result.differences:
            self.stderr.write(difference)
        summary = f"{result.store_days} store-days, {len(result.differences)} differences"
        if options["check"] and result.differences:
            raise CommandError(summary, returncode=1)
        if result.differences:
            summary += " (fixed)"
        self.stdout.write(summary)
