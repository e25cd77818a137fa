"""`backroom check-ledgers`: compare every ledger projection and chain with its source rows."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from backroom.config.ledger_checks import run_ledger_checks


class Command(BaseCommand):
    help = "Run every registered ledger check; exit 1 when any reports a difference."

    def handle(self, *args: Any, **options: Any) -> None:
        outcomes = run_ledger_checks()
        failed = [outcome for outcome in outcomes if not outcome.is_consistent]
        for outcome in failed:
            for difference in outcome.differences:
                self.stderr.write(f"{outcome.name}: {difference}")
        if failed:
            raise CommandError(
                f"{len(outcomes)} checks, {len(failed)} with differences: "
                + ", ".join(outcome.name for outcome in failed),
                returncode=1,
            )
        self.stdout.write(f"{len(outcomes)} checks, all consistent")
