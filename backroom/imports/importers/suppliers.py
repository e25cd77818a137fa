"""Suppliers: their master data (the org node whose stores they serve, currency, terms,
tolerances, order e-mail) and a contact person, written through the procurement services
(audited, `procurement.supplier.saved` published).

Natural key: the supplier code. A new code creates the supplier; an existing one is updated
with what differs (nothing differs → unchanged, no audit entry). A column left out of the file
changes nothing; a blank cell clears an optional text (tax id, e-mail) and keeps a number or a
yes/no as it is (a new supplier takes the default). The node a supplier is defined at cannot
change. A contact is matched by name (any case): a new name adds a contact (the primary one
when the supplier has none); a known contact's changed phone or e-mail is applied through
update_contact and reported among the row's fields (`contact_phone`, `contact_email`); a blank
cell leaves them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import fields
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Prefetch
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backroom.imports.columns import BOOLEAN, CHOICE, CODE, DECIMAL, INTEGER, TEXT, Column, Row
from backroom.imports.importers.base import CREATED, UNCHANGED, UPDATED, Change, Importer, register
from backroom.imports.permissions import IMPORTS_USE
from backroom.imports.problems import Problems
from backroom.kernel.money import CURRENCIES
from backroom.org.models import OrgNode, code_validator
from backroom.procurement import selectors
from backroom.procurement.models import Supplier, SupplierContact
from backroom.procurement.permissions import PROCUREMENT_MANAGE
from backroom.procurement.services import (
    ContactInput,
    SupplierInput,
    add_contact,
    create_supplier,
    update_contact,
    update_supplier,
)
from backroom.procurement.services.suppliers import PHONE_PATTERN, SUPPLIER_NODE_KINDS

# Other spellings a buyer's sheet may use for a currency (the code always works).
CURRENCY_NAMES = {
    "CNY": ("RMB", "人民币", "元"),
    "HKD": ("港币", "港元"),
    "USD": ("美元", "US$"),
    "EUR": ("欧元",),
    "JPY": ("日元",),
    "SGD": ("新加坡元",),
    "TWD": ("新台币",),
    "MOP": ("澳门元",),
    "GBP": ("英镑",),
    "KRW": ("韩元",),
    "VND": ("越南盾",),
}
CURRENCY_CHOICES = tuple((code, (code, *CURRENCY_NAMES.get(code, ()))) for code in CURRENCIES)

# Supplier fields as update_supplier takes them, by how a blank cell is read.
TEXT_FIELDS = ("tax_id", "order_email")
KEPT_WHEN_BLANK = (
    "payment_terms_days",
    "lead_time_days",
    "requires_pack_multiples",
    "price_alert_percent",
    "over_receipt_tolerance_percent",
    "invoice_tolerance_amount",
    "invoice_tolerance_percent",
    "is_active",
)
DEFAULTS = {field.name: field.default for field in fields(SupplierInput)}
PERCENT_MAXIMUM = Decimal(999)
# A known contact's columns the file may change, with the contact's field.
CONTACT_COLUMNS = (("contact_phone", "phone"), ("contact_email", "email"))


def _percent(key: str, english: str, chinese: str, example: Any, help: Any) -> Column:
    return Column(
        key, english, chinese, DECIMAL, False, example, help=help, places=4, maximum=PERCENT_MAXIMUM
    )


@register
class SupplierImporter(Importer):
    kind = "suppliers"
    label = gettext_lazy("Suppliers")
    description = gettext_lazy(
        "Suppliers: one row per supplier code, with the org node whose stores it serves, its "
        "currency and terms. Existing suppliers are updated; a column left out changes nothing."
    )
    permission = IMPORTS_USE
    writes = PROCUREMENT_MANAGE
    chunk_size = 500
    key_fields = ("code",)
    columns = (
        Column(
            "code",
            "Supplier code",
            "供应商编码",
            CODE,
            True,
            "FRESH",
            max_length=20,
            aliases=("supplier", "供应商代码", "供应商"),
            help=gettext_lazy("1–20 capital letters, digits or hyphens; cannot change."),
        ),
        Column(
            "name",
            "Supplier name",
            "供应商名称",
            TEXT,
            True,
            "鲜达食品 Fresh Foods",
            aliases=("name", "名称"),
        ),
        Column(
            "node_code",
            "Defined at",
            "所属组织",
            CODE,
            True,
            "CN-CO",
            max_length=20,
            aliases=("org node", "node", "entity", "组织编码", "法人主体"),
            help=gettext_lazy(
                "The code of the group, legal entity or region whose stores it serves; "
                "cannot change once the supplier exists."
            ),
        ),
        Column(
            "currency",
            "Currency",
            "币种",
            CHOICE,
            True,
            "CNY",
            choices=CURRENCY_CHOICES,
            aliases=("货币",),
        ),
        Column(
            "tax_id",
            "Tax ID",
            "税号",
            CODE,
            False,
            "91310000MA1K000000",
            max_length=40,
            aliases=("tax number", "统一社会信用代码", "纳税人识别号"),
            help=gettext_lazy("Blank clears it."),
        ),
        Column(
            "order_email",
            "Order e-mail",
            "订货邮箱",
            TEXT,
            False,
            "orders@fresh.example",
            max_length=254,
            aliases=("order email", "PO e-mail"),
            help=gettext_lazy("Purchase orders are sent here; blank clears it."),
        ),
        Column(
            "payment_terms_days",
            "Payment terms (days)",
            "账期（天）",
            INTEGER,
            False,
            30,
            maximum=Decimal(365),
            aliases=("payment terms", "账期"),
            help=gettext_lazy("0–365; blank keeps it (30 for a new supplier)."),
        ),
        Column(
            "lead_time_days",
            "Lead time (days)",
            "交货周期（天）",
            INTEGER,
            False,
            1,
            maximum=Decimal(365),
            aliases=("lead time", "交货周期", "提前期"),
            help=gettext_lazy("0–365; blank keeps it (1 for a new supplier)."),
        ),
        Column(
            "requires_pack_multiples",
            "Whole packs only",
            "仅整包装订货",
            BOOLEAN,
            False,
            "no",
            aliases=("pack multiples", "整箱订货"),
            help=gettext_lazy("Orders must be whole packs; blank keeps it (no)."),
        ),
        _percent(
            "price_alert_percent",
            "Price alert %",
            "调价预警%",
            10,
            gettext_lazy("A price change above this raises an alert; blank keeps it (10)."),
        ),
        _percent(
            "over_receipt_tolerance_percent",
            "Over-receipt tolerance %",
            "超收容差%",
            0,
            gettext_lazy("How much more than ordered may be received; blank keeps it (0)."),
        ),
        Column(
            "invoice_tolerance_amount",
            "Invoice tolerance amount",
            "发票容差金额",
            DECIMAL,
            False,
            1,
            places=4,
            help=gettext_lazy("In the supplier's currency; blank keeps it (1)."),
        ),
        _percent(
            "invoice_tolerance_percent",
            "Invoice tolerance %",
            "发票容差%",
            2,
            gettext_lazy(
                "An invoice line matches within the lesser of the amount and this "
                "percentage; blank keeps it (2)."
            ),
        ),
        Column(
            "is_active",
            "Active",
            "启用",
            BOOLEAN,
            False,
            "yes",
            aliases=("status", "状态", "是否启用"),
            help=gettext_lazy("No stops new orders; blank keeps it (yes)."),
        ),
        Column(
            "contact_name",
            "Contact",
            "联系人",
            TEXT,
            False,
            "王经理",
            max_length=100,
            aliases=("contact name", "联系人姓名"),
            help=gettext_lazy("A new name adds a contact (the primary one if there is none)."),
        ),
        Column(
            "contact_phone",
            "Contact phone",
            "联系电话",
            CODE,
            False,
            "13800138000",
            max_length=40,
            aliases=("phone", "电话", "手机"),
        ),
        Column(
            "contact_email",
            "Contact e-mail",
            "联系人邮箱",
            TEXT,
            False,
            "wang@fresh.example",
            max_length=254,
            aliases=("contact email",),
        ),
    )

    def __init__(self, actor: Any) -> None:
        super().__init__(actor)
        self.suppliers: dict[str, Supplier | None] = {}
        self.nodes: dict[str, OrgNode | None] = {}
        self.allowed_nodes: dict[int, bool] = {}

    # --- lookups ------------------------------------------------------------------------

    def load_suppliers(self, codes: set[str]) -> None:
        wanted = {code.upper() for code in codes} - set(self.suppliers)
        if not wanted:
            return
        rows = Supplier.objects.select_related("node").prefetch_related(
            Prefetch(
                "contacts", queryset=SupplierContact.objects.order_by("-is_primary", "name", "id")
            )
        )
        for supplier in rows.filter(code__in=wanted):
            self.suppliers[supplier.code] = supplier
        for code in wanted:
            self.suppliers.setdefault(code, None)

    def node(self, code: str) -> OrgNode | None:
        key = code.upper()
        if key not in self.nodes:
            self.nodes[key] = OrgNode.objects.filter(code=key).first()
        return self.nodes[key]

    def may_manage(self, node: OrgNode) -> bool:
        if node.pk not in self.allowed_nodes:
            self.allowed_nodes[node.pk] = self.actor.has_scoped_permission(PROCUREMENT_MANAGE, node)
        return self.allowed_nodes[node.pk]

    # --- checking -----------------------------------------------------------------------

    def check_rows(self, rows: Sequence[Row], problems: Problems) -> None:
        self.load_suppliers({row["code"] for row in rows if row.has("code")})
        for row in rows:
            self.check_row(row, problems)

    def check_row(self, row: Row, problems: Problems) -> None:
        def problem(field: str, code: str, message: str) -> None:
            problems.add(row.number, field, code, message)

        supplier = None
        if row.has("code"):
            code = row["code"].upper()
            supplier = self.suppliers.get(code)
            if supplier is None:
                try:
                    code_validator(code)
                except ValidationError:
                    problem(
                        "code", "invalid_value", _("Use 1–20 capital letters, digits or hyphens.")
                    )
            elif not self.may_manage(supplier.node):
                problem(
                    "code",
                    "permission_denied",
                    _("The code %(code)s belongs to a supplier you may not change.")
                    % {"code": supplier.code},
                )
        node = self.node(row["node_code"]) if row.has("node_code") else None
        if row.has("node_code"):
            if node is None:
                problem(
                    "node_code",
                    "unknown_reference",
                    _("There is no org node %(code)s.") % {"code": row["node_code"]},
                )
            elif supplier is not None:
                if node.pk != supplier.node_id:
                    problem(
                        "node_code",
                        "node_changed",
                        _("Supplier %(code)s is defined at %(node)s: that cannot be changed.")
                        % {"code": supplier.code, "node": supplier.node.code},
                    )
            elif node.kind not in SUPPLIER_NODE_KINDS:
                problem(
                    "node_code",
                    "invalid_value",
                    _(
                        "A supplier is defined for the group, a legal entity or a region, not "
                        "for %(code)s."
                    )
                    % {"code": node.code},
                )
            elif not self.may_manage(node):
                problem(
                    "node_code",
                    "permission_denied",
                    _("You may not manage suppliers at %(code)s.") % {"code": node.code},
                )
        for field in ("order_email", "contact_email"):
            if row.get(field):
                try:
                    validate_email(row[field])
                except ValidationError:
                    problem(
                        field,
                        "invalid_value",
                        _("“%(value)s” is not an e-mail address.") % {"value": row[field]},
                    )
        if not row.get("contact_name") and (row.get("contact_phone") or row.get("contact_email")):
            problem(
                "contact_name", "required", _("Give the contact's name with the phone or e-mail.")
            )
        if row.get("contact_phone") and not PHONE_PATTERN.match(row["contact_phone"]):
            problem(
                "contact_phone",
                "invalid_value",
                _("“%(value)s” is not a phone number.") % {"value": row["contact_phone"]},
            )

    @staticmethod
    def contact(supplier: Supplier, name: str) -> SupplierContact | None:
        wanted = name.strip().casefold()
        return next(
            (contact for contact in supplier.contacts.all() if contact.name.casefold() == wanted),
            None,
        )

    # --- applying -----------------------------------------------------------------------

    def apply_rows(self, rows: Sequence[Row]) -> list[Change]:
        codes = {row["code"].upper() for row in rows}
        for code in codes:  # read afresh: an earlier chunk or a lost run may have written them
            self.suppliers.pop(code, None)
        self.load_suppliers(codes)
        return [self.apply_row(row) for row in rows]

    def apply_row(self, row: Row) -> Change:
        code = row["code"].upper()
        supplier = self.suppliers[code]
        if supplier is None:
            node = self.node(row["node_code"])
            assert node is not None, "checked rows resolve"
            values = {name: row.get(name, DEFAULTS[name]) for name in KEPT_WHEN_BLANK}
            supplier = create_supplier(
                SupplierInput(
                    code=code,
                    name=row["name"],
                    node_id=node.pk,
                    currency=row["currency"],
                    tax_id=row.get("tax_id") or "",
                    order_email=row.get("order_email") or "",
                    **values,
                ),
                actor=self.actor,
            )
            self.add_contact(supplier, row, has_primary=False)
            return Change(row.number, CREATED, code)
        changes: dict[str, Any] = {}
        if row["name"] != supplier.name:
            changes["name"] = row["name"]
        if row["currency"] != supplier.currency:
            changes["currency"] = row["currency"]
        for name in TEXT_FIELDS:
            if name in row.raw and (row.get(name) or "") != getattr(supplier, name):
                changes[name] = row.get(name) or ""
        for name in KEPT_WHEN_BLANK:
            if row.has(name) and row[name] != getattr(supplier, name):
                changes[name] = row[name]
        fields = list(changes)
        if changes:
            update_supplier(supplier, changes, actor=self.actor, reason=str(_("Supplier import")))
        contacts = list(supplier.contacts.all())
        contact = self.contact(supplier, row["contact_name"]) if row.get("contact_name") else None
        if row.get("contact_name") and contact is None:
            self.add_contact(supplier, row, has_primary=any(c.is_primary for c in contacts))
            fields.append("contact_name")
        elif contact is not None:
            fields += self.update_contact(contact, row)
        return Change(row.number, UPDATED if fields else UNCHANGED, code, fields)

    def update_contact(self, contact: SupplierContact, row: Row) -> list[str]:
        """Apply the row's phone and e-mail to a known contact (a blank cell leaves them);
        the columns changed."""
        changes = {
            attribute: row[column]
            for column, attribute in CONTACT_COLUMNS
            if row.get(column) and row[column] != getattr(contact, attribute)
        }
        if changes:
            update_contact(contact, actor=self.actor, reason=str(_("Supplier import")), **changes)
        return [column for column, attribute in CONTACT_COLUMNS if attribute in changes]

    def add_contact(self, supplier: Supplier, row: Row, *, has_primary: bool) -> None:
        if not row.get("contact_name"):
            return
        add_contact(
            supplier,
            ContactInput(
                name=row["contact_name"],
                phone=row.get("contact_phone") or "",
                email=row.get("contact_email") or "",
                is_primary=not has_primary,
            ),
            actor=self.actor,
        )

    # --- exporting ----------------------------------------------------------------------

    def export(self) -> Iterator[dict[str, Any]]:
        """The suppliers the actor may manage, with their primary (else first) contact."""
        suppliers = selectors.suppliers_for(self.actor, PROCUREMENT_MANAGE).prefetch_related(
            Prefetch(
                "contacts", queryset=SupplierContact.objects.order_by("-is_primary", "name", "id")
            )
        )
        for supplier in suppliers:
            if not self.may_manage(supplier.node):
                continue  # defined above the actor's scope: visible, not theirs to change
            contact = next(iter(supplier.contacts.all()), None)
            yield {
                "code": supplier.code,
                "name": supplier.name,
                "node_code": supplier.node.code,
                "currency": supplier.currency,
                "tax_id": supplier.tax_id,
                "order_email": supplier.order_email,
                **{name: getattr(supplier, name) for name in KEPT_WHEN_BLANK},
                "contact_name": contact.name if contact else "",
                "contact_phone": contact.phone if contact else "",
                "contact_email": contact.email if contact else "",
            }
