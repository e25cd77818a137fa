"""Imports: upload a file, map its headers to fields, check it (a dry run), apply it in the
worker with progress, resume a run the worker lost; template workbooks, error workbooks and
exports in the same columns. Pages, API and CLI call these."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from backroom.audit.services import record_audit
from backroom.imports.columns import header_key
from backroom.imports.exceptions import (
    ImportNotReady,
    MappingInvalid,
    UnknownImporter,
)
from backroom.imports.importers import IMPORTERS
from backroom.imports.importers.base import Importer
from backroom.imports.models import RUNNING, ImportJob, ImportMapping, ImportStatus
from backroom.imports.services.engine import (
    claim,
    header_label,
    open_job_sheet,
    run_job,
    sha256,
)
from backroom.kernel.exceptions import NotFound, PermissionDenied
from backroom.kernel.spreadsheets import (
    EmptySheet,
    UnreadableSheet,
    cell_text,
    open_sheet,
    write_csv,
    write_xlsx,
)

MAX_FILE_BYTES = 50 * 1024 * 1024
STALE_AFTER = dt.timedelta(minutes=2)
HEADER_SCAN_ROWS = 10

__all__ = [
    "MAX_FILE_BYTES",
    "error_workbook",
    "export_file",
    "get_importer",
    "import_file",
    "request_run",
    "resume_stalled_imports",
    "run_job",
    "set_mapping",
    "template_workbook",
    "upload_import",
]


def get_importer(kind: str, actor: Any) -> type[Importer]:
    """The importer of this kind, if the actor may use it (404 when unknown, 403 when not)."""
    importer = IMPORTERS.get(kind)
    if importer is None:
        raise UnknownImporter(details={"kind": kind})
    if not importer.allowed(actor):
        raise PermissionDenied()
    return importer


# --- upload and mapping ---------------------------------------------------------------------


def upload_import(kind: str, file_name: str, data: bytes, *, actor: Any) -> ImportJob:
    """Keep the file, find its header row and propose a mapping: the user's remembered choices
    for these headers first, then the columns' accepted names. Refuses what cannot be read."""
    importer = get_importer(kind, actor)
    if len(data) > MAX_FILE_BYTES:
        raise UnreadableSheet(
            _("The file is larger than %(size)s MB: split it into smaller files.")
            % {"size": MAX_FILE_BYTES >> 20}
        )
    sheet = open_sheet(data, known_header=lambda name: importer.match_header(name) is not None)
    head = []
    for number, cells in sheet.rows():
        head.append((number, cells))
        if len(head) >= HEADER_SCAN_ROWS:
            break
    if not head:
        raise EmptySheet()
    header_number, header = _header_row(importer, head)
    remembered = (
        ImportMapping.objects.filter(user=actor, kind=kind)
        .values_list("headers", flat=True)
        .first()
        or {}
    )
    headers = [cell_text(cell) for cell in header]
    while headers and not headers[-1]:
        headers.pop()
    mapping = propose_mapping(importer, headers, remembered)
    with transaction.atomic():
        job = ImportJob(
            kind=kind,
            created_by=actor,
            file_name=file_name[:255] or "upload",
            file_type=sheet.file_type,
            file_sha256=sha256(data),
            header_row=header_number,
            headers=headers,
            mapping=mapping,
        )
        job.file.save(
            f"{kind}-{job.file_sha256[:12]}.{sheet.file_type}", ContentFile(data), save=False
        )
        job.save()
        record_audit(
            actor=actor,
            action="imports.upload",
            target=job,
            after={"kind": kind, "file_name": job.file_name, "sha256": job.file_sha256},
        )
    return job


def _header_row(
    importer: type[Importer], head: list[tuple[int, list[Any]]]
) -> tuple[int, list[Any]]:
    """The first of the first rows naming the most known columns (a title above the table is
    skipped); the first row when none names any."""
    best, found = head[0], 0
    for number, cells in head:
        known = len({column.key for cell in cells if (column := importer.match_header(cell))})
        if known > found:
            best, found = (number, cells), known
    return best


def propose_mapping(
    importer: type[Importer], headers: list[str], remembered: dict[str, str]
) -> dict[str, str]:
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    known = {column.key for column in importer.columns}
    for index, name in enumerate(headers):
        key = header_key(name)
        if not key:
            continue
        if key in remembered and (remembered[key] in known or remembered[key] == ""):
            field = remembered[key]
        else:
            column = importer.match_header(name)
            field = column.key if column else ""
        if field and field in taken:
            field = ""
        if field:
            taken.add(field)
        mapping[str(index)] = field
    return mapping


def set_mapping(job: ImportJob, mapping: dict[str, str], *, actor: Any) -> ImportJob:
    """Map the file's columns (position → field, "" to ignore); every problem at once. The
    choices are remembered for the user's next file of this importer."""
    importer = _own_job(job, actor)
    if job.status in RUNNING:
        raise ImportNotReady(_("The file is being processed: wait until it is done."))
    if job.status == ImportStatus.APPLIED:
        raise ImportNotReady(_("This file has been applied: upload it again to re-import it."))
    known = {column.key for column in importer.columns}
    errors: dict[str, list[str]] = {}
    clean: dict[str, str] = {}
    used: dict[str, str] = {}
    for index, field in mapping.items():
        if not str(index).isdigit() or int(index) >= len(job.headers):
            errors.setdefault(str(index), []).append(_("The file has no such column."))
            continue
        name = header_label(int(index), job.headers[int(index)])
        if field and field not in known:
            errors.setdefault(str(index), []).append(
                _("“%(field)s” is not a field of this importer.") % {"field": field}
            )
            continue
        if field and field in used:
            errors.setdefault(str(index), []).append(
                _("“%(first)s” and “%(second)s” are both mapped to the %(column)s.")
                % {"first": used[field], "second": name, "column": importer.column(field).label}
            )
            continue
        if field:
            used[field] = name
        clean[str(int(index))] = field
    for column in importer.columns:
        if column.required and column.key not in used:
            errors.setdefault(column.key, []).append(
                _("Choose the column that holds the %(column)s.") % {"column": column.label}
            )
    if errors:
        raise MappingInvalid(errors)
    with transaction.atomic():
        job.mapping = clean
        job.status = ImportStatus.UPLOADED
        job.problems, job.problem_count = [], 0
        job.save(update_fields=["mapping", "status", "problems", "problem_count", "updated_at"])
        remembered = {
            header_key(job.headers[int(index)]): field
            for index, field in clean.items()
            if header_key(job.headers[int(index)])
        }
        ImportMapping.objects.update_or_create(
            user=actor, kind=job.kind, defaults={"headers": remembered}
        )
    return job


# --- running --------------------------------------------------------------------------------


def request_run(job: ImportJob, *, actor: Any, apply: bool) -> ImportJob:
    """Queue a check (a dry run) or a check followed by the apply. A failed apply may be run
    again after its cause is fixed: it resumes at its cursor."""
    _own_job(job, actor)
    if job.status in RUNNING:
        raise ImportNotReady(_("The file is being processed: wait until it is done."))
    if job.status == ImportStatus.APPLIED:
        raise ImportNotReady(_("This file has been applied already."))
    with transaction.atomic():
        ImportJob.objects.filter(pk=job.pk).update(apply_requested=apply)
        job.apply_requested = apply
        token = claim(job, ImportStatus.CHECKING)
        if apply:
            record_audit(
                actor=actor,
                action="imports.apply",
                target=job,
                after={"kind": job.kind, "file_name": job.file_name},
            )
        transaction.on_commit(lambda: _enqueue(job.pk, token))
    job.refresh_from_db()
    return job


def _enqueue(job_id: int, token: str) -> None:
    from backroom.imports.jobs import run_import

    run_import(job_id, token)


def resume_stalled_imports(now: dt.datetime | None = None) -> list[int]:
    """Runs whose worker stopped answering (killed, restarted): each is queued again under a
    new token and resumes where its last committed chunk left it."""
    limit = (now or timezone.now()) - STALE_AFTER
    resumed = []
    for job in ImportJob.objects.filter(status__in=RUNNING, heartbeat_at__lt=limit):
        with transaction.atomic():
            token = claim(job, job.status)
            transaction.on_commit(partial(_enqueue, job.pk, token))
        resumed.append(job.pk)
    return resumed


def import_file(
    kind: str,
    file_name: str,
    data: bytes,
    *,
    actor: Any,
    dry_run: bool,
    mapping: dict[str, str] | None = None,
) -> ImportJob:
    """Upload, map (as proposed unless given) and run in this process: the CLI's path."""
    job = upload_import(kind, file_name, data, actor=actor)
    set_mapping(job, mapping if mapping is not None else dict(job.mapping), actor=actor)
    ImportJob.objects.filter(pk=job.pk).update(apply_requested=not dry_run)
    job.apply_requested = not dry_run
    token = claim(job, ImportStatus.CHECKING)
    return run_job(job.pk, token) or job


def _own_job(job: ImportJob, actor: Any) -> type[Importer]:
    importer = get_importer(job.kind, actor)
    if job.created_by_id != getattr(actor, "pk", None) and not getattr(
        actor, "is_superuser", False
    ):
        raise NotFound()
    return importer


# --- workbooks ------------------------------------------------------------------------------


def template_workbook(kind: str, *, actor: Any) -> bytes:
    """A workbook to fill in: the data sheet's header (required columns marked *) and a sample
    row; an instructions sheet describing each column."""
    importer = get_importer(kind, actor)
    header = [column.header() + (" *" if column.required else "") for column in importer.columns]
    sample = importer.sample()
    instructions: list[list[Any]] = [
        [str(importer.description)],
        [_("Columns marked * are required. Keep the header row; delete the sample row.")],
        [_("Codes are text: format code columns as text so that leading zeros stay.")],
        [],
        [_("Column"), _("Required"), _("Type"), _("Example"), _("Notes")],
    ]
    for column in importer.columns:
        instructions.append(
            [
                column.header(),
                _("yes") if column.required else _("no"),
                column.type_label(),
                cell_text(column.example),
                str(column.help),
            ]
        )
    return write_xlsx(
        [
            (_("Data"), header, [[sample.get(column.key) for column in importer.columns]]),
            (_("Instructions"), [str(importer.label)], instructions),
        ],
        text_columns={_("Data"): _text_positions(importer)},
    )


def _text_positions(importer: type[Importer]) -> set[int]:
    from backroom.imports.columns import CODE

    return {index for index, column in enumerate(importer.columns) if column.type == CODE}


def export_file(
    kind: str, *, actor: Any, file_type: str = "xlsx", filters: Mapping[str, str] | None = None
) -> bytes:
    """What exists, in the importer's columns: export → edit → import round-trips. `filters`:
    the list page's query, of which the importer keeps its `export_filters`."""
    from backroom.imports.columns import export_value

    importer_class = get_importer(kind, actor)
    importer = importer_class(actor)
    importer.keep_filters(filters or {})
    header = [column.header() for column in importer_class.columns]
    rows = (
        [export_value(column, values.get(column.key)) for column in importer_class.columns]
        for values in importer.export()
    )
    if file_type == "csv":
        return write_csv(header, rows)
    return write_xlsx(
        [(str(importer_class.label), header, rows)],
        text_columns={str(importer_class.label): _text_positions(importer_class)},
    )


def error_workbook(job: ImportJob, *, actor: Any) -> bytes:
    """The file's rows as uploaded, with a problems column: fix them and upload it again."""
    importer = _own_job(job, actor)
    by_row: dict[int, list[str]] = {}
    for problem in job.problems:
        if problem["row"] is not None:
            where = problem.get("column") or problem.get("field") or ""
            text = f"{where}: {problem['message']}" if where else problem["message"]
            by_row.setdefault(problem["row"], []).append(text)
    sheet = open_job_sheet(job, importer)
    width = len(job.headers)

    def rows() -> Iterable[list[Any]]:
        for number, cells in sheet.rows():
            if number <= job.header_row:
                continue
            cells = list(cells[:width]) + [None] * (width - len(cells))
            yield [*cells, "\n".join(by_row.get(number, []))]

    title = _("Problems")
    header = [*job.headers, title]
    return write_xlsx([(str(importer.label), header, rows())])
