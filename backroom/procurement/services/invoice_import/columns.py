"""The columns of an invoice file: what each means and the headers (English and Chinese) it
may have. Headers compare without case, spaces or punctuation."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy


def header_key(name: str) -> str:
    """A header as compared: case, spaces and punctuation ignored (`PO Line No.` = `polineno`)."""
    return re.sub(r"[\s_\-./#()（）:：]+", "", name).casefold()


@dataclass(frozen=True)
class Column:
    key: str
    label: Promise
    names: tuple[str, ...]  # accepted headers, the English first and the Chinese last
    required: bool = False


COLUMNS: tuple[Column, ...] = (
    Column(
        "supplier_code",
        gettext_lazy("supplier code"),
        ("supplier code", "supplier", "供应商编码"),
        True,
    ),
    Column(
        "invoice_number",
        gettext_lazy("invoice number"),
        ("invoice number", "invoice no", "发票号码", "发票号"),
        True,
    ),
    Column("invoice_date", gettext_lazy("invoice date"), ("invoice date", "发票日期"), True),
    Column(
        "purchase_order_number",
        gettext_lazy("PO number"),
        ("PO number", "PO no", "purchase order number", "purchase order", "采购单号"),
        True,
    ),
    Column(
        "po_line_no",
        gettext_lazy("PO line no"),
        ("PO line no", "PO line number", "PO line", "line no", "行号"),
    ),
    Column("item_sku", gettext_lazy("item SKU"), ("item SKU", "SKU", "物料编码")),
    Column("quantity", gettext_lazy("quantity"), ("quantity", "qty", "数量"), True),
    Column("unit_price", gettext_lazy("unit price"), ("unit price", "price", "单价"), True),
    Column("amount", gettext_lazy("amount"), ("amount", "金额")),
    Column("tax", gettext_lazy("tax"), ("tax", "tax amount", "税额")),
    Column("currency", gettext_lazy("currency"), ("currency", "币种")),
)
BY_HEADER = {header_key(name): column for column in COLUMNS for name in column.names}
BY_KEY = {column.key: column for column in COLUMNS}
INVOICE_FIELDS = ("invoice_date", "purchase_order_number", "currency", "tax")


def accepted_headers(column: Column) -> str:
    return ", ".join(column.names)
