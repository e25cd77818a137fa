"""Purchase orders as PDF documents (采购单), for the supplier: e-mailed when a PO is sent and
downloadable from the PO page and the API.

Rendered with fpdf2 (pure Python). Supplier and item names are often Chinese, so the text uses
a CJK-capable TrueType font (TTF or TTC) embedded as a subset: `PROCUREMENT_PDF_FONT`, by
default Debian's WenQuanYi Micro Hei (`fonts-wqy-microhei`, which `make setup` installs for the
browser tests). Without that file the PDF falls back to a core PDF font (Latin only: other
characters become "?") and logs a warning, so a deployment without the font still sends its
POs. Labels are in the supplier's language when it has one, else the site's default language.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from fpdf import FPDF
from fpdf.fonts import FontFace

from backroom.procurement.models import PurchaseOrder, PurchaseOrderLine

logger = logging.getLogger(__name__)
# fontTools logs every glyph of every subset at INFO: keep the worker's log readable.
logging.getLogger("fontTools.subset").setLevel(logging.WARNING)

DEFAULT_FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
FONT_FAMILY = "po-text"
CORE_FONT_FAMILY = "helvetica"
GREY = (235, 235, 235)


def font_path() -> str:
    """The CJK-capable TTF/TTC font file the PDFs embed (`PROCUREMENT_PDF_FONT`)."""
    return str(getattr(settings, "PROCUREMENT_PDF_FONT", DEFAULT_FONT) or "")


def document_language(order: PurchaseOrder) -> str:
    """The supplier's language when it has one, else the site's default language."""
    return str(getattr(order.supplier, "language", "") or settings.LANGUAGE_CODE)


def pdf_filename(order: PurchaseOrder) -> str:
    return f"{order.number}.pdf"


def _money(value: Decimal) -> str:
    """Two decimals, or up to four when the price needs them (1.2345)."""
    places = 4 if value != value.quantize(Decimal("0.01")) else 2
    return f"{value:,.{places}f}"


def _quantity(value: Decimal) -> str:
    return f"{value.normalize():,f}"


class _OrderPdf(FPDF):
    """An A4 page with the order's number and the page count in the footer."""

    def __init__(self, *, footer: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.footer_text = footer
        self.po_font = CORE_FONT_FAMILY
        self.po_unicode = False

    def clean(self, value: Any) -> str:
        """`value` as text the font can write (a core font: Latin-1, other characters "?")."""
        written = "" if value is None else str(value)
        if not self.po_unicode:
            written = written.encode("latin-1", "replace").decode("latin-1")
        return written

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.po_font, size=8)
        self.set_text_color(110)
        page = _("Page %(page)s of %(pages)s") % {"page": self.page_no(), "pages": "{nb}"}
        self.cell(0, 5, self.clean(f"{self.footer_text} · {page}"), align="C")
        self.set_text_color(0)


def _use_font(pdf: _OrderPdf) -> None:
    """The configured CJK font, else the core font (with a warning)."""
    path = font_path()
    if path and Path(path).is_file():
        try:
            pdf.add_font(FONT_FAMILY, "", path)
        except Exception:  # a broken or unsupported file: still send the PO
            logger.warning(
                "PROCUREMENT_PDF_FONT %s could not be loaded: purchase-order PDFs use a core "
                "font, without Chinese characters.",
                path,
                exc_info=True,
            )
        else:
            pdf.po_font, pdf.po_unicode = FONT_FAMILY, True
            return
    else:
        logger.warning(
            "PROCUREMENT_PDF_FONT %s is missing: purchase-order PDFs use a core font, without "
            "Chinese characters (install fonts-wqy-microhei or point the setting at a CJK "
            "TTF/TTC font).",
            path or "(empty)",
        )
    pdf.po_font, pdf.po_unicode = CORE_FONT_FAMILY, False


def _load(order: PurchaseOrder) -> tuple[PurchaseOrder, list[PurchaseOrderLine]]:
    order = PurchaseOrder.objects.select_related(
        "supplier", "store__node", "store__legal_entity__node"
    ).get(pk=order.pk)
    lines = list(order.lines.select_related("item", "supplier_item").order_by("line_no"))
    return order, lines


def render_purchase_order_pdf(
    order: PurchaseOrder, *, language: str | None = None, compress: bool = True
) -> bytes:
    """The PO as a PDF (bytes): who orders and where to deliver, the supplier, dates, lines
    with our item name and the supplier's SKU, total, note. `compress=False` keeps the page
    content readable (tests)."""
    order, lines = _load(order)
    with translation.override(language or document_language(order)):
        return _render(order, lines, compress=compress)


def _render(order: PurchaseOrder, lines: list[PurchaseOrderLine], *, compress: bool) -> bytes:
    store = order.store
    entity = store.legal_entity
    supplier = order.supplier
    title = _("Purchase order")
    pdf = _OrderPdf(footer=f"{order.number} · {store.node.name}")
    _use_font(pdf)
    text = pdf.clean
    family = pdf.po_font
    pdf.set_compression(compress)
    pdf.set_title(text(f"{title} {order.number}"))
    pdf.set_subject(text(supplier.name))
    pdf.set_author(text(entity.node.name if entity else store.node.name))
    pdf.set_creator("Backroom")
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.add_page()

    # Title and number.
    pdf.set_font(family, size=18)
    pdf.cell(pdf.epw / 2, 10, text(title))
    pdf.set_font(family, size=13)
    pdf.cell(pdf.epw / 2, 10, text(order.number), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)

    # Who orders from whom, and where the goods go.
    pdf.set_font(family, size=9)
    buyer = [store.node.name, store.address, store.city]
    if entity is not None:
        buyer.append(f"{_('Buyer')}: {entity.node.name}")
        if entity.tax_id:
            buyer.append(f"{_('Tax id')}: {entity.tax_id}")
    seller = [f"{supplier.name} ({supplier.code})"]
    if supplier.tax_id:
        seller.append(f"{_('Tax id')}: {supplier.tax_id}")
    heading = FontFace(emphasis="", fill_color=GREY)
    with pdf.table(
        col_widths=(1, 1),
        text_align="LEFT",
        headings_style=heading,
        line_height=5,
        padding=1.5,
    ) as table:
        table.row([text(_("Supplier")), text(_("Ship to"))])
        table.row(
            [
                text("\n".join(part for part in seller if part)),
                text("\n".join(part for part in buyer if part)),
            ]
        )
    pdf.ln(3)

    facts = [
        (_("Order date"), order.order_date.isoformat()),
        (_("Expected delivery"), order.expected_date.isoformat() if order.expected_date else "-"),
        (_("Currency"), order.currency),
        (_("Payment terms"), _("%(days)s days") % {"days": supplier.payment_terms_days}),
    ]
    with pdf.table(
        text_align="CENTER", headings_style=heading, line_height=5, padding=1.5
    ) as table:
        table.row([text(label) for label, _value in facts])
        table.row([text(value) for _label, value in facts])
    pdf.ln(4)

    # The lines.
    columns = [
        (_("No."), 7, "RIGHT"),
        (_("Item"), 41, "LEFT"),
        (_("Quantity"), 12, "RIGHT"),
        (_("Unit"), 10, "LEFT"),
        (_("Unit price"), 14, "RIGHT"),
        (_("Amount"), 16, "RIGHT"),
    ]
    with pdf.table(
        col_widths=tuple(width for _label, width, _align in columns),
        text_align=tuple(align for _label, _width, align in columns),
        headings_style=heading,
        line_height=5,
        padding=1.5,
    ) as table:
        table.row([text(label) for label, _width, _align in columns])
        for line in lines:
            name = line.item.name
            if line.supplier_item.supplier_sku:
                name += f"\n{_('Supplier SKU')}: {line.supplier_item.supplier_sku}"
            table.row(
                [
                    str(line.line_no),
                    text(name),
                    _quantity(line.quantity),
                    text(line.unit),
                    _money(line.unit_price),
                    _money(line.amount),
                ]
            )
    pdf.ln(2)
    pdf.set_font(family, size=12)
    total = f"{_('Total')}: {_money(order.total_amount)} {order.currency}"
    pdf.cell(0, 8, text(total), align="R", new_x="LMARGIN", new_y="NEXT")

    if order.note:
        pdf.ln(2)
        pdf.set_font(family, size=10)
        pdf.cell(0, 6, text(_("Notes")), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(family, size=9)
        pdf.multi_cell(0, 5, text(order.note), new_x="LMARGIN", new_y="NEXT")

    pdf.ln(4)
    pdf.set_font(family, size=9)
    pdf.multi_cell(
        0,
        5,
        text(_("Please quote the order number on your delivery note and invoice.")),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    return bytes(pdf.output())


__all__ = [
    "DEFAULT_FONT",
    "document_language",
    "font_path",
    "pdf_filename",
    "render_purchase_order_pdf",
]
