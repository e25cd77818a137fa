"""Journals: create a draft, post it, reverse it. The money ledger's only writers.

The invariants `post` enforces (tests/test_journals.py proves them with hypothesis):
- every line's transaction amounts sum to zero per currency;
- every line has a base amount (amount × rate, rounded half-even to 4 places) and the base
  amounts sum to zero. Rounding leaves at most a few ten-thousandths when foreign lines share a
  rate; that residue goes to the largest converted line. A line with a zero amount and a base
  amount (rate 0) books an exchange difference only;
- the period takes postings from the actor (`periods.require_postable`);
- accounts belong to the book, take postings and are active; a store belongs to the entity.
Posting writes the lines' totals into `AccountBalance` in the same transaction, updating rows
in a fixed order (account, period, store, currency) so concurrent posts never deadlock.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from backroom.accounts.authorization import require_permission
from backroom.audit.services import record_audit
from backroom.events.services import publish
from backroom.finance.choices import JournalKind, JournalStatus
from backroom.finance.events import JournalPosted as JournalPostedEvent
from backroom.finance.exceptions import AlreadyReversed, FxRateMissing, JournalPosted, Unbalanced
from backroom.finance.models import Account, AccountBalance, Book, Journal, JournalLine
from backroom.finance.permissions import FINANCE_POST
from backroom.finance.services import as_user
from backroom.finance.services.fx import rate_on
from backroom.finance.services.periods import period_for, postable_date, require_postable
from backroom.kernel.exceptions import ErrorCollector, ValidationFailed
from backroom.kernel.money import MONEY_PLACES, Money, to_decimal
from backroom.kernel.numbering import next_document_number
from backroom.org.models import Site

ZERO = Decimal(0)
STEP = Decimal(1).scaleb(-MONEY_PLACES)


def money(amount: Decimal) -> Decimal:
    return amount.quantize(STEP, rounding=ROUND_HALF_EVEN)


@dataclass
class LineInput:
    """A line as callers give it: a signed amount (debit +, credit −) and its dimensions."""

    account: Account | str
    amount: Any
    currency: str | None = None
    rate: Any = None
    base_amount: Any = None
    site: Site | None = None
    cost_centre: str = ""
    channel: str = ""
    description: str = ""


@dataclass(frozen=True)
class Source:
    """The document a journal records; pages link to it."""

    type: str = ""
    id: str = ""
    number: str = ""


@dataclass
class _Line:
    account: Account
    amount: Decimal
    currency: str
    rate: Decimal
    base_amount: Decimal
    site: Site | None
    cost_centre: str
    channel: str
    description: str
    converted: bool = field(default=False)


def _accounts(book: Book, lines: Sequence[LineInput]) -> dict[str, Account]:
    codes = {line.account for line in lines if isinstance(line.account, str)}
    return {a.code: a for a in Account.objects.filter(book=book, code__in=codes)}


def prepare_lines(book: Book, day: dt.date, lines: Sequence[LineInput]) -> list[_Line]:
    """Check and convert every line; all problems at once (`lines.N.field`), or balanced lines."""
    errors = ErrorCollector()
    if len(lines) < 2:
        errors.add("lines", _("A journal needs at least two lines."))
    by_code = _accounts(book, lines)
    prepared: list[_Line] = []
    rate_missing = False
    for index, line in enumerate(lines):
        where = f"lines.{index}"
        account = by_code.get(line.account) if isinstance(line.account, str) else line.account
        if account is None or account.book_id != book.pk:
            errors.add(
                f"{where}.account",
                _("There is no account %(code)s in %(book)s.")
                % {"code": line.account, "book": book.code},
            )
        elif not account.is_postable:
            errors.add(
                f"{where}.account",
                _("%(code)s is a header account; post to one of its sub-accounts.")
                % {"code": account.code},
            )
        elif not account.is_active:
            errors.add(f"{where}.account", _("%(code)s is inactive.") % {"code": account.code})
        currency = (line.currency or book.currency).upper()
        try:
            Money(ZERO, currency)
            amount = money(to_decimal(line.amount, field="amount"))
            rate = None if line.rate in (None, "") else to_decimal(line.rate, field="rate")
            base = (
                None
                if line.base_amount in (None, "")
                else money(to_decimal(line.base_amount, field="base_amount"))
            )
        except ValidationFailed as error:
            for key, messages in error.errors.items():
                for message in messages:
                    errors.add(f"{where}.{key}", message)
            continue
        if rate is not None and rate <= 0:
            errors.add(f"{where}.rate", _("A rate must be above zero."))
            continue
        if line.site is not None and line.site.legal_entity_id != book.entity_id:
            errors.add(
                f"{where}.site",
                _("%(site)s belongs to another legal entity.") % {"site": line.site.node.code},
            )
        converted = False
        if currency == book.currency:
            rate, base = Decimal(1), amount
        elif amount == 0:
            rate = ZERO  # an exchange difference in base only
        elif base is not None:
            rate = abs(base / amount)
        else:
            if rate is None:
                try:
                    rate = rate_on(currency, book.currency, day)
                except ValidationFailed as error:
                    for message in error.errors.get("currency", []):
                        errors.add(f"{where}.currency", message)
                    rate_missing = True
                    continue
            base, converted = money(amount * rate), True
        if amount == 0 and not base:
            errors.add(f"{where}.amount", _("A line needs an amount."))
            continue
        if account is not None:
            prepared.append(
                _Line(
                    account=account,
                    amount=amount,
                    currency=currency,
                    rate=rate,
                    base_amount=base if base is not None else ZERO,
                    site=line.site,
                    cost_centre=line.cost_centre.strip(),
                    channel=line.channel.strip(),
                    description=line.description.strip(),
                    converted=converted,
                )
            )
    if errors:
        raise (FxRateMissing if rate_missing else ValidationFailed)(errors.errors)
    _balance(prepared, book.currency)
    return prepared


def _balance(lines: list[_Line], base_currency: str) -> None:
    """Refuse unless each currency and the base sum to zero (after the rounding residue)."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        totals[line.currency] += line.amount
    errors = ErrorCollector()
    for currency, total in sorted(totals.items()):
        if total:
            errors.add(
                "lines",
                _("Debits and credits in %(currency)s differ by %(difference)s.")
                % {"currency": currency, "difference": f"{total:,.4f}"},
            )
    residue = -sum((line.base_amount for line in lines), ZERO)
    converted = [line for line in lines if line.converted]
    if residue and abs(residue) <= STEP * len(converted):
        largest = max(converted, key=lambda line: abs(line.base_amount))
        largest.base_amount += residue
        residue = ZERO
    if residue and not errors:
        errors.add(
            "lines",
            _("Debits and credits in the base currency %(currency)s differ by %(difference)s.")
            % {"currency": base_currency, "difference": f"{-residue:,.4f}"},
        )
    if errors:
        raise Unbalanced(errors.errors)


def _write_lines(journal: Journal, lines: list[_Line]) -> None:
    JournalLine.objects.bulk_create(
        JournalLine(
            journal=journal,
            line_no=number,
            account=line.account,
            description=line.description,
            currency=line.currency,
            amount=line.amount,
            rate=line.rate,
            base_amount=line.base_amount,
            site=line.site,
            cost_centre=line.cost_centre,
            channel=line.channel,
        )
        for number, line in enumerate(lines, start=1)
    )


def line_inputs(
    journal: Journal,
    *,
    sign: int = 1,
    account_of: Callable[[JournalLine], Account] | None = None,
) -> list[LineInput]:
    """A journal's lines as inputs again: as they are (a draft posted), with the opposite
    sign (a reversal), or on other accounts (a mirror in a secondary book)."""
    return [
        LineInput(
            account=account_of(line) if account_of is not None else line.account,
            amount=sign * line.amount,
            currency=line.currency,
            base_amount=sign * line.base_amount,
            site=line.site,
            cost_centre=line.cost_centre,
            channel=line.channel,
            description=line.description,
        )
        for line in journal.lines.select_related("account", "site__node").order_by("line_no")
    ]


def record_journal(
    book: Book,
    *,
    date: dt.date,
    description: str,
    lines: Sequence[LineInput],
    actor: Any,
    kind: str = JournalKind.MANUAL,
    source: Source = Source(),
    key: str | None = None,
    post: bool = False,
    reverses: Journal | None = None,
) -> Journal:
    """Create a journal (a draft, or posted at once with `post`). A replayed `key` returns the
    journal it made first. Callers check permissions; automatic postings pass actor=None."""
    if key:
        existing = Journal.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return existing
    if not description.strip():
        raise ValidationFailed({"description": [_("Describe the journal.")]})
    prepared = prepare_lines(book, date, lines)
    period = period_for(book.entity, date)
    if post:
        require_postable(period, actor)
    user = as_user(actor)
    try:
        with transaction.atomic():
            journal = Journal.objects.create(
                book=book,
                number=next_document_number("JV", book.entity.node.code),
                date=date,
                period=period,
                kind=kind,
                description=description.strip()[:300],
                source_type=source.type,
                source_id=source.id,
                source_number=source.number,
                reverses=reverses,
                idempotency_key=key or None,
                created_by=user,
            )
            _write_lines(journal, prepared)
            if post:
                _post(journal, prepared, actor)
            else:
                record_audit(
                    actor=actor,
                    action="finance.journal.draft",
                    target=journal,
                    after={"lines": len(prepared)},
                    org_node=book.entity.node,
                )
    except IntegrityError:
        if key and (existing := Journal.objects.filter(idempotency_key=key).first()):
            return existing
        if reverses is not None and Journal.objects.filter(reverses=reverses).exists():
            raise AlreadyReversed() from None
        raise
    return journal


def create_journal(book: Book, *, actor: Any, **kwargs: Any) -> Journal:
    """A manual journal (a draft unless `post=True`) by someone holding `finance.post`."""
    require_permission(actor, FINANCE_POST, book.entity.node)
    return record_journal(book, actor=actor, kind=JournalKind.MANUAL, **kwargs)


def _editable(journal: Journal, actor: Any) -> Journal:
    require_permission(actor, FINANCE_POST, journal.book.entity.node)
    locked = (
        Journal.objects.select_for_update().select_related("book__entity__node").get(pk=journal.pk)
    )
    if locked.status == JournalStatus.POSTED:
        raise JournalPosted(details={"journal": locked.number})
    return locked


def update_draft(
    journal: Journal,
    *,
    actor: Any,
    date: dt.date,
    description: str,
    lines: Sequence[LineInput],
) -> Journal:
    """Replace a draft's date, description and lines; a posted journal is refused."""
    with transaction.atomic():
        journal = _editable(journal, actor)
        if not description.strip():
            raise ValidationFailed({"description": [_("Describe the journal.")]})
        prepared = prepare_lines(journal.book, date, lines)
        journal.date, journal.description = date, description.strip()[:300]
        journal.period = period_for(journal.book.entity, date)
        journal.save(update_fields=["date", "description", "period"])
        journal.lines.all().delete()
        _write_lines(journal, prepared)
        record_audit(
            actor=actor,
            action="finance.journal.draft_updated",
            target=journal,
            after={"lines": len(prepared), "date": date},
            org_node=journal.book.entity.node,
        )
    return journal


def discard_draft(journal: Journal, *, actor: Any) -> None:
    """Delete a draft (drafts are not the ledger); a posted journal is refused."""
    with transaction.atomic():
        journal = _editable(journal, actor)
        record_audit(
            actor=actor,
            action="finance.journal.discarded",
            target=journal,
            before={"number": journal.number, "description": journal.description},
            org_node=journal.book.entity.node,
        )
        journal.lines.all().delete()
        journal.delete()


def post_journal(journal: Journal, *, actor: Any) -> Journal:
    """Post a draft: checked again in full (accounts, rates, balance, period), then final."""
    with transaction.atomic():
        journal = _editable(journal, actor)
        prepared = prepare_lines(journal.book, journal.date, line_inputs(journal))
        require_postable(journal.period, actor)
        _post(journal, prepared, actor)
    return journal


def _post(journal: Journal, lines: list[_Line], actor: Any) -> None:
    journal.status = JournalStatus.POSTED
    journal.posted_at = timezone.now()
    journal.posted_by = as_user(actor)
    journal.save(update_fields=["status", "posted_at", "posted_by"])
    apply_to_balances(journal.period_id, lines)
    record_audit(
        actor=actor,
        action="finance.journal.posted",
        target=journal,
        after={
            "date": journal.date,
            "lines": len(lines),
            "debits": sum((line.base_amount for line in lines if line.base_amount > 0), ZERO),
        },
        org_node=journal.book.entity.node,
    )
    publish(
        JournalPostedEvent(
            journal_id=journal.pk,
            number=journal.number,
            book=str(journal.book),
            date=journal.date.isoformat(),
            kind=journal.kind,
            source_type=journal.source_type,
            source_id=journal.source_id,
            reverses=journal.reverses_id,
        ),
        org_node=journal.book.entity.node,
    )


BalanceKey = tuple[int, int, int | None, str]


def apply_to_balances(period_id: int, lines: Iterable[Any]) -> None:
    """Add the lines to their balance rows: missing rows first (ignoring ones another
    transaction just made), then one update per row in key order."""
    totals: dict[BalanceKey, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO, ZERO])
    for line in lines:
        key = (line.account.pk, period_id, line.site.pk if line.site else None, line.currency)
        total = totals[key]
        total[0] += line.amount
        total[1] += max(line.base_amount, ZERO)
        total[2] += max(-line.base_amount, ZERO)
    keys = sorted(totals, key=lambda key: (key[0], key[1], key[2] or 0, key[3]))
    AccountBalance.objects.bulk_create(
        [AccountBalance(account_id=a, period_id=p, site_id=s, currency=c) for a, p, s, c in keys],
        ignore_conflicts=True,
    )
    for account_id, period, site_id, currency in keys:
        amount, debit, credit = totals[(account_id, period, site_id, currency)]
        site = Q(site__isnull=True) if site_id is None else Q(site_id=site_id)
        AccountBalance.objects.filter(
            site, account_id=account_id, period_id=period, currency=currency
        ).update(amount=F("amount") + amount, debit=F("debit") + debit, credit=F("credit") + credit)


def reverse_journal(
    journal: Journal, *, actor: Any, date: dt.date | None = None, reason: str = ""
) -> Journal:
    """Post the mirror image of a posted journal, dated `date` (today by default) or, when
    its period is closed to the actor, the first day of the first period open to them."""
    require_permission(actor, FINANCE_POST, journal.book.entity.node)
    return reverse_posted(journal, actor=actor, date=date, reason=reason)


def reverse_posted(
    journal: Journal, *, actor: Any, date: dt.date | None = None, reason: str = ""
) -> Journal:
    """`reverse_journal` without the permission check (automatic corrections use it)."""
    if journal.status != JournalStatus.POSTED:
        raise ValidationFailed({"journal": [_("Only a posted journal can be reversed.")]})
    if Journal.objects.filter(reverses=journal).exists():
        raise AlreadyReversed(details={"journal": journal.number})
    entity = journal.book.entity
    day = postable_date(entity, date or timezone.localdate(), actor)
    lines = line_inputs(journal, sign=-1)
    with transaction.atomic():
        reversal = record_journal(
            journal.book,
            date=day,
            description=(_("Reversal of %(number)s") % {"number": journal.number})
            + (f": {reason.strip()}" if reason.strip() else ""),
            lines=lines,
            actor=actor,
            kind=JournalKind.REVERSAL,
            source=Source(journal.source_type, journal.source_id, journal.source_number),
            post=True,
            reverses=journal,
        )
    return reversal
