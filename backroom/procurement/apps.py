from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProcurementConfig(AppConfig):
    name = "backroom.procurement"
    label = "procurement"
    verbose_name = _("Procurement")

    def ready(self) -> None:
        from backroom.inventory.reports import document_page, register_source_page
        from backroom.procurement import events, permissions  # noqa: F401  (registration)
        from backroom.procurement.services import requisitions  # noqa: F401  (decision hook)
        from backroom.procurement.services.receiving import RECEIPT_SOURCE
        from backroom.procurement.views.invoices import review_count
        from backroom.web.navigation import NavItem, register_nav_item

        register_source_page(
            RECEIPT_SOURCE, document_page("procurement:receipt_detail", "receipt_id")
        )
        for item in [
            NavItem(
                _("Requisitions"),
                "procurement:requisition_list",
                "ti-clipboard-list",
                permissions.PROCUREMENT_VIEW,
            ),
            NavItem(
                _("Purchase orders"),
                "procurement:order_list",
                "ti-file-invoice",
                permissions.PROCUREMENT_VIEW,
            ),
            NavItem(
                _("Receiving"),
                "procurement:receiving",
                "ti-truck-delivery",
                permissions.PROCUREMENT_RECEIVE,
            ),
            NavItem(
                _("Invoice review"),
                "procurement:review_queue",
                "ti-receipt-2",
                permissions.PROCUREMENT_INVOICE,
                badge=review_count,
            ),
            NavItem(
                _("Suppliers"),
                "procurement:supplier_list",
                "ti-building-warehouse",
                permissions.PROCUREMENT_VIEW,
            ),
        ]:
            register_nav_item(item, before="web:audit")
