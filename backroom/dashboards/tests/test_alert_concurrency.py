"""Two managers resolve the same alert at once (PostgreSQL row locks): one wins, the other gets
the coded conflict `alert_resolved`, and the alert is resolved once (one activity, one audit
entry, one event).

Each manager runs in their own process with their own connection. The test holds the alert's row
lock until both processes are about to resolve, so both really wait on the same lock.
"""

import multiprocessing
import time

import pytest
from django.db import connection, transaction

from backroom.audit.models import AuditEntry
from backroom.dashboards.alerts import Signal, raise_alert
from backroom.dashboards.models import Alert, AlertActivity
from backroom.dashboards.tests.alert_concurrency_worker import resolve
from backroom.events.models import OutboxEvent
from backroom.testing.factories import make_user

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row-lock concurrency is tested on PostgreSQL"
)


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_managers_resolving_at_once_one_wins(tree):
    managers = [make_user("store_manager", tree.store_a), make_user("region_manager", tree.region)]
    alert, _ = raise_alert(
        Signal(title="Sales far below forecast", severity="warning", node=tree.store_a),
        detector="sales_drop",
    )
    context = multiprocessing.get_context("spawn")
    ready = context.Semaphore(0)
    results = context.Queue()
    name = connection.settings_dict["NAME"]
    workers = [
        context.Process(target=resolve, args=(name, alert.pk, user.pk, ready, results))
        for user in managers
    ]
    with transaction.atomic():
        Alert.objects.select_for_update().get(pk=alert.pk)
        for worker in workers:
            worker.start()
        for _ in workers:
            assert ready.acquire(timeout=60)
        time.sleep(0.5)  # both are now waiting on the lock
    outcomes = sorted(results.get(timeout=60)[0] for _ in workers)
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    assert outcomes == ["alert_resolved", "ok"]
    alert.refresh_from_db()
    assert alert.status == "resolved" and alert.resolved_by_id in {u.pk for u in managers}
    assert AlertActivity.objects.filter(alert=alert, action="resolved").count() == 1
    assert AuditEntry.objects.filter(action="alerts.resolved").count() == 1
    assert OutboxEvent.objects.filter(event_type="dashboards.alert.resolved").count() == 1
