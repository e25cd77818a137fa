"""`backroom rebuild-sales-rollups`: recompute the sales rollups from the orders, report what
differed and fix it (`--check`: report only, exit 1 on differences)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backroom.channels.rollups import MAX_DAYS, rebuild_sales
from backroom.org.commands import add_day_range_arguments, day_range, site_ids


class Command(BaseCommand):
    help = (
        "Recompute the sales rollups of business days from the orders; list the differences "
        "and replace the rows that differ (with --check, only list them and exit 1)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_day_range_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        date_from, date_to = day_range(options, max_days=MAX_DAYS)
        result = rebuild_sales(
            site_ids=site_ids(options),
            date_from=date_from,
            date_to=date_to,
            fix=not options["check"],
        )
        for difference in result.differences:
            self.stderr.write(difference)
        summary = (
            f"{result.store_days} store-days, {result.orders} orders, "
            f"{len(result.differences)} differences"
        )
        if options["check"] and result.differences:
            raise CommandError(summary, returncode=1)
        if result.differences:
            summary += " (fixed)"
        self.stdout.write(summary)
