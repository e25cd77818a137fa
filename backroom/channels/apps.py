from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChannelsConfig(AppConfig):
    name = "backroom.channels"
    label = "channels"
    verbose_name = _("Sales channels")

    def ready(self) -> None:
        from backroom.channels import (  # noqa: F401  (registration; sales subscribers and nav)
            anomalies,
            events,
            parsers,
            permissions,
            pos,
            reports_views,
            rollups,
        )
        from backroom.web.navigation import NavItem, register_nav_item

        for item in [
            NavItem(_("Order board"), "channels:board", "ti-receipt", permissions.CHANNELS_VIEW),
            NavItem(
                _("Order alerts"), "channels:alerts", "ti-alert-triangle", permissions.CHANNELS_VIEW
            ),
            NavItem(_("Sold out"), "channels:sold_out", "ti-circle-off", permissions.CHANNELS_VIEW),
            NavItem(
                _("Unmapped items"),
                "channels:unmapped",
                "ti-link-off",
                permissions.CHANNELS_MANAGE,
            ),
            NavItem(
                _("Import Square sales"),
                "channels:square_import",
                "ti-file-upload",
                permissions.CHANNELS_OPERATE,
            ),
        ]:
            register_nav_item(item, before="web:audit")
