"""Reactions to events: operations post to the books (from the outbox, after commit, in the
worker); posted journals are mirrored into secondary books (in process)."""

from backroom.events.models import OutboxEvent
from backroom.events.services import subscribe
from backroom.finance.events import FinanceEvent
from backroom.finance.services.automatic import DAILY_REASONS, post_invoice, post_stock_posting
from backroom.finance.services.mirror import mirror_journal
from backroom.inventory.events import InventoryEvent
from backroom.procurement.events import ProcurementEvent


@subscribe(InventoryEvent.STOCK_POSTED, is_async=True, name="finance.post_stock")
def post_stock(outbox_event: OutboxEvent) -> None:
    """A journal per stock posting; sales depletion alone waits for the day's journal."""
    reasons = set(outbox_event.payload.get("reasons") or ["unknown"])
    if reasons <= set(DAILY_REASONS):
        return
    post_stock_posting(outbox_event.payload["posting_id"])


@subscribe(ProcurementEvent.INVOICE_MATCHED, is_async=True, name="finance.post_invoice")
def post_payable_invoice(outbox_event: OutboxEvent) -> None:
    """A payable invoice: goods received not invoiced, price variance and VAT to payables."""
    post_invoice(outbox_event.payload["invoice_id"])


@subscribe(FinanceEvent.JOURNAL_POSTED, is_async=False, name="finance.mirror")
def mirror_posted_journal(outbox_event: OutboxEvent) -> None:
    """In the posting's transaction: a primary-book journal is mirrored into the entity's
    secondary books (a missing account mapping parks the mirror, never the posting)."""
    mirror_journal(outbox_event.payload["journal_id"])
