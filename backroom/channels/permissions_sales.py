"""The permission of the sales pages and settlement (kept apart from `permissions.py` while the
channels app is being built; the lead may fold it in)."""

from django.utils.translation import gettext_lazy as _

from backroom.accounts.permissions import register_permission

CHANNELS_SALES = register_permission(
    "channels.sales", _("See sales figures and the daily settlement with the platforms")
)
