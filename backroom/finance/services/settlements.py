"""Settling foreign-currency balances: realised exchange gains and losses (docs/finance.md).

A receivable, payable, loan or intercompany balance kept in a foreign currency is carried at
the base amount it was booked at (the month-end revaluation is reversed on the 1st, so the
carrying amount is the historical one). When it is settled, the money moves at the rate of the
settlement day: the part of the balance settled leaves the account at its carrying base, the
bank takes the foreign amount at the day's rate, and the difference is a realised gain or loss
(role `fx_realised`), a line in base only.

- Partial settlements take the carrying base pro rata; settling the rest takes what is left,
  so a balance settled in full leaves nothing behind in base.
- The settled amount cannot exceed the balance open on the settlement day (per account, store
  and currency); a balance in the book's own currency has no exchange difference to realise.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from backroom.accounts.authorization import require_permission
from backroom.finance.choices import AccountKind, JournalKind, JournalStatus, PostingRole
from backroom.finance.models import Account, AccountBalance, Book, Journal, JournalLine
from backroom.finance.permissions import FINANCE_POST
from backroom.finance.services.automatic import role_account
from backroom.finance.services.fx import rate_on
from backroom.finance.services.journals import LineInput, Source, money, record_journal
from backroom.finance.services.periods import month_start
from backroom.kernel.exceptions import ErrorCollector, ValidationFailed
from backroom.kernel.money import to_decimal
from backroom.org.models import Site

ZERO = Decimal(0)
SETTLEMENT_SOURCE = "finance.settlement"
MONETARY = [AccountKind.ASSET, AccountKind.LIABILITY]


@dataclass
class ForeignBalance:
    """An account's balance in a foreign currency at one store (or none): the foreign amount
    (debit +) and the base amount it is carried at."""

    account: Account
    site: Site | None
    currency: str
    amount: Decimal
    base: Decimal

    @property
    def carrying_rate(self) -> Decimal | None:
        return abs(self.base / self.amount).quantize(Decimal("0.000001")) if self.amount else None


def foreign_balances(book: Book, *, through: dt.date) -> list[ForeignBalance]:
    """The open foreign-currency balances of the book's asset and liability accounts, per store,
    as of the end of `through`'s month (inventory is not monetary and is left out)."""
    inventory = book.entity.posting_accounts.filter(role=PostingRole.INVENTORY).values("account_id")
    rows = (
        AccountBalance.objects.filter(
            account__book=book,
            account__kind__in=MONETARY,
            period__start__lte=month_start(through),
        )
        .exclude(currency=book.currency)
        .exclude(account_id__in=inventory)
        .values("account_id", "site_id", "currency")
        .annotate(amount=Sum("amount"), debit=Sum("debit"), credit=Sum("credit"))
        .order_by("account_id", "site_id", "currency")
    )
    found = list(rows)
    accounts = book.accounts.in_bulk({row["account_id"] for row in found})
    sites = Site.objects.select_related("node").in_bulk(
        {row["site_id"] for row in found if row["site_id"]}
    )
    balances = []
    for row in found:
        amount = money(Decimal(row["amount"] or 0))
        base = money(Decimal(row["debit"] or 0) - Decimal(row["credit"] or 0))
        if amount or base:
            balances.append(
                ForeignBalance(
                    accounts[row["account_id"]],
                    sites.get(row["site_id"]) if row["site_id"] else None,
                    row["currency"],
                    amount,
                    base,
                )
            )
    return balances


def _open_on(
    book: Book, account: Account, site: Site | None, currency: str, day: dt.date
) -> tuple[Decimal, Decimal]:
    """(foreign amount, base) of one balance from the posted lines dated up to `day`."""
    totals = JournalLine.objects.filter(
        journal__book=book,
        journal__status=JournalStatus.POSTED,
        journal__date__lte=day,
        account=account,
        site=site,
        currency=currency,
    ).aggregate(amount=Sum("amount"), base=Sum("base_amount"))
    return Decimal(totals["amount"] or 0), Decimal(totals["base"] or 0)


def settle_balance(
    book: Book,
    *,
    account: Account,
    currency: str,
    amount: Any,
    date: dt.date,
    actor: Any,
    site: Site | None = None,
    rate: Any = None,
    bank: Account | None = None,
    reference: str = "",
) -> Journal:
    """Post the settlement of `amount` (in `currency`) of an open balance: see the module.
    `rate` defaults to the rate of `date`; `bank` to the entity's bank account."""
    require_permission(actor, FINANCE_POST, book.entity.node)
    errors = ErrorCollector()
    currency = (currency or "").strip().upper()
    try:
        settled = to_decimal(amount, field="amount")
    except ValidationFailed as error:
        raise ValidationFailed({"amount": error.errors.get("amount", [str(error)])}) from None
    if settled <= 0:
        errors.add("amount", _("Settle an amount above zero."))
    if rate not in (None, ""):
        try:
            rate = to_decimal(rate, field="rate")
        except ValidationFailed:
            rate = ZERO
        if rate <= 0:
            errors.add("rate", _("A rate must be above zero."))
    if account.book_id != book.pk or account.kind not in MONETARY:
        errors.add("account", _("Choose an asset or liability account of this book."))
    if currency == book.currency:
        errors.add(
            "currency",
            _("A balance in %(currency)s has no exchange difference; post a journal instead.")
            % {"currency": currency},
        )
    with transaction.atomic():
        # Two people settling one balance at once: the second waits here, then sees what the
        # first left open.
        Account.objects.select_for_update().filter(pk=account.pk).first()
        open_amount, open_base = _open_on(book, account, site, currency, date)
        if not errors and settled > abs(open_amount):
            errors.add(
                "amount",
                _("Only %(open)s %(currency)s is open on %(account)s on %(date)s.")
                % {
                    "open": f"{abs(open_amount):,.2f}",
                    "currency": currency,
                    "account": account.code,
                    "date": date.isoformat(),
                },
            )
        if not errors and rate in (None, ""):
            rate = rate_on(currency, book.currency, date)  # FxRateMissing names what is missing
        errors.raise_if_any()
        settlement = Settlement(
            account, site, currency, settled, Decimal(rate), open_amount, open_base, reference
        )
        return record_journal(
            book,
            date=date,
            description=_("Settlement of %(amount)s %(currency)s on %(account)s")
            % {"amount": f"{settled:,.2f}", "currency": currency, "account": account.code}
            + (f": {reference.strip()}" if reference.strip() else ""),
            lines=settlement.lines(bank or role_account(book.entity, PostingRole.BANK)),
            actor=actor,
            kind=JournalKind.MANUAL,
            source=Source(SETTLEMENT_SOURCE, f"{account.pk}:{currency}", reference.strip()[:64]),
            post=True,
        )


@dataclass
class Settlement:
    """What is settled of an open balance (foreign `amount` and its carrying `base`)."""

    account: Account
    site: Site | None
    currency: str
    settled: Decimal
    rate: Decimal
    open_amount: Decimal
    open_base: Decimal
    reference: str

    def lines(self, bank: Account) -> list[LineInput]:
        """The balance out at its carrying base (pro rata; all that is left when settled in
        full), the bank in at the rate, and the realised difference in base only."""
        sign = Decimal(1) if self.open_amount > 0 else Decimal(-1)
        if self.settled == abs(self.open_amount):
            carried = self.open_base
        else:
            carried = money(self.open_base * self.settled / abs(self.open_amount))
        paid = money(self.settled * self.rate)
        lines = [
            LineInput(
                account=self.account,
                amount=-sign * self.settled,
                base_amount=-carried,
                description=self.reference,
                currency=self.currency,
                site=self.site,
            ),
            LineInput(
                account=bank,
                amount=sign * self.settled,
                base_amount=sign * paid,
                description=self.reference,
                currency=self.currency,
                site=self.site,
            ),
        ]
        if difference := carried - sign * paid:
            lines.append(
                LineInput(
                    account=role_account(self.account.book.entity, PostingRole.FX_REALISED),
                    amount=ZERO,
                    base_amount=difference,
                    description=_("Realised exchange difference"),
                    currency=self.currency,
                    site=self.site,
                )
            )
        return lines
