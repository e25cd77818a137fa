"""Count pages (盘点), phone first: the list, starting a count, the counting screen (lines by
location in shelf order, one input per count unit, saved per line or per location with HTMX),
submitting, and the review screen (variances by value; approve and post).

Thin views: they parse what was typed, call the count services and render; the services decide
what is allowed and valid, and every error of a save is shown on its line at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from backroom.inventory import counts as count_reads
from backroom.inventory import services
from backroom.inventory.choices import LocationKind
from backroom.inventory.counts import CountReviewRequired, CountStateError
from backroom.inventory.exceptions import BatchRejected
from backroom.inventory.models import CountKind, CountLine, CountSheet, CountStatus, Location
from backroom.inventory.permissions import INVENTORY_COUNT, INVENTORY_MANAGE, INVENTORY_VIEW
from backroom.inventory.selectors import locations_for
from backroom.inventory.services.counts import review_threshold
from backroom.inventory.views.exporting import EXPORT_CHUNK, store_time
from backroom.kernel.exceptions import DomainError, ValidationFailed
from backroom.org.models import Site
from backroom.org.selectors import get_site, sites_for
from backroom.web.errors import page, problem_messages
from backroom.web.exports import Column, export_format, export_table
from backroom.web.rendering import render_page

ZERO = Decimal(0)
OPEN_STATUSES = (CountStatus.DRAFT, CountStatus.COUNTING, CountStatus.SUBMITTED)
RECENT = 20


# --- what the pages show ----------------------------------------------------------------------


@dataclass
class UnitInput:
    """One input of a line: a count unit, what it holds in the base unit, what is typed."""

    code: str
    hint: str
    value: str


@dataclass
class LineRow:
    line: CountLine
    units: list[UnitInput]
    errors: list[str] = field(default_factory=list)
    is_saved: bool = False
    is_missing: bool = False
    is_over: bool = False

    @property
    def search_text(self) -> str:
        lot = self.line.lot.code if self.line.lot_id and self.line.lot else ""
        return f"{self.line.item.sku} {self.line.item.name} {lot}".lower()


@dataclass
class LocationGroup:
    location: Location
    rows: list[LineRow] = field(default_factory=list)

    @property
    def counted(self) -> int:
        return sum(1 for row in self.rows if row.line.counted_quantity is not None)


def _unit_inputs(line: CountLine, typed: dict[tuple[int, str], str]) -> list[UnitInput]:
    stored = {entry["unit"]: entry["quantity"] for entry in line.entries or []}
    factors = {unit.code: unit.factor for unit in line.item.units.all()}
    base = line.item.base_unit.code
    inputs = []
    for code in count_reads.offered_units(line):
        factor = factors.get(code)
        hint = f"{factor.normalize():f} {base}" if factor is not None and code != base else ""
        value = typed.get((line.pk, code), stored.get(code, ""))
        inputs.append(UnitInput(code, hint, value))
    return inputs


def _rows(
    lines: list[CountLine],
    *,
    typed: dict[tuple[int, str], str] | None = None,
    errors: dict[int, list[str]] | None = None,
    saved: set[int] | None = None,
    missing: set[int] | None = None,
) -> list[LineRow]:
    typed, errors, saved, missing = typed or {}, errors or {}, saved or set(), missing or set()
    return [
        LineRow(
            line,
            _unit_inputs(line, typed),
            errors=errors.get(line.pk, []),
            is_saved=line.pk in saved,
            is_missing=line.pk in missing,
        )
        for line in lines
    ]


def _groups(rows: list[LineRow]) -> list[LocationGroup]:
    """Rows grouped by location, locations in the order their first line comes."""
    groups: dict[int, LocationGroup] = {}
    for row in rows:
        group = groups.setdefault(row.line.location_id, LocationGroup(row.line.location))
        group.rows.append(row)
    return list(groups.values())


def _currency(sheet: CountSheet) -> str:
    return str(sheet.site.legal_entity.base_currency)


def _sheet(request: HttpRequest, sheet_id: int) -> CountSheet:
    sheet = count_reads.get_count_sheet(request.user, sheet_id)
    return (
        CountSheet.objects.select_related("site__node", "site__legal_entity", "created_by")
        .prefetch_related("locations")
        .get(pk=sheet.pk)
    )


def _may(request: HttpRequest, permission: str, sheet: CountSheet) -> bool:
    return bool(request.user.has_scoped_permission(permission, sheet.site.node))  # type: ignore[union-attr]


def _counting_page(
    request: HttpRequest,
    sheet: CountSheet,
    *,
    rows: list[LineRow] | None = None,
    problem: str = "",
    status: int = 200,
) -> HttpResponse:
    rows = rows if rows is not None else _rows(list(count_reads.count_lines(sheet)))
    counted = sum(1 for row in rows if row.line.counted_quantity is not None)
    return render_page(
        request,
        "inventory/count_sheet.html",
        {
            "title": _("Count %(number)s") % {"number": sheet.number},
            "sheet": sheet,
            "groups": _groups(rows),
            "counted": counted,
            "total": len(rows),
            "problem": problem,
            "may_count": _may(request, INVENTORY_COUNT, sheet),
        },
        status=status,
    )


# --- list and start ---------------------------------------------------------------------------

COUNT_COLUMNS = [
    Column(gettext_lazy("Number"), lambda sheet: sheet.number),
    Column(gettext_lazy("Store code"), lambda sheet: sheet.site.node.code),
    Column(gettext_lazy("Store"), lambda sheet: sheet.site.node.name),
    Column(gettext_lazy("Kind"), lambda sheet: str(sheet.get_kind_display())),
    Column(gettext_lazy("Status"), lambda sheet: str(sheet.get_status_display())),
    Column(gettext_lazy("Needs approval"), lambda sheet: sheet.requires_review),
    Column(gettext_lazy("Template"), lambda sheet: sheet.template.name if sheet.template else ""),
    Column(gettext_lazy("Lines"), lambda sheet: sheet.line_total),
    Column(gettext_lazy("Lines counted"), lambda sheet: sheet.line_counted),
    Column(gettext_lazy("Started at"), lambda sheet: store_time(sheet.started_at, sheet.site)),
    Column(gettext_lazy("Submitted at"), lambda sheet: store_time(sheet.submitted_at, sheet.site)),
    Column(gettext_lazy("Posted at"), lambda sheet: store_time(sheet.posted_at, sheet.site)),
    Column(gettext_lazy("Created by"), lambda sheet: str(sheet.created_by or "")),
    Column(gettext_lazy("Approved by"), lambda sheet: str(sheet.approved_by or "")),
]


@page(INVENTORY_VIEW)
def count_list(request: HttpRequest) -> HttpResponse:
    """Open counts and the recent ones at the stores the user may see; `?export=xlsx|csv`
    downloads every count they may see."""
    sheets = count_reads.with_progress(count_reads.count_sheets_for(request.user)).select_related(
        "site__node"
    )
    if wanted := export_format(request):
        every = sheets.select_related("template", "created_by", "approved_by")
        return export_table(
            wanted, "counts", COUNT_COLUMNS, every.iterator(chunk_size=EXPORT_CHUNK)
        )
    return render_page(
        request,
        "inventory/count_list.html",
        {
            "title": _("Counts"),
            "open_sheets": list(sheets.filter(status__in=OPEN_STATUSES)),
            "recent_sheets": list(sheets.exclude(status__in=OPEN_STATUSES)[:RECENT]),
            "may_start": request.user.has_scoped_permission(INVENTORY_COUNT),  # type: ignore[union-attr]
        },
    )


def _countable_locations(request: HttpRequest, site: Site) -> list[Location]:
    return list(
        locations_for(request.user, INVENTORY_COUNT, site=site)
        .filter(is_active=True)
        .exclude(kind=LocationKind.IN_TRANSIT)
    )


@page(INVENTORY_COUNT)
@require_http_methods(["GET", "POST"])
def count_new(request: HttpRequest) -> HttpResponse:
    """Start a count at a store: from one of its templates, or all or some of its locations,
    full or cycle."""
    sites = list(sites_for(request.user, INVENTORY_COUNT))
    data = request.POST if request.method == "POST" else request.GET
    site = None
    site_id = data.get("site", "")
    if site_id.isdigit():
        site = get_site(request.user, int(site_id), INVENTORY_COUNT)
    elif len(sites) == 1:
        site = sites[0]
    errors: list[str] = []
    kind = data.get("kind", CountKind.FULL)
    chosen = {int(value) for value in data.getlist("locations") if value.isdigit()}
    templates = (
        list(count_reads.count_templates_for(request.user, site=site, permission=INVENTORY_COUNT))
        if site is not None
        else []
    )
    if request.method == "POST":
        template_id = data.get("template", "")
        template = next((row for row in templates if str(row.pk) == template_id), None)
        if site is None:
            errors.append(_("Choose a store."))
        elif template_id and template is None:
            errors.append(_("This template cannot be used at this store."))
        else:
            try:
                if template is not None:
                    sheet = services.create_count_from_template(template, actor=request.user)
                else:
                    sheet = services.create_count(
                        site, actor=request.user, kind=kind, location_ids=sorted(chosen)
                    )
                    sheet = services.start_count(sheet, actor=request.user)
            except DomainError as error:
                errors.extend(problem_messages(error))
            else:
                messages.success(request, _("Count %(number)s started.") % {"number": sheet.number})
                return redirect("inventory:count_sheet", sheet_id=sheet.pk)
    locations = _countable_locations(request, site) if site is not None else []
    return render_page(
        request,
        "inventory/count_new.html",
        {
            "title": _("Start a count"),
            "sites": sites,
            "site": site,
            "locations": locations,
            "chosen": chosen or {location.pk for location in locations},
            "kind": kind,
            "kinds": CountKind.choices,
            "templates": templates,
            "errors": errors,
        },
        status=422 if errors else 200,
    )


# --- one count --------------------------------------------------------------------------------


@page(INVENTORY_VIEW)
def count_sheet(request: HttpRequest, sheet_id: int) -> HttpResponse:
    """The counting screen while counting; otherwise the sheet with its variances."""
    sheet = _sheet(request, sheet_id)
    if sheet.status == CountStatus.COUNTING:
        return _counting_page(request, sheet)
    return _review_page(request, sheet)


def _review_page(request: HttpRequest, sheet: CountSheet, *, status: int = 200) -> HttpResponse:
    lines = list(count_reads.count_lines(sheet))
    threshold = review_threshold(sheet)
    show_all = request.GET.get("all") == "1"
    differing = [line for line in lines if line.variance_quantity]
    shown = lines if show_all else differing
    shown.sort(
        key=lambda line: (-abs(line.variance_value or ZERO), -abs(line.variance_quantity or ZERO))
    )
    values = [line.variance_value or ZERO for line in lines]
    # Flagged at submit, or a line above the threshold now (the sheet's threshold may differ).
    needs_review = sheet.requires_review or any(abs(value) > threshold for value in values)
    counted, total = count_reads.count_progress(sheet)
    return render_page(
        request,
        "inventory/count_review.html",
        {
            "title": _("Count %(number)s") % {"number": sheet.number},
            "sheet": sheet,
            "rows": [
                replace(row, is_over=abs(row.line.variance_value or ZERO) > threshold)
                for row in _rows(shown)
            ],
            "threshold": threshold,
            "currency": _currency(sheet),
            "show_all": show_all,
            "needs_review": needs_review,
            "line_total": total,
            "line_counted": counted,
            "variance_lines": len(differing),
            "net_value": sum(values, ZERO),
            "gross_value": sum((abs(value) for value in values), ZERO),
            "may_count": _may(request, INVENTORY_COUNT, sheet),
            "may_approve": _may(request, INVENTORY_MANAGE, sheet),
        },
        status=status,
    )


def _parse_typed(raw: str) -> str:
    """What was typed, with a decimal comma read as a point (2,5 → 2.5)."""
    value = raw.strip().replace(" ", "")
    if value.count(",") == 1 and "." not in value:
        value = value.replace(",", ".")
    return value


@page(INVENTORY_COUNT)
@require_POST
def count_record(request: HttpRequest, sheet_id: int) -> HttpResponse:
    """Save counted lines: one line (its form) or a whole location (every line with a value).

    HTMX gets each saved or refused line back out of band (with its errors), plus the progress;
    lines not sent keep what was typed in them.
    """
    sheet = _sheet(request, sheet_id)
    line_ids = list(
        dict.fromkeys(int(value) for value in request.POST.getlist("line") if value.isdigit())
    )
    lines = {line.pk: line for line in count_reads.count_lines(sheet).filter(pk__in=line_ids)}
    typed: dict[tuple[int, str], str] = {}
    counts: list[services.LineCount] = []
    for line_id in line_ids:
        line = lines.get(line_id)
        if line is None:
            continue
        entries = []
        for code in count_reads.offered_units(line):
            value = _parse_typed(request.POST.get(f"qty-{line_id}-{code}", ""))
            typed[(line_id, code)] = value
            if value:
                entries.append(services.CountEntry(code, value))
        # A location's save skips lines left empty; a line saved on its own must say something.
        if entries or len(line_ids) == 1:
            counts.append(services.LineCount(line_id, entries))
    errors: dict[int, list[str]] = {}
    problem = ""
    saved: set[int] = set()
    if not counts:
        problem = _("Type a quantity first.")
    else:
        try:
            services.record_counts(sheet, counts, actor=request.user)
        except BatchRejected as error:
            for row in error.lines:
                line_id = counts[row["index"]].line_id
                fields = (row.get("details") or {}).get("fields") or {}
                found = [str(message) for texts in fields.values() for message in texts]
                errors.setdefault(line_id, []).extend(found or [row["message"]])
        except (ValidationFailed, CountStateError) as error:
            problem = "; ".join(problem_messages(error))
        else:
            saved = {count.line_id for count in counts}
    refreshed = list(count_reads.count_lines(sheet).filter(pk__in=lines))
    rows = _rows(refreshed, typed=typed, errors=errors, saved=saved)
    failed = bool(errors or problem)
    if request.headers.get("HX-Request") == "true":
        counted, total = count_reads.count_progress(sheet)
        groups = _groups(rows)
        location_progress = count_reads.location_progress(
            sheet, [group.location.pk for group in groups]
        )
        return render_page(
            request,
            "inventory/count_sheet.html",
            {
                "sheet": sheet,
                "rows": rows,
                "counted": counted,
                "total": total,
                "problem": problem,
                "location_progress": location_progress,
                "saved_count": len(saved),
            },
            partial="record_result",
        )
    if not failed:
        messages.success(request, _("Saved."))
        return redirect(reverse("inventory:count_sheet", args=[sheet.pk]) + f"#line-{line_ids[0]}")
    all_rows = _rows(
        list(count_reads.count_lines(sheet)),
        typed=typed,
        errors=errors,
        saved=saved,
    )
    return _counting_page(request, sheet, rows=all_rows, problem=problem, status=422)


@page(INVENTORY_COUNT)
@require_POST
def count_submit(request: HttpRequest, sheet_id: int) -> HttpResponse:
    """Close counting; every line must be counted (the missing ones are marked)."""
    sheet = _sheet(request, sheet_id)
    try:
        sheet = services.submit_count(sheet, actor=request.user)
    except CountStateError as error:
        messages.error(request, error.message)
        return redirect("inventory:count_sheet", sheet_id=sheet.pk)
    except ValidationFailed as error:
        missing = set(error.details.get("uncounted", []))
        rows = _rows(list(count_reads.count_lines(sheet)), missing=missing)
        problem = " ".join([error.message, *problem_messages(error)])
        return _counting_page(request, sheet, rows=rows, problem=problem, status=422)
    if sheet.requires_review:
        messages.warning(
            request, _("Submitted. Some variances are above the threshold: a manager must approve.")
        )
    else:
        messages.success(request, _("Submitted. Check the variances and post."))
    return redirect("inventory:count_sheet", sheet_id=sheet.pk)


@page(INVENTORY_COUNT)
@require_POST
def count_post(request: HttpRequest, sheet_id: int) -> HttpResponse:
    """Post the variances; `approve=1` approves those above the threshold (inventory.manage)."""
    sheet = _sheet(request, sheet_id)
    approved = request.POST.get("approve") == "1"
    try:
        sheet = services.post_count(sheet, actor=request.user, approved=approved)
    except CountReviewRequired as error:
        messages.error(request, error.message)
    except BatchRejected as error:
        for row in error.lines:
            messages.error(request, row["message"])
    except (CountStateError, ValidationFailed) as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Count %(number)s posted.") % {"number": sheet.number})
    return redirect("inventory:count_sheet", sheet_id=sheet.pk)


@page(INVENTORY_COUNT)
@require_POST
def count_start(request: HttpRequest, sheet_id: int) -> HttpResponse:
    """Start a draft count: freeze the theoretical quantities."""
    sheet = _sheet(request, sheet_id)
    try:
        services.start_count(sheet, actor=request.user)
    except DomainError as error:
        for message in problem_messages(error):
            messages.error(request, message)
    return redirect("inventory:count_sheet", sheet_id=sheet.pk)


@page(INVENTORY_COUNT)
@require_POST
def count_cancel(request: HttpRequest, sheet_id: int) -> HttpResponse:
    """Abandon a count that is not posted."""
    sheet = _sheet(request, sheet_id)
    try:
        services.cancel_count(
            sheet, actor=request.user, reason=request.POST.get("reason", "")[:1000]
        )
    except CountStateError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Count %(number)s cancelled.") % {"number": sheet.number})
    return redirect("inventory:count_sheet", sheet_id=sheet.pk)


urlpatterns = [
    path("", count_list, name="counts"),
    path("new/", count_new, name="count_new"),
    path("<int:sheet_id>/", count_sheet, name="count_sheet"),
    path("<int:sheet_id>/start/", count_start, name="count_start"),
    path("<int:sheet_id>/lines/", count_record, name="count_record"),
    path("<int:sheet_id>/submit/", count_submit, name="count_submit"),
    path("<int:sheet_id>/post/", count_post, name="count_post"),
    path("<int:sheet_id>/cancel/", count_cancel, name="count_cancel"),
]
