"""A purchase order as a PDF and by e-mail: the document (number, lines, Chinese names, the
core-font fallback, localised labels), the e-mails a sent PO queues through the outbox (the
right addresses, once however often the event or the job runs, skipped without an address,
failed then resent), and who may download the PDF or resend the e-mail on the API and the
pages (anonymous, no permission, permission, another store)."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
from pathlib import Path
from smtplib import SMTPException
from typing import Any

import pytest
from django.core import mail
from django.core.mail.backends import locmem
from django.utils import translation
from pypdf import PdfReader

from backroom.audit.models import AuditEntry
from backroom.events.models import EventConsumption, OutboxEvent
from backroom.events.services import dispatch_event, dispatch_outbox
from backroom.inventory.tests.conftest import make_item
from backroom.kernel import clock
from backroom.kernel.actors import SYSTEM
from backroom.procurement import documents, services
from backroom.procurement.exceptions import (
    NoEmailRecipient,
    NothingToResend,
    PurchaseOrderStateError,
)
from backroom.procurement.models import PurchaseOrder, PurchaseOrderEmail
from backroom.procurement.services import order_emails
from backroom.procurement.tests.conftest import D, World
from backroom.testing.factories import client_for, make_user
from backroom.testing.matrix import assert_matrix, client_of

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2025, 3, 10, 1, 0, tzinfo=dt.UTC)  # Monday 09:00 in Shanghai
API = "/api/v1/procurement"
ORDERS = "orders@fresh.example"
HAS_CJK_FONT = Path(documents.DEFAULT_FONT).is_file()
needs_cjk_font = pytest.mark.skipif(
    not HAS_CJK_FONT, reason="fonts-wqy-microhei is not installed (make setup installs it)"
)


@pytest.fixture(autouse=True)
def _clock():
    with clock.at(NOW):
        yield


@pytest.fixture
def after_commit(django_capture_on_commit_callbacks):
    """Run a block, then what its commit would trigger: the outbox dispatch (the consumer) and
    the e-mail job it queues, as the worker would."""

    def run(action: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            result = action()
        with django_capture_on_commit_callbacks(execute=True):
            dispatch_outbox()
        return result

    return run


@pytest.fixture
def people(tree):
    return {
        "staff_a": make_user("store_staff", tree.store_a),
        "manager_a": make_user("store_manager", tree.store_a),
        "manager_b": make_user("store_manager", tree.store_b),
        "tech_a": make_user("technician", tree.store_a),
        "buyer": make_user("buyer", tree.group),
        "buyer_b": make_user("buyer", tree.store_b),
        "ops_b": make_user("hq_operations", tree.store_b),
    }


def with_order_email(world: World, address: str = ORDERS) -> None:
    services.update_supplier(world.supplier, {"order_email": address}, actor=SYSTEM)
    world.supplier.refresh_from_db()


def approved_po(world: World, note: str = "") -> PurchaseOrder:
    order = services.create_purchase_order(
        world.store,
        world.supplier,
        [
            services.PurchaseOrderLineInput(world.tomato.pk, D(10)),
            services.PurchaseOrderLineInput(world.oil.pk, D(12)),
        ],
        actor=SYSTEM,
        note=note,
    )
    return services.approve_purchase_order(order, actor=SYSTEM)


def sent_po(world: World, note: str = "") -> PurchaseOrder:
    return services.send_purchase_order(approved_po(world, note), actor=SYSTEM)


def refuse_smtp(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Any, messages: Any) -> int:
        raise SMTPException("421 Service not available")

    monkeypatch.setattr(locmem.EmailBackend, "send_messages", refuse)


def email_states() -> list[tuple[Any, ...]]:
    return list(
        PurchaseOrderEmail.objects.order_by("pk").values_list(
            "pk", "recipient", "status", "attempts"
        )
    )


def pdf_text(data: bytes) -> str:
    """The text shown on the PDF's pages, read back with pypdf (through the fonts' ToUnicode)."""
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


# --- the document ------------------------------------------------------------------------------


def test_the_pdf_shows_the_order(world):
    order = sent_po(world, note="Side door, before 10:00")
    data = documents.render_purchase_order_pdf(order, compress=False)
    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    assert text.count(order.number) >= 2  # the header and the footer
    for expected in [
        "Purchase order",
        "Fresh Foods (FRESH)",
        order.store.node.name,
        "Shanghai",
        "Buyer: Entity CN-CO",  # the legal entity
        "2025-03-10",  # order date
        order.expected_date.isoformat(),
        "Tomato",
        "Oil",
        "case",
        "bottle",
        "80.00",
        "800.00",
        "45.50",
        "546.00",
        "Total: 1,346.00 CNY",
        "Side door, before 10:00",
    ]:
        assert expected in text, (expected, text)
    assert "Page 1 of 1" in text.replace("\n", "")  # the page count is written apart
    assert documents.pdf_filename(order) == f"{order.number}.pdf"
    # Compressed by default (what the e-mail and the download carry).
    compressed = documents.render_purchase_order_pdf(order)
    assert compressed.startswith(b"%PDF-") and b"/Filter /FlateDecode" in compressed
    assert b"Tomato" not in compressed


@needs_cjk_font
def test_chinese_names_render_with_the_cjk_font(world, settings):
    settings.PROCUREMENT_PDF_FONT = documents.DEFAULT_FONT
    services.update_supplier(world.supplier, {"name": "上海鲜丰蔬菜有限公司"}, actor=SYSTEM)
    tofu = make_item("TOFU", "kg", "food", name="老豆腐")
    services.set_supplier_item(
        world.supplier,
        services.SupplierItemInput(item_id=tofu.pk, purchase_unit="kg", supplier_sku="豆-01"),
        actor=SYSTEM,
    )
    order = services.create_purchase_order(
        world.store,
        world.supplier,
        [services.PurchaseOrderLineInput(tofu.pk, D(5), D("6.5"))],
        actor=SYSTEM,
        note="请走后门",
    )
    data = documents.render_purchase_order_pdf(order, compress=False)
    assert b"WenQuanYi" in data and b"/FontFile2" in data  # the font's subset is embedded
    text = pdf_text(data)
    for expected in ["上海鲜丰蔬菜有限公司 (FRESH)", "老豆腐", "豆-01", "请走后门", order.number]:
        assert expected in text, (expected, text)


def test_without_the_font_a_core_font_is_used_with_a_warning(world, settings, caplog):
    settings.PROCUREMENT_PDF_FONT = "/nonexistent/font.ttc"
    services.update_supplier(world.supplier, {"name": "鲜丰 Fresh"}, actor=SYSTEM)
    order = approved_po(world)
    with caplog.at_level(logging.WARNING, logger="backroom.procurement.documents"):
        data = documents.render_purchase_order_pdf(order, compress=False)
    assert data.startswith(b"%PDF-") and b"/FontFile2" not in data
    assert "PROCUREMENT_PDF_FONT /nonexistent/font.ttc is missing" in caplog.text
    text = pdf_text(data)
    assert order.number in text
    assert "?? Fresh (FRESH)" in text  # Chinese replaced, Latin kept


def test_labels_are_in_the_site_language(world, settings):
    settings.LANGUAGE_CODE = "zh-hans"  # the supplier has no language of its own
    order = approved_po(world)
    assert documents.document_language(order) == "zh-hans"
    with translation.override("zh-hans"):
        total, quantity = translation.gettext("Total"), translation.gettext("Quantity")
    assert total != "Total"  # the catalogue has them
    text = pdf_text(documents.render_purchase_order_pdf(order, compress=False))
    if HAS_CJK_FONT:
        assert f"{total}: 1,346.00 CNY" in text and quantity in text
    english = pdf_text(documents.render_purchase_order_pdf(order, language="en", compress=False))
    assert "Total: 1,346.00 CNY" in english


# --- e-mail after sending ------------------------------------------------------------------------


def test_sending_a_po_emails_its_pdf_once(world, after_commit):
    with_order_email(world)
    mail.outbox.clear()
    order = after_commit(lambda: sent_po(world))
    [message] = mail.outbox
    assert message.to == [ORDERS]
    assert order.number in message.subject
    assert order.number in message.body and "1,346.00 CNY" in message.body
    [(filename, content, mimetype)] = message.attachments
    assert (filename, mimetype) == (f"{order.number}.pdf", "application/pdf")
    assert content.startswith(b"%PDF-")
    email = PurchaseOrderEmail.objects.get()
    assert (email.purchase_order, email.recipient, email.status, email.attempts) == (
        order,
        ORDERS,
        "sent",
        1,
    )
    assert email.sent_at == NOW and email.error == ""
    event = OutboxEvent.objects.get(event_type="procurement.po.sent")
    assert email.event_id == event.event_id

    # The dispatch retried: skipped by the consumption record.
    OutboxEvent.objects.filter(pk=event.pk).update(dispatched_at=None)
    after_commit(lambda: dispatch_outbox())
    after_commit(lambda: dispatch_event(OutboxEvent.objects.get(pk=event.pk)))
    # Even with the consumption record lost, a row is unique per PO and address.
    EventConsumption.objects.filter(event=event).delete()
    after_commit(lambda: dispatch_event(OutboxEvent.objects.get(pk=event.pk)))
    assert after_commit(lambda: order_emails.plan_purchase_order_emails(event)) == []
    # The job retried, and the sweep: the row is claimed and sent already.
    assert order_emails.send_purchase_order_email(email.pk) is False
    assert order_emails.send_pending_purchase_order_emails() == 0
    assert len(mail.outbox) == 1
    assert email_states() == [(email.pk, ORDERS, "sent", 1)]


def test_nothing_is_emailed_inside_the_sending_transaction(world):
    """The test transaction never commits: the e-mail belongs to the worker, after commit."""
    with_order_email(world)
    mail.outbox.clear()
    sent_po(world)
    assert mail.outbox == [] and not PurchaseOrderEmail.objects.exists()


def test_without_an_order_email_the_contacts_get_it(world, after_commit):
    for name, email, primary in [
        ("Ms Li", "li@fresh.example", False),
        ("Mr Wang", "wang@fresh.example", True),
        ("Dispatch", "", False),
        ("Ms Li (again)", "LI@fresh.example", False),
    ]:
        services.add_contact(
            world.supplier,
            services.ContactInput(name=name, email=email, is_primary=primary),
            actor=SYSTEM,
        )
    assert order_emails.email_recipients(world.supplier) == [
        "wang@fresh.example",
        "li@fresh.example",
    ]
    with_order_email(world, "")
    mail.outbox.clear()
    after_commit(lambda: sent_po(world))
    assert sorted(message.to[0] for message in mail.outbox) == [
        "li@fresh.example",
        "wang@fresh.example",
    ]
    assert all(len(message.to) == 1 for message in mail.outbox)
    assert sorted(PurchaseOrderEmail.objects.values_list("status", flat=True)) == ["sent", "sent"]
    # The supplier's order e-mail, once it has one, wins over the contacts.
    with_order_email(world)
    assert order_emails.email_recipients(world.supplier) == [ORDERS]


def test_a_supplier_without_address_is_skipped_and_shown(world, people, after_commit):
    mail.outbox.clear()
    order = after_commit(lambda: sent_po(world))
    assert mail.outbox == []
    email = PurchaseOrderEmail.objects.get()
    assert (email.recipient, email.status, email.attempts) == ("", "skipped", 0)
    page = client_of(people["buyer"]).get(f"/procurement/orders/{order.pk}/").content.decode()
    assert "no e-mail address for this supplier" in page
    assert 'data-testid="resend-email"' in page
    # Resending while the supplier still has no address is refused and changes nothing.
    before = (email_states(), AuditEntry.objects.count())
    with pytest.raises(NoEmailRecipient) as refused:
        order_emails.resend_purchase_order_email(order, actor=people["buyer"])
    assert (refused.value.code, refused.value.http_status) == ("no_email_recipient", 422)
    assert (email_states(), AuditEntry.objects.count()) == before
    # Once it has one, the resend e-mails it.
    with_order_email(world)
    after_commit(lambda: order_emails.resend_purchase_order_email(order, actor=people["buyer"]))
    [message] = mail.outbox
    assert message.to == [ORDERS]
    assert sorted(PurchaseOrderEmail.objects.values_list("recipient", "status")) == [
        ("", "skipped"),
        (ORDERS, "sent"),
    ]


def test_a_po_cancelled_before_the_worker_ran_is_not_emailed(world, after_commit):
    with_order_email(world)
    mail.outbox.clear()
    order = sent_po(world)
    after_commit(lambda: services.cancel_purchase_order(order, actor=SYSTEM, reason="Oops"))
    assert mail.outbox == [] and not PurchaseOrderEmail.objects.exists()


def test_a_failed_send_is_kept_then_resent(world, people, after_commit, monkeypatch):
    with_order_email(world)
    mail.outbox.clear()
    with monkeypatch.context() as patched:
        refuse_smtp(patched)
        order = after_commit(lambda: sent_po(world))
    email = PurchaseOrderEmail.objects.get()
    assert (email.status, email.attempts, email.sent_at) == ("failed", 1, None)
    assert "421 Service not available" in email.error
    # The event itself is consumed: the failure stays on the row, not in the outbox.
    assert OutboxEvent.objects.get(event_type="procurement.po.sent").dispatched_at is not None
    assert order_emails.send_pending_purchase_order_emails() == 0  # not retried by itself
    page = client_of(people["buyer"]).get(f"/procurement/orders/{order.pk}/").content.decode()
    assert "421 Service not available" in page and 'data-testid="resend-email"' in page

    audits = AuditEntry.objects.filter(action="procurement.po.email.resend")
    rows = after_commit(
        lambda: order_emails.resend_purchase_order_email(order, actor=people["buyer"])
    )
    assert [row.pk for row in rows] == [email.pk]
    [message] = mail.outbox
    assert message.to == [ORDERS] and message.attachments[0][2] == "application/pdf"
    email.refresh_from_db()
    assert (email.status, email.attempts, email.error, email.sent_at) == ("sent", 2, "", NOW)
    entry = audits.get()
    assert entry.actor == people["buyer"] and entry.target_id == str(order.pk)
    # Everything went out: nothing to resend (409), nothing changed.
    before = (email_states(), AuditEntry.objects.count())
    with pytest.raises(NothingToResend) as refused:
        order_emails.resend_purchase_order_email(order, actor=people["buyer"])
    assert (refused.value.code, refused.value.http_status) == ("nothing_to_resend", 409)
    assert (email_states(), AuditEntry.objects.count()) == before


def test_only_a_sent_po_is_emailed_by_hand(world, people):
    with_order_email(world)
    order = approved_po(world)
    with pytest.raises(PurchaseOrderStateError):
        order_emails.resend_purchase_order_email(order, actor=people["buyer"])
    assert not PurchaseOrderEmail.objects.exists()


# --- the API -----------------------------------------------------------------------------------


def test_pdf_endpoint_matrix(world, people):
    order = sent_po(world)
    result = assert_matrix(
        "GET",
        f"{API}/purchase-orders/{order.pk}/pdf",
        allowed=people["staff_a"],
        forbidden=people["tech_a"],  # no procurement.view: the PO is out of sight
        other_scope=people["manager_b"],
        expect_forbidden=404,
        snapshot=email_states,
    )
    response = result.allowed
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{order.number}.pdf"'
    assert response.content.startswith(b"%PDF-")


def _failed_po(world: World, after_commit: Any, monkeypatch: pytest.MonkeyPatch) -> PurchaseOrder:
    with_order_email(world)
    with monkeypatch.context() as patched:
        refuse_smtp(patched)
        order = after_commit(lambda: sent_po(world))
    assert PurchaseOrderEmail.objects.get().status == "failed"
    return order


def test_resend_endpoint_matrix(
    world, people, after_commit, monkeypatch, django_capture_on_commit_callbacks
):
    order = _failed_po(world, after_commit, monkeypatch)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        result = assert_matrix(
            "POST",
            f"{API}/purchase-orders/{order.pk}/resend-email",
            allowed=people["buyer"],
            forbidden=people["manager_a"],  # sees the PO, may not manage it: 403
            other_scope=people["ops_b"],
            snapshot=email_states,
        )
        body = result.allowed.json()
        assert body["id"] == order.pk
        [email] = body["emails"]
        assert (email["recipient"], email["status"], email["error"]) == (ORDERS, "pending", "")
    assert [message.to for message in mail.outbox] == [[ORDERS]]
    detail = client_of(people["staff_a"]).get(f"{API}/purchase-orders/{order.pk}").json()
    [email] = detail["emails"]
    assert (email["recipient"], email["status"], email["attempts"]) == (ORDERS, "sent", 2)
    assert email["sent_at"] is not None
    again = client_of(people["buyer"]).post(f"{API}/purchase-orders/{order.pk}/resend-email")
    assert (again.status_code, again.json()["code"]) == (409, "nothing_to_resend")


def test_resend_endpoint_replays_an_idempotency_key(world, people, after_commit, monkeypatch):
    order = _failed_po(world, after_commit, monkeypatch)
    client = client_for(people["buyer"])
    url = f"{API}/purchase-orders/{order.pk}/resend-email"
    first = client.post(url, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post(url, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert (first.status_code, again.status_code) == (200, 200)
    assert again["Idempotent-Replayed"] == "true"
    assert json.loads(again.content) == json.loads(first.content)
    assert AuditEntry.objects.filter(action="procurement.po.email.resend").count() == 1


def test_resend_endpoint_errors(world, people):
    draft = approved_po(world)
    client = client_for(people["buyer"])
    refused = client.post(f"{API}/purchase-orders/{draft.pk}/resend-email")
    assert (refused.status_code, refused.json()["code"]) == (409, "purchase_order_state")
    sent = sent_po(world)  # no address at all
    refused = client.post(f"{API}/purchase-orders/{sent.pk}/resend-email")
    assert (refused.status_code, refused.json()["code"]) == (422, "no_email_recipient")
    assert not PurchaseOrderEmail.objects.exists()


def test_po_detail_lists_its_emails(world, people, after_commit):
    with_order_email(world)
    order = after_commit(lambda: sent_po(world))
    body = client_of(people["staff_a"]).get(f"{API}/purchase-orders/{order.pk}").json()
    assert [
        (email["recipient"], email["status"], email["attempts"], email["error"])
        for email in body["emails"]
    ] == [(ORDERS, "sent", 1, "")]
    draft = services.create_purchase_order(
        world.store,
        world.supplier,
        [services.PurchaseOrderLineInput(world.tomato.pk, D(2))],
        actor=SYSTEM,
    )
    assert (
        client_of(people["staff_a"]).get(f"{API}/purchase-orders/{draft.pk}").json()["emails"] == []
    )


# --- the pages ---------------------------------------------------------------------------------


def test_pdf_page_matrix_and_link(world, people):
    order = sent_po(world)
    result = assert_matrix(
        "GET",
        f"/procurement/orders/{order.pk}/pdf/",
        allowed=people["staff_a"],
        forbidden=people["tech_a"],
        other_scope=people["manager_b"],
        snapshot=email_states,
    )
    assert result.allowed["Content-Type"] == "application/pdf"
    assert result.allowed.content.startswith(b"%PDF-")
    for user in ("staff_a", "buyer"):
        page = client_of(people[user]).get(f"/procurement/orders/{order.pk}/").content.decode()
        assert f'href="/procurement/orders/{order.pk}/pdf/"' in page
    draft = approved_po(world)  # any PO has its PDF
    page = client_of(people["staff_a"]).get(f"/procurement/orders/{draft.pk}/").content.decode()
    assert f'href="/procurement/orders/{draft.pk}/pdf/"' in page


def test_resend_page_matrix_and_button(world, people, after_commit, monkeypatch):
    order = _failed_po(world, after_commit, monkeypatch)
    url = f"/procurement/orders/{order.pk}/"
    manager = client_of(people["manager_a"]).get(url).content.decode()
    assert 'data-testid="email-row"' in manager and "421 Service not available" in manager
    assert 'data-testid="resend-email"' not in manager  # may not manage POs
    assert 'data-testid="resend-email"' in client_of(people["buyer"]).get(url).content.decode()
    mail.outbox.clear()
    result = assert_matrix(
        "POST",
        f"/procurement/orders/{order.pk}/resend-email/",
        allowed=people["buyer"],
        forbidden=people["manager_a"],
        other_scope=people["buyer_b"],
        expect_allowed=302,
        snapshot=email_states,
    )
    assert result.allowed["Location"] == url
    assert PurchaseOrderEmail.objects.get().status == "pending"  # goes out after the commit
    assert order_emails.send_pending_purchase_order_emails() == 1  # (the sweep, here)
    assert [message.to for message in mail.outbox] == [[ORDERS]]
    page = client_of(people["buyer"]).get(url).content.decode()
    assert 'data-testid="resend-email"' not in page  # nothing left to resend
    assert 'data-status="sent"' in page
    # Resending again is refused on the page and changes nothing.
    before = (email_states(), AuditEntry.objects.count())
    refused = client_of(people["buyer"]).post(f"/procurement/orders/{order.pk}/resend-email/")
    assert refused.status_code == 409
    assert 'data-testid="form-errors"' in refused.content.decode()
    assert (email_states(), AuditEntry.objects.count()) == before
