"""Every importer, registered by kind (see base.py)."""

from importlib import import_module

from backroom.imports.importers.base import IMPORTERS, Change, Importer, register

__all__ = ["IMPORTERS", "Change", "Importer", "register"]

MODULES = (
    "stores",
    "locations",
    "users",
    "items",
    "recipes",
    "suppliers",
    "prices",
    "opening_stock",
    "fx_rates",
    "chart_of_accounts",
    "opening_balances",
)


def load_all() -> None:
    """Import the importer modules (called once the apps are ready)."""
    for name in MODULES:
        try:
            import_module(f"backroom.imports.importers.{name}")
        except ModuleNotFoundError as error:  # TODO(imports): explicit once all are written
            if error.name != f"backroom.imports.importers.{name}":
                raise
