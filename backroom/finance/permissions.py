"""Finance permission codes (granted to the shipped roles by migration 0002)."""

from django.utils.translation import gettext_lazy as _

from backroom.accounts.permissions import register_permission

FINANCE_VIEW = register_permission(
    "finance.view", _("See the books: journals, balances, trial balance and P&L")
)
FINANCE_POST = register_permission(
    "finance.post", _("Enter, post and reverse journals; enter exchange rates")
)
FINANCE_CLOSE = register_permission(
    "finance.close", _("Soft-close, close and reopen periods; post into soft-closed periods")
)
FINANCE_MANAGE = register_permission(
    "finance.manage", _("Open books, edit the chart of accounts and the posting accounts")
)
FINANCE_CLAIM = register_permission(
    "finance.claim", _("Submit expense claims (报销) at one's stores")
)
