"""Procurement pages: requisitions, purchase orders and receiving, supplier invoices and their
review, suppliers. One module per subject, each with its own `urlpatterns`."""

__all__: list[str] = []
