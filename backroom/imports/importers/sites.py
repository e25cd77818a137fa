"""What importers of per-store rows share: the store and location columns, and a cached
lookup of a site by its code (any case)."""

from __future__ import annotations

from backroom.imports.columns import CODE, Column
from backroom.org.models import Site

STORE_CODE = Column(
    "store_code",
    "Store code",
    "门店编码",
    CODE,
    True,
    "SH001",
    max_length=20,
    aliases=("store", "site code", "门店"),
)
LOCATION_CODE = Column(
    "location_code",
    "Location code",
    "库位编码",
    CODE,
    True,
    "WALKIN",
    max_length=20,
    aliases=("location", "库位"),
)


class Sites:
    """Sites by code, each looked up once."""

    def __init__(self) -> None:
        self.found: dict[str, Site | None] = {}

    def __call__(self, code: str) -> Site | None:
        key = code.casefold()
        if key not in self.found:
            self.found[key] = (
                Site.objects.select_related("node").filter(node__code__iexact=code).first()
            )
        return self.found[key]
