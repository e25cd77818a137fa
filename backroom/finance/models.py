"""The books: per legal entity, a chart of accounts, monthly periods, journals and balances.

Journal lines are the money ledger (DESIGN.md principle 1): a posted journal is never edited
or deleted, a correction is a reversal. `AccountBalance` is their projection per account,
period, store and currency, written in the same transaction as the lines and rebuilt from them
by `backroom check-ledgers`. Amounts are signed: a debit is positive, a credit negative.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from backroom.finance.choices import (
    DEBIT_NORMAL,
    AccountKind,
    ClaimStatus,
    JournalKind,
    JournalStatus,
    PeriodStatus,
    PostingRole,
)
from backroom.kernel.files import private_storage
from backroom.kernel.models import TimestampedModel
from backroom.kernel.money import CurrencyField, MoneyField
from backroom.kernel.scoping import OrgScopedQuerySet

RATE_DIGITS, RATE_PLACES = 24, 12


def RateField(**kwargs: Any) -> models.DecimalField:
    """An exchange rate: units of the quote currency for one unit of the currency."""
    return models.DecimalField(max_digits=RATE_DIGITS, decimal_places=RATE_PLACES, **kwargs)


class Book(models.Model):
    """A set of books of one legal entity (a local-GAAP primary book, an IFRS book)."""

    scope_field = "entity__node"

    entity = models.ForeignKey("org.LegalEntity", on_delete=models.PROTECT, related_name="books")
    code = models.CharField(_("code"), max_length=20)
    name = models.CharField(_("name"), max_length=100)
    chart = models.CharField(_("chart template"), max_length=30)
    currency = CurrencyField(verbose_name=_("base currency"))
    is_primary = models.BooleanField(_("primary book"), default=False)
    sales_tax_rate = models.DecimalField(
        _("output VAT rate on sales"),
        max_digits=5,
        decimal_places=4,
        default=0,
        help_text=_("Menu prices include it: 0.06 for 6%."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["entity_id", "-is_primary", "code"]
        verbose_name = _("book")
        verbose_name_plural = _("books")
        constraints = [
            models.UniqueConstraint(fields=["entity", "code"], name="finance_book_code"),
            models.UniqueConstraint(
                fields=["entity"],
                condition=models.Q(is_primary=True),
                name="finance_book_one_primary",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entity.node.code} {self.code}"


class Account(models.Model):
    """An account of a book's chart. Header accounts group others and take no postings."""

    scope_field = "book__entity__node"

    book = models.ForeignKey(Book, on_delete=models.PROTECT, related_name="accounts")
    code = models.CharField(_("code"), max_length=20)
    name = models.CharField(_("name"), max_length=200)
    name_zh = models.CharField(_("Chinese name"), max_length=200, blank=True)
    kind = models.CharField(_("kind"), max_length=10, choices=AccountKind.choices)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        verbose_name=_("parent"),
    )
    is_postable = models.BooleanField(_("takes postings"), default=True)
    is_active = models.BooleanField(_("active"), default=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["book_id", "code"]
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        constraints = [
            models.UniqueConstraint(fields=["book", "code"], name="finance_account_code"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.label}"

    @property
    def label(self) -> str:
        """The name in the reader's language (Chinese when set and the page is in Chinese)."""
        if self.name_zh and (get_language() or "").lower().startswith("zh"):
            return self.name_zh
        return self.name

    @property
    def debit_normal(self) -> bool:
        return self.kind in DEBIT_NORMAL


class PostingAccount(models.Model):
    """Which account an automatic posting uses for a role, per entity, optionally per item
    category (a category's own row wins over the entity's default row)."""

    scope_field = "entity__node"

    entity = models.ForeignKey(
        "org.LegalEntity", on_delete=models.PROTECT, related_name="posting_accounts"
    )
    role = models.CharField(_("role"), max_length=30, choices=PostingRole.choices)
    category = models.ForeignKey(
        "catalog.Category",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("item category"),
    )
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("posting account")
        verbose_name_plural = _("posting accounts")
        constraints = [
            models.UniqueConstraint(
                fields=["entity", "role"],
                condition=models.Q(category__isnull=True),
                name="finance_posting_account_default",
            ),
            models.UniqueConstraint(
                fields=["entity", "role", "category"],
                condition=models.Q(category__isnull=False),
                name="finance_posting_account_category",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role} → {self.account.code}"


class AccountMap(models.Model):
    """Where a secondary book (IFRS beside a local-GAAP primary book) takes the postings of a
    primary-book account: every posted primary journal is mirrored line by line through it."""

    scope_field = "book__entity__node"

    book = models.ForeignKey(
        Book, on_delete=models.CASCADE, related_name="account_maps", verbose_name=_("book")
    )
    source = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="+", verbose_name=_("primary account")
    )
    target = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="+", verbose_name=_("account")
    )

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("account mapping")
        verbose_name_plural = _("account mappings")
        constraints = [
            models.UniqueConstraint(fields=["book", "source"], name="finance_account_map_source")
        ]

    def __str__(self) -> str:
        return f"{self.source.code} → {self.target.code}"


class Period(models.Model):
    """A calendar month of an entity's books: open, soft-closed (finance only) or closed."""

    scope_field = "entity__node"

    entity = models.ForeignKey("org.LegalEntity", on_delete=models.PROTECT, related_name="periods")
    start = models.DateField(_("first day"))
    end = models.DateField(_("last day"))
    status = models.CharField(
        _("status"), max_length=12, choices=PeriodStatus.choices, default=PeriodStatus.OPEN
    )
    changed_at = models.DateTimeField(null=True, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["entity_id", "start"]
        verbose_name = _("period")
        verbose_name_plural = _("periods")
        constraints = [
            models.UniqueConstraint(fields=["entity", "start"], name="finance_period_month"),
            models.CheckConstraint(
                condition=models.Q(end__gte=models.F("start")), name="finance_period_dates"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.start.strftime("%Y-%m")


class FxRate(models.Model):
    """One unit of `currency` is worth `rate` units of `quote` on `date` (entered or imported)."""

    date = models.DateField(_("date"))
    currency = CurrencyField(verbose_name=_("currency"))
    quote = CurrencyField(verbose_name=_("quote currency"))
    rate = RateField(verbose_name=_("rate"))
    source = models.CharField(_("source"), max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-date", "currency", "quote"]
        verbose_name = _("exchange rate")
        verbose_name_plural = _("exchange rates")
        constraints = [
            models.UniqueConstraint(fields=["date", "currency", "quote"], name="finance_fx_rate"),
            models.CheckConstraint(condition=models.Q(rate__gt=0), name="finance_fx_rate_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.date} 1 {self.currency} = {self.rate} {self.quote}"


class JournalQuerySet(OrgScopedQuerySet):
    def posted(self) -> JournalQuerySet:
        return self.filter(status=JournalStatus.POSTED)


class Journal(models.Model):
    """A journal voucher (凭证): balanced lines posted to one book on one date.

    Drafts may change; a posted journal never does (`services.journals` refuses, and the
    lines' queryset has no update). It links to the document it records (`source_*`).
    """

    scope_field = "book__entity__node"

    book = models.ForeignKey(Book, on_delete=models.PROTECT, related_name="journals")
    number = models.CharField(_("number"), max_length=40, unique=True)
    date = models.DateField(_("date"))
    period = models.ForeignKey(Period, on_delete=models.PROTECT, related_name="journals")
    status = models.CharField(
        _("status"), max_length=10, choices=JournalStatus.choices, default=JournalStatus.DRAFT
    )
    kind = models.CharField(
        _("kind"), max_length=12, choices=JournalKind.choices, default=JournalKind.MANUAL
    )
    description = models.CharField(_("description"), max_length=300)
    source_type = models.CharField(_("source type"), max_length=50, blank=True)
    source_id = models.CharField(_("source id"), max_length=64, blank=True)
    source_number = models.CharField(_("source document"), max_length=64, blank=True)
    reverses = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversed_by",
        verbose_name=_("reverses"),
    )
    idempotency_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    posted_at = models.DateTimeField(_("posted at"), null=True, blank=True)

    objects = JournalQuerySet.as_manager()

    class Meta:
        ordering = ["-date", "-id"]
        verbose_name = _("journal")
        verbose_name_plural = _("journals")
        indexes = [
            models.Index(fields=["book", "date"], name="finance_journal_book_date"),
            models.Index(fields=["source_type", "source_id"], name="finance_journal_source"),
        ]

    def __str__(self) -> str:
        return self.number


class JournalLineQuerySet(OrgScopedQuerySet):
    def update(self, **kwargs: Any) -> int:
        raise TypeError("Journal lines change only through finance services.")


class JournalLine(models.Model):
    """One line: a signed amount in its transaction currency, the rate and the base amount,
    with the dimensions reports cut by (store, cost centre, channel)."""

    scope_field = "journal__book__entity__node"

    journal = models.ForeignKey(Journal, on_delete=models.CASCADE, related_name="lines")
    line_no = models.PositiveIntegerField(_("line"))
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="lines")
    description = models.CharField(_("description"), max_length=300, blank=True)
    currency = CurrencyField(verbose_name=_("currency"))
    amount = MoneyField(verbose_name=_("amount"))
    rate = RateField(verbose_name=_("rate"))
    base_amount = MoneyField(verbose_name=_("base amount"))
    site = models.ForeignKey(
        "org.Site",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("store"),
    )
    cost_centre = models.CharField(_("cost centre"), max_length=40, blank=True)
    channel = models.CharField(_("channel"), max_length=40, blank=True)

    objects = JournalLineQuerySet.as_manager()

    class Meta:
        ordering = ["journal_id", "line_no"]
        verbose_name = _("journal line")
        verbose_name_plural = _("journal lines")
        constraints = [
            models.UniqueConstraint(fields=["journal", "line_no"], name="finance_line_no"),
        ]
        indexes = [models.Index(fields=["account", "site"], name="finance_line_account")]

    def __str__(self) -> str:
        return f"{self.journal_id}/{self.line_no} {self.account_id} {self.amount} {self.currency}"

    @property
    def debit(self) -> Any:
        return self.base_amount if self.base_amount > 0 else None

    @property
    def credit(self) -> Any:
        return -self.base_amount if self.base_amount < 0 else None


class AccountBalance(models.Model):
    """Σ of posted lines per account, period, store and currency: debits and credits in base,
    the net in the transaction currency. A projection: `check-ledgers` rebuilds it."""

    scope_field = "account__book__entity__node"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="balances")
    period = models.ForeignKey(Period, on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey(
        "org.Site", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    currency = CurrencyField()
    amount = MoneyField(default=0)
    debit = MoneyField(default=0)
    credit = MoneyField(default=0)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("account balance")
        verbose_name_plural = _("account balances")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "period", "currency"],
                condition=models.Q(site__isnull=True),
                name="finance_balance_no_site",
            ),
            models.UniqueConstraint(
                fields=["account", "period", "site", "currency"],
                condition=models.Q(site__isnull=False),
                name="finance_balance_site",
            ),
        ]
        indexes = [models.Index(fields=["period", "account"], name="finance_balance_period")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.period_id} {self.site_id} {self.currency}"


class PendingPosting(models.Model):
    """An automatic posting that could not be made yet (an account mapping or a rate is
    missing). Nothing is lost: it is retried when the mapping or rate arrives."""

    scope_field = "entity__node"

    entity = models.ForeignKey(
        "org.LegalEntity", on_delete=models.PROTECT, related_name="pending_postings"
    )
    key = models.CharField(max_length=200, unique=True)
    rule = models.CharField(_("posting rule"), max_length=40)
    source_type = models.CharField(_("source type"), max_length=50, blank=True)
    source_id = models.CharField(_("source id"), max_length=64, blank=True)
    source_number = models.CharField(_("source document"), max_length=64, blank=True)
    arguments = models.JSONField(default=dict)
    problem_code = models.CharField(_("problem"), max_length=40)
    problem = models.TextField(_("details"))
    attempts = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    journal = models.ForeignKey(
        Journal, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]
        verbose_name = _("posting waiting for mapping")
        verbose_name_plural = _("postings waiting for mapping")

    def __str__(self) -> str:
        return self.key


def receipt_storage() -> Any:
    """Where expense receipts are kept (private: see kernel.files)."""
    return private_storage


class ExpenseClaim(TimestampedModel):
    """A staff member's expense claim (报销): submitted with a receipt photo, approved through
    the approval policies, posted on approval (expense / payable to staff) and marked paid
    when finance pays it outside Backroom (payable to staff / bank)."""

    scope_field = "site__node"

    number = models.CharField(_("number"), max_length=40, unique=True)
    site = models.ForeignKey(
        "org.Site", on_delete=models.PROTECT, related_name="+", verbose_name=_("store")
    )
    claimant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="expense_claims",
        verbose_name=_("claimant"),
    )
    category = models.CharField(_("category"), max_length=20)
    description = models.CharField(_("what for"), max_length=300)
    spent_on = models.DateField(_("spent on"))
    amount = MoneyField(verbose_name=_("amount"))
    currency = CurrencyField(verbose_name=_("currency"))
    cost_centre = models.CharField(_("cost centre"), max_length=40, blank=True)
    receipt = models.FileField(
        _("receipt"), upload_to="finance/receipts/%Y/%m/", storage=receipt_storage
    )
    receipt_content_type = models.CharField(max_length=50)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=ClaimStatus.choices,
        default=ClaimStatus.PENDING_APPROVAL,
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_reason = models.CharField(_("decision reason"), max_length=500, blank=True)
    journal = models.ForeignKey(
        Journal, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    payment_journal = models.ForeignKey(
        Journal, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("expense claim")
        verbose_name_plural = _("expense claims")
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="finance_claim_amount"),
        ]

    def __str__(self) -> str:
        return self.number
