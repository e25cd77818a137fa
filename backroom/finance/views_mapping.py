"""The mapping page: what automatic postings wait for, which account each posting role uses
(by default and per item category) and, for a secondary book, where the primary book's
accounts land. Saving a mapping posts what waited for it. Thin views over
`finance.services.books` and `finance.services.mirror`."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from backroom.catalog.models import Category
from backroom.finance import selectors
from backroom.finance.choices import PostingRole
from backroom.finance.models import Account, AccountMap, Book, PendingPosting, PostingAccount
from backroom.finance.permissions import FINANCE_MANAGE, FINANCE_VIEW
from backroom.finance.services import mirror
from backroom.finance.services.books import primary_book, set_posting_account
from backroom.finance.views import chosen_book, report_error
from backroom.kernel.exceptions import DomainError, ValidationFailed
from backroom.web.errors import page
from backroom.web.forms import posted_id
from backroom.web.rendering import render_page


def _primary_rows(book: Book) -> list[dict[str, Any]]:
    """Each role's default row, followed by its per-category rows."""
    rows = {
        (row.role, row.category_id): row
        for row in PostingAccount.objects.filter(entity=book.entity).select_related(
            "account", "category"
        )
    }
    listed: list[dict[str, Any]] = []
    for role, label in PostingRole.choices:
        listed.append({"role": role, "label": label, "row": rows.get((role, None))})
        for (other, category_id), row in sorted(
            rows.items(), key=lambda item: item[1].category.code if item[1].category else ""
        ):
            if other == role and category_id is not None:
                listed.append({"role": role, "label": label, "row": row, "category": row.category})
    return listed


def _map_rows(book: Book) -> tuple[list[Account], list[AccountMap]]:
    """A secondary book's primary accounts without a mapping, and its map."""
    primary = primary_book(book.entity)
    maps = list(
        AccountMap.objects.filter(book=book)
        .select_related("source", "target")
        .order_by("source__code")
    )
    mapped = {row.source_id for row in maps}
    unmapped = [
        account
        for account in primary.accounts.filter(is_postable=True).order_by("code")
        if account.pk not in mapped
    ]
    return unmapped, maps


@page(FINANCE_VIEW)
def mapping(request: HttpRequest) -> HttpResponse:
    books = list(selectors.books_for(request.user))
    book = chosen_book(request, books)
    context: dict[str, Any] = {"books": books, "book": book, "title": _("Mapping")}
    if book is not None:
        context["waiting"] = PendingPosting.objects.filter(
            entity=book.entity, journal__isnull=True
        ).order_by("created_at", "pk")
        context["may_manage"] = request.user.has_scoped_permission(  # type: ignore[union-attr]
            FINANCE_MANAGE, book.entity.node
        )
        context["accounts"] = list(
            book.accounts.filter(is_postable=True, is_active=True).order_by("code")
        )
        if book.is_primary:
            context["roles"] = _primary_rows(book)
            context["role_choices"] = PostingRole.choices
            context["categories"] = list(Category.objects.order_by("code"))
        else:
            context["unmapped"], context["maps"] = _map_rows(book)
    return render_page(request, "finance/mapping.html", context)


@page(FINANCE_MANAGE)
def mapping_save(request: HttpRequest, book_id: int) -> HttpResponse:
    """Save one role's account (optionally for a category) in a primary book, or one account
    map row in a secondary book; what waited for it is posted."""
    book = selectors.get_book(request.user, book_id)
    back = redirect(f"{reverse('finance:mapping')}?book={book.pk}")
    if request.method != "POST":
        return back
    waiting = PendingPosting.objects.filter(entity=book.entity, journal__isnull=True).count()
    try:
        target = book.accounts.filter(pk=posted_id(request.POST.get("account")) or 0).first()
        if target is None:
            raise ValidationFailed({"account": [_("Choose an account of this book.")]})
        if book.is_primary:
            category_id = posted_id(request.POST.get("category"))
            category = Category.objects.filter(pk=category_id).first() if category_id else None
            set_posting_account(
                book.entity,
                role=request.POST.get("role", ""),
                account=target,
                category=category,
                actor=request.user,
            )
        else:
            source = (
                primary_book(book.entity)
                .accounts.filter(pk=posted_id(request.POST.get("source")) or 0)
                .first()
            )
            if source is None:
                raise ValidationFailed(
                    {"source": [_("Choose an account of the entity's primary book.")]}
                )
            mirror.set_account_map(book, source=source, target=target, actor=request.user)
    except DomainError as error:
        report_error(request, error)
        return back
    posted = (
        waiting - PendingPosting.objects.filter(entity=book.entity, journal__isnull=True).count()
    )
    messages.success(
        request,
        _("Saved. %(count)s waiting postings were posted.") % {"count": posted}
        if posted
        else _("Saved."),
    )
    return back
