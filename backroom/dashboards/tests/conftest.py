"""Dashboards test data: the inventory tests' stores, items and locations (tree fixture)."""

from backroom.inventory.tests import conftest as inventory

stock = inventory.stock
