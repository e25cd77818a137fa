"""Period-end revaluation of open foreign-currency balances (unrealised exchange differences).

At the end of a month, each asset or liability account's balance in a foreign currency (per
store) is restated at the closing rate (the rate of the period's last day, or the latest within
the rate's age limit): the difference between that and the base amount booked so far is an
unrealised gain or loss. One journal per entity and period (key `revaluation:<period>`), dated
the last day, and its reversal dated the first day of the next period, so the next month starts
again from the historical amounts and realised differences are booked when settled.
Inventory is not monetary and is never revalued.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from backroom.accounts.authorization import require_permission
from backroom.finance.choices import JournalKind, PostingRole
from backroom.finance.exceptions import FxRateMissing
from backroom.finance.models import Journal, Period, PostingAccount
from backroom.finance.permissions import FINANCE_CLOSE
from backroom.finance.services.books import primary_book
from backroom.finance.services.fx import rate_on
from backroom.finance.services.journals import (
    LineInput,
    Source,
    money,
    record_journal,
    reverse_posted,
)
from backroom.finance.services.periods import next_month, period_for, require_postable
from backroom.finance.services.settlements import foreign_balances
from backroom.kernel.exceptions import ErrorCollector, ValidationFailed
from backroom.org.models import Site

ZERO = Decimal(0)


def revalue_period(period: Period, *, actor: Any) -> Journal | None:
    """Post the period's revaluation and its reversal; None when nothing is in a foreign
    currency. Once per period: a second call returns the first journal."""
    entity = period.entity
    require_permission(actor, FINANCE_CLOSE, entity.node)
    key = f"revaluation:{period.pk}"
    existing = Journal.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    require_postable(period, actor)
    book = primary_book(entity)
    unrealised = PostingAccount.objects.filter(
        entity=entity, role=PostingRole.FX_UNREALISED, category__isnull=True
    ).first()
    if unrealised is None:
        raise ValidationFailed(
            {"roles": [_("Map an account for unrealised exchange differences.")]}
        )
    errors = ErrorCollector()
    rates: dict[str, Decimal] = {}
    lines: list[LineInput] = []
    gains: dict[tuple[Site | None, str], Decimal] = defaultdict(Decimal)
    for balance in foreign_balances(book, through=period.start):
        currency = balance.currency
        if currency not in rates:
            try:
                rates[currency] = rate_on(currency, book.currency, period.end)
            except FxRateMissing as error:
                for message in error.errors.get("currency", []):
                    errors.add(currency, message)
                continue
        difference = money(balance.amount * rates[currency]) - balance.base
        if not difference:
            continue
        lines.append(
            LineInput(
                account=balance.account,
                amount=ZERO,
                currency=currency,
                base_amount=difference,
                site=balance.site,
                description=_("%(currency)s at %(rate)s")
                % {"currency": currency, "rate": rates[currency].normalize()},
            )
        )
        gains[(balance.site, currency)] -= difference
    if errors:
        raise FxRateMissing(errors.errors)
    if not lines:
        return None
    # The gain or loss is a difference in base only: amount 0 in the foreign currency, so
    # every currency still balances.
    for (site, currency), amount in sorted(
        gains.items(), key=lambda item: (item[0][0].pk if item[0][0] else 0, item[0][1])
    ):
        if amount:
            lines.append(
                LineInput(
                    account=unrealised.account,
                    amount=ZERO,
                    currency=currency,
                    base_amount=amount,
                    site=site,
                )
            )
    source = Source("finance.period", str(period.pk), f"{entity.node.code} {period.name}")
    with transaction.atomic():
        journal = record_journal(
            book,
            date=period.end,
            description=_("Revaluation of foreign-currency balances, %(period)s")
            % {"period": period.name},
            lines=lines,
            actor=actor,
            kind=JournalKind.REVALUATION,
            source=source,
            key=key,
            post=True,
        )
        following = period_for(entity, next_month(period.start))
        reverse_posted(journal, actor=actor, date=following.start, reason=_("next period"))
    return journal
