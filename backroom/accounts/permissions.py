"""The permission catalogue. Apps add theirs with `register_permission`; roles are sets of codes."""

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

ALL = "*"

ORG_VIEW = "org.view"
ORG_MANAGE = "org.manage"
ACCOUNTS_VIEW = "accounts.view"
ACCOUNTS_MANAGE = "accounts.manage"
AUDIT_VIEW = "audit.view"
WEBHOOKS_VIEW = "webhooks.view"
WEBHOOKS_MANAGE = "webhooks.manage"
API_TOKENS_MANAGE = "accounts.manage_own_tokens"

CATALOGUE: dict[str, Promise | str] = {
    ORG_VIEW: _("See the org tree and sites"),
    ORG_MANAGE: _("Change the org tree and sites"),
    ACCOUNTS_VIEW: _("See users and their roles"),
    ACCOUNTS_MANAGE: _("Create users and grant roles"),
    AUDIT_VIEW: _("Browse the audit log"),
    WEBHOOKS_VIEW: _("See webhook endpoints and deliveries"),
    WEBHOOKS_MANAGE: _("Manage webhook endpoints, replay deliveries"),
    API_TOKENS_MANAGE: _("Create and revoke one's own API tokens"),
}


def register_permission(code: str, label: Promise | str) -> str:
    CATALOGUE.setdefault(code, label)
    return code


class RoleCode:
    HQ_ADMIN = "hq_admin"
    HQ_OPERATIONS = "hq_operations"
    FINANCE = "finance"
    BUYER = "buyer"
    REGION_MANAGER = "region_manager"
    STORE_MANAGER = "store_manager"
    STORE_STAFF = "store_staff"
    TECHNICIAN = "technician"
    INTEGRATION = "integration"


# The roles every deployment starts with; administrators may edit them or add their own.
# Permissions added by later apps reach these roles through data migrations in accounts.
DEFAULT_ROLES: dict[str, tuple[Promise | str, list[str]]] = {
    RoleCode.HQ_ADMIN: (_("HQ administrator"), [ALL]),
    RoleCode.HQ_OPERATIONS: (
        _("HQ operations"),
        [ORG_VIEW, ACCOUNTS_VIEW, AUDIT_VIEW, WEBHOOKS_VIEW, API_TOKENS_MANAGE],
    ),
    RoleCode.FINANCE: (_("Finance"), [ORG_VIEW, AUDIT_VIEW, API_TOKENS_MANAGE]),
    RoleCode.BUYER: (_("Buyer"), [ORG_VIEW]),
    RoleCode.REGION_MANAGER: (_("Region manager"), [ORG_VIEW, ACCOUNTS_VIEW, AUDIT_VIEW]),
    RoleCode.STORE_MANAGER: (_("Store manager"), [ORG_VIEW, ACCOUNTS_VIEW]),
    RoleCode.STORE_STAFF: (_("Store staff"), [ORG_VIEW]),
    RoleCode.TECHNICIAN: (_("Technician"), [ORG_VIEW]),
    RoleCode.INTEGRATION: (
        _("Integration engineer"),
        [ORG_VIEW, WEBHOOKS_VIEW, WEBHOOKS_MANAGE, API_TOKENS_MANAGE],
    ),
}
