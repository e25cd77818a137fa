"""The document types approvals know: each app registers its type and the fields a condition may use.

A document type is a code ("procurement.requisition"), a label, and typed fields. Conditions are
checked against these fields when a policy is saved (unknown name, wrong type) and evaluated
against a document's values when it is routed. Registration happens in one place,
`backroom.approvals.document_types`, imported when the app is ready; an app that owns a document
calls `register_document_type` there (or from its own `ready()` in later slices) — never twice
with different fields.

Field types and what a condition sees (CEL type):

==========  ===============================================  ==========
type        Python value given to `evaluate`                  CEL type
==========  ===============================================  ==========
``money``   `Decimal` amount in the entity's base currency    ``double``
``string``  `str` (store/region codes, categories, ...)        ``string``
``int``     `int` (requester id, supplier id, counts)          ``int``
``bool``    `bool`                                              ``bool``
==========  ===============================================  ==========

Money is given to CEL as a double: see `backroom.approvals.conditions` for why and the bound
within which every comparison is exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.utils.functional import Promise

from backroom.approvals.exceptions import UnknownDocumentType


class FieldType(StrEnum):
    MONEY = "money"
    STRING = "string"
    INT = "int"
    BOOL = "bool"

    @property
    def cel_type(self) -> str:
        return {"money": "double", "string": "string", "int": "int", "bool": "bool"}[self.value]


@dataclass(frozen=True)
class FieldSpec:
    """One field a condition may use. A missing optional field takes its type's zero value."""

    name: str
    type: FieldType
    label: Promise | str
    required: bool = True


@dataclass(frozen=True)
class DocumentType:
    """A kind of document that can need approval, with the fields its conditions may use.

    `node_field` names the string field holding the code of the org node the document belongs to
    (its store); routes resolve approvers from that node upwards.
    """

    code: str
    label: Promise | str
    fields: tuple[FieldSpec, ...]
    node_field: str = "store"
    description: Promise | str = ""
    # Where conditions over these fields are written, for messages ("approval conditions").
    conditions_label: Promise | str = ""
    _by_name: dict[str, FieldSpec] = field(default_factory=dict, init=False, compare=False)

    def __post_init__(self) -> None:
        names = [spec.name for spec in self.fields]
        if len(names) != len(set(names)):
            raise ValueError(f"{self.code}: duplicate field names")
        if self.node_field and self.node_field not in names:
            raise ValueError(f"{self.code}: node_field {self.node_field!r} is not a field")
        self._by_name.update({spec.name: spec for spec in self.fields})

    def get_field(self, name: str) -> FieldSpec | None:
        return self._by_name.get(name)

    @property
    def field_names(self) -> list[str]:
        return [spec.name for spec in self.fields]


_REGISTRY: dict[str, DocumentType] = {}


def register_document_type(document_type: DocumentType) -> DocumentType:
    """Register a document type; registering the same definition again is a no-op."""
    existing = _REGISTRY.get(document_type.code)
    if existing is not None and existing != document_type:
        raise ValueError(f"document type {document_type.code} registered twice")
    _REGISTRY[document_type.code] = document_type
    return document_type


def get_document_type(code: str) -> DocumentType:
    try:
        return _REGISTRY[code]
    except KeyError:
        raise UnknownDocumentType(details={"document_type": code}) from None


def is_registered(code: str) -> bool:
    return code in _REGISTRY


def document_types() -> list[DocumentType]:
    """Every registered document type, by code."""
    return [_REGISTRY[code] for code in sorted(_REGISTRY)]


def describe(document_type: DocumentType) -> dict[str, Any]:
    """Plain data for the API and the editor: code, label and typed fields."""
    return {
        "code": document_type.code,
        "label": str(document_type.label),
        "node_field": document_type.node_field,
        "fields": [
            {
                "name": spec.name,
                "type": spec.type.value,
                "cel_type": spec.type.cel_type,
                "label": str(spec.label),
                "required": spec.required,
            }
            for spec in document_type.fields
        ],
    }
