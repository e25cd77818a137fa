"""Every document type that can need approval is registered here, in one place.

Apps that own the documents (inventory's waste, procurement's requisitions...) will route them
through approvals in the runtime slice; their fields are declared here so policies can be written
and tested before then. Add a type by appending a `register_document_type(...)` call; keep field
names stable — published policy conditions refer to them.
"""

from django.utils.translation import gettext_lazy as _

from backroom.approvals.registry import (
    DocumentType,
    FieldSpec,
    FieldType,
    register_document_type,
)

# Fields most documents share: where it is, how much (in the entity's base currency), who asked.
_AMOUNT = FieldSpec("amount", FieldType.MONEY, _("Amount in the entity's base currency"))
_STORE = FieldSpec("store", FieldType.STRING, _("Store code"))
_REGION = FieldSpec("region", FieldType.STRING, _("Region code"), required=False)
_REQUESTER = FieldSpec("requester", FieldType.INT, _("Requester (user id)"), required=False)

INVENTORY_WASTE = register_document_type(
    DocumentType(
        code="inventory.waste",
        label=_("Waste / write-off (报损)"),
        fields=(
            _AMOUNT,
            _STORE,
            _REGION,
            FieldSpec("reason", FieldType.STRING, _("Reason category")),
            _REQUESTER,
        ),
    )
)

PROCUREMENT_REQUISITION = register_document_type(
    DocumentType(
        code="procurement.requisition",
        label=_("Store requisition (要货)"),
        fields=(
            _AMOUNT,
            _STORE,
            _REGION,
            FieldSpec("category", FieldType.STRING, _("Item category"), required=False),
            FieldSpec("supplier", FieldType.STRING, _("Supplier code"), required=False),
            _REQUESTER,
            FieldSpec("is_urgent", FieldType.BOOL, _("Urgent"), required=False),
        ),
    )
)

FINANCE_EXPENSE_CLAIM = register_document_type(
    DocumentType(
        code="finance.expense_claim",
        label=_("Expense claim (报销)"),
        fields=(
            _AMOUNT,
            _STORE,
            _REGION,
            FieldSpec("category", FieldType.STRING, _("Expense category"), required=False),
            _REQUESTER,
        ),
    )
)
