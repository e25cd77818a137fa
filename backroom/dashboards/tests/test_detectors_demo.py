"""The demo's two anomalies: SH001's sales collapsed on the last complete day and its walk-in
waste spiked; the seed's nightly detectors raise exactly those two alerts, which its store
manager and HQ see (and another store's manager does not)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils.html import escape

from backroom.accounts.models import User
from backroom.catalog.selectors import site_today
from backroom.config.demo import seed_demo
from backroom.dashboards import detectors
from backroom.dashboards.models import Alert
from backroom.dashboards.permissions import ALERTS_VIEW
from backroom.inventory.models import WasteDocument
from backroom.org.models import OrgNode
from backroom.testing.factories import client_for, make_user

# The parts of the demo the anomalies need (not procurement, finance or planning: the seed's
# sales check then compares with the same weekday, as it does for a past day anyway).
PARTS = ["org", "accounts", "approvals", "catalog", "inventory", "channels", "dashboards"]


@pytest.fixture(scope="module")
def _seeded_once(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield seed_demo(only=PARTS)
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def demo(_seeded_once, db):
    return _seeded_once


def test_the_demo_raises_a_sales_drop_and_a_waste_spike_at_sh001(demo):
    store = OrgNode.objects.select_related("site").get(code="SH001")
    yesterday = site_today(store.site) - dt.timedelta(days=1)
    alerts = {alert.detector: alert for alert in Alert.objects.all()}
    assert set(alerts) == {"sales_drop", "waste_spike"}  # the other stores' days are ordinary
    drop, waste = alerts["sales_drop"], alerts["waste_spike"]
    assert (drop.site, drop.node, drop.fingerprint) == (
        store.site,
        store,
        f"day:{yesterday.isoformat()}",
    )
    assert drop.details["whole_day"] is True
    assert drop.details["expected_day_source"] == "same_weekday"
    # A quarter of its usual portions: far below its own bound (critical).
    assert float(drop.details["ratio"]) < 0.35 < float(drop.details["threshold_ratio"])
    assert drop.severity == "critical"
    assert waste.site == store.site
    document = WasteDocument.objects.get(note__contains="walk-in door")
    assert document.status == "posted"
    assert [row["number"] for row in waste.details["waste_documents"]] == [document.number]
    assert float(waste.details["actual"]) > float(waste.details["threshold"])
    # The worker's nightly run over the same days groups on them: nothing new.
    detectors.detect_daily()
    assert Alert.objects.count() == 2
    assert set(Alert.objects.values_list("occurrences", flat=True)) == {2}


def test_the_store_manager_and_hq_see_both_alerts_another_store_does_not(demo):
    manager = User.objects.get(username="manager.sh001")
    hq = User.objects.get(username="ops")
    region = User.objects.get(username="region.east")
    expected = {"sales_drop", "waste_spike"}
    for user in (manager, hq, region):
        visible = set(Alert.objects.restrict(user, ALERTS_VIEW).values_list("detector", flat=True))
        assert visible == expected, user.username
    other = make_user("store_manager", OrgNode.objects.get(code="SH002"))
    assert not Alert.objects.restrict(other, ALERTS_VIEW).exists()
    page = client_for(manager).get(reverse("dashboards:alerts"))
    assert page.status_code == 200
    for alert in Alert.objects.all():
        assert escape(alert.title) in page.content.decode()
    assert "alert-row" not in client_for(other).get(reverse("dashboards:alerts")).content.decode()
