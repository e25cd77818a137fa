"""Org API schemas: nodes, the tree, sites, legal entities, brands, and their list filters."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ninja import Field, Schema

from backroom.config.api_support import ObjectId, Text, text
from backroom.org.choices import NodeKind, SiteStatus


class NodeOut(Schema):
    id: int
    kind: str
    code: str
    name: str
    parent_id: int | None
    path: str
    depth: int
    is_active: bool


class NodeTreeOut(Schema):
    """A node with its visible descendants nested under `children`."""

    id: int
    kind: str
    code: str
    name: str
    parent_id: int | None
    depth: int
    is_active: bool
    children: list[NodeTreeOut]


class NodeFilter(Schema):
    kind: NodeKind | None = None
    parent_id: ObjectId | None = None
    is_active: bool | None = None
    search: Text | None = Field(None, max_length=100, description="Part of the code or name")


class EntityIn(Schema):
    base_currency: str = text(min_length=3, max_length=3)
    country: str = text(min_length=2, max_length=2)
    tax_id: str = text(max_length=40, default="")


class SiteIn(Schema):
    time_zone: str = text(min_length=1, max_length=64, default="Asia/Shanghai")
    cutoff_hour: int = Field(4, ge=0, le=23)
    address: str = text(max_length=300, default="")
    city: str = text(max_length=100, default="")
    latitude: Decimal | None = Field(None, ge=-90, le=90, max_digits=9, decimal_places=6)
    longitude: Decimal | None = Field(None, ge=-180, le=180, max_digits=9, decimal_places=6)
    opening_date: dt.date | None = None
    status: SiteStatus = SiteStatus.OPEN
    brand_code: str | None = text(max_length=20, default=None)


class NodeIn(Schema):
    kind: NodeKind
    code: str = text(min_length=1, max_length=20)
    name: str = text(min_length=1, max_length=200)
    parent_id: ObjectId | None = None
    entity: EntityIn | None = None
    site: SiteIn | None = None


class SiteOut(Schema):
    id: int
    node_id: int
    kind: str
    code: str
    name: str
    legal_entity_id: int
    brand: str | None
    time_zone: str
    cutoff_hour: int
    address: str
    city: str
    latitude: Decimal | None
    longitude: Decimal | None
    opening_date: dt.date | None
    status: str

    @staticmethod
    def resolve_name(obj: object) -> str:
        return obj.node.name  # type: ignore[attr-defined, no-any-return]

    @staticmethod
    def resolve_brand(obj: object) -> str | None:
        brand = obj.brand  # type: ignore[attr-defined]
        return brand.code if brand else None


class SiteFilter(Schema):
    kind: NodeKind | None = None
    status: SiteStatus | None = None
    brand: Text | None = Field(None, max_length=20, description="Brand code")
    legal_entity_id: ObjectId | None = None
    city: Text | None = Field(None, max_length=100)
    search: Text | None = Field(None, max_length=100, description="Part of the code or name")


class SitePatch(Schema):
    name: str | None = text(min_length=1, max_length=200, default=None)
    time_zone: str | None = text(min_length=1, max_length=64, default=None)
    cutoff_hour: int | None = Field(None, ge=0, le=23)
    address: str | None = text(max_length=300, default=None)
    city: str | None = text(max_length=100, default=None)
    latitude: Decimal | None = Field(None, ge=-90, le=90, max_digits=9, decimal_places=6)
    longitude: Decimal | None = Field(None, ge=-180, le=180, max_digits=9, decimal_places=6)
    opening_date: dt.date | None = None
    status: SiteStatus | None = None
    reason: str = text(max_length=1000, default="")


class LegalEntityOut(Schema):
    id: int
    node_id: int
    code: str
    name: str
    base_currency: str
    country: str
    tax_id: str

    @staticmethod
    def resolve_code(obj: object) -> str:
        return obj.node.code  # type: ignore[attr-defined, no-any-return]

    @staticmethod
    def resolve_name(obj: object) -> str:
        return obj.node.name  # type: ignore[attr-defined, no-any-return]


class LegalEntityFilter(Schema):
    country: Text | None = Field(None, max_length=2)
    base_currency: Text | None = Field(None, max_length=3)
    search: Text | None = Field(None, max_length=100, description="Part of the code or name")


class BrandOut(Schema):
    id: int
    code: str
    name: str


class BrandIn(Schema):
    code: str = text(min_length=1, max_length=20)
    name: str = text(min_length=1, max_length=200)


class BrandFilter(Schema):
    search: Text | None = Field(None, max_length=100, description="Part of the code or name")
