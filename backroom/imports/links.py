"""The importers' exports a list page offers (items on the item list, suppliers and prices on
the supplier list…): a file exported there, edited and imported again round-trips. Pages show
them with `{% include "imports/round_trip_exports.html" %}`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from backroom.imports.importers import IMPORTERS, Importer


def round_trip_exports(actor: Any, kinds: Iterable[str]) -> list[type[Importer]]:
    """The importers of these kinds the actor may use, in that order."""
    return [
        importer
        for kind in kinds
        if (importer := IMPORTERS.get(kind)) is not None and importer.allowed(actor)
    ]
