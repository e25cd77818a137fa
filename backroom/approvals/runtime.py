"""The approval runtime: requests pinned to a policy version, tasks, decisions, delegation, SLA.

Rules (see docs/approvals.md, "Runtime"):

- `submit` selects the policy in force (`services.select_policy`), pins its version and resolves
  the route once: the applicable steps with their approvers (as user ids). A running request
  never looks at the policy again; a resubmission re-resolves with the same pinned version.
- No policy matches → the request is approved at once (recorded as `auto_approved`).
- A step with no resolvable approver refuses the submission (`no_approver`), creates nothing,
  and publishes the admin alert `approvals.route.unresolved` (committed on its own).
- Unless the version allows self-approval, the requester is never an approver: they are left out
  of each step, a step with no one else is skipped (recorded). When every step would be skipped,
  the first goes to the requester's manager instead; without one the request is refused
  (`self_approval`). Deciding one's own request is refused likewise.
- Every decision locks the request row first (`select_for_update`), so concurrent decisions on
  one request run one after another and each sees the other's effect: exactly one counts.
- Final states (approved, rejected, withdrawn) call the document type's decision hooks inside the
  transaction; `is_approved` is true only once the last step is approved.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from backroom.accounts.authorization import require_permission
from backroom.accounts.models import User
from backroom.accounts.permissions import ORG_VIEW
from backroom.approvals.choices import (
    BreachAction,
    HistoryAction,
    RequestStatus,
    StepMode,
    TaskStatus,
)
from backroom.approvals.conditions import to_cel_values
from backroom.approvals.events import (
    DelegationCancelled,
    DelegationCreated,
    RequestApproved,
    RequestRejected,
    RequestResubmitted,
    RequestReturned,
    RequestSubmitted,
    RequestWithdrawn,
    RouteUnresolved,
    TaskAssigned,
    TaskDecided,
    TaskEscalated,
    TaskReminded,
)
from backroom.approvals.exceptions import (
    AboveBulkLimit,
    AlreadyDecided,
    ApprovalRequired,
    NoApprover,
    NotYourTask,
    RequestClosed,
    RequestOpen,
    SelfApproval,
)
from backroom.approvals.models import (
    ApprovalHistory,
    ApprovalRequest,
    ApprovalTask,
    Delegation,
    PolicyVersion,
)
from backroom.approvals.permissions import APPROVALS_MANAGE, APPROVALS_SUBMIT
from backroom.approvals.registry import get_document_type
from backroom.approvals.services import document_node, preview_route, select_policy
from backroom.audit.services import record_audit
from backroom.events.services import publish
from backroom.kernel import clock
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import DomainError, NotFound, PermissionDenied, ValidationFailed
from backroom.org.models import OrgNode

MAX_REASON = 2000

# --- decision hooks ----------------------------------------------------------------------------

DecisionHook = Callable[[ApprovalRequest], None]
_hooks: dict[str, list[DecisionHook]] = defaultdict(list)


def register_decision_hook(document_type: str, hook: DecisionHook) -> DecisionHook:
    """Call `hook(request)` when a request of `document_type` reaches a final state (approved,
    rejected, withdrawn), inside the deciding transaction: an exception rolls the decision back.
    Registering the same hook twice is a no-op."""
    if hook not in _hooks[document_type]:
        _hooks[document_type].append(hook)
    return hook


def unregister_decision_hook(document_type: str, hook: DecisionHook) -> None:
    if hook in _hooks[document_type]:
        _hooks[document_type].remove(hook)


def _run_hooks(request: ApprovalRequest) -> None:
    for hook in list(_hooks.get(request.document_type, [])):
        hook(request)


# --- reads the documents' apps use -------------------------------------------------------------


def latest_request(document_type: str, document_id: str) -> ApprovalRequest | None:
    """The newest request of a document (any state)."""
    return (
        ApprovalRequest.objects.filter(document_type=document_type, document_id=str(document_id))
        .order_by("-pk")
        .first()
    )


def is_approved(document_type: str, document_id: str) -> bool:
    """True only when the document's newest request is finally approved (every step)."""
    request = latest_request(document_type, document_id)
    return request is not None and request.status == RequestStatus.APPROVED


def require_approved(document_type: str, document_id: str) -> None:
    """Raise `approval_required` unless the document is approved: call before a document moves
    on (send a PO, post a write-off), from pages and API alike."""
    if not is_approved(document_type, document_id):
        raise ApprovalRequired(
            details={"document_type": document_type, "document_id": str(document_id)}
        )


# --- helpers -----------------------------------------------------------------------------------


def _user(actor: Any) -> User | None:
    return actor if isinstance(actor, User) else None


def _actor_id(actor: Any) -> int | None:
    user = _user(actor)
    return user.pk if user is not None else None


def _request_state(request: ApprovalRequest) -> dict[str, Any]:
    return {
        "status": request.status,
        "round": request.round,
        "current_step": request.current_step,
        "version_id": request.version_id,
    }


def _history(
    request: ApprovalRequest,
    action: str,
    *,
    actor: Any = None,
    task: ApprovalTask | None = None,
    on_behalf_of: User | None = None,
    reason: str = "",
    comment: str = "",
) -> ApprovalHistory:
    return ApprovalHistory.objects.create(
        request=request,
        task=task,
        round=request.round,
        action=action,
        actor=_user(actor),
        on_behalf_of=on_behalf_of,
        occurred_at=clock.now(),
        reason=reason,
        comment=comment,
    )


def _request_event(cls: type, request: ApprovalRequest, actor: Any, reason: str = "") -> Any:
    return cls(
        request_id=request.pk,
        document_type=request.document_type,
        document_id=request.document_id,
        status=request.status,
        round=request.round,
        actor_id=_actor_id(actor),
        reason=reason,
    )


def _task_fields(task: ApprovalTask) -> dict[str, Any]:
    return {
        "task_id": task.pk,
        "request_id": task.request_id,
        "document_type": task.request.document_type,
        "document_id": task.request.document_id,
        "step_name": task.step_name,
        "assignee_id": task.assignee_id,
        "on_behalf_of_id": task.on_behalf_of_id,
    }


def _clean_reason(value: str, field: str, *, required: bool) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationFailed({field: [_("Give a reason.")]})
    if len(value) > MAX_REASON or "\x00" in value:
        raise ValidationFailed({field: [_("At most 2000 characters of text.")]})
    return value


# --- planning the route ------------------------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    """What a document's app gives when it asks for approval."""

    document_type: str
    document_id: str
    fields: Mapping[str, Any]
    org_node: OrgNode | None = None
    document_currency: str = ""
    document_amount: Decimal | None = None


def _routing_fields(document_type: str, fields: Mapping[str, Any], requester: User) -> dict:
    """The fields as stored and routed: `requester` filled in when the type declares it."""
    definition = get_document_type(document_type)
    values = dict(fields)
    if definition.get_field("requester") is not None and not values.get("requester"):
        values["requester"] = requester.pk
    to_cel_values(definition, values)  # every bad value at once, as ValidationFailed
    return values


def _plan(
    version: PolicyVersion, fields: Mapping[str, Any], node: OrgNode, requester: User
) -> list[dict[str, Any]]:
    """The route of a request: applicable steps with approver ids. Raises NoApprover or
    SelfApproval (after publishing the admin alert for a missing approver)."""
    document_type = version.policy.document_type
    plan = []
    for step in preview_route(version, document_type, fields, org_node=node):
        if not step.applies:
            continue
        if step.problem:
            message = _("Step “%(step)s” has no approver: %(problem)s") % {
                "step": step.name,
                "problem": step.problem,
            }
            details = {"step": step.name, "position": step.position, "problem": step.problem}
            raise NoApprover(message, details=details)
        approver_ids = [approver.user_id for approver in step.approvers]
        if not version.allow_self_approval:
            approver_ids = [user_id for user_id in approver_ids if user_id != requester.pk]
        plan.append(
            {
                "position": step.position,
                "name": step.name,
                "mode": step.mode,
                "sla_hours": step.sla_hours,
                "on_breach": step.on_breach,
                "approver_ids": approver_ids,
                "skipped": not approver_ids,
            }
        )
    if plan and all(step["skipped"] for step in plan):
        _to_requesters_manager(plan, requester)
    if plan and all(step["skipped"] for step in plan):
        raise SelfApproval(
            _("Only you could approve this request, and this policy does not allow that."),
            details={"steps": [step["name"] for step in plan]},
        )
    return plan


def _to_requesters_manager(plan: list[dict[str, Any]], requester: User) -> None:
    """Only the requester could approve: their first step goes one level up, to their manager
    (when they have an active one who is not themselves), instead of refusing the request. A
    store manager's own write-off then goes to the region manager."""
    manager = requester.manager
    if manager is None or not manager.is_active or manager.pk == requester.pk:
        return
    step = plan[0]
    step["approver_ids"] = [manager.pk]
    step["skipped"] = False
    step["to_requesters_manager"] = True


def _alert_unresolved(
    document_type: str, document_id: str, version: PolicyVersion | None, error: NoApprover
) -> None:
    """The admin alert, committed on its own although the submission is refused."""
    with transaction.atomic():
        publish(
            RouteUnresolved(
                document_type=document_type,
                document_id=document_id,
                policy_id=version.policy_id if version else None,
                version=version.number if version else None,
                step_name=str(error.details.get("step", "")),
                problem=str(error.details.get("problem", error.message)),
            )
        )


def _plan_or_alert(
    request_document: tuple[str, str],
    version: PolicyVersion,
    fields: Mapping[str, Any],
    node: OrgNode,
    requester: User,
) -> list[dict[str, Any]]:
    try:
        return _plan(version, fields, node, requester)
    except NoApprover as error:
        _alert_unresolved(request_document[0], request_document[1], version, error)
        raise


# --- tasks -------------------------------------------------------------------------------------


def active_delegation(user_id: int, at: dt.datetime) -> Delegation | None:
    """The delegation in force for a user at an instant (the newest if several)."""
    return (
        Delegation.objects.select_related("delegate")
        .filter(
            delegator_id=user_id,
            starts_at__lte=at,
            ends_at__gt=at,
            cancelled_at__isnull=True,
            delegate__is_active=True,
        )
        .order_by("-starts_at", "-pk")
        .first()
    )


def _assign(
    request: ApprovalRequest,
    step_index: int,
    user_id: int,
    *,
    escalated_from: ApprovalTask | None = None,
) -> ApprovalTask:
    """Create a pending task for a user (or their delegate), with its due time."""
    step = request.route[step_index]
    now = clock.now()
    assignee_id, on_behalf_of_id = user_id, None
    delegation = active_delegation(user_id, now)
    allow_self = request.version is not None and request.version.allow_self_approval
    if delegation is not None and (allow_self or delegation.delegate_id != request.requester_id):
        assignee_id, on_behalf_of_id = delegation.delegate_id, user_id
    task = ApprovalTask.objects.create(
        request=request,
        round=request.round,
        step_index=step_index,
        step_name=step["name"],
        mode=step["mode"],
        assignee_id=assignee_id,
        on_behalf_of_id=on_behalf_of_id,
        created_at=now,
        due_at=now + dt.timedelta(hours=step["sla_hours"]) if step["sla_hours"] else None,
        escalated_from=escalated_from,
    )
    _history(request, HistoryAction.ASSIGNED, task=task, on_behalf_of=task.on_behalf_of)
    publish(
        TaskAssigned(**_task_fields(task), due_at=task.due_at.isoformat() if task.due_at else None),
        org_node=request.org_node,
    )
    return task


def _start_step(request: ApprovalRequest, step_index: int, actor: Any) -> None:
    """Open the first non-skipped step from `step_index`; with none left, approve the request."""
    while step_index < len(request.route) and request.route[step_index]["skipped"]:
        _history(
            request,
            HistoryAction.STEP_SKIPPED,
            reason=_("Step “%(step)s”: the requester is its only approver.")
            % {"step": request.route[step_index]["name"]},
        )
        step_index += 1
    if step_index >= len(request.route):
        _finish(request, RequestStatus.APPROVED, actor)
        return
    request.current_step = step_index
    request.save(update_fields=["current_step", "updated_at"])
    approver_ids = request.route[step_index]["approver_ids"]
    if request.route[step_index]["mode"] == StepMode.SEQUENCE:
        approver_ids = approver_ids[:1]
    for user_id in approver_ids:
        _assign(request, step_index, user_id)


def _finish(request: ApprovalRequest, status: str, actor: Any, reason: str = "") -> None:
    """Put a request in a final state, record it, tell the world and the document's app."""
    before = _request_state(request)
    request.status = status
    request.current_step = None
    request.decided_at = clock.now()
    request.save(update_fields=["status", "current_step", "decided_at", "updated_at"])
    _history(request, HistoryAction.COMPLETED, actor=None, reason=reason)
    record_audit(
        actor=actor,
        action=f"approvals.request.{status}",
        target=request,
        before=before,
        after=_request_state(request),
        reason=reason,
        org_node=request.org_node,
    )
    event_class = {
        RequestStatus.APPROVED: RequestApproved,
        RequestStatus.REJECTED: RequestRejected,
        RequestStatus.WITHDRAWN: RequestWithdrawn,
    }[RequestStatus(status)]
    publish(_request_event(event_class, request, actor, reason), org_node=request.org_node)
    _run_hooks(request)


def _cancel_pending(request: ApprovalRequest, *, reason: str, exclude: int | None = None) -> None:
    pending = request.tasks.filter(status=TaskStatus.PENDING)
    if exclude is not None:
        pending = pending.exclude(pk=exclude)
    pending.update(status=TaskStatus.CANCELLED, decided_at=clock.now(), reason=reason)


# --- submit, resubmit, withdraw ----------------------------------------------------------------


def submit(submission: Submission, *, requester: User, actor: Any) -> ApprovalRequest:
    """Start the approval of a document (see the module for the rules).

    The actor is the requester themselves (who must see the document's node) or an app or
    integration holding `approvals.submit` there.
    """
    definition = get_document_type(submission.document_type)
    document_id = str(submission.document_id).strip()
    if not document_id or len(document_id) > 100 or "\x00" in document_id:
        raise ValidationFailed({"document_id": [_("Give the document's id (1–100 characters).")]})
    node = submission.org_node or document_node(definition, submission.fields)
    if node is None:
        raise ValidationFailed({"org_node": [_("The document's store is unknown.")]})
    if _actor_id(actor) == requester.pk and actor is not SYSTEM:
        require_permission(actor, ORG_VIEW, node)
    else:
        require_permission(actor, APPROVALS_SUBMIT, node)
    if not requester.is_active:
        raise ValidationFailed({"requester": [_("The requester is not an active user.")]})
    fields = _routing_fields(submission.document_type, submission.fields, requester)
    version = select_policy(submission.document_type, fields, node)
    plan = (
        _plan_or_alert((submission.document_type, document_id), version, fields, node, requester)
        if version is not None
        else []
    )
    now = clock.now()
    with transaction.atomic():
        if ApprovalRequest.objects.filter(
            document_type=submission.document_type,
            document_id=document_id,
            status__in=[RequestStatus.PENDING, RequestStatus.RETURNED],
        ).exists():
            raise RequestOpen(details={"document_id": document_id})
        try:
            with transaction.atomic():  # a concurrent submission of the same document
                request = ApprovalRequest.objects.create(
                    document_type=submission.document_type,
                    document_id=document_id,
                    org_node=node,
                    requester=requester,
                    fields=fields,
                    document_currency=submission.document_currency,
                    document_amount=submission.document_amount,
                    version=version,
                    route=plan,
                    submitted_at=now,
                )
        except IntegrityError:
            raise RequestOpen(details={"document_id": document_id}) from None
        _history(request, HistoryAction.SUBMITTED, actor=actor)
        record_audit(
            actor=actor,
            action="approvals.request.submit",
            target=request,
            after={**_request_state(request), "fields": fields, "route": plan},
            org_node=node,
        )
        publish(_request_event(RequestSubmitted, request, actor), org_node=node)
        if version is None:
            _history(
                request,
                HistoryAction.AUTO_APPROVED,
                reason=_("No approval policy applies to this document."),
            )
            _finish(request, RequestStatus.APPROVED, SYSTEM)
        else:
            _start_step(request, 0, SYSTEM)
    return request


def check_route(submission: Submission, *, requester: User) -> list[dict[str, Any]]:
    """The route `submit` would resolve for a document, starting nothing: a step without an
    approver raises `no_approver` and publishes the admin alert. A document's app calls this
    before its own transaction, so the alert is committed even though that transaction (and the
    document) is rolled back; `submit` inside the transaction then checks again."""
    definition = get_document_type(submission.document_type)
    node = submission.org_node or document_node(definition, submission.fields)
    if node is None:
        return []
    fields = _routing_fields(submission.document_type, submission.fields, requester)
    version = select_policy(submission.document_type, fields, node)
    if version is None:
        return []
    document = (submission.document_type, str(submission.document_id))
    return _plan_or_alert(document, version, fields, node, requester)


def _lock(request_id: int) -> ApprovalRequest:
    return (
        ApprovalRequest.objects.select_for_update(of=("self",))
        .select_related("version", "org_node", "requester")
        .get(pk=request_id)
    )


def _require_requester(request: ApprovalRequest, actor: Any) -> None:
    if actor is SYSTEM or _actor_id(actor) == request.requester_id:
        return
    require_permission(actor, ORG_VIEW, request.org_node)
    raise PermissionDenied(_("Only the requester can do this."))


def withdraw(request: ApprovalRequest, *, actor: Any, reason: str = "") -> ApprovalRequest:
    """The requester takes the document back: open tasks are cancelled; final."""
    reason = _clean_reason(reason, "reason", required=False)
    _require_requester(request, actor)
    with transaction.atomic():
        request = _lock(request.pk)
        if not request.is_open:
            raise RequestClosed(details={"status": request.status})
        _cancel_pending(request, reason=_("Withdrawn by the requester."))
        _history(request, HistoryAction.WITHDRAWN, actor=actor, reason=reason)
        _finish(request, RequestStatus.WITHDRAWN, actor, reason)
    return request


def resubmit(
    request: ApprovalRequest,
    *,
    actor: Any,
    fields: Mapping[str, Any] | None = None,
    comment: str = "",
) -> ApprovalRequest:
    """A returned request starts a new round with the same pinned version (and, if given, the
    document's changed fields); approvers are resolved again."""
    comment = _clean_reason(comment, "comment", required=False)
    _require_requester(request, actor)
    if request.status != RequestStatus.RETURNED:
        raise RequestClosed(details={"status": request.status})
    requester = request.requester
    version = request.version
    assert version is not None  # only requests with a route can be returned
    values = _routing_fields(
        request.document_type, request.fields if fields is None else fields, requester
    )
    plan = _plan_or_alert(
        (request.document_type, request.document_id), version, values, request.org_node, requester
    )
    with transaction.atomic():
        request = _lock(request.pk)
        if request.status != RequestStatus.RETURNED:
            raise RequestClosed(details={"status": request.status})
        before = _request_state(request)
        request.round += 1
        request.status = RequestStatus.PENDING
        request.fields = values
        request.route = plan
        request.save(update_fields=["round", "status", "fields", "route", "updated_at"])
        _history(request, HistoryAction.RESUBMITTED, actor=actor, comment=comment)
        record_audit(
            actor=actor,
            action="approvals.request.resubmit",
            target=request,
            before=before,
            after={**_request_state(request), "fields": values, "route": plan},
            org_node=request.org_node,
        )
        publish(_request_event(RequestResubmitted, request, actor), org_node=request.org_node)
        _start_step(request, 0, SYSTEM)
    return request


# --- decisions ---------------------------------------------------------------------------------


class Decision:
    APPROVE = "approve"
    REJECT = "reject"
    RETURN = "return"


def _check_decider(task: ApprovalTask, request: ApprovalRequest, actor: Any) -> None:
    """Order matters: someone else's task first, then a closed request, then a decided task."""
    if actor is not SYSTEM and _actor_id(actor) != task.assignee_id:
        raise NotYourTask(details={"task_id": task.pk})
    if request.status != RequestStatus.PENDING:
        raise RequestClosed(details={"status": request.status})
    if task.status != TaskStatus.PENDING:
        raise AlreadyDecided(details={"status": task.status})
    allow_self = request.version is not None and request.version.allow_self_approval
    if actor is not SYSTEM and _actor_id(actor) == request.requester_id and not allow_self:
        raise SelfApproval()


def _advance(request: ApprovalRequest, task: ApprovalTask, actor: Any) -> None:
    """After an approval: close the step when its mode says so, else wait or assign the next."""
    step_index = task.step_index
    step = request.route[step_index]
    in_step = request.tasks.filter(round=request.round, step_index=step_index)
    if step["mode"] == StepMode.ANY_ONE:
        _cancel_pending(request, reason=_("Another approver decided first."))
    elif step["mode"] == StepMode.ALL:
        if in_step.filter(status=TaskStatus.PENDING).exists():
            return
    else:
        done = in_step.filter(status=TaskStatus.APPROVED).count()
        if done < len(step["approver_ids"]):
            _assign(request, step_index, step["approver_ids"][done])
            return
    _start_step(request, step_index + 1, actor)


def decide(
    task: ApprovalTask | int,
    decision: str,
    *,
    actor: Any,
    reason: str = "",
    comment: str = "",
) -> ApprovalTask:
    """Approve, reject (reason required) or return to the requester (reason required).

    The request row is locked first; then the checks run on fresh rows, so of two approvers
    deciding at once exactly one decision counts and the other gets a coded conflict.
    """
    if decision not in (Decision.APPROVE, Decision.REJECT, Decision.RETURN):
        raise ValidationFailed({"decision": [_("Approve, reject or return.")]})
    reason = _clean_reason(reason, "reason", required=decision != Decision.APPROVE)
    comment = _clean_reason(comment, "comment", required=False)
    task_id = task.pk if isinstance(task, ApprovalTask) else task
    request_id = ApprovalTask.objects.values_list("request_id", flat=True).get(pk=task_id)
    with transaction.atomic():
        request = _lock(request_id)
        task = ApprovalTask.objects.select_related("request", "on_behalf_of").get(pk=task_id)
        _check_decider(task, request, actor)
        now = clock.now()
        before = {"status": task.status}
        task.status = {
            Decision.APPROVE: TaskStatus.APPROVED,
            Decision.REJECT: TaskStatus.REJECTED,
            Decision.RETURN: TaskStatus.CANCELLED,
        }[decision]
        task.decided_by = _user(actor)
        task.decided_at = now
        task.reason = reason
        task.save(update_fields=["status", "decided_by", "decided_at", "reason"])
        action = {
            Decision.APPROVE: HistoryAction.APPROVED,
            Decision.REJECT: HistoryAction.REJECTED,
            Decision.RETURN: HistoryAction.RETURNED,
        }[decision]
        _history(
            request,
            action,
            actor=actor,
            task=task,
            on_behalf_of=task.on_behalf_of,
            reason=reason,
            comment=comment,
        )
        record_audit(
            actor=actor,
            action=f"approvals.task.{decision}",
            target=request,
            before={**before, "task_id": task.pk},
            after={"status": task.status, "task_id": task.pk, "step": task.step_name},
            reason=reason,
            org_node=request.org_node,
            on_behalf_of=task.on_behalf_of,
        )
        publish(
            TaskDecided(
                **_task_fields(task),
                status=task.status,
                decided_by_id=task.decided_by_id,
                reason=reason,
            ),
            org_node=request.org_node,
        )
        if decision == Decision.APPROVE:
            _advance(request, task, actor)
        elif decision == Decision.REJECT:
            _cancel_pending(request, reason=_("The request was rejected."))
            _finish(request, RequestStatus.REJECTED, actor, reason)
        else:
            _cancel_pending(request, reason=_("Returned to the requester."))
            before_request = _request_state(request)
            request.status = RequestStatus.RETURNED
            request.current_step = None
            request.save(update_fields=["status", "current_step", "updated_at"])
            record_audit(
                actor=actor,
                action="approvals.request.return",
                target=request,
                before=before_request,
                after=_request_state(request),
                reason=reason,
                org_node=request.org_node,
            )
            publish(
                _request_event(RequestReturned, request, actor, reason), org_node=request.org_node
            )
    return task


def approve(task: ApprovalTask | int, *, actor: Any, comment: str = "") -> ApprovalTask:
    return decide(task, Decision.APPROVE, actor=actor, comment=comment)


def reject(task: ApprovalTask | int, *, actor: Any, reason: str, comment: str = "") -> ApprovalTask:
    return decide(task, Decision.REJECT, actor=actor, reason=reason, comment=comment)


def return_to_requester(
    task: ApprovalTask | int, *, actor: Any, reason: str, comment: str = ""
) -> ApprovalTask:
    return decide(task, Decision.RETURN, actor=actor, reason=reason, comment=comment)


# --- SLA -------------------------------------------------------------------------------------


def _escalation_target(task: ApprovalTask, request: ApprovalRequest) -> User | None:
    """The next level up: the manager of the person the task is for (not the delegate)."""
    person = task.on_behalf_of or task.assignee
    manager = person.manager
    if manager is None or not manager.is_active:
        return None
    allow_self = request.version is not None and request.version.allow_self_approval
    if manager.pk == request.requester_id and not allow_self:
        return None
    return manager


def _handle_breach(task_id: int, now: dt.datetime) -> bool:
    request_id = ApprovalTask.objects.values_list("request_id", flat=True).get(pk=task_id)
    with transaction.atomic():
        request = _lock(request_id)
        task = ApprovalTask.objects.select_related(
            "request", "assignee__manager", "on_behalf_of__manager"
        ).get(pk=task_id)
        if (
            request.status != RequestStatus.PENDING
            or task.status != TaskStatus.PENDING
            or task.breach_handled_at is not None
        ):
            return False
        action = request.route[task.step_index]["on_breach"]
        reason = _("The SLA was breached.")
        if action == BreachAction.AUTO_APPROVE:
            decide(task, Decision.APPROVE, actor=SYSTEM, comment=reason)
            return True
        if action == BreachAction.AUTO_REJECT:
            decide(task, Decision.REJECT, actor=SYSTEM, reason=reason)
            return True
        target = _escalation_target(task, request) if action == BreachAction.ESCALATE else None
        ApprovalTask.objects.filter(pk=task.pk).update(breach_handled_at=now)
        if target is None:
            if action == BreachAction.ESCALATE:
                publish(
                    RouteUnresolved(
                        document_type=request.document_type,
                        document_id=request.document_id,
                        policy_id=request.version.policy_id if request.version else None,
                        version=request.version.number if request.version else None,
                        step_name=task.step_name,
                        problem=_("No one above %(user)s to escalate to; reminded instead.")
                        % {"user": task.on_behalf_of or task.assignee},
                    ),
                    org_node=request.org_node,
                )
            _history(request, HistoryAction.REMINDED, task=task, reason=reason)
            record_audit(
                actor=SYSTEM,
                action="approvals.task.remind",
                target=request,
                after={"task_id": task.pk, "due_at": task.due_at},
                reason=reason,
                org_node=request.org_node,
            )
            publish(
                TaskReminded(
                    **_task_fields(task), due_at=task.due_at.isoformat() if task.due_at else None
                ),
                org_node=request.org_node,
            )
            return True
        ApprovalTask.objects.filter(pk=task.pk).update(
            status=TaskStatus.CANCELLED, decided_at=now, reason=_("Escalated (SLA breached).")
        )
        # The replacement is for the manager; position in a sequence is kept by counting
        # approvals, so the replacement's approval counts as this approver's.
        new_task = _assign(request, task.step_index, target.pk, escalated_from=task)
        _history(
            request,
            HistoryAction.ESCALATED,
            task=task,
            reason=_("%(reason)s Escalated to %(user)s.") % {"reason": reason, "user": target},
        )
        record_audit(
            actor=SYSTEM,
            action="approvals.task.escalate",
            target=request,
            before={"task_id": task.pk, "assignee_id": task.assignee_id},
            after={"task_id": new_task.pk, "assignee_id": new_task.assignee_id},
            reason=reason,
            org_node=request.org_node,
        )
        publish(
            TaskEscalated(
                **_task_fields(task), new_task_id=new_task.pk, new_assignee_id=new_task.assignee_id
            ),
            org_node=request.org_node,
        )
        return True


def escalate_overdue(now: dt.datetime | None = None) -> int:
    """Apply each overdue pending task's breach action once (remind, escalate, auto-approve,
    auto-reject); returns how many tasks were handled. Run by the worker every few minutes."""
    now = now or clock.now()
    overdue = list(
        ApprovalTask.objects.filter(
            status=TaskStatus.PENDING,
            due_at__lte=now,
            breach_handled_at__isnull=True,
            request__status=RequestStatus.PENDING,
        )
        .order_by("due_at", "pk")
        .values_list("pk", flat=True)
    )
    handled = 0
    with clock.at(now):
        for task_id in overdue:
            handled += _handle_breach(task_id, now)
    return handled


# --- delegation --------------------------------------------------------------------------------


def can_manage_delegations_of(actor: Any, user: User) -> bool:
    """The user themselves, the system, or an administrator holding `approvals.manage` at every
    node where the user holds a role (at the top of the tree for a user with no role)."""
    if actor is SYSTEM or (_actor_id(actor) is not None and _actor_id(actor) == user.pk):
        return True
    if _user(actor) is None or not actor.is_authenticated:
        return False
    from backroom.approvals.selectors import root_node

    nodes = [membership.node for membership in user.memberships.select_related("node")]
    if not nodes:
        root = root_node()
        nodes = [root] if root is not None else []
    return bool(nodes) and all(
        actor.has_scoped_permission(APPROVALS_MANAGE, node) for node in nodes
    )


def managed_delegation(actor: Any, delegation_id: int) -> Delegation:
    """A delegation the actor may manage (see `can_manage_delegations_of`); else NotFound
    (never telling whether it exists)."""
    delegation = Delegation.objects.select_related("delegator").filter(pk=delegation_id).first()
    if delegation is None or not can_manage_delegations_of(actor, delegation.delegator):
        raise NotFound()
    return delegation


def _overlapping(delegator: User, starts_at: dt.datetime, ends_at: dt.datetime) -> Any:
    return Delegation.objects.filter(
        Q(starts_at__lt=ends_at) & Q(ends_at__gt=starts_at),
        delegator=delegator,
        cancelled_at__isnull=True,
    )


def delegation_problems(
    *,
    delegator: User | None,
    delegate: User | None,
    starts_at: dt.datetime | None,
    ends_at: dt.datetime | None,
    reason: str = "",
) -> dict[str, list[str]]:
    """Every problem with a delegation at once, keyed like the API (`delegate_id`, `starts_at`,
    `ends_at`, `reason`). A page passes None for a value it could not read, so the rest is
    still checked; `create_delegation` refuses whatever this finds."""
    errors: dict[str, list[str]] = {}
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON or "\x00" in reason:
        errors["reason"] = [_("At most 2000 characters of text.")]
    if delegate is not None:
        if delegator is not None and delegate.pk == delegator.pk:
            errors["delegate_id"] = [_("Delegate to someone else.")]
        elif not delegate.is_active:
            errors["delegate_id"] = [_("The delegate is not an active user.")]
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        errors["ends_at"] = [_("The end must come after the start.")]
    elif ends_at is not None and ends_at <= clock.now():
        errors["ends_at"] = [_("The end is in the past.")]
    elif (
        delegator is not None
        and starts_at is not None
        and ends_at is not None
        and _overlapping(delegator, starts_at, ends_at).exists()
    ):
        errors["starts_at"] = [_("You already delegate during this time.")]
    return errors


def create_delegation(
    *,
    delegator: User,
    delegate: User,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    reason: str = "",
    actor: Any,
) -> Delegation:
    """Send a user's new tasks to another user for a window (out of office). The delegator
    sets it up themselves (or the system, or an administrator holding `approvals.manage` over
    them); windows of one delegator may not overlap. Every problem is reported at once."""
    if not can_manage_delegations_of(actor, delegator):
        raise PermissionDenied(_("You can only delegate your own approvals."))
    errors = delegation_problems(
        delegator=delegator, delegate=delegate, starts_at=starts_at, ends_at=ends_at, reason=reason
    )
    if errors:
        raise ValidationFailed(errors)
    reason = reason.strip()
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=delegator.pk).get()
        if _overlapping(delegator, starts_at, ends_at).exists():
            raise ValidationFailed({"starts_at": [_("You already delegate during this time.")]})
        delegation = Delegation.objects.create(
            delegator=delegator,
            delegate=delegate,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=reason,
        )
        record_audit(
            actor=actor,
            action="approvals.delegation.create",
            target=delegation,
            after={
                "delegator_id": delegator.pk,
                "delegate_id": delegate.pk,
                "starts_at": starts_at,
                "ends_at": ends_at,
            },
            reason=reason,
        )
        publish(
            DelegationCreated(
                delegation_id=delegation.pk,
                delegator_id=delegator.pk,
                delegate_id=delegate.pk,
                starts_at=starts_at.isoformat(),
                ends_at=ends_at.isoformat(),
            )
        )
    return delegation


def cancel_delegation(delegation: Delegation, *, actor: Any) -> Delegation:
    """End a delegation now; tasks already assigned to the delegate stay theirs. The delegator
    (or an administrator holding `approvals.manage` over them) cancels it."""
    if not can_manage_delegations_of(actor, delegation.delegator):
        raise PermissionDenied(_("You can only cancel your own delegations."))
    with transaction.atomic():
        delegation = Delegation.objects.select_for_update().get(pk=delegation.pk)
        if delegation.cancelled_at is not None:
            raise RequestClosed(_("This delegation is already cancelled."))
        delegation.cancelled_at = clock.now()
        delegation.save(update_fields=["cancelled_at", "updated_at"])
        record_audit(
            actor=actor,
            action="approvals.delegation.cancel",
            target=delegation,
            after={"cancelled_at": delegation.cancelled_at},
        )
        publish(
            DelegationCancelled(
                delegation_id=delegation.pk,
                delegator_id=delegation.delegator_id,
                delegate_id=delegation.delegate_id,
            )
        )
    return delegation


# --- bulk approval -----------------------------------------------------------------------------

BULK_MAX_TASKS = 200


def bulk_max_amount() -> Decimal:
    """The highest base-currency amount approvable in bulk (`APPROVALS_BULK_MAX_AMOUNT`)."""
    from django.conf import settings

    return Decimal(str(getattr(settings, "APPROVALS_BULK_MAX_AMOUNT", "2000")))


def bulk_amount(request: ApprovalRequest) -> Decimal | None:
    """The request's amount in its base currency, or None when it has none (or a bad one)."""
    value = request.fields.get("amount")
    if value in (None, "") or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        return None
    return amount if amount.is_finite() else None


def is_bulk_eligible(request: ApprovalRequest) -> bool:
    """Low value: an amount in base currency at or below the bulk limit."""
    amount = bulk_amount(request)
    return amount is not None and amount <= bulk_max_amount()


@dataclass(frozen=True)
class BulkOutcome:
    """What became of one task of a bulk approval: `code` is "approved" or the error's code."""

    task_id: int
    request_id: int | None
    approved: bool
    code: str
    message: str


def _bulk_approve_one(task_id: int, *, actor: Any, comment: str, limit: Decimal) -> None:
    from backroom.approvals.selectors import get_task

    task = get_task(actor, task_id)  # 404 unless the actor may see it (or its store)
    with transaction.atomic():
        request = _lock(task.request_id)
        amount = bulk_amount(request)
        if amount is None or amount > limit:
            # The limit is checked under the request's lock, like every other rule of `decide`.
            raise AboveBulkLimit(
                _("Above %(limit)s in base currency: decide this one on its own.")
                % {"limit": f"{limit:,.2f}"},
                details={"task_id": task_id, "limit": str(limit)},
            )
        decide(task_id, Decision.APPROVE, actor=actor, comment=comment)


def bulk_approve(task_ids: Sequence[int], *, actor: Any, comment: str = "") -> list[BulkOutcome]:
    """Approve many low-value tasks at once: each in its own transaction, through `decide` (so
    self-approval, delegation, already decided, withdrawn... are refused exactly as one by one),
    and only when the request's base-currency amount is at most `bulk_max_amount()` (else
    `bulk_limit_exceeded`). One task's failure never undoes another's approval; every outcome is
    returned, in the order given (duplicates once)."""
    if actor is SYSTEM or _user(actor) is None:
        raise PermissionDenied()
    comment = _clean_reason(comment, "comment", required=False)
    unique = list(dict.fromkeys(int(task_id) for task_id in task_ids))
    if not unique:
        raise ValidationFailed({"task_ids": [_("Select at least one task.")]})
    if len(unique) > BULK_MAX_TASKS:
        raise ValidationFailed(
            {"task_ids": [_("At most %(count)d tasks at once.") % {"count": BULK_MAX_TASKS}]}
        )
    limit = bulk_max_amount()
    request_ids = dict(ApprovalTask.objects.filter(pk__in=unique).values_list("pk", "request_id"))
    outcomes = []
    for task_id in unique:
        try:
            _bulk_approve_one(task_id, actor=actor, comment=comment, limit=limit)
        except DomainError as error:
            hidden = error.http_status == 404
            outcomes.append(
                BulkOutcome(
                    task_id=task_id,
                    request_id=None if hidden else request_ids.get(task_id),
                    approved=False,
                    code=error.code,
                    message=str(error.message),
                )
            )
        else:
            outcomes.append(
                BulkOutcome(
                    task_id=task_id,
                    request_id=request_ids.get(task_id),
                    approved=True,
                    code="approved",
                    message=_("Approved."),
                )
            )
    return outcomes
