"""Charts of accounts: one row per account of a legal entity's book (the primary local-GAAP
book, an IFRS book). Natural key: entity code + book code + account code. Created and changed
through `finance.services.books` (`create_account`, `update_account`: audited); the book must
be open already.

A row may name a parent account further down the file: rows are applied parents first
(`ordered`, `depth` in the chart as it will be). The rules of the books service are checked
before anything changes, on the chart as the file leaves it: a parent in the same book that
takes no postings and has the kind of its sub-accounts, no circle of parents, and an account
with postings keeps its kind and keeps taking postings. A blank Chinese name, Takes postings or
Active leaves an existing account's value; a blank parent code puts the account at the top of
the chart. A new account takes postings unless the file gives it sub-accounts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backroom.finance.choices import AccountKind
from backroom.finance.models import Account, Book
from backroom.finance.permissions import FINANCE_MANAGE
from backroom.finance.selectors import accounts_of, books_for
from backroom.finance.services.books import create_account, update_account
from backroom.imports.columns import BOOLEAN, CHOICE, CODE, TEXT, Column, Row
from backroom.imports.importers.base import CREATED, UNCHANGED, UPDATED, Change, Importer, register
from backroom.imports.permissions import IMPORTS_USE
from backroom.imports.problems import Problems
from backroom.org.choices import NodeKind
from backroom.org.models import OrgNode

KIND_CHOICES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (AccountKind.ASSET, ("asset", "资产", "资产类", "assets")),
    (AccountKind.LIABILITY, ("liability", "负债", "负债类", "liabilities")),
    (AccountKind.EQUITY, ("equity", "所有者权益", "权益", "权益类")),
    (AccountKind.REVENUE, ("revenue", "收入", "收入类", "income")),
    (AccountKind.EXPENSE, ("expense", "费用", "费用类", "expenses", "成本费用")),
)


def listed(codes: Sequence[str], most: int = 5) -> str:
    """Codes for a message: the first few, then an ellipsis."""
    return ", ".join([*codes[:most], "…"] if len(codes) > most else codes)


def fold(code: str) -> str:
    """An account code as compared (codes match without case, as natural keys do)."""
    return code.strip().casefold()


# The book a row belongs to: its legal entity's org code and the book's code (finance
# importers share them).
BOOK_COLUMNS = (
    Column(
        "entity_code",
        "Entity code",
        "法人编码",
        CODE,
        True,
        "CN-CO",
        max_length=20,
        aliases=("entity", "legal entity", "法人", "法人主体"),
        help=gettext_lazy("The org code of the legal entity whose books these are."),
    ),
    Column(
        "book_code",
        "Book code",
        "账簿编码",
        CODE,
        True,
        "PRIMARY",
        max_length=20,
        aliases=("book", "账簿", "账套"),
        help=gettext_lazy("The book's code: PRIMARY for the local books, IFRS, …"),
    ),
)


def unknown_book(row: Row, problems: Problems) -> None:
    """The row names a book that does not exist: say whether the entity or the book is wrong."""
    entity = OrgNode.objects.filter(code__iexact=row["entity_code"], kind=NodeKind.ENTITY).first()
    if entity is None:
        problems.add(
            row.number,
            "entity_code",
            "unknown_reference",
            _("There is no legal entity %(code)s.") % {"code": row["entity_code"]},
        )
    else:
        books = Book.objects.filter(entity__node=entity).values_list("code", flat=True)
        problems.add(
            row.number,
            "book_code",
            "unknown_reference",
            _("%(entity)s has no book %(book)s (its books: %(books)s).")
            % {
                "entity": entity.code,
                "book": row["book_code"],
                "books": ", ".join(books) or "—",
            },
        )


@dataclass
class Entry:
    """An account as the chart will have it after the file: from the file's row (`row` set)
    or as it is in Backroom (`row` None)."""

    code: str
    kind: str
    parent: str | None  # the parent's folded code
    is_postable: bool
    row: int | None = None
    account: Account | None = None
    postable_given: bool = True  # False: a new account whose row leaves Takes postings blank


class BookLookups:
    """The book a row names (entity and book codes) and its chart, each read once per import;
    the finance importers share them."""

    books: dict[tuple[str, str], Book | None]
    charts: dict[int, dict[str, Account]]

    def book(self, row: Row) -> Book | None:
        key = (row["entity_code"].upper(), row["book_code"].upper())
        if key not in self.books:
            self.books[key] = (
                Book.objects.select_related("entity__node")
                .filter(entity__node__code__iexact=key[0], code__iexact=key[1])
                .first()
            )
        return self.books[key]

    def chart(self, book: Book) -> dict[str, Account]:
        """The book's accounts by folded code, loaded once."""
        if book.pk not in self.charts:
            self.charts[book.pk] = {fold(account.code): account for account in accounts_of(book)}
        return self.charts[book.pk]


@register
class ChartOfAccountsImporter(BookLookups, Importer):
    kind = "chart_of_accounts"
    label = gettext_lazy("Chart of accounts")
    description = gettext_lazy(
        "Chart of accounts: one row per account of a book that is open already (the legal "
        "entity's code and the book's code, PRIMARY or IFRS), with its code, names, kind and "
        "parent code; a parent may be on a row further down. An account with postings keeps "
        "its kind and keeps taking postings."
    )
    permission = IMPORTS_USE
    writes = FINANCE_MANAGE
    ordered = True
    key_fields = ("entity_code", "book_code", "code")
    columns = (
        *BOOK_COLUMNS,
        Column(
            "code",
            "Account code",
            "科目编码",
            CODE,
            True,
            "6602.09",
            max_length=20,
            aliases=("account", "科目代码", "科目"),
            help=gettext_lazy("The account's key within its book; cannot change."),
        ),
        Column(
            "name",
            "Name",
            "名称",
            TEXT,
            True,
            "Administrative expenses - software",
            aliases=("account name", "英文名称"),
        ),
        Column(
            "name_zh",
            "Chinese name",
            "中文名称",
            TEXT,
            False,
            "管理费用-软件服务费",
            aliases=("科目名称",),
            help=gettext_lazy("Blank keeps the current one."),
        ),
        Column(
            "kind",
            "Kind",
            "类别",
            CHOICE,
            True,
            "expense",
            choices=KIND_CHOICES,
            aliases=("type", "account kind", "科目类别", "类型"),
            help=gettext_lazy(
                "A sub-account has the kind of its parent; an account with postings keeps its kind."
            ),
        ),
        Column(
            "parent_code",
            "Parent code",
            "上级科目编码",
            CODE,
            False,
            "6602",
            max_length=20,
            aliases=("parent", "parent account", "上级科目", "上级编码"),
            help=gettext_lazy(
                "A header account of the same book (in Backroom or on another row of this "
                "file); blank: a top-level account."
            ),
        ),
        Column(
            "postable",
            "Takes postings",
            "可记账",
            BOOLEAN,
            False,
            "yes",
            aliases=("postable", "is postable", "明细科目"),
            help=gettext_lazy(
                "“no” for a header account that holds sub-accounts. Blank keeps an existing "
                "account's setting; a new account takes postings unless it has sub-accounts."
            ),
        ),
        Column(
            "active",
            "Active",
            "启用",
            BOOLEAN,
            False,
            "yes",
            help=gettext_lazy("Blank keeps an existing account's setting; yes for a new one."),
        ),
    )

    def __init__(self, actor: Any) -> None:
        super().__init__(actor)
        self.books: dict[tuple[str, str], Book | None] = {}
        self.charts: dict[int, dict[str, Account]] = {}
        self.managed: dict[int, bool] = {}
        self.entries: dict[tuple[int, str], Entry] = {}
        self.depths: dict[tuple[int, str], int] = {}
        self.finals: dict[int, dict[str, Entry]] = {}

    # --- lookups ------------------------------------------------------------------------

    def may_manage(self, book: Book) -> bool:
        if book.pk not in self.managed:
            self.managed[book.pk] = self.actor.has_scoped_permission(
                FINANCE_MANAGE, book.entity.node
            )
        return self.managed[book.pk]

    # --- checking -----------------------------------------------------------------------

    def check_rows(self, rows: Sequence[Row], problems: Problems) -> None:
        for row in rows:
            if not (row.has("entity_code") and row.has("book_code") and row.has("code")):
                continue
            book = self.book(row)
            if book is None:
                unknown_book(row, problems)
                continue
            if not self.may_manage(book):
                problems.add(
                    row.number,
                    "entity_code",
                    "permission_denied",
                    _("You may not edit the chart of accounts of %(entity)s.")
                    % {"entity": book.entity.node.code},
                )
                continue
            account = self.chart(book).get(fold(row["code"]))
            if account is not None:
                self.check_existing(row, account, problems)
            key = (book.pk, fold(row["code"]))
            if key not in self.entries and row.has("kind"):  # a duplicate is the engine's
                self.entries[key] = self.entry(row, account)

    def check_existing(self, row: Row, account: Account, problems: Problems) -> None:
        """What the books service refuses for an account with postings."""
        changes_kind = row.has("kind") and row["kind"] != account.kind
        stops_postings = account.is_postable and row.get("postable") is False
        if (changes_kind or stops_postings) and account.lines.exists():
            if changes_kind:
                problems.add(
                    row.number,
                    "kind",
                    "cannot_change",
                    _("The account has postings; its kind cannot change."),
                )
            if stops_postings:
                problems.add(
                    row.number,
                    "postable",
                    "cannot_change",
                    _("The account has postings; it must keep taking them."),
                )

    def entry(self, row: Row, account: Account | None) -> Entry:
        if row.has("parent_code"):
            parent: str | None = fold(row["parent_code"])
        elif "parent_code" in row.raw or account is None or account.parent is None:
            parent = None  # a blank cell: the top of the chart
        else:
            parent = fold(account.parent.code)
        given = row.has("postable")
        if given:
            postable = bool(row["postable"])
        else:
            postable = account.is_postable if account is not None else True
        return Entry(
            code=account.code if account is not None else row["code"],
            kind=row["kind"],
            parent=parent,
            is_postable=postable,
            row=row.number,
            account=account,
            postable_given=given or account is not None,
        )

    def finish_check(self, problems: Problems) -> None:
        """Each book's chart as the file leaves it: parents exist, hold sub-accounts of their
        own kind and take no postings; no circle of parents."""
        for book_id in {book_id for book_id, _code in self.entries}:
            final = self.final_chart(book_id)
            self.finals[book_id] = final
            book = next(book for book in self.books.values() if book and book.pk == book_id)
            children: dict[str, list[str]] = {}
            for code, entry in final.items():
                if entry.parent is not None:
                    children.setdefault(entry.parent, []).append(code)
            for code, entry in final.items():
                if entry.row is not None:
                    self.check_parent(book, final, entry, problems)
                    self.check_children(final, entry, children.get(code, []), problems)
            self.check_cycles(final, problems)

    def final_chart(self, book_id: int) -> dict[str, Entry]:
        """The chart of the book after the file: its accounts, with the file's rows over them.
        A new account whose row leaves Takes postings blank is a header when it has
        sub-accounts."""
        final = {
            code: Entry(
                code=account.code,
                kind=account.kind,
                parent=fold(account.parent.code) if account.parent is not None else None,
                is_postable=account.is_postable,
                account=account,
            )
            for code, account in self.charts.get(book_id, {}).items()
        }
        for (entry_book, code), entry in self.entries.items():
            if entry_book == book_id:
                final[code] = entry
        parents = {entry.parent for entry in final.values() if entry.parent is not None}
        for code, entry in final.items():
            if not entry.postable_given and code in parents:
                entry.is_postable = False
        return final

    def check_parent(
        self, book: Book, final: dict[str, Entry], entry: Entry, problems: Problems
    ) -> None:
        assert entry.row is not None
        if entry.parent is None:
            return
        parent = final.get(entry.parent)
        if parent is None:
            problems.add(
                entry.row,
                "parent_code",
                "unknown_reference",
                _("There is no account %(code)s in %(book)s, in Backroom or in this file.")
                % {"code": entry.parent.upper(), "book": str(book)},
            )
            return
        if parent.is_postable:
            problems.add(
                entry.row,
                "parent_code",
                "invalid_parent",
                _("%(code)s takes postings; it cannot hold sub-accounts.") % {"code": parent.code},
            )
        if parent.kind != entry.kind:
            problems.add(
                entry.row,
                "kind",
                "invalid_parent",
                _("%(code)s is of the kind %(kind)s: a sub-account has the kind of its parent.")
                % {"code": parent.code, "kind": AccountKind(parent.kind).label},
            )

    def check_children(
        self, final: dict[str, Entry], entry: Entry, children: list[str], problems: Problems
    ) -> None:
        """Sub-accounts the file leaves as they are must still fit their parent's row."""
        assert entry.row is not None
        kept = [final[code] for code in children if final[code].row is None]
        if entry.is_postable and kept:
            problems.add(
                entry.row,
                "postable",
                "cannot_change",
                _("%(code)s holds sub-accounts (%(codes)s): it cannot take postings.")
                % {"code": entry.code, "codes": listed([child.code for child in kept])},
            )
        other_kind = [child.code for child in kept if child.kind != entry.kind]
        if other_kind:
            problems.add(
                entry.row,
                "kind",
                "cannot_change",
                _(
                    "%(code)s has sub-accounts of another kind (%(codes)s): a sub-account has "
                    "the kind of its parent; change theirs in this file too."
                )
                % {"code": entry.code, "codes": listed(other_kind)},
            )

    def check_cycles(self, final: dict[str, Entry], problems: Problems) -> None:
        reported: set[str] = set()
        for start, entry in final.items():
            if entry.row is None or start in reported:
                continue
            chain = [start]
            current = entry.parent
            while current is not None and current in final and current not in chain:
                chain.append(current)
                current = final[current].parent
            if current is None or current not in chain:
                continue
            cycle = chain[chain.index(current) :]
            if start not in cycle:
                continue  # reported from a member of the circle
            reported.update(cycle)
            text = " → ".join(final[code].code for code in [*cycle, cycle[0]])
            for code in cycle:
                row = final[code].row
                if row is not None:
                    problems.add(
                        row,
                        "parent_code",
                        "cycle",
                        _("The parent codes go round in a circle: %(codes)s.") % {"codes": text},
                    )

    def depth(self, row: Row) -> int:
        """How many accounts sit above this row's in the chart as it will be."""
        book = self.book(row)
        if book is None:
            return 0
        key = (book.pk, fold(row["code"]))
        if key not in self.depths:
            if book.pk not in self.finals:
                self.finals[book.pk] = self.final_chart(book.pk)
            final = self.finals[book.pk]
            level, seen = 0, {key[1]}
            current = final.get(key[1])
            while current is not None and current.parent is not None:
                if current.parent in seen:
                    break
                seen.add(current.parent)
                level += 1
                current = final.get(current.parent)
            self.depths[key] = level
        return self.depths[key]

    # --- applying -----------------------------------------------------------------------

    def apply_rows(self, rows: Sequence[Row]) -> list[Change]:
        changes = []
        for row in rows:
            book = self.book(row)
            assert book is not None
            name = f"{book.entity.node.code}/{book.code}/{row['code']}"
            entry = self.entries.get((book.pk, fold(row["code"])))
            account = self.account(book, row["code"])
            if account is None:
                create_account(
                    book,
                    actor=self.actor,
                    code=row["code"],
                    name=row["name"],
                    name_zh=row.get("name_zh", ""),
                    kind=row["kind"],
                    parent=self.parent(book, row, None),
                    is_postable=entry.is_postable if entry is not None else True,
                    is_active=row.get("active", True),
                )
                changes.append(Change(row.number, CREATED, name))
                continue
            changed = self.changes(book, row, account)
            if changed:
                update_account(account, actor=self.actor, **changed)
            fields = [FIELD_COLUMNS[field] for field in changed]
            changes.append(Change(row.number, UPDATED if changed else UNCHANGED, name, fields))
        return changes

    def account(self, book: Book, code: str) -> Account | None:
        return (
            Account.objects.select_related("parent", "book__entity__node")
            .filter(book=book, code__iexact=code.strip())
            .first()
        )

    def parent(self, book: Book, row: Row, account: Account | None) -> Account | None:
        if row.has("parent_code"):
            return self.account(book, row["parent_code"])
        if "parent_code" in row.raw or account is None:
            return None
        return account.parent

    def changes(self, book: Book, row: Row, account: Account) -> dict[str, Any]:
        """What the row changes, as `update_account` takes it."""
        changed: dict[str, Any] = {}
        if row["name"] != account.name:
            changed["name"] = row["name"]
        if row.has("name_zh") and row["name_zh"] != account.name_zh:
            changed["name_zh"] = row["name_zh"]
        if row["kind"] != account.kind:
            changed["kind"] = row["kind"]
        parent = self.parent(book, row, account)
        if (parent.pk if parent else None) != account.parent_id:
            changed["parent"] = parent
        if row.has("postable") and row["postable"] != account.is_postable:
            changed["is_postable"] = row["postable"]
        if row.has("active") and row["active"] != account.is_active:
            changed["is_active"] = row["active"]
        return changed

    # --- exporting ----------------------------------------------------------------------

    def export(self) -> Iterator[dict[str, Any]]:
        """Every account of the books the actor may edit, book by book."""
        books = books_for(self.actor, FINANCE_MANAGE).order_by(
            "entity__node__code", "-is_primary", "code"
        )
        for book in books:
            for account in accounts_of(book):
                yield {
                    "entity_code": book.entity.node.code,
                    "book_code": book.code,
                    "code": account.code,
                    "name": account.name,
                    "name_zh": account.name_zh,
                    "kind": account.kind,
                    "parent_code": account.parent.code if account.parent is not None else None,
                    "postable": account.is_postable,
                    "active": account.is_active,
                }


FIELD_COLUMNS = {
    "name": "name",
    "name_zh": "name_zh",
    "kind": "kind",
    "parent": "parent_code",
    "is_postable": "postable",
    "is_active": "active",
}
