import datetime as dt

from django.urls import reverse
from django.utils import timezone

from backroom.accounts.models import ApiToken, Role
from backroom.accounts.services import authenticate_token, create_api_token
from backroom.audit.models import AuditEntry
from backroom.events.models import OutboxEvent
from backroom.testing.factories import client_for, make_user
from backroom.web.tests.conftest import counts


def test_token_list_shows_only_own_tokens(tree, django_assert_max_num_queries):
    me = make_user("integration", tree.group)
    other = make_user("integration", tree.group)
    role = Role.objects.get(code="integration")
    create_api_token(actor=me, name="pos", role=role, node=tree.store_a)
    create_api_token(actor=other, name="theirs", role=role, node=tree.store_a)
    client = client_for(me)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("web:tokens"))
    assert response.status_code == 200
    assert [t.name for t in response.context["tokens"]] == ["pos"]
    assert "theirs" not in response.content.decode()


def test_create_token_shows_the_raw_value_once(tree):
    me = make_user("integration", tree.group)
    before = counts()
    client = client_for(me)
    response = client.post(
        reverse("web:tokens"),
        {
            "name": "Meituan bridge",
            "role": Role.objects.get(code="integration").pk,
            "node": tree.store_a.pk,
            "expires_in_days": "30",
        },
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    raw = response.context["issued"].raw
    assert raw in response.content.decode()
    token = ApiToken.objects.get(user=me, name="Meituan bridge")
    assert authenticate_token(raw) == token
    assert token.node_id == tree.store_a.pk
    expected_expiry = timezone.now() + dt.timedelta(days=30)
    assert abs((token.expires_at - expected_expiry).total_seconds()) < 60
    AuditEntry.objects.get(action="accounts.api_token.create", target_id=str(token.pk))
    OutboxEvent.objects.get(event_type="accounts.api_token.created")
    assert counts().tokens == before.tokens + 1
    assert raw not in client.get(reverse("web:tokens")).content.decode()


def test_invalid_or_too_powerful_token_changes_nothing(tree):
    me = make_user("integration", tree.group)
    before = counts()
    client = client_for(me)
    response = client.post(
        reverse("web:tokens"),
        {
            "name": " ",
            "role": Role.objects.get(code="integration").pk,
            "node": tree.store_a.pk,
            "expires_in_days": "1000",
        },
    )
    assert response.status_code == 422
    assert set(response.context["form"].errors) == {"name", "expires_in_days"}
    response = client.post(
        reverse("web:tokens"),
        {
            "name": "too much",
            "role": Role.objects.get(code="hq_admin").pk,
            "node": tree.store_a.pk,
            "expires_in_days": "30",
        },
    )
    assert response.status_code == 403
    assert list(response.context["form"].errors) == ["role"]
    assert counts() == before


def test_revoke_own_token_and_not_anothers(tree):
    me = make_user("integration", tree.group)
    other = make_user("integration", tree.group)
    role = Role.objects.get(code="integration")
    mine = create_api_token(actor=me, name="mine", role=role, node=tree.store_a).token
    theirs = create_api_token(actor=other, name="theirs", role=role, node=tree.store_a).token
    client = client_for(me)
    before = counts()
    assert client.post(reverse("web:token_revoke", args=[theirs.pk])).status_code == 404
    assert counts() == before
    assert ApiToken.objects.get(pk=theirs.pk).revoked_at is None
    response = client.post(reverse("web:token_revoke", args=[mine.pk]))
    assert response.status_code == 302
    assert ApiToken.objects.get(pk=mine.pk).revoked_at is not None
    AuditEntry.objects.get(action="accounts.api_token.revoke", target_id=str(mine.pk))
    assert counts().audit == before.audit + 1


def test_tokens_page_needs_the_permission(tree):
    staff = make_user("store_staff", tree.store_a)
    before = counts()
    client = client_for(staff)
    assert client.get(reverse("web:tokens")).status_code == 403
    assert client.post(reverse("web:tokens"), {"name": "x"}).status_code == 403
    assert counts() == before
