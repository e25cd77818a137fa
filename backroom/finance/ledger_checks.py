"""`backroom check-ledgers`: every posted journal balances; balances = Σ posted lines."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum

from backroom.config.ledger_checks import ledger_check
from backroom.finance.choices import JournalStatus
from backroom.finance.models import AccountBalance, JournalLine
from backroom.finance.reports import summed

ZERO = Decimal(0)
LIMIT = 200


@ledger_check("finance.journals")
def check_journals() -> list[str]:
    """Each posted journal sums to zero in every currency and in base."""
    differences = []
    posted = JournalLine.objects.filter(journal__status=JournalStatus.POSTED)
    for row in (
        posted.values("journal__number", "currency")
        .annotate(amount=Sum("amount"))
        .order_by("journal__number")
    ):
        if summed(row["amount"]):
            differences.append(
                f"journal {row['journal__number']} is off by {summed(row['amount'])} {row['currency']}"
            )
    for number, base in (
        posted.values("journal__number")
        .annotate(base=Sum("base_amount"))
        .order_by("journal__number")
        .values_list("journal__number", "base")
    ):
        if summed(base):
            differences.append(f"journal {number} is off by {summed(base)} in base")
    return differences[:LIMIT]


@ledger_check("finance.balances")
def check_balances() -> list[str]:
    """Account balances per account, period, store and currency = Σ posted lines."""
    Key = tuple[int, int, int | None, str]
    expected: dict[Key, tuple[Decimal, Decimal, Decimal]] = {}
    lines = JournalLine.objects.filter(journal__status=JournalStatus.POSTED)
    for positive in (True, False):
        part = lines.filter(base_amount__gt=0) if positive else lines.filter(base_amount__lte=0)
        for row in (
            part.values("account_id", "journal__period_id", "site_id", "currency")
            .annotate(amount=Sum("amount"), base=Sum("base_amount"))
            .order_by()
        ):
            key: Key = (
                row["account_id"],
                row["journal__period_id"],
                row["site_id"],
                row["currency"],
            )
            amount, debit, credit = expected.get(key, (ZERO, ZERO, ZERO))
            amount += summed(row["amount"])
            if positive:
                debit += summed(row["base"])
            else:
                credit -= summed(row["base"])
            expected[key] = (amount, debit, credit)
    differences = []
    seen = set()
    for balance in AccountBalance.objects.order_by("id"):
        have_key: Key = (balance.account_id, balance.period_id, balance.site_id, balance.currency)
        seen.add(have_key)
        want = expected.get(have_key, (ZERO, ZERO, ZERO))
        have = (balance.amount, balance.debit, balance.credit)
        if have != want:
            differences.append(f"balance {have_key}: table says {have}, lines say {want}")
    for key, want in expected.items():
        if key not in seen and any(want):
            differences.append(f"balance {key} is missing: lines say {want}")
    return differences[:LIMIT]
