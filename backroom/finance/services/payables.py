"""Accounts payable: what is owed to suppliers, how overdue, and marking invoices paid.

A payable invoice is posted by the `invoice` rule (`automatic.py`): accounts payable credited
with its total, source `procurement.invoice`. Finance marks it paid when the money has left
the bank (Backroom records, it never pays): accounts payable against the bank, key
`invoice-paid:<id>`, same source. An invoice is open while it has no payment journal; the
ageing buckets open invoices by days past their due date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from backroom.accounts.authorization import require_permission
from backroom.finance.choices import JournalKind, PostingRole
from backroom.finance.models import Book, Journal, JournalLine
from backroom.finance.permissions import FINANCE_POST
from backroom.finance.services.automatic import role_account
from backroom.finance.services.journals import LineInput, Source, record_journal
from backroom.finance.services.periods import postable_date
from backroom.kernel.exceptions import Conflict, NotFound
from backroom.procurement.selectors import invoices_by_id

ZERO = Decimal(0)
INVOICE_SOURCE = "procurement.invoice"
# (label key, first day overdue, last day overdue); None: no upper bound.
BUCKETS = [
    ("current", None, 0),
    ("1-30", 1, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("90+", 91, None),
]


@dataclass
class OpenInvoice:
    journal: Journal
    invoice: Any  # procurement's SupplierInvoice
    amount: Decimal
    days_overdue: int

    @property
    def bucket(self) -> str:
        for key, low, high in BUCKETS:
            if (low is None or self.days_overdue >= low) and (
                high is None or self.days_overdue <= high
            ):
                return key
        return BUCKETS[-1][0]


@dataclass
class SupplierAgeing:
    supplier: Any
    invoices: list[OpenInvoice] = field(default_factory=list)

    def bucket_totals(self) -> list[Decimal]:
        return [
            sum((i.amount for i in self.invoices if i.bucket == key), ZERO) for key, _, _ in BUCKETS
        ]

    @property
    def total(self) -> Decimal:
        return sum((i.amount for i in self.invoices), ZERO)


def open_invoices(book: Book, *, on: dt.date | None = None) -> list[SupplierAgeing]:
    """Posted invoices without a payment, per supplier, with their days past due on `on`."""
    on = on or timezone.localdate()
    account = role_account(book.entity, PostingRole.ACCOUNTS_PAYABLE)
    posted = (
        JournalLine.objects.filter(
            journal__book=book,
            journal__source_type=INVOICE_SOURCE,
            journal__status="posted",
            account=account,
        )
        .values("journal_id", "journal__source_id")
        .annotate(total=Sum("base_amount"))
        .order_by()
    )
    by_invoice: dict[str, Decimal] = {}
    journal_of: dict[str, int] = {}
    for row in posted:
        source_id = row["journal__source_id"]
        by_invoice[source_id] = by_invoice.get(source_id, ZERO) - Decimal(row["total"] or 0)
        if row["total"] and row["total"] < 0:
            journal_of.setdefault(source_id, row["journal_id"])
    open_ids = [
        int(pk)
        for pk, amount in by_invoice.items()
        if amount.quantize(Decimal("0.01")) and pk.isdigit()
    ]
    invoices = invoices_by_id(open_ids)
    journals = Journal.objects.in_bulk(
        [journal_of[str(pk)] for pk in open_ids if str(pk) in journal_of]
    )
    suppliers: dict[int, SupplierAgeing] = {}
    for pk in open_ids:
        invoice = invoices.get(pk)
        if invoice is None or str(pk) not in journal_of:
            continue
        ageing = suppliers.setdefault(invoice.supplier_id, SupplierAgeing(invoice.supplier))
        ageing.invoices.append(
            OpenInvoice(
                journal=journals[journal_of[str(pk)]],
                invoice=invoice,
                amount=by_invoice[str(pk)],
                days_overdue=max((on - invoice.due_date).days, 0),
            )
        )
    for ageing in suppliers.values():
        ageing.invoices.sort(key=lambda item: (item.invoice.due_date, item.invoice.pk))
    return sorted(suppliers.values(), key=lambda ageing: (-ageing.total, ageing.supplier.code))


def mark_invoice_paid(
    book: Book, invoice_id: int, *, actor: Any, paid_on: dt.date | None = None
) -> Journal:
    """Record that finance paid a posted invoice outside Backroom: payables against bank."""
    require_permission(actor, FINANCE_POST, book.entity.node)
    with transaction.atomic():
        invoice_journal = (
            Journal.objects.select_for_update()
            .filter(
                book=book,
                source_type=INVOICE_SOURCE,
                source_id=str(invoice_id),
                kind=JournalKind.AUTOMATIC,
            )
            .exclude(idempotency_key__startswith="invoice-paid:")
            .first()
        )
        if invoice_journal is None:
            raise NotFound()
        if Journal.objects.filter(idempotency_key=f"invoice-paid:{invoice_id}").exists():
            raise Conflict(_("The invoice is marked paid already."))
        lines = invoice_journal.lines.select_related("account", "site")
        payable = role_account(book.entity, PostingRole.ACCOUNTS_PAYABLE)
        owed = -sum((line.base_amount for line in lines if line.account_id == payable.pk), ZERO)
        site = next((line.site for line in lines if line.account_id == payable.pk), None)
        return record_journal(
            book,
            date=postable_date(book.entity, paid_on or timezone.localdate(), actor),
            description=_("Payment of %(invoice)s") % {"invoice": invoice_journal.description},
            lines=[
                LineInput(account=payable, amount=owed, site=site),
                LineInput(
                    account=role_account(book.entity, PostingRole.BANK), amount=-owed, site=site
                ),
            ],
            actor=actor,
            kind=JournalKind.AUTOMATIC,
            source=Source(INVOICE_SOURCE, str(invoice_id), invoice_journal.source_number),
            key=f"invoice-paid:{invoice_id}",
            post=True,
        )
