"""The approvals report: time per policy step, SLA breaches, escalations, automatic decisions,
and who is slow — over a period, scoped to the caller (see docs/approvals.md, "Report").

Who: holders of `approvals.manage` or `approvals.report`; the report covers the requests at the
nodes under the subtrees where they hold either (optionally narrowed to one visible node).

Definitions (one place, shared by the page, the API and the CSV export):

- A task **belongs to the period** when it was assigned in it (`created_at` within
  [date_from 00:00, date_to + 1 day 00:00) in the deployment's time zone).
- A task **counts** unless it was cancelled without anyone deciding it and without a breach
  (another approver of an any-one step decided first, or the request was withdrawn or closed
  elsewhere): those tasks are nobody's work.
- **Decided**: approved or rejected (by a person or the system), or returned to the requester.
  **Time to decide** = decided − assigned, over decided tasks (average in SQL; the median in
  Python, as SQLite has no percentile function).
- **Breach**: the task has an SLA and was decided (or cancelled, e.g. escalated away) after its
  due time, or is still pending at or past it now.
- **Escalation**: the task was escalated to the next level up (another task names it as
  `escalated_from`). **Automatic decision**: approved or rejected by the SLA timer (no person).
- Per approver (the assignee: the delegate when delegated): tasks, decisions they made, their
  average and median time, breaches in the period, and — as of now, whatever the period — the
  pending tasks they hold and how many of those are overdue.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import (
    Avg,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Min,
    OuterRef,
    Q,
    QuerySet,
)
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from backroom.accounts.models import User
from backroom.accounts.permissions import ORG_VIEW
from backroom.approvals.choices import TaskStatus
from backroom.approvals.models import ApprovalTask
from backroom.approvals.permissions import APPROVALS_MANAGE, APPROVALS_REPORT
from backroom.approvals.registry import get_document_type, is_registered
from backroom.kernel import clock
from backroom.kernel.exceptions import NotFound, PermissionDenied, ValidationFailed
from backroom.kernel.scoping import scope_q
from backroom.org.models import OrgNode

MAX_DAYS = 366
APPROVER_SORTS = (
    "name",
    "tasks",
    "decided",
    "average",
    "median",
    "breaches",
    "breach_percent",
    "open",
    "overdue",
)
DEFAULT_APPROVER_SORT = "average"


def report_paths(actor: Any) -> list[str] | None:
    """Tree paths the actor may report on (None: everywhere); PermissionDenied when none."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise PermissionDenied()
    paths: set[str] = set()
    for permission in (APPROVALS_MANAGE, APPROVALS_REPORT):
        found = actor.scope_paths(permission)
        if found is None:
            return None
        paths.update(found)
    if not paths:
        raise PermissionDenied()
    return sorted(p for p in paths if not any(p != q and p.startswith(q) for q in paths))


def report_nodes(actor: Any) -> list[OrgNode]:
    """The nodes the report may be narrowed to: every node in the actor's report scope."""
    paths = report_paths(actor)
    nodes = OrgNode.objects.order_by("path")
    if paths is not None:
        nodes = nodes.filter(scope_q("", paths))
    return list(nodes.exclude(kind__in=["warehouse", "kitchen"])[:500])


def get_report_node(actor: Any, node_id: int) -> OrgNode:
    """A node inside the actor's report scope: 404 otherwise (never telling whether it exists,
    unless the actor can see it at all: then 403)."""
    paths = report_paths(actor)
    node = OrgNode.objects.filter(pk=node_id).first()
    if node is None:
        raise NotFound()
    if paths is not None and not any(node.path.startswith(path) for path in paths):
        if actor.has_scoped_permission(ORG_VIEW, node):
            raise PermissionDenied()
        raise NotFound()
    return node


@dataclass(frozen=True)
class ReportFilter:
    """What the report covers. Dates are inclusive, in the deployment's time zone."""

    date_from: dt.date
    date_to: dt.date
    document_type: str = ""
    node: OrgNode | None = None
    sort: str = DEFAULT_APPROVER_SORT


def default_period(today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The last 30 days, today included."""
    today = today or timezone.localdate(clock.now())
    return today - dt.timedelta(days=29), today


def check_filter(
    date_from: dt.date | None, date_to: dt.date | None, document_type: str = ""
) -> dict[str, list[str]]:
    """Every problem with a period and document type at once (None: a date that was unreadable
    is reported by the caller)."""
    errors: dict[str, list[str]] = {}
    if date_from is not None and date_to is not None:
        if date_to < date_from:
            errors["date_to"] = [_("The end comes before the start.")]
        elif (date_to - date_from).days >= MAX_DAYS:
            errors["date_to"] = [_("Choose at most %(days)d days at once.") % {"days": MAX_DAYS}]
    if document_type and not is_registered(document_type):
        errors["document_type"] = [_("This document type is not registered for approvals.")]
    return errors


def _bounds(date_from: dt.date, date_to: dt.date) -> tuple[dt.datetime, dt.datetime]:
    zone = timezone.get_default_timezone()
    start = dt.datetime.combine(date_from, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return start, end


def _label(document_type: str) -> str:
    return (
        str(get_document_type(document_type).label)
        if is_registered(document_type)
        else (document_type)
    )


def _percent(part: int, whole: int) -> Decimal:
    if not whole:
        return Decimal("0.0")
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def _seconds(value: dt.timedelta | float | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, dt.timedelta):
        return round(value.total_seconds())
    return round(value / 1_000_000)  # some backends hand back microseconds


def _median(durations: Sequence[dt.timedelta]) -> int | None:
    if not durations:
        return None
    return round(statistics.median(d.total_seconds() for d in durations))


@dataclass
class StepRow:
    """One policy step over the period."""

    document_type: str
    label: str
    policy_id: int | None
    policy_name: str
    step_name: str
    position: int
    tasks: int
    decided: int
    average_seconds: int | None
    median_seconds: int | None
    breaches: int
    breach_percent: Decimal
    escalations: int
    auto_decisions: int
    open: int

    @property
    def average_text(self) -> str:
        return duration_text(self.average_seconds)

    @property
    def median_text(self) -> str:
        return duration_text(self.median_seconds)


@dataclass
class ApproverRow:
    """One approver: their work in the period and what waits for them now."""

    user_id: int
    username: str
    name: str
    tasks: int = 0
    decided: int = 0
    average_seconds: int | None = None
    median_seconds: int | None = None
    breaches: int = 0
    breach_percent: Decimal = Decimal("0.0")
    open: int = 0
    overdue: int = 0

    @property
    def average_text(self) -> str:
        return duration_text(self.average_seconds)

    @property
    def median_text(self) -> str:
        return duration_text(self.median_seconds)


@dataclass
class ApprovalsReport:
    date_from: dt.date
    date_to: dt.date
    document_type: str
    node: OrgNode | None
    generated_at: dt.datetime
    sort: str
    steps: list[StepRow] = field(default_factory=list)
    approvers: list[ApproverRow] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, Any]:
        tasks = sum(row.tasks for row in self.steps)
        breaches = sum(row.breaches for row in self.steps)
        return {
            "tasks": tasks,
            "decided": sum(row.decided for row in self.steps),
            "breaches": breaches,
            "breach_percent": _percent(breaches, tasks),
            "escalations": sum(row.escalations for row in self.steps),
            "auto_decisions": sum(row.auto_decisions for row in self.steps),
            "open": sum(row.open for row in self.steps),
        }


def _scoped_tasks(actor: Any, filters: ReportFilter) -> QuerySet[ApprovalTask]:
    paths = report_paths(actor)
    tasks = ApprovalTask.objects.all()
    if paths is not None:
        tasks = tasks.filter(scope_q("request__org_node", paths))
    if filters.node is not None:
        tasks = tasks.filter(request__org_node__path__startswith=filters.node.path)
    if filters.document_type:
        tasks = tasks.filter(request__document_type=filters.document_type)
    return tasks


def _decided_q() -> Q:
    return Q(status__in=[TaskStatus.APPROVED, TaskStatus.REJECTED]) | Q(
        status=TaskStatus.CANCELLED, decided_by__isnull=False
    )


def _breached_q(now: dt.datetime) -> Q:
    return Q(due_at__isnull=False) & (
        Q(decided_at__gt=F("due_at")) | Q(decided_at__isnull=True, due_at__lte=now)
    )


def _counted(tasks: QuerySet[ApprovalTask]) -> QuerySet[ApprovalTask]:
    """Drop the tasks that were nobody's work (cancelled unseen: see the module)."""
    return tasks.exclude(
        status=TaskStatus.CANCELLED, decided_by__isnull=True, breach_handled_at__isnull=True
    )


STEP_KEYS = (
    "request__document_type",
    "request__version__policy_id",
    "request__version__policy__name",
    "step_name",
)


def approvals_report(actor: Any, filters: ReportFilter) -> ApprovalsReport:
    """The report for the actor's scope (see the module for every definition)."""
    problems = check_filter(filters.date_from, filters.date_to, filters.document_type)
    if problems:
        raise ValidationFailed(problems)
    now = clock.now()
    start, end = _bounds(filters.date_from, filters.date_to)
    scoped = _scoped_tasks(actor, filters)
    period = _counted(scoped.filter(created_at__gte=start, created_at__lt=end))
    decided = _decided_q()
    breached = _breached_q(now)
    duration = ExpressionWrapper(F("decided_at") - F("created_at"), output_field=DurationField())
    escalated = Exists(ApprovalTask.objects.filter(escalated_from=OuterRef("pk")))
    automatic = Q(status__in=[TaskStatus.APPROVED, TaskStatus.REJECTED], decided_by__isnull=True)

    step_rows = (
        period.values(*STEP_KEYS)
        .annotate(
            position=Min("step_index"),
            tasks=Count("pk"),
            decided=Count("pk", filter=decided),
            average=Avg(duration, filter=decided),
            breaches=Count("pk", filter=breached),
            escalations=Count("pk", filter=Q(escalated)),
            auto_decisions=Count("pk", filter=automatic),
            open=Count("pk", filter=Q(status=TaskStatus.PENDING)),
        )
        .order_by(*STEP_KEYS)
    )
    step_durations: dict[tuple[Any, ...], list[dt.timedelta]] = defaultdict(list)
    for *key, created_at, decided_at in period.filter(decided).values_list(
        *STEP_KEYS, "created_at", "decided_at"
    ):
        step_durations[tuple(key)].append(decided_at - created_at)
    steps = [
        StepRow(
            document_type=row["request__document_type"],
            label=_label(row["request__document_type"]),
            policy_id=row["request__version__policy_id"],
            policy_name=row["request__version__policy__name"] or "",
            step_name=row["step_name"],
            position=row["position"],
            tasks=row["tasks"],
            decided=row["decided"],
            average_seconds=_seconds(row["average"]),
            median_seconds=_median(step_durations[tuple(row[key] for key in STEP_KEYS)]),
            breaches=row["breaches"],
            breach_percent=_percent(row["breaches"], row["tasks"]),
            escalations=row["escalations"],
            auto_decisions=row["auto_decisions"],
            open=row["open"],
        )
        for row in step_rows
    ]
    steps.sort(key=lambda row: (row.label, row.policy_name, row.position, row.step_name))

    personal = decided & Q(decided_by__isnull=False)
    approver_rows = (
        period.values("assignee_id")
        .annotate(
            tasks=Count("pk"),
            decided=Count("pk", filter=personal),
            average=Avg(duration, filter=personal),
            breaches=Count("pk", filter=breached),
        )
        .order_by("assignee_id")
    )
    approver_durations: dict[int, list[dt.timedelta]] = defaultdict(list)
    for assignee_id, created_at, decided_at in period.filter(personal).values_list(
        "assignee_id", "created_at", "decided_at"
    ):
        if decided_at is not None:  # always set on a decided task
            approver_durations[assignee_id].append(decided_at - created_at)
    waiting = (
        scoped.filter(status=TaskStatus.PENDING, request__status="pending")
        .values("assignee_id")
        .annotate(
            open=Count("pk"),
            overdue=Count("pk", filter=Q(due_at__isnull=False, due_at__lte=now)),
        )
        .order_by("assignee_id")
    )
    rows: dict[int, ApproverRow] = {}
    for row in approver_rows:
        rows[row["assignee_id"]] = ApproverRow(
            user_id=row["assignee_id"],
            username="",
            name="",
            tasks=row["tasks"],
            decided=row["decided"],
            average_seconds=_seconds(row["average"]),
            median_seconds=_median(approver_durations[row["assignee_id"]]),
            breaches=row["breaches"],
            breach_percent=_percent(row["breaches"], row["tasks"]),
        )
    for now_row in waiting:
        found = rows.setdefault(
            now_row["assignee_id"],
            ApproverRow(user_id=now_row["assignee_id"], username="", name=""),
        )
        found.open = now_row["open"]
        found.overdue = now_row["overdue"]
    for user in User.objects.filter(pk__in=rows):
        rows[user.pk].username = user.username
        rows[user.pk].name = str(user)
    sort = filters.sort if filters.sort in APPROVER_SORTS else DEFAULT_APPROVER_SORT
    return ApprovalsReport(
        date_from=filters.date_from,
        date_to=filters.date_to,
        document_type=filters.document_type,
        node=filters.node,
        generated_at=now,
        sort=sort,
        steps=steps,
        approvers=sort_approvers(list(rows.values()), sort),
    )


def sort_approvers(rows: list[ApproverRow], sort: str) -> list[ApproverRow]:
    """By name (A–Z), or by a figure, largest (slowest, most) first; ties by name."""
    if sort == "name":
        return sorted(rows, key=lambda row: (row.name.lower(), row.user_id))
    attribute = {"average": "average_seconds", "median": "median_seconds"}.get(sort, sort)

    def key(row: ApproverRow) -> tuple[int, Any, str, int]:
        value = getattr(row, attribute)
        return (value is None, -(value or 0), row.name.lower(), row.user_id)

    return sorted(rows, key=key)


# --- CSV ---------------------------------------------------------------------------------------

BOM = "\ufeff"


def duration_text(seconds: int | None) -> str:
    """A duration as people read it: "2 d 3 h", "3 h 20 min", "12 min"; empty for none."""
    if seconds is None:
        return ""
    minutes = round(seconds / 60)
    days, minutes = divmod(minutes, 60 * 24)
    hours, minutes = divmod(minutes, 60)
    if days:
        if not hours:
            return _("%(days)d d") % {"days": days}
        return _("%(days)d d %(hours)d h") % {"days": days, "hours": hours}
    if hours:
        if not minutes:
            return _("%(hours)d h") % {"hours": hours}
        return _("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes}
    return _("%(minutes)d min") % {"minutes": minutes}


def _hours(seconds: int | None) -> str:
    return "" if seconds is None else f"{Decimal(seconds) / 3600:.2f}"


def csv_rows(report: ApprovalsReport, table: str = "steps") -> Iterable[Sequence[Any]]:
    """The steps table (or, with table="approvers", the approvers table) as CSV rows; hours
    with two decimals so a spreadsheet can sum and sort them."""
    if table == "approvers":
        yield [
            _("Username"),
            _("Name"),
            _("Tasks"),
            _("Decided"),
            _("Average hours to decide"),
            _("Median hours to decide"),
            _("SLA breaches"),
            _("Breach %"),
            _("Open now"),
            _("Overdue now"),
        ]
        for approver in report.approvers:
            yield [
                approver.username,
                approver.name,
                approver.tasks,
                approver.decided,
                _hours(approver.average_seconds),
                _hours(approver.median_seconds),
                approver.breaches,
                approver.breach_percent,
                approver.open,
                approver.overdue,
            ]
        return
    yield [
        _("Document type"),
        _("Policy"),
        _("Step"),
        _("Tasks"),
        _("Decided"),
        _("Average hours to decide"),
        _("Median hours to decide"),
        _("SLA breaches"),
        _("Breach %"),
        _("Escalations"),
        _("Automatic decisions"),
        pgettext("tasks", "Open"),
    ]
    for step in report.steps:
        yield [
            step.label,
            step.policy_name,
            step.step_name,
            step.tasks,
            step.decided,
            _hours(step.average_seconds),
            _hours(step.median_seconds),
            step.breaches,
            step.breach_percent,
            step.escalations,
            step.auto_decisions,
            step.open,
        ]


def to_csv(rows: Iterable[Sequence[Any]]) -> str:
    """CSV text with a UTF-8 byte-order mark, so Excel reads Chinese names correctly."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([_safe(value) for value in row])
    return buffer.getvalue()


def _safe(value: Any) -> Any:
    """Policy and step names are typed by people: never let a spreadsheet read them as a
    formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_filename(report: ApprovalsReport, table: str) -> str:
    return f"approvals-{table}-{report.date_from:%Y%m%d}-{report.date_to:%Y%m%d}.csv"
