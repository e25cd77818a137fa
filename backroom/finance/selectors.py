"""Reads of the books, scoped to the actor: finance at an entity sees that entity's books."""

from __future__ import annotations

from dataclasses import dataclass, field
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
from backroom.org.choices import NodeKind
from backroom.org.models import Brand, OrgNode, Site
from backroom.org.selectors import sites_for


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
    region_id: int | None = None,
    brand_id: int | None = None,
) -> QuerySet[Journal]:
    """Journals narrowed as the list page and the API ask: an account code or a store (a
    region's, a brand's) on any line, dates, the source document, or `q` in the number or the
    document's number."""
    if book_id:
        rows = rows.filter(book_id=book_id)
    if status:
        rows = rows.filter(status=status)
    if account:
        rows = rows.filter(lines__account__code=account)
    if store_id:
        rows = rows.filter(lines__site_id=store_id)
    if region_id:
        region = OrgNode.objects.filter(pk=region_id).first()
        rows = rows.filter(lines__site__node__path__startswith=region.path if region else "-")
    if brand_id:
        rows = rows.filter(lines__site__brand_id=brand_id)
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


@dataclass
class ReportScope:
    """What part of an entity a report covers: one store, the stores of a region and/or a
    brand, or all the stores the actor may see (and, for those who see the whole entity, the
    lines booked without a store too)."""

    stores: list[Site]  # the entity's stores the actor may see
    whole: bool  # the actor sees the entity itself
    store: Site | None = None
    region: OrgNode | None = None
    brand: Brand | None = None
    regions: list[OrgNode] = field(default_factory=list)
    brands: list[Brand] = field(default_factory=list)

    def site_ids(self) -> list[int] | None:
        """The sites the report sums, or None for the whole entity."""
        if self.store is not None:
            return [self.store.pk]
        if self.region is None and self.brand is None and self.whole:
            return None
        return [
            site.pk
            for site in self.stores
            if (self.region is None or site.node.path.startswith(self.region.path))
            and (self.brand is None or site.brand_id == self.brand.pk)
        ]


def report_scope(
    actor: Any,
    book: Book,
    *,
    store_id: int | None = None,
    region_id: int | None = None,
    brand_id: int | None = None,
) -> ReportScope:
    """The scope a report asks for, within what the actor may see of the book's entity; an
    unknown or hidden store, region or brand is ignored (the wider scope is shown)."""
    stores = list(
        sites_for(actor, FINANCE_VIEW)
        .filter(legal_entity_id=book.entity_id)
        .select_related("node", "brand")
        .order_by("node__code")
    )
    prefixes = {
        site.node.path[: index + 1]
        for site in stores
        for index, char in enumerate(site.node.path)
        if char == "/"
    }
    regions = list(OrgNode.objects.filter(kind=NodeKind.REGION, path__in=prefixes).order_by("path"))
    brands = sorted({site.brand for site in stores if site.brand}, key=lambda brand: brand.code)
    return ReportScope(
        stores=stores,
        whole=bool(
            getattr(actor, "is_authenticated", False)
            and actor.has_scoped_permission(FINANCE_VIEW, book.entity.node)
        ),
        store=next((site for site in stores if site.pk == store_id), None),
        region=next((node for node in regions if node.pk == region_id), None),
        brand=next((brand for brand in brands if brand.pk == brand_id), None),
        regions=regions,
        brands=brands,
    )
