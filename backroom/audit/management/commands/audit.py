"""`backroom audit verify`: walk the audit hash chain and report the first broken entry."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backroom.audit.services import verify_audit_chain


class Command(BaseCommand):
    help = "Audit log tools."

    def add_arguments(self, parser: CommandParser) -> None:
        subcommands = parser.add_subparsers(dest="subcommand", required=True)
        subcommands.add_parser(
            "verify",
            help="Check that no entry was edited, deleted or inserted out of chain.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["subcommand"] == "verify":
            self.verify()

    def verify(self) -> None:
        result = verify_audit_chain()
        if not result.is_valid:
            self.stderr.write(f"Audit chain broken after {result.checked} good entries.")
            self.stderr.write(f"First bad entry: #{result.first_bad_id}")
            raise CommandError(result.problem, returncode=1)
        self.stdout.write(f"Audit chain intact: {result.checked} entries checked.")
