from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApprovalsConfig(AppConfig):
    name = "backroom.approvals"
    label = "approvals"
    verbose_name = _("Approvals")

    def ready(self) -> None:
        from backroom.approvals import document_types, events, permissions  # noqa: F401  (registration)
        from backroom.web.navigation import NavItem, register_nav_item

        register_nav_item(
            NavItem(
                _("Approval policies"),
                "approvals:policies",
                "ti-route",
                permissions.APPROVALS_MANAGE,
            ),
            before="web:audit",
        )
