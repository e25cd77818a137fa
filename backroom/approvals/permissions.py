"""Approvals permission codes. `hq_admin` holds every code ("*"), so it manages policies."""

from django.utils.translation import gettext_lazy as _

from backroom.accounts.permissions import register_permission

APPROVALS_MANAGE = register_permission(
    "approvals.manage", _("Create, edit, publish and test approval policies")
)

APPROVALS_SUBMIT = register_permission(
    "approvals.submit",
    _("Submit documents for approval on behalf of their requesters (apps and integrations)"),
)

APPROVALS_REPORT = register_permission(
    "approvals.report",
    _("See the approvals report (time per step, SLA breaches, who is slow) in one's scope"),
)
