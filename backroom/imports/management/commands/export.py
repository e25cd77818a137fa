"""`backroom export KIND FILE [--user USERNAME]`: what exists, in the importer's columns, to an
.xlsx workbook or (by the file's extension) a CSV file in UTF-8; edit it and import it again.

    backroom export items items.xlsx
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from backroom.imports.importers import IMPORTERS
from backroom.imports.management.commands._common import INVALID_INPUT, acting_user, check_kind
from backroom.imports.services import export_file
from backroom.kernel.exceptions import DomainError


class Command(BaseCommand):
    help = "Export master data or opening balances in the columns the importer reads."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", help="the importer: " + ", ".join(IMPORTERS))
        parser.add_argument("file", help="the file to write: .xlsx or .csv")
        parser.add_argument("--user", help="export as this user (default: the first superuser)")

    def handle(self, *args: Any, **options: Any) -> None:
        kind = options["kind"]
        check_kind(kind)
        user = acting_user(options["user"])
        path = Path(options["file"])
        file_type = "csv" if path.suffix.lower() == ".csv" else "xlsx"
        try:
            data = export_file(kind, actor=user, file_type=file_type)
        except DomainError as error:
            raise CommandError(f"{error.code}: {error.message}", returncode=1) from None
        try:
            path.write_bytes(data)
        except OSError as error:
            raise CommandError(
                _("%(path)s: %(error)s") % {"path": path, "error": error.strerror or error},
                returncode=INVALID_INPUT,
            ) from None
        self.stdout.write(_("%(path)s written.") % {"path": path})
