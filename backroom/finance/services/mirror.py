"""Secondary books: every journal posted in an entity's primary book is mirrored, line by line,
into each of its other books (an IFRS book beside a local-GAAP one) through the book's account
map (docs/finance.md).

- A mirrored journal keeps the primary's date, amounts, currencies, base amounts, dimensions
  and kind; its source is the primary journal, and its key (`mirror:<journal>:<book>`) makes
  it happen once. A reversal is mirrored as the reversal of the mirror.
- It is posted in the primary journal's transaction (the `finance.journal.posted` subscriber
  in `handlers.py`), so both books move together.
- A primary account without a mapping does not stop the primary posting: the mirror waits in
  the queue (`mapping_missing`, naming the accounts) and is posted when the account is mapped.
- Opening a secondary book maps the template pair's accounts (`charts.ACCOUNT_MAPS`), then
  every posting role's account to the role's account in the new book, and mirrors what the
  primary book holds already.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from backroom.accounts.authorization import require_permission
from backroom.audit.services import record_audit
from backroom.finance.charts import ACCOUNT_MAPS
from backroom.finance.charts import chart as chart_template
from backroom.finance.choices import JournalStatus
from backroom.finance.exceptions import MappingMissing
from backroom.finance.models import Account, AccountMap, Book, Journal, PostingAccount
from backroom.finance.permissions import FINANCE_MANAGE
from backroom.finance.services.automatic import Posting, retry_pending, rule, run_rule
from backroom.finance.services.books import primary_book
from backroom.finance.services.journals import LineInput, Source, line_inputs
from backroom.kernel.exceptions import ErrorCollector

JOURNAL_SOURCE = "finance.journal"


def mirror_key(journal_id: int, book_id: int) -> str:
    return f"mirror:{journal_id}:{book_id}"


def default_account_map(book: Book) -> int:
    """Map the primary book's accounts into `book`: the chart pair's map first, then each
    posting role's account to the role's account in `book`'s chart. Returns how many."""
    primary = primary_book(book.entity)
    target = {account.code: account for account in book.accounts.filter(is_postable=True)}
    source = {account.code: account for account in primary.accounts.filter(is_postable=True)}
    pairs: dict[int, Account] = {}
    for source_code, target_code in ACCOUNT_MAPS.get((primary.chart, book.chart), {}).items():
        if source_code in source and target_code in target:
            pairs[source[source_code].pk] = target[target_code]
    roles = chart_template(book.chart).roles
    for row in PostingAccount.objects.filter(entity=book.entity, category__isnull=True):
        account = target.get(roles.get(row.role, ""))
        if account is not None:
            pairs.setdefault(row.account_id, account)
    existing = set(AccountMap.objects.filter(book=book).values_list("source_id", flat=True))
    rows = [
        AccountMap(book=book, source_id=source_id, target=account)
        for source_id, account in pairs.items()
        if source_id not in existing
    ]
    AccountMap.objects.bulk_create(rows)
    return len(rows)


def set_account_map(book: Book, *, source: Account, target: Account, actor: Any) -> AccountMap:
    """Map a primary-book account into a secondary book, then post the mirrors that waited."""
    require_permission(actor, FINANCE_MANAGE, book.entity.node)
    errors = ErrorCollector()
    if book.is_primary:
        errors.add("book", _("Choose a secondary book; the primary book is the one mirrored."))
    if source.book.entity_id != book.entity_id or not source.book.is_primary:
        errors.add("source", _("Choose an account of the entity's primary book."))
    if target.book_id != book.pk:
        errors.add("target", _("Choose an account of %(book)s.") % {"book": book.code})
    elif not target.is_postable or not target.is_active:
        errors.add("target", _("%(code)s does not take postings.") % {"code": target.code})
    errors.raise_if_any()
    with transaction.atomic():
        row = AccountMap.objects.filter(book=book, source=source).first()
        before = {"target": row.target.code} if row else None
        if row is None:
            row = AccountMap(book=book, source=source)
        row.target = target
        row.save()
        record_audit(
            actor=actor,
            action="finance.account_map.set",
            target=row,
            before=before,
            after={"book": book.code, "source": source.code, "target": target.code},
            org_node=book.entity.node,
        )
    retry_pending(book.entity)
    return row


@rule("mirror")
def mirror_rule(journal_id: int, book_id: int) -> list[Posting]:
    journal = Journal.objects.select_related("book__entity__node", "posted_by").get(pk=journal_id)
    book = Book.objects.select_related("entity__node").get(pk=book_id)
    if journal.status != JournalStatus.POSTED:
        return []
    source_lines = list(journal.lines.select_related("account"))

    def build() -> list[LineInput]:
        targets = {
            row.source_id: row.target
            for row in AccountMap.objects.filter(book=book).select_related("target")
        }
        missing = sorted(
            {line.account.code for line in source_lines if line.account_id not in targets}
        )
        if missing:
            raise MappingMissing(
                {
                    "accounts": [
                        _("%(book)s has no account for: %(accounts)s.")
                        % {"book": book.code, "accounts": ", ".join(missing)}
                    ]
                }
            )
        return line_inputs(journal, account_of=lambda line: targets[line.account_id])

    reverses = None
    if journal.reverses_id is not None:
        reverses = Journal.objects.filter(
            idempotency_key=mirror_key(journal.reverses_id, book.pk)
        ).first()
    return [
        Posting(
            entity=book.entity,
            key=mirror_key(journal.pk, book.pk),
            date=journal.date,
            description=journal.description,
            legs=[],
            source=Source(JOURNAL_SOURCE, str(journal.pk), journal.number),
            book=book,
            build=build,
            kind=journal.kind,
            reverses=reverses,
            actor=journal.posted_by,
        )
    ]


def mirror_journal(journal_id: int) -> list[Journal]:
    """Mirror a posted primary-book journal into each secondary book of its entity."""
    journal = Journal.objects.select_related("book").get(pk=journal_id)
    if not journal.book.is_primary:
        return []
    mirrored = []
    for book_id in Book.objects.filter(
        entity_id=journal.book.entity_id, is_primary=False
    ).values_list("pk", flat=True):
        mirrored += run_rule("mirror", journal_id=journal.pk, book_id=book_id)
    return mirrored


def mirror_history(book: Book) -> int:
    """Mirror every posted journal of the primary book not yet in `book` (a book opened after
    postings began); returns how many were posted (the rest wait for a mapping)."""
    primary = primary_book(book.entity)
    done = set(
        Journal.objects.filter(book=book, source_type=JOURNAL_SOURCE).values_list(
            "source_id", flat=True
        )
    )
    posted = 0
    for journal_id in (
        Journal.objects.filter(book=primary, status=JournalStatus.POSTED)
        .order_by("date", "pk")
        .values_list("pk", flat=True)
    ):
        if str(journal_id) not in done:
            posted += len(run_rule("mirror", journal_id=journal_id, book_id=book.pk))
    return posted
