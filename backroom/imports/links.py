"""The importers' exports a list page offers (items on the item list, suppliers and prices on
the supplier list…): a file exported there, edited and imported again round-trips. Pages show
them with `{% include "imports/round_trip_exports.html" %}`. An importer that keeps the page's
filters (`Importer.export_filters`: the item list's kind and search) exports only the rows the
page lists; the others export the user's whole scope."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.utils.functional import Promise

from backroom.imports.importers import IMPORTERS


@dataclass(frozen=True)
class RoundTripExport:
    kind: str
    label: Promise
    filters: str  # the page's filters the export keeps, as a query string ("" for none)


def round_trip_exports(
    actor: Any, kinds: Iterable[str], query: Mapping[str, str] | None = None
) -> list[RoundTripExport]:
    """The exports of the importers of these kinds the actor may use, in that order; `query`:
    the page's, whose filters the importers that keep them carry over."""
    exports = []
    for kind in kinds:
        importer = IMPORTERS.get(kind)
        if importer is None or not importer.allowed(actor):
            continue
        kept = {key: query[key] for key in importer.export_filters if query and query.get(key)}
        exports.append(RoundTripExport(importer.kind, importer.label, urlencode(kept)))
    return exports
