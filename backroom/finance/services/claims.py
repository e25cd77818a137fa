"""Expense claims (报销): submit → approval → posted → paid.

A staff member claims what they paid for the store: category, what for, the day, the amount in
the entity's base currency, optionally a cost centre, and a photo of the receipt (required; its
type read from its bytes). Submitting starts an approval request of document type
`finance.expense_claim` (fields: amount, store, region, category, requester); the policies
decide. Approved (at once when no policy applies), the claim posts: the category's expense
account (from the chart, else the operating-expenses role) against the payable to staff, at the
store and cost centre, dated the day spent or the first open period after. Rejected or
withdrawn, nothing posts. Finance marks it paid when the money has left the bank: payable to
staff against the bank. Each journal's key names the claim, so nothing posts twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from backroom.accounts.authorization import require_permission
from backroom.accounts.models import User
from backroom.approvals import runtime
from backroom.approvals.choices import RequestStatus
from backroom.approvals.runtime import Submission
from backroom.audit.services import record_audit
from backroom.events.services import publish
from backroom.finance.charts import EXPENSE_CATEGORIES
from backroom.finance.choices import ClaimStatus, JournalKind, PostingRole
from backroom.finance.events import ClaimChanged
from backroom.finance.models import Account, ExpenseClaim, Journal
from backroom.finance.permissions import FINANCE_CLAIM, FINANCE_POST
from backroom.finance.services.automatic import role_account
from backroom.finance.services.books import primary_book
from backroom.finance.services.journals import LineInput, Source, record_journal
from backroom.finance.services.periods import postable_date
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import Conflict, ErrorCollector, PermissionDenied, ValidationFailed
from backroom.kernel.files import uploaded_image_type
from backroom.kernel.money import to_decimal
from backroom.kernel.numbering import next_document_number
from backroom.org.models import Site

CLAIM_DOCUMENT_TYPE = "finance.expense_claim"
MAX_AMOUNT = Decimal(1_000_000)
DEFAULT_RECEIPT_MAX_BYTES = 10 * 1024 * 1024
MAX_AGE_DAYS = 365


@dataclass(frozen=True)
class ClaimInput:
    category: str
    description: str
    spent_on: Any
    amount: Any
    cost_centre: str = ""


def _check(
    site: Site, data: ClaimInput, receipt: UploadedFile | None
) -> tuple[Decimal, dt.date, str]:
    """Every problem at once, or (amount, day spent, receipt type)."""
    errors = ErrorCollector()
    if data.category not in EXPENSE_CATEGORIES:
        errors.add("category", _("Choose a category."))
    if not data.description.strip():
        errors.add("description", _("Say what it was for."))
    elif len(data.description) > 300:
        errors.add("description", _("At most 300 characters."))
    if len(data.cost_centre) > 40:
        errors.add("cost_centre", _("At most 40 characters."))
    amount = Decimal(0)
    try:
        amount = to_decimal(data.amount, field="amount")
        if amount <= 0 or amount > MAX_AMOUNT:
            errors.add("amount", _("Enter an amount above 0 and up to 1,000,000."))
        elif amount != amount.quantize(Decimal("0.01")):
            errors.add("amount", _("At most two decimals."))
    except ValidationFailed:
        errors.add("amount", _("Enter an amount, such as 58.50."))
    today = timezone.localdate()
    spent_on = today
    try:
        spent_on = (
            data.spent_on
            if isinstance(data.spent_on, dt.date)
            else dt.date.fromisoformat(str(data.spent_on))
        )
        if spent_on > today:
            errors.add("spent_on", _("The day cannot be in the future."))
        elif (today - spent_on).days > MAX_AGE_DAYS:
            errors.add("spent_on", _("Claims older than a year are not accepted."))
    except ValueError:
        errors.add("spent_on", _("Enter the day as YYYY-MM-DD."))
    kind = ""
    if receipt is None:
        errors.add("receipt", _("Add a photo of the receipt."))
    else:
        limit = int(getattr(settings, "FINANCE_RECEIPT_MAX_BYTES", DEFAULT_RECEIPT_MAX_BYTES))
        if (receipt.size or 0) > limit:
            errors.add(
                "receipt",
                _("The photo is too large (at most %(size)s MB).")
                % {"size": limit // (1024 * 1024)},
            )
        else:
            kind = uploaded_image_type(receipt) or ""
            if not kind:
                errors.add("receipt", _("Upload a JPEG, PNG, WebP or HEIC image."))
    errors.raise_if_any()
    return amount, spent_on, kind


def _submission(claim: ExpenseClaim) -> Submission:
    """The claim as the policies see it (the approvals runtime adds region and requester)."""
    return Submission(
        document_type=CLAIM_DOCUMENT_TYPE,
        document_id=str(claim.pk),
        fields={
            "amount": str(claim.amount),
            "store": claim.site.node.code,
            "category": claim.category,
        },
        org_node=claim.site.node,
        document_currency=claim.currency,
        document_amount=claim.amount,
    )


def submit_claim(
    site: Site, data: ClaimInput, *, receipt: UploadedFile | None, actor: Any
) -> ExpenseClaim:
    """Submit a claim at `site` for the actor (who must hold `finance.claim` there)."""
    require_permission(actor, FINANCE_CLAIM, site.node)
    if not isinstance(actor, User):
        raise PermissionDenied(_("A claim is made by a person."))
    amount, spent_on, kind = _check(site, data, receipt)
    book = primary_book(site.legal_entity)
    with transaction.atomic():
        claim = ExpenseClaim(
            number=next_document_number("EC", site.node.code),
            site=site,
            claimant=actor,
            category=data.category,
            description=data.description.strip(),
            spent_on=spent_on,
            amount=amount,
            currency=book.currency,
            cost_centre=data.cost_centre.strip(),
            receipt_content_type=kind,
        )
        assert receipt is not None
        claim.receipt.save(f"{claim.number}.{kind.split('/')[-1]}", receipt, save=False)
        claim.save()
        request = runtime.submit(_submission(claim), requester=actor, actor=actor)
        record_audit(
            actor=actor,
            action="finance.claim.submitted",
            target=claim,
            after={"amount": amount, "category": claim.category, "request": request.pk},
            org_node=site.node,
        )
        _changed(claim)
        if request.status == RequestStatus.APPROVED:
            _approve(claim, decider=None)
    return claim


def _changed(claim: ExpenseClaim) -> None:
    publish(
        ClaimChanged(
            claim_id=claim.pk,
            number=claim.number,
            site_id=claim.site_id,
            status=claim.status,
            amount=str(claim.amount),
            currency=claim.currency,
        ),
        org_node=claim.site.node,
    )


def _expense_account(claim: ExpenseClaim) -> Account:
    book = primary_book(claim.site.legal_entity)
    code = EXPENSE_CATEGORIES.get(claim.category, {}).get(book.chart)
    account = (
        book.accounts.filter(code=code, is_postable=True, is_active=True).first() if code else None
    )
    return account or role_account(book.entity, PostingRole.OPERATING_EXPENSES)


def _approve(claim: ExpenseClaim, *, decider: Any) -> None:
    book = primary_book(claim.site.legal_entity)
    entity = book.entity
    lines = [
        LineInput(
            account=_expense_account(claim),
            amount=claim.amount,
            site=claim.site,
            cost_centre=claim.cost_centre,
            description=claim.description,
        ),
        LineInput(
            account=role_account(entity, PostingRole.STAFF_PAYABLE),
            amount=-claim.amount,
            site=claim.site,
            description=str(claim.claimant),
        ),
    ]
    claim.journal = record_journal(
        book,
        date=postable_date(entity, claim.spent_on, None),
        description=_("Expense claim %(number)s: %(what)s")
        % {"number": claim.number, "what": claim.description},
        lines=lines,
        actor=None,
        kind=JournalKind.AUTOMATIC,
        source=Source(CLAIM_DOCUMENT_TYPE, str(claim.pk), claim.number),
        key=f"claim:{claim.pk}",
        post=True,
    )
    claim.status = ClaimStatus.APPROVED
    claim.decided_at = timezone.now()
    claim.save(update_fields=["journal", "status", "decided_at", "updated_at"])
    record_audit(
        actor=decider or SYSTEM,
        action="finance.claim.approved",
        target=claim,
        after={"journal": claim.journal.number},
        org_node=claim.site.node,
    )
    _changed(claim)


def _on_decision(request: Any) -> None:
    """The approvals runtime's hook, inside the deciding transaction."""
    if not request.document_id.isdigit():
        return
    claim = (
        ExpenseClaim.objects.select_for_update()
        .select_related("site__node", "site__legal_entity__node", "claimant")
        .filter(pk=int(request.document_id))
        .first()
    )
    if claim is None or claim.status != ClaimStatus.PENDING_APPROVAL:
        return
    said = (
        request.history.exclude(reason="", comment="")
        .order_by("-pk")
        .values_list("reason", "comment")
        .first()
    )
    claim.decision_reason = ((said[0] or said[1]) if said else "")[:500]
    if request.status == RequestStatus.APPROVED:
        _approve(claim, decider=None)
        return
    if request.status not in (RequestStatus.REJECTED, RequestStatus.WITHDRAWN):
        return
    claim.status = (
        ClaimStatus.REJECTED if request.status == RequestStatus.REJECTED else ClaimStatus.WITHDRAWN
    )
    claim.decided_at = timezone.now()
    claim.save(update_fields=["status", "decided_at", "decision_reason", "updated_at"])
    record_audit(
        actor=SYSTEM,
        action=f"finance.claim.{claim.status}",
        target=claim,
        reason=claim.decision_reason,
        org_node=claim.site.node,
    )
    _changed(claim)


runtime.register_decision_hook(CLAIM_DOCUMENT_TYPE, _on_decision)


def approval_request(claim: ExpenseClaim) -> Any:
    return runtime.latest_request(CLAIM_DOCUMENT_TYPE, str(claim.pk))


def withdraw_claim(claim: ExpenseClaim, *, actor: Any, reason: str = "") -> ExpenseClaim:
    """The claimant takes back a claim still waiting for approval."""
    if getattr(actor, "pk", None) != claim.claimant_id:
        raise PermissionDenied(_("Only the claimant can withdraw a claim."))
    request = approval_request(claim)
    if claim.status != ClaimStatus.PENDING_APPROVAL or request is None or not request.is_open:
        raise Conflict(_("Only a claim waiting for approval can be withdrawn."))
    runtime.withdraw(request, actor=actor, reason=reason[:500])
    return ExpenseClaim.objects.select_related("site__node").get(pk=claim.pk)


def mark_claim_paid(
    claim: ExpenseClaim, *, actor: Any, paid_on: dt.date | None = None
) -> ExpenseClaim:
    """Finance paid the claimant outside Backroom: payable to staff against the bank."""
    entity = claim.site.legal_entity
    require_permission(actor, FINANCE_POST, entity.node)
    with transaction.atomic():
        claim = (
            ExpenseClaim.objects.select_for_update()
            .select_related("site__node", "site__legal_entity__node", "claimant")
            .get(pk=claim.pk)
        )
        if claim.status != ClaimStatus.APPROVED:
            raise Conflict(_("Only an approved claim can be marked paid."))
        book = primary_book(entity)
        claim.payment_journal = record_journal(
            book,
            date=postable_date(entity, paid_on or timezone.localdate(), actor),
            description=_("Payment of expense claim %(number)s") % {"number": claim.number},
            lines=[
                LineInput(
                    account=role_account(entity, PostingRole.STAFF_PAYABLE),
                    amount=claim.amount,
                    site=claim.site,
                ),
                LineInput(
                    account=role_account(entity, PostingRole.BANK),
                    amount=-claim.amount,
                    site=claim.site,
                ),
            ],
            actor=actor,
            kind=JournalKind.AUTOMATIC,
            source=Source(CLAIM_DOCUMENT_TYPE, str(claim.pk), claim.number),
            key=f"claim-paid:{claim.pk}",
            post=True,
        )
        claim.status = ClaimStatus.PAID
        claim.paid_at = timezone.now()
        claim.paid_by = actor if isinstance(actor, User) else None
        claim.save(update_fields=["payment_journal", "status", "paid_at", "paid_by", "updated_at"])
        record_audit(
            actor=actor,
            action="finance.claim.paid",
            target=claim,
            after={"journal": claim.payment_journal.number},
            org_node=claim.site.node,
        )
        _changed(claim)
    return claim


def claim_journals(claim: ExpenseClaim) -> list[Journal]:
    return [journal for journal in (claim.journal, claim.payment_journal) if journal is not None]
