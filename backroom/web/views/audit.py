"""The audit browser: scoped entries, newest first, filtered by GET, refreshed by HTMX."""

import datetime as dt
from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from backroom.accounts import permissions
from backroom.audit.models import AuditEntry
from backroom.audit.selectors import EntryFilter, entries_for, get_entry
from backroom.web.errors import page
from backroom.web.forms import AuditFilterForm
from backroom.web.presenters import json_diff
from backroom.web.rendering import render_page

PAGE_SIZE = 50


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
