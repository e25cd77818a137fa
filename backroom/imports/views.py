"""Import pages: the importers (templates, exports, upload), and one import's page: map the
columns, check (a dry run), see every problem and download them in a workbook, apply with
progress, see what changed."""

from __future__ import annotations

from itertools import islice
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied as HttpForbidden
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from backroom.accounts.permissions import ORG_MANAGE
from backroom.imports import selectors, services
from backroom.imports.importers import IMPORTERS
from backroom.imports.models import RUNNING, ImportJob, ImportStatus
from backroom.imports.permissions import IMPORTS_USE
from backroom.imports.sample_pack import sample_pack_zip
from backroom.imports.services.engine import header_label, open_job_sheet
from backroom.kernel.exceptions import DomainError, ValidationFailed
from backroom.kernel.spreadsheets import cell_text
from backroom.web.errors import page
from backroom.web.exports import download
from backroom.web.rendering import render_page

SHOWN_PROBLEMS = 500
SAMPLE_ROWS = 3


@page(IMPORTS_USE)
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    importers = [IMPORTERS[kind] for kind in selectors.importers_for(request.user)]
    return render_page(
        request,
        "imports/index.html",
        {
            "title": _("Imports and exports"),
            "importers": importers,
            "jobs": selectors.jobs_for(request.user).select_related("created_by")[:20],
            "max_mb": services.MAX_FILE_BYTES >> 20,
            "sample_pack": request.user.has_scoped_permission(ORG_MANAGE),  # type: ignore[union-attr]
        },
    )


@page(IMPORTS_USE)
@require_POST
def upload(request: HttpRequest, kind: str) -> HttpResponse:
    file = request.FILES.get("file")
    if file is None:
        messages.error(request, _("Choose the file to import."))
        return redirect("imports:index")
    try:
        job = services.upload_import(
            kind, file.name or "", file.read(services.MAX_FILE_BYTES + 1), actor=request.user
        )
    except DomainError as error:
        if error.http_status in (403, 404):
            raise
        messages.error(request, f"{file.name}: {error.message}")
        return redirect("imports:index")
    return redirect("imports:job", job.pk)


@page(IMPORTS_USE)
@require_GET
def sample_pack(request: HttpRequest) -> HttpResponse:
    """The sample migration pack (a small fictional chain), for HQ administrators to try."""
    if not request.user.has_scoped_permission(ORG_MANAGE):  # type: ignore[union-attr]
        raise HttpForbidden()
    response = HttpResponse(sample_pack_zip(), content_type="application/zip")
    response["Content-Disposition"] = 'attachment; filename="lotus-dumpling-house-pack.zip"'
    response["Cache-Control"] = "private, no-store"
    return response


@page(IMPORTS_USE)
@require_GET
def template(request: HttpRequest, kind: str) -> HttpResponse:
    return download(services.template_workbook(kind, actor=request.user), f"{kind}-template.xlsx")


@page(IMPORTS_USE)
@require_GET
def export(request: HttpRequest, kind: str) -> HttpResponse:
    """What exists in the user's scope, in the importer's columns; the list page's filters kept
    where the importer names them (`export_filters`)."""
    file_type = "csv" if request.GET.get("format") == "csv" else "xlsx"
    data = services.export_file(kind, actor=request.user, file_type=file_type, filters=request.GET)
    return download(data, f"{kind}.{file_type}")


def _mapping_rows(job: ImportJob, errors: dict[str, list[str]]) -> list[dict[str, Any]]:
    importer = IMPORTERS[job.kind]
    samples: list[list[Any]] = []
    try:
        sheet = open_job_sheet(job, importer)
        rows = ((number, cells) for number, cells in sheet.rows() if number > job.header_row)
        samples = [cells for _number, cells in islice(rows, SAMPLE_ROWS)]
    except DomainError:
        pass
    return [
        {
            "index": str(index),
            "header": header_label(index, name),
            "field": job.mapping.get(str(index), ""),
            "samples": [
                text for row in samples if index < len(row) and (text := cell_text(row[index]))
            ],
            "errors": errors.get(str(index), []),
        }
        for index, name in enumerate(job.headers)
    ]


def _job_context(job: ImportJob) -> dict[str, Any]:
    importer = IMPORTERS[job.kind]
    return {
        "job": job,
        "importer": importer,
        "running": job.status in RUNNING,
        "problems": job.problems[:SHOWN_PROBLEMS],
        "more_problems": max(0, job.problem_count - SHOWN_PROBLEMS),
        "file_problems": [problem for problem in job.problems if problem["row"] is None],
    }


@page(IMPORTS_USE)
@require_http_methods(["GET", "POST"])
def job_page(request: HttpRequest, job_id: int) -> HttpResponse:
    """One import. POST saves the mapping and queues a dry run (`check`) or an apply."""
    job = selectors.get_job(request.user, job_id)
    importer = IMPORTERS[job.kind]
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "check")
        try:
            if "mapping" in request.POST:
                mapping = {
                    str(index): request.POST.get(f"column-{index}", "")
                    for index in range(len(job.headers))
                }
                job = services.set_mapping(job, mapping, actor=request.user)
            services.request_run(job, actor=request.user, apply=action == "apply")
            return redirect("imports:job", job.pk)
        except ValidationFailed as error:
            errors = error.errors
            status = 422
        except DomainError as error:
            if error.http_status in (403, 404):
                raise
            messages.error(request, error.message)
            return redirect("imports:job", job.pk)
    context = _job_context(job)
    show_mapping = job.status in (ImportStatus.UPLOADED, ImportStatus.INVALID) or bool(errors)
    polled = request.headers.get("HX-Request") == "true"
    context.update(
        {
            "title": f"{importer.label}: {job.file_name}",
            "columns": importer.columns,
            # The sample values come from the file: read it for the form, not for each poll.
            "mapping_rows": _mapping_rows(job, errors) if show_mapping and not polled else [],
            "missing": [
                message
                for key, messages in errors.items()
                if not key.isdigit()
                for message in messages
            ],
            "show_mapping": show_mapping,
        }
    )
    response = render_page(request, "imports/job.html", context, partial="progress", status=status)
    if polled and job.status not in RUNNING:
        response["HX-Refresh"] = "true"  # done: show the whole page (problems, changes)
    return response


@page(IMPORTS_USE)
@require_GET
def errors_file(request: HttpRequest, job_id: int) -> HttpResponse:
    job = selectors.get_job(request.user, job_id)
    name = job.file_name.rsplit(".", 1)[0]
    return download(services.error_workbook(job, actor=request.user), f"{name}-problems.xlsx")
