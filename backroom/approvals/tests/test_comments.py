"""Comments with attachments: the service (who may comment, every problem at once, nothing saved
on refusal, whole effects), the API and page permission matrices, attachment downloads."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from backroom.approvals import comments, runtime
from backroom.approvals.exceptions import AttachmentRejected
from backroom.approvals.models import ApprovalHistory, ApprovalRequest, RequestAttachment
from backroom.audit.models import AuditEntry
from backroom.events.catalogue import event_types
from backroom.events.models import OutboxEvent
from backroom.kernel import clock
from backroom.kernel.exceptions import PermissionDenied, ValidationFailed
from backroom.testing.factories import client_for, make_user

pytestmark = pytest.mark.django_db

API = "/api/v1/approvals"
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 60
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 60
PDF = b"%PDF-1.7\n" + b"x" * 60


@pytest.fixture(autouse=True)
def _media(tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def jpeg(name: str = "shelf.jpg", content: bytes = JPEG) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="image/jpeg")


def pdf(name: str = "quote.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF, content_type="application/pdf")


@pytest.fixture
def staff(tree):
    return make_user("store_staff", tree.store_a, username="staff-a")


@pytest.fixture
def approval(requisition_policy, staff) -> ApprovalRequest:
    """Staff's ¥6,000 requisition, waiting for the store manager."""
    with clock.at(T0):
        return runtime.submit(
            runtime.Submission(
                "procurement.requisition", "REQ-C1", {"amount": "6000", "store": "SHA001"}
            ),
            requester=staff,
            actor=staff,
        )


@pytest.fixture
def callers(tree):
    return {
        "colleague": make_user("store_staff", tree.store_a),  # sees store A, not involved
        "other_store": make_user("store_manager", tree.store_b),  # cannot see store A
    }


def world() -> Any:
    return (
        ApprovalHistory.objects.count(),
        RequestAttachment.objects.count(),
        list(ApprovalRequest.objects.values_list("pk", "status", "updated_at")),
    )


def stored_files(settings) -> list[str]:
    from pathlib import Path

    root = Path(settings.MEDIA_ROOT)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# --- the service -------------------------------------------------------------------------------


def test_requester_comments_with_attachments_whole_effect(approval, staff, settings):
    with clock.at(T0 + dt.timedelta(hours=1)):
        entry = comments.add_comment(
            approval,
            actor=staff,
            comment="  Photo of the broken shelf and the quote.  ",
            attachments=[jpeg(), pdf("../../etc/quo\x01te.pdf")],
        )
    assert (entry.action, entry.actor, entry.comment, entry.round) == (
        "commented",
        staff,
        "Photo of the broken shelf and the quote.",
        1,
    )
    assert entry.occurred_at == T0 + dt.timedelta(hours=1)
    files = list(entry.attachments.order_by("position"))
    assert [(f.name, f.content_type, f.size, f.position) for f in files] == [
        ("shelf.jpg", "image/jpeg", len(JPEG), 0),
        ("quote.pdf", "application/pdf", len(PDF), 1),
    ]
    assert files[0].file.read() == JPEG
    assert len(stored_files(settings)) == 2
    audit = AuditEntry.objects.get(action="approvals.request.comment")
    assert (audit.actor_id, audit.after["history_id"]) == (staff.pk, entry.pk)
    assert "approvals.request.commented" in event_types()  # in the catalogue: webhooks see it
    event = OutboxEvent.objects.get(event_type="approvals.request.commented")
    assert event.payload == {
        "request_id": approval.pk,
        "document_type": "procurement.requisition",
        "document_id": "REQ-C1",
        "status": "pending",
        "round": 1,
        "actor_id": staff.pk,
        "comment_id": entry.pk,
        "attachments": 2,
    }
    approval.refresh_from_db()
    assert approval.status == "pending"  # a comment decides nothing


def test_approver_delegate_and_manager_may_comment_even_when_closed(approval, people, tree):
    task = approval.tasks.get(status="pending")
    assert task.assignee == people.store_manager
    comments.add_comment(approval, actor=people.store_manager, comment="Why so many?")
    runtime.reject(task, actor=people.store_manager, reason="Too many.")
    approval.refresh_from_db()
    assert approval.status == "rejected"
    comments.add_comment(approval, actor=people.store_manager, comment="After the fact.")
    comments.add_comment(approval, actor=people.admin, comment="HQ looked at it.")  # manage
    assert list(comments.comments_of(approval).values_list("comment", flat=True)) == [
        "Why so many?",
        "After the fact.",
        "HQ looked at it.",
    ]


def test_the_delegator_and_the_delegate_may_comment(requisition_policy, people, staff, tree):
    deputy = make_user("store_staff", tree.store_a, username="deputy")
    with clock.at(T0):
        runtime.create_delegation(
            delegator=people.store_manager,
            delegate=deputy,
            starts_at=T0 - dt.timedelta(hours=1),
            ends_at=T0 + dt.timedelta(days=3),
            actor=people.store_manager,
        )
        approval = runtime.submit(
            runtime.Submission(
                "procurement.requisition", "REQ-D", {"amount": "60", "store": "SHA001"}
            ),
            requester=staff,
            actor=staff,
        )
    assert approval.tasks.get().assignee == deputy
    comments.add_comment(approval, actor=deputy, comment="On it.")
    comments.add_comment(approval, actor=people.store_manager, comment="Thanks.")
    assert comments.comments_of(approval).count() == 2


def test_people_not_involved_may_not_comment(approval, callers, people):
    before = world()
    for actor in (callers["colleague"], callers["other_store"], people.region_manager):
        with pytest.raises(PermissionDenied):
            comments.add_comment(approval, actor=actor, comment="Hello")
    assert world() == before
    assert not OutboxEvent.objects.filter(event_type="approvals.request.commented").exists()


def test_every_problem_at_once_and_nothing_saved(approval, staff, settings):
    settings.APPROVALS_COMMENT_MAX_ATTACHMENTS = 3
    settings.APPROVALS_ATTACHMENT_MAX_BYTES = 1024 * 1024
    before = world()
    audits = AuditEntry.objects.count()
    with pytest.raises(AttachmentRejected) as caught:
        comments.add_comment(
            approval,
            actor=staff,
            comment="x" * 2001,
            attachments=[
                jpeg(),
                SimpleUploadedFile("virus.exe", b"MZ\x90\x00" * 20, "image/jpeg"),
                SimpleUploadedFile("empty.png", b"", "image/png"),
                jpeg("huge.jpg", JPEG + b"\x00" * (1024 * 1024)),
            ],
        )
    error = caught.value
    assert (error.code, error.http_status) == ("attachment_rejected", 422)
    assert sorted(error.errors) == [
        "attachments",
        "attachments.1",
        "attachments.2",
        "attachments.3",
        "comment",
    ]
    assert [(p["field"], p["code"]) for p in error.details["problems"]] == [
        ("attachments", "too_many_attachments"),
        ("attachments.1", "attachment_type"),
        ("attachments.2", "attachment_empty"),
        ("attachments.3", "attachment_too_large"),
    ]
    assert "virus.exe" in error.errors["attachments.1"][0]
    assert world() == before
    assert AuditEntry.objects.count() == audits
    assert stored_files(settings) == []


def test_an_empty_comment_without_files_is_refused(approval, staff):
    before = world()
    with pytest.raises(ValidationFailed) as caught:
        comments.add_comment(approval, actor=staff, comment="   ")
    assert caught.value.code == "invalid"
    assert list(caught.value.errors) == ["comment"]
    assert world() == before


def test_a_file_alone_is_a_comment(approval, staff):
    entry = comments.add_comment(approval, actor=staff, attachments=[jpeg()])
    assert (entry.comment, entry.attachments.count()) == ("", 1)


def test_a_failed_transaction_leaves_no_file(approval, staff, settings, monkeypatch):
    def boom(**kwargs: Any) -> None:
        raise RuntimeError("audit down")

    monkeypatch.setattr(comments, "record_audit", boom)
    before = world()
    with pytest.raises(RuntimeError):
        comments.add_comment(approval, actor=staff, comment="x", attachments=[jpeg(), pdf()])
    assert world() == before
    assert stored_files(settings) == []


# --- API ---------------------------------------------------------------------------------------


def post_comment(client: Client, approval: ApprovalRequest, **data: Any) -> Any:
    return client.post(f"{API}/requests/{approval.pk}/comments", data)


def test_api_comment_matrix(approval, staff, callers, tree):
    url_data = {"comment": "See the photo", "attachments": [jpeg()]}
    before = world()
    events = OutboxEvent.objects.count()
    anonymous = post_comment(Client(), approval, **url_data)
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "not_authenticated")
    forbidden = post_comment(
        client_for(callers["colleague"]), approval, **url_data | {"attachments": [jpeg()]}
    )
    assert (forbidden.status_code, forbidden.json()["code"]) == (403, "permission_denied")
    other = post_comment(
        client_for(callers["other_store"]), approval, comment="x", attachments=[jpeg()]
    )
    assert (other.status_code, other.json()["code"]) == (404, "not_found")
    assert world() == before and OutboxEvent.objects.count() == events
    allowed = post_comment(
        client_for(staff), approval, comment="See the photo", attachments=[jpeg(), pdf()]
    )
    assert allowed.status_code == 201, allowed.content
    body = allowed.json()
    entry = ApprovalHistory.objects.get(action="commented")
    assert body["id"] == entry.pk
    assert (body["request_id"], body["author_id"], body["comment"], body["round"]) == (
        approval.pk,
        staff.pk,
        "See the photo",
        1,
    )
    assert [(a["name"], a["content_type"]) for a in body["attachments"]] == [
        ("shelf.jpg", "image/jpeg"),
        ("quote.pdf", "application/pdf"),
    ]
    assert body["attachments"][0]["url"] == f"{API}/attachments/{entry.attachments.first().pk}"
    assert AuditEntry.objects.filter(action="approvals.request.comment").count() == 1
    assert OutboxEvent.objects.filter(event_type="approvals.request.commented").count() == 1
    # A region's hq_admin holds approvals.manage over store A: it may comment too.
    overseer = make_user("hq_admin", tree.region)
    assert post_comment(client_for(overseer), approval, comment="HQ").status_code == 201


def test_api_comment_errors_are_coded_and_change_nothing(approval, staff, settings):
    settings.APPROVALS_COMMENT_MAX_ATTACHMENTS = 1
    before = world()
    response = post_comment(
        client_for(staff),
        approval,
        comment="",
        attachments=[SimpleUploadedFile("a.txt", b"hello world" * 3), jpeg()],
    )
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["code"] == "attachment_rejected"
    assert [p["code"] for p in body["details"]["problems"]] == [
        "too_many_attachments",
        "attachment_type",
    ]
    assert set(body["details"]["fields"]) == {"attachments", "attachments.0"}
    assert world() == before
    empty = post_comment(client_for(staff), approval, comment="  ")
    assert (empty.status_code, empty.json()["code"]) == (422, "invalid")
    assert world() == before


def test_api_list_comments_matrix(approval, staff, callers, people):
    comments.add_comment(approval, actor=staff, comment="First", attachments=[jpeg()])
    comments.add_comment(approval, actor=people.store_manager, comment="Second")
    url = f"{API}/requests/{approval.pk}/comments"
    assert Client().get(url).status_code == 401
    assert client_for(callers["colleague"]).get(url).status_code == 403
    assert client_for(callers["other_store"]).get(url).status_code == 404
    response = client_for(people.store_manager).get(url)
    assert response.status_code == 200
    items = response.json()["items"]
    assert [(c["comment"], len(c["attachments"])) for c in items] == [("First", 1), ("Second", 0)]


def test_attachment_download_permissions(approval, staff, callers, people, tree):
    entry = comments.add_comment(approval, actor=staff, comment="x", attachments=[jpeg()])
    attachment = entry.attachments.get()
    for url in (f"{API}/attachments/{attachment.pk}", f"/approvals/attachments/{attachment.pk}/"):
        anonymous = Client().get(url)
        assert anonymous.status_code in (401, 302)
        for outsider in (callers["colleague"], callers["other_store"], people.region_manager):
            assert client_for(outsider).get(url).status_code == 404, (url, outsider)
        for reader in (staff, people.store_manager, people.admin):
            response = client_for(reader).get(url)
            assert response.status_code == 200, (url, reader)
            assert b"".join(response.streaming_content) == JPEG
            assert response["Content-Type"] == "image/jpeg"
            assert response["X-Content-Type-Options"] == "nosniff"
            assert response["Cache-Control"] == "private, max-age=3600"
    assert client_for(staff).get(f"{API}/attachments/{attachment.pk + 99}").status_code == 404


# --- page --------------------------------------------------------------------------------------


def page_url(approval: ApprovalRequest) -> str:
    return f"/approvals/requests/{approval.pk}/comments/"


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_page_comment_matrix(approval, staff, callers, people):
    before = world()
    anonymous = Client().post(page_url(approval), {"comment": "x"})
    assert anonymous.status_code == 302 and "/login" in anonymous["Location"]
    for outsider in (callers["colleague"], callers["other_store"], people.region_manager):
        response = client_for(outsider).post(
            page_url(approval), {"comment": "x", "attachments": [jpeg()]}
        )
        assert response.status_code == 404
    assert world() == before
    response = client_for(staff).post(
        page_url(approval), {"comment": "Photo attached", "attachments": [jpeg()]}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/approvals/requests/{approval.pk}/#comment"
    page = client_for(staff).get(f"/approvals/requests/{approval.pk}/")
    html = text(page)
    assert 'data-testid="comment-form"' in html
    assert 'enctype="multipart/form-data"' in html
    assert 'data-action="commented"' in html
    assert "Photo attached" in html
    attachment = RequestAttachment.objects.get()
    assert f'href="/approvals/attachments/{attachment.pk}/"' in html
    # The store manager (approver) sees it and the form; a bystander with manage sees it too.
    assert "Photo attached" in text(
        client_for(people.store_manager).get(f"/approvals/requests/{approval.pk}/")
    )


def test_page_shows_every_problem_and_keeps_the_text(approval, staff, settings):
    settings.APPROVALS_COMMENT_MAX_ATTACHMENTS = 1
    before = world()
    response = client_for(staff).post(
        page_url(approval),
        {
            "comment": "Keep this text",
            "attachments": [SimpleUploadedFile("notes.docx", b"PK\x03\x04" * 10), jpeg()],
        },
    )
    assert response.status_code == 422
    html = text(response)
    assert html.count('data-testid="attachment-error"') == 2
    assert 'data-code="too_many_attachments"' in html
    assert 'data-code="attachment_type"' in html
    assert "notes.docx" in html
    assert ">Keep this text</textarea>" in html
    assert world() == before
