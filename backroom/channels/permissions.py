"""Sales channel permission codes."""

from django.utils.translation import gettext_lazy as _

from backroom.accounts.permissions import register_permission

CHANNELS_VIEW = register_permission(
    "channels.view", _("See channel orders, their history and the order board")
)
CHANNELS_OPERATE = register_permission(
    "channels.operate", _("Post till orders and move online orders through their states")
)
CHANNELS_MANAGE = register_permission(
    "channels.manage", _("Manage channel accounts and menu mappings")
)
