"""Reading an import's file into typed rows, checking all of them, and applying them in chunks.

Each run of a job (`run_job`) checks the whole file first: every cell typed, duplicate natural
keys refused, the importer's rules applied chunk by chunk and then across the file. Only a file
without a single problem is applied, chunk by chunk, each chunk committed together with the
job's cursor (`applied_rows`). A worker killed mid-file leaves the cursor at the last committed
chunk; the next run checks the file again (what was applied now reads as existing) and goes on
from the cursor, so no row is applied twice and none is lost. A run holds the job's
`worker_token`: a run whose token was replaced stops at its next chunk."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from backroom.imports.columns import Column, Row, read_cell
from backroom.imports.importers.base import CREATED, UNCHANGED, UPDATED, Change, Importer
from backroom.imports.models import ImportJob, ImportStatus
from backroom.imports.problems import Problems
from backroom.kernel.exceptions import DomainError
from backroom.kernel.spreadsheets import Sheet, cell_text, column_letter, is_blank, open_sheet

logger = logging.getLogger(__name__)

MAX_CHANGES_KEPT = 200


class Superseded(Exception):
    """Another run took the job over (the sweeper thought this one dead)."""


def chunked[T](items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def chunked_by_group(
    rows: Iterable[Row], size: int, group: Callable[[Row], Any]
) -> Iterator[list[Row]]:
    """Chunks of about `size` rows that never split a group (a group may exceed `size`)."""
    chunk: list[Row] = []
    current: Any = None
    for row in rows:
        key = group(row)
        if chunk and len(chunk) >= size and (key is None or key != current):
            yield chunk
            chunk = []
        chunk.append(row)
        current = key
    if chunk:
        yield chunk


def ordering(importer: Importer, row: Row) -> tuple[Any, ...]:
    group = importer.group(row)
    return (importer.depth(row), group is not None, str(group or ""), row.number)


def new_token() -> str:
    return uuid.uuid4().hex


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- the file's rows ----------------------------------------------------------------------


def open_job_sheet(job: ImportJob, importer: type[Importer]) -> Sheet:
    with job.file.open("rb") as handle:
        data = handle.read()
    return open_sheet(data, known_header=lambda name: importer.match_header(name) is not None)


def positions(job: ImportJob) -> dict[int, str]:
    return {int(index): key for index, key in job.mapping.items() if key}


def raw_rows(job: ImportJob, sheet: Sheet) -> Iterator[Row]:
    """The data rows below the header, each cell under the field its column is mapped to;
    rows whose mapped cells are all blank are skipped (a notes column, a total line's gap)."""
    mapped = positions(job)
    for number, cells in sheet.rows():
        if number <= job.header_row:
            continue
        raw = {key: cells[index] if index < len(cells) else None for index, key in mapped.items()}
        if all(is_blank(value) for value in raw.values()):
            continue
        yield Row(number, raw)


def typed(rows: Sequence[Row], columns: Sequence[Column], problems: Problems) -> None:
    for row in rows:
        for column in columns:
            if column.key in row.raw or column.required:
                read_cell(row, column, problems)


def mapped_columns(job: ImportJob, importer: type[Importer]) -> list[Column]:
    keys = set(positions(job).values())
    return [column for column in importer.columns if column.key in keys]


def headers_by_field(job: ImportJob) -> dict[str, str]:
    return {
        key: cell_text(job.headers[index]) if index < len(job.headers) else key
        for index, key in positions(job).items()
    }


# --- checking -----------------------------------------------------------------------------


def check_mapping(job: ImportJob, importer: type[Importer], problems: Problems) -> None:
    """Every required column mapped, none twice (file-level problems)."""
    mapped = list(positions(job).values())
    for column in importer.columns:
        if column.required and column.key not in mapped:
            problems.add(
                None,
                column.key,
                "missing_column",
                _("The file has no %(column)s column (its header may be: %(names)s).")
                % {"column": column.label, "names": ", ".join(column.names[:2])},
            )
    for key in {key for key in mapped if mapped.count(key) > 1}:
        problems.add(
            None,
            key,
            "duplicate_column",
            _("Two columns are both the %(column)s: keep one of them.")
            % {"column": importer.column(key).label},
        )


def note_merged_cells(job: ImportJob, sheet: Sheet, problems: Problems) -> None:
    mapped = positions(job)
    for note in sheet.notes:
        if note.kind != "merged":
            continue
        if note.row <= job.header_row <= note.last_row:
            problems.add(
                job.header_row,
                mapped.get(note.column, ""),
                "merged_cells",
                _(
                    "Header cells %(ref)s are merged: unmerge them so that every column has its "
                    "own header, then upload the file again."
                )
                % {"ref": note.ref},
            )
        elif note.row > job.header_row:
            problems.add(
                note.row,
                mapped.get(note.column, ""),
                "merged_cells",
                _(
                    "Cells %(ref)s are merged: only the first keeps its value. Unmerge them and "
                    "fill in every cell."
                )
                % {"ref": note.ref},
            )


def check_job(
    job: ImportJob,
    importer: Importer,
    *,
    on_progress: Callable[[int], None] | None = None,
) -> tuple[Problems, int]:
    """Every problem of the file, and its number of data rows. Changes nothing."""
    kind = type(importer)
    problems = Problems(headers_by_field(job))
    check_mapping(job, kind, problems)
    if problems:
        return problems, 0
    sheet = open_job_sheet(job, kind)
    note_merged_cells(job, sheet, problems)
    columns = mapped_columns(job, kind)
    seen: dict[tuple[Any, ...], int] = {}
    total = 0
    for chunk in chunked(raw_rows(job, sheet), kind.chunk_size):
        typed(chunk, columns, problems)
        for row in chunk:
            key = kind.natural_key(row)
            if key is None:
                continue
            first = seen.setdefault(key, row.number)
            if first != row.number:
                row.ok = False
                problems.add(
                    row.number,
                    kind.key_fields[-1],
                    "duplicate_key",
                    _("Row %(first)s has the same %(columns)s: keep one of the two rows.")
                    % {
                        "first": first,
                        "columns": " + ".join(kind.column(key).label for key in kind.key_fields),
                    },
                )
        importer.check_rows(chunk, problems)
        total += len(chunk)
        if on_progress is not None:
            on_progress(total)
    importer.finish_check(problems)
    if not total and not problems:
        problems.add(None, "", "empty_file", _("The file has no data rows below its header."))
    return problems, total


# --- applying -----------------------------------------------------------------------------


def apply_job(job: ImportJob, importer: Importer, token: str) -> None:
    """Apply the (checked) file from the job's cursor on, a chunk per transaction."""
    kind = type(importer)
    sheet = open_job_sheet(job, kind)
    columns = mapped_columns(job, kind)
    ignored = Problems()
    rows: Iterable[Row] = raw_rows(job, sheet)
    if kind.ordered:
        every = list(rows)
        typed(every, columns, ignored)
        rows = sorted(every, key=lambda row: ordering(importer, row))
    remaining = islice(rows, job.applied_rows, None)
    chunks = (
        chunked_by_group(remaining, kind.chunk_size, importer.group)
        if kind.ordered
        else chunked(remaining, kind.chunk_size)
    )
    for chunk in chunks:
        if not kind.ordered:
            typed(chunk, columns, ignored)
        with transaction.atomic():
            locked = ImportJob.objects.select_for_update().get(pk=job.pk)
            if locked.worker_token != token:
                raise Superseded()
            changes = importer.apply_rows(chunk)
            record_chunk(locked, changes, len(chunk))
        job.applied_rows = locked.applied_rows


def record_chunk(job: ImportJob, changes: list[Change], rows: int) -> None:
    counts = {CREATED: 0, UPDATED: 0, UNCHANGED: 0}
    for change in changes:
        counts[change.action] += 1
    kept = list(job.changes)
    for change in changes:
        if change.action != UNCHANGED and len(kept) < MAX_CHANGES_KEPT:
            kept.append(
                {
                    "row": change.row,
                    "action": change.action,
                    "key": change.key,
                    "fields": change.fields,
                }
            )
    ImportJob.objects.filter(pk=job.pk).update(
        applied_rows=F("applied_rows") + rows,
        created_count=F("created_count") + counts[CREATED],
        updated_count=F("updated_count") + counts[UPDATED],
        unchanged_count=F("unchanged_count") + counts[UNCHANGED],
        changes=kept,
        heartbeat_at=timezone.now(),
    )
    job.refresh_from_db(fields=["applied_rows"])


# --- a run ----------------------------------------------------------------------------------


def claim(job: ImportJob, status: str) -> str:
    """A fresh token for a new run of the job (any older run stops at its next chunk)."""
    token = new_token()
    ImportJob.objects.filter(pk=job.pk).update(
        worker_token=token, status=status, heartbeat_at=timezone.now(), error=""
    )
    job.worker_token, job.status = token, status
    return token


def run_job(job_id: int, token: str) -> ImportJob | None:
    """Check the job's file and, when asked and clean, apply it (the worker's task)."""
    from backroom.imports.importers import IMPORTERS

    job = ImportJob.objects.filter(pk=job_id).select_related("created_by").first()
    if job is None or job.worker_token != token:
        return None  # superseded or gone
    importer_class = IMPORTERS[job.kind]
    actor = job.created_by
    if not importer_class.allowed(actor) or not actor.is_active:
        return finish(job, token, ImportStatus.FAILED, error=_("You may no longer import this."))
    importer = importer_class(actor)
    now = timezone.now()
    ImportJob.objects.filter(pk=job.pk, worker_token=token).update(
        status=ImportStatus.CHECKING, started_at=now, heartbeat_at=now, checked_rows=0
    )

    def progress(done: int) -> None:
        ImportJob.objects.filter(pk=job.pk, worker_token=token).update(
            checked_rows=done, heartbeat_at=timezone.now()
        )

    try:
        problems, total = check_job(job, importer, on_progress=progress)
    except DomainError as error:
        problems, total = Problems(), 0
        problems.add(None, "", error.code, error.message)
    ImportJob.objects.filter(pk=job.pk, worker_token=token).update(
        total_rows=total,
        checked_rows=total,
        problem_count=problems.count,
        problems=[problem.as_dict() for problem in problems.sorted()],
    )
    if problems:
        return finish(job, token, ImportStatus.INVALID)
    job.refresh_from_db()
    if not job.apply_requested:
        return finish(job, token, ImportStatus.CHECKED)
    ImportJob.objects.filter(pk=job.pk, worker_token=token).update(status=ImportStatus.APPLYING)
    try:
        apply_job(job, importer, token)
    except Superseded:
        return None
    except DomainError as error:
        return finish(
            job,
            token,
            ImportStatus.FAILED,
            error=_("Stopped at row %(row)s: %(message)s")
            % {"row": job.applied_rows + 1, "message": error.message},
        )
    return finish(job, token, ImportStatus.APPLIED)


def finish(job: ImportJob, token: str, status: str, *, error: str = "") -> ImportJob:
    ImportJob.objects.filter(pk=job.pk, worker_token=token).update(
        status=status, error=error, finished_at=timezone.now(), heartbeat_at=timezone.now()
    )
    job.refresh_from_db()
    return job


def header_label(index: int, name: Any) -> str:
    """A header for messages: its text, or its column letter when blank."""
    return cell_text(name) or _("column %(letter)s") % {"letter": column_letter(index)}
