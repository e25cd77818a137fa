"""Expense claim pages: a staff member claims from a phone (with the camera for the receipt),
follows the claim, withdraws it while it waits; finance sees the claims of its stores and marks
approved ones paid. Thin views over `finance.services.claims`."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backroom.finance import selectors
from backroom.finance.charts import EXPENSE_CATEGORY_LABELS
from backroom.finance.choices import ClaimStatus
from backroom.finance.models import ExpenseClaim
from backroom.finance.permissions import FINANCE_CLAIM, FINANCE_POST
from backroom.finance.services import claims
from backroom.finance.views import report_error
from backroom.kernel.exceptions import DomainError
from backroom.kernel.files import private_file_response
from backroom.org.selectors import sites_for
from backroom.web.errors import page
from backroom.web.exports import Column, export_format, export_table
from backroom.web.forms import posted_id
from backroom.web.rendering import render_page

FIELDS = ("category", "description", "spent_on", "amount", "cost_centre")


CLAIM_COLUMNS = [
    Column(gettext_lazy("Number"), lambda claim: claim.number),
    Column(gettext_lazy("Date"), lambda claim: claim.spent_on),
    Column(gettext_lazy("Store code"), lambda claim: claim.site.node.code),
    Column(gettext_lazy("Store"), lambda claim: claim.site.node.name),
    Column(
        gettext_lazy("Category"),
        lambda claim: str(EXPENSE_CATEGORY_LABELS.get(claim.category, claim.category)),
    ),
    Column(gettext_lazy("Description"), lambda claim: claim.description),
    Column(gettext_lazy("Cost centre"), lambda claim: claim.cost_centre),
    Column(gettext_lazy("Amount"), lambda claim: claim.amount),
    Column(gettext_lazy("Currency"), lambda claim: claim.currency),
    Column(gettext_lazy("Status"), lambda claim: str(claim.get_status_display())),
    Column(gettext_lazy("Claimant"), lambda claim: str(claim.claimant)),
]


@page(FINANCE_CLAIM)
def claim_list(request: HttpRequest) -> HttpResponse:
    """My claims, and (for finance) the approved claims of its stores waiting to be paid.
    The export has every claim the user may open: their own, and those of the stores whose
    books they may see."""
    rows = selectors.claims_for(request.user)
    if file_type := export_format(request):
        return export_table(file_type, "expense-claims", CLAIM_COLUMNS, rows)
    mine = list(rows.filter(claimant_id=request.user.pk)[:50])
    to_pay = [
        claim
        for claim in rows.filter(status=ClaimStatus.APPROVED).exclude(claimant_id=request.user.pk)[
            :100
        ]
        if request.user.has_scoped_permission(FINANCE_POST, claim.site.legal_entity.node)  # type: ignore[union-attr]
    ]
    return render_page(
        request,
        "finance/claim_list.html",
        {
            "title": _("Expense claims"),
            "mine": mine,
            "to_pay": to_pay,
            "labels": EXPENSE_CATEGORY_LABELS,
            "export_base": reverse("finance:claim_list"),
        },
    )


def _form(
    request: HttpRequest, values: dict[str, Any], errors: dict[str, list[str]], status: int = 200
) -> HttpResponse:
    stores = list(
        sites_for(request.user, FINANCE_CLAIM).select_related("node").order_by("node__code")
    )
    return render_page(
        request,
        "finance/claim_new.html",
        {
            "title": _("New expense claim"),
            "stores": stores,
            "categories": list(EXPENSE_CATEGORY_LABELS.items()),
            "values": values,
            "errors": errors,
            "other_errors": [
                m
                for name, texts in errors.items()
                if name not in (*FIELDS, "receipt", "store")
                for m in texts
            ],
        },
        status=status,
    )


@page(FINANCE_CLAIM)
def claim_new(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _form(
            request, {"spent_on": timezone.localdate().isoformat(), "category": "other"}, {}
        )
    values = {name: request.POST.get(name, "").strip() for name in (*FIELDS, "store")}
    errors: dict[str, list[str]] = {}
    site = sites_for(request.user, FINANCE_CLAIM).filter(pk=posted_id(values["store"]) or 0).first()
    if site is None:
        errors["store"] = [_("Choose one of your stores.")]
    else:
        try:
            claim = claims.submit_claim(
                site,
                claims.ClaimInput(
                    category=values["category"],
                    description=values["description"],
                    spent_on=values["spent_on"],
                    amount=values["amount"],
                    cost_centre=values["cost_centre"],
                ),
                receipt=request.FILES.get("receipt"),
                actor=request.user,
            )
        except DomainError as error:
            if error.http_status in (403, 404):
                raise
            errors = dict(getattr(error, "errors", {}) or {"": [error.message]})
        else:
            messages.success(
                request,
                _("Claim %(number)s is submitted.") % {"number": claim.number}
                if claim.status == ClaimStatus.PENDING_APPROVAL
                else _("Claim %(number)s is approved and will be paid.") % {"number": claim.number},
            )
            return redirect("finance:claim_detail", claim.pk)
    return _form(request, values, errors, status=422)


@page(FINANCE_CLAIM)
def claim_detail(request: HttpRequest, claim_id: int) -> HttpResponse:
    claim = selectors.get_claim(request.user, claim_id)
    request_ = claims.approval_request(claim)
    return render_page(
        request,
        "finance/claim_detail.html",
        {
            "title": _("Expense claim %(number)s") % {"number": claim.number},
            "claim": claim,
            "category": EXPENSE_CATEGORY_LABELS.get(claim.category, claim.category),
            "approval": request_,
            "may_withdraw": claim.claimant_id == request.user.pk
            and claim.status == ClaimStatus.PENDING_APPROVAL,
            "may_pay": claim.status == ClaimStatus.APPROVED
            and request.user.has_scoped_permission(FINANCE_POST, claim.site.legal_entity.node),  # type: ignore[union-attr]
        },
    )


def _claim_action(
    request: HttpRequest, claim: ExpenseClaim, action: Any, done: str
) -> HttpResponse:
    if request.method == "POST":
        try:
            action()
        except DomainError as error:
            report_error(request, error)
        else:
            messages.success(request, done)
    return redirect("finance:claim_detail", claim.pk)


@page(FINANCE_CLAIM)
def claim_withdraw(request: HttpRequest, claim_id: int) -> HttpResponse:
    claim = selectors.get_claim(request.user, claim_id)
    return _claim_action(
        request,
        claim,
        lambda: claims.withdraw_claim(
            claim, actor=request.user, reason=request.POST.get("reason", "")
        ),
        _("The claim is withdrawn."),
    )


@page(FINANCE_POST)
def claim_paid(request: HttpRequest, claim_id: int) -> HttpResponse:
    claim = selectors.get_claim(request.user, claim_id)
    return _claim_action(
        request,
        claim,
        lambda: claims.mark_claim_paid(claim, actor=request.user),
        _("The claim is marked paid."),
    )


@page(FINANCE_CLAIM)
def claim_receipt(request: HttpRequest, claim_id: int) -> HttpResponse:
    """The receipt photo, only to those who may see the claim."""
    claim = selectors.get_claim(request.user, claim_id)
    if not claim.receipt:
        raise Http404()
    return private_file_response(  # type: ignore[return-value]
        claim.receipt, content_type=claim.receipt_content_type, filename=claim.number
    )
