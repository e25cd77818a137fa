"""The audit browser: scoped entries, newest first, filtered by GET, refreshed by HTMX."""

import datetime as dt
from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backroom.accounts import permissions
from backroom.audit.models import AuditEntry
from backroom.audit.selectors import EntryFilter, entries_for, get_entry
from backroom.web.errors import page
from backroom.web.exports import Column, export_format, export_table
from backroom.web.forms import AuditFilterForm
from backroom.web.presenters import json_diff
from backroom.web.rendering import render_page

PAGE_SIZE = 50
EXPORT_CHUNK = 2000  # rows fetched at a time while an export streams


def _local(moment: dt.datetime) -> dt.datetime:
    """The moment as the wall-clock time the page shows, without a zone (Excel holds none)."""
    return timezone.localtime(moment).replace(tzinfo=None, microsecond=0)


AUDIT_COLUMNS = [
    Column(gettext_lazy("Time"), lambda entry: _local(entry.occurred_at)),
    Column(gettext_lazy("Actor"), lambda entry: entry.actor_label),
    Column(gettext_lazy("On behalf of"), lambda entry: entry.on_behalf_of_label),
    Column(gettext_lazy("Action"), lambda entry: entry.action),
    Column(gettext_lazy("Object type"), lambda entry: entry.target_type),
    Column(gettext_lazy("Object ID"), lambda entry: entry.target_id),
    Column(gettext_lazy("Object"), lambda entry: entry.target_label),
    Column(
        gettext_lazy("Org node code"), lambda entry: entry.org_node.code if entry.org_node else ""
    ),
    Column(gettext_lazy("Org node"), lambda entry: entry.org_node.name if entry.org_node else ""),
    Column(gettext_lazy("Reason"), lambda entry: entry.reason),
    Column(gettext_lazy("Entry"), lambda entry: entry.pk),
]


def _filter_values(entries: QuerySet[AuditEntry], field: str) -> list[str]:
    """The distinct values of `field` among the visible entries, for the filter selects."""
    return list(entries.order_by(field).values_list(field, flat=True).distinct())


def _entry_filter(data: dict[str, Any]) -> EntryFilter:
    """The form's dates are whole days in the current time zone; the selector takes instants."""
    zone = timezone.get_current_timezone()
    date_from, date_to = data.get("date_from"), data.get("date_to")
    return EntryFilter(
        action=data.get("action") or None,
        target_type=data.get("target_type") or None,
        occurred_from=dt.datetime.combine(date_from, dt.time(), zone) if date_from else None,
        occurred_to=(
            dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), zone)
            if date_to
            else None
        ),
    )


@page(permissions.AUDIT_VIEW)
def audit_list(request: HttpRequest) -> HttpResponse:
    """Entries the user may see, newest first, a page at a time; `?export=xlsx|csv` downloads
    every one that matches the filters."""
    entries = entries_for(request.user)
    form = AuditFilterForm(
        request.GET or None,
        actions=_filter_values(entries, "action"),
        target_types=_filter_values(entries, "target_type"),
    )
    cleaned: dict[str, Any] = form.cleaned_data if form.is_bound and form.is_valid() else {}
    filtered = entries_for(request.user, _entry_filter(cleaned))
    if cleaned.get("actor"):
        filtered = filtered.filter(actor_label__iexact=cleaned["actor"].strip())
    if wanted := export_format(request):
        # Only what the file shows: the before/after documents can be large.
        every = filtered.only(
            "occurred_at",
            "actor_label",
            "on_behalf_of_label",
            "action",
            "target_type",
            "target_id",
            "target_label",
            "reason",
            "org_node__code",
            "org_node__name",
        )
        return export_table(
            wanted, "audit-log", AUDIT_COLUMNS, every.iterator(chunk_size=EXPORT_CHUNK)
        )
    paginator = Paginator(filtered, PAGE_SIZE)
    page_obj = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render_page(
        request,
        "web/audit_list.html",
        {
            "title": _("Audit log"),
            "form": form,
            "page_obj": page_obj,
            "query": query.urlencode(),
            # An HTMX filter change swaps the table; the export buttons follow out of band.
            "exports_out_of_band": request.headers.get("HX-Request") == "true",
        },
        partial="audit-table",
    )


@page(permissions.AUDIT_VIEW)
def audit_detail(request: HttpRequest, entry_id: int) -> HttpResponse:
    entry = get_entry(request.user, entry_id)
    return render_page(
        request,
        "web/audit_detail.html",
        {
            "title": _("Audit entry #%(id)s") % {"id": entry.pk},
            "entry": entry,
            "diff": json_diff(entry.before, entry.after),
        },
    )
