"""Procurement: suppliers, price lists, requisitions, purchase orders, receiving, invoice match."""
