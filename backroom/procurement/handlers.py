"""Reactions from the outbox (after commit, in the worker): a sent PO goes to the supplier as a
PDF by e-mail (see services/order_emails.py)."""

from backroom.events.models import OutboxEvent
from backroom.events.services import subscribe
from backroom.procurement.events import ProcurementEvent
from backroom.procurement.services.order_emails import plan_purchase_order_emails


@subscribe(ProcurementEvent.PO_SENT, is_async=True, name="procurement.email_purchase_order")
def email_purchase_order(outbox_event: OutboxEvent) -> None:
    """One e-mail per supplier address, each sent once (or one `skipped` row without any)."""
    plan_purchase_order_emails(outbox_event)
