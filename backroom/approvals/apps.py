from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApprovalsConfig(AppConfig):
    name = "backroom.approvals"
    label = "approvals"
    verbose_name = _("Approvals")

    def ready(self) -> None:
        from backroom.approvals import document_types, events, permissions  # noqa: F401  (registration)
        from backroom.approvals.notifications import pending_badge, unread_badge
        from backroom.web.navigation import NavItem, register_nav_item

        # Everyone signed in has an inbox (its badge: tasks waiting), their own requests and
        # notifications (badge: unread) — no permission needed.
        register_nav_item(
            NavItem(_("My approvals"), "approvals:inbox", "ti-inbox", badge=pending_badge),
            before="web:audit",
        )
        register_nav_item(
            NavItem(_("My requests"), "approvals:my_requests", "ti-send"), before="web:audit"
        )
        register_nav_item(
            NavItem(_("Notifications"), "approvals:notifications", "ti-bell", badge=unread_badge),
            before="web:audit",
        )
        register_nav_item(
            NavItem(_("My delegations"), "approvals:delegations", "ti-user-share"),
            before="web:audit",
        )
        register_nav_item(
            NavItem(
                _("Approvals report"),
                "approvals:report",
                "ti-report-analytics",
                permissions.APPROVALS_REPORT,
            ),
            before="web:audit",
        )
        register_nav_item(
            NavItem(
                _("Approval policies"),
                "approvals:policies",
                "ti-route",
                permissions.APPROVALS_MANAGE,
            ),
            before="web:audit",
        )
