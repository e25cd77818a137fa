"""Opening balances: the trial balance a chain brings at its cut-over date, one row per account
(and store, and currency) of a legal entity's book, as a debit or a credit. Natural key: entity
+ book + date + account + store + currency.

The rows of one entity, book and date are one opening journal, posted through
`finance.services.journals.create_journal` (so audited, balanced per currency and in base,
into an open period, by someone holding finance.post at the entity) with the idempotency key
`opening:<book id>:<date>`. A journal is all or nothing, and the engine applies in chunks: the
importer is `ordered` and `group` puts a journal's rows in one group, so the engine hands all of
them to one `apply_rows` call (a group is never split across chunks, and a chunk commits with
the job's cursor), where the journal is built and posted. Before anything is applied,
`finish_check` prepares each journal as the service will (`prepare_lines`: rates, rounding,
balance) and reports `unbalanced` on the last row of a journal that does not balance.

A journal for that book and date posted already is left as it is when the file gives the same
lines ("unchanged"); other lines are refused: a posted journal never changes. Reversing it in
Finance lets the file be imported again (the new journal's key ends `:2`, `:3`…). The export
lists the posted opening journals that are not reversed, in these columns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backroom.finance.choices import JournalStatus
from backroom.finance.exceptions import FxRateMissing, PeriodClosed
from backroom.finance.models import Account, Book, Journal, Period
from backroom.finance.permissions import FINANCE_POST
from backroom.finance.selectors import books_for
from backroom.finance.services.fx import rate_on
from backroom.finance.services.journals import LineInput, create_journal, prepare_lines
from backroom.finance.services.periods import month_start, require_postable
from backroom.imports.columns import CHOICE, CODE, DATE, DECIMAL, TEXT, Column, Row
from backroom.imports.importers.base import CREATED, UNCHANGED, Change, Importer, register
from backroom.imports.importers.chart_of_accounts import (
    BOOK_COLUMNS,
    BookLookups,
    fold,
    unknown_book,
)
from backroom.imports.importers.sites import Sites
from backroom.imports.importers.suppliers import CURRENCY_CHOICES
from backroom.imports.permissions import IMPORTS_USE
from backroom.imports.problems import Problems
from backroom.kernel.exceptions import ValidationFailed
from backroom.kernel.spreadsheets import is_blank
from backroom.org.models import Site

KEY_PREFIX = "opening:"
MONEY = 4  # decimal places of an amount (finance keeps money to 4)

# Where a service error about a journal line (`lines.N.<field>`) goes in the file.
LINE_FIELDS = {
    "account": "account_code",
    "site": "store_code",
    "currency": "currency",
    "rate": "currency",
    "base_amount": "base_amount",
}

LineKey = tuple[int, int | None, str, Decimal, Decimal, str]


def journal_key(book: Book, date: dt.date) -> str:
    """The idempotency key of the first opening journal of a book on a date."""
    return f"{KEY_PREFIX}{book.pk}:{date.isoformat()}"


@dataclass
class Opening:
    """The rows of one opening journal (one book, one date), as the file gives them."""

    book: Book
    date: dt.date
    rows: list[Row] = field(default_factory=list)
    accounts: dict[int, Account] = field(default_factory=dict)  # by row number
    sites: dict[int, Site | None] = field(default_factory=dict)
    lines: list[LineKey] | None = None  # as prepared in the check, when it balances

    def inputs(self) -> list[LineInput]:
        """The journal's lines in file order, as `create_journal` takes them."""
        inputs = []
        for row in self.rows:
            amount = row["debit"] if row.has("debit") else -row["credit"]
            base = row.get("base_amount")
            inputs.append(
                LineInput(
                    account=self.accounts[row.number],
                    amount=amount,
                    currency=row.get("currency"),
                    base_amount=None if base is None else (base if amount > 0 else -base),
                    site=self.sites[row.number],
                    description=row.get("description", ""),
                )
            )
        return inputs


def line_key(
    account: Account, site: Site | None, currency: str, amount: Any, base: Any, text: str
) -> LineKey:
    return (account.pk, site.pk if site else None, currency, Decimal(amount), Decimal(base), text)


def money_column(key: str, english: str, chinese: str, example: Any, **kwargs: Any) -> Column:
    return Column(key, english, chinese, DECIMAL, False, example, places=MONEY, **kwargs)


@register
class OpeningBalancesImporter(BookLookups, Importer):
    kind = "opening_balances"
    label = gettext_lazy("Opening balances")
    description = gettext_lazy(
        "Opening balances: the trial balance at the cut-over date, one row per account (and "
        "store, and currency) of a book, as a debit or a credit. The rows of one entity, book "
        "and date are posted as one opening journal, which must balance."
    )
    permission = IMPORTS_USE
    writes = FINANCE_POST
    ordered = True
    key_fields = ("entity_code", "book_code", "date", "account_code", "store_code", "currency")
    columns = (
        *BOOK_COLUMNS,
        Column(
            "date",
            "Opening date",
            "建账日期",
            DATE,
            True,
            "2026-12-01",
            aliases=("date", "cut-over date", "期初日期", "日期"),
            help=gettext_lazy("The date of the opening journal; its period must be open."),
        ),
        Column(
            "account_code",
            "Account code",
            "科目编码",
            CODE,
            True,
            "1002",
            max_length=20,
            aliases=("account", "科目代码", "科目"),
            help=gettext_lazy("An account of the book that takes postings (not a header)."),
        ),
        Column(
            "store_code",
            "Store code",
            "门店编码",
            CODE,
            False,
            "SH001",
            max_length=20,
            aliases=("store", "site code", "门店"),
            help=gettext_lazy("The line's store, one of the entity's; blank: the entity itself."),
        ),
        Column(
            "currency",
            "Currency",
            "币种",
            CHOICE,
            False,
            "CNY",
            choices=CURRENCY_CHOICES,
            aliases=("原币", "货币"),
            help=gettext_lazy("The currency of the debit or credit; blank: the book's currency."),
        ),
        money_column(
            "debit",
            "Debit",
            "借方",
            Decimal("125000"),
            aliases=("debit amount", "借方金额", "借"),
            help=gettext_lazy("Fill in the debit or the credit of each row, not both."),
        ),
        money_column(
            "credit",
            "Credit",
            "贷方",
            None,
            aliases=("credit amount", "贷方金额", "贷"),
        ),
        money_column(
            "base_amount",
            "Amount in base",
            "本位币金额",
            None,
            aliases=("base amount", "amount in base currency", "折合本位币", "本币金额"),
            help=gettext_lazy(
                "For a foreign-currency row: the amount booked in the book's currency (without "
                "a sign). Blank: converted at the rate of the date."
            ),
        ),
        Column(
            "description",
            "Description",
            "摘要",
            TEXT,
            False,
            "Opening balance",
            max_length=300,
            aliases=("memo", "备注", "说明"),
        ),
    )

    def __init__(self, actor: Any) -> None:
        super().__init__(actor)
        self.books: dict[tuple[str, str], Book | None] = {}
        self.charts: dict[int, dict[str, Account]] = {}
        self.posters: dict[int, bool] = {}
        self.closed: dict[tuple[int, dt.date], str | None] = {}
        self.site = Sites()
        self.openings: dict[tuple[int, dt.date], Opening] = {}
        self.seen: dict[tuple[Any, ...], int] = {}

    @classmethod
    def natural_key(cls, row: Row) -> tuple[Any, ...] | None:
        """Store and currency may be blank (the entity, the book's currency)."""
        parts = []
        for key in cls.key_fields:
            value = row.get(key, "")
            if key in ("entity_code", "book_code", "date", "account_code") and value == "":
                return None
            parts.append(value.casefold() if isinstance(value, str) else value)
        return tuple(parts)

    # --- lookups ------------------------------------------------------------------------

    def may_post(self, book: Book) -> bool:
        if book.pk not in self.posters:
            self.posters[book.pk] = self.actor.has_scoped_permission(FINANCE_POST, book.entity.node)
        return self.posters[book.pk]

    def closed_period(self, book: Book, date: dt.date) -> str | None:
        """Why the date's period takes no postings from the actor (None: it does). A period
        not created yet would be created open; the check creates nothing."""
        key = (book.entity_id, month_start(date))
        if key not in self.closed:
            period = (
                Period.objects.select_related("entity__node")
                .filter(entity_id=book.entity_id, start=key[1])
                .first()
            )
            self.closed[key] = None
            if period is not None:
                try:
                    require_postable(period, self.actor)
                except PeriodClosed as error:
                    self.closed[key] = " ".join(error.errors.get("date", [])) or error.message
        return self.closed[key]

    # --- checking -----------------------------------------------------------------------

    def check_rows(self, rows: Sequence[Row], problems: Problems) -> None:
        for row in rows:
            if not all(row.has(key) for key in ("entity_code", "book_code", "account_code")):
                continue
            book = self.book(row)
            if book is None:
                unknown_book(row, problems)
                continue
            if not self.may_post(book):
                problems.add(
                    row.number,
                    "entity_code",
                    "permission_denied",
                    _("You may not post journals in the books of %(entity)s.")
                    % {"entity": book.entity.node.code},
                )
                continue
            if not book.is_primary:
                # Every primary journal is mirrored into the secondary books: importing into
                # one as well would count the balances twice there.
                problems.add(
                    row.number,
                    "book_code",
                    "invalid_value",
                    _(
                        "%(book)s is a secondary book: import the opening balances into the "
                        "primary book; they are mirrored into %(book)s."
                    )
                    % {"book": book.code},
                )
                continue
            account = self.check_account(book, row, problems)
            site = self.check_store(book, row, problems)
            self.check_amounts(book, row, problems)
            if not row.has("date"):
                continue
            reason = self.closed_period(book, row["date"])
            if reason is not None:
                problems.add(row.number, "date", "period_closed", reason)
            opening = self.openings.setdefault(
                (book.pk, row["date"]), Opening(book=book, date=row["date"])
            )
            opening.rows.append(row)
            if account is not None:
                opening.accounts[row.number] = account
            opening.sites[row.number] = site
            if account is not None and row.ok and row.number not in problems.rows:
                self.check_duplicate(book, row, account, site, problems)

    def check_account(self, book: Book, row: Row, problems: Problems) -> Account | None:
        """The messages are the journal service's."""
        account = self.chart(book).get(fold(row["account_code"]))
        if account is None:
            problems.add(
                row.number,
                "account_code",
                "unknown_reference",
                _("There is no account %(code)s in %(book)s.")
                % {"code": row["account_code"], "book": book.code},
            )
        elif not account.is_postable:
            problems.add(
                row.number,
                "account_code",
                "invalid_value",
                _("%(code)s is a header account; post to one of its sub-accounts.")
                % {"code": account.code},
            )
        elif not account.is_active:
            problems.add(
                row.number,
                "account_code",
                "invalid_value",
                _("%(code)s is inactive.") % {"code": account.code},
            )
        else:
            return account
        return None

    def check_store(self, book: Book, row: Row, problems: Problems) -> Site | None:
        if not row.has("store_code"):
            return None
        site = self.site(row["store_code"])
        if site is None:
            problems.add(
                row.number,
                "store_code",
                "unknown_reference",
                _("There is no store %(code)s.") % {"code": row["store_code"]},
            )
        elif site.legal_entity_id != book.entity_id:
            problems.add(
                row.number,
                "store_code",
                "invalid_value",
                _("%(site)s belongs to another legal entity.") % {"site": site.node.code},
            )
            return None
        return site

    def check_amounts(self, book: Book, row: Row, problems: Problems) -> None:
        debit, credit = row.get("debit"), row.get("credit")
        if debit is not None and credit is not None:
            problems.add(
                row.number,
                "credit",
                "invalid_value",
                _("Fill in the debit or the credit, not both."),
            )
        elif debit is None and credit is None:
            if is_blank(row.raw.get("debit")) and is_blank(row.raw.get("credit")):
                problems.add(
                    row.number,
                    "debit",
                    "required",
                    _("Fill in the debit or the credit."),
                )
            return
        elif not (debit or credit):
            problems.add(
                row.number,
                "debit" if debit is not None else "credit",
                "invalid_number",
                _("A line needs an amount."),
            )
        currency = row.get("currency") or book.currency
        if currency == book.currency:
            if row.has("base_amount") and row["base_amount"] != (debit or credit):
                problems.add(
                    row.number,
                    "base_amount",
                    "invalid_value",
                    _(
                        "The row is in the book's currency %(currency)s: its amount in base is "
                        "the debit or credit itself; leave it blank."
                    )
                    % {"currency": book.currency},
                )
        elif row.has("base_amount") and not row["base_amount"]:
            problems.add(
                row.number,
                "base_amount",
                "invalid_number",
                _(
                    "The amount in base must be above zero (blank: converted at the rate of the date)."
                ),
            )
        elif not row.has("base_amount") and row.has("date"):
            try:
                rate_on(currency, book.currency, row["date"])
            except FxRateMissing as error:
                problems.add(
                    row.number,
                    "currency",
                    error.code,
                    " ".join(error.errors.get("currency", [])) or error.message,
                )

    def check_duplicate(
        self, book: Book, row: Row, account: Account, site: Site | None, problems: Problems
    ) -> None:
        """The same line twice, once with the book's currency written and once blank (the
        engine refuses rows that repeat each other's cells)."""
        key = (
            book.pk,
            row["date"],
            account.pk,
            site.pk if site else None,
            row.get("currency") or book.currency,
        )
        first = self.seen.setdefault(key, row.number)
        if first != row.number:
            problems.add(
                row.number,
                "currency",
                "duplicate_key",
                _("Row %(first)s has the same %(columns)s: keep one of the two rows.")
                % {
                    "first": first,
                    "columns": " + ".join(self.column(name).label for name in self.key_fields),
                },
            )

    def finish_check(self, problems: Problems) -> None:
        """Each journal as the service will prepare it: it must balance, and a journal posted
        already for its book and date must have the same lines."""
        for opening in self.openings.values():
            if any(row.number in problems.rows or not row.ok for row in opening.rows):
                continue  # its rows' problems first
            last = opening.rows[-1]
            try:
                prepared = prepare_lines(opening.book, opening.date, opening.inputs())
            except ValidationFailed as error:
                self.report(opening, error, problems)
                continue
            opening.lines = sorted(
                line_key(
                    line.account,
                    line.site,
                    line.currency,
                    line.amount,
                    line.base_amount,
                    line.description,
                )
                for line in prepared
            )
            posted = self.posted(opening.book, opening.date)
            if posted is not None and self.lines_of(posted) != opening.lines:
                problems.add(
                    last.number,
                    "date",
                    "cannot_change",
                    _(
                        "The opening balances of %(book)s on %(date)s were posted already "
                        "(%(number)s) with other lines, and a posted journal never changes. "
                        "Reverse the opening journal in Finance first, then import the file "
                        "again."
                    )
                    % {
                        "book": str(opening.book),
                        "date": opening.date.isoformat(),
                        "number": posted.number,
                    },
                )

    def report(self, opening: Opening, error: ValidationFailed, problems: Problems) -> None:
        """The service's refusal of a journal, on its rows (the whole journal: its last row)."""
        last = opening.rows[-1]
        if error.code == "unbalanced":
            problems.add(
                last.number,
                "debit",
                "unbalanced",
                _("The opening balances of %(book)s on %(date)s do not balance: %(reasons)s")
                % {
                    "book": str(opening.book),
                    "date": opening.date.isoformat(),
                    "reasons": " ".join(
                        message for messages in error.errors.values() for message in messages
                    ),
                },
            )
            return
        for where, messages in error.errors.items():
            parts = where.split(".")
            if len(parts) == 3 and parts[0] == "lines" and parts[1].isdigit():
                row = opening.rows[int(parts[1])]
                column = LINE_FIELDS.get(parts[2], "debit" if row.has("debit") else "credit")
            else:
                row, column = last, "debit"
            for message in messages:
                problems.add(row.number, column, error.code, message)

    def openings_of(self, book: Book, date: dt.date) -> Any:
        """The book's opening journals of the date, reversed ones too."""
        key = journal_key(book, date)
        return Journal.objects.filter(
            Q(idempotency_key=key) | Q(idempotency_key__startswith=f"{key}:"), book=book
        )

    def posted(self, book: Book, date: dt.date) -> Journal | None:
        """The book's opening journal of the date that stands (posted, not reversed)."""
        return (
            self.openings_of(book, date)
            .filter(status=JournalStatus.POSTED, reversed_by__isnull=True)
            .order_by("-id")
            .first()
        )

    def next_key(self, book: Book, date: dt.date) -> str:
        """The key of a new opening journal: the first, or `:2`, `:3`… after reversals."""
        taken = self.openings_of(book, date).count()
        return journal_key(book, date) + (f":{taken + 1}" if taken else "")

    def lines_of(self, journal: Journal) -> list[LineKey]:
        return sorted(
            line_key(
                line.account,
                line.site,
                line.currency,
                line.amount,
                line.base_amount,
                line.description,
            )
            for line in journal.lines.select_related("account", "site")
        )

    def group(self, row: Row) -> Any:
        """One opening journal: entity, book and date."""
        return (row["entity_code"].casefold(), row["book_code"].casefold(), row["date"].isoformat())

    # --- applying -----------------------------------------------------------------------

    def apply_rows(self, rows: Sequence[Row]) -> list[Change]:
        """Each journal whole: its rows all arrive in this call (they are one group)."""
        groups: dict[tuple[int, dt.date], list[Row]] = {}
        for row in rows:
            book = self.book(row)
            assert book is not None
            groups.setdefault((book.pk, row["date"]), []).append(row)
        changes = []
        for (book_id, date), group in groups.items():
            opening = self.openings[(book_id, date)]
            action = UNCHANGED if self.posted(opening.book, date) is not None else CREATED
            if action == CREATED:
                create_journal(
                    opening.book,
                    actor=self.actor,
                    date=date,
                    description=_("Opening balances on %(date)s") % {"date": date.isoformat()},
                    lines=opening.inputs(),
                    post=True,
                    key=self.next_key(opening.book, date),
                )
            for row in group:
                changes.append(Change(row.number, action, self.name(opening, row)))
        return changes

    def name(self, opening: Opening, row: Row) -> str:
        parts = [str(opening.book).replace(" ", "/"), opening.date.isoformat(), row["account_code"]]
        if row.has("store_code"):
            parts.append(row["store_code"])
        if row.has("currency"):
            parts.append(row["currency"])
        return "/".join(parts)

    # --- exporting ----------------------------------------------------------------------

    def export(self) -> Iterator[dict[str, Any]]:
        """The opening journals that stand, in the books where the actor may post."""
        journals = (
            Journal.objects.filter(
                book__in=books_for(self.actor, FINANCE_POST),
                idempotency_key__startswith=KEY_PREFIX,
                status=JournalStatus.POSTED,
                reversed_by__isnull=True,
            )
            .select_related("book__entity__node")
            .order_by("book__entity__node__code", "book__code", "date", "id")
        )
        for journal in journals:
            book = journal.book
            lines = journal.lines.select_related("account", "site__node").order_by("line_no")
            for line in lines:
                foreign = line.currency != book.currency
                yield {
                    "entity_code": book.entity.node.code,
                    "book_code": book.code,
                    "date": journal.date,
                    "account_code": line.account.code,
                    "store_code": line.site.node.code if line.site is not None else None,
                    "currency": line.currency,
                    "debit": line.amount if line.amount > 0 else None,
                    "credit": -line.amount if line.amount < 0 else None,
                    "base_amount": abs(line.base_amount) if foreign else None,
                    "description": line.description,
                }
