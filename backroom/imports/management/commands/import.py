"""`backroom import KIND FILE [--dry-run] [--user USERNAME]`: a spreadsheet (.xlsx, or CSV in
UTF-8 or GBK) through an importer, as the import page takes it; its columns are matched by
their headers (English or Chinese, or the user's remembered choices).

    backroom import items items.xlsx --dry-run
    backroom import opening_stock stock.csv --user ops01

Kinds: stores, users, items, recipes, suppliers, prices, opening_stock. Runs in this process
(a crash leaves the import to be resumed by the worker). Exit codes: 0 applied (or, on a dry
run, no problems); 2 the file's problems, each printed with its row and column, and nothing
changed (also: no such file, kind or user); 1 any other refusal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from backroom.imports.importers import IMPORTERS
from backroom.imports.management.commands._common import INVALID_INPUT, acting_user, check_kind
from backroom.imports.models import ImportStatus
from backroom.imports.services import MAX_FILE_BYTES, import_file
from backroom.kernel.exceptions import DomainError


class Command(BaseCommand):
    help = "Import a spreadsheet of master data or opening balances (checked in full first)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", help="the importer: " + ", ".join(IMPORTERS))
        parser.add_argument("file", help="the .xlsx or CSV file")
        parser.add_argument("--dry-run", action="store_true", help="check only, change nothing")
        parser.add_argument("--user", help="import as this user (default: the first superuser)")

    def handle(self, *args: Any, **options: Any) -> None:
        kind = options["kind"]
        check_kind(kind)
        user = acting_user(options["user"])
        path = Path(options["file"])
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_FILE_BYTES + 1)
        except OSError as error:
            raise CommandError(
                _("%(path)s: %(error)s") % {"path": path, "error": error.strerror or error},
                returncode=INVALID_INPUT,
            ) from None
        try:
            job = import_file(kind, path.name, data, actor=user, dry_run=options["dry_run"])
        except DomainError as error:
            code = INVALID_INPUT if error.http_status == 422 else 1
            fields = getattr(error, "errors", None) or {}
            details = "".join(
                f"\n  {field}: {message}"
                for field, messages in fields.items()
                for message in messages
            )
            raise CommandError(f"{error.code}: {error.message}{details}", returncode=code) from None
        if job.status == ImportStatus.INVALID:
            self.stderr.write(
                _("%(path)s has %(count)s problems; nothing was changed:")
                % {"path": path, "count": job.problem_count}
            )
            for problem in job.problems:
                where = _("row %(row)s") % {"row": problem["row"]} if problem["row"] else _("file")
                column = f", {problem['column']}" if problem["column"] else ""
                self.stderr.write(f"  {where}{column}: {problem['message']} [{problem['code']}]")
            raise CommandError(_("import refused"), returncode=INVALID_INPUT)
        if job.status == ImportStatus.FAILED:
            raise CommandError(job.error, returncode=1)
        if job.status == ImportStatus.CHECKED:
            self.stdout.write(
                _("%(path)s: %(count)s rows checked, no problems (dry run: nothing changed).")
                % {"path": path, "count": job.total_rows}
            )
            return
        self.stdout.write(
            _(
                "%(path)s: %(count)s rows: %(created)s created, %(updated)s updated, "
                "%(unchanged)s unchanged (import %(job)s)."
            )
            % {
                "path": path,
                "count": job.total_rows,
                "created": job.created_count,
                "updated": job.updated_count,
                "unchanged": job.unchanged_count,
                "job": job.pk,
            }
        )
