"""What people do to alerts (read, acknowledge, assign, resolve) and to rules (write, switch off,
delete): each action's whole effect (rows, activity, audit entry, event) and, when refused,
nothing changed. Recipients, emails (at most once) and webhook deliveries of alert events."""

import json

import pytest
from django.core import mail

from backroom.audit.models import AuditEntry
from backroom.dashboards import notifications, services
from backroom.dashboards.alerts import Signal, raise_alert
from backroom.dashboards.models import AlertActivity, AlertEmail, AlertRead, AlertRule
from backroom.dashboards.selectors_alerts import (
    AlertFilter,
    alerts_for,
    assignable_users,
    detector_label,
    filter_alerts,
    recipients,
    unread_count,
)
from backroom.events.models import OutboxEvent
from backroom.kernel.exceptions import NotFound, PermissionDenied, ValidationFailed
from backroom.testing.factories import make_user
from backroom.webhooks.tests.conftest import _short_webhook_timeout, deliver, receiver  # noqa: F401
from backroom.webhooks.tests.helpers import make_endpoint

pytestmark = pytest.mark.django_db


def raise_at(node, *, detector="sales_drop", rule=None, title="Sales far below forecast"):
    alert, _new = raise_alert(
        Signal(
            title=title,
            severity="warning",
            node=node,
            site=getattr(node, "site", None),
            details={"expected": "1200", "actual": "300"},
        ),
        detector="" if rule else detector,
        rule=rule,
    )
    return alert


def world(alert):
    alert.refresh_from_db()
    return (
        alert.status,
        alert.assignee_id,
        AlertActivity.objects.filter(alert=alert).count(),
        AuditEntry.objects.count(),
        OutboxEvent.objects.count(),
        AlertRead.objects.count(),
    )


@pytest.fixture
def people(tree):
    class People:
        manager_a = make_user("store_manager", tree.store_a)
        staff_a = make_user("store_staff", tree.store_a)
        manager_b = make_user("store_manager", tree.store_b)
        region = make_user("region_manager", tree.region)
        hq = make_user("hq_operations", tree.group)
        nobody = make_user()

    return People


def test_acknowledge_records_everything(tree, people):
    alert = raise_at(tree.store_a)
    events = OutboxEvent.objects.count()
    services.acknowledge_alert(alert, actor=people.staff_a, note="Checking the till")
    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_by, alert.acknowledged_at is not None) == (
        "acknowledged",
        people.staff_a,
        True,
    )
    activity = AlertActivity.objects.get(alert=alert, action="acknowledged")
    assert (activity.actor, activity.note) == (people.staff_a, "Checking the till")
    entry = AuditEntry.objects.get(action="alerts.acknowledged")
    assert entry.reason == "Checking the till"
    assert (entry.before["status"], entry.after["status"]) == ("open", "acknowledged")
    event = OutboxEvent.objects.get(event_type="dashboards.alert.acknowledged")
    assert event.payload == {
        "alert_id": alert.pk,
        "user_id": people.staff_a.pk,
        "note": "Checking the till",
    }
    assert OutboxEvent.objects.count() == events + 1
    assert AlertRead.objects.filter(alert=alert, user=people.staff_a).exists()
    # Twice is a coded conflict that changes nothing.
    before = world(alert)
    with pytest.raises(services.AlertAlreadyAcknowledged) as error:
        services.acknowledge_alert(alert, actor=people.staff_a)
    assert error.value.code == "alert_acknowledged" and world(alert) == before


def test_assign_to_a_manager_of_the_node(tree, people):
    alert = raise_at(tree.store_a)
    assert {u.pk for u in assignable_users(alert)} == {
        people.manager_a.pk,
        people.region.pk,
        people.hq.pk,
    }
    services.assign_alert(alert, people.manager_a, actor=people.region, note="Please look")
    alert.refresh_from_db()
    assert alert.assignee == people.manager_a and alert.status == "open"
    assert AlertActivity.objects.get(alert=alert, action="assigned").note == "Please look"
    entry = AuditEntry.objects.get(action="alerts.assigned")
    assert entry.after["assignee_id"] == people.manager_a.pk
    event = OutboxEvent.objects.get(event_type="dashboards.alert.assigned")
    assert event.payload["assignee_id"] == people.manager_a.pk
    assigned = filter_alerts(
        alerts_for(people.manager_a), people.manager_a, AlertFilter(assigned_to_me=True)
    )
    assert list(assigned) == [alert]
    # Someone who may not manage alerts there cannot take it: nothing changes.
    before = world(alert)
    for assignee in (people.staff_a, people.manager_b):
        with pytest.raises(ValidationFailed) as error:
            services.assign_alert(alert, assignee, actor=people.region)
        assert "assignee_id" in error.value.errors
    assert world(alert) == before


def test_resolve_then_resolving_again_is_a_conflict(tree, people):
    alert = raise_at(tree.store_a)
    services.resolve_alert(alert, actor=people.manager_a, note="Till was closed early")
    alert.refresh_from_db()
    assert (alert.status, alert.resolved_by) == ("resolved", people.manager_a)
    assert AlertActivity.objects.get(alert=alert, action="resolved").note == (
        "Till was closed early"
    )
    assert AuditEntry.objects.get(action="alerts.resolved").after["status"] == "resolved"
    assert OutboxEvent.objects.get(event_type="dashboards.alert.resolved").payload == {
        "alert_id": alert.pk,
        "user_id": people.manager_a.pk,
        "note": "Till was closed early",
    }
    before = world(alert)
    for action in (
        lambda: services.resolve_alert(alert, actor=people.manager_a),
        lambda: services.acknowledge_alert(alert, actor=people.manager_a),
        lambda: services.assign_alert(alert, people.region, actor=people.manager_a),
    ):
        with pytest.raises(services.AlertAlreadyResolved) as error:
            action()
        assert error.value.code == "alert_resolved" and error.value.http_status == 409
    assert world(alert) == before


def test_denials_change_nothing(tree, people):
    alert = raise_at(tree.store_a)
    before = world(alert)
    with pytest.raises(PermissionDenied):
        services.resolve_alert(alert, actor=people.staff_a)  # sees it, may not resolve
    with pytest.raises(PermissionDenied):
        services.assign_alert(alert, people.manager_a, actor=people.staff_a)
    for outsider in (people.manager_b, people.nobody):
        for action in (
            lambda u=outsider: services.acknowledge_alert(alert, actor=u),
            lambda u=outsider: services.resolve_alert(alert, actor=u),
            lambda u=outsider: services.mark_read(alert, actor=u),
        ):
            with pytest.raises((NotFound, PermissionDenied)):
                action()
    with pytest.raises(ValidationFailed):
        services.resolve_alert(alert, actor=people.manager_a, note="x" * 2001)
    assert world(alert) == before


def test_reading_marks_once_and_the_badge_counts_unread_open_alerts(tree, people):
    first = raise_at(tree.store_a)
    raise_at(tree.store_a, detector="waste_spike", title="Unusual waste")
    raise_at(tree.store_b)
    assert unread_count(people.manager_a) == 2
    assert unread_count(people.region) == 3
    assert unread_count(people.nobody) == 0
    assert services.mark_read(first, actor=people.manager_a) is True
    assert services.mark_read(first, actor=people.manager_a) is False
    assert AlertActivity.objects.filter(alert=first, action="read").count() == 1
    assert unread_count(people.manager_a) == 1
    unread = filter_alerts(
        alerts_for(people.manager_a), people.manager_a, AlertFilter(is_unread=True)
    )
    assert [a.detector for a in unread] == ["waste_spike"]
    assert services.mark_all_read(alerts_for(people.manager_a), actor=people.manager_a) == 1
    assert unread_count(people.manager_a) == 0 and unread_count(people.region) == 3
    services.resolve_alert(first, actor=people.region)
    assert unread_count(people.region) == 2


def test_detector_labels():
    assert detector_label("sales_drop") == "Sales far below forecast"
    assert detector_label("staff_refunds").startswith("Unusual refunds")
    assert detector_label("new_thing") == "New thing"


# --- rules -----------------------------------------------------------------------------------


def _input(**changes):
    values = {
        "name": "Discounts high",
        "condition": "discount_pct > 0.15 && sales > 1000",
        "recipient_roles": ["store_manager"],
    }
    return services.RuleInput(**{**values, **changes})


def test_writing_a_rule_checks_everything_at_once(tree, people):
    rules_before = AlertRule.objects.count()
    audits = AuditEntry.objects.count()
    with pytest.raises(ValidationFailed) as error:
        services.create_rule(
            _input(
                condition="discount > 0.15 && sales > 'x'",
                period="fortnight",
                trigger="event",
                event_type="no.such.event",
                recipient_roles=["store_manager", "chef"],
                cooldown_minutes=-5,
            ),
            actor=people.hq,
        )
    errors = error.value.errors
    assert [m[:10] for m in errors["condition"]] == ["Column 1: ", "Column 28:"]
    assert set(errors) == {
        "condition",
        "period",
        "event_type",
        "recipient_roles",
        "cooldown_minutes",
    }
    assert errors["recipient_roles"] == ["No role has the code “chef”."]
    assert (AlertRule.objects.count(), AuditEntry.objects.count()) == (rules_before, audits)


def test_rule_lifecycle_builtin_rules_are_kept(tree, people):
    rule = services.create_rule(_input(node=tree.region), actor=people.hq)
    assert (rule.code, rule.node, rule.is_builtin) == ("discounts-high", tree.region, False)
    assert AuditEntry.objects.get(action="alerts.rule_created").after["condition"] == rule.condition
    changed = services.update_rule(
        rule, _input(node=tree.region, severity="critical"), actor=people.hq
    )
    assert changed.severity == "critical"
    assert AuditEntry.objects.get(action="alerts.rule_changed").before["severity"] == "warning"
    services.set_rule_active(rule, False, actor=people.hq)
    rule.refresh_from_db()
    assert not rule.is_active
    builtin = AlertRule.objects.get(code="food-cost-high")
    with pytest.raises(services.BuiltinRuleKept) as error:
        services.delete_rule(builtin, actor=people.hq)
    assert error.value.code == "builtin_rule"
    edited = services.update_rule(
        builtin,
        _input(name=builtin.name, condition="food_cost_pct > 0.36 && sales > 5000"),
        actor=people.hq,
    )
    assert edited.condition.startswith("food_cost_pct > 0.36") and edited.code == "food-cost-high"
    services.set_rule_active(builtin, False, actor=people.hq)
    raise_at(tree.store_a, rule=rule)
    with pytest.raises(services.RuleHasAlerts):
        services.delete_rule(rule, actor=people.hq)
    spare = services.create_rule(_input(name="Spare", node=tree.store_a), actor=people.hq)
    services.delete_rule(spare, actor=people.hq)
    assert not AlertRule.objects.filter(pk=spare.pk).exists()
    assert AuditEntry.objects.filter(action="alerts.rule_deleted").count() == 1


def test_rules_need_alerts_rules_at_their_node(tree, people):
    before = (AlertRule.objects.count(), AuditEntry.objects.count())
    with pytest.raises(PermissionDenied):
        services.create_rule(_input(node=tree.store_a), actor=people.manager_a)
    with pytest.raises(PermissionDenied):
        services.create_rule(_input(), actor=people.manager_a)
    builtin = AlertRule.objects.get(code="waste-high")
    with pytest.raises(PermissionDenied):
        services.set_rule_active(builtin, False, actor=people.region)
    assert (AlertRule.objects.count(), AuditEntry.objects.count()) == before


# --- recipients, email, webhooks -------------------------------------------------------------


def test_recipients_are_the_roles_at_the_node_and_above(tree, people):
    rule = AlertRule.objects.get(code="food-cost-high")
    assert rule.recipient_roles == ["store_manager", "region_manager"]
    assert {u.pk for u in recipients(rule, tree.store_a)} == {people.manager_a.pk, people.region.pk}
    assert {u.pk for u in recipients(rule, tree.store_b)} == {people.manager_b.pk, people.region.pk}
    rule.recipient_roles = ["hq_operations"]
    assert [u.pk for u in recipients(rule, tree.store_a)] == [people.hq.pk]
    rule.recipient_roles = []
    assert recipients(rule, tree.store_a) == []


def test_a_new_rule_alert_emails_its_recipients_once(
    tree, people, django_capture_on_commit_callbacks
):
    people.manager_a.email = "a@example.com"
    people.manager_a.save()
    rule = AlertRule.objects.get(code="food-cost-high")
    rule.send_email = True
    rule.save()
    with django_capture_on_commit_callbacks(execute=True):
        alert = raise_at(tree.store_a, rule=rule, title=rule.name)
    event = OutboxEvent.objects.get(event_type="dashboards.alert.raised")
    with django_capture_on_commit_callbacks(execute=True):
        notifications.email_alert_recipients(event)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["a@example.com"]
    assert rule.name in message.subject and tree.store_a.name in message.subject
    assert f"/dashboards/alerts/{alert.pk}/" in message.body
    rows = {row.recipient_id: row.status for row in AlertEmail.objects.filter(alert=alert)}
    assert rows == {people.manager_a.pk: "sent", people.region.pk: "skipped"}  # no address
    # A replayed event and a retried send add nothing.
    with django_capture_on_commit_callbacks(execute=True):
        assert notifications.email_alert_recipients(event) == []
    row = AlertEmail.objects.get(recipient=people.manager_a)
    assert notifications.send_alert_email(row.pk) is False
    assert len(mail.outbox) == 1


def test_no_email_unless_the_rule_says_so(tree, people, django_capture_on_commit_callbacks):
    people.manager_a.email = "a@example.com"
    people.manager_a.save()
    rule = AlertRule.objects.get(code="waste-high")
    raise_at(tree.store_a, rule=rule)
    raise_at(tree.store_a)  # a detector's alert
    for event in OutboxEvent.objects.filter(event_type="dashboards.alert.raised"):
        with django_capture_on_commit_callbacks(execute=True):
            assert notifications.email_alert_recipients(event) == []
    assert mail.outbox == [] and not AlertEmail.objects.exists()


def test_an_endpoint_subscribed_to_alerts_gets_the_raised_event(tree, deliver, receiver):  # noqa: F811
    issued = make_endpoint(tree.group, receiver.url, ["dashboards.alert.raised"])
    alert = raise_at(tree.store_a)
    deliver()
    (request,) = receiver.requests
    body = json.loads(request.body)
    assert body["type"] == "dashboards.alert.raised"
    assert body["data"]["alert_id"] == alert.pk
    assert body["data"]["origin"] == "detector:sales_drop"
    assert request.headers["webhook-id"] == str(
        OutboxEvent.objects.get(event_type="dashboards.alert.raised").event_id
    )
    assert issued.endpoint.deliveries.get().status == "succeeded"


def test_resolved_alerts_are_delivered_too(tree, people, deliver, receiver):  # noqa: F811
    make_endpoint(tree.store_a, receiver.url, ["dashboards.alert.resolved"])
    alert = raise_at(tree.store_a)
    services.resolve_alert(alert, actor=people.manager_a, note="done")
    deliver()
    (request,) = receiver.requests
    assert json.loads(request.body)["data"] == {
        "alert_id": alert.pk,
        "user_id": people.manager_a.pk,
        "note": "done",
    }
