"""Opening an entity's books from a chart template, editing the chart, mapping posting roles."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from backroom.accounts.authorization import require_permission
from backroom.audit.services import record_audit, snapshot
from backroom.finance.charts import chart as chart_template
from backroom.finance.choices import AccountKind, PostingRole
from backroom.finance.exceptions import NoBooks
from backroom.finance.models import Account, Book, PostingAccount
from backroom.finance.permissions import FINANCE_MANAGE
from backroom.kernel.exceptions import Conflict, ErrorCollector, ValidationFailed
from backroom.org.models import LegalEntity

# Output VAT included in menu prices, by the entity's country (catering: 6% in mainland China).
SALES_TAX_RATES = {"CN": Decimal("0.06")}
ACCOUNT_FIELDS = ["code", "name", "name_zh", "kind", "parent", "is_postable", "is_active"]


def open_books(
    entity: LegalEntity,
    *,
    chart: str,
    actor: Any,
    code: str = "",
    name: str = "",
    primary: bool | None = None,
) -> Book:
    """Open a book for `entity` with the accounts of a chart template. The first book is the
    primary one and gets the template's posting accounts for every role; a later one is a
    secondary book: it gets the default account map and a mirror of the primary's journals
    (`mirror.py`)."""
    from backroom.finance.services.mirror import default_account_map, mirror_history

    require_permission(actor, FINANCE_MANAGE, entity.node)
    try:
        template = chart_template(chart)
    except ValueError as error:
        raise ValidationFailed({"chart": [str(error)]}) from None
    code = (code or ("IFRS" if chart == "ifrs" else "PRIMARY")).strip().upper()
    with transaction.atomic():
        if Book.objects.filter(entity=entity, code=code).exists():
            raise Conflict(
                _("%(entity)s has a book %(code)s already.")
                % {"entity": entity.node.code, "code": code}
            )
        if primary is None:
            primary = not Book.objects.filter(entity=entity).exists()
        book = Book.objects.create(
            entity=entity,
            code=code,
            name=name or str(template.label),
            chart=template.code,
            currency=entity.base_currency,
            is_primary=primary,
            sales_tax_rate=SALES_TAX_RATES.get(entity.country, Decimal(0)),
        )
        accounts: dict[str, Account] = {}
        for row in template.accounts:
            accounts[row.code] = Account.objects.create(
                book=book,
                code=row.code,
                name=row.name,
                name_zh=row.name_zh,
                kind=row.kind,
                parent=accounts[row.parent] if row.parent else None,
                is_postable=row.postable,
            )
        if primary:
            PostingAccount.objects.bulk_create(
                PostingAccount(entity=entity, role=role, account=accounts[account_code])
                for role, account_code in template.roles.items()
            )
        else:
            default_account_map(book)
        record_audit(
            actor=actor,
            action="finance.book.opened",
            target=book,
            after={"chart": template.code, "accounts": len(accounts), "primary": primary},
            org_node=entity.node,
        )
        if not primary:
            mirror_history(book)
    return book


def primary_book(entity: LegalEntity) -> Book:
    book = (
        Book.objects.filter(entity=entity, is_primary=True).select_related("entity__node").first()
    )
    if book is None:
        raise NoBooks(
            {"entity": [_("%(entity)s has no books open yet.") % {"entity": entity.node.code}]}
        )
    return book


def _check_account(book: Book, values: dict[str, Any], account: Account | None) -> None:
    errors = ErrorCollector()
    code = values.get("code", "")
    if not code:
        errors.add("code", _("Give the account a code."))
    elif (
        Account.objects.filter(book=book, code=code)
        .exclude(pk=account.pk if account is not None else 0)
        .exists()
    ):
        errors.add("code", _("%(code)s is taken in this book.") % {"code": code})
    if not values.get("name"):
        errors.add("name", _("Give the account a name."))
    if values.get("kind") not in AccountKind.values:
        errors.add("kind", _("Choose a kind."))
    parent = values.get("parent")
    if parent is not None:
        if parent.book_id != book.pk:
            errors.add("parent", _("The parent must be in the same book."))
        elif parent.is_postable:
            errors.add(
                "parent",
                _("%(code)s takes postings; it cannot hold sub-accounts.") % {"code": parent.code},
            )
        elif parent.kind != values.get("kind"):
            errors.add("kind", _("A sub-account has the kind of its parent."))
    if account is not None and not values.get("is_postable", True) and account.lines.exists():
        errors.add("is_postable", _("The account has postings; it must keep taking them."))
    if account is not None and values.get("kind") != account.kind and account.lines.exists():
        errors.add("kind", _("The account has postings; its kind cannot change."))
    errors.raise_if_any()


def create_account(book: Book, *, actor: Any, **values: Any) -> Account:
    require_permission(actor, FINANCE_MANAGE, book.entity.node)
    values.setdefault("is_postable", True)
    values["code"] = str(values.get("code", "")).strip()
    _check_account(book, values, None)
    with transaction.atomic():
        account = Account.objects.create(book=book, **values)
        record_audit(
            actor=actor,
            action="finance.account.created",
            target=account,
            after=snapshot(account, ACCOUNT_FIELDS),
            org_node=book.entity.node,
        )
    return account


def update_account(account: Account, *, actor: Any, **changes: Any) -> Account:
    require_permission(actor, FINANCE_MANAGE, account.book.entity.node)
    values = {name: getattr(account, name) for name in ACCOUNT_FIELDS}
    values.update(changes)
    _check_account(account.book, values, account)
    with transaction.atomic():
        before = snapshot(account, ACCOUNT_FIELDS)
        for name, value in changes.items():
            setattr(account, name, value)
        account.save()
        record_audit(
            actor=actor,
            action="finance.account.updated",
            target=account,
            before=before,
            after=snapshot(account, ACCOUNT_FIELDS),
            org_node=account.book.entity.node,
        )
    return account


def set_posting_account(
    entity: LegalEntity, *, role: str, account: Account, actor: Any, category: Any = None
) -> PostingAccount:
    """Map a role (optionally for one item category) to a postable account of the primary
    book, then retry the postings that waited for it."""
    from backroom.finance.services.automatic import retry_pending

    require_permission(actor, FINANCE_MANAGE, entity.node)
    errors = ErrorCollector()
    if role not in PostingRole.values:
        errors.add("role", _("Choose a posting role."))
    if account.book.entity_id != entity.pk or not account.book.is_primary:
        errors.add("account", _("Choose an account of the entity's primary book."))
    elif not account.is_postable or not account.is_active:
        errors.add("account", _("%(code)s does not take postings.") % {"code": account.code})
    errors.raise_if_any()
    with transaction.atomic():
        row = PostingAccount.objects.filter(entity=entity, role=role, category=category).first()
        before = {"account": row.account.code} if row else None
        if row is None:
            row = PostingAccount(entity=entity, role=role, category=category)
        row.account = account
        row.save()
        record_audit(
            actor=actor,
            action="finance.posting_account.set",
            target=row,
            before=before,
            after={
                "role": role,
                "category": getattr(category, "code", None),
                "account": account.code,
            },
            org_node=entity.node,
        )
    retry_pending(entity)
    return row
