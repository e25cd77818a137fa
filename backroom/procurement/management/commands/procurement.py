"""`backroom procurement import-invoices FILE --user USERNAME [--dry-run] [--queue-unknown-po]`:
supplier invoices from a CSV or .xlsx file, as the import page and API take them.

    backroom procurement import-invoices invoices.csv --user finance01 --dry-run

Exit codes: 0 imported (or, on a dry run, importable); 2 bad input — the file's problems (each
printed with its row and column), no such file or user — and nothing written; 1 any other
refusal (the user may not enter invoices). See docs/procurement.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from backroom.kernel.exceptions import DomainError
from backroom.procurement.services import import_invoices
from backroom.procurement.services.invoice_import import MAX_FILE_BYTES

INVALID_INPUT = 2


class Command(BaseCommand):
    help = "Procurement tools: import supplier invoices from a file."

    def add_arguments(self, parser: CommandParser) -> None:
        subcommands = parser.add_subparsers(dest="subcommand", required=True)
        sub = subcommands.add_parser(
            "import-invoices",
            help="Import supplier invoices (CSV or .xlsx, one row per line); all or nothing.",
        )
        sub.add_argument("file", help="the CSV or .xlsx file")
        sub.add_argument("--user", required=True, help="import as this user (audited)")
        sub.add_argument(
            "--dry-run", action="store_true", help="check the file, show what it would create"
        )
        sub.add_argument(
            "--queue-unknown-po",
            action="store_true",
            help="keep invoices naming an unknown PO in the review queue instead of refusing",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["subcommand"] == "import-invoices":
            self.import_invoices(options)

    def import_invoices(self, options: dict[str, Any]) -> None:
        path = Path(options["file"])
        user = get_user_model().objects.filter(username=options["user"], is_active=True).first()
        if user is None:
            raise CommandError(
                _("%(user)s: no such active user") % {"user": options["user"]},
                returncode=INVALID_INPUT,
            )
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_FILE_BYTES + 1)
        except OSError as error:
            raise CommandError(
                _("%(path)s: %(error)s") % {"path": path, "error": error.strerror or error},
                returncode=INVALID_INPUT,
            ) from None
        try:
            result = import_invoices(
                data,
                path.name,
                actor=user,
                dry_run=options["dry_run"],
                queue_unknown_po=options["queue_unknown_po"],
            )
        except DomainError as error:
            problems = error.details.get("problems") if isinstance(error.details, dict) else None
            if not problems:
                raise CommandError(f"{error.code}: {error.message}") from None
            self.stderr.write(_("%(path)s has problems:") % {"path": path})
            for problem in problems:
                details = problem.get("details") or {}
                where = ", ".join(
                    part
                    for part in (
                        _("row %(row)s") % {"row": details["row"]} if details.get("row") else "",
                        str(details.get("column") or ""),
                    )
                    if part
                )
                self.stderr.write(f"  {where or '-'}: {problem['message']} [{problem['code']}]")
            raise CommandError(_("nothing was written"), returncode=INVALID_INPUT) from None
        for invoice in result.invoices:
            self.stdout.write(
                f"{invoice.supplier_code} {invoice.invoice_number} "
                f"{invoice.purchase_order_number or '-'} {invoice.status} "
                f"{invoice.total_amount:f} {invoice.currency} "
                f"({invoice.line_count})"
            )
        summary = _(
            "%(count)s invoices, %(lines)s lines: %(payable)s payable, %(review)s in review"
        ) % {
            "count": result.invoice_count,
            "lines": result.line_count,
            "payable": result.payable_count,
            "review": result.in_review_count,
        }
        if result.dry_run:
            summary = _("dry run, nothing written: %(summary)s") % {"summary": summary}
        self.stdout.write(summary)
