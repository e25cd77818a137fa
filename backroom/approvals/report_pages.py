"""The approvals report page and its exports (.xlsx, CSV) (see docs/approvals.md, "Report").

For holders of `approvals.manage` or `approvals.report` (anyone else: 403), over their scope. The
filters are a GET form (period, document type, node, sort), so a report is a link one can share;
the figures come from `reporting.approvals_report`. Bad filters are all shown at once (422).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext as _

from backroom.approvals import reporting
from backroom.approvals.registry import document_types
from backroom.kernel.exceptions import ValidationFailed
from backroom.web.errors import page
from backroom.web.exports import export_format, export_report
from backroom.web.forms import posted_id


def _date(value: str | None) -> tuple[dt.date | None, bool]:
    """(date, readable): an empty value is (None, True)."""
    if not value:
        return None, True
    try:
        return dt.date.fromisoformat(value.strip()), True
    except ValueError:
        return None, False


def _filters(request: HttpRequest) -> tuple[reporting.ReportFilter | None, dict[str, Any]]:
    """The report's filter from the query string, and what the form shows (with errors)."""
    reporting.report_paths(request.user)  # 403 before anything else for those without access
    errors: dict[str, list[str]] = {}
    date_to, readable_to = _date(request.GET.get("date_to"))
    date_from, readable_from = _date(request.GET.get("date_from"))
    if not readable_from:
        errors["date_from"] = [_("Enter a date.")]
    if not readable_to:
        errors["date_to"] = [_("Enter a date.")]
    date_to = date_to or (reporting.default_period()[1] if readable_to else None)
    if date_from is None and readable_from and date_to is not None:
        date_from = reporting.default_period(date_to)[0]
    document_type = request.GET.get("document_type", "").strip()[:64]
    for key, texts in reporting.check_filter(date_from, date_to, document_type).items():
        errors.setdefault(key, [str(text) for text in texts])
    node = None
    node_id = posted_id(request.GET.get("node_id"))
    if node_id is not None:
        node = reporting.get_report_node(request.user, node_id)
    sort = request.GET.get("sort", reporting.DEFAULT_APPROVER_SORT)
    if sort not in reporting.APPROVER_SORTS:
        sort = reporting.DEFAULT_APPROVER_SORT
    form = {
        "date_from": request.GET.get("date_from") or (date_from.isoformat() if date_from else ""),
        "date_to": request.GET.get("date_to") or (date_to.isoformat() if date_to else ""),
        "document_type": document_type,
        "node_id": node.pk if node else None,
        "sort": sort,
        "errors": errors,
    }
    if errors or date_from is None or date_to is None:
        return None, form
    return (
        reporting.ReportFilter(
            date_from=date_from, date_to=date_to, document_type=document_type, node=node, sort=sort
        ),
        form,
    )


def _query(form: dict[str, Any], **changes: Any) -> str:
    values = {
        "date_from": form["date_from"],
        "date_to": form["date_to"],
        "document_type": form["document_type"],
        "node_id": form["node_id"] or "",
        "sort": form["sort"],
        **changes,
    }
    return urlencode({key: value for key, value in values.items() if value})


NUMBERS = {"steps": range(3, 12), "approvers": range(2, 10)}  # tasks … : numbers in a workbook


@page()
def report(request: HttpRequest) -> HttpResponse:
    """Time per policy step, SLA breaches, escalations, automatic decisions and who is slow;
    `?export=xlsx|csv&table=steps|approvers` downloads one of the two tables."""
    filters, form = _filters(request)
    if file_type := export_format(request):
        return _download(request, file_type, filters, form)
    result = None
    if filters is not None:
        try:
            result = reporting.approvals_report(request.user, filters)
        except ValidationFailed as error:
            form["errors"] = {key: [str(t) for t in texts] for key, texts in error.errors.items()}
    columns = [
        ("name", _("Approver")),
        ("tasks", _("Tasks")),
        ("decided", _("Decided")),
        ("average", _("Average")),
        ("median", _("Median")),
        ("breaches", _("Breaches")),
        ("open", _("Open now")),
        ("overdue", _("Overdue now")),
    ]
    return render(
        request,
        "approvals/report.html",
        {
            "title": _("Approvals report"),
            "report": result,
            "form": form,
            "document_types": [(t.code, str(t.label)) for t in document_types()],
            "nodes": reporting.report_nodes(request.user),
            "columns": [
                {
                    "key": key,
                    "label": label,
                    "url": "?" + _query(form, sort=key),
                    "active": form["sort"] == key,
                }
                for key, label in columns
            ],
            "exports": {
                table: {
                    file_type: "?" + _query(form, table=table, export=file_type)
                    for file_type in ("xlsx", "csv")
                }
                for table in ("steps", "approvers")
            },
        },
        status=422 if form["errors"] else 200,
    )


@page()
def report_export(request: HttpRequest) -> HttpResponse:
    """The steps (or, with table=approvers, the approvers) table as CSV: the old address of
    the page's `?export=csv`."""
    filters, form = _filters(request)
    return _download(request, "csv", filters, form)


def _download(
    request: HttpRequest,
    file_type: str,
    filters: reporting.ReportFilter | None,
    form: dict[str, Any],
) -> HttpResponse:
    """The steps or approvers table as .xlsx or CSV, the same rows in both."""
    if filters is None:
        texts = [text for texts in form["errors"].values() for text in texts]
        return HttpResponse(" ".join(texts), status=422, content_type="text/plain; charset=utf-8")
    table = "approvers" if request.GET.get("table") == "approvers" else "steps"
    result = reporting.approvals_report(request.user, filters)
    name = reporting.csv_filename(result, table).removesuffix(".csv")
    return export_report(file_type, name, reporting.csv_rows(result, table), numbers=NUMBERS[table])


urlpatterns = [
    path("report/", report, name="report"),
    path("report/export.csv", report_export, name="report_export"),
]
