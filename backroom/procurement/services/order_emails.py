"""Purchase orders to the supplier by e-mail: the PO's PDF (documents.py) attached, one message
per supplier address.

The outbox consumer `plan_purchase_order_emails` (subscribed in handlers.py to
`procurement.po.sent`, run by the worker after the send committed) records one
`PurchaseOrderEmail` per address: the supplier's order e-mail when it has one (the address it
takes orders at), else every contact's e-mail address, the primary contact first. A supplier
without any address gets one `skipped` row with no recipient, shown on the PO page.

Idempotent twice over, like the approval notifications: the outbox records the consumption (a
replayed event is skipped) and a row is unique per PO and address. Each row is then sent by
`send_purchase_order_email` after that commit: claimed (`pending` → `sending`) before the
message goes out, so a retried job never sends it twice. A failure is kept on the row
(`failed`, with the error) and not retried automatically; `resend_purchase_order_email`
(procurement.manage at the store, audited) puts failed and skipped deliveries back to
`pending`, adds addresses the supplier gained since, and they go out after its commit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import translation
from django.utils.translation import gettext as _

from backroom.events.models import OutboxEvent
from backroom.kernel import clock
from backroom.procurement.choices import PurchaseOrderEmailStatus, PurchaseOrderStatus
from backroom.procurement.documents import (
    document_language,
    pdf_filename,
    render_purchase_order_pdf,
)
from backroom.procurement.exceptions import (
    NoEmailRecipient,
    NothingToResend,
    PurchaseOrderStateError,
)
from backroom.procurement.models import PurchaseOrder, PurchaseOrderEmail, Supplier
from backroom.procurement.permissions import PROCUREMENT_MANAGE
from backroom.procurement.services.common import audit, require_at

logger = logging.getLogger(__name__)

Status = PurchaseOrderEmailStatus
# A PO in these states went to the supplier (or was on its way): it may be e-mailed.
EMAILABLE_STATUSES = (
    PurchaseOrderStatus.SENT,
    PurchaseOrderStatus.PARTIALLY_RECEIVED,
    PurchaseOrderStatus.RECEIVED,
    PurchaseOrderStatus.CLOSED,
)
RETRYABLE = (Status.FAILED, Status.SKIPPED)


def email_recipients(supplier: Supplier) -> list[str]:
    """Where the supplier's POs go: its order e-mail, else its contacts' addresses (primary
    first); each address once, whatever its case."""
    if supplier.order_email.strip():
        candidates = [supplier.order_email]
    else:
        candidates = list(
            supplier.contacts.exclude(email="")
            .order_by("-is_primary", "name", "id")
            .values_list("email", flat=True)
        )
    seen: set[str] = set()
    found = []
    for address in candidates:
        cleaned = address.strip()
        if cleaned and cleaned.casefold() not in seen:
            seen.add(cleaned.casefold())
            found.append(cleaned)
    return found


# --- from the event to the rows ----------------------------------------------------------------


def plan_purchase_order_emails(outbox_event: OutboxEvent) -> list[PurchaseOrderEmail]:
    """The outbox consumer of `procurement.po.sent`: one row per address (one `skipped` row
    when there is none); the messages go out after this commits. A replay creates and sends
    nothing new; a PO cancelled before the worker came to it is not e-mailed."""
    order = (
        PurchaseOrder.objects.select_for_update(of=("self",))  # against a resend meanwhile
        .select_related("supplier")
        .filter(pk=outbox_event.payload["purchase_order_id"])
        .first()
    )
    if order is None or order.status not in EMAILABLE_STATUSES:
        return []
    recipients = email_recipients(order.supplier)
    created = []
    for recipient in recipients or [""]:
        try:
            with transaction.atomic():
                created.append(
                    PurchaseOrderEmail.objects.create(
                        purchase_order=order,
                        recipient=recipient,
                        status=Status.PENDING if recipient else Status.SKIPPED,
                        event_id=outbox_event.event_id,
                    )
                )
        except IntegrityError:
            continue  # planned before (a replay, or a resend got there first)
    _send_after_commit([row.pk for row in created if row.status == Status.PENDING])
    return created


def _send_after_commit(email_ids: list[int]) -> None:
    if email_ids:
        transaction.on_commit(lambda: _queue(email_ids), robust=True)


def _queue(email_ids: list[int]) -> None:
    from backroom.procurement.jobs import send_purchase_order_emails

    send_purchase_order_emails(email_ids)


# --- the message -------------------------------------------------------------------------------


def render_email(order: PurchaseOrder, language: str) -> tuple[str, str]:
    """Subject and plain-text body, in the supplier's language."""
    store = order.store
    buyer = store.legal_entity.node.name if store.legal_entity_id else store.node.name
    with translation.override(language):
        subject = _("Purchase order %(number)s from %(buyer)s") % {
            "number": order.number,
            "buyer": buyer,
        }
        address = ", ".join(part for part in (store.node.name, store.address, store.city) if part)
        lines = [
            _("Dear %(supplier)s,") % {"supplier": order.supplier.name},
            "",
            _("Please find attached our purchase order %(number)s.") % {"number": order.number},
            "",
            _("Deliver to: %(address)s") % {"address": address},
        ]
        if order.expected_date:
            lines.append(
                _("Expected delivery: %(date)s") % {"date": order.expected_date.isoformat()}
            )
        lines += [
            _("Total: %(total)s %(currency)s")
            % {"total": f"{order.total_amount:,.2f}", "currency": order.currency},
            "",
            _("Please quote the order number on your delivery note and invoice."),
            "",
            buyer,
        ]
    return " ".join(subject.split())[:200], "\n".join(lines) + "\n"


def send_purchase_order_email(email_id: int, *, documents: dict[Any, bytes] | None = None) -> bool:
    """Send one row's e-mail unless it was sent (or claimed) already; True when sent.

    `documents` caches the rendered PDFs of a batch (per PO and language).
    """
    claimed = PurchaseOrderEmail.objects.filter(pk=email_id, status=Status.PENDING).update(
        status=Status.SENDING, attempts=F("attempts") + 1, updated_at=clock.now()
    )
    if not claimed:
        return False
    email = PurchaseOrderEmail.objects.select_related(
        "purchase_order__supplier",
        "purchase_order__store__node",
        "purchase_order__store__legal_entity__node",
    ).get(pk=email_id)
    order = email.purchase_order
    rows = PurchaseOrderEmail.objects.filter(pk=email_id)
    if order.status not in EMAILABLE_STATUSES:
        rows.update(
            status=Status.SKIPPED,
            error=f"The order is {order.status}: not e-mailed.",
            updated_at=clock.now(),
        )
        return False
    try:
        language = document_language(order)
        cache = documents if documents is not None else {}
        key = (order.pk, language)
        if key not in cache:
            cache[key] = render_purchase_order_pdf(order, language=language)
        subject, body = render_email(order, language)
        message = EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [email.recipient])
        message.attach(pdf_filename(order), cache[key], "application/pdf")
        message.send()
    except Exception as error:
        logger.exception("purchase order %s: e-mail to %s failed", order.number, email.recipient)
        rows.update(
            status=Status.FAILED,
            error=(str(error) or repr(error))[:2000],
            updated_at=clock.now(),
        )
        return False
    rows.update(status=Status.SENT, sent_at=clock.now(), error="", updated_at=clock.now())
    return True


def send_purchase_order_emails_now(email_ids: Iterable[int]) -> int:
    """Send the given rows' e-mails (each at most once), one PDF per PO; how many were sent."""
    documents: dict[Any, bytes] = {}
    return sum(send_purchase_order_email(pk, documents=documents) for pk in email_ids)


def send_pending_purchase_order_emails(limit: int = 200) -> int:
    """The sweep: rows whose job was lost (the worker was down after the commit)."""
    ids = list(
        PurchaseOrderEmail.objects.filter(status=Status.PENDING)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    return send_purchase_order_emails_now(ids)


# --- by hand -----------------------------------------------------------------------------------


def resend_purchase_order_email(order: PurchaseOrder, *, actor: Any) -> list[PurchaseOrderEmail]:
    """E-mail a sent PO again where it did not go out: failed and skipped deliveries go back to
    `pending`, and addresses the supplier gained since get one; sent after the commit
    (procurement.manage at the store). 409 `purchase_order_state` for a PO that was not sent
    (or was cancelled), 422 `no_email_recipient` when the supplier still has no address, 409
    `nothing_to_resend` when every address has its e-mail (or is about to)."""
    require_at(actor, PROCUREMENT_MANAGE, order.store.node)
    with transaction.atomic():
        order = (
            PurchaseOrder.objects.select_for_update(of=("self",))
            .select_related("supplier", "store__node")
            .get(pk=order.pk)
        )
        if order.status not in EMAILABLE_STATUSES:
            raise PurchaseOrderStateError(
                _("Purchase order %(number)s is %(status)s: it is not e-mailed.")
                % {"number": order.number, "status": order.get_status_display()},
                details={"status": order.status, "expected": list(EMAILABLE_STATUSES)},
            )
        recipients = email_recipients(order.supplier)
        if not recipients:
            raise NoEmailRecipient(supplier=order.supplier.code)
        existing = {row.recipient.casefold(): row for row in order.emails.all()}
        retry = [
            existing[address.casefold()]
            for address in recipients
            if address.casefold() in existing and existing[address.casefold()].status in RETRYABLE
        ]
        new = [address for address in recipients if address.casefold() not in existing]
        if not retry and not new:
            raise NothingToResend(
                _("Purchase order %(number)s was e-mailed to every address already.")
                % {"number": order.number},
                details={"recipients": recipients},
            )
        before = {row.recipient: row.status for row in retry}
        PurchaseOrderEmail.objects.filter(
            pk__in=[row.pk for row in retry], status__in=RETRYABLE
        ).update(status=Status.PENDING, error="", updated_at=clock.now())
        PurchaseOrderEmail.objects.bulk_create(
            PurchaseOrderEmail(purchase_order=order, recipient=address, status=Status.PENDING)
            for address in new
        )
        rows = list(
            order.emails.filter(
                recipient__in=[row.recipient for row in retry] + new, status=Status.PENDING
            ).order_by("id")
        )
        audit(
            order,
            "po.email.resend",
            actor,
            order.store.node,
            before={"emails": before},
            number=order.number,
            recipients=[row.recipient for row in rows],
        )
        _send_after_commit([row.pk for row in rows])
    return rows


__all__ = [
    "email_recipients",
    "plan_purchase_order_emails",
    "render_email",
    "resend_purchase_order_email",
    "send_pending_purchase_order_emails",
    "send_purchase_order_email",
    "send_purchase_order_emails_now",
]
