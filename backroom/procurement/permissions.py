"""Procurement permission codes (granted to the shipped roles by migration 0002)."""

from django.utils.translation import gettext_lazy as _

from backroom.accounts.permissions import register_permission

PROCUREMENT_VIEW = register_permission(
    "procurement.view", _("See suppliers, prices, requisitions, purchase orders and receipts")
)
PROCUREMENT_ORDER = register_permission(
    "procurement.order", _("Create and submit store requisitions (要货)")
)
PROCUREMENT_RECEIVE = register_permission(
    "procurement.receive", _("Receive deliveries against purchase orders (验收)")
)
PROCUREMENT_MANAGE = register_permission(
    "procurement.manage",
    _("Manage suppliers, price lists, delivery calendars, order guides and purchase orders"),
)
PROCUREMENT_INVOICE = register_permission(
    "procurement.invoice", _("Enter supplier invoices and work the invoice review queue")
)
