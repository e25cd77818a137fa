"""Raising alerts: a new one publishes an event; repeats while open are grouped; after it is
resolved the same condition is quiet for the cool-down, then opens a new alert."""

import datetime as dt

import pytest
from django.utils import timezone

from backroom.dashboards.alerts import Signal, raise_alert
from backroom.dashboards.choices import AlertStatus
from backroom.dashboards.models import Alert, AlertActivity
from backroom.events.models import OutboxEvent

pytestmark = pytest.mark.django_db


def _signal(tree, **changes):
    values = {
        "title": "Sales far below forecast",
        "severity": "warning",
        "node": tree.store_a,
        "site": tree.store_a.site,
        "fingerprint": "",
        "details": {"expected": "1200", "actual": "300"},
    }
    return Signal(**{**values, **changes})


def test_a_new_alert_is_recorded_with_its_event(tree):
    alert, is_new = raise_alert(_signal(tree), detector="sales_drop")
    assert is_new and alert.origin == "detector:sales_drop"
    assert (alert.status, alert.occurrences, alert.site) == ("open", 1, tree.store_a.site)
    event = OutboxEvent.objects.get(event_type="dashboards.alert.raised")
    assert event.payload["alert_id"] == alert.pk
    assert event.payload["details"] == {"expected": "1200", "actual": "300"}
    assert event.org_node == tree.store_a
    assert AlertActivity.objects.get(alert=alert).action == "raised"


def test_repeats_while_open_are_grouped_and_keep_the_latest_figures(tree):
    now = timezone.now()
    first, _ = raise_alert(_signal(tree), detector="sales_drop", now=now)
    again, is_new = raise_alert(
        _signal(tree, severity="critical", details={"actual": "100"}),
        detector="sales_drop",
        now=now + dt.timedelta(minutes=5),
    )
    assert not is_new and again.pk == first.pk
    assert (again.occurrences, again.severity, again.details) == (2, "critical", {"actual": "100"})
    assert again.last_raised_at == now + dt.timedelta(minutes=5)
    assert OutboxEvent.objects.filter(event_type="dashboards.alert.raised").count() == 1
    # Another store, or another fingerprint, is another alert.
    _other, other_new = raise_alert(
        _signal(tree, node=tree.store_b, site=tree.store_b.site), detector="sales_drop"
    )
    _item, item_new = raise_alert(_signal(tree, fingerprint="item:7"), detector="sales_drop")
    assert other_new and item_new
    assert Alert.objects.count() == 3


def test_after_resolution_the_condition_is_quiet_for_the_cooldown(tree):
    now = timezone.now()
    alert, _ = raise_alert(_signal(tree), detector="waste_spike", now=now)
    Alert.objects.filter(pk=alert.pk).update(status=AlertStatus.RESOLVED, resolved_at=now)
    quiet, is_new = raise_alert(
        _signal(tree), detector="waste_spike", now=now + dt.timedelta(hours=2)
    )
    assert (quiet, is_new) == (None, False)
    fresh, is_new = raise_alert(
        _signal(tree),
        detector="waste_spike",
        now=now + dt.timedelta(hours=3),
        cooldown=dt.timedelta(hours=3),
    )
    assert is_new and fresh.pk != alert.pk


def test_an_alert_needs_a_rule_or_a_detector(tree):
    with pytest.raises(ValueError):
        raise_alert(_signal(tree))
