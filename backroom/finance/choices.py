from django.db import models
from django.utils.translation import gettext_lazy as _


class AccountKind(models.TextChoices):
    """The five kinds; assets and expenses have a debit normal balance, the rest credit."""

    ASSET = "asset", _("Asset")
    LIABILITY = "liability", _("Liability")
    EQUITY = "equity", _("Equity")
    REVENUE = "revenue", _("Revenue")
    EXPENSE = "expense", _("Expense")


DEBIT_NORMAL = {AccountKind.ASSET, AccountKind.EXPENSE}
PROFIT_AND_LOSS = {AccountKind.REVENUE, AccountKind.EXPENSE}


class JournalStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    POSTED = "posted", _("Posted")


class JournalKind(models.TextChoices):
    MANUAL = "manual", _("Manual")
    AUTOMATIC = "automatic", _("Automatic posting")
    REVERSAL = "reversal", _("Reversal")
    REVALUATION = "revaluation", _("FX revaluation")


class PeriodStatus(models.TextChoices):
    """Open: anyone allowed may post. Soft-closed: only finance may post. Closed: nobody."""

    OPEN = "open", _("Open")
    SOFT_CLOSED = "soft_closed", _("Soft-closed")
    CLOSED = "closed", _("Closed")


class PostingRole(models.TextChoices):
    """What an account is for in automatic postings; each entity maps a role to an account
    (optionally per item category). Chart templates ship a default for every role."""

    INVENTORY = "inventory", _("Inventory")
    GOODS_RECEIVED_NOT_INVOICED = "grni", _("Goods received not invoiced")
    ACCOUNTS_PAYABLE = "accounts_payable", _("Accounts payable (suppliers)")
    INPUT_TAX = "input_tax", _("Input VAT")
    PURCHASE_PRICE_VARIANCE = "price_variance", _("Purchase price variance")
    COST_OF_SALES = "cost_of_sales", _("Cost of sales (food cost)")
    WASTE = "waste", _("Waste (food cost)")
    INVENTORY_VARIANCE = "inventory_variance", _("Stock count variance (food cost)")
    INTERCOMPANY_RECEIVABLE = "intercompany_receivable", _("Intercompany receivable")
    INTERCOMPANY_PAYABLE = "intercompany_payable", _("Intercompany payable")
    SALES_REVENUE = "sales_revenue", _("Sales revenue")
    OUTPUT_TAX = "output_tax", _("Output VAT")
    SALES_DISCOUNTS = "sales_discounts", _("Discounts borne by the merchant")
    PACKAGING_FEES = "packaging_fees", _("Packaging fees charged to customers")
    PLATFORM_FEES = "platform_fees", _("Platform commission and fees")
    PLATFORM_RECEIVABLE = "platform_receivable", _("Receivable from platforms")
    CASH = "cash", _("Cash and till takings")
    BANK = "bank", _("Bank (payments made outside Backroom)")
    STAFF_PAYABLE = "staff_payable", _("Payable to staff (expense claims)")
    OPERATING_EXPENSES = "operating_expenses", _("Operating expenses")
    FX_UNREALISED = "fx_unrealised", _("Unrealised exchange gain or loss")
    FX_REALISED = "fx_realised", _("Realised exchange gain or loss")
    RETAINED_EARNINGS = "retained_earnings", _("Retained earnings")


# A role an entity has no account for yet takes the account of this one (roles added after
# books were opened keep their postings flowing until finance maps them).
FALLBACK_ROLES: dict[str, str] = {PostingRole.PACKAGING_FEES: PostingRole.SALES_REVENUE}


class ClaimStatus(models.TextChoices):
    PENDING_APPROVAL = "pending_approval", _("Waiting for approval")
    APPROVED = "approved", _("Approved, to be paid")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    PAID = "paid", _("Paid")
