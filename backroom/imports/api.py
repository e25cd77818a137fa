"""Imports API: importers and their templates, uploads, mapping, dry run, apply (in the
worker, with progress), error workbooks and exports."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import File, Path, Query, Router, Status
from ninja.files import UploadedFile

from backroom.config.api_support import ObjectId, errors
from backroom.imports import selectors, services
from backroom.imports.importers import IMPORTERS
from backroom.imports.models import ImportJob
from backroom.imports.schemas import ColumnMappingIn, ImporterOut, ImportJobListOut, ImportJobOut
from backroom.kernel.spreadsheets import cell_text
from backroom.web.exports import XLSX, download

router = Router(tags=["imports"])
WRITE_ERRORS = errors(403, 404, 409)
FILE_RESPONSE = {
    "responses": {
        200: {
            "description": "A workbook (.xlsx) or CSV file",
            "content": {XLSX: {}, "text/csv": {}},
        }
    }
}


def importer_out(kind: str) -> dict[str, Any]:
    importer = IMPORTERS[kind]
    return {
        "kind": kind,
        "label": str(importer.label),
        "description": str(importer.description),
        "columns": [
            {
                "key": column.key,
                "english": column.english,
                "chinese": column.chinese,
                "type": column.type,
                "required": column.required,
                "example": cell_text(column.example),
                "help": str(column.help),
            }
            for column in importer.columns
        ],
    }


@router.get("/importers", response={200: list[ImporterOut], **errors()})
def list_importers(request: HttpRequest) -> list[dict[str, Any]]:
    """The importers the caller may use, each with its columns (English and Chinese headers,
    type, required, example)."""
    return [importer_out(kind) for kind in selectors.importers_for(request.user)]


@router.get(
    "/importers/{kind}/template",
    response={200: None, **errors(403, 404)},
    openapi_extra=FILE_RESPONSE,
)
def get_template(request: HttpRequest, kind: Path[str]) -> HttpResponse:
    """A workbook to fill in: the header (required columns marked *), a sample row and an
    instructions sheet, in the caller's language."""
    return download(services.template_workbook(kind, actor=request.user), f"{kind}-template.xlsx")


@router.get(
    "/importers/{kind}/export",
    response={200: None, **errors(403, 404)},
    openapi_extra=FILE_RESPONSE,
)
def export(request: HttpRequest, kind: Path[str], format: Query[str] = "xlsx") -> HttpResponse:
    """What exists in the caller's scope, in the importer's columns (`format` xlsx or csv):
    edit it and import it again."""
    file_type = "csv" if format == "csv" else "xlsx"
    data = services.export_file(kind, actor=request.user, file_type=file_type)
    return download(data, f"{kind}.{file_type}")


@router.post("/importers/{kind}/uploads", response={201: ImportJobOut, **WRITE_ERRORS})
def upload(request: HttpRequest, kind: Path[str], file: File[UploadedFile]) -> Status:
    """Upload a file (multipart `file`: .xlsx, or CSV in UTF-8 or GBK; at most 50 MB). 201
    with the job: its header row, headers and the proposed `mapping` (column position → field;
    your remembered choices first). 422 `unsupported_file` (an old .xls, a password-protected
    workbook, not a spreadsheet) or `empty_file`."""
    data = file.read(services.MAX_FILE_BYTES + 1)
    job = services.upload_import(kind, file.name or "", data, actor=request.user)
    return Status(201, job)


@router.get("/jobs", response={200: list[ImportJobListOut], **errors()})
def list_jobs(request: HttpRequest) -> Any:
    """The caller's imports, newest first (the last 100)."""
    return selectors.jobs_for(request.user)[:100]


@router.get("/jobs/{job_id}", response={200: ImportJobOut, **errors(404)})
def get_job(request: HttpRequest, job_id: Path[ObjectId]) -> ImportJob:
    """An import: status, progress (`checked_rows`/`applied_rows` of `total_rows`), counts,
    every problem (up to 2,000; `problem_count` counts all) and the changes it made."""
    return selectors.get_job(request.user, job_id)


@router.put("/jobs/{job_id}/mapping", response={200: ImportJobOut, **WRITE_ERRORS})
def put_mapping(
    request: HttpRequest, job_id: Path[ObjectId], payload: ColumnMappingIn
) -> ImportJob:
    """Map the file's columns: `{"0": "store_code", "3": ""}` (position → field, "" ignores
    it). 422 `invalid_mapping` lists every problem; the choice is remembered for your next
    file of this importer."""
    job = selectors.get_job(request.user, job_id)
    return services.set_mapping(job, payload.mapping, actor=request.user)


@router.post("/jobs/{job_id}/check", response={202: ImportJobOut, **WRITE_ERRORS})
def check(request: HttpRequest, job_id: Path[ObjectId]) -> Status:
    """A dry run in the worker: every row and every rule across rows checked, nothing changed.
    Poll the job: `checked` or `invalid` with its problems."""
    job = selectors.get_job(request.user, job_id)
    return Status(202, services.request_run(job, actor=request.user, apply=False))


@router.post("/jobs/{job_id}/apply", response={202: ImportJobOut, **WRITE_ERRORS})
def apply(request: HttpRequest, job_id: Path[ObjectId]) -> Status:
    """Check the file again and, without a single problem, apply it in the worker in chunks
    (each committed with the job's progress). Poll the job: `applied` with its counts and
    changes, `invalid`, or `failed` (fix the cause and apply again: it resumes)."""
    job = selectors.get_job(request.user, job_id)
    return Status(202, services.request_run(job, actor=request.user, apply=True))


@router.get(
    "/jobs/{job_id}/errors",
    response={200: None, **errors(404)},
    openapi_extra=FILE_RESPONSE,
)
def error_file(request: HttpRequest, job_id: Path[ObjectId]) -> HttpResponse:
    """The uploaded rows with a problems column (.xlsx): fix them and upload it again."""
    job = selectors.get_job(request.user, job_id)
    name = job.file_name.rsplit(".", 1)[0]
    return download(services.error_workbook(job, actor=request.user), f"{name}-problems.xlsx")
