"""Imports permission codes (granted to the shipped roles by migration 0002). Using an importer
also needs the permission of what it writes (catalog.manage for items, say), checked per row
against the row's store where it has one."""

from django.utils.translation import gettext_lazy as _

from backroom.accounts.permissions import register_permission

IMPORTS_USE = register_permission(
    "imports.use", _("Import master data and opening balances from spreadsheets; export lists")
)
