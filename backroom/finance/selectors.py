"""Reads of the books, scoped to the actor: finance at an entity sees that entity's books."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from backroom.finance.models import (
    Account,
    Book,
    ExpenseClaim,
    FxRate,
    Journal,
    PendingPosting,
    Period,
)
from backroom.finance.permissions import FINANCE_VIEW
from backroom.kernel.exceptions import NotFound


def books_for(actor: Any, permission: str = FINANCE_VIEW) -> QuerySet[Book]:
    return Book.objects.restrict(actor, permission).select_related("entity__node")


def primary_books_for(actor: Any) -> QuerySet[Book]:
    """The primary books the actor may see: the entities a consolidation covers (the page
    and the API consolidate exactly these)."""
    return books_for(actor).filter(is_primary=True)


def get_book(actor: Any, book_id: int, permission: str = FINANCE_VIEW) -> Book:
    book = books_for(actor, permission).filter(pk=book_id).first()
    if book is None:
        raise NotFound()
    return book


def accounts_of(book: Book) -> QuerySet[Account]:
    return book.accounts.select_related("parent").order_by("code")


def get_account(actor: Any, account_id: int) -> Account:
    account = (
        Account.objects.restrict(actor, FINANCE_VIEW)
        .select_related("book__entity__node", "parent")
        .filter(pk=account_id)
        .first()
    )
    if account is None:
        raise NotFound()
    return account


def journals_for(actor: Any) -> QuerySet[Journal]:
    return (
        Journal.objects.restrict(actor, FINANCE_VIEW)
        .select_related("book__entity__node", "period", "created_by", "posted_by", "reverses")
        .order_by("-date", "-id")
    )


def get_journal(actor: Any, journal_id: int) -> Journal:
    journal = journals_for(actor).filter(pk=journal_id).first()
    if journal is None:
        raise NotFound()
    return journal


def journal_lines(journal: Journal) -> list[Any]:
    return list(journal.lines.select_related("account", "site__node").order_by("line_no"))


def periods_for(actor: Any) -> QuerySet[Period]:
    return (
        Period.objects.restrict(actor, FINANCE_VIEW)
        .select_related("entity__node", "changed_by")
        .order_by("entity__node__code", "-start")
    )


def get_period(actor: Any, period_id: int) -> Period:
    period = periods_for(actor).filter(pk=period_id).first()
    if period is None:
        raise NotFound()
    return period


def pending_for(actor: Any) -> QuerySet[PendingPosting]:
    return (
        PendingPosting.objects.restrict(actor, FINANCE_VIEW)
        .filter(journal__isnull=True)
        .select_related("entity__node")
        .order_by("created_at", "id")
    )


def fx_rates() -> QuerySet[FxRate]:
    """Rates are public reference data: anyone who may see any book may read them."""
    return FxRate.objects.order_by("-date", "currency", "quote")


def claims_for(actor: Any) -> QuerySet[ExpenseClaim]:
    """The actor's own claims, and those at the stores where they may see the books."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return ExpenseClaim.objects.none()
    visible = ExpenseClaim.objects.restrict(actor, FINANCE_VIEW).values("pk")
    return (
        ExpenseClaim.objects.filter(Q(claimant_id=actor.pk) | Q(pk__in=visible))
        .select_related("site__node", "site__legal_entity__node", "claimant", "journal")
        .order_by("-created_at", "-id")
    )


def get_claim(actor: Any, claim_id: int) -> ExpenseClaim:
    claim = claims_for(actor).filter(pk=claim_id).first()
    if claim is None:
        raise NotFound()
    return claim


def filter_journals(
    rows: QuerySet[Journal],
    *,
    book_id: int | None = None,
    status: str | None = None,
    account: str | None = None,
    store_id: int | None = None,
    date_from: Any = None,
    date_to: Any = None,
    source_type: str | None = None,
    source_id: str | None = None,
    q: str | None = None,
) -> QuerySet[Journal]:
    """Journals narrowed as the list page and the API ask: an account code or a store on any
    line, dates, the source document, or `q` in the number or the document's number."""
    if book_id:
        rows = rows.filter(book_id=book_id)
    if status:
        rows = rows.filter(status=status)
    if account:
        rows = rows.filter(lines__account__code=account)
    if store_id:
        rows = rows.filter(lines__site_id=store_id)
    if date_from:
        rows = rows.filter(date__gte=date_from)
    if date_to:
        rows = rows.filter(date__lte=date_to)
    if source_type:
        rows = rows.filter(source_type=source_type)
    if source_id:
        rows = rows.filter(source_id=source_id)
    if q:
        rows = rows.filter(Q(number__icontains=q) | Q(source_number__icontains=q))
    return rows.distinct()
