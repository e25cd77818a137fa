"""Waste records (报损): record → submit → approval (when a policy asks for it) → posted.

A waste record lists what a site threw away: item, location, optional lot, quantity in any
unit of the item, reason (expired, spoiled, dropped, over-production, returned) and a note,
with an optional photo. Its value is each line's base quantity at the location's
moving-average cost.

Submitting starts an approval request of document type `inventory.waste` (fields: amount in the
site's base currency, store, region, the reason of the most valuable line, requester). The
approval policies decide (docs/approvals.md): when none applies the request is approved at once
and the record posts in the same transaction; otherwise it waits, and the approvals runtime's
decision hook posts it when the last step approves, rejects it on rejection and cancels it on
withdrawal. Posting checks `require_approved` first, so no page or API call can post a record
whose request is not finally approved. `approve_waste`/`reject_waste` decide the actor's own
pending task on the record's request (the waste page's buttons); `cancel_waste` withdraws it.

Posting goes through the ledger's `post_moves` (issue, reason `waste`, expired lots allowed),
one line per move key `waste:<document id>:<line no>`, so a retried approval posts nothing
twice. The posted value (the ledger's, at the average cost when it posts) replaces the
estimate on the lines.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext as _

from backroom.accounts.authorization import require_permission
from backroom.accounts.models import User
from backroom.approvals import runtime
from backroom.approvals.choices import RequestStatus, TaskStatus
from backroom.approvals.exceptions import NotYourTask
from backroom.approvals.models import ApprovalRequest, ApprovalTask
from backroom.approvals.runtime import Submission
from backroom.audit.services import record_audit
from backroom.events.services import publish
from backroom.inventory.choices import (
    LocationKind,
    MoveReason,
    PostingOperation,
    WasteReason,
    WasteStatus,
)
from backroom.inventory.documents import (
    WASTE_SOURCE,
    WasteCancelled,
    WastePosted,
    WasteRejected,
    WasteStateError,
    WasteSubmitted,
)
from backroom.inventory.ledger import LineProblem
from backroom.inventory.models import ItemValuation, WasteDocument, WasteLine
from backroom.inventory.permissions import INVENTORY_MOVE
from backroom.inventory.services.common import (
    Source,
    actor_id,
    item_problem,
    load_items,
    load_locations,
    location_problem,
    moment,
    raise_problems,
)
from backroom.inventory.services.posting import (
    ISSUE,
    MoveInput,
    check_document_line,
    find_lots,
    post_moves,
)
from backroom.inventory.valuation import cost
from backroom.kernel import clock
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import DomainError, ErrorCollector, ValidationFailed
from backroom.kernel.files import uploaded_image_type
from backroom.kernel.money import quantize_money
from backroom.kernel.numbering import next_document_number
from backroom.org.models import Site

ZERO = Decimal(0)
WASTE_DOCUMENT_TYPE = "inventory.waste"
DEFAULT_PHOTO_MAX_BYTES = 10 * 1024 * 1024
MAX_LINES = 200
# The photo's type is read from its first bytes, never trusted from the upload's header.
PHOTO_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/heic": "heic"}


@dataclass(frozen=True)
class WasteLineInput:
    """One item thrown away: `quantity` in `unit` (the item's base unit when None)."""

    item_id: int
    location_id: int
    quantity: Decimal
    reason: str
    unit: str | None = None
    lot_code: str | None = None
    note: str = ""


def _check_photo(photo: UploadedFile, errors: ErrorCollector) -> str | None:
    limit = int(getattr(settings, "INVENTORY_WASTE_PHOTO_MAX_BYTES", DEFAULT_PHOTO_MAX_BYTES))
    size = photo.size or 0
    if size > limit:
        errors.add(
            "photo",
            _("The photo is too large (at most %(size)s MB).") % {"size": limit // (1024 * 1024)},
        )
        return None
    if size == 0:
        errors.add("photo", _("The photo is empty."))
        return None
    kind = uploaded_image_type(photo)
    if kind is None:
        errors.add("photo", _("Upload a JPEG, PNG, WebP or HEIC image."))
    return kind


def _audit(
    document: WasteDocument, action: str, actor: Any, reason: str = "", **after: Any
) -> None:
    record_audit(
        actor=actor,
        action=f"inventory.waste.{action}",
        target=document,
        after={"number": document.number, "status": document.status, **after},
        reason=reason,
        org_node=document.site.node,
    )


def _locked(document: WasteDocument, *expected: str) -> WasteDocument:
    """The record locked for this step; WasteStateError unless it is in one of `expected`."""
    locked = (
        WasteDocument.objects.select_for_update()
        .select_related("site__node", "site__legal_entity")
        .get(pk=document.pk)
    )
    if locked.status not in expected:
        raise WasteStateError(
            _("Waste record %(number)s is %(status)s.")
            % {"number": locked.number, "status": locked.get_status_display()},
            details={"status": locked.status, "expected": list(expected)},
        )
    return locked


def _prepare_lines(site: Site, lines: Sequence[WasteLineInput]) -> list[WasteLine]:
    """Check every line without writing; every problem of every line at once."""
    if not lines:
        raise ValidationFailed({"lines": [_("Record at least one line.")]})
    if len(lines) > MAX_LINES:
        raise ValidationFailed(
            {"lines": [_("At most %(count)s lines per record.") % {"count": MAX_LINES}]}
        )
    items = load_items(line.item_id for line in lines)
    locations = load_locations(line.location_id for line in lines)
    lots = find_lots(lines)
    problems: list[LineProblem] = []
    prepared: list[WasteLine] = []
    for index, line in enumerate(lines):
        errors: list[DomainError] = []
        item = items.get(line.item_id)
        problem = item_problem(item)
        if problem is not None:
            errors.append(problem)
        location = locations.get(line.location_id)
        if location is not None and (
            location.site_id != site.pk or location.kind == LocationKind.IN_TRANSIT
        ):
            location = None
        problem = location_problem(location, line.location_id)
        if problem is not None:
            errors.append(problem)
        if line.reason not in WasteReason.values:
            errors.append(
                ValidationFailed(
                    {"reason": [_("“%(reason)s” is not a waste reason.") % {"reason": line.reason}]}
                )
            )
        quantity, base, lot = check_document_line(item, line, lots, errors)
        if errors:
            problems.extend(LineProblem(index, error) for error in errors)
            continue
        assert item is not None and location is not None
        prepared.append(
            WasteLine(
                line_no=index + 1,
                item=item,
                location=location,
                lot=lot,
                quantity=quantity,
                unit=line.unit or item.base_unit.code,
                base_quantity=base,
                reason=line.reason,
                note=line.note,
            )
        )
    raise_problems(problems, single=False)
    return prepared


def _estimate(lines: Sequence[WasteLine]) -> Decimal:
    """Value each line at its location's moving-average cost now; returns the total."""
    averages = {
        (row.item_id, row.location_id): row.average_cost
        for row in ItemValuation.objects.filter(
            item_id__in={line.item_id for line in lines},
            location_id__in={line.location_id for line in lines},
        )
    }
    total = ZERO
    for line in lines:
        average = averages.get((line.item_id, line.location_id))
        line.unit_cost = cost(average) if average is not None else ZERO
        line.value = quantize_money(line.base_quantity * line.unit_cost, storage=True)
        total += line.value
    return total


def create_waste(
    site: Site,
    lines: Sequence[WasteLineInput],
    *,
    actor: Any,
    note: str = "",
    occurred_at: dt.datetime | None = None,
    photo: UploadedFile | None = None,
    submit: bool = True,
) -> WasteDocument:
    """Record waste at a site (inventory.move) and, by default, submit it at once.

    Every problem of the header, the photo and each line is reported together
    (`batch_rejected` with `details.lines[]` for lines; `invalid` for the rest) and nothing
    is saved — not even the photo. See `submit_waste` for what submitting does.
    """
    require_permission(actor, INVENTORY_MOVE, site.node)
    header = ErrorCollector()
    if len(note) > 500:
        header.add("note", _("At most 500 characters."))
    when = clock.now()
    if occurred_at is not None:
        try:
            when = moment(occurred_at)
        except ValidationFailed as error:
            header.errors.update(error.errors)
        else:
            if when > clock.now() + dt.timedelta(minutes=5):
                header.add("occurred_at", _("Waste cannot be recorded in the future."))
    kind = _check_photo(photo, header) if photo is not None else None
    header.raise_if_any()
    prepared = _prepare_lines(site, lines)
    if submit:
        _check_route("new", site, prepared, _requester_of(actor))
    saved_photo = ""
    try:
        with transaction.atomic():
            document = WasteDocument(
                site=site,
                number=next_document_number("WST", site.node.code),
                note=note,
                occurred_at=when,
                currency=site.legal_entity.base_currency,
                created_by_id=actor_id(actor),
            )
            if photo is not None and kind is not None:
                document.photo_content_type = kind
                document.photo.save(f"{document.number}.{PHOTO_TYPES[kind]}", photo, save=False)
                saved_photo = document.photo.name or ""
            document.total_value = _estimate(prepared)
            document.save()
            for line in prepared:
                line.document = document
            WasteLine.objects.bulk_create(prepared)
            _audit(
                document,
                "create",
                actor,
                lines=[
                    {
                        "item_id": line.item_id,
                        "location_id": line.location_id,
                        "lot_id": line.lot_id,
                        "quantity": line.quantity,
                        "unit": line.unit,
                        "reason": line.reason,
                    }
                    for line in prepared[:50]
                ],
                value=document.total_value,
                photo=bool(saved_photo),
            )
            if submit:
                document = _submit(document, actor=actor)
    except BaseException:
        if saved_photo:
            document.photo.storage.delete(saved_photo)
        raise
    return document


def _post(document: WasteDocument, *, actor: Any) -> None:
    """Post the record's lines to the ledger and keep the posted values on the lines: only
    once its approval request is finally approved (`approval_required` otherwise)."""
    runtime.require_approved(WASTE_DOCUMENT_TYPE, str(document.pk))
    lines = list(
        WasteLine.objects.filter(document=document).select_related("lot").order_by("line_no")
    )
    source = Source(WASTE_SOURCE, str(document.pk), document.number)
    result = post_moves(
        [
            MoveInput(
                action=ISSUE,
                item_id=line.item_id,
                location_id=line.location_id,
                quantity=line.base_quantity,
                key=f"waste:{document.pk}:{line.line_no}",
                lot_code=line.lot.code if line.lot is not None else None,
                reason=MoveReason.WASTE,
                source=source,
                occurred_at=document.occurred_at,
            )
            for line in lines
        ],
        actor=actor,
        operation=PostingOperation.WASTE,
        reason=_("Waste %(number)s") % {"number": document.number},
    )
    by_key: dict[str, Decimal] = {}
    for move in result.rows:
        by_key[move.idempotency_key] = by_key.get(move.idempotency_key, ZERO) - move.value
    total = ZERO
    for line in lines:
        line.value = quantize_money(
            by_key.get(f"waste:{document.pk}:{line.line_no}", ZERO), storage=True
        )
        line.unit_cost = cost(line.value / line.base_quantity)
        total += line.value
    WasteLine.objects.bulk_update(lines, ["value", "unit_cost"])
    document.total_value = total
    document.posting = result.posting
    document.status = WasteStatus.POSTED
    document.posted_at = clock.now()


def _requester_of(actor: Any, recorded_by: int | None = None) -> User:
    """Who asks for the approval: the submitting user, else (the system submitting) the user
    who recorded the record."""
    if isinstance(actor, User):
        return actor
    if recorded_by is not None:
        return User.objects.get(pk=recorded_by)
    raise ValidationFailed({"submitted_by": [_("A waste record needs a person to submit it.")]})


def _requester(document: WasteDocument, actor: Any) -> User:
    return _requester_of(actor, document.created_by_id)


def _approval_submission(
    document_id: str, site: Site, lines: Sequence[WasteLine], total: Decimal
) -> Submission:
    """The record as the approval policies see it: its value in the site's base currency, the
    store, and the reason of its most valuable line."""
    main = max(lines, key=lambda line: (line.value, -line.line_no))
    return Submission(
        document_type=WASTE_DOCUMENT_TYPE,
        document_id=document_id,
        fields={"amount": str(total), "store": site.node.code, "reason": main.reason},
        org_node=site.node,
        document_currency=site.legal_entity.base_currency,
        document_amount=total,
    )


def _check_route(document_id: str, site: Site, lines: Sequence[WasteLine], requester: User) -> None:
    """Before the record's transaction: a route without an approver is refused here, and its
    admin alert survives the refusal (see `approvals.runtime.check_route`)."""
    total = _estimate(lines)
    runtime.check_route(_approval_submission(document_id, site, lines, total), requester=requester)


def submit_waste(document: WasteDocument, *, actor: Any) -> WasteDocument:
    """Submit a draft: value it at the average cost now and start its approval request. When
    no policy asks for approval it posts at once (insufficient stock under a "forbid" policy
    fails here, and nothing changes); otherwise it waits for the approvers. A route that
    cannot be resolved (no approver) refuses the submission, and nothing changes either."""
    require_permission(actor, INVENTORY_MOVE, document.site.node)
    if document.status == WasteStatus.DRAFT:
        _check_route(
            str(document.pk),
            document.site,
            list(WasteLine.objects.filter(document=document).order_by("line_no")),
            _requester(document, actor),
        )
    return _submit(document, actor=actor)


def _submit(document: WasteDocument, *, actor: Any) -> WasteDocument:
    with transaction.atomic():
        document = _locked(document, WasteStatus.DRAFT)
        lines = list(WasteLine.objects.filter(document=document).order_by("line_no"))
        document.total_value = _estimate(lines)
        WasteLine.objects.bulk_update(lines, ["value", "unit_cost"])
        document.approval_threshold = None
        document.submitted_at = clock.now()
        document.submitted_by_id = actor_id(actor)
        document.save()
        # Still a draft while the request starts, so the decision hook of an auto-approval
        # leaves the posting to this function (and its events come after "submitted").
        request = runtime.submit(
            _approval_submission(str(document.pk), document.site, lines, document.total_value),
            requester=_requester(document, actor),
            actor=actor,
        )
        document.requires_approval = request.status != RequestStatus.APPROVED
        document.status = WasteStatus.PENDING_APPROVAL
        if not document.requires_approval:
            _post(document, actor=actor)
        document.save()
        _audit(
            document,
            "submit",
            actor,
            value=document.total_value,
            approval_request_id=request.pk,
            requires_approval=document.requires_approval,
            posting_id=document.posting_id,
        )
        publish(
            WasteSubmitted(
                document_id=document.pk,
                number=document.number,
                site_id=document.site_id,
                value=str(document.total_value),
                currency=document.currency,
                requires_approval=document.requires_approval,
            ),
            org_node=document.site.node,
        )
        if document.status == WasteStatus.POSTED:
            _published(document, approved_by=None)
    return document


def _published(document: WasteDocument, *, approved_by: Any) -> None:
    assert document.posting_id is not None
    publish(
        WastePosted(
            document_id=document.pk,
            number=document.number,
            site_id=document.site_id,
            posting_id=document.posting_id,
            value=str(document.total_value),
            currency=document.currency,
            approved_by_id=actor_id(approved_by),
        ),
        org_node=document.site.node,
    )


def approval_request(document: WasteDocument) -> ApprovalRequest | None:
    """The record's newest approval request (None for a draft)."""
    return runtime.latest_request(WASTE_DOCUMENT_TYPE, str(document.pk))


def pending_task(document: WasteDocument, actor: Any) -> ApprovalTask | None:
    """The actor's own pending approval task on the record (assigned or delegated to them)."""
    user_id = actor_id(actor)
    if user_id is None or document.status != WasteStatus.PENDING_APPROVAL:
        return None
    return (
        ApprovalTask.objects.filter(
            request__document_type=WASTE_DOCUMENT_TYPE,
            request__document_id=str(document.pk),
            request__status=RequestStatus.PENDING,
            status=TaskStatus.PENDING,
            assignee_id=user_id,
        )
        .order_by("pk")
        .first()
    )


def _task_of(document: WasteDocument, actor: Any) -> ApprovalTask:
    if document.status != WasteStatus.PENDING_APPROVAL:
        raise WasteStateError(
            _("Waste record %(number)s is %(status)s.")
            % {"number": document.number, "status": document.get_status_display()},
            details={"status": document.status, "expected": [WasteStatus.PENDING_APPROVAL]},
        )
    task = pending_task(document, actor)
    if task is None:
        raise NotYourTask(
            _("Waste record %(number)s is not waiting for your approval.")
            % {"number": document.number},
            details={"number": document.number},
        )
    return task


def approve_waste(document: WasteDocument, *, actor: Any, reason: str = "") -> WasteDocument:
    """Approve the actor's own pending step of the record's approval request; when it was the
    last step, the record posts (see `_on_decision`). Anyone without a pending task on it gets
    `not_your_task`, the submitter `self_approval`; nothing changes."""
    if len(reason) > 500:
        raise ValidationFailed({"reason": [_("At most 500 characters.")]})
    runtime.approve(_task_of(document, actor), actor=actor, comment=reason)
    return WasteDocument.objects.select_related("site__node").get(pk=document.pk)


def reject_waste(document: WasteDocument, *, actor: Any, reason: str) -> WasteDocument:
    """Reject the record through the actor's pending approval task; a reason is required.
    Nothing reaches the ledger."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed({"reason": [_("Say why the record is rejected.")]})
    if len(reason) > 500:
        raise ValidationFailed({"reason": [_("At most 500 characters.")]})
    runtime.reject(_task_of(document, actor), actor=actor, reason=reason)
    return WasteDocument.objects.select_related("site__node").get(pk=document.pk)


def _decided_by(request: ApprovalRequest) -> User | None:
    task = (
        request.tasks.filter(decided_by__isnull=False)
        .select_related("decided_by")
        .order_by("-decided_at", "-pk")
        .first()
    )
    return task.decided_by if task is not None else None


def _on_decision(request: ApprovalRequest) -> None:
    """The approvals runtime's hook, inside the deciding transaction: approved → post,
    rejected → rejected, withdrawn → cancelled. A record not waiting (a draft being submitted,
    or already decided) is left alone."""
    document = (
        WasteDocument.objects.select_for_update()
        .select_related("site__node", "site__legal_entity")
        .filter(pk=int(request.document_id))
        .first()
    )
    if document is None or document.status != WasteStatus.PENDING_APPROVAL:
        return
    decider = _decided_by(request)
    said = (
        request.history.exclude(reason="", comment="")
        .order_by("-pk")
        .values_list("reason", "comment")
        .first()
    )
    document.decided_at = clock.now()
    document.decided_by = decider
    document.decision_reason = ((said[0] or said[1]) if said else "")[:500]
    if request.status == RequestStatus.APPROVED:
        _post(document, actor=SYSTEM)
        document.save()
        _audit(
            document,
            "approve",
            decider or SYSTEM,
            value=document.total_value,
            approval_request_id=request.pk,
            posting_id=document.posting_id,
        )
        _published(document, approved_by=decider)
    elif request.status == RequestStatus.REJECTED:
        document.status = WasteStatus.REJECTED
        document.save()
        _audit(document, "reject", decider or SYSTEM, reason=document.decision_reason)
        publish(
            WasteRejected(
                document_id=document.pk,
                number=document.number,
                site_id=document.site_id,
                reason=document.decision_reason,
            ),
            org_node=document.site.node,
        )
    elif request.status == RequestStatus.WITHDRAWN:
        document.status = WasteStatus.CANCELLED
        document.decided_by = None
        document.decided_at = None
        document.save()
        _audit(document, "cancel", request.requester, reason=document.decision_reason)
        publish(
            WasteCancelled(
                document_id=document.pk, number=document.number, site_id=document.site_id
            ),
            org_node=document.site.node,
        )


runtime.register_decision_hook(WASTE_DOCUMENT_TYPE, _on_decision)


def cancel_waste(document: WasteDocument, *, actor: Any, reason: str = "") -> WasteDocument:
    """Withdraw a draft (inventory.move at the site) or a record waiting for approval (its
    requester only: this withdraws the approval request too)."""
    require_permission(actor, INVENTORY_MOVE, document.site.node)
    if len(reason) > 500:
        raise ValidationFailed({"reason": [_("At most 500 characters.")]})
    request = approval_request(document)
    if request is not None and request.is_open:
        runtime.withdraw(request, actor=actor, reason=reason)
        return WasteDocument.objects.select_related("site__node").get(pk=document.pk)
    with transaction.atomic():
        document = _locked(document, WasteStatus.DRAFT)
        document.status = WasteStatus.CANCELLED
        document.decision_reason = reason
        document.save(update_fields=["status", "decision_reason", "updated_at"])
        _audit(document, "cancel", actor, reason=reason)
        publish(
            WasteCancelled(
                document_id=document.pk, number=document.number, site_id=document.site_id
            ),
            org_node=document.site.node,
        )
    return document


__all__ = [
    "WasteLineInput",
    "approval_request",
    "approve_waste",
    "cancel_waste",
    "create_waste",
    "pending_task",
    "reject_waste",
    "submit_waste",
]
