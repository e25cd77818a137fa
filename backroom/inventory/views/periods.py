"""Stock period pages: what finance and region managers use at month end.

The list shows every store the user may see stock of, with the date it is closed through, who
changed it last and when; next to each store where the user holds `inventory.manage`, a small
form closes it through a date (by default the last day of the previous month in the store's
time zone) or reopens it, with a reason. The history shows every change of one store.

Thin views: they parse what was typed, call `periods.close_period` and render. Every error of a
post (the service's field errors `through` and `reason`, and what could not be read) is shown at
once next to that store's form, with status 422 and nothing changed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from backroom.catalog.selectors import site_today
from backroom.inventory import periods
from backroom.inventory.models import StockPeriodClose
from backroom.inventory.permissions import INVENTORY_MANAGE, INVENTORY_VIEW
from backroom.inventory.views.exporting import store_time
from backroom.kernel.exceptions import DomainError, ValidationFailed
from backroom.org.choices import SITE_KINDS
from backroom.org.models import OrgNode, Site
from backroom.org.selectors import get_site, sites_for
from backroom.web.errors import page
from backroom.web.exports import Column, export_format, export_table
from backroom.web.forms import posted_id
from backroom.web.rendering import render_page

REASON_LENGTH = 500  # StockPeriodClose.reason


def suggested_through(today: dt.date, closed: dt.date | None) -> dt.date | None:
    """The last day of the previous month, if later than the current closing."""
    month_end = today.replace(day=1) - dt.timedelta(days=1)
    return month_end if closed is None or month_end > closed else None


@dataclass
class PeriodRow:
    """One store: its latest change, and its form as shown (or as typed, with its errors)."""

    site: Site
    latest: StockPeriodClose | None
    today: dt.date
    may_close: bool
    through: str = ""
    reason: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def closed_through(self) -> dt.date | None:
        return self.latest.closed_through if self.latest is not None else None

    @property
    def last_open_day(self) -> dt.date:
        """The latest date that can be closed: yesterday, in business days."""
        return self.today - dt.timedelta(days=1)

    @property
    def through_errors(self) -> list[str]:
        return self.errors.get("through", [])

    @property
    def reason_errors(self) -> list[str]:
        return self.errors.get("reason", [])

    @property
    def other_errors(self) -> list[str]:
        return [
            message
            for name, texts in self.errors.items()
            if name not in ("through", "reason")
            for message in texts
        ]


def _nodes(request: HttpRequest, sites: list[Site]) -> list[OrgNode]:
    """The regions and entities above the visible stores, to narrow the list by."""
    ids = {ancestor for site in sites for ancestor in site.node.ancestor_ids()}
    return list(
        OrgNode.objects.restrict(request.user, INVENTORY_VIEW)
        .filter(pk__in=ids)
        .exclude(kind__in=SITE_KINDS)
        .order_by("path")
    )


def _sites(request: HttpRequest) -> QuerySet[Site]:
    return sites_for(request.user, INVENTORY_VIEW)


PERIOD_COLUMNS = [
    Column(gettext_lazy("Store code"), lambda row: row.site.node.code),
    Column(gettext_lazy("Store"), lambda row: row.site.node.name),
    Column(gettext_lazy("Time zone"), lambda row: row.site.time_zone),
    Column(gettext_lazy("Closed through"), lambda row: row.closed_through),
    Column(
        gettext_lazy("Changed by"),
        lambda row: str(row.latest.created_by or _("system")) if row.latest else "",
    ),
    Column(
        gettext_lazy("Changed at"),
        lambda row: store_time(row.latest.created_at, row.site) if row.latest else None,
    ),
    Column(gettext_lazy("Reason"), lambda row: row.latest.reason if row.latest else ""),
]


def _list_page(
    request: HttpRequest,
    node_id: int | None,
    *,
    typed: PeriodRow | None = None,
    status: int = 200,
) -> HttpResponse:
    """The list of stores, narrowed to `node_id`; `typed` replaces its store's row (an error)."""
    every_site = list(_sites(request))
    nodes = _nodes(request, every_site)
    node = next((row for row in nodes if row.pk == node_id), None)
    sites = [site for site in every_site if node is None or site.node.is_within(node)]
    if typed is not None and typed.site not in sites:
        node, sites = None, every_site
    latest = periods.latest_changes(site.pk for site in sites)
    rows = []
    for site in sites:
        if typed is not None and typed.site.pk == site.pk:
            rows.append(typed)
            continue
        row = PeriodRow(
            site=site,
            latest=latest.get(site.pk),
            today=site_today(site),
            may_close=_may_close(request, site),
        )
        suggested = suggested_through(row.today, row.closed_through)
        row.through = suggested.isoformat() if suggested else ""
        rows.append(row)
    if typed is None and (wanted := export_format(request)):
        return export_table(wanted, "stock-periods", PERIOD_COLUMNS, rows)
    return render_page(
        request,
        "inventory/period_list.html",
        {
            "title": _("Stock periods"),
            "rows": rows,
            "nodes": nodes if len(nodes) > 1 else [],
            "node": node,
            "may_close_any": any(row.may_close for row in rows),
            # The list's own URL: a refused close renders this page at the close form's.
            "export_base": reverse("inventory:periods"),
            # An HTMX filter change swaps the list; the export buttons follow out of band.
            "exports_out_of_band": request.headers.get("HX-Request") == "true",
        },
        partial="periods",
        status=status,
    )


def _may_close(request: HttpRequest, site: Site) -> bool:
    return bool(request.user.has_scoped_permission(INVENTORY_MANAGE, site.node))  # type: ignore[union-attr]


@page(INVENTORY_VIEW)
def period_list(request: HttpRequest) -> HttpResponse:
    """The stores the user may see, each with the date it is closed through and a form;
    `?export=xlsx|csv` downloads the stores listed (the region filter kept)."""
    return _list_page(request, posted_id(request.GET.get("node")))


def _read(request: HttpRequest, row: PeriodRow) -> tuple[dt.date | None, bool]:
    """The typed date (None to reopen entirely) and whether it could be read; errors on `row`."""
    row.through = request.POST.get("through", "").strip()
    row.reason = request.POST.get("reason", "").strip()
    is_read = True
    if len(row.reason) > REASON_LENGTH:
        row.errors.setdefault("reason", []).append(
            _("A reason has at most %(count)s characters.") % {"count": REASON_LENGTH}
        )
        is_read = False
    if request.POST.get("reopen") == "1":
        return None, is_read
    if not row.through:
        row.errors.setdefault("through", []).append(_("Choose the last day to close."))
        return None, False
    try:
        return dt.date.fromisoformat(row.through), is_read
    except ValueError:
        row.errors.setdefault("through", []).append(_("The date is not a date (YYYY-MM-DD)."))
        return None, False


@page(INVENTORY_MANAGE)
@require_POST
def period_close(request: HttpRequest, site_id: int) -> HttpResponse:
    """Close the store's stock period through the typed date, or reopen it (with a reason)."""
    site = get_site(request.user, site_id, INVENTORY_VIEW)
    node_id = posted_id(request.POST.get("node"))
    row = PeriodRow(
        site=site,
        latest=periods.latest_changes([site.pk]).get(site.pk),
        today=site_today(site),
        may_close=_may_close(request, site),
    )
    through, is_read = _read(request, row)
    if is_read:
        try:
            changed = periods.close_period(
                site, through=through, actor=request.user, reason=row.reason
            )
        except ValidationFailed as error:
            for name, texts in error.errors.items():
                row.errors.setdefault(name, []).extend(texts)
            if not error.errors:
                row.errors.setdefault("", []).append(error.message)
        except DomainError as error:
            if error.http_status in (403, 404):
                raise
            row.errors.setdefault("", []).append(error.message)
        else:
            if changed.closed_through is None:
                messages.success(request, _("%(site)s is open again.") % {"site": site.node.name})
            else:
                messages.success(
                    request,
                    _("%(site)s is closed through %(date)s.")
                    % {"site": site.node.name, "date": changed.closed_through.isoformat()},
                )
            url = reverse("inventory:periods")
            return redirect(f"{url}?node={node_id}" if node_id else url)
    return _list_page(request, node_id, typed=row, status=422)


@dataclass(frozen=True)
class HistoryRow:
    """A change of the closed date and the date it replaced."""

    change: StockPeriodClose
    previous: dt.date | None

    @property
    def is_reopening(self) -> bool:
        through = self.change.closed_through
        return self.previous is not None and (through is None or through < self.previous)


HISTORY_COLUMNS = [
    Column(gettext_lazy("Store code"), lambda row: row.change.site.node.code),
    Column(gettext_lazy("Store"), lambda row: row.change.site.node.name),
    Column(gettext_lazy("Closed through"), lambda row: row.change.closed_through),
    Column(gettext_lazy("Previously closed through"), lambda row: row.previous),
    Column(gettext_lazy("Reopened"), lambda row: row.is_reopening),
    Column(gettext_lazy("Changed by"), lambda row: str(row.change.created_by or _("system"))),
    Column(
        gettext_lazy("Changed at"), lambda row: store_time(row.change.created_at, row.change.site)
    ),
    Column(gettext_lazy("Reason"), lambda row: row.change.reason),
]


@page(INVENTORY_VIEW)
def period_history(request: HttpRequest, site_id: int) -> HttpResponse:
    """Every change of one store's closed date, newest first; `?export=xlsx|csv` downloads
    them."""
    site = get_site(request.user, site_id, INVENTORY_VIEW)
    changes = list(periods.changes(site).select_related("site__node"))
    # Newest first: each change's previous date is the next row's.
    rows = [
        HistoryRow(change, changes[index + 1].closed_through if index + 1 < len(changes) else None)
        for index, change in enumerate(changes)
    ]
    if wanted := export_format(request):
        return export_table(wanted, "stock-period-history", HISTORY_COLUMNS, rows)
    context: dict[str, Any] = {
        "title": _("Stock periods of %(site)s") % {"site": site.node.name},
        "site": site,
        "rows": rows,
        "closed_through": changes[0].closed_through if changes else None,
        "may_close": _may_close(request, site),
    }
    return render_page(request, "inventory/period_history.html", context)


urlpatterns = [
    path("periods/", period_list, name="periods"),
    path("periods/<int:site_id>/", period_history, name="period_history"),
    path("periods/<int:site_id>/close/", period_close, name="period_close"),
]
