"""Approvers' and requesters' pages: "My approvals" (the inbox), a request's detail, and
"My requests" (see docs/approvals.md, "Inbox").

- The inbox lists the pending tasks assigned to the signed-in user (delegated ones too, marked
  "on behalf of"), oldest first, as phone-first cards with the document's key facts, how long
  each has waited and its SLA due time. Approve is one tap; Reject and Return open a small
  inline form (a `<details>`, no script) that needs a reason.
- A decision posts to `inbox_decide`. With HTMX the card is replaced by its new state (the
  outcome, or the error with nothing changed) and the answer is 200 so HTMX swaps it; without
  scripts a success redirects to the inbox with a message, and an error renders the inbox again
  with the error on the card: 409 for a conflict (not your task, already decided, request
  closed), 422 for a missing reason.
- A request is visible to its requester, the people with a task on it (assigned or delegated
  away) and holders of `approvals.manage` at its node; to everyone else it does not exist (404).
- Withdraw and resubmit are the requester's alone (another user gets a 404).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from itertools import batched
from typing import Any

from django.contrib import messages
from django.db.models import Prefetch, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from backroom.approvals import runtime, selectors
from backroom.approvals.choices import RequestStatus, TaskStatus
from backroom.approvals.models import ApprovalRequest, ApprovalTask
from backroom.approvals.permissions import APPROVALS_MANAGE
from backroom.approvals.registry import get_document_type, is_registered
from backroom.kernel import clock
from backroom.kernel.exceptions import DomainError, NotFound, ValidationFailed
from backroom.org.models import LegalEntity
from backroom.web.errors import page
from backroom.web.exports import Column, export_format, export_table
from backroom.web.forms import posted_id

EXPORT_CHUNK = 500  # requests fetched (with their tasks and currencies) at a time by an export
REQUESTS_SHOWN = 200

DECISIONS = {
    "approve": runtime.Decision.APPROVE,
    "reject": runtime.Decision.REJECT,
    "return": runtime.Decision.RETURN,
}


# --- facts shown on cards --------------------------------------------------------------------


def _label(code: str) -> str:
    return str(get_document_type(code).label) if is_registered(code) else code


def _base_currencies(requests: Sequence[ApprovalRequest]) -> dict[int, str]:
    """Each request's base currency (its node's legal entity), in one query for them all."""
    ancestors = {r.pk: r.org_node.ancestor_ids() for r in requests}
    wanted = {node_id for ids in ancestors.values() for node_id in ids}
    by_node = dict(
        LegalEntity.objects.filter(node_id__in=wanted).values_list("node_id", "base_currency")
    )
    found = {}
    for request_id, ids in ancestors.items():
        currencies = [by_node[node_id] for node_id in ids if node_id in by_node]
        found[request_id] = currencies[-1] if currencies else ""
    return found


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


def _local(moment: dt.datetime | None) -> dt.datetime | None:
    """A moment as the chain's wall-clock time, to the second, without a zone (for a file)."""
    if moment is None:
        return None
    return timezone.localtime(moment).replace(tzinfo=None, microsecond=0)


@dataclass
class Facts:
    """A request's key facts: what, where, how much, who and when."""

    request: ApprovalRequest
    label: str
    amount: Decimal | None
    currency: str
    base_amount: Decimal | None
    base_currency: str

    @property
    def shows_base(self) -> bool:
        """The document is in another currency than the base: show both amounts."""
        return bool(self.currency) and self.currency != self.base_currency


def facts_of(requests: Sequence[ApprovalRequest]) -> dict[int, Facts]:
    currencies = _base_currencies(requests)
    result = {}
    for request in requests:
        base = _decimal(request.fields.get("amount"))
        base_currency = currencies.get(request.pk, "")
        own = request.document_amount if request.document_currency else None
        result[request.pk] = Facts(
            request=request,
            label=_label(request.document_type),
            amount=own if own is not None else base,
            currency=request.document_currency or base_currency,
            base_amount=base,
            base_currency=base_currency,
        )
    return result


@dataclass
class Card:
    """One inbox card: a task of the user's, or what became of it after a decision."""

    task: ApprovalTask
    facts: Facts
    now: dt.datetime
    done: str = ""
    error: str = ""
    reason_error: str = ""
    open_form: str = ""

    @property
    def waited(self) -> str:
        return timesince(self.task.created_at, self.now)

    @property
    def overdue(self) -> bool:
        return self.task.due_at is not None and self.task.due_at <= self.now

    @property
    def decidable(self) -> bool:
        return (
            not self.done
            and self.task.status == TaskStatus.PENDING
            and self.task.request.status == RequestStatus.PENDING
        )

    @property
    def bulk_eligible(self) -> bool:
        """Low value (see `runtime.is_bulk_eligible`): offered for "Approve selected"."""
        return self.decidable and runtime.is_bulk_eligible(self.task.request)


def _inbox_tasks(user: Any) -> list[ApprovalTask]:
    return list(
        ApprovalTask.objects.filter(
            assignee_id=user.pk,
            status=TaskStatus.PENDING,
            request__status=RequestStatus.PENDING,
        )
        .select_related("request__org_node", "request__requester", "on_behalf_of")
        .order_by("created_at", "pk")
    )


def _cards(tasks: list[ApprovalTask]) -> list[Card]:
    facts = facts_of([task.request for task in tasks])
    now = clock.now()
    return [Card(task=task, facts=facts[task.request_id], now=now) for task in tasks]


def pending_count(user: Any) -> int:
    """How many tasks wait for the user (the inbox's count)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return 0
    return ApprovalTask.objects.filter(
        assignee_id=user.pk, status=TaskStatus.PENDING, request__status=RequestStatus.PENDING
    ).count()


# --- the inbox -------------------------------------------------------------------------------


def _render_inbox(
    request: HttpRequest,
    *,
    failed: Card | None = None,
    status: int = 200,
    results: list[Card] | None = None,
    bulk: dict[str, Any] | None = None,
) -> HttpResponse:
    cards = _cards(_inbox_tasks(request.user))
    if failed is not None:
        cards = [failed if card.task.pk == failed.task.pk else card for card in cards]
        if all(card.task.pk != failed.task.pk for card in cards):
            cards.insert(0, failed)
    if results:
        # A bulk approval's cards come first, each with its outcome; the rest as usual.
        shown = {card.task.pk for card in results}
        cards = results + [card for card in cards if card.task.pk not in shown]
    return render(
        request,
        "approvals/inbox.html",
        {
            "title": _("My approvals"),
            # A failed decision renders the inbox at the decision's URL: export from the inbox.
            "export_base": reverse("approvals:inbox"),
            "cards": cards,
            "waiting": sum(card.decidable for card in cards),
            "bulk": bulk or {},
            "bulk_limit": runtime.bulk_max_amount(),
            "has_bulk": any(card.bulk_eligible for card in cards),
        },
        status=status,
    )


INBOX_COLUMNS = [
    Column(gettext_lazy("Number"), lambda card: card.task.request.document_id),
    Column(gettext_lazy("Kind"), lambda card: card.facts.label),
    Column(gettext_lazy("Requester"), lambda card: str(card.task.request.requester)),
    Column(gettext_lazy("Store code"), lambda card: card.task.request.org_node.code),
    Column(gettext_lazy("Store"), lambda card: card.task.request.org_node.name),
    Column(gettext_lazy("Step"), lambda card: card.task.step_name),
    Column(
        gettext_lazy("On behalf of"),
        lambda card: str(card.task.on_behalf_of) if card.task.on_behalf_of else "",
    ),
    Column(gettext_lazy("Submitted at"), lambda card: _local(card.task.request.submitted_at)),
    Column(gettext_lazy("Waiting since"), lambda card: _local(card.task.created_at)),
    Column(gettext_lazy("Days waiting"), lambda card: (card.now - card.task.created_at).days),
    Column(gettext_lazy("Due at"), lambda card: _local(card.task.due_at)),
    Column(gettext_lazy("Overdue"), lambda card: card.overdue),
    Column(gettext_lazy("Amount"), lambda card: card.facts.amount),
    Column(
        gettext_lazy("Currency"),
        lambda card: card.facts.currency if card.facts.amount is not None else "",
    ),
]


@page()
def inbox(request: HttpRequest) -> HttpResponse:
    """The tasks waiting for the signed-in user, oldest first; `?export=xlsx|csv` downloads
    them (only the user's own tasks, delegated ones too)."""
    if wanted := export_format(request):
        return export_table(
            wanted, "my-approvals", INBOX_COLUMNS, _cards(_inbox_tasks(request.user))
        )
    return _render_inbox(request)


def _fresh_card(task_id: int, **values: Any) -> Card:
    task = ApprovalTask.objects.select_related(
        "request__org_node", "request__requester", "on_behalf_of"
    ).get(pk=task_id)
    return Card(
        task=task, facts=facts_of([task.request])[task.request_id], now=clock.now(), **values
    )


@page()
@require_POST
def inbox_decide(request: HttpRequest, task_id: int) -> HttpResponse:
    """Approve, reject or return one task (see the module for the answers)."""
    task = selectors.get_task(request.user, task_id)  # 404 unless the actor may see it
    decision = DECISIONS.get(request.POST.get("decision", ""))
    reason = request.POST.get("reason", "")
    htmx = request.headers.get("HX-Request") == "true"
    failed: Card | None = None
    status = 200
    try:
        if decision is None:
            raise ValidationFailed({"decision": [_("Approve, reject or return.")]})
        runtime.decide(task.pk, decision, actor=request.user, reason=reason)
    except ValidationFailed as error:
        status = 422
        texts = [str(text) for texts in error.errors.values() for text in texts]
        failed = _fresh_card(
            task.pk,
            reason_error=" ".join(error.errors.get("reason", [])),
            error="" if "reason" in error.errors else " ".join(texts) or str(error.message),
            open_form=request.POST.get("decision", ""),
        )
    except DomainError as error:
        if error.http_status == 404:
            raise
        status = error.http_status
        failed = _fresh_card(
            task.pk, error=_("Nothing was changed: %(error)s") % {"error": error.message}
        )
    if failed is not None:
        if htmx:
            return render(request, "approvals/inbox.html#card", {"card": failed})
        return _render_inbox(request, failed=failed, status=status)
    assert decision is not None  # a missing one failed above
    done = {
        runtime.Decision.APPROVE: _("Approved."),
        runtime.Decision.REJECT: _("Rejected."),
        runtime.Decision.RETURN: _("Returned to the requester."),
    }[decision]
    if htmx:
        return render(
            request, "approvals/inbox.html#card", {"card": _fresh_card(task.pk, done=done)}
        )
    messages.success(request, done)
    return redirect("approvals:inbox")


@page()
@require_POST
def inbox_bulk(request: HttpRequest) -> HttpResponse:
    """Approve the selected low-value tasks (`task` checkboxes), each on its own through the
    same checks as one approval; the inbox comes back with every selected card's outcome
    (approved, or the error with nothing changed for it). A task that is not the user's (or
    that they cannot see) is only counted, never shown. No selection (or too many) is a 422."""
    task_ids = [posted_id(value) for value in request.POST.getlist("task")]
    try:
        outcomes = runtime.bulk_approve(
            [task_id for task_id in task_ids if task_id is not None], actor=request.user
        )
    except ValidationFailed as error:
        texts = [str(text) for texts in error.errors.values() for text in texts]
        return _render_inbox(
            request, status=422, bulk={"error": " ".join(texts) or str(error.message)}
        )
    # Cards only for the user's own tasks: someone else's (or an unseen one) is only counted.
    tasks = {
        task.pk: task
        for task in ApprovalTask.objects.filter(
            pk__in=[o.task_id for o in outcomes if o.request_id is not None],
            assignee_id=request.user.pk,
        ).select_related("request__org_node", "request__requester", "on_behalf_of")
    }
    visible = [outcome for outcome in outcomes if outcome.task_id in tasks]
    facts = facts_of([task.request for task in tasks.values()])
    now = clock.now()
    results = [
        Card(
            task=tasks[outcome.task_id],
            facts=facts[tasks[outcome.task_id].request_id],
            now=now,
            done=_("Approved.") if outcome.approved else "",
            error=""
            if outcome.approved
            else _("Not approved: %(error)s") % {"error": outcome.message},
        )
        for outcome in visible
    ]
    approved = sum(outcome.approved for outcome in outcomes)
    return _render_inbox(
        request,
        results=results,
        bulk={
            "approved": approved,
            "failed": len(outcomes) - approved,
            "hidden": len(outcomes) - len(visible),
        },
    )


# --- requests --------------------------------------------------------------------------------


def visible_request(actor: Any, request_id: int) -> ApprovalRequest:
    """A request the actor may see: the requester, someone with a task on it, or a holder of
    `approvals.manage` at its node; else NotFound (never telling whether it exists)."""
    found = (
        ApprovalRequest.objects.select_related("org_node", "requester", "version__policy")
        .filter(pk=request_id)
        .first()
    )
    if found is None or actor is None or not getattr(actor, "is_authenticated", False):
        raise NotFound()
    if found.requester_id == actor.pk:
        return found
    if found.tasks.filter(Q(assignee_id=actor.pk) | Q(on_behalf_of_id=actor.pk)).exists():
        return found
    if actor.has_scoped_permission(APPROVALS_MANAGE, found.org_node):
        return found
    raise NotFound()


@dataclass
class RouteStep:
    position: int
    name: str
    mode: str
    skipped: bool
    current: bool
    tasks: list[ApprovalTask]


@page()
def request_detail(request: HttpRequest, request_id: int) -> HttpResponse:
    """A request's route (steps, tasks, who decided what and when) and its full history."""
    approval = visible_request(request.user, request_id)
    tasks = list(selectors.tasks_of(approval))
    steps = [
        RouteStep(
            position=index,
            name=step["name"],
            mode=step["mode"],
            skipped=step["skipped"],
            current=approval.current_step == index and approval.status == RequestStatus.PENDING,
            tasks=[t for t in tasks if t.round == approval.round and t.step_index == index],
        )
        for index, step in enumerate(approval.route)
    ]
    return render(
        request,
        "approvals/request_detail.html",
        {
            "title": f"{_label(approval.document_type)} {approval.document_id}",
            "approval": approval,
            "facts": facts_of([approval])[approval.pk],
            "steps": steps,
            "earlier_tasks": [t for t in tasks if t.round != approval.round],
            "history": list(selectors.history_of(approval).select_related("task__assignee")),
            "my_tasks": [
                t for t in tasks if t.assignee_id == request.user.pk and t.status == "pending"
            ],
            "is_requester": approval.requester_id == request.user.pk,
        },
    )


@dataclass
class RequestRow:
    facts: Facts
    step_name: str
    approvers: list[str]
    since: dt.datetime | None

    @property
    def request(self) -> ApprovalRequest:
        return self.facts.request


REQUEST_COLUMNS = [
    Column(gettext_lazy("Number"), lambda row: row.request.document_id),
    Column(gettext_lazy("Kind"), lambda row: row.facts.label),
    Column(gettext_lazy("Store code"), lambda row: row.request.org_node.code),
    Column(gettext_lazy("Store"), lambda row: row.request.org_node.name),
    Column(gettext_lazy("Status"), lambda row: str(row.request.get_status_display())),
    Column(gettext_lazy("Waiting at"), lambda row: row.step_name),
    Column(gettext_lazy("Approvers"), lambda row: ", ".join(row.approvers)),
    Column(gettext_lazy("Submitted at"), lambda row: _local(row.request.submitted_at)),
    Column(gettext_lazy("Decided at"), lambda row: _local(row.request.decided_at)),
    Column(gettext_lazy("Amount"), lambda row: row.facts.amount),
    Column(
        gettext_lazy("Currency"),
        lambda row: row.facts.currency if row.facts.amount is not None else "",
    ),
]


def _my_requests(user: Any) -> QuerySet[ApprovalRequest]:
    """The user's own requests, newest first, each with its pending tasks (`pending`)."""
    pending = ApprovalTask.objects.filter(status=TaskStatus.PENDING).select_related(
        "assignee", "on_behalf_of"
    )
    return selectors.requests_for(user, box="mine").prefetch_related(
        Prefetch("tasks", queryset=pending.order_by("created_at", "pk"), to_attr="pending")
    )


def _every_request_row(user: Any) -> Iterator[RequestRow]:
    """Every request of the user's as a row, a chunk at a time."""
    found = _my_requests(user).iterator(chunk_size=EXPORT_CHUNK)
    for chunk in batched(found, EXPORT_CHUNK):
        yield from _request_rows(chunk)


@page()
def my_requests(request: HttpRequest) -> HttpResponse:
    """The requests the signed-in user submitted: where each waits and since when;
    `?export=xlsx|csv` downloads every one of them, not only the newest shown."""
    if wanted := export_format(request):
        return export_table(
            wanted, "my-requests", REQUEST_COLUMNS, _every_request_row(request.user)
        )
    rows = _request_rows(list(_my_requests(request.user)[:REQUESTS_SHOWN]))
    return render(request, "approvals/my_requests.html", {"title": _("My requests"), "rows": rows})


def _request_rows(requests: Sequence[ApprovalRequest]) -> list[RequestRow]:
    """Where each request waits, at whom and since when (its pending tasks prefetched)."""
    facts = facts_of(requests)
    rows = []
    for approval in requests:
        waiting = [t for t in approval.pending if t.round == approval.round]  # type: ignore[attr-defined]
        step_name = ""
        if approval.status == RequestStatus.PENDING and approval.current_step is not None:
            step_name = approval.route[approval.current_step]["name"]
        rows.append(
            RequestRow(
                facts=facts[approval.pk],
                step_name=step_name,
                approvers=[
                    str(t.assignee)
                    + (
                        " " + _("(on behalf of %(user)s)") % {"user": t.on_behalf_of}
                        if t.on_behalf_of
                        else ""
                    )
                    for t in waiting
                ],
                since=min((t.created_at for t in waiting), default=None)
                if waiting
                else approval.decided_at or approval.updated_at,
            )
        )
    return rows


def _own_request(actor: Any, request_id: int) -> ApprovalRequest:
    found = ApprovalRequest.objects.filter(pk=request_id, requester_id=actor.pk).first()
    if found is None:
        raise NotFound()
    return found


@page()
@require_POST
def request_withdraw(request: HttpRequest, request_id: int) -> HttpResponse:
    """The requester takes the document back (while it is pending or returned)."""
    approval = _own_request(request.user, request_id)
    try:
        runtime.withdraw(approval, actor=request.user, reason=request.POST.get("reason", ""))
    except DomainError as error:
        if error.http_status == 404:
            raise
        messages.error(request, _("Nothing was changed: %(error)s") % {"error": error.message})
    else:
        messages.success(request, _("The request is withdrawn."))
    return redirect("approvals:my_requests")


@page()
@require_POST
def request_resubmit(request: HttpRequest, request_id: int) -> HttpResponse:
    """A returned request goes round again (same policy version, approvers resolved anew)."""
    approval = _own_request(request.user, request_id)
    try:
        runtime.resubmit(approval, actor=request.user, comment=request.POST.get("comment", ""))
    except DomainError as error:
        if error.http_status == 404:
            raise
        messages.error(request, _("Nothing was changed: %(error)s") % {"error": error.message})
    else:
        messages.success(request, _("The request is submitted again."))
    return redirect("approvals:my_requests")


urlpatterns = [
    path("inbox/", inbox, name="inbox"),
    path("inbox/<int:task_id>/decide/", inbox_decide, name="inbox_decide"),
    path("inbox/bulk-approve/", inbox_bulk, name="inbox_bulk"),
    path("requests/", my_requests, name="my_requests"),
    path("requests/<int:request_id>/", request_detail, name="request_detail"),
    path("requests/<int:request_id>/withdraw/", request_withdraw, name="request_withdraw"),
    path("requests/<int:request_id>/resubmit/", request_resubmit, name="request_resubmit"),
]
