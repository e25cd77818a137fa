"""The admin is scoped: staff see their own stores only and write through the services."""

import pytest
from django.test import Client

from backroom.accounts.models import Membership, User
from backroom.audit.models import AuditEntry
from backroom.events.models import OutboxEvent
from backroom.org.models import Site
from backroom.testing.factories import make_user


def _staff(role, node, **kwargs):
    user = make_user(role, node, **kwargs)
    User.objects.filter(pk=user.pk).update(is_staff=True)  # the only flag with no service
    client = Client()
    client.force_login(User.objects.get(pk=user.pk))
    return client


@pytest.fixture
def manager_a(tree):
    return _staff("store_manager", tree.store_a)


def test_staff_flag_alone_opens_nothing(tree):
    client = _staff(None, None)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/org/site/").status_code == 403


def test_store_manager_sees_only_their_store(tree, manager_a):
    response = manager_a.get("/admin/org/site/")
    assert response.status_code == 200
    shown = [site.pk for site in response.context["cl"].result_list]
    assert shown == [tree.store_a.site.pk]
    nodes = manager_a.get("/admin/org/orgnode/").context["cl"].result_list
    assert [node.code for node in nodes] == ["SHA001"]
    users = manager_a.get("/admin/accounts/user/").context["cl"].result_list
    assert {user.pk for user in users} == {
        membership.user_id for membership in Membership.objects.filter(node=tree.store_a)
    }


def test_other_stores_change_page_is_not_found(tree, manager_a):
    assert manager_a.get(f"/admin/org/site/{tree.store_a.site.pk}/change/").status_code == 200
    assert manager_a.get(f"/admin/org/site/{tree.store_b.site.pk}/change/").status_code == 404
    assert manager_a.get(f"/admin/org/orgnode/{tree.store_b.pk}/change/").status_code == 404


def test_viewing_is_not_changing(tree, manager_a):
    site = tree.store_a.site
    response = manager_a.post(
        f"/admin/org/site/{site.pk}/change/",
        {"time_zone": "UTC", "cutoff_hour": 2, "status": "open"},
    )
    assert response.status_code == 403
    site.refresh_from_db()
    assert site.cutoff_hour == 4
    assert not AuditEntry.objects.filter(action="org.site.update").exists()


def test_admin_site_change_goes_through_the_service(tree):
    client = _staff("hq_admin", tree.region)
    site = tree.store_a.site
    response = client.post(
        f"/admin/org/site/{site.pk}/change/",
        {
            "time_zone": "Asia/Shanghai",
            "cutoff_hour": 5,
            "address": "",
            "city": "Shanghai",
            "latitude": "",
            "longitude": "",
            "opening_date": "",
            "status": "open",
        },
    )
    assert response.status_code == 302, response.content[:500]
    site.refresh_from_db()
    assert site.cutoff_hour == 5
    entry = AuditEntry.objects.get(action="org.site.update")
    assert (entry.before["cutoff_hour"], entry.after["cutoff_hour"]) == (4, 5)
    assert OutboxEvent.objects.get(event_type="org.node.updated").payload["changed"] == [
        "cutoff_hour"
    ]
    assert client.get(f"/admin/org/site/{tree.store_hk.site.pk}/change/").status_code == 404


def test_admin_service_refusal_is_a_message_not_a_500(tree):
    client = _staff("hq_admin", tree.region)
    site = tree.store_a.site
    response = client.post(
        f"/admin/org/site/{site.pk}/change/",
        {"time_zone": "Mars/Olympus", "cutoff_hour": 4, "status": "open"},
        follow=True,
    )
    assert response.status_code == 200
    assert "time_zone" in " ".join(str(m) for m in response.context["messages"])
    site.refresh_from_db()
    assert site.time_zone == "Asia/Shanghai"
    assert Site.objects.filter(time_zone="Mars/Olympus").count() == 0


def test_audit_and_outbox_admin_are_read_only_and_scoped(tree, manager_a):
    auditor = _staff("region_manager", tree.region)
    response = auditor.get("/admin/audit/auditentry/")
    assert response.status_code == 200
    paths = {entry.org_node.path for entry in response.context["cl"].result_list}
    assert paths and all(path.startswith(tree.region.path) for path in paths)
    entry = response.context["cl"].result_list[0]
    assert auditor.get(f"/admin/audit/auditentry/{entry.pk}/change/").status_code == 200
    assert auditor.post(f"/admin/audit/auditentry/{entry.pk}/delete/").status_code == 403
    assert auditor.get("/admin/audit/auditentry/add/").status_code == 403
    assert auditor.get("/admin/events/outboxevent/").status_code == 200
    assert manager_a.get("/admin/audit/auditentry/").status_code == 403  # no audit.view


def test_membership_revoked_through_admin_is_audited(tree):
    client = _staff("hq_admin", tree.region)
    staff = make_user("store_staff", tree.store_b)
    membership = Membership.objects.get(user=staff)
    response = client.post(f"/admin/accounts/membership/{membership.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert AuditEntry.objects.get(action="accounts.membership.revoke").target_id == str(
        membership.pk
    )
